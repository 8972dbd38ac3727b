//! `TaskSet`: outputs in finishing order, exact accounting, abort_all, drop aborts, and
//! cancel-safe `join_next` (a dropped `join_next` loses nothing).

use scheduler_core::{Runtime, TaskSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

fn runtime() -> Runtime {
    Runtime::builder().worker_threads(2).build().unwrap()
}

#[test]
fn outputs_come_in_finishing_order() {
    let rt = runtime();
    let mut set = TaskSet::new();
    let mut gates = Vec::new();
    for i in 0..3u32 {
        let (tx, rx) = mpsc::channel::<()>();
        gates.push(tx);
        set.spawn_on(rt.handle(), async move {
            let _ = tokio_free_recv(rx).await;
            i
        });
    }
    // Release them in the order 2, 0, 1 and read them back in that order.
    let mut order = Vec::new();
    for &i in &[2usize, 0, 1] {
        gates[i].send(()).unwrap();
        order.push(rt.block_on(set.join_next()).unwrap().unwrap());
    }
    assert_eq!(order, [2, 0, 1]);
    assert!(rt.block_on(set.join_next()).is_none());
}

/// Waits on a std channel from a task without blocking a worker: polls it with a short sleep.
async fn tokio_free_recv(rx: mpsc::Receiver<()>) -> Result<(), mpsc::RecvError> {
    loop {
        match rx.try_recv() {
            Ok(()) => return Ok(()),
            Err(mpsc::TryRecvError::Empty) => {
                scheduler_core::time::sleep(Duration::from_micros(200)).await
            }
            Err(mpsc::TryRecvError::Disconnected) => return Err(mpsc::RecvError),
        }
    }
}

#[test]
fn ten_thousand_tasks_each_counted_once() {
    let rt = runtime();
    let mut set = TaskSet::new();
    for i in 0..10_000u64 {
        if i % 2 == 0 {
            set.spawn_on(rt.handle(), async move { i });
        } else {
            set.spawn_fn_on(rt.handle(), move || i);
        }
    }
    assert_eq!(set.len(), 10_000);
    let (sum, n) = rt.block_on(async {
        let (mut sum, mut n) = (0u64, 0u32);
        while let Some(out) = set.join_next().await {
            sum += out.unwrap();
            n += 1;
        }
        (sum, n)
    });
    assert_eq!((sum, n), (10_000 * 9_999 / 2, 10_000));
    assert!(set.is_empty());
}

#[test]
fn abort_all_cancels_pending_tasks_and_drop_aborts() {
    let rt = runtime();
    let drops = Arc::new(AtomicUsize::new(0));
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let mut set = TaskSet::new();
    for _ in 0..5 {
        let c = Counted(drops.clone());
        set.spawn_on(rt.handle(), async move {
            let _c = c;
            std::future::pending::<()>().await
        });
    }
    set.abort_all();
    let mut cancelled = 0;
    while let Some(out) = rt.block_on(set.join_next()) {
        assert!(out.unwrap_err().is_cancelled());
        cancelled += 1;
    }
    assert_eq!((cancelled, drops.load(Ordering::SeqCst)), (5, 5));

    let mut dropped_set = TaskSet::new();
    for _ in 0..5 {
        let c = Counted(drops.clone());
        dropped_set.spawn_on(rt.handle(), async move {
            let _c = c;
            std::future::pending::<()>().await
        });
    }
    drop(dropped_set);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while drops.load(Ordering::SeqCst) < 10 && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(drops.load(Ordering::SeqCst), 10, "dropping the set aborts its tasks");
}

#[test]
fn a_dropped_join_next_loses_no_output() {
    let rt = runtime();
    let mut set = TaskSet::new();
    let (tx, rx) = mpsc::channel::<()>();
    set.spawn_on(rt.handle(), async move {
        let _ = tokio_free_recv(rx).await;
        9
    });
    let h = rt.handle().clone();
    // The task cannot finish yet: this join_next is polled, times out and is dropped.
    let first = rt.block_on(async { h.timeout(Duration::from_millis(2), set.join_next()).await });
    assert!(first.is_err(), "nothing could be ready");
    tx.send(()).unwrap();
    let out = rt.block_on(set.join_next()).expect("the output is still in the set");
    assert_eq!(out.unwrap(), 9);
    assert!(rt.block_on(set.join_next()).is_none());
}
