//! [`DeterministicRuntime`]: one thread, a manual clock, and task order chosen by a seeded
//! RNG, so tests of timed logic run instantly and replay exactly.
//!
//! # What it supports
//!
//! - [`spawn`](DeterministicRuntime::spawn) of any `'static` future (it need not be `Send`),
//!   with a [`DetJoinHandle`] to await or [`try_take`](DetJoinHandle::try_take);
//! - [`time::sleep`](crate::time::sleep), [`time::sleep_until`](crate::time::sleep_until) and
//!   [`time::timeout`](crate::time::timeout) inside its tasks (they find its clock through
//!   the thread's context while it runs);
//! - its [`ManualReactor`] ([`reactor`](DeterministicRuntime::reactor)) for
//!   [`call_later`](DeterministicRuntime::call_later), [`LoopingCall`](crate::LoopingCall),
//!   [`defer_later`](crate::time::defer_later), [`Cooperator`](crate::time::Cooperator);
//!   Deferreds are awaitable in its tasks;
//! - [`run_until_stalled`](DeterministicRuntime::run_until_stalled),
//!   [`advance`](DeterministicRuntime::advance) (deadline by deadline, running the tasks to
//!   quiescence after each), [`pump`](DeterministicRuntime::pump), and
//!   [`block_on`](DeterministicRuntime::block_on), which moves virtual time forward whenever
//!   every task waits on a timer.
//!
//! Not supported: `Handle::current()`, `spawn_blocking`, `join`/`scope` (called in its tasks
//! they go to the global runtime's workers, outside the deterministic order), priorities (one
//! run queue). A panic in a task propagates out of the call that polled it.
//!
//! # Determinism
//!
//! The next task to poll is drawn from the woken set with a xorshift64* generator seeded by
//! the caller; timers fire in `(deadline, scheduling order)`; the runtime itself never reads
//! the wall clock. The same seed and the same program give the same interleaving.
//!
//! Two APIs read the wall clock by their nature, so a test that wants exact replay avoids
//! them: a [`Cooperator`](crate::time::Cooperator) with a [`SliceBudget::Time`] budget (its
//! slices end by elapsed real time: use [`SliceBudget::Units`]), and deadlines given as a
//! `std::time::Instant` (`call_at`, `sleep_until`), which a manual clock reads as "that long
//! from now" (use delays instead).
//!
//! [`SliceBudget::Time`]: crate::time::SliceBudget::Time
//! [`SliceBudget::Units`]: crate::time::SliceBudget::Units

use crate::sync::{Arc, Mutex};
use crate::time::{DelayedCall, ManualReactor};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

type LocalTask = Pin<Box<dyn Future<Output = ()>>>;

/// The set of woken task ids, in wake order (membership flags make a second wake a no-op).
#[derive(Debug, Default)]
struct ReadySet {
    ids: Vec<usize>,
    member: Vec<bool>,
}

impl ReadySet {
    fn push(&mut self, id: usize) {
        if self.member.len() <= id {
            self.member.resize(id + 1, false);
        }
        if !self.member[id] {
            self.member[id] = true;
            self.ids.push(id);
        }
    }
}

struct TaskWaker {
    id: usize,
    ready: Arc<Mutex<ReadySet>>,
}

impl Wake for TaskWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.ready.lock().push(self.id);
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.ready.lock().push(self.id);
    }
}

struct Inner {
    reactor: ManualReactor,
    tasks: RefCell<Vec<Option<LocalTask>>>,
    wakers: RefCell<Vec<Waker>>,
    ready: Arc<Mutex<ReadySet>>,
    rng: Cell<u64>,
}

/// A single-threaded runtime on a manual clock with a seeded task order.
///
/// # Examples
/// A retry loop with exponential backoff, tested without waiting: 100 + 200 + 400 ms of
/// virtual time pass in an instant, and the run replays exactly for a given seed.
/// ```
/// use scheduler_core::{time, DeterministicRuntime};
/// use std::{cell::Cell, rc::Rc, time::Duration};
///
/// async fn fetch_with_retry(attempts: Rc<Cell<u32>>) -> Result<u32, &'static str> {
///     let mut backoff = Duration::from_millis(100);
///     for _ in 0..5 {
///         attempts.set(attempts.get() + 1);
///         if attempts.get() == 4 {
///             return Ok(42); // the fourth attempt succeeds
///         }
///         time::sleep(backoff).await;
///         backoff *= 2;
///     }
///     Err("gave up")
/// }
///
/// let rt = DeterministicRuntime::new(7);
/// let attempts = Rc::new(Cell::new(0));
/// let result = rt.block_on(fetch_with_retry(attempts.clone())).unwrap();
/// assert_eq!(result, Ok(42));
/// assert_eq!(attempts.get(), 4);
/// assert_eq!(rt.now(), Duration::from_millis(700));
/// ```
///
/// It is single-threaded: it cannot be sent to another thread.
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// send(scheduler_core::DeterministicRuntime::new(1));
/// ```
#[derive(Clone)]
pub struct DeterministicRuntime {
    inner: Rc<Inner>,
}

impl fmt::Debug for DeterministicRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeterministicRuntime")
            .field("now", &self.now())
            .field("tasks", &self.live_tasks())
            .finish()
    }
}

/// [`DeterministicRuntime::block_on`] found every task waiting with no timer pending: nothing
/// could ever make progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stalled;

impl fmt::Display for Stalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no task is ready and no timer is pending: the future can never complete")
    }
}

impl std::error::Error for Stalled {}

impl DeterministicRuntime {
    /// A runtime whose task order is drawn from `seed` (any value; 0 is remapped).
    pub fn new(seed: u64) -> Self {
        DeterministicRuntime {
            inner: Rc::new(Inner {
                reactor: ManualReactor::new(),
                tasks: RefCell::new(Vec::new()),
                wakers: RefCell::new(Vec::new()),
                ready: Arc::new(Mutex::new(ReadySet::default())),
                rng: Cell::new(seed ^ 0x9E37_79B9_7F4A_7C15),
            }),
        }
    }

    /// The manual reactor: its clock is this runtime's time.
    pub fn reactor(&self) -> &ManualReactor {
        &self.inner.reactor
    }

    /// Virtual time since the start.
    pub fn now(&self) -> Duration {
        self.inner.reactor.now()
    }

    /// Schedules `f` on the virtual clock; it runs inside `advance` / `block_on`.
    pub fn call_later<F: FnOnce() + Send + 'static>(&self, delay: Duration, f: F) -> DelayedCall {
        self.inner.reactor.call_later(delay, f)
    }

    /// Adds a task; it first runs at the next `run_until_stalled` / `advance` / `block_on`.
    pub fn spawn<F>(&self, future: F) -> DetJoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let slot = Rc::new(RefCell::new(JoinSlot { value: None, waiter: None }));
        let out = slot.clone();
        let task: LocalTask = Box::pin(async move {
            let value = future.await;
            let waiter = {
                let mut s = out.borrow_mut();
                s.value = Some(value);
                s.waiter.take()
            };
            if let Some(w) = waiter {
                w.wake();
            }
        });
        let id = {
            let mut tasks = self.inner.tasks.borrow_mut();
            tasks.push(Some(task));
            tasks.len() - 1
        };
        let waker =
            Waker::from(std::sync::Arc::new(TaskWaker { id, ready: self.inner.ready.clone() }));
        self.inner.wakers.borrow_mut().push(waker);
        self.inner.ready.lock().push(id);
        DetJoinHandle { slot }
    }

    /// Tasks spawned and not finished.
    pub fn live_tasks(&self) -> usize {
        self.inner.tasks.borrow().iter().filter(|t| t.is_some()).count()
    }

    fn next_rand(&self) -> u64 {
        // xorshift64*
        let mut x = self.inner.rng.get();
        if x == 0 {
            x = 0x2545_F491_4F6C_DD1D;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.inner.rng.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick_ready(&self) -> Option<usize> {
        let mut ready = self.inner.ready.lock();
        if ready.ids.is_empty() {
            return None;
        }
        let i = (self.next_rand() % ready.ids.len() as u64) as usize;
        let id = ready.ids.swap_remove(i);
        ready.member[id] = false;
        Some(id)
    }

    /// Polls woken tasks, in seeded random order, until none is woken; returns the polls.
    /// Time does not move.
    pub fn run_until_stalled(&self) -> usize {
        let _ctx = crate::time::enter_manual(&self.inner.reactor);
        let mut polls = 0;
        while let Some(id) = self.pick_ready() {
            let task = self.inner.tasks.borrow_mut().get_mut(id).and_then(Option::take);
            let Some(mut task) = task else { continue };
            let waker = self.inner.wakers.borrow()[id].clone();
            let mut cx = Context::from_waker(&waker);
            polls += 1;
            if task.as_mut().poll(&mut cx).is_pending() {
                self.inner.tasks.borrow_mut()[id] = Some(task);
            }
        }
        polls
    }

    /// Moves virtual time forward by `d`, deadline by deadline: at each due deadline the
    /// clock reads that deadline, the calls due then run, and the tasks run until stalled.
    /// Returns how many timers fired.
    pub fn advance(&self, d: Duration) -> usize {
        let reactor = &self.inner.reactor;
        let target = scheduler_timers::deadline_after(reactor.now_ns(), d);
        self.run_until_stalled();
        let mut fired = 0;
        while let Some(next) = reactor.next_deadline() {
            if next > target {
                break;
            }
            fired += self.fire_at(next);
        }
        reactor.clock().set_ns(target.max(reactor.now_ns()));
        self.run_until_stalled();
        fired
    }

    /// One [`advance`](Self::advance) per step (Twisted's `Clock.pump`).
    pub fn pump(&self, steps: &[Duration]) -> usize {
        steps.iter().map(|d| self.advance(*d)).sum()
    }

    fn fire_at(&self, deadline: u64) -> usize {
        let reactor = &self.inner.reactor;
        reactor.clock().set_ns(deadline.max(reactor.now_ns()));
        let fired = {
            let _ctx = crate::time::enter_manual(reactor);
            reactor.run_due(reactor.now_ns())
        };
        self.run_until_stalled();
        fired
    }

    /// Runs `future` to completion, moving virtual time to the next timer whenever every
    /// task waits.
    ///
    /// # Errors
    /// [`Stalled`] when nothing is ready and no timer is pending (it can never complete).
    pub fn block_on<F>(&self, future: F) -> Result<F::Output, Stalled>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let handle = self.spawn(future);
        loop {
            self.run_until_stalled();
            if let Some(v) = handle.try_take() {
                return Ok(v);
            }
            match self.inner.reactor.next_deadline() {
                Some(next) => {
                    self.fire_at(next);
                }
                None => return Err(Stalled),
            }
        }
    }
}

struct JoinSlot<T> {
    value: Option<T>,
    waiter: Option<Waker>,
}

/// The result of a task of a [`DeterministicRuntime`]: a future, or
/// [`try_take`](Self::try_take) after running.
pub struct DetJoinHandle<T> {
    slot: Rc<RefCell<JoinSlot<T>>>,
}

impl<T> fmt::Debug for DetJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DetJoinHandle").field("done", &self.slot.borrow().value.is_some()).finish()
    }
}

impl<T> DetJoinHandle<T> {
    /// The task's output, if it has finished (taken once).
    pub fn try_take(&self) -> Option<T> {
        self.slot.borrow_mut().value.take()
    }
}

impl<T> Future for DetJoinHandle<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut slot = self.slot.borrow_mut();
        match slot.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                slot.waiter = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl crate::Runtime {
    /// A [`DeterministicRuntime`] with the given seed: one thread, a manual clock, seeded task
    /// order (see its docs for the supported subset of the API).
    ///
    /// # Examples
    /// ```
    /// use scheduler_core::{time, Runtime};
    /// use std::time::Duration;
    /// let rt = Runtime::deterministic(1);
    /// rt.block_on(time::sleep(Duration::from_secs(3600))).unwrap(); // instant
    /// assert_eq!(rt.now(), Duration::from_secs(3600));
    /// ```
    pub fn deterministic(seed: u64) -> DeterministicRuntime {
        DeterministicRuntime::new(seed)
    }
}
