//! Shutdown: never-run tasks resolve cancelled, nothing leaks, spawning after is an error.

mod common;
use common::{hold_every_worker, ForeverCountingPolls, Gate, LiveCounter};
use scheduler_core::{Runtime, SpawnError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn shutdown_with_100_000_pending_tasks_cancels_them_all() {
    const N: usize = 100_000;
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let handle = rt.handle().clone();
    let gate = Gate::default();
    let live = LiveCounter::default();
    // Hold both workers inside a poll.
    let holders: Vec<_> = (0..2)
        .map(|_| {
            let g = gate.clone();
            rt.spawn(async move {
                g.wait();
                1
            })
        })
        .collect();
    gate.wait_for_waiters(2);
    let pending: Vec<_> = (0..N)
        .map(|i| {
            let guard = live.guard();
            rt.spawn(async move {
                let _g = guard;
                i
            })
        })
        .collect();
    assert_eq!(live.live(), N);
    let stopper = std::thread::spawn(move || rt.shutdown_timeout(Duration::from_secs(600)));
    while !handle.is_shutdown() {
        std::thread::yield_now();
    }
    gate.open(); // the held polls finish; nothing else may run
    assert!(stopper.join().unwrap(), "all threads exited");
    for h in holders {
        assert_eq!(handle.block_on(h).unwrap(), 1, "running tasks finish their poll");
    }
    for jh in pending {
        assert!(handle.block_on(jh).unwrap_err().is_cancelled());
    }
    assert_eq!(live.live(), 0, "every never-run future was dropped");
    assert_eq!(handle.metrics().live_tasks, 0);
}

#[test]
fn idle_tasks_are_dropped_at_shutdown() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let live = LiveCounter::default();
    let polled = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..1000)
        .map(|_| rt.spawn(ForeverCountingPolls::new(live.guard(), polled.clone())))
        .collect();
    // Each was polled at least once ...
    while polled.load(Ordering::SeqCst) < 1000 {
        std::thread::yield_now();
    }
    // ... and each of those polls has returned (both workers are now inside another poll),
    // so every task is idle, not queued nor running.
    let h = rt.handle().clone();
    let (gate, holders) = hold_every_worker(&h, 2);
    gate.open();
    for jh in holders {
        h.block_on(jh).unwrap();
    }
    assert_eq!(live.live(), 1000);
    drop(rt);
    assert_eq!(live.live(), 0);
    for jh in handles {
        assert!(h.block_on(jh).unwrap_err().is_cancelled());
    }
    assert_eq!(h.metrics().live_tasks, 0);
}

#[test]
fn spawn_after_shutdown_is_an_error_value() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let h = rt.handle().clone();
    assert!(rt.shutdown_timeout(Duration::from_secs(60)));
    assert!(h.is_shutdown());
    let live = LiveCounter::default();
    let g = live.guard();
    assert_eq!(h.try_spawn(async move { drop(g) }).unwrap_err(), SpawnError::Shutdown);
    let g = live.guard();
    let jh = h.spawn(async move { drop(g) });
    assert!(h.block_on(jh).unwrap_err().is_cancelled());
    let jh = h.spawn_blocking(|| 1);
    assert!(h.block_on(jh).unwrap_err().is_cancelled());
    assert_eq!(live.live(), 0);
}

#[test]
fn handles_outlive_the_runtime() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let jh = rt.spawn(async { 3 });
    let h = rt.handle().clone();
    let v = h.block_on(jh).unwrap();
    drop(rt);
    assert_eq!(v, 3);
    assert!(h.metrics().workers.len() == 1);
}
