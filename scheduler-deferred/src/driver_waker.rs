//! The `from_future` driver's waker (a child module of `driver`): one `RawWakerVTable` for the
//! drivers of every output type, so this crate's own wake sites recognise a driver's waker and
//! tell it that the wake is theirs (`driver.rs`, rule 4) without a thread-local.
//!
//! A waker's data pointer is an `Arc<Driver<T>>` turned into a raw pointer (one strong
//! reference per waker), cast to the [`Header`] that starts every `Driver<T>` (`repr(C)`,
//! header first); the header's [`Ops`] are `T`'s functions that turn it back into the `Arc`.

use std::mem::ManuallyDrop;
use std::task::{RawWaker, RawWakerVTable, Waker};

use super::awaited::Awaited;
use crate::chain::Core;
use crate::core_ref::CoreRef;

/// The type-independent start of a `Driver<T>`.
pub(super) struct Header {
    pub(super) ops: &'static Ops,
    /// What the driver's coroutine awaits now (`awaited.rs`): reached through any waker of the
    /// driver, whatever `T` is.
    pub(super) awaited: Awaited,
}

/// A `Driver<T>`'s waker functions, each given the header of a driver whose `Arc` reference
/// the caller owns (`wake`, `drop`: consumed) or borrows (`wake_by_ref`, `clone`).
pub(super) struct Ops {
    /// Wakes and releases the reference; `ours`: the wake comes from this crate.
    pub(super) wake: unsafe fn(*const Header, bool),
    pub(super) wake_by_ref: unsafe fn(*const Header),
    /// Adds a reference.
    pub(super) clone: unsafe fn(*const Header),
    pub(super) drop: unsafe fn(*const Header),
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop);

/// A waker owning the reference `header` stands for.
///
/// # Safety
///
/// `header` must come from `Arc::into_raw` of a `Driver<T>` whose header's ops are `T`'s,
/// and the caller gives that reference to the waker.
pub(super) unsafe fn from_driver(header: *const Header) -> Waker {
    // SAFETY: the vtable's functions keep the contract of `RawWaker` for this data: per this
    // function's contract the pointer owns a reference, which `drop`/`wake` release once and
    // `clone` adds to; the driver is `Send + Sync`, so the waker may go to any thread.
    unsafe { Waker::from_raw(RawWaker::new(header.cast(), &VTABLE)) }
}

/// Wakes `waker` for one of this crate's wake sites: a driver's waker learns the wake is
/// ours; any other is woken as usual.
#[inline]
pub(crate) fn wake_from_here(waker: Waker) {
    if !std::ptr::eq(waker.vtable(), &VTABLE) {
        return waker.wake();
    }
    let waker = ManuallyDrop::new(waker); // its reference passes to `wake` below
    let header = waker.data().cast::<Header>();
    // SAFETY: a waker with our vtable was made by `from_driver`, so its data is a live
    // driver's header owning one reference, which `wake` consumes (the waker is not dropped).
    unsafe { ((*header).ops.wake)(header, true) }
}

/// The awaited set of the driver whose waker `waker` is, if it is a driver's.
#[inline]
fn awaited_of(waker: &Waker) -> Option<&Awaited> {
    if !std::ptr::eq(waker.vtable(), &VTABLE) {
        return None;
    }
    let header = waker.data().cast::<Header>();
    // SAFETY: a waker with our vtable was made by `from_driver`, so its data is a live
    // driver's header, kept alive by the reference the waker owns for as long as `waker` is
    // borrowed.
    Some(unsafe { &(*header).awaited })
}

/// A Deferred (`core`) returned `Pending` to a poll with `waker`: if it is a `from_future`
/// driver's waker, that coroutine now awaits `core` (`awaited.rs`).
#[inline]
pub(crate) fn awaiting(waker: &Waker, core: &CoreRef) {
    if let Some(awaited) = awaited_of(waker) {
        awaited.register(core);
    }
}

/// The handle of `core` that waited with `waker` went away: if it is a driver's waker, that
/// coroutine no longer awaits `core`.
#[inline]
pub(crate) fn not_awaiting(waker: &Waker, core: &Core) {
    if let Some(awaited) = awaited_of(waker) {
        let stale = awaited.unregister(core);
        std::mem::drop(stale); // after the driver's lock is released
    }
}

unsafe fn clone(data: *const ()) -> RawWaker {
    let header = data.cast::<Header>();
    // SAFETY: `data` is a live driver's header (the waker being cloned owns a reference).
    unsafe { ((*header).ops.clone)(header) };
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    let header = data.cast::<Header>();
    // SAFETY: as in `clone`; the waker's reference passes to `wake`.
    unsafe { ((*header).ops.wake)(header, false) }
}

unsafe fn wake_by_ref(data: *const ()) {
    let header = data.cast::<Header>();
    // SAFETY: as in `clone`; the reference stays the waker's.
    unsafe { ((*header).ops.wake_by_ref)(header) }
}

unsafe fn drop(data: *const ()) {
    let header = data.cast::<Header>();
    // SAFETY: as in `clone`; the waker's reference is released.
    unsafe { ((*header).ops.drop)(header) }
}
