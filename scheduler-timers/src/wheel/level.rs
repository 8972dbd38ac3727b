//! One level of the wheel: 64 slot lists and an occupancy bitmap.

use super::list::{Link, List};

/// Slots per level; a level's slot index is 6 bits of the tick.
///
/// Not shrunk under `cfg(loom)`: the wheel is plain data touched only under the shard's
/// expiry right, so loom explores none of it (only the atomics around it), and a 64-bit
/// occupancy bitmap is the design. The models shrink the slab pages instead (`slab.rs`).
pub(crate) const SLOTS: usize = 64;
/// Bits of the tick consumed per level.
pub(crate) const SLOT_BITS: u32 = 6;

/// 64 FIFO slot lists and a bitmap with bit `s` set iff slot `s` is non-empty.
#[derive(Debug, Clone)]
pub(crate) struct Level {
    occupied: u64,
    slots: [List; SLOTS],
}

impl Level {
    pub(crate) fn new() -> Self {
        Level { occupied: 0, slots: [List::EMPTY; SLOTS] }
    }

    #[inline]
    pub(crate) fn push_back(&mut self, links: &mut [Link], slot: usize, index: u32, id: u32) {
        self.slots[slot].push_back(links, index, id);
        self.occupied |= 1 << slot;
    }

    #[inline]
    pub(crate) fn remove(&mut self, links: &mut [Link], slot: usize, index: u32) {
        self.slots[slot].remove(links, index);
        if self.slots[slot].is_empty() {
            self.occupied &= !(1 << slot);
        }
    }

    /// The list of `slot`.
    #[inline]
    pub(crate) fn slot(&self, slot: usize) -> List {
        self.slots[slot]
    }

    /// Empties `slot` and returns its first index.
    pub(crate) fn take(&mut self, slot: usize) -> u32 {
        self.occupied &= !(1 << slot);
        self.slots[slot].take()
    }

    /// The first occupied slot at or after `from`, by trailing zeros of the bitmap.
    #[inline]
    pub(crate) fn next_occupied(&self, from: u32) -> Option<u32> {
        let ahead = self.occupied & (u64::MAX << from);
        (ahead != 0).then(|| ahead.trailing_zeros())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.occupied == 0
    }
}
