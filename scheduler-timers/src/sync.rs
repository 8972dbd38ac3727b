//! The one door to every synchronisation primitive this crate uses.
//!
//! Under `cfg(loom)` everything maps to `loom`, so the models in `loom-tests` check the real
//! protocol code; otherwise to `std` atomics and `parking_lot` locks. Code in this crate never
//! names `std::sync::atomic` or `parking_lot` directly.
//!
//! [`UnsafeCell`] has loom's `with` / `with_mut` shape in both arms, so loom can check that the
//! accesses it guards (the wheel behind the expiry right, an entry's payload) never overlap.

#[cfg(not(loom))]
pub(crate) mod imp {
    pub(crate) use std::sync::Arc;

    /// Atomic types and fences.
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{
            fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering,
        };
    }

    pub(crate) use std::thread_local;

    /// `std::cell::UnsafeCell` with loom's closure-based access shape (scheduler-core's facade
    /// uses this one too, through `crate::__private`).
    #[derive(Debug, Default)]
    pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        /// A cell holding `value`.
        pub const fn new(value: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        /// Calls `f` with a shared raw pointer to the value.
        #[inline(always)]
        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Calls `f` with a mutable raw pointer to the value.
        #[inline(always)]
        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }

        /// A mutable raw pointer whose access lasts as long as the returned value (loom
        /// tracks it until then).
        #[inline(always)]
        pub fn get_mut(&self) -> MutPtr<T> {
            MutPtr(self.0.get())
        }
    }

    /// A raw pointer from [`UnsafeCell::get_mut`], loom's shape.
    #[derive(Debug)]
    pub struct MutPtr<T>(*mut T);

    impl<T> MutPtr<T> {
        /// Dereferences the pointer.
        ///
        /// # Safety
        /// As `&mut *ptr`: no other reference to the value may be live while the result is.
        #[inline(always)]
        #[allow(clippy::mut_from_ref)]
        pub unsafe fn deref(&self) -> &mut T {
            // SAFETY: forwarded to the caller.
            unsafe { &mut *self.0 }
        }
    }

    /// A busy-wait hint for the rare bounded waits of the protocols.
    #[inline(always)]
    pub(crate) fn spin_loop() {
        std::hint::spin_loop();
    }

    /// The SeqCst fence of a Dekker pair (see `shard::inbox`, the published-deadline protocol).
    #[inline(always)]
    pub(crate) fn dekker_fence() {
        atomic::fence(atomic::Ordering::SeqCst);
    }
}

#[cfg(loom)]
pub(crate) mod imp {
    pub(crate) use loom::sync::Arc;

    /// Atomic types and fences.
    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{
            fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering,
        };
    }

    pub(crate) use loom::cell::{MutPtr, UnsafeCell};

    /// loom's, so each modelled thread (all on one OS thread) has its own value.
    pub(crate) use loom::thread_local;

    /// loom's mutex behind parking_lot's shape: `lock` returns the guard directly
    /// (scheduler-core's facade uses this one too, through `crate::__private`).
    #[derive(Debug, Default)]
    pub struct Mutex<T>(loom::sync::Mutex<T>);

    /// The guard of [`Mutex`].
    pub type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        /// A mutex holding `value`.
        pub fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        /// Locks it (a poisoned loom mutex is taken anyway).
        pub fn lock(&self) -> MutexGuard<'_, T> {
            // A poisoned loom mutex means a model thread panicked: the model already failed.
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    /// Under loom a spin must yield, or the model never lets the awaited thread run.
    pub(crate) fn spin_loop() {
        loom::thread::yield_now();
    }

    std::thread_local! {
        /// Test knob (`loom_api::break_dekker_fences`): per OS thread, so it only affects the
        /// model run on the thread that set it. Not part of any protocol.
        static SKIP_DEKKER_FENCES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// The SeqCst fence of a Dekker pair; a model may remove it to show it is needed.
    pub(crate) fn dekker_fence() {
        if !SKIP_DEKKER_FENCES.with(|skip| skip.get()) {
            atomic::fence(atomic::Ordering::SeqCst);
        }
    }

    std::thread_local! {
        /// Test knob (`loom_api::reset_without_right`), per OS thread like the one above.
        static RESET_WITHOUT_RIGHT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Whether the owner's reset skips the expiry right (test knob; never set outside models).
    pub(crate) fn reset_without_right() -> bool {
        RESET_WITHOUT_RIGHT.with(|cell| cell.get())
    }

    /// Sets the knob read by [`reset_without_right`].
    pub(crate) fn set_reset_without_right(broken: bool) {
        RESET_WITHOUT_RIGHT.with(|cell| cell.set(broken));
    }

    std::thread_local! {
        /// Test knob (`loom_api::lend_to_any_thread`), per OS thread like the ones above.
        static LEND_TO_ANY_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Whether a taken right is lent to any thread (test knob; never set outside models).
    pub(crate) fn lend_to_any_thread() -> bool {
        LEND_TO_ANY_THREAD.with(|cell| cell.get())
    }

    /// Sets the knob read by [`lend_to_any_thread`].
    pub(crate) fn set_lend_to_any_thread(broken: bool) {
        LEND_TO_ANY_THREAD.with(|cell| cell.set(broken));
    }

    std::thread_local! {
        /// Test knob (`loom_api::reclaim_remote_slots_to_spares`), per OS thread like the
        /// ones above.
        static REMOTE_SLOTS_TO_SPARES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Whether a remote insert's finished slot goes to the owner's spares, as the reclaim rule did before remote slots went back to the shared list
    /// (test knob; never set outside models).
    pub(crate) fn remote_slots_to_spares() -> bool {
        REMOTE_SLOTS_TO_SPARES.with(|cell| cell.get())
    }

    /// Sets the knob read by [`remote_slots_to_spares`].
    pub(crate) fn set_remote_slots_to_spares(broken: bool) {
        REMOTE_SLOTS_TO_SPARES.with(|cell| cell.set(broken));
    }

    /// Sets the knob read by [`dekker_fence`].
    pub(crate) fn set_skip_dekker_fences(skip: bool) {
        SKIP_DEKKER_FENCES.with(|cell| cell.set(skip));
    }
}

pub(crate) use imp::*;
