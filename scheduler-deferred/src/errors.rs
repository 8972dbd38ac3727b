//! The error types of this crate, each a small struct with a hand-written `Display` and `Error`.

use std::error::Error;
use std::fmt;
use std::time::Duration;

use crate::Failure;

macro_rules! unit_error {
    ($(#[$doc:meta])* $name:ident, $msg:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name;

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($msg)
            }
        }

        impl Error for $name {}
    };
}

unit_error!(
    /// A Deferred was fired (`callback` / `errback`) after it had already been fired.
    AlreadyCalled,
    "Deferred was already called"
);
unit_error!(
    /// The failure a cancelled Deferred fires with (Twisted's `CancelledError`).
    Cancelled,
    "Deferred was cancelled"
);
unit_error!(
    /// `DeferredQueue::put` found the queue full (`size` reached, no waiting getter).
    QueueOverflow,
    "DeferredQueue is full"
);
unit_error!(
    /// `DeferredQueue::get` found too many getters already waiting (`backlog` reached).
    QueueUnderflow,
    "DeferredQueue has too many waiting getters"
);
unit_error!(
    /// `unpause()` was called more times than `pause()` (Twisted would wedge the chain).
    NotPaused,
    "unpause() called on a Deferred that is not paused"
);
unit_error!(
    /// `release()` on a `DeferredLock` that is not locked, or on a `DeferredSemaphore` that has
    /// all its tokens.
    NotAcquired,
    "released a lock or semaphore that is not held"
);
unit_error!(
    /// `DeferredSemaphore::new(0)`: a semaphore needs at least one token.
    NoTokens,
    "DeferredSemaphore requires tokens >= 1"
);
unit_error!(
    /// A callback returned the very Deferred it was attached to; Twisted wedges the chain, we
    /// fail it with this error instead.
    ChainedToItself,
    "a callback returned the Deferred it was attached to"
);
unit_error!(
    /// A callback returned a Deferred that waits, directly or through other chained Deferreds,
    /// on the one the callback was attached to: the chain would wait on itself for ever, so it
    /// fails with this error instead (the whole cycle then ends with it). `cancel()` on a cycle
    /// that formed anyway (deeper than the walk at chaining, or closed by two threads at once)
    /// breaks it with this error too.
    ChainCycle,
    "a callback returned a Deferred that waits on this one (a chaining cycle)"
);
unit_error!(
    /// The result was already taken by an `.await`, `take_result`, a Deferred chained onto this
    /// one, or a `DeferredList` / `race`: awaiting it again gives this error, and a callback
    /// added afterwards continues the chain with it, so errbacks and `add_both` still run (where
    /// Twisted hands them `None`) and, if nobody handles it, it is reported as unhandled.
    ResultTaken,
    "the Deferred's result was already taken (by an .await, take_result, a chained Deferred \
     or a DeferredList); a callback added after that gets this failure"
);

/// A `Deferred::add_timeout` deadline passed before the Deferred fired (Twisted's
/// `defer.TimeoutError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimedOut {
    /// The timeout that passed.
    pub after: Duration,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Deferred timed out after {:?}", self.after)
    }
}

impl Error for TimedOut {}

/// A handle's type did not match the value in the chain: a callback was added through a stale
/// handle (one taken before a type-changing `add_*`), or a Deferred was fired through one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TypeMismatch {
    /// The type the handle expected.
    pub expected: &'static str,
}

impl fmt::Display for TypeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the Deferred's value is not a {}", self.expected)
    }
}

impl Error for TypeMismatch {}

/// The first failure of a `DeferredList` built with `fire_on_one_errback`, or of
/// `gather_results`: which input failed, and how.
#[derive(Debug, Clone)]
pub struct FirstError {
    /// The position of the failed input in the list.
    pub index: usize,
    /// The input's failure.
    pub failure: Failure,
}

impl fmt::Display for FirstError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The failure itself follows as `source()` (Failure's Display walks it); a panic has no
        // `Error` to point to, so its message goes here.
        match self.failure.panic_message() {
            Some(message) => write!(f, "FirstError[#{}]: panic: {message}", self.index),
            None => write!(f, "FirstError[#{}]", self.index),
        }
    }
}

impl Error for FirstError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.failure.error().map(|e| e as &(dyn Error + 'static))
    }
}
