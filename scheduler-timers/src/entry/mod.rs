//! One timer's shared half: the state word, the deadline and the payload, in a slab slot.
//!
//! The parts of the state machine live in the child modules: [`state`] (the state word, its
//! phases, flags and epoch) and [`reset`] (the two ways to move a deadline); this module holds
//! the entry and its other transitions (arm, cancel, fire, the drain's clear, reclaim).
//!
//! # The fields beside the state word
//!
//! `deadline` is written only by the slot's armer (before the `Release` store that publishes
//! the arm), by a resetter holding `RESETTING`, and by the expiry-right holder's reset; it is
//! read by the expiry-right holder after an `Acquire` load of the state. `next` links the slot into the inbox or the free list (never
//! both). `payload` is written by the armer while the slot is free, taken by the firer after
//! winning `FIRING`, or by the reclaimer of a `CANCELLED` slot; those three never overlap.

pub(crate) mod reset;
pub(crate) mod state;

pub(crate) use state::{Phase, Snapshot};

use crate::error::TimerError;
use crate::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use crate::sync::UnsafeCell;
use state::{CANCEL_REQ, FLAGS_AND_PHASE, PENDING_BITS, PHASE_MASK, QUEUED};

/// The "no index" link value.
pub(crate) const NIL: u32 = u32::MAX;

/// The last generation a slot may carry. A slot that finishes at it is retired: never handed
/// out again, because its next arm would wrap to generation 1 and every key of an earlier
/// occupant (held by any `TimerShard`, `RemoteShard` or session user) would name the new
/// timer. One entry per 2^32 reuses of a slot is the price; in a tight insert + cancel loop
/// (~25 ns a pair) that is one entry every ~107 s.
pub(crate) const LAST_GENERATION: u32 = u32::MAX;

/// How an operation on an entry reaches the shard's wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// The caller holds the shard's expiry right and does the wheel's part itself (files,
    /// unlinks or reclaims at once).
    Holder,
    /// The caller does not hold the right: the entry gets `QUEUED` and its index goes through
    /// the shard's inbox to the right's holder (for an arm, also `INBOX_ARMED`).
    Inbox,
}

/// What a successful cancel leaves the caller to do.
#[must_use = "a cancel may require an inbox push or an unlink"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cancelled {
    /// The entry is `CANCELLED`; `was_queued` says whether it already sat in the inbox, and
    /// `must_push` whether this caller set `QUEUED` and must push the index.
    /// `reuse`: where the slot goes once reclaimed, read from the state this cancel replaced
    /// (generation and `INBOX_ARMED` change only at the next arm), so the reclaimer need not
    /// load the word again.
    Now { was_queued: bool, must_push: bool, reuse: Reuse },
    /// A reset was in flight; `CANCEL_REQ` is set and the resetter finishes the cancel.
    Requested,
}

/// What the expiry-right holder found when it tried to fire an entry.
#[derive(Debug)]
pub(crate) enum FireAttempt<T> {
    /// Won `PENDING -> FIRING -> FIRED`; here is the payload. `queued`: the drain reclaims.
    Fired { payload: Option<T>, queued: bool },
    /// Still pending, but its deadline is later than the caller's bound (a lazy reset-later).
    Later(u64),
    /// A reset is in flight; `REFILE` was set, so the resetter re-queues the entry.
    Resetting,
    /// Cancelled; `queued`: the drain reclaims, otherwise the caller does.
    Cancelled { queued: bool },
    /// Fired before (only reachable through the inbox).
    AlreadyFired { queued: bool },
}

/// Where a reclaimed slot goes ([`Entry::reuse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reuse {
    /// Its generation is spent: never handed out again.
    Retire,
    /// Armed through the inbox: back to the slab's shared free list, where remote inserters
    /// find it.
    Shared,
    /// Armed by the right's holder: the owner's private spares (or the shared list, as the
    /// reclaimer decides).
    Owner,
}

/// One slab slot.
#[derive(Debug)]
pub(crate) struct Entry<T> {
    state: AtomicU64,
    deadline: AtomicU64,
    /// Inbox or free-list link.
    pub(crate) next: AtomicU32,
    payload: UnsafeCell<Option<T>>,
}

impl<T> Entry<T> {
    pub(crate) fn new() -> Self {
        Entry {
            state: AtomicU64::new(0),
            deadline: AtomicU64::new(0),
            next: AtomicU32::new(NIL),
            payload: UnsafeCell::new(None),
        }
    }

    /// Acquire: pairs with the Release stores / CASes that publish a state.
    #[inline]
    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot(self.state.load(Ordering::Acquire))
    }

    /// The deadline; meaningful after an Acquire [`snapshot`](Self::snapshot).
    #[inline]
    pub(crate) fn deadline(&self) -> u64 {
        self.deadline.load(Ordering::Relaxed)
    }

    /// Arms a free slot for a new timer and returns its generation.
    ///
    /// The caller owns the slot: it popped it from the free list or grew the slab for it.
    /// `via`: whether the holder of the expiry right arms it (and files it itself), or a
    /// thread that pushes it onto the inbox (`QUEUED` and `INBOX_ARMED` are set with the arm).
    #[inline]
    pub(crate) fn arm(&self, deadline_ns: u64, payload: T, via: Via) -> u32 {
        let previous = Snapshot(self.state.load(Ordering::Relaxed));
        debug_assert!(previous.generation() != LAST_GENERATION, "a retired slot was re-armed");
        debug_assert!(
            matches!(previous.phase(), Phase::Free | Phase::Fired | Phase::Cancelled),
            "arming a slot that is not free: {:?}",
            previous.phase()
        );
        // Generation 0 means "never armed"; LAST_GENERATION is never exceeded (retired), so
        // this never wraps.
        let generation = previous.generation() + 1;
        // SAFETY: the slot is free and owned by this caller (popped from the free list or
        // freshly grown); no firer or reclaimer can reach it until the Release store below.
        self.payload.with_mut(|p| unsafe { *p = Some(payload) });
        self.deadline.store(deadline_ns, Ordering::Relaxed);
        // Release: pairs with the Acquire loads of cancel / reset / fire / drain, which then see
        // the payload and the deadline.
        self.state.store(Snapshot::armed(generation, via).0, Ordering::Release);
        generation
    }

    /// The generation check every handle operation starts with.
    #[inline]
    fn checked(&self, generation: u32) -> Result<Snapshot, TimerError> {
        let s = self.snapshot();
        if s.generation() != generation || s.0 & PHASE_MASK == 0 {
            return Err(TimerError::Stale);
        }
        Ok(s)
    }

    /// Cancels the timer of `generation`. Via [`Via::Inbox`], a newly cancelled entry that is
    /// not in the inbox gets `QUEUED` (the caller must push it); via [`Via::Holder`], the
    /// caller holds the expiry right and unlinks it itself.
    #[inline]
    pub(crate) fn cancel(&self, generation: u32, via: Via) -> Result<Cancelled, TimerError> {
        let mut s = self.checked(generation)?;
        if via == Via::Holder && s.0 & FLAGS_AND_PHASE == PENDING_BITS {
            // The common case (pending, no flag): one CAS, no phase dispatch. Same CAS as in
            // the loop below: AcqRel pairs with the arm / reset Release and publishes the
            // cancel to the drain's and the firer's Acquire.
            let next = s.with_phase(Phase::Cancelled);
            match self.state.compare_exchange(s.0, next.0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    let reuse = s.reuse();
                    return Ok(Cancelled::Now { was_queued: false, must_push: false, reuse });
                }
                Err(actual) => s = Snapshot(actual),
            }
            if s.generation() != generation {
                return Err(TimerError::Stale);
            }
        }
        loop {
            let (next, outcome) = match s.phase() {
                Phase::Pending => {
                    let must_push = via == Via::Inbox && !s.is_queued();
                    let next = s.with_phase(Phase::Cancelled);
                    let next = if must_push { next.with(QUEUED) } else { next };
                    let reuse = s.reuse();
                    (next, Cancelled::Now { was_queued: s.is_queued(), must_push, reuse })
                }
                Phase::Resetting if !s.has(CANCEL_REQ) => {
                    (s.with(CANCEL_REQ), Cancelled::Requested)
                }
                Phase::Resetting => return Err(TimerError::AlreadyCancelled),
                _ => return Err(s.finished_error()),
            };
            // AcqRel: Acquire pairs with the arm / reset Release; Release publishes the
            // cancel to the drain's and the firer's Acquire.
            match self.state.compare_exchange(s.0, next.0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(outcome),
                Err(actual) => s = Snapshot(actual),
            }
            if s.generation() != generation {
                return Err(TimerError::Stale);
            }
        }
    }

    /// For the expiry-right holder: fires the entry if it is pending with a deadline
    /// `<= bound_ns`.
    pub(crate) fn try_fire(&self, bound_ns: u64) -> FireAttempt<T> {
        let mut s = self.snapshot();
        loop {
            match s.phase() {
                Phase::Pending => {
                    let deadline = self.deadline();
                    if deadline > bound_ns {
                        return FireAttempt::Later(deadline);
                    }
                    let next = s.with_phase(Phase::Firing);
                    // Acquire: pairs with the arm's Release (payload) and a reset's Release.
                    match self.state.compare_exchange(
                        s.0,
                        next.0,
                        Ordering::Acquire,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => {
                            // SAFETY: winning PENDING -> FIRING gives this thread the payload:
                            // cancel and reset can no longer succeed, and the slot is reclaimed
                            // only after the FIRED store below, by the expiry-right holder.
                            let payload = self.payload.with_mut(|p| unsafe { (*p).take() });
                            // Release: a later reclaimer / stale handle sees FIRED.
                            self.state.store(next.with_phase(Phase::Fired).0, Ordering::Release);
                            return FireAttempt::Fired { payload, queued: next.is_queued() };
                        }
                        Err(actual) => s = Snapshot(actual),
                    }
                }
                Phase::Resetting => {
                    if self.request_refile() {
                        return FireAttempt::Resetting;
                    }
                    s = self.snapshot();
                }
                Phase::Cancelled => return FireAttempt::Cancelled { queued: s.is_queued() },
                Phase::Fired | Phase::Firing => {
                    return FireAttempt::AlreadyFired { queued: s.is_queued() }
                }
                Phase::Free => return FireAttempt::Cancelled { queued: false },
            }
        }
    }

    /// The drain's first step: clears `QUEUED` and returns the state before.
    pub(crate) fn take_queued(&self) -> Snapshot {
        // AcqRel: Acquire pairs with the Release of the CAS that set QUEUED (payload, deadline);
        // Release orders this clear before our later handling for a resetter that reads it.
        Snapshot(self.state.fetch_and(!QUEUED, Ordering::AcqRel))
    }

    /// Where the reclaimer of this finished occupancy puts the slot: nowhere if its
    /// generation is spent ([`LAST_GENERATION`]), the shared free list if it was armed
    /// through the inbox, else the owner's choice. Called by the reclaimer (the expiry-right
    /// holder) on a finished entry, whose generation and `INBOX_ARMED` flag no other thread
    /// can change (only an arm writes them, and the slot is armed again only after this
    /// reclaim hands it out).
    #[inline]
    pub(crate) fn reuse(&self) -> Reuse {
        // Relaxed: the reclaimer already read the finished state with Acquire; the bits read
        // here were written by the arm before it, by the thread that made that state visible.
        Snapshot(self.state.load(Ordering::Relaxed)).reuse()
    }

    /// Test hook: gives a finished (or never armed) slot the generation `generation`, as if it
    /// had been reused that many times, so tests reach the generation's edge directly.
    #[cfg(test)]
    pub(crate) fn age_for_test(&self, generation: u32) {
        let s = Snapshot(self.state.load(Ordering::Relaxed));
        debug_assert!(matches!(s.phase(), Phase::Free | Phase::Fired | Phase::Cancelled));
        let phase = if s.phase() == Phase::Free { Phase::Cancelled } else { s.phase() };
        let aged = Snapshot(u64::from(generation) << 32).with_phase(phase);
        self.state.store(aged.0, Ordering::Relaxed);
    }

    /// Takes the payload of a finished entry being reclaimed.
    ///
    /// Only the expiry-right holder calls this, once per occupancy, on an entry that is
    /// `CANCELLED` or `FIRED`, unlinked and not `QUEUED`.
    #[inline]
    pub(crate) fn take_payload_for_reclaim(&self) -> Option<T> {
        if cfg!(debug_assertions) {
            let s = Snapshot(self.state.load(Ordering::Relaxed));
            let finished = matches!(s.phase(), Phase::Cancelled | Phase::Fired | Phase::Free);
            assert!(finished && !s.is_queued(), "reclaiming a live or queued entry: {s:?}");
        }
        // SAFETY: the entry is finished (CANCELLED / FIRED) so no canceller, resetter or firer
        // touches the payload any more; the caller holds the expiry right and reclaims this
        // occupancy exactly once, before the slot goes back on the free list.
        self.payload.with_mut(|p| unsafe { (*p).take() })
    }
}
