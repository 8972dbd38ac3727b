//! Detached closures (`spawn_fn_detached`, rayon's `spawn`): each one runs or is dropped
//! exactly once, a panic is counted and contained, shutdown drops the ones still queued, and
//! the free function finds the runtime the caller is on.

use scheduler_core::{spawn_fn_detached, Handle, Runtime};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

fn rt(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).build().unwrap()
}

/// Counts its drops: a closure holding one is dropped exactly once whether it ran or not.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn every_closure_runs_once_and_is_dropped_once() {
    let rt = rt(2);
    let (ran, dropped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    const N: usize = 10_000;
    for _ in 0..N {
        let (ran, guard) = (ran.clone(), DropCount(dropped.clone()));
        rt.spawn_fn_detached(move || {
            let _guard = guard;
            ran.fetch_add(1, Ordering::SeqCst);
        });
    }
    wait_until("every closure", || dropped.load(Ordering::SeqCst) == N);
    assert_eq!(ran.load(Ordering::SeqCst), N);
    wait_until("live tasks back to zero", || rt.metrics().live_tasks == 0);
    drop(rt);
    assert_eq!((ran.load(Ordering::SeqCst), dropped.load(Ordering::SeqCst)), (N, N));
}

/// A detached chain, spawned from the workers with the free function (rayon's `spawn`): each
/// link spawns the next on the runtime it runs on.
fn link(left: usize, ran: Arc<AtomicUsize>, done: mpsc::Sender<()>) {
    ran.fetch_add(1, Ordering::SeqCst);
    if left == 0 {
        done.send(()).unwrap();
    } else {
        spawn_fn_detached(move || link(left - 1, ran, done));
    }
}

#[test]
fn a_chain_of_detached_closures_stays_on_its_runtime() {
    let rt = rt(2);
    let ran = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    for _ in 0..10 {
        let (ran, tx) = (ran.clone(), tx.clone());
        rt.handle().spawn_fn_detached(move || link(1_000, ran, tx));
        rx.recv_timeout(Duration::from_secs(20)).expect("the chain ends");
    }
    assert_eq!(ran.load(Ordering::SeqCst), 10 * 1_001);
    wait_until("live tasks back to zero", || rt.metrics().live_tasks == 0);
    let polls = rt.metrics().total_polls();
    assert!(polls >= 10 * 1_001, "the links ran on this runtime's workers: {polls} polls");
}

#[test]
fn a_panicking_detached_closure_is_counted_and_contained() {
    let rt = rt(2);
    let (ran, dropped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    for i in 0..100 {
        let (ran, guard) = (ran.clone(), DropCount(dropped.clone()));
        rt.spawn_fn_detached(move || {
            let _guard = guard;
            if i % 10 == 0 {
                panic!("detached boom {i}");
            }
            ran.fetch_add(1, Ordering::SeqCst);
        });
    }
    wait_until("every closure", || dropped.load(Ordering::SeqCst) == 100);
    wait_until("the panics counted", || rt.metrics().panics == 10);
    assert_eq!(ran.load(Ordering::SeqCst), 90);
    // The workers survived: they still run work.
    assert_eq!(rt.block_on(rt.spawn_fn(|| 5)).unwrap(), 5);
    wait_until("live tasks back to zero", || rt.metrics().live_tasks == 0);
}

#[test]
fn shutdown_drops_each_pending_detached_closure_exactly_once() {
    let rt = rt(1);
    let (ran, dropped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    // Hold the only worker until shutdown begins, so the closures below stay queued.
    let (started_tx, started_rx) = mpsc::channel();
    let h = rt.handle().clone();
    rt.spawn_fn_detached(move || {
        started_tx.send(()).unwrap();
        while !h.is_shutdown() {
            std::thread::yield_now();
        }
    });
    started_rx.recv().unwrap();
    const N: usize = 1_000;
    for _ in 0..N {
        let (ran, guard) = (ran.clone(), DropCount(dropped.clone()));
        rt.spawn_fn_detached(move || {
            let _guard = guard;
            ran.fetch_add(1, Ordering::SeqCst);
        });
    }
    drop(rt);
    assert_eq!(dropped.load(Ordering::SeqCst), N, "each closure dropped once");
    assert_eq!(ran.load(Ordering::SeqCst), 0, "none ran after shutdown began");
}

#[test]
fn after_shutdown_a_detached_closure_is_dropped_unrun() {
    let rt = rt(1);
    let h = rt.handle().clone();
    drop(rt);
    let (ran, dropped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (r, guard) = (ran.clone(), DropCount(dropped.clone()));
    h.spawn_fn_detached(move || {
        let _guard = guard;
        r.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!((ran.load(Ordering::SeqCst), dropped.load(Ordering::SeqCst)), (0, 1));
}

#[test]
fn the_free_function_uses_the_entered_runtime() {
    let rt = rt(1);
    let (tx, rx) = mpsc::channel();
    {
        let _guard = rt.handle().enter();
        spawn_fn_detached(move || tx.send(Handle::current().worker_threads()).unwrap());
    }
    assert_eq!(rx.recv_timeout(Duration::from_secs(20)).unwrap(), 1);
}

#[test]
fn a_detached_spawn_wakes_an_idle_worker_while_the_spawner_stays_busy() {
    // The spawner's worker never returns to its loop until the spawned closure ran: only the
    // other worker can run it, so the spawn must have woken it.
    let rt = rt(2);
    let (tx, rx) = mpsc::channel();
    rt.block_on(rt.spawn_fn(move || {
        let flag = Arc::new(AtomicUsize::new(0));
        let f = flag.clone();
        spawn_fn_detached(move || f.store(1, Ordering::SeqCst));
        let deadline = Instant::now() + Duration::from_secs(20);
        while flag.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "the other worker never ran the closure");
            std::hint::spin_loop();
        }
        tx.send(()).unwrap();
    }))
    .unwrap();
    rx.recv().unwrap();
}
