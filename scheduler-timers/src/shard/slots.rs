//! Slots: where the right's holder and the other threads get a free slot, where a finished
//! one goes back to, and why the slab stays bounded.
//!
//! - *Slots*: the right's holder takes a slot from its private spare list, else from the
//!   slab's shared free list (a tagged Treiber stack, see [`crate::slab`]), else grows the slab
//!   by a chunk of 32 (one CAS). Anyone else pops the shared free list; if it is empty, it
//!   try-acquires the right and takes a spare (after draining the inbox, which reclaims
//!   remotely cancelled slots); only if that fails too does it grow the slab by one and set
//!   the slab's `starved` hint.
//! - *Reclaim*: only the right's holder reclaims a slot, once per occupancy (at a cancel under
//!   the right, at a fire, or when the drain meets a remotely cancelled entry), and sends it
//!   back to where the kind of inserter that armed it looks for slots. A slot armed through
//!   the inbox (a remote insert: the entry's `INBOX_ARMED` flag, [`crate::entry::state`]) goes to the
//!   shared free list. A slot the holder armed goes to the private spares (no CAS), unless it
//!   came through the inbox (a remote cancel) or the `starved` hint was set (one slot per
//!   hint): then to the shared list too. A slot whose generation is spent goes nowhere.
//! - *Why the slab stays bounded*: it grows in two places only. The holder grows it when both
//!   free lists are empty, that is when every slot is occupied. A remote inserter grows it
//!   when the shared list is empty, so every slot is occupied or a private spare. And the
//!   spares never outnumber the peak of holder-armed occupancies plus one chunk: they are
//!   filled only by reclaims of holder-armed slots, and the holder takes from them before it
//!   pops the shared list or grows. So the slab holds at most about twice the peak number of
//!   occupied slots, plus 33, plus one per remote inserter between its pop and its arm. A
//!   slot is occupied by a pending timer, or by a finished one waiting for the holder: a
//!   remote cancel until the next drain. In steady state that is within a small factor of the
//!   peak of pending timers, however long the traffic runs (tests:
//!   `tests/slot_reuse.rs`, `*_keep_constant_memory`; model:
//!   `loom-tests/tests/timers_slot_reuse.rs`). While a thread holding the right is
//!   descheduled, the others' insert + cancel churn keeps finding no free slot (the cancels
//!   wait for the drain), so the slab grows by the churn of that stall and reuses it
//!   afterwards: it grows with the longest stall, not with traffic. Sending a remote insert's
//!   fired slot to the spares instead (which only the holder's own inserts use) would let a
//!   thread inserting while the owner fires grow the slab without bound.

use super::Shared;
use crate::error::TimerError;
use crate::wheel::Wheel;

/// Slots the owner claims from the slab at once when it must grow (one CAS per chunk).
#[cfg(not(loom))]
const OWNER_GROW_CHUNK: u32 = 32;
/// Under loom: one at a time, so models with a few timers stay small (no logic change).
#[cfg(loom)]
const OWNER_GROW_CHUNK: u32 = 1;

impl<T> Shared<T> {
    /// A free slot for a thread without the right: the shared free list, else (if the right is
    /// free) a private spare or a slot the inbox drain reclaims, else a new one.
    pub(super) fn alloc_remote(&self) -> Result<u32, TimerError> {
        if let Some(index) = self.slab.pop_free() {
            return Ok(index);
        }
        // With the right, the private spares (and slots the drain reclaims) are ours to take.
        let spare = self.with_wheel(|wheel| {
            self.drain_inbox(wheel);
            wheel.take_spare().or_else(|| self.slab.pop_free())
        });
        if let Ok(Some(index)) = spare {
            return Ok(index);
        }
        self.slab.mark_starved();
        self.slab.grow(1).map(|fresh| fresh.start)
    }

    /// A slot for the right's holder when its spares are empty: the shared free list, else a
    /// chunk of fresh slots.
    #[cold]
    pub(super) fn alloc_held(&self, wheel: &mut Wheel) -> Result<u32, TimerError> {
        if let Some(index) = self.slab.pop_free() {
            return Ok(index);
        }
        let fresh = self.slab.grow(OWNER_GROW_CHUNK)?;
        wheel.add_spares(fresh.start + 1..fresh.end);
        Ok(fresh.start)
    }
}
