//! [`DeferredQueue`]: a queue whose `get` returns a Deferred (Twisted's `DeferredQueue`).
//!
//! One lock guards the pending values and the FIFO of waiting getters. `put` pops the oldest
//! waiter under the lock and fires it after releasing it, so the getter's callbacks never run
//! under the queue's lock. If that waiter was cancelled in between (its fire is refused), `put`
//! gets its value back and retries with the next waiter, or queues the value. A cancelled
//! getter removes itself from the waiters through its canceller.
//!
//! The lock is the chains' [`SpinLock`](crate::sync::SpinLock): every section under it is a
//! push, a pop or a scan of the waiters, and nothing is dropped under it (a removed waiter is
//! dropped after the unlock), so no user code runs there. The canceller is one
//! [`CancelHook`] per queue, shared by all its getters: a getter costs an `Arc` clone, not a
//! boxed closure, and finds its entry by its chain's address.

use std::collections::VecDeque;
use std::fmt;

use crate::chain::{CancelHook, Canceller};
use crate::core_ref::CoreRef;
use crate::errors::{QueueOverflow, QueueUnderflow};
use crate::sync::{Arc, SpinLock};
use crate::Deferred;

/// A queue of values whose `get` returns a Deferred (Twisted's `DeferredQueue`).
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
/// ```
pub struct DeferredQueue<T> {
    shared: Arc<SpinLock<Shared<T>>>,
    /// The canceller of every waiting getter: removes it from `shared.waiting`.
    hook: Arc<dyn CancelHook>,
}

struct Shared<T> {
    pending: VecDeque<T>,
    waiting: VecDeque<Deferred<T>>,
    size: Option<usize>,
    backlog: Option<usize>,
}

/// [`DeferredQueue::hook`].
struct Withdraw<T> {
    shared: Arc<SpinLock<Shared<T>>>,
}

impl<T: Send> CancelHook for Withdraw<T> {
    fn cancel(&self, core: &CoreRef) {
        let mut s = self.shared.lock();
        let at = s.waiting.iter().position(|waiter| CoreRef::ptr_eq(&waiter.core, core));
        let removed = at.and_then(|at| s.waiting.remove(at));
        drop(s);
        drop(removed); // not under the lock (it is not the last handle: the cancel holds one)
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
        let shared = Shared { pending: VecDeque::new(), waiting: VecDeque::new(), size, backlog };
        let shared = Arc::new(SpinLock::new(shared));
        let hook = Canceller::hook(Withdraw { shared: shared.clone() });
        DeferredQueue { shared, hook }
    }

    /// Hands `value` to the oldest waiting getter (firing it before returning), or queues it.
    ///
    /// # Errors
    ///
    /// [`QueueOverflow`] if no getter waits and `size` values are already pending; the value is
    /// dropped.
    pub fn put(&self, mut value: T) -> Result<(), QueueOverflow> {
        loop {
            let mut s = self.shared.lock();
            let Some(waiter) = s.waiting.pop_front() else {
                if s.size.is_some_and(|size| s.pending.len() >= size) {
                    return Err(QueueOverflow);
                }
                s.pending.push_back(value);
                return Ok(());
            };
            drop(s);
            match waiter.try_callback(value) {
                Ok(()) => return Ok(()),
                Err(back) => value = back, // that getter was cancelled meanwhile
            }
        }
    }

    /// A Deferred of the oldest pending value: already fired if one is pending, else fired by
    /// a later `put`. Cancelling a waiting getter removes it from the waiters.
    ///
    /// # Errors
    ///
    /// [`QueueUnderflow`] if nothing is pending and `backlog` getters already wait.
    pub fn get(&self) -> Result<Deferred<T>, QueueUnderflow> {
        let mut s = self.shared.lock();
        if let Some(value) = s.pending.pop_front() {
            return Ok(Deferred::succeed(value));
        }
        if s.backlog.is_some_and(|backlog| s.waiting.len() >= backlog) {
            return Err(QueueUnderflow);
        }
        let getter = Deferred::with_hook(self.hook.clone());
        s.waiting.push_back(getter.clone());
        Ok(getter)
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
