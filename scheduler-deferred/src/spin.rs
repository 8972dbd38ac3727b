//! [`SpinLock`]: the lock around each Deferred's chain state (used through `crate::sync`), and
//! of scheduler-core's short sections (a delayed call's slot, a `LoopingCall`'s state), which
//! reaches it through this crate's hidden `__private` module rather than keeping a copy.
//!
//! Every critical section under it is a handful of field updates (push a callback, flip the
//! `running` flag, park a result); no user code ever runs under it. For such sections a lock
//! whose release is a plain `Release` store beats a mutex whose release is a read-modify-write
//! (`deferred_fire` takes three lock/unlock pairs: measured about 5 ns, 8%, saved per Deferred
//! against `parking_lot::Mutex`).
//! Contention spins briefly, then yields, then naps with a doubling timeout (5 us up to 200
//! us), so a waiter behind a preempted holder leaves the CPU to it instead of taking its time
//! slices (`SpinLock::lock_contended`). Under `cfg(loom)` the facade maps `SpinLock` to loom's mutex.

use crossbeam_utils::Backoff;
use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The first nap of a waiter whose backoff is over (see `SpinLock::lock_contended`).
const NAP_MIN: Duration = Duration::from_micros(5);
/// The longest nap: bounds how late a waiter notices a released lock.
const NAP_MAX: Duration = Duration::from_micros(200);

/// A test-and-test-and-set lock with `parking_lot`'s shape: `lock` returns the guard.
#[derive(Debug, Default)]
pub struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `value` to one thread at a time (the `locked` flag,
// acquired with `Acquire` and released with `Release`), so sharing it only needs `T: Send`,
// exactly as for `std::sync::Mutex`.
unsafe impl<T: Send> Sync for SpinLock<T> {}

/// Exclusive access to a [`SpinLock`]'s value until dropped.
///
/// The guard hands out `&T` through `&SpinGuard`, so sharing a guard between threads shares
/// the value: the guard is `Sync` only when `T: Sync` (as `lock_api`'s `MutexGuard`). A guard
/// of a `Cell` cannot be shared:
///
/// ```compile_fail
/// use scheduler_deferred::__private::SpinLock;
/// use std::cell::Cell;
///
/// let lock = SpinLock::new(Cell::new(0u64));
/// let guard = lock.lock();
/// std::thread::scope(|s| {
///     s.spawn(|| guard.set(guard.get() + 1));
///     guard.set(guard.get() + 1);
/// });
/// ```
///
/// while a guard of a `Sync` value can:
///
/// ```
/// use scheduler_deferred::__private::SpinLock;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// let lock = SpinLock::new(AtomicU64::new(0));
/// let guard = lock.lock();
/// std::thread::scope(|s| {
///     s.spawn(|| guard.fetch_add(1, Ordering::Relaxed));
///     guard.fetch_add(1, Ordering::Relaxed);
/// });
/// assert_eq!(guard.load(Ordering::Relaxed), 2);
/// ```
#[must_use = "the lock is released when the guard is dropped"]
pub struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
    /// The guard acts as a `&'a mut T`: without this marker it would be auto-`Sync` for every
    /// `T: Send` (it holds only a `&SpinLock<T>`), letting two threads share a `&T` of a
    /// `!Sync` value.
    _value: PhantomData<&'a mut T>,
}

// SAFETY: `&SpinGuard<T>` yields only `&T` (DerefMut needs `&mut SpinGuard`), so sharing a
// guard across threads is sharing `&T`: sound exactly when `T: Sync`. (The marker alone would
// also demand `T: Send`, which sharing a `&T` does not need.)
unsafe impl<T: Sync> Sync for SpinGuard<'_, T> {}

impl<T> std::fmt::Debug for SpinGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpinGuard")
    }
}

impl<T> SpinLock<T> {
    /// An unlocked lock around `value`.
    pub const fn new(value: T) -> Self {
        SpinLock { locked: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    /// Waits until the lock is free and takes it.
    #[inline]
    pub fn lock(&self) -> SpinGuard<'_, T> {
        // Acquire: pairs with the Release store in `SpinGuard::drop`, so this holder sees every
        // write of the previous one.
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        SpinGuard { lock: self, _value: PhantomData }
    }

    /// The contended path: spin, then yield ([`Backoff`]), then nap with a doubling timeout
    /// ([`NAP_MIN`] up to [`NAP_MAX`]) until the lock looks free. Sections are a few field
    /// updates, so a waiter that still finds the lock taken after the backoff is almost
    /// always waiting on a holder that was preempted: napping leaves the CPU to it instead of
    /// taking time slices from it. The release stays a plain `Release` store: a waiter is
    /// never woken by the holder (that would make every release a read-modify-write), it
    /// wakes on its own timeout.
    #[cold]
    fn lock_contended(&self) {
        let backoff = Backoff::new();
        let mut nap = NAP_MIN;
        loop {
            while self.locked.load(Ordering::Relaxed) {
                if !backoff.is_completed() {
                    backoff.snooze();
                } else {
                    std::thread::park_timeout(nap);
                    nap = (nap * 2).min(NAP_MAX);
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

    /// The value, through exclusive access to the lock itself (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
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
