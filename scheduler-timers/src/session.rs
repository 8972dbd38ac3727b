//! [`TimerSession`]: the owner's batch of timer operations under one hold of the expiry right.
//!
//! Every owner operation on its own (`TimerShard::insert`, `cancel`, `reset`) takes the shard's
//! expiry right with one CAS and releases it with one store, so a stealer can get in between
//! any two of them. A session takes the right once and keeps it until it drops. In between:
//!
//! - an insert is plain work on the wheel plus the entry's `Release` arm store (no
//!   read-modify-write once the slab has grown),
//! - a cancel is the entry's one CAS (`PENDING -> CANCELLED`, the linearisation point against
//!   remote cancels and resets; no firer can race it, firing needs the right), then an unlink
//!   and a reclaim,
//! - a reset is a store and one CAS on the entry ([`crate::entry::reset`], "Reset by the
//!   right's holder").
//!
//! Nothing else changes: remote handles still insert, cancel and reset through the entry CASes
//! and the inbox (the session drains the inbox before each insert, as every right holder
//! does, so inserts ordered by happens-before keep their `seq` order). What a session costs
//! the others: while it lives, [`RemoteShard::steal_expired`](crate::RemoteShard) and the
//! owner's own `fire_due` find the right taken (`ShardBusy` / nothing fired) and the owner's
//! one-shot operations take the inbox path. So hold a session across a bounded batch of timer
//! work (a burst of registrations, a maintenance pass), never across user code that may block.

use crate::error::{InsertError, TimerError};
use crate::key::{TimerKey, Wake};
use crate::shard::{Right, Shared};
use std::fmt;

/// A batch of owner operations on one shard under a single hold of its expiry right.
///
/// From [`TimerShard::session`](crate::TimerShard::session) or
/// [`RemoteShard::session_direct`](crate::RemoteShard::session_direct); the right is released
/// when the session drops. Same results as the one-shot operations, cheaper: an insert needs
/// no atomic read-modify-write, a cancel or a reset one CAS on the timer's entry. While it
/// lives, stealers and the shard's `fire_due` find the shard busy (see the `session` module
/// docs), so keep it to a bounded batch of timer work.
///
/// A session stays on the thread that opened it:
/// ```compile_fail
/// fn needs_send<S: Send>() {}
/// needs_send::<scheduler_timers::TimerSession<'static, u32>>();
/// ```
pub struct TimerSession<'a, T> {
    shared: &'a Shared<T>,
    right: Right<'a>,
}

impl<T> fmt::Debug for TimerSession<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerSession").field("id", &self.shared.id).finish_non_exhaustive()
    }
}

impl<'a, T> TimerSession<'a, T> {
    /// Opens a session if the shard's expiry right is free.
    pub(crate) fn open(shared: &'a Shared<T>) -> Option<Self> {
        let right = shared.try_right_exclusive()?;
        Some(TimerSession { shared, right })
    }

    /// Inserts a timer firing at `deadline_ns`, filed at once. The [`Wake`] says whether the
    /// deadline is earlier than the shard's published next deadline (for a runtime that wakes
    /// idle threads for it, as [`RemoteShard::insert_direct`](crate::RemoteShard)).
    ///
    /// # Errors
    /// [`TimerError::Full`] when the shard's slab cannot grow; the [`InsertError`] hands the
    /// payload back.
    #[inline(always)]
    pub fn insert(
        &mut self,
        deadline_ns: u64,
        payload: T,
    ) -> Result<(TimerKey, Wake), InsertError<T>> {
        let (index, generation) = self.shared.insert_held(&mut self.right, deadline_ns, payload)?;
        let wake = Wake::from_earlier(self.shared.lower_published(deadline_ns));
        Ok((self.shared.key(index, generation), wake))
    }

    /// Cancels a pending timer; its payload is dropped before this returns.
    ///
    /// # Errors
    /// [`TimerError::AlreadyFired`], [`TimerError::AlreadyCancelled`], [`TimerError::Stale`]
    /// or [`TimerError::WrongShard`]; nothing changes.
    #[inline(always)]
    pub fn cancel(&mut self, key: TimerKey) -> Result<(), TimerError> {
        let entry = self.shared.entry(key)?;
        self.shared.cancel_held(&mut self.right, key, entry).map(drop)
    }

    /// Moves a pending timer's deadline: one store and one CAS on the entry; an earlier
    /// deadline is re-filed at once, a later one lazily. The timer keeps its place among equal
    /// deadlines. The [`Wake`] is as for [`insert`](Self::insert) (only an earlier deadline
    /// can need one).
    ///
    /// # Errors
    /// As [`cancel`](Self::cancel).
    #[inline]
    pub fn reset(&mut self, key: TimerKey, deadline_ns: u64) -> Result<Wake, TimerError> {
        let entry = self.shared.entry(key)?;
        let earlier = self.shared.reset_held(&mut self.right, key, entry, deadline_ns)?;
        Ok(Wake::from_earlier(earlier && self.shared.lower_published(deadline_ns)))
    }
}
