//! The Runtime's time API: Twisted's `twisted.internet.task` rebuilt for many cores.
//!
//! - [`DelayedCall`] from [`Handle::call_later`](crate::Handle::call_later) /
//!   [`Handle::call_at`](crate::Handle::call_at): `cancel`, `reset`, `delay`, `active`, `time`,
//!   with [`DelayedCallError::AlreadyCalled`] / [`DelayedCallError::AlreadyCancelled`] values.
//! - [`sleep`](fn@sleep), [`sleep_until`], [`timeout`] futures (on any worker and in `block_on`).
//! - [`ReactorTime`]: Twisted's `IReactorTime` (`now` + `call_later`), implemented by the
//!   runtime [`Handle`](crate::Handle) and by [`ManualReactor`] (Twisted's `task.Clock`), so
//!   timed logic ([`LoopingCall`], [`defer_later`](fn@defer_later), [`Cooperator`]) runs on either, and tests
//!   advance virtual time instead of sleeping.
//! - [`LoopingCall`], [`defer_later`](fn@defer_later), [`Cooperator`] / [`coiterate`], [`react`](fn@react).
//!
//! # The timer driver (`driver.rs`)
//!
//! One [`scheduler_timers`] shard per worker. A task running on worker `i` inserts into shard
//! `i`; any other thread picks a shard round-robin and inserts through its lock-free inbox;
//! when the shard reports that the new deadline is earlier than the deadline its owner
//! published (`Wake::Owner`), the inserting thread unparks that worker (the token parker keeps
//! the wake-up if it lands before the owner blocks). Each worker fires its shard's due timers
//! in its maintenance step (every 61 ticks and before parking), steals the overdue timers of
//! other shards there too (timer stealing, so one long task does not make its shard's timers
//! late), and parks until its next deadline (or another shard's deadline plus a small grace,
//! for stealing). Why no timer is lost is written in `driver.rs`.
//!
//! A fired timer either wakes a waker inline ([`sleep`](fn@sleep)) or runs its callback as a task
//! spawned at the timer's [`Priority`](crate::Priority) ([`DelayedCall`]). Calls that fire in
//! the same expiry pass share tasks: up to 32 per task, run in firing order (one spawn and one
//! wake-up per batch instead of per call; a panic in one call does not skip the others). So a
//! call that blocks delays the calls batched after it: hand blocking work to
//! [`Handle::spawn_blocking`](crate::Handle::spawn_blocking).
//!
//! # Guarantees
//!
//! - Never early: a call runs, and a sleep completes, only once the clock reads its deadline.
//! - Bounded coalescing: a parked worker's wake-up is rounded up to a 100 us grid
//!   (`driver::WAKE_GRID_NS`), and the pass a worker runs before it parks fires the timers due
//!   by the last grid point, so dense deadlines share one wake-up and one pass; a timer that
//!   falls due while its worker is idle may run up to 100 us (plus the OS's wake-up latency)
//!   after its deadline. A busy worker's periodic pass fires everything due.
//! - Equal deadlines in one shard fire first-in first-out; deadlines are exact nanoseconds
//!   (the wheel's tick only buckets them).
//! - Exactly once: a call is either run or cancelled (one compare-exchange decides), whatever
//!   threads race.
//! - Nothing leaks at shutdown: pending calls are dropped unrun (and report `cancelled()`).

mod call;
mod cooperator;
mod defer_later;
pub(crate) mod driver;
mod error;
mod handle_api;
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_api;
mod looping;
mod manual;
mod react;
mod reactor;
mod sleep;

pub use call::DelayedCall;
pub use cooperator::{coiterate, CooperativeTask, Cooperator, SliceBudget, Step};
pub use defer_later::defer_later;
pub use error::{
    secs_f64, DelayedCallError, Elapsed, InvalidDelay, LoopingCallError, SchedulerStopped,
    TaskFinished, TaskStopped,
};
pub use looping::{LoopOutcome, LoopingCall};
pub use manual::ManualReactor;
pub use react::{react, react_on, SystemExit};
pub use reactor::ReactorTime;
pub use sleep::{sleep, sleep_until, timeout, Sleep, Timeout};

pub(crate) use manual::enter as enter_manual;
