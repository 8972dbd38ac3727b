//! [`DeferredSemaphore`] and [`DeferredLock`]: acquire returns a Deferred.
//!
//! One mutex guards the token count and the FIFO of waiters (their [`Registration`]s).
//! `release` either hands its token to the oldest waiter (popped under the mutex, fired after
//! releasing it through the hand-off trampoline of `handoff.rs`, so a waiter that releases
//! from its callback does not nest) or returns it to the count. A waiter cancelled or
//! withdrawn between the pop and the fire refuses the token, and it is offered to the next
//! waiter.
//!
//! Cancel safety: a waiter leaves the FIFO when it is cancelled (its canceller is the
//! semaphore's shared [`CancelHook`]) and when its last handle is dropped (`waiter.rs`); one
//! dropped after it was handed the token but before anybody took it gives the token back. So
//! no token is ever held by a waiter nobody can reach.

use std::collections::VecDeque;
use std::fmt;

use crate::chain::{CancelHook, Canceller, Core, Outcome, Registration};
use crate::core_ref::CoreRef;
use crate::deferred::boxed;
use crate::errors::{NoTokens, NotAcquired};
use crate::handoff::hand_off;
use crate::maybe::maybe_deferred;
use crate::sync::{Arc, Mutex};
use crate::Deferred;

/// A semaphore whose `acquire` returns a Deferred (Twisted's `DeferredSemaphore`).
///
/// `acquire` is cancel safe: a waiting acquire that is cancelled, or whose every handle is
/// dropped (`select!`, `timeout`), leaves the FIFO, and one dropped after the token was handed
/// to it (before it was taken by an `.await` or a callback) gives the token back. An acquire
/// with a callback attached, as [`run`](DeferredSemaphore::run) makes, is a consumer and keeps
/// its place when its handles are dropped: the work runs when the token comes.
///
/// Hand-offs never nest: a `release` made from a waiter's callback, itself run by a
/// `release`, fires the next waiter after that callback returns, still before the outermost
/// `release` returns; a million queued waiters each releasing in turn need one stack frame.
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
    shared: Shared,
    /// The canceller of every waiter: removes it from the FIFO, or takes its token back.
    hook: Arc<dyn CancelHook>,
}

type Shared = Arc<Mutex<Tokens>>;

struct Tokens {
    available: usize,
    limit: usize,
    waiting: VecDeque<Registration>,
}

/// [`DeferredSemaphore::hook`].
struct Withdraw {
    shared: Shared,
}

impl CancelHook for Withdraw {
    fn cancel(&self, core: &CoreRef) {
        let mut s = self.shared.lock();
        let at = s.waiting.iter().position(|waiter| waiter.is(core));
        let removed = at.and_then(|at| s.waiting.remove(at));
        drop(s);
        drop(removed); // not under the lock
    }

    fn withdraw(&self, core: &CoreRef, handed: Option<Outcome>) {
        match handed {
            None => self.cancel(core),
            Some(_) => give(&self.shared), // it was handed our token and never took it
        }
    }
}

/// Gives a held token to the oldest waiter, or back to the count.
fn give(shared: &Shared) {
    let mut s = shared.lock();
    match s.waiting.pop_front() {
        Some(waiter) => {
            drop(s);
            hand(shared, waiter);
        }
        None => s.available += 1,
    }
}

/// Hands the token to `waiter`: through the trampoline if it has callbacks to run (they may
/// `release` again), directly if it only wakes awaiting tasks.
#[inline]
fn hand(shared: &Shared, waiter: Registration) {
    if waiter.looks_armed() {
        fire(shared, waiter);
    } else {
        hand_off(shared, waiter, fire);
    }
}

/// A hand-off's fire: the token to `waiter`, or, refused, to the next one.
fn fire(shared: &Shared, waiter: Registration) {
    if waiter.hand_over(Ok(boxed(()))).is_err() {
        give(shared);
    }
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
        let state = Tokens { available: tokens, limit: tokens, waiting: VecDeque::new() };
        let shared = Arc::new(Mutex::new(state));
        let hook = Canceller::hook(Withdraw { shared: shared.clone() });
        Ok(DeferredSemaphore { shared, hook })
    }

    /// A Deferred that fires once a token is ours: at once if one is free, else after the
    /// earlier waiters (FIFO). Until the token is taken (`.await`, `take_result`, a callback),
    /// dropping every handle of the acquire gives the token back. Cancelling a waiting acquire, or dropping all its handles,
    /// withdraws it (see [`DeferredSemaphore`]).
    pub fn acquire(&self) -> Deferred<()> {
        let mut s = self.shared.lock();
        if s.available > 0 {
            s.available -= 1;
            drop(s);
            // Armed: dropped before anybody takes the token, it gives it back.
            return Deferred::from_core(Core::handed(self.hook.clone(), Ok(boxed(()))));
        }
        let (waiter, registration) = Core::waiter(self.hook.clone());
        s.waiting.push_back(registration);
        Deferred::from_core(waiter)
    }

    /// Returns a token: to the oldest waiter (fired before this returns), or to the pool.
    ///
    /// # Errors
    ///
    /// [`NotAcquired`] if every token is already free.
    pub fn release(&self) -> Result<(), NotAcquired> {
        let mut s = self.shared.lock();
        match s.waiting.pop_front() {
            Some(waiter) => {
                drop(s);
                hand(&self.shared, waiter);
            }
            None if s.available >= s.limit => return Err(NotAcquired),
            None => s.available += 1,
        }
        Ok(())
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
