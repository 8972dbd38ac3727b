//! # Testing timed code
//!
//! Timed logic (timeouts, retries, periodic work, Twisted-style delayed calls) is tested on a
//! manual clock: time moves only when the test moves it, so a test of an hour-long timeout
//! runs in microseconds and never flakes on a loaded machine. Which tool fits depends on what
//! the code under test runs on:
//!
//! | the code under test | use | where callbacks and tasks run | time moves by |
//! |---|---|---|---|
//! | Twisted-style timed calls: `call_later`, [`DelayedCall`](crate::DelayedCall), [`LoopingCall`](crate::LoopingCall), [`Cooperator`](crate::time::Cooperator), [`defer_later`](crate::time::defer_later) (Twisted's `task.Clock`) | [`time::ManualReactor`](crate::time::ManualReactor) | on the thread that advances, inside `advance` | [`advance`](crate::time::ManualReactor::advance), [`pump`](crate::time::ManualReactor::pump), [`advance_stepping`](crate::time::ManualReactor::advance_stepping) |
//! | async tasks that sleep, time out or race timers, with an exact, replayable interleaving | [`DeterministicRuntime`](crate::DeterministicRuntime) (one thread, seeded order) | its own thread, in seed order | [`advance`](crate::DeterministicRuntime::advance), or [`block_on`](crate::DeterministicRuntime::block_on), which skips to the next timer whenever every task waits |
//! | the real multi-threaded runtime (work stealing, priorities, blocking pool) on virtual time | [`Builder::clock`](crate::Builder::clock) with a [`ManualClock`](scheduler_timers::ManualClock) | the runtime's workers, concurrently | [`Handle::advance`](crate::Handle::advance), [`Handle::advance_stepping`](crate::Handle::advance_stepping) |
//! | a component that only reads the time | [`ManualClock`](scheduler_timers::ManualClock) itself | (no timers) | [`ManualClock::advance`](scheduler_timers::ManualClock::advance), [`set_ns`](scheduler_timers::ManualClock::set_ns) |
//!
//! All four share one clock type and one set of rules for due calls, Twisted's: an advance
//! moves the clock first, then runs what is due, earliest first, equal deadlines in the order
//! they were scheduled, including calls scheduled during the advance that are already due;
//! `advance_stepping` instead stops at each deadline, so every call sees its own deadline as
//! "now". (`ManualReactor` is that rule; `DeterministicRuntime` drives its tasks with one, and
//! the runtime's time driver applies it on every worker's shard.)
//!
//! ## Twisted's `task.Clock`: `ManualReactor`
//!
//! ```
//! use scheduler_core::time::ManualReactor;
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//!
//! let clock = ManualReactor::new();
//! let log = Arc::new(Mutex::new(Vec::new()));
//! let l = log.clone();
//! let call = clock.call_later(Duration::from_secs(30), move || l.lock().unwrap().push("retry"));
//! clock.advance(Duration::from_secs(29));
//! assert!(log.lock().unwrap().is_empty() && call.active());
//! clock.advance(Duration::from_secs(1));
//! assert_eq!(*log.lock().unwrap(), ["retry"]);
//! assert!(call.called());
//! ```
//!
//! ## Async tasks, exactly replayed: `DeterministicRuntime`
//!
//! ```
//! use scheduler_core::{time, DeterministicRuntime};
//! use std::time::Duration;
//!
//! let rt = DeterministicRuntime::new(7);
//! let out = rt.block_on(async {
//!     let slow = time::sleep(Duration::from_secs(3600));
//!     time::timeout(Duration::from_secs(5), slow).await.is_err() // timed out
//! });
//! assert_eq!(out, Ok(true));
//! assert_eq!(rt.now(), Duration::from_secs(5)); // virtual time, no waiting
//! ```
//!
//! ## The multi-threaded runtime on virtual time: `Builder::clock`
//!
//! ```
//! use scheduler_core::Runtime;
//! use scheduler_timers::ManualClock;
//! use std::time::Duration;
//!
//! let rt = Runtime::builder().worker_threads(2).clock(ManualClock::new()).build().unwrap();
//! let h = rt.handle().clone();
//! let sleeper = rt.spawn(async move { h.sleep(Duration::from_secs(60)).await });
//! // Move time until the task's sleep is registered and fires.
//! while !sleeper.is_finished() {
//!     rt.handle().advance(Duration::from_secs(60));
//!     std::thread::yield_now();
//! }
//! rt.block_on(sleeper).unwrap();
//! ```
//!
//! ## Only a clock: `ManualClock`
//!
//! ```
//! use scheduler_timers::{Clock, ManualClock};
//! use std::time::Duration;
//!
//! let clock = ManualClock::new();
//! clock.advance(Duration::from_millis(1500));
//! assert_eq!(clock.now_ns(), 1_500_000_000);
//! ```
