//! Yield fairness: a task that calls `yield_now()` does not run again before work that was
//! queued elsewhere when it yielded (the injector: remote spawns; other classes' due work).
//! Exact orders on a 1-worker runtime; the only synchronisation is channels, never timing.

use scheduler_core::{yield_now, Priority, Runtime};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Log = Arc<Mutex<Vec<String>>>;

fn one_worker() -> Runtime {
    Runtime::builder().worker_threads(1).build().unwrap()
}

fn push(log: &Log, what: impl Into<String>) {
    log.lock().unwrap().push(what.into());
}

/// Spawns task A on the only worker: it logs "A start", tells the test it runs, blocks the
/// worker until `go`, then yields once and logs "A resumed". Returns A's handle and `go`.
fn spawn_yielder(rt: &Runtime, log: &Log) -> (scheduler_core::JoinHandle<()>, mpsc::Sender<()>) {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let log = log.clone();
    let a = rt.spawn(async move {
        push(&log, "A start");
        ready_tx.send(()).unwrap();
        go_rx.recv().unwrap(); // the worker is busy in A's poll: what is spawned now queues
        yield_now().await;
        push(&log, "A resumed");
    });
    ready_rx.recv().unwrap();
    (a, go_tx)
}

#[test]
fn a_remote_spawn_queued_before_the_yield_runs_before_the_yielder_resumes() {
    let rt = one_worker();
    let log = Log::default();
    let (a, go) = spawn_yielder(&rt, &log);
    let l = log.clone();
    let b = rt.spawn(async move { push(&l, "B") }); // from this (foreign) thread: the injector
    go.send(()).unwrap();
    rt.block_on(a).unwrap();
    rt.block_on(b).unwrap();
    assert_eq!(*log.lock().unwrap(), ["A start", "B", "A resumed"]);
}

#[test]
fn every_remote_spawn_queued_before_the_yield_runs_first_even_beyond_one_batch() {
    let rt = one_worker();
    let log = Log::default();
    let (a, go) = spawn_yielder(&rt, &log);
    // 40: more than one injector batch (crossbeam moves at most 32 at a time).
    let bs: Vec<_> = (0..40)
        .map(|i| {
            let l = log.clone();
            rt.spawn(async move { push(&l, format!("B{i}")) })
        })
        .collect();
    go.send(()).unwrap();
    rt.block_on(a).unwrap();
    for b in bs {
        rt.block_on(b).unwrap();
    }
    let log = log.lock().unwrap();
    let mut want = vec!["A start".to_owned()];
    want.extend((0..40).map(|i| format!("B{i}")));
    want.push("A resumed".to_owned());
    assert_eq!(*log, want);
}

#[test]
fn a_high_task_queued_before_the_yield_runs_before_the_yielder_resumes() {
    let rt = one_worker();
    let log = Log::default();
    let (a, go) = spawn_yielder(&rt, &log);
    let l = log.clone();
    let h = rt.spawn_with(Priority::High, async move { push(&l, "H") });
    go.send(()).unwrap();
    rt.block_on(a).unwrap();
    rt.block_on(h).unwrap();
    assert_eq!(*log.lock().unwrap(), ["A start", "H", "A resumed"]);
}

/// A lower class is served at the bounded share even while a Normal task yields in a loop:
/// the Low task queued before the first yield runs within K + 1 = 9 picks.
#[test]
fn a_low_task_gets_its_bounded_share_while_a_normal_task_keeps_yielding() {
    let rt = one_worker();
    let log = Log::default();
    let (ready_tx, ready_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let l = log.clone();
    let a = rt.spawn(async move {
        ready_tx.send(()).unwrap();
        go_rx.recv().unwrap();
        for i in 0..20 {
            yield_now().await;
            push(&l, format!("A{i}"));
        }
    });
    ready_rx.recv().unwrap();
    let l = log.clone();
    let low = rt.spawn_with(Priority::Low, async move { push(&l, "L") });
    go_tx.send(()).unwrap();
    rt.block_on(a).unwrap();
    rt.block_on(low).unwrap();
    let log = log.lock().unwrap();
    let at = log.iter().position(|e| e == "L").unwrap();
    assert!(at <= 9, "Low ran after {at} resumes of the yielder: {log:?}");
}

/// A yielder is not starved by a stream of remote spawns that keeps the injector busy.
#[test]
fn a_yielder_keeps_running_under_a_stream_of_remote_spawns() {
    let rt = one_worker();
    let resumed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let r = resumed.clone();
    let a = rt.spawn(async move {
        for _ in 0..5 {
            yield_now().await;
            r.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let mut spawned = 0u64;
    let mut pending = Vec::new();
    while resumed.load(std::sync::atomic::Ordering::SeqCst) < 5 {
        assert!(spawned < 2_000_000, "the yielder starved behind remote spawns");
        pending.push(rt.spawn(async {}));
        spawned += 1;
        if pending.len() >= 10_000 {
            for jh in pending.drain(..) {
                rt.block_on(jh).unwrap();
            }
        }
    }
    rt.block_on(a).unwrap();
    for jh in pending {
        rt.block_on(jh).unwrap();
    }
}

/// A task waiting behind remote work when the runtime stops is cancelled like every queued
/// task: its JoinHandle resolves, nothing is left behind.
#[test]
fn a_yielded_task_waiting_behind_remote_work_is_cancelled_at_shutdown() {
    let rt = one_worker();
    let log = Log::default();
    let (a, go) = spawn_yielder(&rt, &log);
    let h = rt.handle().clone();
    let l = log.clone();
    let stopper = rt.spawn(async move {
        push(&l, "stop");
        h.stop();
    });
    go.send(()).unwrap();
    let out = rt.block_on(a);
    assert!(out.unwrap_err().is_cancelled(), "A never ran again: cancelled");
    rt.block_on(stopper).unwrap();
    assert_eq!(*log.lock().unwrap(), ["A start", "stop"]);
}
