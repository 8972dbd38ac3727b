//! The one door to every synchronisation primitive this crate uses.
//!
//! Under `cfg(loom)` everything maps to `loom`, so the models in `loom-tests` check the real
//! protocol code; otherwise to `std` atomics and `parking_lot` locks. Code in this crate never
//! names `std::sync::atomic` or `parking_lot` directly.
//!
//! Shapes are the same in both arms: `Mutex::lock` returns the guard, `Condvar::wait` takes the
//! guard by value and gives it back (loom's shape), and `UnsafeCell` offers loom's
//! `with`/`with_mut` closures so loom can track every access to a task's cells.

#[cfg(not(loom))]
mod imp {
    pub(crate) use std::sync::Arc;

    /// Atomic types and fences.
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{
            fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
        };
    }

    /// A mutex whose `lock` returns the guard directly (parking_lot's shape).
    pub(crate) use parking_lot::{Mutex, MutexGuard};

    /// The lock of short, non-reentrant critical sections: a delayed call's slot, a
    /// `LoopingCall`'s state (no user code runs under it; its release is a plain store). The
    /// one in scheduler-deferred (`spin.rs` there), not a copy.
    pub(crate) use scheduler_deferred::__private::SpinLock;

    /// A condition variable with loom's by-value guard shape.
    #[derive(Debug, Default)]
    pub(crate) struct Condvar(parking_lot::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Condvar(parking_lot::Condvar::new())
        }

        pub(crate) fn wait<'a, T>(&self, mut guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(&mut guard);
            guard
        }

        /// Waits until notified or until `deadline`; spurious wake-ups are allowed.
        pub(crate) fn wait_until<'a, T>(
            &self,
            mut guard: MutexGuard<'a, T>,
            deadline: std::time::Instant,
        ) -> MutexGuard<'a, T> {
            let _ = self.0.wait_until(&mut guard, deadline);
            guard
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }

    /// `UnsafeCell` with loom's closure-based access shape: scheduler-timers' shim, not a
    /// copy.
    pub(crate) use scheduler_timers::__private::UnsafeCell;
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::Arc;

    /// Atomic types and fences.
    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{
            fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
        };
    }

    /// loom's mutex behind parking_lot's shape: scheduler-timers' wrapper, not a copy.
    pub(crate) use scheduler_timers::__private::{Mutex, MutexGuard};

    /// Under loom the spin lock is loom's mutex: same shape, modelled blocking.
    pub(crate) type SpinLock<T> = Mutex<T>;

    /// loom's condition variable; `wait_until` ignores the deadline (loom has no clock), which
    /// is allowed because every waiter re-checks its condition after waking.
    #[derive(Debug, Default)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Condvar(loom::sync::Condvar::new())
        }

        pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(guard).unwrap_or_else(|e| e.into_inner())
        }

        pub(crate) fn wait_until<'a, T>(
            &self,
            guard: MutexGuard<'a, T>,
            _deadline: std::time::Instant,
        ) -> MutexGuard<'a, T> {
            self.wait(guard)
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}

pub(crate) use imp::*;

/// A process-wide one-time cell, for statics (the global runtime). std's in both arms: loom
/// cannot model a static that outlives one model run, and no model builds the global runtime.
pub(crate) use std::sync::OnceLock;
