//! [`RemoteShard`]: the handle any thread uses to reach a shard it does not own.

use crate::error::{InsertError, ShardBusy, TimerError};
use crate::key::{Expired, TimerKey, Wake};
use crate::session::TimerSession;
use crate::shard::{Route, Shared};
use crate::sync::Arc;
use std::fmt;

/// A cloneable, `Send + Sync` (for `T: Send`) handle on a shard from any thread.
///
/// Inserts, cancels and resets never take a lock: they CAS the entry and push onto the
/// shard's lock-free inbox, which the shard's owner (or a stealer) drains. Operations that can
/// make a timer earlier return [`Wake`]: [`Wake::Owner`] means the new deadline is earlier
/// than the owner's published next deadline, so the caller should unpark the owner (its
/// parker must keep an unpark token, so a wake that races with the owner's park is not lost).
pub struct RemoteShard<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for RemoteShard<T> {
    fn clone(&self) -> Self {
        RemoteShard { shared: Arc::clone(&self.shared) }
    }
}

impl<T> fmt::Debug for RemoteShard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteShard")
            .field("id", &self.shared.id)
            .field("next_deadline", &self.shared.published())
            .finish_non_exhaustive()
    }
}

impl<T> RemoteShard<T> {
    pub(crate) fn new(shared: Arc<Shared<T>>) -> Self {
        RemoteShard { shared }
    }

    /// The shard's id.
    pub fn id(&self) -> u32 {
        self.shared.id
    }

    /// Inserts a timer through the inbox; it gets its insertion `seq` when the owner admits
    /// it (inserts from one thread keep their order).
    ///
    /// # Errors
    /// [`TimerError::Full`] when the shard's slab cannot grow; the [`InsertError`] hands the
    /// payload back.
    pub fn insert(&self, deadline_ns: u64, payload: T) -> Result<(TimerKey, Wake), InsertError<T>> {
        self.shared.insert_remote(deadline_ns, payload)
    }

    /// Inserts the way the owner does: if the shard's expiry right is free (one CAS on it), the
    /// timer is filed at once (no inbox traffic, its `seq` assigned now); otherwise it goes
    /// through the inbox like [`insert`](Self::insert). For a worker that keeps only remote
    /// handles but inserts into its own shard; from other threads it contends with the owner
    /// on the right's cache line, so prefer [`insert`](Self::insert) there.
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub fn insert_direct(
        &self,
        deadline_ns: u64,
        payload: T,
    ) -> Result<(TimerKey, Wake), InsertError<T>> {
        self.shared.insert_owner(deadline_ns, payload)
    }

    /// [`insert_direct`](Self::insert_direct) for a periodic timer re-armed by its own
    /// callback: when called from the callback an [`expire_pass`](Self::expire_pass) of this
    /// shard is running for the timer `fired`, the new timer takes `fired`'s slot (re-arm in
    /// place: no reclaim of the fired slot, no free slot taken). The new timer gets a new key
    /// (`fired` is stale from then on, as after any reuse of its slot) and a new place in the
    /// insertion order. Otherwise (another thread, another timer's callback, no pass, or a
    /// slot whose generation is spent) exactly `insert_direct`.
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub fn rearm_direct(
        &self,
        fired: TimerKey,
        deadline_ns: u64,
        payload: T,
    ) -> Result<(TimerKey, Wake), InsertError<T>> {
        self.shared.rearm_owner(fired, deadline_ns, payload)
    }

    /// Opens a [`TimerSession`] the way [`TimerShard::session`](crate::TimerShard::session)
    /// does: for a worker that keeps only remote handles, to batch operations on its own shard
    /// under one hold of the expiry right.
    ///
    /// # Errors
    /// [`ShardBusy`] if the owner or a stealer holds the expiry right at this moment.
    pub fn session_direct(&self) -> Result<TimerSession<'_, T>, ShardBusy> {
        TimerSession::open(&self.shared).ok_or(ShardBusy)
    }

    /// Cancels the way the owner does: with the expiry right free, the entry is unlinked and
    /// its slot reclaimed at once and the payload dropped before returning; otherwise as
    /// [`cancel`](Self::cancel).
    ///
    /// # Errors
    /// As [`cancel`](Self::cancel).
    pub fn cancel_direct(&self, key: TimerKey) -> Result<(), TimerError> {
        self.shared.cancel(key, Route::Direct)
    }

    /// Cancels a pending timer: one CAS, plus one push so the owner unlinks it promptly.
    /// The payload is dropped by the owner's next expiry pass.
    ///
    /// # Errors
    /// [`TimerError::AlreadyFired`] (also while it is being fired: a running timer is never
    /// reported cancelled), [`TimerError::AlreadyCancelled`], [`TimerError::Stale`],
    /// [`TimerError::WrongShard`].
    pub fn cancel(&self, key: TimerKey) -> Result<(), TimerError> {
        self.shared.cancel(key, Route::Inbox)
    }

    /// Moves a pending timer's deadline; a later one is a few atomic operations on the entry
    /// (no inbox traffic), an earlier one is pushed to the owner.
    ///
    /// # Errors
    /// As [`cancel`](Self::cancel).
    pub fn reset(&self, key: TimerKey, deadline_ns: u64) -> Result<Wake, TimerError> {
        self.shared.reset(key, deadline_ns, Route::Inbox)
    }

    /// The deadline of a pending timer.
    ///
    /// # Errors
    /// As [`cancel`](Self::cancel).
    pub fn deadline(&self, key: TimerKey) -> Result<u64, TimerError> {
        self.shared.deadline_of(key)
    }

    /// The published next deadline (one atomic load; a lower bound of every pending one).
    pub fn next_deadline(&self) -> Option<u64> {
        self.shared.published()
    }

    /// Whether the shard has a timer that may be due at `now_ns` (published deadline
    /// `<= now_ns`): the test an idle thread makes before stealing.
    pub fn is_overdue(&self, now_ns: u64) -> bool {
        self.shared.published().is_some_and(|d| d <= now_ns)
    }

    /// Timer stealing: fires up to `max` timers due at `now_ns` on the owner's behalf, in
    /// the same order the owner would, handing payloads to `f` outside the expiry right.
    ///
    /// # Errors
    /// [`ShardBusy`] if the owner or another stealer holds the expiry right (nothing fired).
    pub fn steal_expired(
        &self,
        now_ns: u64,
        max: usize,
        mut f: impl FnMut(T),
    ) -> Result<Expired, ShardBusy> {
        self.shared.expire(now_ns, max, &mut f)
    }

    /// An expiry pass for a manual clock: fires every timer due at `now_ns`, in `(deadline,
    /// insertion)` order, under one hold of the shard's expiry right that lasts until the
    /// last callback returns. While `f` runs, this thread's inserts, cancels, resets and
    /// expiry calls on this shard, through any handle except a session, borrow that right:
    /// no read-modify-write on it, no inbox (a timer inserted already due fires in this
    /// pass). Other threads find the shard busy meanwhile (their inserts go through the
    /// inbox), so `f` must not wait for another thread that needs this shard's right.
    ///
    /// The published next deadline is not recomputed: it stays a lower bound of every
    /// pending deadline, possibly a stale one, so use this on a shard no thread parks on
    /// ([`earliest_deadline`](Self::earliest_deadline) publishes the exact value again).
    /// Returns how many timers fired.
    ///
    /// # Errors
    /// [`ShardBusy`] if another thread holds the expiry right (nothing fired).
    pub fn expire_pass(&self, now_ns: u64, mut f: impl FnMut(T)) -> Result<usize, ShardBusy> {
        self.shared.expire_pass(now_ns, &mut f)
    }

    /// The exact earliest pending deadline (for a manual-clock driver holding remote handles
    /// of every shard).
    ///
    /// # Errors
    /// [`ShardBusy`] if the expiry right is held at this moment.
    pub fn earliest_deadline(&self) -> Result<Option<u64>, ShardBusy> {
        self.shared.earliest()
    }
}
