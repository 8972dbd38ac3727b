//! The blocking pool grows up to its bound, never beyond, and shrinks when idle.

mod common;
use common::Gate;
use scheduler_core::Runtime;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn grows_to_its_bound_and_no_further_then_shrinks() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .max_blocking_threads(3)
        .blocking_keep_alive(Duration::from_millis(20))
        .build()
        .unwrap();
    let gate = Gate::default();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let jhs: Vec<_> = (0..6)
        .map(|i| {
            let (g, r, p) = (gate.clone(), running.clone(), peak.clone());
            rt.spawn_blocking(move || {
                let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                g.wait();
                r.fetch_sub(1, Ordering::SeqCst);
                i
            })
        })
        .collect();
    // Three run at once (proof the pool grew to 3); the other three wait in the queue.
    gate.wait_for_waiters(3);
    assert_eq!(rt.metrics().blocking_threads, 3);
    assert_eq!(rt.metrics().blocking_queue_depth, 3);
    gate.open();
    for (i, jh) in jhs.into_iter().enumerate() {
        assert_eq!(rt.block_on(jh).unwrap(), i);
    }
    assert_eq!(peak.load(Ordering::SeqCst), 3, "never more threads than the bound");
    // Idle threads exit after keep_alive (a condition, not a timing assert).
    while rt.metrics().blocking_threads > 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn blocking_work_does_not_occupy_the_worker() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let gate = Gate::default();
    let g = gate.clone();
    let blocked = rt.spawn_blocking(move || g.wait());
    gate.wait_for_waiters(1);
    // The single worker is free.
    assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
    gate.open();
    rt.block_on(blocked).unwrap();
}

#[test]
fn two_pushes_never_count_on_the_same_idle_thread() {
    // One idle pool thread, then A (waits until B ran) and B pushed back to back: each push
    // must claim its own thread, or A holds the only thread while B waits behind it forever.
    let rt = Runtime::builder()
        .worker_threads(1)
        .max_blocking_threads(4)
        .blocking_keep_alive(Duration::from_secs(60))
        .build()
        .unwrap();
    rt.block_on(rt.spawn_blocking(|| ())).unwrap();
    while rt.metrics().blocking_idle_threads < 1 {
        std::thread::yield_now(); // the thread that ran it is on its way back to idle
    }
    for _ in 0..20 {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let a = rt.spawn_blocking(move || rx.recv_timeout(Duration::from_secs(10)).is_ok());
        let b = rt.spawn_blocking(move || tx.send(()).unwrap());
        assert!(rt.block_on(a).unwrap(), "A was never joined by B: the pool did not grow");
        rt.block_on(b).unwrap();
        while rt.metrics().blocking_idle_threads < 1 {
            std::thread::yield_now();
        }
    }
    assert!(rt.metrics().blocking_threads <= 4);
}

#[test]
fn dropping_the_runtime_on_its_own_blocking_thread_returns() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let h = rt.handle().clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let jh = h.spawn_blocking(move || {
        drop(rt); // waits for the workers and the other pool threads, not for this one
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(10)).expect("the drop returned");
    drop(jh);
    while h.metrics().blocking_threads > 0 {
        std::thread::yield_now(); // the pool thread exits once its task returned
    }
}
