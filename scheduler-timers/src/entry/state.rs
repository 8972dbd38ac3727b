//! The state word of an entry: its generation, phase, flags and reset epoch, and the
//! [`Snapshot`] type that reads and builds it (the transitions themselves are the
//! [`Entry`](super::Entry) operations).
//!
//! # The state word
//!
//! `state: AtomicU64` packs a 32-bit *generation* (high half) and a phase plus four flags
//! (low bits). The generation is bumped each time the slot is armed for a new timer, so a
//! [`TimerKey`](crate::TimerKey) naming an older occupant fails every CAS and reports
//! [`TimerError::Stale`]. The generation never wraps: a slot that finishes at
//! [`LAST_GENERATION`] is retired by its reclaimer instead of going back to a free list, so a
//! key can name only its own occupancy, however often the slot was reused. Phases:
//!
//! - `FREE`: never armed (generation 0). A slot that finished keeps its last phase
//!   (`FIRED` / `CANCELLED`) while on the free list, so a late handle still gets the right error
//!   until the slot is re-armed.
//! - `PENDING`: armed, not yet fired or cancelled.
//! - `RESETTING`: a thread that won `PENDING -> RESETTING` is writing a new deadline. Nobody
//!   else writes the deadline or reclaims the slot meanwhile. A canceller that meets it sets
//!   `CANCEL_REQ` (its cancel is ordered after the reset) and succeeds; the expiry-right holder
//!   that meets it sets `REFILE` and forgets the entry; the resetter then finishes with one CAS
//!   that honours both. Only a second concurrent *reset* of the same timer waits (spins) for
//!   the first resetter's two steps.
//! - `FIRING`: the expiry-right holder won `PENDING -> FIRING`; the payload is being moved out.
//! - `FIRED`: the payload was handed to the fire callback (which may still be running).
//! - `CANCELLED`: a canceller won `PENDING -> CANCELLED` (or a resetter honoured `CANCEL_REQ`).
//!
//! Bits 8..32 hold a reset epoch, bumped by each finished reset, so the word never returns to
//! an earlier value while the slot keeps its generation (no ABA for a firer that read the
//! deadline before a reset).
//!
//! Flags: `QUEUED` = the index sits in the shard's inbox (set only together with the push, in
//! the same CAS that decides the push; cleared only by the drain, with `fetch_and`). While
//! `QUEUED` is set only the drain reclaims the slot. `REFILE` / `CANCEL_REQ`: see `RESETTING`.
//! `INBOX_ARMED` = this occupancy was armed through the inbox (a remote insert): set by the
//! arm, never changed until the slot's next arm. It tells the reclaimer where the slot goes
//! back to (`Entry::reuse`): the shard's shared free list, where the remote inserters that
//! armed it look for free slots, rather than the owner's private spares
//! ([`crate::shard::slots`]).
//!
//! The linearisation points: cancel = the CAS to `CANCELLED` (or to `CANCEL_REQ`); fire = the
//! CAS to `FIRING`; reset = the CAS into `RESETTING`. `PENDING -> FIRING` and
//! `PENDING -> CANCELLED` exclude each other, so a cancelled timer never runs and a running
//! one is never reported cancelled.

use super::{Reuse, Via, LAST_GENERATION};
use crate::error::TimerError;

/// A phase of the state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Free,
    Pending,
    Resetting,
    Firing,
    Fired,
    Cancelled,
}

pub(super) const PHASE_MASK: u64 = 0b111;
/// The phase and the flags that steer a cancel: `PENDING_BITS` under this mask = pending, no
/// such flag set (`INBOX_ARMED` does not matter to a cancel).
pub(super) const FLAGS_AND_PHASE: u64 = PHASE_MASK | QUEUED | REFILE | CANCEL_REQ;
/// The phase bits of `PENDING`.
pub(super) const PENDING_BITS: u64 = 1;
pub(super) const QUEUED: u64 = 1 << 3;
pub(super) const REFILE: u64 = 1 << 4;
pub(super) const CANCEL_REQ: u64 = 1 << 5;
/// The occupancy was armed through the inbox (module doc, "Flags").
pub(super) const INBOX_ARMED: u64 = 1 << 6;
/// Bits 8..32: the reset epoch, bumped by every finished reset. Without it a reset would take
/// the word from `PENDING` back to the very same `PENDING` value, and a firer that read the
/// old deadline before the reset could still win its CAS (ABA; found by loom).
const EPOCH_SHIFT: u32 = 8;
const EPOCH_MASK: u64 = 0xFF_FFFF << EPOCH_SHIFT;

/// A loaded state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(pub(super) u64);

impl Snapshot {
    pub(crate) fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }

    pub(crate) fn phase(self) -> Phase {
        match self.0 & PHASE_MASK {
            1 => Phase::Pending,
            2 => Phase::Resetting,
            3 => Phase::Firing,
            4 => Phase::Fired,
            5 => Phase::Cancelled,
            _ => Phase::Free,
        }
    }

    pub(crate) fn is_queued(self) -> bool {
        self.0 & QUEUED != 0
    }

    pub(super) fn has(self, flag: u64) -> bool {
        self.0 & flag != 0
    }

    pub(super) fn with_phase(self, phase: Phase) -> Snapshot {
        let bits = match phase {
            Phase::Free => 0,
            Phase::Pending => 1,
            Phase::Resetting => 2,
            Phase::Firing => 3,
            Phase::Fired => 4,
            Phase::Cancelled => 5,
        };
        Snapshot((self.0 & !PHASE_MASK) | bits)
    }

    pub(super) fn with(self, flag: u64) -> Snapshot {
        Snapshot(self.0 | flag)
    }

    pub(super) fn without(self, flag: u64) -> Snapshot {
        Snapshot(self.0 & !flag)
    }

    pub(super) fn next_epoch(self) -> Snapshot {
        let epoch = (self.0 & EPOCH_MASK).wrapping_add(1 << EPOCH_SHIFT) & EPOCH_MASK;
        Snapshot((self.0 & !EPOCH_MASK) | epoch)
    }

    pub(super) fn armed(generation: u32, via: Via) -> Snapshot {
        let s = Snapshot((u64::from(generation) << 32) | 1);
        match via {
            Via::Inbox => s.with(QUEUED | INBOX_ARMED),
            Via::Holder => s,
        }
    }

    /// Where this occupancy's slot goes when reclaimed ([`Entry::reuse`](super::Entry::reuse)).
    #[inline]
    pub(super) fn reuse(self) -> Reuse {
        if self.generation() == LAST_GENERATION {
            Reuse::Retire
        } else if self.has(INBOX_ARMED) {
            Reuse::Shared
        } else {
            Reuse::Owner
        }
    }

    /// The error a cancel or reset gets from a finished phase.
    pub(super) fn finished_error(self) -> TimerError {
        match self.phase() {
            Phase::Cancelled => TimerError::AlreadyCancelled,
            Phase::Firing | Phase::Fired => TimerError::AlreadyFired,
            _ => TimerError::Stale,
        }
    }
}
