//! [`DeferredQueue`]: a queue whose `get` returns a Deferred (Twisted's `DeferredQueue`).
//!
//! One lock guards the pending values and the FIFO of waiting getters (their
//! [`Registration`]s). `put` pops the oldest waiter under the lock and hands the value over
//! after releasing it, through the hand-off trampoline (`handoff.rs`), so the getter's
//! callbacks never run under the queue's lock and a getter that puts again from its callback
//! does not nest. If that waiter was cancelled or withdrawn in between (the hand-over is
//! refused), the value is offered again at the front: to the next waiter, else first among
//! the pending values.
//!
//! Cancel safety: a getter leaves the waiters when it is cancelled (its canceller is the
//! queue's shared [`CancelHook`]) and when its last handle is dropped (the withdraw protocol
//! of `waiter.rs`), and a getter dropped after it was handed a value it never took gives the
//! value back, to the front. So no value is lost, whatever thread drops a getter and whenever.
//!
//! The lock is the chains' [`SpinLock`]: every section under it is a
//! push, a pop or a scan of the waiters, and nothing is dropped under it (a removed waiter is
//! dropped after the unlock), so no user code runs there. The hook is one per queue, shared by
//! all its getters: a getter costs an `Arc` clone, not a boxed closure, and is found by its
//! chain's address.

use std::collections::VecDeque;
use std::fmt;

use crate::chain::{CancelHook, Canceller, Core, Outcome, Registration};
use crate::core_ref::CoreRef;
use crate::deferred::{boxed, typed_result};
use crate::errors::{QueueOverflow, QueueUnderflow};
use crate::handoff::hand_off;
use crate::queue_stream::{QueueStream, StreamWaiters};
use crate::sync::{Arc, SpinGuard, SpinLock};
use crate::Deferred;

/// A queue of values whose `get` returns a Deferred (Twisted's `DeferredQueue`).
///
/// `get` is cancel safe in tokio's sense: a getter that is cancelled, or whose every handle
/// is dropped (a `select!` that took another branch, a `timeout` that expired), leaves the
/// waiters, and a value already handed to it but never taken goes back to the front of the
/// queue. A getter with a callback attached is a consumer and keeps its place when its handles
/// are dropped (Twisted's `q.get().add_callback(f)`); cancel it to withdraw it.
///
/// Hand-offs never nest: a `put` made from a getter's callback, itself run by a `put`, fires
/// its getter after that callback returns, still before the outermost `put` returns.
///
/// # Examples
///
/// ```
/// use scheduler_deferred::DeferredQueue;
///
/// let q = DeferredQueue::new();
/// let got = q.get().unwrap(); // nobody has put yet: a waiting getter
/// q.put("hello").unwrap();     // fires the oldest getter at once
/// assert_eq!(got.take_result().unwrap().unwrap(), "hello");
///
/// let dropped = q.get().unwrap();
/// drop(dropped); // a getter dropped (a `select!` took another branch) withdraws
/// q.put("kept").unwrap();
/// assert_eq!(q.pending(), 1);
/// ```
pub struct DeferredQueue<T> {
    shared: Shared<T>,
    /// The canceller of every waiting getter: removes it from the waiters, or takes back what
    /// it was handed.
    hook: Arc<dyn CancelHook>,
}

pub(crate) type Shared<T> = Arc<SpinLock<State<T>>>;

pub(crate) struct State<T> {
    pub(crate) pending: VecDeque<T>,
    waiting: VecDeque<Registration>,
    size: Option<usize>,
    backlog: Option<usize>,
    /// The stream receivers waiting for a value (`queue_stream.rs`), oldest first.
    pub(crate) streams: StreamWaiters,
}

/// [`DeferredQueue::hook`].
struct Withdraw<T> {
    shared: Shared<T>,
}

impl<T: Send + 'static> CancelHook for Withdraw<T> {
    fn cancel(&self, core: &CoreRef) {
        remove(&self.shared, core);
    }

    fn withdraw(&self, core: &CoreRef, handed: Option<Outcome>) {
        match handed.map(typed_result::<T>) {
            None => remove(&self.shared, core),
            Some(Ok(value)) => offer(&self.shared, value),
            Some(Err(_)) => {} // nothing of ours was handed (a waiter only gets values)
        }
    }
}

/// Removes `core`'s registration from the waiters, if it is still there.
fn remove<T>(shared: &Shared<T>, core: &CoreRef) {
    let mut s = shared.lock();
    let at = s.waiting.iter().position(|waiter| waiter.is(core));
    let removed = at.and_then(|at| s.waiting.remove(at));
    drop(s);
    drop(removed); // not under the lock
}

/// Hands a value given back (by a withdrawn or refusing getter) to the oldest waiter, or
/// queues it before the pending values (it was accepted once, so `size` does not apply).
fn offer<T: Send + 'static>(shared: &Shared<T>, value: T) {
    let mut s = shared.lock();
    match s.waiting.pop_front() {
        Some(waiter) => {
            drop(s);
            hand(shared, waiter, value);
        }
        None => {
            s.pending.push_front(value);
            unlock_and_wake_receiver(s);
        }
    }
}

/// A value was just queued: releases the lock, then wakes the oldest waiting stream receiver
/// (`queue_stream.rs`), if any (a waker is the caller's code: never under the lock).
fn unlock_and_wake_receiver<T>(mut s: SpinGuard<'_, State<T>>) {
    let woken = s.streams.take_oldest();
    drop(s);
    if let Some(waker) = woken {
        waker.wake();
    }
}

/// Hands `value` to `waiter`: through the trampoline if the waiter has callbacks to run
/// (they may `put` again), directly if it only wakes awaiting tasks.
#[inline]
fn hand<T: Send + 'static>(shared: &Shared<T>, waiter: Registration, value: T) {
    if waiter.looks_armed() {
        fire(shared, (waiter, value));
    } else {
        hand_off(shared, (waiter, value), fire);
    }
}

/// A hand-off's fire: `value` to `waiter`, or, refused, offered again at the front.
fn fire<T: Send + 'static>(shared: &Shared<T>, (waiter, value): (Registration, T)) {
    if let Err(back) = waiter.hand_over(Ok(boxed(value))) {
        if let Ok(value) = typed_result::<T>(back) {
            offer(shared, value);
        }
    }
}

impl<T> Clone for DeferredQueue<T> {
    fn clone(&self) -> Self {
        DeferredQueue { shared: self.shared.clone(), hook: self.hook.clone() }
    }
}

impl<T> fmt::Debug for DeferredQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.shared.lock();
        f.debug_struct("DeferredQueue")
            .field("pending", &s.pending.len())
            .field("waiting", &s.waiting.len())
            .field("size", &s.size)
            .field("backlog", &s.backlog)
            .finish()
    }
}

impl<T: Send + 'static> Default for DeferredQueue<T> {
    fn default() -> Self {
        DeferredQueue::new()
    }
}

impl<T: Send + 'static> DeferredQueue<T> {
    /// An unbounded queue.
    pub fn new() -> Self {
        DeferredQueue::with_limits(None, None)
    }

    /// A queue holding at most `size` pending values and `backlog` waiting getters (`None`:
    /// unbounded). `size = Some(0)` accepts a `put` only when a getter waits.
    pub fn with_limits(size: Option<usize>, backlog: Option<usize>) -> Self {
        let state = State {
            pending: VecDeque::new(),
            waiting: VecDeque::new(),
            size,
            backlog,
            streams: StreamWaiters::default(),
        };
        let shared = Arc::new(SpinLock::new(state));
        let hook = Canceller::hook(Withdraw { shared: shared.clone() });
        DeferredQueue { shared, hook }
    }

    /// Hands `value` to the oldest waiting getter (firing it before returning), or queues it.
    ///
    /// # Errors
    ///
    /// [`QueueOverflow`] if no getter waits and `size` values are already pending; the value is
    /// dropped.
    pub fn put(&self, value: T) -> Result<(), QueueOverflow> {
        let mut s = self.shared.lock();
        let Some(waiter) = s.waiting.pop_front() else {
            if s.size.is_some_and(|size| s.pending.len() >= size) {
                return Err(QueueOverflow);
            }
            s.pending.push_back(value);
            unlock_and_wake_receiver(s);
            return Ok(());
        };
        drop(s);
        hand(&self.shared, waiter, value);
        Ok(())
    }

    /// A Deferred of the oldest pending value: already fired if one is pending, else fired by
    /// a later `put`. Until the value is taken (`.await`, `take_result`, a callback), dropping
    /// every handle of the getter gives it back to the front of the queue. Cancelling a waiting getter, or dropping all its handles, removes it from
    /// the waiters (see [`DeferredQueue`]).
    ///
    /// # Errors
    ///
    /// [`QueueUnderflow`] if nothing is pending and `backlog` getters already wait.
    pub fn get(&self) -> Result<Deferred<T>, QueueUnderflow> {
        let mut s = self.shared.lock();
        if let Some(value) = s.pending.pop_front() {
            drop(s);
            // Armed: dropped before anybody takes the value, it gives it back to the front.
            return Ok(Deferred::from_core(Core::handed(self.hook.clone(), Ok(boxed(value)))));
        }
        if s.backlog.is_some_and(|backlog| s.waiting.len() >= backlog) {
            return Err(QueueUnderflow);
        }
        let (getter, registration) = Core::waiter(self.hook.clone());
        s.waiting.push_back(registration);
        Ok(Deferred::from_core(getter))
    }

    /// A receiver of this queue's values as a [`Stream`](futures_core::Stream) that never
    /// ends: each value goes either to the oldest waiting [`get`](Self::get) Deferred or, if
    /// none waits, to a receiver. A receiver keeps its task's waker registered across
    /// receives instead of creating a Deferred per value (see [`QueueStream`]).
    ///
    /// ```
    /// use scheduler_deferred::DeferredQueue;
    /// let q = DeferredQueue::new();
    /// let mut rx = q.stream();
    /// q.put(1).unwrap();
    /// q.put(2).unwrap();
    /// let got = futures::executor::block_on(async { (rx.recv().await, rx.recv().await) });
    /// assert_eq!(got, (1, 2));
    /// ```
    pub fn stream(&self) -> QueueStream<T> {
        QueueStream::new(self.shared.clone())
    }

    /// Values put and not yet taken.
    pub fn pending(&self) -> usize {
        self.shared.lock().pending.len()
    }

    /// Getters waiting for a value.
    pub fn waiting(&self) -> usize {
        self.shared.lock().waiting.len()
    }
}
