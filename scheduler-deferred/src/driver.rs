//! [`Deferred::from_future`]: a Deferred fired with a future's output, and the driver that
//! polls the future (this crate knows no executor).
//!
//! # Where the future is polled
//!
//! `Waker::wake` is a signal: other libraries call it while they hold their own locks (a
//! `futures::lock::Mutex` wakes its next waiter under its waiter list), so a poll inside it may
//! re-enter them. The driver therefore polls inside `wake` only when the wake comes from this
//! crate's own wake sites (a Deferred's result coming to rest, after the chain's lock is
//! released), and even then not when a poll already runs on the thread. In order:
//!
//! 1. The first poll runs at once, on the calling thread, inside `from_future` (Twisted's
//!    `inlineCallbacks` runs up to the first unfired Deferred).
//! 2. A wake on a thread that is polling a `from_future` future (the woken future's waker was
//!    called from inside that poll) queues the poll on the thread: the outermost poll runs it
//!    after it returns (a trampoline, so chains of futures waking each other never nest).
//! 3. Otherwise, if a runtime's [`Spawn`](crate::Spawn) was installed on the thread that made
//!    the Deferred ([`set_thread_spawner`](crate::set_thread_spawner)), the poll is handed to it
//!    as a task.
//! 4. Otherwise a wake from a Deferred firing (one of this crate's wake sites) polls at once,
//!    on the firing thread, as a callback would run: firing the awaited Deferred resumes the
//!    future before `callback` returns, as in Twisted.
//! 5. Any other wake (another library's waker call, a timer thread, a channel) queues the poll
//!    for a shared fallback thread, `scheduler-deferred-driver`, started on first use: a poll
//!    never runs inside a foreign `wake`. (Under `cfg(loom)` it runs inline instead.)
//!
//! # The state word
//!
//! `IDLE` → a wake *schedules* a poll (`SCHEDULED`, then one of the ways above); `SCHEDULED`
//! → the poll claims the future (`POLLING`); a wake meanwhile marks `NOTIFIED` and the poller
//! polls again before it goes back to `IDLE` (only by a compare-exchange from `POLLING`, which
//! fails if a wake marked `NOTIFIED`: no wake-up is lost); `DONE` once the future returned
//! `Ready`, panicked, or was cancelled or abandoned. A poll is never run twice at once.
//!
//! # Cancellation
//!
//! The driver's header holds what the coroutine awaits now (`awaited.rs`, which states the
//! protocol): each Deferred that returns `Pending` to a poll with this driver's waker
//! registers there, and a cancel of the driver's Deferred is passed on to those children (the
//! Deferred stays pending, its canceller kept for the next cancel), left to the end of the
//! running poll, or, when the coroutine awaits none of our Deferreds and no poll runs, drops
//! the future and fails with `Cancelled`. The awaited set's mutex also says whether a poll
//! runs (`polling`) and whether the future is `done`: a poll begins only while it is not done,
//! and a cancel drops the future only while no poll runs. The state word above is untouched
//! by this, except that a dropped future leaves it `DONE`.
//!
//! # Ownership
//!
//! The Deferred's core holds the driver (through its canceller and its waiter hook) and the
//! driver holds the future and its own handle of the Deferred (a
//! `Registration`), so a future that returned `Pending` without
//! keeping its waker stays alive with the Deferred. The loop ends when the future completes
//! (its output fires the Deferred) or the Deferred is cancelled (the future is dropped).
//! When every user handle of the Deferred is dropped while the future runs and no callback
//! was attached (the waiter protocol of `waiter.rs`), the driver *detaches*, like a dropped
//! `JoinHandle`: the core lets go of it, and it lives on only while something can wake it (a
//! future that nothing can wake any more is dropped then); a failure it ends with is
//! reported as unhandled, since nobody can see it. A panic in the future's `Drop` is caught
//! and reported through the unhandled-failure hook.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
// The waker's `Arc` is std's (it is turned into a raw pointer); the driver's protocol state
// below uses the facade.
use std::sync::Arc as StdArc;
use std::task::{Context, Poll};

#[path = "awaited.rs"]
mod awaited;
#[path = "driver_waker.rs"]
mod waker;
use awaited::{Awaited, CancelStep};
pub(crate) use waker::{awaiting, not_awaiting, wake_from_here};
use waker::{Header, Ops};

use crate::chain::{CancelHook, Canceller, Core, HookCancel, Outcome, Registration};
use crate::core_ref::CoreRef;
use crate::deferred::boxed;
use crate::errors::Cancelled;
use crate::failure::report_unhandled;
use crate::spawner::{thread_spawner, PollTask, Spawner};
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::Mutex;
use crate::{Deferred, Failure};

type BoxedFuture<T> = Pin<Box<dyn Future<Output = Result<T, Failure>> + Send + 'static>>;

const IDLE: usize = 0;
const SCHEDULED: usize = 1;
const POLLING: usize = 2;
const NOTIFIED: usize = 3;
const DONE: usize = 4;

/// `repr(C)`, header first: a waker's data pointer is the header (`driver_waker.rs`).
#[repr(C)]
struct Driver<T> {
    header: Header,
    state: AtomicUsize,
    future: Mutex<Option<BoxedFuture<T>>>,
    /// The driver's handle of its Deferred, until the future is done.
    deferred: Mutex<Option<Registration>>,
    spawner: Option<Spawner>,
}

/// The Deferred's canceller and waiter hook: the driver.
struct Hook<T>(StdArc<Driver<T>>);

impl<T: Send + 'static> Deferred<T> {
    /// A Deferred fired with the output of `future`, the Rust form of `inlineCallbacks` /
    /// `ensureDeferred`. The future is polled at once on this thread; later polls run, in
    /// order of preference: after the current poll, when woken from inside another
    /// `from_future` poll on the same thread; as tasks of the runtime whose [`Spawn`] was
    /// installed on this thread ([`set_thread_spawner`]); at once, when woken by a Deferred
    /// firing (as Twisted resumes a coroutine inside `callback`); else on a shared fallback
    /// thread. Never inside another library's `Waker::wake`, which may hold its locks.
    ///
    /// Cancelling the Deferred cancels what the future awaits, as Twisted's inlineCallbacks
    /// does: the Deferreds of this crate it is suspended on (their `poll` returned `Pending`
    /// to this driver's waker) are cancelled, and their outcomes (normally a [`Cancelled`]
    /// failure, or whatever their errbacks made of it, maybe later) reach the future at that
    /// `.await`. The future may catch them, translate them or await something else; the
    /// Deferred stays pending and fires with whatever the future finally returns, and a second
    /// `cancel` reaches what it awaits then. A cancel that comes while the future runs between
    /// two awaits reaches the next Deferred it awaits. Rust refinement: when the future is
    /// suspended on anything else (a channel, a timer, another library's future), cancelling
    /// drops the future (at once, or after the poll that runs) and fails the Deferred with
    /// [`Cancelled`], since nothing else could tell it.
    ///
    /// Dropping every handle of the Deferred does not stop the future (like dropping a
    /// `JoinHandle`): it runs on while something can wake it, and a failure it ends with is
    /// reported as unhandled. A future that returned `Pending` without keeping its waker is
    /// kept while the Deferred lives, and dropped with its last handle (nothing could ever
    /// wake it). A panic in the future, or in its `Drop`, never unwinds out of here: the first
    /// fails the Deferred, the second is reported through the unhandled-failure hook.
    ///
    /// [`Spawn`]: crate::Spawn
    /// [`set_thread_spawner`]: crate::set_thread_spawner
    ///
    /// Cancelling reaches the awaited Deferred, and the future decides what comes of it:
    ///
    /// ```
    /// use scheduler_deferred::{Cancelled, Deferred};
    ///
    /// let download = Deferred::<Vec<u8>>::with_canceller(|_| println!("closing the socket"));
    /// let d = download.clone();
    /// let size = Deferred::from_future(async move {
    ///     match d.await {
    ///         Ok(bytes) => Ok(bytes.len()),
    ///         Err(f) if f.is::<Cancelled>() => Ok(0), // cancelled: report an empty file
    ///         Err(f) => Err(f),
    ///     }
    /// });
    /// size.cancel(); // runs the download's canceller; the future turns it into 0
    /// assert!(download.is_called());
    /// assert_eq!(size.take_result().unwrap().unwrap(), 0);
    /// ```
    ///
    /// # Examples
    ///
    /// An `async` block awaiting Deferreds, inlineCallbacks-style, driven by a tiny `block_on`
    /// (this crate has no runtime):
    ///
    /// ```
    /// use scheduler_deferred::{Deferred, Failure};
    /// use std::future::Future;
    /// use std::sync::Arc;
    /// use std::task::{Context, Poll, Wake, Waker};
    ///
    /// struct Unpark(std::thread::Thread);
    /// impl Wake for Unpark {
    ///     fn wake(self: Arc<Self>) { self.0.unpark() }
    /// }
    /// fn block_on<F: Future>(f: F) -> F::Output {
    ///     let mut f = std::pin::pin!(f);
    ///     let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    ///     let mut cx = Context::from_waker(&waker);
    ///     loop {
    ///         if let Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
    ///         std::thread::park();
    ///     }
    /// }
    ///
    /// let port = Deferred::<u16>::new();
    /// let answer = {
    ///     let port = port.clone();
    ///     Deferred::from_future(async move {
    ///         let p = port.await?;                       // waits for the producer
    ///         let banner = Deferred::succeed(format!("listening on {p}")).await?;
    ///         Ok::<_, Failure>(banner)
    ///     })
    /// };
    /// std::thread::spawn(move || port.callback(8080).unwrap());
    /// assert_eq!(block_on(answer).unwrap(), "listening on 8080");
    /// ```
    pub fn from_future<F>(future: F) -> Deferred<T>
    where
        F: Future<Output = Result<T, Failure>> + Send + 'static,
    {
        let driver = StdArc::new(Driver {
            header: Header { ops: Driver::<T>::OPS, awaited: Awaited::default() },
            state: AtomicUsize::new(SCHEDULED),
            future: Mutex::new(Some(Box::pin(future))),
            deferred: Mutex::new(None),
            spawner: thread_spawner(),
        });
        let (core, registration) = Core::waiter(Canceller::hook(Hook(driver.clone())));
        *driver.deferred.lock() = Some(registration);
        let deferred = Deferred::from_core(core);
        driver.run();
        deferred
    }
}

impl<T: Send + 'static> Driver<T> {
    const OPS: &'static Ops = &Ops {
        wake: raw_wake::<T>,
        wake_by_ref: raw_wake_by_ref::<T>,
        clone: raw_clone::<T>,
        drop: raw_drop::<T>,
    };

    /// This driver's waker.
    fn waker(self: &StdArc<Self>) -> std::task::Waker {
        let header = StdArc::into_raw(self.clone()).cast::<Header>();
        // SAFETY: the pointer comes from `Arc::into_raw` of this `Driver<T>`, whose header's
        // ops are `T`'s, and its reference goes to the waker.
        unsafe { waker::from_driver(header) }
    }

    /// A wake-up: schedules a poll unless one is scheduled or running (then it polls again);
    /// `ours`: from one of this crate's wake sites (module doc, rule 4).
    ///
    /// A wake that finds a poll already scheduled (`SCHEDULED`) or a repoll already asked for
    /// (`NOTIFIED`) still writes the word (the unchanged value, a release RMW): the waker's
    /// earlier writes (the flag the future reads) must happen-before the poll that consumes
    /// the merged wake-up, and only a write in the word's modification order gives that poll's
    /// Acquire claim something to synchronise with. A wake merged without a write could be
    /// consumed by a poll that still reads the old flag, and nothing would poll again (the
    /// same shape as the task state word's, `loom-tests/tests/deferred_driver_wake_publish.rs`).
    /// `DONE` needs no write: nothing polls after it.
    fn wake_up(self: &StdArc<Self>, ours: bool) {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let next = match state {
                IDLE => SCHEDULED,
                POLLING => NOTIFIED,
                SCHEDULED | NOTIFIED if !crate::loom_knobs::merged_wake_write_skipped() => state,
                _ => return, // DONE (or the loom models' write-free variant)
            };
            // AcqRel: pairs with the Release of the poller's POLLING -> IDLE exchange, so the
            // next poller sees the previous poll's writes to the future.
            match self.state.compare_exchange(state, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) if next == SCHEDULED && state == IDLE => return self.dispatch(ours),
                Ok(_) => return,
                Err(actual) => state = actual,
            }
        }
    }

    /// Runs a scheduled poll the way the module doc says (rules 2 to 5).
    fn dispatch(self: &StdArc<Self>, ours: bool) {
        if trampoline::driving() {
            return trampoline::queue(self.task());
        }
        if let Some(spawner) = &self.spawner {
            return spawner.spawn(self.task());
        }
        if ours {
            return self.run();
        }
        fallback::spawn(self.task());
    }

    fn task(self: &StdArc<Self>) -> PollTask {
        let driver = self.clone();
        PollTask(Box::new(move || driver.run()))
    }

    /// Runs the scheduled poll on this thread, as the outermost poll if none runs here.
    fn run(self: &StdArc<Self>) {
        trampoline::outermost(|| self.poll_loop());
    }

    fn poll_loop(self: &StdArc<Self>) {
        // Acquire: pairs with the AcqRel of the wake that scheduled this poll.
        if self
            .state
            .compare_exchange(SCHEDULED, POLLING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return; // DONE (cancelled or abandoned meanwhile)
        }
        let waker = self.waker();
        let mut cx = Context::from_waker(&waker);
        loop {
            let Some(stale) = self.awaited().begin_poll() else {
                // A cancel dropped the future (`awaited.rs`, case 4) and fires the Deferred.
                return self.state.store(DONE, Ordering::Release);
            };
            drop(stale);
            let mut slot = self.future.lock();
            let polled = slot
                .as_mut()
                .map(|future| catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx))));
            let output = match polled {
                Some(Ok(Poll::Pending)) => None,
                None => Some(None), // gone (defensive: only a cancel takes it, after `done`)
                Some(Ok(Poll::Ready(result))) => Some(Some(result)),
                Some(Err(payload)) => Some(Some(Err(Failure::from_panic(payload)))),
            };
            if let Some(result) = output {
                let future = slot.take();
                drop(slot);
                let stale = self.awaited().finish();
                self.state.store(DONE, Ordering::Release);
                drop(stale);
                drop_guarded(future);
                return self.finish(result);
            }
            drop(slot);
            if let Some(step) = self.awaited().end_poll() {
                if let Carried::Stopped = self.carry_out(step) {
                    // The future is dropped: this poller fires the Deferred.
                    return self.finish(Some(Err(Failure::new(Cancelled))));
                }
            }
            // Release: pairs with the AcqRel exchange in `wake_up`.
            match self.state.compare_exchange(POLLING, IDLE, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return,
                Err(DONE) => return,
                Err(_) => self.state.store(POLLING, Ordering::Release), // NOTIFIED: poll again
            }
        }
    }

    fn awaited(&self) -> &Awaited {
        &self.header.awaited
    }

    /// Fires the Deferred with the future's output (`None`: cancelled) and lets it go.
    fn finish(&self, result: Option<Result<T, Failure>>) {
        let Some(deferred) = self.deferred.lock().take() else { return };
        let outcome: Outcome = match result {
            Some(Ok(value)) => Ok(boxed(value)),
            Some(Err(failure)) => Err(failure),
            None => return, // the cancel fires it
        };
        // Refused after a cancel (whose outcome stands) or once every handle was dropped
        // (detached): a failure nobody can see any more is reported, as a dropped one would be.
        if let Err(Err(failure)) = deferred.hand_over(outcome) {
            report_unhandled(&failure);
        }
    }

    /// A cancel of the Deferred (`awaited.rs`): passed on to what the coroutine awaits, left
    /// to the running poll, or the future is dropped and the Deferred fails with `Cancelled`.
    fn cancel(&self) -> HookCancel {
        match self.carry_out(self.awaited().on_cancel()) {
            Carried::Stopped => {
                // `cancel` fires the Deferred: the driver's own handle of it goes now.
                let deferred = self.deferred.lock().take();
                drop(deferred);
                HookCancel::Fire
            }
            Carried::Pending => HookCancel::PassedOn,
        }
    }

    /// Carries out a cancel decided under the awaited lock (`awaited.rs`, cases 1 to 4), on
    /// the cancelling thread or at the end of a poll; no lock is held meanwhile.
    fn carry_out(&self, mut step: CancelStep) -> Carried {
        loop {
            step = match step {
                CancelStep::Finished | CancelStep::Later => return Carried::Pending,
                CancelStep::PassOn(children) => {
                    // A child's cancel may resume the coroutine at once (its outcome wakes
                    // the driver): a later child it no longer awaits is left alone.
                    let mut reached = false;
                    for (i, child) in children.iter().enumerate() {
                        if i == 0 || self.awaited().is_awaited(&child.core) {
                            reached |= Core::cancel(&child.core);
                        }
                    }
                    if reached || crate::loom_knobs::unreached_cancel_dropped() {
                        return Carried::Pending;
                    }
                    self.awaited().after_unreached(&children)
                }
                CancelStep::Stop => {
                    // `done` is set and no poll runs (`awaited.rs`): the future is ours to drop.
                    let future = self.future.lock().take();
                    self.state.store(DONE, Ordering::Release);
                    drop_guarded(future);
                    return Carried::Stopped;
                }
            };
        }
    }
}

/// What [`Driver::carry_out`] left.
enum Carried {
    /// The Deferred stays pending: the cancel went to the coroutine's children, or will at
    /// the end of a poll, or the future's output fires it.
    Pending,
    /// The future was dropped: the Deferred is to fail with `Cancelled`.
    Stopped,
}

impl<T: Send + 'static> CancelHook for Hook<T> {
    fn cancel(&self, _core: &CoreRef) {
        let _ = self.0.cancel();
    }

    fn cancel_or_pass_on(&self, _core: &CoreRef) -> HookCancel {
        self.0.cancel()
    }

    fn keeps_armed_on_cancel(&self) -> bool {
        true
    }

    fn withdraw(&self, core: &CoreRef, handed: Option<Outcome>) {
        match handed {
            // Every user handle dropped while it runs: detach, like a dropped `JoinHandle`.
            // The core lets go of the driver, which lives on while something can wake it.
            None => drop(Core::take_canceller_of(core)),
            Some(Err(failure)) => report_unhandled(&failure), // an output nobody took
            Some(Ok(_)) => {}
        }
    }
}

impl<T> Drop for Driver<T> {
    fn drop(&mut self) {
        drop_guarded(self.future.get_mut().take());
    }
}

/// Drops a future, reporting a panic of its `Drop` instead of unwinding.
fn drop_guarded<F>(future: Option<F>) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(future))) {
        report_unhandled(&Failure::from_panic(payload));
    }
}

/// `Ops::wake` for `Driver<T>`.
///
/// # Safety
///
/// `header` is a `Driver<T>`'s, from `Arc::into_raw`, and its reference is the caller's.
unsafe fn raw_wake<T: Send + 'static>(header: *const Header, ours: bool) {
    // SAFETY: per the contract; the reference is released when `driver` drops.
    let driver = unsafe { StdArc::from_raw(header.cast::<Driver<T>>()) };
    driver.wake_up(ours);
}

/// `Ops::wake_by_ref` for `Driver<T>`.
///
/// # Safety
///
/// As for [`raw_wake`], but the reference stays the caller's.
unsafe fn raw_wake_by_ref<T: Send + 'static>(header: *const Header) {
    // SAFETY: per the contract; `ManuallyDrop` leaves the reference with the caller.
    let driver = ManuallyDrop::new(unsafe { StdArc::from_raw(header.cast::<Driver<T>>()) });
    driver.wake_up(false);
}

/// `Ops::clone` for `Driver<T>`.
///
/// # Safety
///
/// As for [`raw_wake_by_ref`].
unsafe fn raw_clone<T: Send + 'static>(header: *const Header) {
    // SAFETY: per the contract the pointer is a live `Arc<Driver<T>>`'s.
    unsafe { StdArc::increment_strong_count(header.cast::<Driver<T>>()) };
}

/// `Ops::drop` for `Driver<T>`.
///
/// # Safety
///
/// As for [`raw_wake`].
unsafe fn raw_drop<T: Send + 'static>(header: *const Header) {
    // SAFETY: per the contract; the reference is released here.
    drop(unsafe { StdArc::from_raw(header.cast::<Driver<T>>()) });
}

/// The thread's poll trampoline (module doc, rule 2).
mod trampoline {
    use super::*;

    crate::sync::thread_local_const! {
        /// True while a `from_future` poll runs on this thread.
        static DRIVING: Cell<bool> = Cell::new(false);
        /// Polls scheduled on this thread while one ran, oldest first.
        static QUEUE: RefCell<VecDeque<PollTask>> = RefCell::new(VecDeque::new());
    }

    pub(super) fn driving() -> bool {
        DRIVING.try_with(Cell::get).unwrap_or(false)
    }

    pub(super) fn queue(task: PollTask) {
        let mut slot = Some(task);
        let _ = QUEUE.try_with(|queue| queue.borrow_mut().extend(slot.take()));
        if let Some(task) = slot {
            super::fallback::spawn(task); // the thread is exiting
        }
    }

    /// Runs `poll`, and if it is the outermost poll on this thread, every poll queued meanwhile.
    pub(super) fn outermost(poll: impl FnOnce()) {
        match DRIVING.try_with(|on| on.replace(true)) {
            Ok(false) => {}
            _ => return poll(), // an outer poll drains the queue (or the thread is exiting)
        }
        let _reset = Reset;
        poll();
        while let Some(task) = QUEUE.try_with(|queue| queue.borrow_mut().pop_front()).ok().flatten()
        {
            task.run();
        }
    }

    /// Ends the outermost poll, also when unwinding.
    struct Reset;

    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = DRIVING.try_with(|on| on.set(false));
        }
    }
}

/// The shared fallback thread of rule 5.
mod fallback {
    use crate::spawner::PollTask;

    #[cfg(not(loom))]
    pub(super) fn spawn(task: PollTask) {
        use std::sync::mpsc::{channel, Sender};
        use std::sync::OnceLock;

        static SENDER: OnceLock<Option<Sender<PollTask>>> = OnceLock::new();
        let sender = SENDER.get_or_init(|| {
            let (sender, receiver) = channel::<PollTask>();
            let thread = std::thread::Builder::new()
                .name("scheduler-deferred-driver".to_owned())
                .spawn(move || receiver.into_iter().for_each(PollTask::run));
            thread.ok().map(|_| sender)
        });
        let unsent = match sender {
            Some(sender) => sender.send(task).err().map(|e| e.0),
            None => Some(task),
        };
        if let Some(task) = unsent {
            task.run(); // no thread could be started: poll here, the last resort
        }
    }

    /// loom runs every modelled thread on one OS thread and models no extra one: poll inline.
    #[cfg(loom)]
    pub(super) fn spawn(task: PollTask) {
        task.run();
    }
}
