//! Recycled memory for task cells: a free list per thread and one shared pool, per size class.
//!
//! # Why
//!
//! A task cell is allocated on the thread that spawns it and usually freed on another (the
//! worker that ran it). glibc's allocator pays dearly for that pattern: the freeing thread's
//! small cache fills at once, the rest goes back to the spawning thread's arena under its
//! lock, and the spawning thread, finding its own cache empty, takes the arena's slow path.
//! On the CI machine a spawn-and-run cycle cost 2-4x more under glibc than under jemalloc
//! (`spawn_external` 389 vs 95 ns per task, `spawn_internal` 272 vs 90), while the peers
//! changed by under 2x. So cells are recycled here instead of returned to the allocator.
//!
//! # How
//!
//! Cells of at most [`MAX_SIZE`] bytes and alignment at most [`ALIGN`] fall into a size class
//! of [`STEP`] bytes; every cell of a class is allocated with the class's layout (its size
//! rounded up to the class, alignment [`ALIGN`]), so any cell of a class can serve any task
//! of that class, and is finally freed with that same layout.
//!
//! - A thread frees a cell onto its own list of that class (no atomics, no lock). A full list
//!   moves half of itself to the class's shared pool under its lock (one lock per
//!   [`BATCH`] cells); a full pool sends the batch back to the allocator.
//! - A thread allocates from its own list; an empty list first takes a batch from the pool,
//!   then falls back to the allocator.
//! - A thread's lists go to the pool (or the allocator) when the thread exits.
//!
//! So cells flow from the threads that free them to the threads that allocate them in
//! batches, and the memory kept is bounded: [`LOCAL_CAP`] cells per class per thread plus
//! [`POOL_CAP`] per class in the pool (at most 1 MiB over all classes), reused for the life
//! of the process, as an allocator keeps its free lists. The pool is kept in address order
//! and hands out its lowest cells first, so tasks spawned together sit close together.
//!
//! Memory in the lists holds no value: a cell's contents are dropped before it is freed here,
//! and written anew after it is allocated. Under `cfg(loom)` nothing is cached (loom runs all
//! modelled threads on one OS thread; the allocator is not part of any modelled protocol).

use std::alloc::Layout;
use std::ptr::NonNull;

/// Granularity of the size classes: sizes round up to a multiple of this.
const STEP: usize = 16;
/// The largest cell size that is cached; larger cells use the allocator directly.
pub(crate) const MAX_SIZE: usize = 256;
/// The alignment of every cached cell (larger alignments use the allocator directly).
pub(crate) const ALIGN: usize = 16;
/// Size classes: 16, 32, ..., 256 bytes.
#[cfg(not(loom))]
const CLASSES: usize = MAX_SIZE / STEP;
/// Cells a thread keeps per class before half of them go to the pool.
#[cfg(not(loom))]
const LOCAL_CAP: usize = 128;
/// Cells moved between a thread's list and the pool at once.
#[cfg(not(loom))]
const BATCH: usize = LOCAL_CAP / 2;
/// Cells the pool keeps per class; beyond it, freed batches go back to the allocator.
#[cfg(not(loom))]
const POOL_CAP: usize = 256;

/// The class of a cell layout, if cached.
#[inline]
fn class_of(layout: Layout) -> Option<usize> {
    if layout.size() == 0 || layout.size() > MAX_SIZE || layout.align() > ALIGN {
        return None;
    }
    Some((layout.size() - 1) / STEP)
}

/// The layout every cell of `class` is allocated and freed with.
#[inline]
fn class_layout(class: usize) -> Layout {
    // Cannot fail: a non-zero multiple of 16 up to 256 with alignment 16.
    Layout::from_size_align((class + 1) * STEP, ALIGN).unwrap_or(Layout::new::<[u128; 1]>())
}

/// Memory for a cell of `layout` (uninitialised; never null).
#[inline]
pub(crate) fn alloc(layout: Layout) -> NonNull<u8> {
    match class_of(layout) {
        Some(class) => imp::take(class).unwrap_or_else(|| fresh(class_layout(class))),
        None => fresh(layout),
    }
}

/// Gives back the memory of a cell of `layout` whose contents were dropped.
///
/// # Safety
/// `ptr` came from [`alloc`] with the same `layout`, holds no live value, and is not used
/// again by the caller.
#[inline(always)]
pub(crate) unsafe fn dealloc(ptr: NonNull<u8>, layout: Layout) {
    match class_of(layout) {
        Some(class) => imp::keep(class, ptr),
        // SAFETY: per the contract, allocated by `fresh` with this layout.
        None => unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) },
    }
}

/// Memory from the allocator.
fn fresh(layout: Layout) -> NonNull<u8> {
    // SAFETY: `layout` has a non-zero size (a task cell holds its header).
    let ptr = unsafe { std::alloc::alloc(layout) };
    NonNull::new(ptr).unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
}

/// Returns cells to the allocator.
///
/// # Safety
/// Every pointer came from `fresh(class_layout(class))` and holds no live value.
unsafe fn release(class: usize, cells: impl IntoIterator<Item = FreeCell>) {
    for cell in cells {
        // SAFETY: per the contract.
        unsafe { std::alloc::dealloc(cell.0.as_ptr(), class_layout(class)) };
    }
}

/// A free cell's memory, owned by whichever list holds it.
struct FreeCell(NonNull<u8>);

// SAFETY: a free cell is plain memory with no value in it; whoever holds the `FreeCell` owns
// it exclusively, so moving it between threads is moving ownership of bytes.
unsafe impl Send for FreeCell {}

#[cfg(not(loom))]
mod imp {
    use super::{release, FreeCell, BATCH, CLASSES, LOCAL_CAP, POOL_CAP};
    use std::cell::RefCell;
    use std::ptr::NonNull;

    /// The shared pool: one stack of free cells per class.
    static POOL: [parking_lot::Mutex<Vec<FreeCell>>; CLASSES] =
        [const { parking_lot::Mutex::new(Vec::new()) }; CLASSES];

    /// A thread's lists; given to the pool when the thread exits.
    struct Lists([Vec<FreeCell>; CLASSES]);

    impl Drop for Lists {
        fn drop(&mut self) {
            for (class, list) in self.0.iter_mut().enumerate() {
                give_to_pool(class, list.drain(..));
            }
        }
    }

    thread_local! {
        static LISTS: RefCell<Lists> = const { RefCell::new(Lists([const { Vec::new() }; CLASSES])) };
    }

    /// A cell of `class` from this thread's list, refilled from the pool when empty.
    #[inline]
    pub(super) fn take(class: usize) -> Option<NonNull<u8>> {
        LISTS
            .try_with(|lists| {
                let mut lists = lists.try_borrow_mut().ok()?;
                let list = &mut lists.0[class];
                if list.is_empty() {
                    refill(class, list);
                }
                list.pop().map(|cell| cell.0)
            })
            .ok()
            .flatten()
    }

    /// Takes the pool's lowest-addressed batch (it is kept sorted, highest first), so `pop`
    /// hands its cells out in address order.
    #[cold]
    fn refill(class: usize, list: &mut Vec<FreeCell>) {
        let mut pool = POOL[class].lock();
        let from = pool.len().saturating_sub(BATCH);
        list.extend(pool.drain(from..));
    }

    /// Keeps a freed cell of `class` on this thread's list (half of a full list goes to the
    /// pool); on a thread that is exiting, straight to the pool.
    #[inline]
    pub(super) fn keep(class: usize, ptr: NonNull<u8>) {
        let kept = LISTS
            .try_with(|lists| {
                let Ok(mut lists) = lists.try_borrow_mut() else { return false };
                let list = &mut lists.0[class];
                if list.len() >= LOCAL_CAP {
                    let from = list.len() - BATCH;
                    give_to_pool(class, list.drain(from..));
                }
                if list.capacity() == 0 {
                    list.reserve_exact(LOCAL_CAP);
                }
                list.push(FreeCell(ptr));
                true
            })
            .unwrap_or(false);
        if !kept {
            give_to_pool(class, std::iter::once(FreeCell(ptr)));
        }
    }

    /// Moves cells into the pool, or back to the allocator beyond its cap. The pool stays
    /// sorted by address: cells come back from other threads in completion order, scattered
    /// over the heap, and tasks spawned one after another in such cells sit far apart
    /// (`yield_many` measured ~15% slower than with fresh cells before the pool was sorted).
    /// A stable sort of a sorted pool plus one appended batch is a merge: linear in the pool.
    fn give_to_pool(class: usize, mut cells: impl Iterator<Item = FreeCell>) {
        let mut pool = POOL[class].lock();
        let room = POOL_CAP.saturating_sub(pool.len());
        pool.extend(cells.by_ref().take(room));
        pool.sort_by_key(|cell| std::cmp::Reverse(cell.0));
        drop(pool);
        // SAFETY: every cached cell came from `fresh(class_layout(class))` (module doc) and
        // holds no value.
        unsafe { release(class, cells) };
    }
}

#[cfg(loom)]
mod imp {
    use super::{class_layout, release, FreeCell};
    use std::ptr::NonNull;

    pub(super) fn take(_class: usize) -> Option<NonNull<u8>> {
        None
    }

    pub(super) fn keep(class: usize, ptr: NonNull<u8>) {
        let _ = class_layout;
        // SAFETY: `alloc` made it with `fresh(class_layout(class))`; it holds no value.
        unsafe { release(class, [FreeCell(ptr)]) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_up_and_big_or_overaligned_layouts_are_not_cached() {
        assert_eq!(class_of(Layout::from_size_align(96, 8).unwrap()), Some(5));
        assert_eq!(class_layout(5).size(), 96);
        assert_eq!(class_of(Layout::from_size_align(97, 8).unwrap()), Some(6));
        assert_eq!(class_of(Layout::from_size_align(257, 8).unwrap()), None);
        assert_eq!(class_of(Layout::from_size_align(64, 64).unwrap()), None);
    }

    #[test]
    fn a_freed_cell_is_reused_and_the_lists_stay_bounded() {
        let layout = Layout::from_size_align(80, 8).unwrap();
        let a = alloc(layout);
        // SAFETY: from `alloc` with this layout, no value in it.
        unsafe { dealloc(a, layout) };
        let b = alloc(layout);
        assert_eq!(a, b, "the cell just freed on this thread is the next one handed out");
        let many: Vec<_> = (0..4 * LOCAL_CAP).map(|_| alloc(layout)).collect();
        for p in many {
            // SAFETY: as above.
            unsafe { dealloc(p, layout) };
        }
        // SAFETY: as above.
        unsafe { dealloc(b, layout) };
        // Freed on another thread, allocated here: the cells come back through the pool.
        let layout2 = Layout::from_size_align(200, 16).unwrap();
        let cells: Vec<usize> = std::thread::spawn(move || {
            let v: Vec<_> = (0..LOCAL_CAP).map(|_| alloc(layout2)).collect();
            v.into_iter().map(|p| p.as_ptr() as usize).collect()
        })
        .join()
        .unwrap();
        for p in &cells {
            // SAFETY: allocated by the other thread with `layout2`; no value in it.
            unsafe { dealloc(NonNull::new(*p as *mut u8).unwrap(), layout2) };
        }
    }
}
