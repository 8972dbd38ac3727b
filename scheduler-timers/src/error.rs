//! Error values of the timer API: what a stale or finished handle, or a bad configuration, gets.

use std::fmt;

/// Why an operation on a timer was refused.
///
/// These map onto Twisted's `AlreadyCalled` / `AlreadyCancelled`: a runtime keeps a
/// `DelayedCall` per [`TimerKey`](crate::TimerKey) and turns these into its own errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimerError {
    /// The timer has fired (its payload was handed out); it can no longer be cancelled or reset.
    AlreadyFired,
    /// The timer was cancelled before.
    AlreadyCancelled,
    /// The handle is stale: the timer finished and its slot now holds another timer (the
    /// generation differs), or the handle never named a timer of this shard.
    Stale,
    /// The handle belongs to another shard.
    WrongShard,
    /// The shard holds as many timers as its slab can index (about 2^31); nothing was inserted.
    /// An insert reports it in an [`InsertError`], which hands the payload back.
    Full,
}

impl fmt::Display for TimerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimerError::AlreadyFired => "the timer has already fired",
            TimerError::AlreadyCancelled => "the timer was already cancelled",
            TimerError::Stale => "stale timer handle: the timer finished and its slot was reused",
            TimerError::WrongShard => "the timer handle belongs to another shard",
            TimerError::Full => "the timer shard is full",
        })
    }
}

impl std::error::Error for TimerError {}

/// An insert the shard refused, with the payload it did not take (as crossbeam's
/// `SendError<T>` hands back its message).
///
/// The reason is [`TimerError::Full`]: the shard holds as many timers as its slab can index
/// (about 2^31). `?` turns it into that [`TimerError`] (dropping the payload) for a caller
/// that has no use for the payload.
///
/// ```
/// use scheduler_timers::{TimerConfig, TimerError, TimerShard};
///
/// let shard = TimerShard::new(0, TimerConfig::default());
/// match shard.insert(1_000_000, String::from("payload")) {
///     Ok(key) => assert!(shard.is_pending(key)),
///     Err(refused) => {
///         assert_eq!(refused.error(), TimerError::Full);
///         let _payload: String = refused.into_payload(); // not lost
///     }
/// }
/// ```
#[must_use = "a refused insert hands its payload back; drop it or use it"]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct InsertError<T> {
    error: TimerError,
    payload: T,
}

impl<T> InsertError<T> {
    pub(crate) fn new(error: TimerError, payload: T) -> Self {
        InsertError { error, payload }
    }

    /// Why the insert was refused ([`TimerError::Full`]).
    pub fn error(&self) -> TimerError {
        self.error
    }

    /// True when the shard's slab could not grow ([`TimerError::Full`]).
    pub fn is_full(&self) -> bool {
        self.error == TimerError::Full
    }

    /// The payload the shard did not take.
    pub fn into_payload(self) -> T {
        self.payload
    }

    /// The reason and the payload.
    pub fn into_parts(self) -> (TimerError, T) {
        (self.error, self.payload)
    }
}

/// Without the payload (its type need not be `Debug`), like crossbeam's `SendError`.
impl<T> fmt::Debug for InsertError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InsertError").field("error", &self.error).finish_non_exhaustive()
    }
}

impl<T> fmt::Display for InsertError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<T> std::error::Error for InsertError<T> {}

/// Keeps the reason and drops the payload, so `?` works where the error is a [`TimerError`].
impl<T> From<InsertError<T>> for TimerError {
    fn from(refused: InsertError<T>) -> Self {
        refused.error
    }
}

/// A [`TimerConfig`](crate::TimerConfig) value out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigError {
    /// The tick must lie in 100 µs ..= 1 s.
    TickOutOfRange,
    /// The number of levels must lie in 1 ..= 8.
    LevelsOutOfRange,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigError::TickOutOfRange => "timer tick must lie between 100 us and 1 s",
            ConfigError::LevelsOutOfRange => "timer wheel levels must lie between 1 and 8",
        })
    }
}

impl std::error::Error for ConfigError {}

/// The expiry right of a shard is held by another thread right now (its owner or a stealer);
/// try again later. Returned only by operations that need the wheel itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ShardBusy;

impl fmt::Display for ShardBusy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the timer shard's expiry right is held by another thread")
    }
}

impl std::error::Error for ShardBusy {}
