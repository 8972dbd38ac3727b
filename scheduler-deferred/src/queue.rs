//! [`DeferredQueue`]: a queue whose `get` returns a Deferred (Twisted's `DeferredQueue`).
//!
//! One mutex guards the pending values and the FIFO of waiting getters. `put` pops the oldest
//! waiter under the mutex and fires it after releasing it, so the getter's callbacks never run
//! under the queue's lock. If that waiter was cancelled in between (its fire is refused), `put`
//! gets its value back and retries with the next waiter, or queues the value. A cancelled
//! getter removes itself from the waiters through its canceller.

use std::collections::VecDeque;
use std::fmt;

use crate::errors::{QueueOverflow, QueueUnderflow};
use crate::sync::{Arc, Mutex};
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
    shared: Arc<Mutex<Shared<T>>>,
}

struct Shared<T> {
    pending: VecDeque<T>,
    waiting: VecDeque<(u64, Deferred<T>)>,
    next_id: u64,
    size: Option<usize>,
    backlog: Option<usize>,
}

impl<T> Clone for DeferredQueue<T> {
    fn clone(&self) -> Self {
        DeferredQueue { shared: self.shared.clone() }
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
        let shared = Shared {
            pending: VecDeque::new(),
            waiting: VecDeque::new(),
            next_id: 0,
            size,
            backlog,
        };
        DeferredQueue { shared: Arc::new(Mutex::new(shared)) }
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
            let Some((_, waiter)) = s.waiting.pop_front() else {
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
        let id = s.next_id;
        s.next_id += 1;
        let shared = self.shared.clone();
        let getter = Deferred::with_canceller(move |_: &Deferred<T>| {
            shared.lock().waiting.retain(|(waiter, _)| *waiter != id);
        });
        s.waiting.push_back((id, getter.clone()));
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
