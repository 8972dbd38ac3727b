//! Resetting an entry's deadline: by the holder of the shard's expiry right, and by any other
//! thread through the `RESETTING` window of the state word ([`super::state`]).
//!
//! # Reset by the right's holder
//!
//! The holder of the shard's expiry right (the owner's one-shot `reset` when the right is free,
//! or a [`TimerSession`](crate::TimerSession)) resets with [`Entry::reset_held`]: store the
//! deadline, then one CAS `PENDING -> PENDING` that bumps the epoch (one read-modify-write; an
//! earlier deadline is then re-filed by the holder at once). No `RESETTING` window is needed:
//!
//! - no firer can read the deadline meanwhile: firing (`PENDING -> FIRING`) is done only by the
//!   right's holder, that is by this thread, later;
//! - the store cannot land on another occupant: the slot returns to a free list only through a
//!   reclaim, which also needs the right, so while we hold it the generation we checked stays;
//! - a remote canceller that wins first leaves `CANCELLED` (our CAS fails and we report
//!   `AlreadyCancelled`; the deadline we stored is never read again); a remote resetter in its
//!   window is waited for (it never needs the right), then our deadline is stored again, so the
//!   value left is that of the reset whose CAS came last.
//!
//! The CAS is still needed: a remote resetter compares its new deadline with the old one it
//! reads after its own `PENDING -> RESETTING` CAS, to decide whether the entry must be re-filed
//! (earlier) or may stay where it is filed (later, lazily). A plain store of ours, not followed
//! by a `Release` write to the state word, need not be visible to that read (the resetter could
//! read an older, smaller deadline than ours, skip the re-file, and its timer would fire late
//! at our later deadline's slot); our CAS is in the modification order that its CAS reads from,
//! so it sees our deadline.
//!
//! # Why a remote reset-later is not one atomic store
//!
//! One could hope for "a reset to a later deadline is one atomic store, from any thread" (a
//! common timer-wheel trick). A thread without the right cannot do that safely here:
//!
//! - *Firers race it.* A firer reads the state, then the deadline, then CASes `PENDING ->
//!   FIRING`. If a reset changed only the deadline, a firer that read the old, due deadline
//!   would still win its CAS and fire early; the reset must change the state word too (the
//!   epoch, found by loom as an ABA), so at least one CAS on the state. A 128-bit CAS over
//!   state and deadline would make that one step, but stable Rust and loom have none, and the
//!   state word has no room for a 64-bit deadline.
//! - *The slot can change occupant under it.* Between reading the generation and storing the
//!   deadline, the timer can fire, be reclaimed and the slot re-armed for another timer; a
//!   store then silently moves *that* timer (a store cannot be conditional on the generation).
//!   So the deadline may only be written by a thread that owns it for the moment: the armer,
//!   the right's holder (above), or a resetter inside its `RESETTING` window, which the
//!   closing CAS ends (a second RMW, also the one that honours `CANCEL_REQ` / `REFILE` set
//!   meanwhile).
//!
//! Hence: reset by the right's holder = one store + one CAS; remote reset = two CASes + one
//! store (`timers_reset_fire` models both, and that the held path is unsafe without the
//! right).

use super::state::{Snapshot, CANCEL_REQ, QUEUED, REFILE};
use super::{Entry, Phase, Via};
use crate::error::TimerError;
use crate::sync::atomic::Ordering;
use crate::sync::spin_loop;

/// What [`Entry::finish_reset`] leaves the caller to do.
#[must_use = "a reset may require an inbox push, a re-file or a reclaim"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResetEnd {
    /// A cancel arrived during the reset: the entry is now `CANCELLED`.
    pub(crate) cancelled: bool,
    /// The entry sat in the inbox before this CAS (the drain will handle it).
    pub(crate) was_queued: bool,
    /// This caller set `QUEUED` and must push the index onto the inbox.
    pub(crate) must_push: bool,
    /// The wheel must re-file the entry (earlier deadline, or the expiry holder dropped it).
    pub(crate) needs_refile: bool,
}

impl<T> Entry<T> {
    /// Wins `PENDING -> RESETTING` for `generation` and returns the old deadline. Waits (spins)
    /// only while another reset of the same timer is in its two-step window.
    pub(crate) fn begin_reset(&self, generation: u32) -> Result<u64, TimerError> {
        let mut s = self.checked(generation)?;
        loop {
            match s.phase() {
                Phase::Pending => {
                    let next = s.with_phase(Phase::Resetting);
                    // Acquire: see the deadline the armer / last resetter wrote.
                    match self.state.compare_exchange(
                        s.0,
                        next.0,
                        Ordering::Acquire,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => return Ok(self.deadline()),
                        Err(actual) => s = Snapshot(actual),
                    }
                }
                Phase::Resetting if s.has(CANCEL_REQ) => return Err(TimerError::AlreadyCancelled),
                Phase::Resetting => {
                    spin_loop();
                    s = self.snapshot();
                }
                _ => return Err(s.finished_error()),
            }
            if s.generation() != generation {
                return Err(TimerError::Stale);
            }
        }
    }

    /// Reset by the holder of the shard's expiry right: one store of the deadline, then one
    /// CAS that keeps `PENDING` and bumps the reset epoch; returns the deadline it replaced.
    /// See "Reset by the right's holder" in the module docs for why no `RESETTING` window is
    /// needed and why the CAS is.
    #[inline]
    pub(crate) fn reset_held(&self, generation: u32, deadline_ns: u64) -> Result<u64, TimerError> {
        let mut s = self.checked(generation)?;
        let old = self.deadline();
        loop {
            match s.phase() {
                Phase::Pending => {
                    self.deadline.store(deadline_ns, Ordering::Relaxed);
                    // Release: the deadline store travels with the new epoch to whoever next
                    // reads-from the state word (a remote resetter's begin CAS reads the old
                    // deadline it compares with). Acquire on failure: a remote reset's state.
                    match self.state.compare_exchange(
                        s.0,
                        s.next_epoch().0,
                        Ordering::Release,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => return Ok(old),
                        Err(actual) => s = Snapshot(actual),
                    }
                }
                Phase::Resetting if s.has(CANCEL_REQ) => return Err(TimerError::AlreadyCancelled),
                Phase::Resetting => {
                    // A remote reset is in its two-step window: it never needs the right, so
                    // waiting for it while holding the right cannot deadlock.
                    spin_loop();
                    s = self.snapshot();
                }
                _ => return Err(s.finished_error()),
            }
            if s.generation() != generation {
                return Err(TimerError::Stale);
            }
        }
    }

    /// Ends a reset begun by [`begin_reset`](Self::begin_reset): stores the new deadline and
    /// leaves `RESETTING` with one CAS that honours `CANCEL_REQ` and `REFILE`. Via
    /// [`Via::Inbox`], an entry that needs the owner's attention gets `QUEUED` (the caller
    /// pushes it).
    pub(crate) fn finish_reset(&self, deadline_ns: u64, earlier: bool, via: Via) -> ResetEnd {
        self.deadline.store(deadline_ns, Ordering::Relaxed);
        // Only this thread leaves RESETTING; others only add CANCEL_REQ / REFILE / clear QUEUED.
        let mut s = Snapshot(self.state.load(Ordering::Relaxed));
        loop {
            debug_assert_eq!(s.phase(), Phase::Resetting, "only the resetter leaves RESETTING");
            let cancelled = s.has(CANCEL_REQ);
            let needs_refile = !cancelled && (earlier || s.has(REFILE));
            let wants_owner = cancelled || needs_refile;
            let must_push = via == Via::Inbox && wants_owner && !s.is_queued();
            let phase = if cancelled { Phase::Cancelled } else { Phase::Pending };
            let mut next = s.with_phase(phase).without(CANCEL_REQ | REFILE).next_epoch();
            if must_push {
                next = next.with(QUEUED);
            }
            // Release: publishes the deadline store above to the Acquire of fire / drain.
            match self.state.compare_exchange(s.0, next.0, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => {
                    return ResetEnd {
                        cancelled,
                        was_queued: s.is_queued(),
                        must_push,
                        needs_refile,
                    }
                }
                Err(actual) => s = Snapshot(actual),
            }
        }
    }

    /// Sets `REFILE` on a `RESETTING` entry. Returns false if the entry left `RESETTING`
    /// meanwhile (the caller re-reads the state).
    pub(crate) fn request_refile(&self) -> bool {
        let mut s = Snapshot(self.state.load(Ordering::Relaxed));
        while s.phase() == Phase::Resetting {
            let next = s.with(REFILE);
            // Relaxed: the resetter's CAS reads this flag; no data travels with it.
            match self.state.compare_exchange(s.0, next.0, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(actual) => s = Snapshot(actual),
            }
        }
        false
    }
}
