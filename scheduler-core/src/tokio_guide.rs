//! # Using with tokio
//!
//! A server that already runs on tokio (axum, hyper, tonic) keeps tokio for its I/O and hands
//! the CPU-heavy part of a request to this runtime's work-stealing pool, the way a
//! "dedicated executor" or `spawn_blocking` would, but with priorities, fork-join inside the
//! job and cheap timers. Everything below compiles as a doctest against a real tokio runtime.
//!
//! ## Sizing: leave tokio its cores
//!
//! Both runtimes default to one thread per CPU. Give tokio the threads its I/O needs and this
//! pool the rest with [`Builder::leave_cores`](crate::Builder::leave_cores), so the two do
//! not oversubscribe the machine:
//!
//! ```
//! use scheduler_core::Runtime;
//! let io_threads = 1;
//! let tokio_rt = tokio::runtime::Builder::new_multi_thread()
//!     .worker_threads(io_threads)
//!     .enable_all()
//!     .build()
//!     .unwrap();
//! let compute = Runtime::builder().leave_cores(io_threads).build().unwrap();
//! # drop((compute, tokio_rt));
//! ```
//!
//! ## Offloading a job from a handler
//!
//! A [`JoinHandle`](crate::JoinHandle) is a plain future: a tokio task spawns the job on our
//! pool through a [`Handle`](crate::Handle) and awaits it. A latency-sensitive job can jump
//! the queue with [`Priority::High`](crate::Priority::High); inside the job, `join` and
//! `scope` split it across our workers.
//!
//! ```
//! use scheduler_core::{join, Priority, Runtime};
//! let compute = Runtime::builder().worker_threads(2).build().unwrap();
//! let tokio_rt = tokio::runtime::Runtime::new().unwrap();
//! let pool = compute.handle().clone();
//! let answer = tokio_rt.block_on(async move {
//!     // In an axum handler this is the body of `async fn handler(..)`.
//!     let job = pool.spawn_fn_with(Priority::High, || {
//!         let (a, b) = join(|| (0..1_000u64).sum::<u64>(), || (1_000..2_000u64).sum::<u64>());
//!         a + b
//!     });
//!     job.await.unwrap()
//! });
//! assert_eq!(answer, (0..2_000u64).sum::<u64>());
//! ```
//!
//! Without a `Handle` at hand, [`Handle::enter`](crate::Handle::enter) makes the pool current
//! on the tokio thread for a moment, so [`Handle::current`](crate::Handle::current) and the
//! free [`time`](crate::time) functions find it (the guard is not `Send`: keep it out of
//! `.await`s).
//!
//! ## Timeouts and cancellation across the boundary
//!
//! Dropping a `JoinHandle` detaches the task: it runs on. So when a tokio timeout (or a
//! `select!`, or an aborted tokio task) drops the handle, cancel the job explicitly with an
//! [`AbortHandle`](crate::AbortHandle); a small guard makes that automatic:
//!
//! ```
//! use scheduler_core::{AbortHandle, Runtime};
//! use std::time::Duration;
//!
//! /// Aborts the job when the awaiting side goes away.
//! struct AbortOnDrop(AbortHandle);
//! impl Drop for AbortOnDrop {
//!     fn drop(&mut self) {
//!         self.0.abort();
//!     }
//! }
//!
//! let compute = Runtime::builder().worker_threads(1).build().unwrap();
//! let tokio_rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
//! let pool = compute.handle().clone();
//! let slow = pool.spawn(std::future::pending::<u32>());
//! let abort = slow.abort_handle();
//! let outcome = tokio_rt.block_on(async move {
//!     let _cancel = AbortOnDrop(slow.abort_handle());
//!     tokio::time::timeout(Duration::from_millis(5), slow).await
//! });
//! assert!(outcome.is_err()); // tokio's Elapsed
//! while !abort.is_finished() {
//!     std::thread::yield_now(); // the job was cancelled by the guard
//! }
//! ```
//!
//! Our own futures work the other way round too: [`Handle::sleep`](crate::Handle::sleep),
//! [`Handle::timeout`](crate::Handle::timeout) and every `Deferred` can be awaited from tokio
//! tasks.
//!
//! ## tokio's APIs inside our tasks
//!
//! tokio's timers, `tokio::spawn` and its I/O types need tokio's context on the thread that
//! polls them. [`Builder::wrap_threads`](crate::Builder::wrap_threads) runs every thread of
//! ours inside it for the thread's whole life (see its example with `tokio::time::sleep` and
//! `tokio::spawn`); no guard leaks, and tokio is not a dependency of this crate.
//!
//! ## Shutdown order
//!
//! Drop this runtime first, then tokio's. Dropping ours cancels the tasks that will not run
//! again (their `JoinHandle`s, awaited by tokio tasks, resolve with a cancelled
//! [`JoinError`](crate::JoinError); pending [`sleep`](crate::time::sleep)s and
//! [`timeout`](crate::time::timeout)s complete, the latter with
//! [`Elapsed::is_shutdown`](crate::time::Elapsed::is_shutdown)), and tasks that used tokio
//! resources drop them while tokio still runs. Dropped the other way round, a task of ours
//! blocked on a tokio resource would find tokio gone.
//!
//! ## What to measure
//!
//! Offload round trips are covered by the crate's tests
//! (`tests/tokio_offload.rs`: 10,000 jobs from tokio tasks with exact sums, and a tokio
//! timeout aborting our task).
