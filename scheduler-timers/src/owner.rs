//! [`TimerShard`]: the owner's handle of one shard (one per worker).

use crate::clock::deadline_after;
use crate::error::{InsertError, ShardBusy, TimerError};
use crate::key::{Expired, TimerKey};
use crate::remote::RemoteShard;
use crate::session::TimerSession;
use crate::shard::{Route, Shared};
use crate::sync::Arc;
use crate::TimerConfig;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

/// One shard of the timer wheel, held by its owning worker.
///
/// The owner inserts, cancels and resets without contention (one uncontended CAS on the
/// shard's expiry right per call, no lock, no allocation once the slab has grown) and fires
/// its due timers with [`fire_due`](Self::fire_due). Other threads use a [`RemoteShard`]
/// from [`remote`](Self::remote). The owner handle is `Send` (build it anywhere, move it to
/// its worker) but not `Sync` or `Clone`: one thread at a time uses it. See the protocol in
/// the docs of the `shard` module and its children (the crate docs say where).
///
/// Deadlines are nanoseconds on the shard's clock (see [`Clock`](crate::Clock)); the wheel
/// itself never reads a clock, the caller passes `now`.
///
/// The owner handle cannot be shared between threads:
/// ```compile_fail
/// fn needs_sync<S: Sync>() {}
/// needs_sync::<scheduler_timers::TimerShard<u32>>();
/// ```
/// and a remote handle needs a `Send` payload:
/// ```compile_fail
/// fn needs_send<S: Send>() {}
/// needs_send::<scheduler_timers::RemoteShard<std::rc::Rc<u32>>>();
/// ```
pub struct TimerShard<T> {
    shared: Arc<Shared<T>>,
    _one_thread: PhantomData<Cell<()>>,
}

impl<T> fmt::Debug for TimerShard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerShard")
            .field("id", &self.shared.id)
            .field("next_deadline", &self.shared.published())
            .finish_non_exhaustive()
    }
}

impl<T> TimerShard<T> {
    /// A shard with id `id` (carried by its keys) and the given geometry.
    pub fn new(id: u32, config: TimerConfig) -> Self {
        TimerShard { shared: Arc::new(Shared::new(id, config)), _one_thread: PhantomData }
    }

    /// The shard's id.
    pub fn id(&self) -> u32 {
        self.shared.id
    }

    /// Inserts a timer firing at `deadline_ns` (any `u64`: past deadlines fire at the next
    /// expiry pass, `u64::MAX` is a valid far-future deadline).
    ///
    /// # Errors
    /// [`TimerError::Full`] when the shard's slab cannot grow (about 2^31 live timers); the
    /// [`InsertError`] hands the payload back.
    #[inline(always)]
    pub fn insert(&self, deadline_ns: u64, payload: T) -> Result<TimerKey, InsertError<T>> {
        // Not `insert_owner(..).map(..)`: re-wrapping the key costs a store-forwarding stall.
        match self.shared.try_right() {
            Some(mut right) => {
                let (index, generation) =
                    self.shared.insert_held(&mut right, deadline_ns, payload)?;
                drop(right);
                let _ = self.shared.lower_published(deadline_ns);
                Ok(self.shared.key(index, generation))
            }
            None => self.shared.insert_remote(deadline_ns, payload).map(|(key, _)| key),
        }
    }

    /// Opens a [`TimerSession`]: takes the shard's expiry right once for a batch of inserts,
    /// cancels and resets, each cheaper than the one-shot method (no atomic read-modify-write
    /// per insert, one CAS per cancel or reset). While the session lives, stealers and
    /// [`fire_due`](Self::fire_due) find the shard busy and this handle's one-shot methods take
    /// the inbox path, so keep it to a bounded batch of timer work.
    ///
    /// ```
    /// use scheduler_timers::{TimerConfig, TimerShard};
    ///
    /// let shard = TimerShard::new(0, TimerConfig::default());
    /// let mut session = shard.session().unwrap();
    /// let (a, _) = session.insert(2_000_000, "a").unwrap();
    /// let _ = session.insert(1_000_000, "b").unwrap();
    /// session.cancel(a).unwrap();
    /// drop(session);
    /// let mut fired = Vec::new();
    /// let _ = shard.fire_due(5_000_000, |name| fired.push(name));
    /// assert_eq!(fired, vec!["b"]);
    /// ```
    ///
    /// # Errors
    /// [`ShardBusy`] when a stealer holds the expiry right at this moment.
    pub fn session(&self) -> Result<TimerSession<'_, T>, ShardBusy> {
        TimerSession::open(&self.shared).ok_or(ShardBusy)
    }

    /// Inserts a timer firing `delay` after `now_ns` (clamped at `u64::MAX` ns).
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub fn insert_after(
        &self,
        now_ns: u64,
        delay: Duration,
        payload: T,
    ) -> Result<TimerKey, InsertError<T>> {
        self.insert(deadline_after(now_ns, delay), payload)
    }

    /// Cancels a pending timer; its payload is dropped (on this thread, before returning,
    /// when the owner holds the expiry right; otherwise by the next expiry pass).
    ///
    /// # Errors
    /// [`TimerError::AlreadyFired`], [`TimerError::AlreadyCancelled`], [`TimerError::Stale`]
    /// or [`TimerError::WrongShard`]; nothing changes.
    #[inline(always)]
    pub fn cancel(&self, key: TimerKey) -> Result<(), TimerError> {
        self.shared.cancel(key, Route::Direct)
    }

    /// Moves a pending timer's deadline. Later: an atomic update of the entry, re-filed
    /// lazily; earlier: re-filed at once. The timer keeps its place among equal deadlines
    /// (its insertion `seq`).
    ///
    /// # Errors
    /// As [`cancel`](Self::cancel).
    pub fn reset(&self, key: TimerKey, deadline_ns: u64) -> Result<(), TimerError> {
        self.shared.reset(key, deadline_ns, Route::Direct).map(|_| ())
    }

    /// The deadline of a pending timer.
    ///
    /// # Errors
    /// As [`cancel`](Self::cancel).
    pub fn deadline(&self, key: TimerKey) -> Result<u64, TimerError> {
        self.shared.deadline_of(key)
    }

    /// Whether the timer is still pending (Twisted's `active()`).
    pub fn is_pending(&self, key: TimerKey) -> bool {
        self.shared.deadline_of(key).is_ok()
    }

    /// Fires every timer due at `now_ns` (deadline `<= now_ns`) in `(deadline, insertion)`
    /// order, handing each payload to `f` outside any internal lock; timers that `f` inserts
    /// and that are already due fire in the same pass. Returns how many fired and the next
    /// deadline to park until. If a stealer holds the expiry right, returns at once with
    /// `fired: 0` and the published deadline (the stealer is doing the work).
    pub fn fire_due(&self, now_ns: u64, mut f: impl FnMut(T)) -> Expired {
        match self.shared.expire(now_ns, usize::MAX, &mut f) {
            Ok(expired) => expired,
            Err(ShardBusy) => Expired { fired: 0, next_deadline: self.shared.published() },
        }
    }

    /// The exact earliest pending deadline, after admitting everything in the inbox (for a
    /// manual clock that steps deadline by deadline). Also re-publishes it.
    ///
    /// # Errors
    /// [`ShardBusy`] when a stealer holds the expiry right at this moment.
    pub fn earliest_deadline(&self) -> Result<Option<u64>, ShardBusy> {
        self.shared.earliest()
    }

    /// The published next deadline: a lower bound of every pending deadline, one atomic load.
    pub fn next_deadline(&self) -> Option<u64> {
        self.shared.published()
    }

    /// A handle other threads use to insert, cancel, reset and steal expiry.
    pub fn remote(&self) -> RemoteShard<T> {
        RemoteShard::new(Arc::clone(&self.shared))
    }

    /// Deadlines of all pending timers, sorted (scans the slab; for tests and tooling).
    pub fn pending_deadlines(&self) -> Vec<u64> {
        self.shared.pending_deadlines()
    }

    /// Slab slots ever handed out: the shard's memory in entries (they are reused, never freed
    /// while the shard lives).
    pub fn slab_len(&self) -> u32 {
        self.shared.slab.len()
    }

    /// Items in the due heap (live or lazily deleted); with [`slab_len`](Self::slab_len), for
    /// tests that memory stays bounded. `None` if a stealer holds the expiry right.
    pub fn due_heap_len(&self) -> Option<usize> {
        self.shared.due_len().ok()
    }
}

#[cfg(all(test, not(loom)))]
mod generation_edge_tests {
    use super::*;
    use crate::entry::LAST_GENERATION;

    fn age(shard: &TimerShard<u32>, key: TimerKey, generation: u32) {
        shard.shared.slab.get(key.index).expect("a handed-out slot").age_for_test(generation);
    }

    /// A slot reused 2^32 - 1 times is retired when its last occupant finishes: the next timer
    /// gets another slot, so no key of an earlier occupant (here the very first, generation 1,
    /// which a wrapped generation would repeat) can reach it. Cancel, fire and the inbox
    /// reclaim each retire it.
    #[test]
    fn a_slot_at_its_last_generation_is_retired_not_reused() {
        for finish in ["cancel", "fire", "remote cancel"] {
            let shard: TimerShard<u32> = TimerShard::new(0, TimerConfig::default());
            let first = shard.insert(1 << 40, 1).unwrap();
            assert_eq!(first.generation, 1);
            shard.cancel(first).unwrap();
            age(&shard, first, LAST_GENERATION - 1);
            let last = shard.insert(1 << 40, 2).unwrap();
            assert_eq!((last.index, last.generation), (first.index, LAST_GENERATION));
            match finish {
                "cancel" => shard.cancel(last).unwrap(),
                "fire" => {
                    let mut fired = Vec::new();
                    let _ = shard.fire_due(1 << 41, |v| fired.push(v));
                    assert_eq!(fired, [2]);
                }
                _ => {
                    shard.remote().cancel(last).unwrap();
                    let _ = shard.fire_due(0, |_| {}); // drains the inbox, which reclaims it
                }
            }
            let next = shard.insert(1 << 40, 3).unwrap();
            assert_ne!(next.index, first.index, "{finish}: the spent slot was handed out again");
            assert_eq!(shard.cancel(first), Err(TimerError::Stale), "{finish}");
            assert!(shard.is_pending(next), "{finish}: a stale key reached the live timer");
            assert!(shard.cancel(last).is_err(), "{finish}");
        }
    }
}
