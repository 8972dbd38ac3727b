//! The per-shard slab of timer entries: pages that never move or free while the shard lives,
//! and a lock-free free list.
//!
//! # Pages
//!
//! The slab's capacity grows by about an eighth at a time: pages come in groups of eight
//! equal pages, and each group's pages are twice the size of the previous group's (64 entries
//! in the first group's pages, then 128, 256, ...). So at any size at most one page is partly
//! used, and a page holds at most a seventh of the entries before it once the slab is past
//! 3,584 entries (an eighth as it grows): its unused entries cost at most 6 bytes per pending
//! timer for a 40-byte entry. (Doubling pages left up to one entry unused per entry in use:
//! 77.7 bytes of overhead per timer at 5,000,000 timers.) Finding
//! an index's page stays a few shifts: with `v = index + 8 * 64`, the group is
//! `log2(v) - 9` and the page within the group the three bits of `v` below its top bit
//! (`page_of`). Each page pointer is stored biased by the page's first index, so an entry's
//! address is that pointer plus the index itself, with no offset within the page to
//! compute. The wheel sizes its per-slot links to the pages
//! the slab has installed ([`Slab::capacity_through`]), so they grow by an eighth at a time
//! too.
//!
//! A page is allocated the first time an index in it is handed out (two threads may race:
//! one `compare_exchange` on the page pointer wins, the loser frees its copy) and freed only
//! when the slab drops. Hence any `&Entry` obtained from [`Slab::get`] stays valid for the
//! slab's lifetime, and any thread may CAS an entry's state word without use-after-free,
//! whatever the entry's current occupant.
//!
//! # Free list
//!
//! A Treiber stack of indices linked through `Entry::next`, whose head packs
//! `(tag: u32, index: u32)` in one `AtomicU64`. Every push and pop bumps the tag, so a pop
//! that read a stale `next` (the head was popped and pushed back meanwhile) fails its CAS
//! instead of corrupting the list (ABA). Reading `next` of an entry another thread just popped
//! is safe (the memory never frees) and harmless (the CAS then fails). A tag would have to wrap
//! 2^32 times during one pop for ABA to return.
//!
//! This is the shared one of a shard's two free lists (the other is the expiry-right holder's
//! private spare list, in the wheel). Only the right's holder pushes, when it reclaims a
//! finished slot that a remote insert armed (the entry's `INBOX_ARMED` flag), that came
//! through the inbox (a remote cancel), or while the `starved` hint is set; remote inserters
//! pop it first, and the holder pops it when its spares are empty. Since a remote insert's
//! slot always comes back here, a remote inserter finds this list empty only when every slot
//! is occupied or one of the holder's spares, and the spares are bounded by the holder's own
//! inserts: the slab stays within a small factor of the peak of pending timers (the argument
//! in full: [`crate::shard::slots`]).

use crate::entry::{Entry, NIL};
use crate::error::TimerError;
use crate::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::marker::PhantomData;
use std::ptr;

/// log2 of the entries in each page of the first group.
#[cfg(not(loom))]
const BASE_BITS: u32 = 6;
/// log2 of the pages per group (the capacity grows by `1 / 2^SUB_BITS` per page).
#[cfg(not(loom))]
const SUB_BITS: u32 = 3;
/// Number of pages: 22 groups of 8, enough for about 2^31 entries.
#[cfg(not(loom))]
const PAGES: usize = 176;

/// Under loom: groups of two pages of 1, 1, 2, 2, 4, 4 entries, so a model with a few timers
/// grows the slab across pages and checks the page-install race; no logic changes.
#[cfg(loom)]
const BASE_BITS: u32 = 0;
/// Under loom: two pages per group.
#[cfg(loom)]
const SUB_BITS: u32 = 1;
/// Under loom: a handful of pages (14 entries) keeps the model's atomics few.
#[cfg(loom)]
const PAGES: usize = 6;

/// Pages per group.
const SUBS: u64 = 1 << SUB_BITS;

fn page_len(page: usize) -> u64 {
    1 << (BASE_BITS + (page as u32 >> SUB_BITS))
}

/// The first index of `page` (`page <= PAGES`: the end of the last page too).
fn page_start(page: usize) -> u64 {
    let group = page as u32 >> SUB_BITS;
    let sub = page as u64 & (SUBS - 1);
    ((SUBS + sub) << (BASE_BITS + group)) - (SUBS << BASE_BITS)
}

/// The page that holds an index: the module doc's formula, read off the bits of `v` as an
/// `f64`. `v < 2^33` converts exactly, and an `f64`'s exponent field is `log2(v) + 1023`
/// with the bits of `v` below its top bit right under it, so the exponent and the top
/// `SUB_BITS` mantissa bits, shifted down together, are `(log2(v) + 1023) * SUBS` plus the
/// page's number in its group. Three instructions (convert, move, shift) and a subtract,
/// where the same formula with `ilog2` and a variable shift takes ten.
#[inline(always)]
fn page_of(index: u32) -> usize {
    const MANTISSA_BITS: u32 = 52;
    const EXPONENT_BIAS: u64 = 1023;
    let v = u64::from(index) + (SUBS << BASE_BITS);
    // `v < 2^33`: exact as an i64 and as an f64.
    let bits = (v as i64 as f64).to_bits();
    let group_and_sub = bits >> (MANTISSA_BITS - SUB_BITS);
    // Minus the bias, the first group's log2 (`BASE_BITS + SUB_BITS`) and the top bit.
    (group_and_sub - (EXPONENT_BIAS + u64::from(BASE_BITS + SUB_BITS)) * SUBS) as usize
}

/// `(page, offset)` of an index.
#[cfg(test)]
fn locate(index: u32) -> (usize, usize) {
    let page = page_of(index);
    (page, (u64::from(index) - page_start(page)) as usize)
}

/// What a page pointer holds before its page is installed. A biased pointer (see
/// [`Slab::pages`]) is a multiple of the entry's alignment, so it never has this bit set.
fn uninstalled<T>() -> *mut Entry<T> {
    ptr::without_provenance_mut(1)
}

/// Whether a page pointer is still [`uninstalled`].
#[inline(always)]
fn is_uninstalled<T>(biased: *mut Entry<T>) -> bool {
    biased.addr() & 1 != 0
}

/// Total entries all pages can hold.
fn capacity() -> u64 {
    page_start(PAGES).min(u64::from(NIL))
}

fn pack(tag: u32, index: u32) -> u64 {
    (u64::from(tag) << 32) | u64::from(index)
}

fn unpack(word: u64) -> (u32, u32) {
    ((word >> 32) as u32, word as u32)
}

/// The entries of one shard.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    /// Per page, its first entry's address minus `page_start(page)` entries (a pointer
    /// outside the page, with the page's provenance, made and undone with wrapping
    /// arithmetic), so `get` adds the index itself and needs no offset within the page; or
    /// [`uninstalled`].
    pages: [AtomicPtr<Entry<T>>; PAGES],
    /// Indices handed out so far (the high-water mark).
    len: AtomicU32,
    /// Free-list head: `(tag, index)`.
    free: AtomicU64,
    /// Set when a thread without the expiry right had to grow the slab: the next reclaim of a
    /// slot the holder armed goes to the shared free list instead of the holder's private
    /// spares (a remote insert's slot goes there anyway).
    starved: AtomicBool,
    /// The slab owns `T`s (so it is `Send` / `Sync` only as `T` allows).
    _owns: PhantomData<T>,
}

impl<T> Slab<T> {
    pub(crate) fn new() -> Self {
        Slab {
            pages: std::array::from_fn(|_| AtomicPtr::new(uninstalled())),
            len: AtomicU32::new(0),
            free: AtomicU64::new(pack(0, NIL)),
            starved: AtomicBool::new(false),
            _owns: PhantomData,
        }
    }

    /// The entry at `index`, if that index was ever handed out.
    #[inline]
    pub(crate) fn get(&self, index: u32) -> Option<&Entry<T>> {
        // NIL (u32::MAX) locates past the last page: `pages.get` returns `None` for it.
        let page = page_of(index);
        // Acquire: pairs with the Release CAS that installed the page (its entries' init).
        let biased = self.pages.get(page)?.load(Ordering::Acquire);
        if is_uninstalled(biased) {
            return None;
        }
        // SAFETY: `biased` + `page_start(page)` entries is the first entry of a live page of
        // `page_len(page)` entries (installed once, freed only in `Drop`, which needs
        // `&mut self`), and `page_of(index) == page` puts `index` in
        // `page_start(page)..page_start(page) + page_len(page)`: the pointer is in that page
        // and carries its provenance. The reference cannot outlive `&self`.
        Some(unsafe { &*biased.wrapping_add(index as usize) })
    }

    /// The end of the page that holds `index`: the entries the slab's installed pages hold
    /// once `index` is handed out (for the wheel, which sizes its per-slot links to match).
    pub(crate) fn capacity_through(index: u32) -> usize {
        let page = page_of(index);
        page_start(page + 1).min(capacity()) as usize
    }

    /// Indices handed out so far: the slab's size in entries.
    pub(crate) fn len(&self) -> u32 {
        self.len.load(Ordering::Relaxed)
    }

    /// Takes a free index (popped from the free list), or `None` when the list is empty.
    #[inline]
    pub(crate) fn pop_free(&self) -> Option<u32> {
        // Acquire: pairs with the Release of `push_free`, so `next` below is the pusher's.
        let mut head = self.free.load(Ordering::Acquire);
        loop {
            let (tag, index) = unpack(head);
            let entry = self.get(index)?; // NIL: empty
            let next = entry.next.load(Ordering::Relaxed);
            match self.free.compare_exchange_weak(
                head,
                pack(tag.wrapping_add(1), next),
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(index),
                Err(actual) => head = actual,
            }
        }
    }

    /// Returns a finished slot to the free list.
    #[inline]
    pub(crate) fn push_free(&self, index: u32, entry: &Entry<T>) {
        let mut head = self.free.load(Ordering::Relaxed);
        loop {
            let (tag, first) = unpack(head);
            entry.next.store(first, Ordering::Relaxed);
            // Release: pairs with the Acquire in `pop_free` (the `next` store and the slot's
            // finished state travel with the index).
            match self.free.compare_exchange_weak(
                head,
                pack(tag.wrapping_add(1), index),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => head = actual,
            }
        }
    }

    /// Records that a remote inserter found no free slot (a hint; Relaxed is enough).
    pub(crate) fn mark_starved(&self) {
        self.starved.store(true, Ordering::Relaxed);
    }

    /// Takes the starved hint (cheap when clear: one load).
    #[inline]
    pub(crate) fn take_starved(&self) -> bool {
        self.starved.load(Ordering::Relaxed) && self.starved.swap(false, Ordering::Relaxed)
    }

    /// Hands out up to `count` (>= 1) never-used consecutive indices, installing their pages.
    pub(crate) fn grow(&self, count: u32) -> Result<std::ops::Range<u32>, TimerError> {
        let cap = capacity();
        let mut len = self.len.load(Ordering::Relaxed);
        let end = loop {
            if u64::from(len) >= cap {
                return Err(TimerError::Full);
            }
            let end = (u64::from(len) + u64::from(count.max(1))).min(cap) as u32;
            // Relaxed: the indices are private to the winner; pages are published separately.
            match self.len.compare_exchange_weak(len, end, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break end,
                Err(actual) => len = actual,
            }
        };
        for page in page_of(len)..=page_of(end - 1) {
            self.ensure_page(page);
        }
        Ok(len..end)
    }

    #[cold]
    fn ensure_page(&self, page: usize) {
        let slot = &self.pages[page];
        if !is_uninstalled(slot.load(Ordering::Acquire)) {
            return;
        }
        let fresh: Box<[Entry<T>]> = (0..page_len(page)).map(|_| Entry::new()).collect();
        let fresh = Box::into_raw(fresh) as *mut Entry<T>;
        let biased = fresh.wrapping_sub(page_start(page) as usize);
        debug_assert!(!is_uninstalled(biased), "entries are at least 2-aligned");
        // Release: publishes the initialised entries to `get`'s Acquire.
        if slot
            .compare_exchange(uninstalled(), biased, Ordering::Release, Ordering::Acquire)
            .is_err()
        {
            // SAFETY: `fresh` came from `Box::into_raw` of a slice of `page_len(page)` entries
            // just above and was never shared (our CAS failed).
            drop(unsafe {
                Box::from_raw(ptr::slice_from_raw_parts_mut(fresh, page_len(page) as usize))
            });
        }
    }
}

impl<T> Drop for Slab<T> {
    fn drop(&mut self) {
        for (page, slot) in self.pages.iter().enumerate() {
            let biased = slot.load(Ordering::Acquire);
            if !is_uninstalled(biased) {
                let len = page_len(page) as usize;
                let base = biased.wrapping_add(page_start(page) as usize);
                // SAFETY: `base` undoes the bias `ensure_page` applied to a boxed slice of
                // exactly `len` entries (same provenance); `&mut self` proves no reference
                // from `get` is alive.
                drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(base, len)) });
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn locate_maps_indices_to_pages() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(63), (0, 63));
        assert_eq!(locate(64), (1, 0));
        assert_eq!(locate(511), (7, 63));
        assert_eq!(locate(512), (8, 0));
        assert_eq!(locate(639), (8, 127));
        assert_eq!(locate(640), (9, 0));
        assert_eq!(locate(1535), (15, 127));
        assert_eq!(locate(1536), (16, 0));
        assert_eq!(page_len(0), 64);
        assert_eq!(page_len(8), 128);
        assert_eq!(page_len(16), 256);
        assert_eq!(Slab::<()>::capacity_through(0), 64);
        assert_eq!(Slab::<()>::capacity_through(600), 640);
        assert!(capacity() >= 1 << 30, "{}", capacity());
    }

    /// `page_of`'s float reading agrees with the integer formula at both ends of every page
    /// and on a stride through the whole `u32` range (NIL included, past the last page).
    #[test]
    fn page_of_matches_the_integer_formula_over_u32() {
        fn by_ilog2(index: u32) -> usize {
            let v = u64::from(index) + (SUBS << BASE_BITS);
            let top = v.ilog2();
            let head = v >> (top - SUB_BITS);
            (head + u64::from(top) * SUBS - u64::from(BASE_BITS + SUB_BITS + 1) * SUBS) as usize
        }
        let mut probes: Vec<u32> = (0..=u32::MAX).step_by(9_973).collect();
        probes.push(u32::MAX);
        for page in 0..=PAGES + 16 {
            let start = page_start(page);
            for index in [start.saturating_sub(1), start, start + 1] {
                if let Ok(index) = u32::try_from(index) {
                    probes.push(index);
                }
            }
        }
        for index in probes {
            assert_eq!(page_of(index), by_ilog2(index), "index {index}");
        }
        assert!(page_of(NIL) >= PAGES);
    }

    /// Every index maps to the next offset of its page, or to offset 0 of the next page, and
    /// `page_start` agrees; past 3,584 entries each page is at most a seventh of the entries
    /// before it, which bounds the unused capacity (module doc).
    #[test]
    fn pages_tile_the_index_space_and_grow_by_an_eighth() {
        let mut expect = (0usize, 0usize);
        for index in 0..200_000u32 {
            let (page, offset) = locate(index);
            assert_eq!((page, offset), expect, "index {index}");
            assert_eq!(page_start(page) + offset as u64, u64::from(index));
            expect = if offset as u64 + 1 == page_len(page) {
                (page + 1, 0)
            } else {
                (page, offset + 1)
            };
        }
        for page in 0..PAGES {
            if page_start(page) >= 3_584 {
                assert!(page_len(page) * 7 <= page_start(page), "page {page}");
            }
        }
        assert_eq!(locate(capacity() as u32 - 1).0, PAGES - 1);
    }

    #[test]
    fn free_list_is_lifo_and_grow_counts() {
        let slab: Slab<()> = Slab::new();
        assert_eq!(slab.pop_free(), None);
        let a = slab.grow(1).unwrap().start;
        let b = slab.grow(1).unwrap().start;
        assert_eq!((a, b), (0, 1));
        assert_eq!(slab.grow(100).unwrap(), 2..102);
        assert!(slab.get(101).is_some());
        slab.push_free(a, slab.get(a).unwrap());
        slab.push_free(b, slab.get(b).unwrap());
        assert_eq!(slab.pop_free(), Some(b));
        assert_eq!(slab.pop_free(), Some(a));
        assert_eq!(slab.pop_free(), None);
        assert!(slab.get(50_000).is_none());
        assert!(slab.get(NIL).is_none());
    }
}
