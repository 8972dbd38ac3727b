//! A lock-free, sharded, hierarchical timer wheel with a system clock and a manual clock.
//!
//! - [`TimerShard<T>`]: one shard per worker. A hierarchical wheel (levels of 64 slots with an
//!   occupancy bitmap, configurable tick, ns deadlines, an overflow list past the top level)
//!   over a slab of entries whose pages never free while the shard lives. The owner inserts,
//!   cancels and resets in O(1) with no lock; [`fire_due`](TimerShard::fire_due) hands due
//!   payloads to a callback in exact `(deadline_ns, insertion)` order, never early.
//! - [`TimerSession`]: the owner's batch of operations under one hold of the shard's expiry
//!   right ([`TimerShard::session`]): inserts with no atomic read-modify-write, cancels and
//!   resets with one CAS on the timer's entry.
//! - [`RemoteShard<T>`]: a `Send + Sync` handle for other threads: inserts, cancels and resets
//!   through a lock-free inbox, and **timer stealing** ([`RemoteShard::steal_expired`]) so an
//!   idle thread can fire the overdue timers of a busy shard. For a manual clock,
//!   [`RemoteShard::expire_pass`] fires a whole advance under one hold of the expiry right,
//!   and a periodic timer's callback re-arms its own timer in place
//!   ([`RemoteShard::rearm_direct`]).
//! - [`Clock`], [`SystemClock`], [`ManualClock`]. Tests of timed logic use the manual clock
//!   through scheduler-core (its `time::ManualReactor` is Twisted's `task.Clock`; its
//!   `testing_guide` page says which tool fits which test).
//!
//! The concurrency protocol (entry state word, expiry right, inbox, published deadline,
//! stealing) is written down in the docs of the `entry` module (with `entry::state` and
//! `entry::reset`) and the `shard` module (with `shard::inbox`, `shard::slots` and
//! `shard::ops`); they are private: read the source or `cargo doc --document-private-items`.
//! It is checked by the loom models in `loom-tests/tests/timers_*.rs`.
//!
//! # Memory
//!
//! A pending timer costs [`timer_overhead_bytes::<T>()`](timer_overhead_bytes) bytes beside its
//! payload: 48 bytes on 64-bit targets for a payload with a niche such as `Box<dyn FnOnce()>`
//! or `Waker` (a 24-byte slab entry: state word 8, deadline 8, inbox / free-list link 4,
//! padding 4; and the wheel's 24-byte link: list links 2 x 4, list id 4, heap stamp 4,
//! insertion `seq` 8), within the 64-byte budget; 8 more for a payload without a niche
//! (the `Option` tag). Slots are reused, never freed while the shard lives, and the slab stays
//! within about twice the peak number of pending timers whatever the traffic. The slab's
//! pages and the wheel's links grow by about an eighth at a time, so unused capacity adds at
//! most about 9 bytes per timer (measured with a counting allocator, `tests/timer_memory.rs`:
//! 51.1 bytes per timer at 1,000,000 and at 5,000,000 timers, 55.1 just past a page boundary).
//!
//! # Examples
//! ```
//! use scheduler_timers::{TimerConfig, TimerShard};
//!
//! let shard = TimerShard::new(0, TimerConfig::default());
//! let a = shard.insert(2_000_000, "a").unwrap();
//! shard.insert(1_000_000, "b").unwrap();
//! shard.cancel(a).unwrap();
//! let mut fired = Vec::new();
//! let pass = shard.fire_due(5_000_000, |name| fired.push(name));
//! assert_eq!((fired, pass.fired, pass.next_deadline), (vec!["b"], 1, None));
//! ```

#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod clock;
mod config;
mod entry;
mod error;
mod key;
mod owner;
mod pass;
mod remote;
mod session;
mod shard;
mod slab;
mod sync;
mod wheel;

pub use clock::{deadline_after, duration_to_ns, Clock, ManualClock, SystemClock};
pub use config::{TimerConfig, MAX_LEVELS};
pub use error::{ConfigError, InsertError, ShardBusy, TimerError};
pub use key::{Expired, TimerKey, Wake};
pub use owner::TimerShard;
pub use remote::RemoteShard;
pub use session::TimerSession;

/// Hooks for the loom models in `loom-tests` only (built under `--cfg loom`).
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_api {
    /// Removes (or restores) the SeqCst fences of the published-deadline Dekker pair on the
    /// calling OS thread, so a `#[should_panic]` model can show they are needed.
    pub fn break_dekker_fences(broken: bool) {
        crate::sync::set_skip_dekker_fences(broken);
    }

    /// Makes (or stops making) the owner's `TimerShard::reset` on the calling OS thread do the
    /// held path's deadline store without taking the expiry right, so a `#[should_panic]`
    /// model can show that the right is what makes that store safe.
    pub fn reset_without_right(broken: bool) {
        crate::sync::set_reset_without_right(broken);
    }

    /// Makes (or stops making) reclaims on the calling OS thread send the finished slot of a
    /// remote insert to the owner's private spares (the earlier reclaim rule: only one
    /// slot per `starved` hint went to the shared free list), so a `#[should_panic]` model
    /// can show that remote inserts then grow the slab while freed slots sit unused.
    pub fn reclaim_remote_slots_to_spares(broken: bool) {
        crate::sync::set_remote_slots_to_spares(broken);
    }

    /// Makes (or stops making) an operation on the calling OS thread that finds a shard's
    /// expiry right taken borrow it whoever holds it, instead of only from this thread's own
    /// expiry pass, so a `#[should_panic]` model can show that the pass's thread-local record
    /// is what makes the lending safe.
    pub fn lend_to_any_thread(broken: bool) {
        crate::sync::set_lend_to_any_thread(broken);
    }
}

/// Internals shared with the workspace's sibling crates (scheduler-core's sync facade takes its
/// `UnsafeCell` shim from here rather than keeping a copy). Not a public API: no stability
/// promise.
#[doc(hidden)]
pub mod __private {
    #[cfg(not(loom))]
    pub use crate::sync::imp::UnsafeCell;
    #[cfg(loom)]
    pub use crate::sync::imp::{Mutex, MutexGuard};
}

/// Bytes a pending timer costs beside its payload `T`: the slab entry minus the payload, plus
/// the wheel's link for it.
pub fn timer_overhead_bytes<T>() -> usize {
    std::mem::size_of::<entry::Entry<T>>() - std::mem::size_of::<T>()
        + std::mem::size_of::<wheel::LinkSize>()
}
