//! The one door to every synchronisation primitive this crate uses.
//!
//! Under `cfg(loom)` everything maps to `loom`, so the models in `loom-tests` check the real
//! protocol code; otherwise to `std` atomics, `parking_lot` locks and the crate's own
//! [`SpinLock`](crate::spin) for the chain state. Code in this crate never names
//! `std::sync::atomic` or `parking_lot` directly (except `spin.rs`, which is the lock itself,
//! and the `Failure` hook's configuration lock, which no protocol uses). Thread-locals go through
//! [`thread_local_const!`] (per modelled thread under loom), except the `Value` spare slot's,
//! which does not exist under loom.

#[cfg(not(loom))]
mod imp {
    pub(crate) use std::sync::Arc;

    /// Atomic types and fences.
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
    }

    /// A mutex whose `lock` returns the guard directly (parking_lot's shape).
    pub(crate) use parking_lot::Mutex;

    /// The lock of each chain's state (see `spin.rs`).
    pub(crate) use crate::spin::{SpinGuard, SpinLock};
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::sync::Arc;

    /// Atomic types and fences.
    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
    }

    /// loom's mutex behind parking_lot's shape: `lock` returns the guard directly.
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    /// The guard of [`Mutex`].
    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    /// Under loom the chain-state spin lock is loom's mutex: same shape, modelled blocking.
    pub(crate) type SpinLock<T> = Mutex<T>;

    /// The guard of [`SpinLock`].
    pub(crate) type SpinGuard<'a, T> = MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            // A poisoned loom mutex means a model thread panicked: the model already failed.
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }

        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.0.get_mut().unwrap_or_else(|e| e.into_inner())
        }
    }
}

pub(crate) use imp::*;

/// Declares thread-locals with `const` initialisers: `std`'s, or under `cfg(loom)` loom's,
/// which are per modelled thread (loom runs all modelled threads on one OS thread, where a
/// `std` thread-local would be shared between them).
macro_rules! thread_local_const {
    ($($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;)*) => {
        #[cfg(not(loom))]
        std::thread_local! { $($(#[$attr])* static $name: $t = const { $init };)* }
        #[cfg(loom)]
        loom::thread_local! { $($(#[$attr])* static $name: $t = $init;)* }
    };
}
pub(crate) use thread_local_const;
