//! Deferreds with Twisted's callback-chain semantics, thread-safe and awaitable.
//!
//! A [`Deferred<T>`] is a result that is not there yet plus a chain of callbacks to run on it,
//! as in `twisted.internet.defer`: a callback's value goes to the next callback; an error (an
//! `Err` or a panic) skips to the next errback; an errback returning `Ok` recovers; a callback
//! returning another Deferred pauses the chain until that one fires (chaining). Unlike Twisted's,
//! these Deferreds may be fired, extended and cancelled from any thread: every callback runs
//! exactly once, in chain order, never two of one chain at once (see the protocol in the
//! `chain` module's source doc). Long chains and deep nesting run, and are dropped,
//! iteratively.
//!
//! Also here: [`Failure`] (Twisted's `Failure`), [`DeferredList`] and [`gather_results`],
//! [`DeferredQueue`], [`DeferredLock`], [`DeferredSemaphore`], [`maybe_deferred`], the
//! [`CallLater`] timer trait behind [`Deferred::add_timeout`], `impl Future for Deferred` and
//! [`Deferred::from_future`] (which replace `inlineCallbacks`).
//!
//! # Rust's future contract
//!
//! * Dropping is cancelling: a [`DeferredQueue`] getter or a [`DeferredLock`] /
//!   [`DeferredSemaphore`] acquire whose handles are all dropped (a `select!` or a `timeout`
//!   that gave up on it) leaves the waiters, and a value or token handed to it but never taken
//!   goes back; nothing is lost, FIFO among the live waiters holds.
//! * Every task awaiting a clone of one Deferred is woken when it fires (the first to poll
//!   takes the result, the others get [`ResultTaken`]).
//! * `wake` only schedules: [`Deferred::from_future`] never polls inside another library's
//!   `Waker::wake`; a runtime can run those polls as its tasks through [`Spawn`].
//! * Hand-offs never recurse: lock, semaphore and queue hand-offs, chains and nested Deferreds
//!   run in loops, so a million waiters released in turn need one stack frame.
//! * `?` turns a [`Failure`] into a `Box<dyn Error + Send + Sync>` ([`FailureError`]).
//!
//! # Examples
//!
//! ```
//! use scheduler_deferred::{Cancelled, Deferred};
//!
//! let d = Deferred::<String>::new();
//! let producer = d.clone();
//! let lengths = d
//!     .add_callback(|s| s.len())
//!     .add_errback(|failure| {
//!         failure.trap::<Cancelled>()?; // other failures pass on
//!         Ok(0)
//!     });
//! producer.callback("twisted".to_owned()).unwrap();
//! assert_eq!(lengths.take_result().unwrap().unwrap(), 7);
//! ```

#![deny(missing_docs)]

mod boxed;
mod callbacks;
mod chain;
mod core_ref;
mod deferred;
mod driver;
mod errors;
mod failure;
mod future;
mod handoff;
mod list;
mod lock;
mod maybe;
mod queue;
mod queue_stream;
mod race;
mod spawner;
#[cfg(not(loom))]
mod spin;
mod sync;
mod teardown;
mod timeout;
mod value;
mod wakers;

/// Switches for the loom models' `should_panic` variants (no-ops outside `cfg(loom)`).
mod loom_knobs {
    #[cfg(loom)]
    thread_local! {
        static MERGED_WAKE_WRITE_SKIPPED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// True in the buggy variant where a wake merged into a pending one does not write.
    #[inline(always)]
    pub(crate) fn merged_wake_write_skipped() -> bool {
        #[cfg(loom)]
        return MERGED_WAKE_WRITE_SKIPPED.with(std::cell::Cell::get);
        #[cfg(not(loom))]
        false
    }

    #[cfg(loom)]
    pub(crate) fn skip_merged_wake_write(skipped: bool) {
        MERGED_WAKE_WRITE_SKIPPED.with(|b| b.set(skipped));
    }

    #[cfg(loom)]
    thread_local! {
        static UNREACHED_CANCEL_DROPPED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// True in the buggy variant where a `from_future` cancel whose children had all fired
    /// is dropped instead of being left to the next poll (`awaited.rs`, case 2).
    #[inline(always)]
    pub(crate) fn unreached_cancel_dropped() -> bool {
        #[cfg(loom)]
        return UNREACHED_CANCEL_DROPPED.with(std::cell::Cell::get);
        #[cfg(not(loom))]
        false
    }

    #[cfg(loom)]
    pub(crate) fn drop_unreached_cancel(dropped: bool) {
        UNREACHED_CANCEL_DROPPED.with(|b| b.set(dropped));
    }
}

/// Hooks for the loom models in `loom-tests` only (built under `--cfg loom`).
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_api {
    /// Restores (or removes) the write-free branch of a `from_future` wake that finds a poll
    /// already scheduled or a repoll already asked for, on the calling OS thread (which runs
    /// every loom thread of a model): the buggy variant for `should_panic` models.
    pub fn skip_merged_wake_write(skipped: bool) {
        crate::loom_knobs::skip_merged_wake_write(skipped);
    }

    /// Makes a `from_future` cancel that reached only already-fired children be dropped
    /// instead of left to the next poll, on the calling OS thread: the buggy variant for
    /// `should_panic` models.
    pub fn drop_unreached_cancel(dropped: bool) {
        crate::loom_knobs::drop_unreached_cancel(dropped);
    }
}

pub use boxed::FailureError;
pub use deferred::Deferred;
pub use errors::{
    AlreadyCalled, Cancelled, ChainCycle, ChainedToItself, FirstError, NoTokens, NotAcquired,
    NotPaused, QueueOverflow, QueueUnderflow, ResultTaken, TimedOut, TypeMismatch,
};
pub use failure::{
    reset_unhandled_failure_hook, set_unhandled_failure_hook, Failure, UnhandledFailureHook,
};
pub use list::{gather_results, DeferredList, ListResult};
pub use lock::{DeferredLock, DeferredSemaphore};
pub use maybe::{maybe_deferred, IntoDeferred};
pub use queue::DeferredQueue;
pub use queue_stream::{QueueStream, Recv};
pub use race::{race, FailureGroup};
pub use spawner::{set_thread_spawner, thread_spawner, PollTask, Spawn, Spawner};

/// Internals shared with the workspace's sibling crates (scheduler-core's facade takes its
/// spin lock from here). Not a public API: no stability promise.
#[doc(hidden)]
#[cfg(not(loom))]
pub mod __private {
    pub use crate::spin::{SpinGuard, SpinLock};
}
pub use timeout::{CallLater, ScheduledCall};
