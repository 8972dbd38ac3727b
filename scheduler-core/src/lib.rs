//! A multi-threaded work-stealing executor and the Runtime that ties the scheduler crates
//! together.
//!
//! # Tour
//!
//! ```
//! use scheduler_core::{join, yield_now, Priority, Runtime};
//!
//! let rt = Runtime::builder().worker_threads(2).build().unwrap();
//! // Futures and closures as tasks, with priorities; JoinHandles are futures.
//! let a = rt.spawn(async { yield_now().await; 20 });
//! let b = rt.spawn_with(Priority::High, async { 1 });
//! let c = rt.spawn_fn(|| join(|| 10, || 11));
//! let blocking = rt.spawn_blocking(|| std::thread::sleep(std::time::Duration::from_millis(1)));
//! let total = rt.block_on(async move {
//!     blocking.await.unwrap();
//!     let (x, y) = c.await.unwrap();
//!     a.await.unwrap() + b.await.unwrap() + x + y
//! });
//! assert_eq!(total, 42);
//! assert!(rt.metrics().total_polls() >= 3);
//! ```
//!
//! # Tasks cross threads
//!
//! A task may move between workers at every `.await`, so [`Runtime::spawn`] and
//! [`Handle::spawn`] require a `Send` future. Holding a `Send` value across an `.await` is
//! fine:
//!
//! ```
//! use std::sync::Arc;
//! let rt = scheduler_core::Runtime::builder().worker_threads(1).build().unwrap();
//! let jh = rt.spawn(async {
//!     let shared = Arc::new(5);
//!     scheduler_core::yield_now().await;
//!     *shared
//! });
//! assert_eq!(rt.block_on(jh).unwrap(), 5);
//! ```
//!
//! while an `Rc` held across one makes the future `!Send`, and `spawn` rejects it:
//!
//! ```compile_fail
//! use std::rc::Rc;
//! let rt = scheduler_core::Runtime::builder().worker_threads(1).build().unwrap();
//! let jh = rt.spawn(async {
//!     let shared = Rc::new(5);
//!     // error: future cannot be sent between threads safely (`shared` is held across
//!     // this `.await`, and `Rc<i32>` is not `Send`)
//!     scheduler_core::yield_now().await;
//!     *shared
//! });
//! # drop(jh);
//! ```
//!
//! # Guides
//!
//! - [Using with tokio](tokio_guide): offloading CPU work from a tokio server, sizing both
//!   pools, timeouts and cancellation across the boundary, tokio's APIs inside our tasks,
//!   shutdown order.
//! - [Testing timed code](testing_guide): which manual-time tool to use for which test
//!   (`ManualReactor`, `DeterministicRuntime`, `Builder::clock`, `ManualClock`), with examples.
//!
//! # Architecture
//!
//! - Task cells (`task/`): one allocation per task, a state word with named bits
//!   (`task/state.rs`), a [`JoinHandle`] that is a future of `Result<T, JoinError>`.
//! - Workers (`worker.rs`): per priority class a crossbeam FIFO deque, a LIFO job deque for
//!   [`join`]/[`scope`](fn@scope), a stealable LIFO slot (`lifo.rs`); the injector per class; the
//!   global queue checked every 61 ticks, and a yielding task waits behind the injector's
//!   remote work (yield fairness, `worker.rs`); random-victim stealing with at most half the
//!   workers searching; parking with no lost wake-ups (`idle.rs` documents the protocol).
//! - Entering the pool from any thread, as rayon: [`Runtime::install`] / [`Handle::install`]
//!   (`install.rs`); [`join`], [`join_context`](fn@join_context) and [`scope`](fn@scope) called off the workers
//!   run on the runtime in context, else on the global runtime (`global.rs`,
//!   [`Builder::build_global`]).
//! - [`Priority`] classes with a bounded share for lower classes (`priority.rs`).
//! - A bounded, growing and shrinking blocking pool (`blocking.rs`).
//! - Shutdown that cancels every task that will not run again and frees it
//!   (`runtime/shared.rs`, `runtime/owned.rs`).
//!
#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod block_on;
mod blocking;
mod context;
mod defer;
mod deferred_yields;
mod deterministic;
mod done_latch;
mod forkjoin;
mod global;
mod idle;
mod install;
mod join_context;
mod join_frames;
mod lifo;
mod metrics;
mod priority;
mod queue;
mod runtime;
mod scope;
mod sync;
mod task;
mod task_set;
pub mod testing_guide;
pub mod time;
pub mod tokio_guide;
mod worker;
mod yield_now;

#[cfg(loom)]
#[doc(hidden)]
pub mod loom_api;

pub use deterministic::{DetJoinHandle, DeterministicRuntime, Stalled};
pub use forkjoin::join;
pub use global::BuildGlobalError;
pub use join_context::{join_context, FnContext};
pub use metrics::{RuntimeMetrics, WorkerMetrics};
pub use priority::Priority;
pub use runtime::{
    spawn_fn_detached, Builder, EnterGuard, Handle, Runtime, SpawnError, TryCurrentError,
    MAX_WORKER_THREADS,
};
pub use scope::{scope, Scope};
pub use task::{AbortHandle, JoinError, JoinHandle};
pub use task_set::{JoinNext, TaskSet};
pub use time::{DelayedCall, LoopingCall};
pub use yield_now::{yield_now, YieldNow};

/// The README's tour, compiled and run as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
