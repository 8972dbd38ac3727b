//! The soak's operations: each starts something on the runtime and returns what must later
//! be settled (awaited, cancelled or stopped), so that the driver keeps a bounded window of
//! work in flight and can account for every item exactly.

use super::ledger::{count, Ledger};
use scheduler_core::time::{defer_later, LoopingCall};
use scheduler_core::{DelayedCall, Handle, JoinHandle};
use scheduler_deferred::{Deferred, DeferredLock, DeferredQueue, Failure};
use std::sync::Arc;
use std::time::Duration;

/// The payload of every panic the soak raises on purpose (its panic hook keeps them quiet).
pub const PLANNED_PANIC: &str = "schedbench stress: planned panic";

/// Shared state the operations use.
#[derive(Debug, Clone)]
pub struct Env {
    /// The runtime under test.
    pub handle: Handle,
    /// The accounting.
    pub ledger: Arc<Ledger>,
    /// One queue, one lock shared by every operation that uses them.
    pub queue: Arc<DeferredQueue<u64>>,
    /// The lock of the lock operations.
    pub lock: Arc<DeferredLock>,
}

/// Something started that the driver must settle.
#[derive(Debug)]
pub enum InFlight {
    /// A task; `expect` is its planned outcome.
    Task(JoinHandle<u64>, Expect),
    /// A timer; cancel it at settle time when `cancel` (it may have fired already).
    Timer(DelayedCall, bool),
    /// A Deferred that must resolve with `value`.
    Deferred(Deferred<u64>, u64),
    /// A running loop, stopped at settle time.
    Loop(LoopingCall, Deferred<LoopingCall>),
}

/// What a task's `JoinHandle` must report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// This value.
    Value(u64),
    /// A panic.
    Panic,
    /// A cancellation (the task was aborted while pending).
    Cancelled,
}

/// The number of operation kinds [`start`] knows.
pub const KINDS: u64 = 15;

/// Starts operation `kind` (`0..KINDS`) with the random word `r` for its parameters.
pub fn start(env: &Env, kind: u64, r: u64) -> InFlight {
    let h = &env.handle;
    let us = move |max: u64| Duration::from_micros(r % max);
    match kind {
        0 => task(env, h.spawn(async move { r }), Expect::Value(r)),
        1 => task(env, h.spawn(async { std::panic::panic_any(PLANNED_PANIC) }), Expect::Panic),
        2 => {
            let jh = h.spawn(std::future::pending::<u64>());
            jh.abort();
            task(env, jh, Expect::Cancelled)
        }
        3 => task(env, h.spawn_fn(move || r ^ 1), Expect::Value(r ^ 1)),
        4 if r % 8 == 0 => task(env, h.spawn_blocking(move || r + 2), Expect::Value(r + 2)),
        4 | 5 => timer(env, us(300), false),
        6 => timer(env, us(5_000) + Duration::from_millis(1), true),
        7 => {
            let InFlight::Timer(call, _) = timer(env, Duration::from_millis(50), false) else {
                unreachable!("timer returns a timer")
            };
            let _ = call.reset(us(200)); // earlier: it fires soon
            InFlight::Timer(call, false)
        }
        8 => {
            let h2 = h.clone();
            task(
                env,
                h.spawn(async move {
                    h2.sleep(us(200)).await;
                    r
                }),
                Expect::Value(r),
            )
        }
        9 => {
            let h2 = h.clone();
            let timed = async move {
                match h2.timeout(us(150), std::future::pending::<()>()).await {
                    Err(e) if !e.is_shutdown() => r,
                    _ => u64::MAX, // a surprise: the value check catches it
                }
            };
            task(env, h.spawn(timed), Expect::Value(r))
        }
        10 => deferred(env, defer_later(h, us(300), move || Ok::<_, Failure>(r)), r),
        11 => chain(env, r),
        12 => queue(env, r),
        13 => locked(env, r),
        _ => looping(env, us(100) + Duration::from_micros(20)),
    }
}

fn task(env: &Env, jh: JoinHandle<u64>, expect: Expect) -> InFlight {
    count(&env.ledger.tasks_spawned);
    InFlight::Task(jh, expect)
}

/// A `call_later` from the driver thread, or (one in four) from a worker.
fn timer(env: &Env, delay: Duration, cancel: bool) -> InFlight {
    count(&env.ledger.timers_set);
    let ledger = env.ledger.clone();
    let fire = move || count(&ledger.timers_fired);
    let call = if delay.subsec_nanos() % 4 == 0 {
        let h = env.handle.clone();
        let jh = env.handle.spawn_fn(move || h.call_later(delay, fire));
        env.handle.block_on(jh).expect("a call_later from a worker")
    } else {
        env.handle.call_later(delay, fire)
    };
    InFlight::Timer(call, cancel)
}

fn deferred(env: &Env, d: Deferred<u64>, value: u64) -> InFlight {
    count(&env.ledger.deferreds_started);
    InFlight::Deferred(d, value)
}

/// A chain of three callbacks, fired from a task.
fn chain(env: &Env, r: u64) -> InFlight {
    let d = Deferred::<u64>::new();
    let end = d.clone().add_callback(|v| v + 1).add_callback(|v| v * 2).add_callback(|v| v - 2);
    drop(env.handle.spawn_fn(move || d.callback(r % 1_000_000).is_ok()));
    deferred(env, end, (r % 1_000_000 + 1) * 2 - 2)
}

/// A get on the shared queue, and a put of the same value from a task.
fn queue(env: &Env, r: u64) -> InFlight {
    let got = env.queue.get().expect("an unbounded queue");
    let q = env.queue.clone();
    drop(env.handle.spawn_fn(move || q.put(r).is_ok()));
    // Gets and puts pair in FIFO order: the value this get receives is some put's; the sum
    // is what is checked, so record the get as resolving to whatever came (see `settle`).
    deferred(env, got.add_callback(|_| 0), 0)
}

/// A `DeferredLock::run` from a task.
fn locked(env: &Env, r: u64) -> InFlight {
    let lock = env.lock.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    drop(env.handle.spawn_fn(move || {
        let _ = tx.send(lock.run(move || Deferred::succeed(r)));
    }));
    let d = rx.recv().expect("the task sends its run's Deferred");
    deferred(env, d, r)
}

fn looping(env: &Env, interval: Duration) -> InFlight {
    count(&env.ledger.loops_started);
    let lc = LoopingCall::new(env.handle.clone(), || ());
    let done = lc.start(interval, false).expect("a new loop starts");
    InFlight::Loop(lc, done)
}
