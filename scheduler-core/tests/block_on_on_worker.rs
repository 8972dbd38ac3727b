//! `block_on` on a worker thread fails at once with a message that names the fix, instead of
//! deadlocking a 1-worker runtime that waits on its own task or timer; it keeps working on
//! blocking-pool threads and outside the runtime.

use scheduler_core::Runtime;
use std::sync::mpsc;
use std::time::Duration;

fn one_worker() -> Runtime {
    Runtime::builder().worker_threads(1).build().unwrap()
}

/// Waits at most 30 s for `rx`: the old behaviour was a silent deadlock.
fn recv<T>(rx: &mpsc::Receiver<T>, what: &str) -> T {
    rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("{what}: deadlocked"))
}

fn assert_refused(err: scheduler_core::JoinError) {
    let msg = err.panic_message().expect("a panic with a message").to_owned();
    assert!(msg.contains("worker thread") && msg.contains("spawn_blocking"), "{msg}");
}

#[test]
fn block_on_a_task_of_the_same_one_worker_runtime_is_refused() {
    let rt = one_worker();
    let h = rt.handle().clone();
    let (tx, rx) = mpsc::channel();
    let _outer = rt.spawn(async move {
        let inner = h.spawn(async { 1 });
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.block_on(inner)));
        let _ = tx.send(out.is_err());
    });
    assert!(recv(&rx, "nested block_on on the only worker"), "block_on must panic there");
}

#[test]
fn block_on_a_sleep_on_the_workers_own_shard_is_refused() {
    let rt = one_worker();
    let h = rt.handle().clone();
    let (tx, rx) = mpsc::channel();
    let jh = rt.spawn_fn(move || {
        h.block_on(h.sleep(Duration::from_millis(1)));
        let _ = tx.send(());
    });
    let out = rt.block_on(jh);
    assert!(rx.try_recv().is_err(), "the closure must not get past block_on");
    assert_refused(out.unwrap_err());
}

#[test]
fn block_on_on_a_worker_of_another_runtime_is_refused() {
    let a = one_worker();
    let b = one_worker();
    let hb = b.handle().clone();
    let out = a.block_on(a.spawn_fn(move || hb.block_on(async { 3 })));
    assert_refused(out.unwrap_err());
}

#[test]
fn block_on_works_on_blocking_threads_and_outside() {
    let rt = one_worker();
    let h = rt.handle().clone();
    let v = rt.block_on(rt.spawn_blocking(move || h.block_on(h.spawn(async { 4 })).unwrap()));
    assert_eq!(v.unwrap(), 4);
    let h = rt.handle().clone();
    let t = std::thread::spawn(move || h.block_on(h.sleep(Duration::from_millis(1))));
    t.join().unwrap();
}
