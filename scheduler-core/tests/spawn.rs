//! Spawning from every kind of thread, and volume: every task runs exactly once.

use scheduler_core::{Handle, Runtime};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

fn rt(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).build().unwrap()
}

#[test]
fn spawn_from_outside_runs() {
    let rt = rt(2);
    assert_eq!(rt.block_on(rt.spawn(async { 7 })).unwrap(), 7);
    assert_eq!(rt.block_on(rt.spawn_fn(|| 8)).unwrap(), 8);
}

#[test]
fn spawn_from_worker_runs() {
    let rt = rt(2);
    let out = rt.block_on(rt.spawn(async {
        let inner = Handle::current().spawn(async { 5 });
        inner.await.unwrap() + 1
    }));
    assert_eq!(out.unwrap(), 6);
}

#[test]
fn spawn_from_blocking_thread_runs() {
    let rt = rt(2);
    let jh = rt.spawn_blocking(|| {
        let h = Handle::try_current().expect("blocking threads know their runtime");
        h.block_on(h.spawn(async { 9 })).unwrap()
    });
    assert_eq!(rt.block_on(jh).unwrap(), 9);
}

#[test]
fn spawn_from_plain_thread_through_a_handle() {
    let rt = rt(2);
    let h = rt.handle().clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let jh = h.spawn(async { 11 });
        tx.send(h.block_on(jh).unwrap()).unwrap();
    });
    assert_eq!(rx.recv().unwrap(), 11);
}

#[test]
fn try_current_outside_is_an_error() {
    assert!(Handle::try_current().is_err());
}

#[test]
fn handle_current_inside_worker() {
    let rt = rt(1);
    let n = rt.block_on(rt.spawn(async { Handle::current().worker_threads() })).unwrap();
    assert_eq!(n, 1);
}

#[test]
fn zero_workers_is_an_error() {
    let err = Runtime::builder().worker_threads(0).build().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn thread_hooks_and_names() {
    let started = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(AtomicUsize::new(0));
    let (s1, s2) = (started.clone(), stopped.clone());
    let rt = Runtime::builder()
        .worker_threads(2)
        .thread_name("hooked")
        .stack_size(1 << 20)
        .on_thread_start(move || {
            s1.fetch_add(1, Ordering::SeqCst);
        })
        .on_thread_stop(move || {
            s2.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let name = rt.block_on(rt.spawn(async { std::thread::current().name().map(String::from) }));
    assert!(name.unwrap().unwrap().starts_with("hooked-worker-"));
    assert!(rt.shutdown_timeout(std::time::Duration::from_secs(30)));
    assert_eq!(started.load(Ordering::SeqCst), 2);
    assert_eq!(stopped.load(Ordering::SeqCst), 2);
}

/// 1,000,000 tasks from outside and from workers; each runs exactly once.
#[test]
fn a_million_tasks_run_exactly_once() {
    const N: usize = 1_000_000;
    let rt = rt(2);
    let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
    let done = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<()>();
    // Half from outside, half from a task on a worker.
    for i in 0..N / 2 {
        let (runs, done, tx) = (runs.clone(), done.clone(), tx.clone());
        drop(rt.spawn(async move {
            runs[i].fetch_add(1, Ordering::Relaxed);
            if done.fetch_add(1, Ordering::AcqRel) + 1 == N {
                tx.send(()).unwrap();
            }
        }));
    }
    let (r2, d2, t2) = (runs.clone(), done.clone(), tx.clone());
    drop(rt.spawn(async move {
        for i in N / 2..N {
            let (runs, done, tx) = (r2.clone(), d2.clone(), t2.clone());
            drop(Handle::current().spawn(async move {
                runs[i].fetch_add(1, Ordering::Relaxed);
                if done.fetch_add(1, Ordering::AcqRel) + 1 == N {
                    tx.send(()).unwrap();
                }
            }));
        }
    }));
    rx.recv().unwrap();
    assert!(runs.iter().all(|r| r.load(Ordering::Relaxed) == 1));
    let m = rt.metrics();
    assert_eq!(m.workers.len(), 2);
    assert!(m.total_polls() >= N as u64);
}
