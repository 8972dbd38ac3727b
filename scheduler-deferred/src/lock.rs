//! [`DeferredSemaphore`] and [`DeferredLock`]: acquire returns a Deferred.
//!
//! One mutex guards the token count and the FIFO of waiters. `release` either hands its token
//! straight to the oldest waiter (popped under the mutex, fired after releasing it) or returns
//! it to the count. A waiter cancelled between the pop and the fire refuses the token, and
//! `release` offers it to the next waiter. A cancelled waiter removes itself through its
//! canceller, so it never holds a token.

use std::collections::VecDeque;
use std::fmt;

use crate::errors::{NoTokens, NotAcquired};
use crate::maybe::maybe_deferred;
use crate::sync::{Arc, Mutex};
use crate::Deferred;

/// A semaphore whose `acquire` returns a Deferred (Twisted's `DeferredSemaphore`).
///
/// # Examples
///
/// ```
/// use scheduler_deferred::{Deferred, DeferredSemaphore};
///
/// let sem = DeferredSemaphore::new(1).unwrap();
/// let held = Deferred::<u8>::new();
/// let first = sem.run({ let held = held.clone(); move || held });
/// let second = sem.run(|| Deferred::succeed(2u8)); // waits for a token
/// assert!(!second.is_called());
/// held.callback(1).unwrap(); // `first` finishes and releases its token
/// assert_eq!(first.take_result().unwrap().unwrap(), 1);
/// assert_eq!(second.take_result().unwrap().unwrap(), 2);
/// ```
#[derive(Clone)]
pub struct DeferredSemaphore {
    shared: Arc<Mutex<Tokens>>,
}

struct Tokens {
    available: usize,
    limit: usize,
    waiting: VecDeque<(u64, Deferred<()>)>,
    next_id: u64,
}

impl fmt::Debug for DeferredSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.shared.lock();
        f.debug_struct("DeferredSemaphore")
            .field("available", &s.available)
            .field("limit", &s.limit)
            .field("waiting", &s.waiting.len())
            .finish()
    }
}

impl DeferredSemaphore {
    /// A semaphore with `tokens` tokens.
    ///
    /// # Errors
    ///
    /// [`NoTokens`] if `tokens` is 0.
    pub fn new(tokens: usize) -> Result<Self, NoTokens> {
        if tokens == 0 {
            return Err(NoTokens);
        }
        let state =
            Tokens { available: tokens, limit: tokens, waiting: VecDeque::new(), next_id: 0 };
        Ok(DeferredSemaphore { shared: Arc::new(Mutex::new(state)) })
    }

    /// A Deferred that fires once a token is ours: at once if one is free, else after the
    /// earlier waiters (FIFO). Cancelling a waiting acquire withdraws it.
    pub fn acquire(&self) -> Deferred<()> {
        let mut s = self.shared.lock();
        if s.available > 0 {
            s.available -= 1;
            return Deferred::succeed(());
        }
        let id = s.next_id;
        s.next_id += 1;
        let shared = self.shared.clone();
        let waiter = Deferred::with_canceller(move |_: &Deferred<()>| {
            shared.lock().waiting.retain(|(waiter, _)| *waiter != id);
        });
        s.waiting.push_back((id, waiter.clone()));
        waiter
    }

    /// Returns a token: to the oldest waiter (fired before this returns), or to the pool.
    ///
    /// # Errors
    ///
    /// [`NotAcquired`] if every token is already free.
    pub fn release(&self) -> Result<(), NotAcquired> {
        loop {
            let mut s = self.shared.lock();
            let Some((_, waiter)) = s.waiting.pop_front() else {
                if s.available >= s.limit {
                    return Err(NotAcquired);
                }
                s.available += 1;
                return Ok(());
            };
            drop(s);
            if waiter.try_callback(()).is_ok() {
                return Ok(());
            } // else that waiter was cancelled meanwhile: offer the token to the next
        }
    }

    /// Acquires, runs `f`, and releases once `f`'s Deferred has a result (success or failure),
    /// *before* that result continues down the returned chain. A panic in `f` is a failure.
    pub fn run<U, F>(&self, f: F) -> Deferred<U>
    where
        U: Send + 'static,
        F: FnOnce() -> Deferred<U> + Send + 'static,
    {
        let semaphore = self.clone();
        self.acquire().add_callback_deferred(move |()| {
            maybe_deferred(f).add_both(move |result| {
                let _ = semaphore.release(); // we hold a token: cannot fail
                result
            })
        })
    }

    /// Tokens free right now.
    pub fn available(&self) -> usize {
        self.shared.lock().available
    }

    /// Acquires waiting for a token.
    pub fn waiting(&self) -> usize {
        self.shared.lock().waiting.len()
    }
}

/// A lock whose `acquire` returns a Deferred (Twisted's `DeferredLock`): a semaphore of one.
///
/// # Examples
///
/// ```
/// use scheduler_deferred::DeferredLock;
///
/// let lock = DeferredLock::new();
/// let first = lock.acquire();
/// let second = lock.acquire();
/// assert!(first.is_called() && !second.is_called());
/// lock.release().unwrap(); // handed straight to `second`
/// assert!(second.is_called() && lock.is_locked());
/// lock.release().unwrap();
/// assert!(lock.release().is_err()); // NotAcquired
/// # let _ = (first.take_result(), second.take_result());
/// ```
#[derive(Debug, Clone)]
pub struct DeferredLock {
    semaphore: DeferredSemaphore,
}

impl Default for DeferredLock {
    fn default() -> Self {
        DeferredLock::new()
    }
}

impl DeferredLock {
    /// An unlocked lock.
    pub fn new() -> Self {
        let semaphore = DeferredSemaphore::new(1).unwrap_or_else(|NoTokens| unreachable!());
        DeferredLock { semaphore }
    }

    /// A Deferred that fires once the lock is ours (FIFO among waiters).
    pub fn acquire(&self) -> Deferred<()> {
        self.semaphore.acquire()
    }

    /// Unlocks, or hands the lock to the oldest waiter (fired before this returns).
    ///
    /// # Errors
    ///
    /// [`NotAcquired`] if the lock is not locked.
    pub fn release(&self) -> Result<(), NotAcquired> {
        self.semaphore.release()
    }

    /// Runs `f` under the lock; see [`DeferredSemaphore::run`].
    pub fn run<U, F>(&self, f: F) -> Deferred<U>
    where
        U: Send + 'static,
        F: FnOnce() -> Deferred<U> + Send + 'static,
    {
        self.semaphore.run(f)
    }

    /// True while someone holds the lock.
    pub fn is_locked(&self) -> bool {
        self.semaphore.available() == 0
    }
}
