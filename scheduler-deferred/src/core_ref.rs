//! [`CoreRef`]: the counted handle to a [`Core`], an `Arc` cut down to what a Deferred needs.
//!
//! # Why not `Arc<Core>`
//!
//! Every Deferred allocates one core and frees it when its last handle goes. With `std`'s
//! `Arc` that costs, besides the allocator calls, two locked read-modify-writes nobody uses:
//! the uniqueness test of `add_*` on a fresh Deferred (`Arc::get_mut` locks the weak count
//! with a compare-exchange), and the weak-count decrement of the last drop. This crate never
//! makes a weak reference to a core, so a `CoreRef` has a strong count only:
//!
//! * [`get_mut`](CoreRef::get_mut) is one `Acquire` load of the count;
//! * the last drop is one `fetch_sub`;
//! * the memory of a freed core is kept as its thread's spare and reused by the next
//!   [`CoreRef::new`] on that thread (one slot, as `value.rs` keeps one `Value` slot), so a
//!   create-fire-drop makes no allocator call at all.
//!
//! # Counting (the `Arc` protocol, minus weak references)
//!
//! * `clone`: `fetch_add(1, Relaxed)`: a new handle is made from an existing one, which keeps
//!   the core alive meanwhile; nothing is published by it.
//! * `drop`: `fetch_sub(1, Release)`; the one that takes the count to zero issues
//!   `fence(Acquire)` and frees the core. Release/Acquire: every use of the core through any
//!   other handle happens before its drop.
//! * `get_mut`: if `load(Acquire) == 1` this is the only handle, and no other can appear while
//!   `&mut self` is borrowed (a handle is made only by cloning one, and there are no weak
//!   references nor raw pointers to promote). Acquire: pairs with the `Release` decrement of
//!   every handle dropped before, so their uses of the core happen before the `&mut`.

use std::alloc::Layout;
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;

use crate::chain::Core;
use crate::sync::atomic::{fence, AtomicUsize, Ordering};

/// The allocation behind a [`CoreRef`].
struct Counted {
    /// Handles alive.
    refs: AtomicUsize,
    core: Core,
}

/// A counted handle to a [`Core`] (see the module doc).
pub(crate) struct CoreRef {
    counted: NonNull<Counted>,
    _owns: PhantomData<Counted>,
}

// SAFETY: a `CoreRef` gives shared access (`&Core`) from any thread and lets the last handle,
// on whichever thread, drop the core; so it is `Send` and `Sync` exactly when `Core` is both,
// as for `Arc<Core>` (checked below). The count itself is atomic.
unsafe impl Send for CoreRef {}
// SAFETY: as for `Send` above.
unsafe impl Sync for CoreRef {}

const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Core>();
};

/// Counts above this abort, as `Arc` does: a count that wraps would free a core still in use.
const MAX_REFS: usize = isize::MAX as usize;

impl CoreRef {
    /// Makes a core in a new allocation (this thread's spare memory if it has one). The core
    /// is made after the memory is found, so it is written in place, not copied in.
    #[inline(always)]
    pub(crate) fn new(make: impl FnOnce() -> Core) -> CoreRef {
        let counted = spare::acquire().cast::<Counted>();
        // SAFETY: `acquire` returned unused memory with `Counted`'s layout, valid for a write;
        // from here this handle owns the initialised value.
        unsafe { counted.as_ptr().write(Counted { refs: AtomicUsize::new(1), core: make() }) };
        CoreRef { counted, _owns: PhantomData }
    }

    /// [`CoreRef::new`] with two handles at once (a waiter and its registration): one store
    /// of the count instead of a store and an increment.
    #[inline(always)]
    pub(crate) fn new_pair(make: impl FnOnce() -> Core) -> (CoreRef, CoreRef) {
        let counted = spare::acquire().cast::<Counted>();
        // SAFETY: as in `new`; the two handles returned own the count of 2.
        unsafe { counted.as_ptr().write(Counted { refs: AtomicUsize::new(2), core: make() }) };
        (CoreRef { counted, _owns: PhantomData }, CoreRef { counted, _owns: PhantomData })
    }

    fn counted(&self) -> &Counted {
        // SAFETY: the allocation lives while any handle does (the count is at least this
        // handle's 1), and is only read through `&` except in `get_mut`, which needs the
        // handle borrowed mutably.
        unsafe { self.counted.as_ref() }
    }

    /// The core, mutably, if this is its only handle (see the module doc).
    #[inline]
    pub(crate) fn get_mut(&mut self) -> Option<&mut Core> {
        // Acquire: pairs with the Release decrement in `drop` of every other handle.
        if self.counted().refs.load(Ordering::Acquire) != 1 {
            return None;
        }
        // SAFETY: this is the only handle and `&mut self` keeps another from being made (no
        // weak references or raw pointers to the core exist), so this reference is unique for
        // the borrow; the Acquire load ordered every earlier use of the core before it.
        Some(unsafe { &mut (*self.counted.as_ptr()).core })
    }

    /// Handles alive now (Acquire: pairs with the Release decrement of every handle dropped
    /// before). Exact only where no handle can be made or dropped meanwhile: see `waiter.rs`.
    #[inline]
    pub(crate) fn refs(&self) -> usize {
        self.counted().refs.load(Ordering::Acquire)
    }

    /// Gives up this handle without freeing the core.
    ///
    /// # Safety
    ///
    /// Another handle must stay alive until every use of the core the caller still makes
    /// (`waiter.rs`: all the others need the core's lock, which the caller holds).
    #[inline]
    pub(crate) unsafe fn release_not_last(this: CoreRef) {
        let this = std::mem::ManuallyDrop::new(this);
        // Release: as in `drop`; per the contract this is not the count's last decrement.
        let before = this.counted().refs.fetch_sub(1, Ordering::Release);
        debug_assert!(before > 1, "release_not_last on the last handle");
    }

    /// True if both handles are to the same core.
    #[inline]
    pub(crate) fn ptr_eq(this: &CoreRef, other: &CoreRef) -> bool {
        this.counted == other.counted
    }
}

impl Deref for CoreRef {
    type Target = Core;

    #[inline]
    fn deref(&self) -> &Core {
        &self.counted().core
    }
}

impl Clone for CoreRef {
    #[inline]
    fn clone(&self) -> CoreRef {
        // Relaxed: see the module doc.
        if self.counted().refs.fetch_add(1, Ordering::Relaxed) > MAX_REFS {
            std::process::abort();
        }
        CoreRef { counted: self.counted, _owns: PhantomData }
    }
}

impl Drop for CoreRef {
    #[inline]
    fn drop(&mut self) {
        // Release: pairs with the Acquire fence below and the Acquire load in `get_mut`.
        if self.counted().refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Acquire: pairs with the Release decrements of the other handles.
        fence(Ordering::Acquire);
        drop_last(self.counted);
    }
}

/// Drops the core of the last handle and gives its memory back.
#[inline(never)]
fn drop_last(counted: NonNull<Counted>) {
    // SAFETY: the count reached zero, so no handle is left: this drops the value once and
    // nothing reads it afterwards.
    unsafe { std::ptr::drop_in_place(counted.as_ptr()) };
    // SAFETY: the memory came from `spare::acquire` (the global allocator, `Counted`'s
    // layout) and the value in it was just dropped.
    unsafe { spare::release(counted.cast::<u8>()) };
}

impl std::fmt::Debug for CoreRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

/// One thread-local spare `Counted` allocation: [`CoreRef::new`] takes it, the last drop puts
/// the freed memory back when the slot is empty. The memory is plain (its core was dropped),
/// so keeping it changes nothing observable but the allocator calls saved. Under `cfg(loom)`
/// there is no spare (loom runs every modelled thread on one OS thread).
mod spare {
    use super::{Counted, Layout, NonNull};
    use std::alloc::{alloc, dealloc, handle_alloc_error};

    const LAYOUT: Layout = Layout::new::<Counted>();

    /// Unused memory with `Counted`'s layout.
    #[inline]
    pub(super) fn acquire() -> NonNull<u8> {
        if let Some(ptr) = take() {
            return ptr;
        }
        // SAFETY: `Counted` is not zero-sized (it holds a count).
        let ptr = unsafe { alloc(LAYOUT) };
        NonNull::new(ptr).unwrap_or_else(|| handle_alloc_error(LAYOUT))
    }

    /// Gives `ptr` back: kept as this thread's spare if there is none, else deallocated.
    ///
    /// # Safety
    ///
    /// `ptr` must come from [`acquire`] and hold no live value.
    #[inline]
    pub(super) unsafe fn release(ptr: NonNull<u8>) {
        if let Err(ptr) = keep(ptr) {
            // SAFETY: per this function's contract, allocated with `LAYOUT` and unused.
            unsafe { dealloc(ptr.as_ptr(), LAYOUT) };
        }
    }

    #[cfg(not(loom))]
    mod imp {
        use std::cell::Cell;
        use std::ptr::NonNull;

        /// The spare: memory of `LAYOUT` from the global allocator, owned by this thread.
        pub(super) struct Spare(pub(super) Cell<Option<NonNull<u8>>>);

        impl Drop for Spare {
            fn drop(&mut self) {
                if let Some(ptr) = self.0.take() {
                    // SAFETY: `keep` stores only memory allocated with `LAYOUT` and unused; the
                    // thread is exiting, so nothing takes it any more.
                    unsafe { std::alloc::dealloc(ptr.as_ptr(), super::LAYOUT) };
                }
            }
        }

        thread_local! {
            pub(super) static SPARE: Spare = const { Spare(Cell::new(None)) };
        }
    }

    #[cfg(not(loom))]
    #[inline]
    fn take() -> Option<NonNull<u8>> {
        imp::SPARE.try_with(|spare| spare.0.take()).ok().flatten()
    }

    #[cfg(not(loom))]
    #[inline]
    fn keep(ptr: NonNull<u8>) -> Result<(), NonNull<u8>> {
        imp::SPARE
            .try_with(|spare| match spare.0.get() {
                None => {
                    spare.0.set(Some(ptr));
                    Ok(())
                }
                Some(_) => Err(ptr),
            })
            .unwrap_or(Err(ptr))
    }

    #[cfg(loom)]
    fn take() -> Option<NonNull<u8>> {
        None
    }

    #[cfg(loom)]
    fn keep(ptr: NonNull<u8>) -> Result<(), NonNull<u8>> {
        Err(ptr)
    }
}
