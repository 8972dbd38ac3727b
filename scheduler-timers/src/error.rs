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
