//! The per-shard slab of timer entries: pages that never move or free while the shard lives,
//! and a lock-free free list.
//!
//! # Pages
//!
//! Page `p` holds `PAGE_BASE << p` entries, so index `i` lives in page
//! `log2(i / PAGE_BASE + 1)`. A page is allocated the first time an index in it is handed out
//! (two threads may race: one `compare_exchange` on the page pointer wins, the loser frees its
//! copy) and freed only when the slab drops. Hence any `&Entry` obtained from [`Slab::get`] stays
//! valid for the slab's lifetime, and any thread may CAS an entry's state word without
//! use-after-free, whatever the entry's current occupant.
//!
//! # Free list
//!
//! A Treiber stack of indices linked through `Entry::next`, whose head packs
//! `(tag: u32, index: u32)` in one `AtomicU64`. Every push and pop bumps the tag, so a pop
//! that read a stale `next` (the head was popped and pushed back meanwhile) fails its CAS
//! instead of corrupting the list (ABA). Reading `next` of an entry another thread just popped
//! is safe (the memory never frees) and harmless (the CAS then fails). A tag would have to wrap
//! 2^32 times during one pop for ABA to return.

use crate::entry::{Entry, NIL};
use crate::error::TimerError;
use crate::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::marker::PhantomData;
use std::ptr;

/// Entries in page 0; page `p` holds `PAGE_BASE << p`.
#[cfg(not(loom))]
const PAGE_BASE: u64 = 64;
/// Under loom: pages of 1, 2, 4 entries so a model with three timers grows the slab across
/// pages and checks the page-install race; no logic changes.
#[cfg(loom)]
const PAGE_BASE: u64 = 1;

/// Number of pages: enough for about 2^31 entries (page 0 of 64 doubling 25 times).
#[cfg(not(loom))]
const PAGES: usize = 25;
/// Under loom: a handful of pages keeps the model's atomics few.
#[cfg(loom)]
const PAGES: usize = 4;

fn page_len(page: usize) -> u64 {
    PAGE_BASE << page
}

/// `(page, offset)` of an index.
fn locate(index: u32) -> (usize, usize) {
    let v = u64::from(index) / PAGE_BASE + 1;
    let page = (63 - v.leading_zeros()) as usize;
    let first = PAGE_BASE * ((1u64 << page) - 1);
    (page, (u64::from(index) - first) as usize)
}

/// Total entries all pages can hold.
fn capacity() -> u64 {
    (PAGE_BASE * ((1u64 << PAGES) - 1)).min(u64::from(NIL))
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
    pages: [AtomicPtr<Entry<T>>; PAGES],
    /// Indices handed out so far (the high-water mark).
    len: AtomicU32,
    /// Free-list head: `(tag, index)`.
    free: AtomicU64,
    /// Set when a thread without the expiry right had to grow the slab: the next reclaim
    /// goes to the shared free list instead of the owner's private spares.
    starved: AtomicBool,
    /// The slab owns `T`s (so it is `Send` / `Sync` only as `T` allows).
    _owns: PhantomData<T>,
}

impl<T> Slab<T> {
    pub(crate) fn new() -> Self {
        Slab {
            pages: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
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
        let (page, offset) = locate(index);
        // Acquire: pairs with the Release CAS that installed the page (its entries' init).
        let base = self.pages.get(page)?.load(Ordering::Acquire);
        if base.is_null() {
            return None;
        }
        // SAFETY: `base` points at a live page of `page_len(page)` entries (installed once,
        // freed only in `Drop`, which needs `&mut self`), and `offset < page_len(page)` by
        // `locate`. The reference cannot outlive `&self`.
        Some(unsafe { &*base.add(offset) })
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
        for page in locate(len).0..=locate(end - 1).0 {
            self.ensure_page(page);
        }
        Ok(len..end)
    }

    #[cold]
    fn ensure_page(&self, page: usize) {
        let slot = &self.pages[page];
        if !slot.load(Ordering::Acquire).is_null() {
            return;
        }
        let fresh: Box<[Entry<T>]> = (0..page_len(page)).map(|_| Entry::new()).collect();
        let fresh = Box::into_raw(fresh) as *mut Entry<T>;
        // Release: publishes the initialised entries to `get`'s Acquire.
        if slot
            .compare_exchange(ptr::null_mut(), fresh, Ordering::Release, Ordering::Acquire)
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
            let base = slot.load(Ordering::Acquire);
            if !base.is_null() {
                let len = page_len(page) as usize;
                // SAFETY: installed by `ensure_page` from a boxed slice of exactly `len`
                // entries; `&mut self` proves no reference from `get` is alive.
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
        assert_eq!(locate(191), (1, 127));
        assert_eq!(locate(192), (2, 0));
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
