//! [`SpinLock`]: the lock of a delayed call's slot and of a `LoopingCall`'s state (used
//! through `crate::sync`).
//!
//! Every critical section under it is a handful of field updates (store a function, read a
//! timer key, flip `running`); no user code and no timer operation that could re-enter it runs
//! under it. For such sections a lock whose release is a plain `Release` store beats
//! `parking_lot::Mutex`, whose release is a read-modify-write: a `LoopingCall` tick takes five
//! such lock/unlock pairs (measured about 6 ns per locked read-modify-write on the CI Xeon).
//! Contention spins briefly, then yields the CPU, so a preempted holder costs the waiter time
//! slices, never correctness. Under `cfg(loom)` the facade maps `SpinLock` to loom's mutex.
//! The same lock guards each Deferred's chain in scheduler-deferred (`spin.rs` there).

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

/// A test-and-test-and-set lock with `parking_lot`'s shape: `lock` returns the guard.
#[derive(Debug, Default)]
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `value` to one thread at a time (the `locked` flag,
// acquired with `Acquire` and released with `Release`), so sharing it only needs `T: Send`,
// exactly as for `std::sync::Mutex`.
unsafe impl<T: Send> Sync for SpinLock<T> {}

/// Exclusive access to a [`SpinLock`]'s value until dropped.
#[must_use = "the lock is released when the guard is dropped"]
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> SpinLock<T> {
    /// An unlocked lock around `value`.
    pub(crate) const fn new(value: T) -> Self {
        SpinLock { locked: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    /// Waits until the lock is free and takes it.
    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        // Acquire: pairs with the Release store in `SpinGuard::drop`, so this holder sees every
        // write of the previous one.
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        SpinGuard { lock: self }
    }

    #[cold]
    fn lock_contended(&self) {
        let mut spins = 0u32;
        loop {
            while self.locked.load(Ordering::Relaxed) {
                if spins < 100 {
                    spins += 1;
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            // Acquire: as in `lock`.
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this guard exists only while its thread holds the lock, so no other reference
        // to the value is live.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Release: pairs with the Acquire in `SpinLock::lock`.
        self.lock.locked.store(false, Ordering::Release);
    }
}
