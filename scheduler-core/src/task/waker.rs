//! The task's waker: one `RawWakerVTable` for every task, its data pointer the task's header.
//! A waker owns one ref of its task (the waker a poll lends the future owns none, see
//! [`super::harness`]); a wake notifies the task and queues it if it was idle ([`wake_task`]).

use super::raw::Header;
use super::Notified;
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable};

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

pub(super) fn raw_waker(ptr: NonNull<Header>) -> RawWaker {
    RawWaker::new(ptr.as_ptr() as *const (), &WAKER_VTABLE)
}

/// # Safety (RawWaker contract)
/// `data` is a live task header for which the waker holds (or borrows) a ref.
unsafe fn waker_clone(data: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned keeps the header alive; data is never null.
    let ptr = unsafe { NonNull::new_unchecked(data as *mut Header) };
    // SAFETY: as above.
    unsafe { ptr.as_ref() }.state.ref_inc();
    raw_waker(ptr)
}

unsafe fn waker_wake(data: *const ()) {
    // SAFETY: the waker owns a ref; wake-by-ref then drop that ref.
    unsafe {
        waker_wake_by_ref(data);
        waker_drop(data);
    }
}

unsafe fn waker_wake_by_ref(data: *const ()) {
    // SAFETY: the waker holds a ref, so the header is alive; data is never null.
    let ptr = unsafe { NonNull::new_unchecked(data as *mut Header) };
    // SAFETY: as above.
    unsafe { wake_task(ptr) }
}

unsafe fn waker_drop(data: *const ()) {
    // SAFETY: the dropped waker owned one ref of a live task.
    unsafe { Header::drop_refs(NonNull::new_unchecked(data as *mut Header), 1) }
}

/// Makes the task runnable; queues it if it was idle.
///
/// # Safety
/// The caller holds a ref of the live task `ptr`.
unsafe fn wake_task(ptr: NonNull<Header>) {
    // SAFETY: the caller's ref keeps the header alive.
    let header = unsafe { ptr.as_ref() };
    if header.state.transition_to_notified() == super::state::Notify::Submit {
        let sched = header.scheduler;
        // SAFETY: a task that is not complete keeps its scheduler alive (module doc); the
        // new notification's ref travels with the `Notified`.
        unsafe { (sched.vtable.schedule)(sched.data, Notified(ptr)) }
    }
}
