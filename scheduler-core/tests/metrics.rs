//! Runtime metrics read in states the test sets up exactly: a held worker's queues, the
//! injector, steals that must happen, and parks.
//!
//! What is counted (`src/metrics.rs`): `injector_depth` sums the injector of every class;
//! a worker's `local_queue_depth` sums its per-class task deques plus one if its LIFO slot is
//! occupied (fork-join jobs are not counted); `steals` / `stolen_from` come from the thief's
//! per-victim counters; `parks` is bumped when a worker comes back from parking.

mod common;
use common::Gate;
use scheduler_core::{Handle, Runtime};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

fn rt(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).thread_name("metrics").build().unwrap()
}

/// Spins (yielding the thread) until `cond` holds; panics after a generous bound instead of
/// hanging.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..50_000_000u64 {
        if cond() {
            return;
        }
        std::thread::yield_now();
    }
    panic!("never saw: {what}");
}

/// The worker index of the calling worker thread, from its name (`metrics-worker-<i>`).
fn worker_index() -> usize {
    let name = std::thread::current().name().map(str::to_owned).unwrap_or_default();
    match name.strip_prefix("metrics-worker-").map(str::parse) {
        Some(Ok(i)) => i,
        _ => panic!("not on a worker thread: {name:?}"),
    }
}

#[test]
fn injector_depth_counts_tasks_spawned_while_the_only_worker_is_held() {
    let rt = rt(1);
    let gate = Gate::default();
    let g = gate.clone();
    let holder = rt.spawn(async move { g.wait() });
    gate.wait_for_waiters(1);
    let ran = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..10)
        .map(|i| {
            let ran = ran.clone();
            rt.spawn(async move {
                ran.fetch_add(1, Ordering::SeqCst);
                i
            })
        })
        .collect();
    let m = rt.metrics();
    assert_eq!(m.injector_depth, 10);
    assert_eq!(m.workers[0].local_queue_depth, 0, "spawns from outside go to the injector");
    assert_eq!(m.live_tasks, 11);
    assert_eq!(ran.load(Ordering::SeqCst), 0);

    gate.open();
    rt.block_on(holder).unwrap();
    for (i, jh) in handles.into_iter().enumerate() {
        assert_eq!(rt.block_on(jh).unwrap(), i);
    }
    assert_eq!(ran.load(Ordering::SeqCst), 10);
    let m = rt.metrics();
    assert_eq!(m.injector_depth, 0);
    assert_eq!(m.workers[0].local_queue_depth, 0);
    wait_until("live_tasks == 0", || rt.metrics().live_tasks == 0);
}

#[test]
fn local_queue_depth_counts_children_spawned_by_the_running_task() {
    let rt = rt(1);
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let (depth, injector, children) = rt
        .block_on(rt.spawn(async move {
            let children: Vec<_> = (0..5)
                .map(|_| {
                    let r = r.clone();
                    Handle::current().spawn(async move {
                        r.fetch_add(1, Ordering::SeqCst);
                    })
                })
                .collect();
            // Still inside this poll, on the only worker: nothing else can take them.
            let m = Handle::current().metrics();
            (m.workers[0].local_queue_depth, m.injector_depth, children)
        }))
        .unwrap();
    assert_eq!(depth, 5);
    assert_eq!(injector, 0);
    for jh in children {
        rt.block_on(jh).unwrap();
    }
    assert_eq!(ran.load(Ordering::SeqCst), 5);
    assert_eq!(rt.metrics().workers[0].local_queue_depth, 0);
}

/// Pending until `ready`; stores its waker on every poll.
struct WaitFlag {
    ready: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
}

impl Future for WaitFlag {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.ready.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A task woken by the running task on the same worker sits in the LIFO slot, which
/// `local_queue_depth` counts on top of the deques.
#[test]
fn local_queue_depth_counts_the_lifo_slot() {
    let rt = rt(1);
    let ready = Arc::new(AtomicBool::new(false));
    let waker = Arc::new(Mutex::new(None::<Waker>));
    let sleeper = rt.spawn(WaitFlag { ready: ready.clone(), waker: waker.clone() });
    // Its first poll stored the waker; on the only worker, that poll has returned (and the
    // task gone idle) before the next task below starts.
    wait_until("the sleeper's first poll", || waker.lock().unwrap().is_some());
    let (before, after) = rt
        .block_on(rt.spawn(async move {
            let children: Vec<_> = (0..5).map(|_| Handle::current().spawn(async {})).collect();
            let before = Handle::current().metrics().workers[0].local_queue_depth;
            ready.store(true, Ordering::SeqCst);
            let w = waker.lock().unwrap().take().expect("stored by the first poll");
            w.wake(); // from this worker: into its LIFO slot
            let after = Handle::current().metrics().workers[0].local_queue_depth;
            drop(children);
            (before, after)
        }))
        .unwrap();
    assert_eq!(before, 5);
    assert_eq!(after, 6, "five in the deque, one in the LIFO slot");
    rt.block_on(sleeper).unwrap();
    wait_until("queues drained", || rt.metrics().workers[0].local_queue_depth == 0);
}

/// Worker A's task spawns children onto A's own deque and then blocks A until all of them ran:
/// only the other worker can run them, and only by stealing.
#[test]
fn children_of_a_blocked_worker_are_stolen_and_counted_on_both_sides() {
    const N: usize = 64;
    let rt = rt(2);
    let (a, ran_on) = rt
        .block_on(rt.spawn(async {
            let a = worker_index();
            let done = Arc::new(AtomicUsize::new(0));
            let ran_on = Arc::new(Mutex::new(Vec::new()));
            for _ in 0..N {
                let done = done.clone();
                let ran_on = ran_on.clone();
                drop(Handle::current().spawn(async move {
                    ran_on.lock().unwrap().push(worker_index());
                    done.fetch_add(1, Ordering::SeqCst);
                }));
            }
            while done.load(Ordering::SeqCst) < N {
                std::thread::yield_now(); // holds worker A inside this poll
            }
            let ran_on = ran_on.lock().unwrap().clone();
            (a, ran_on)
        }))
        .unwrap();
    let b = 1 - a;
    assert_eq!(ran_on, vec![b; N], "every child ran once, on the other worker");
    let m = rt.metrics();
    assert!(m.total_steals() >= 1);
    assert!(m.workers[b].steals >= 1);
    assert!(m.workers[a].stolen_from >= 1);
    // Two workers: each one's steals are all taken from the other.
    assert_eq!(m.workers[a].stolen_from, m.workers[b].steals);
    assert_eq!(m.workers[b].stolen_from, m.workers[a].steals);
    let stolen_from: u64 = m.workers.iter().map(|w| w.stolen_from).sum();
    assert_eq!(stolen_from, m.total_steals());
}

/// `parks` counts a worker's returns from parking: once the idle worker has parked, the next
/// spawn from outside wakes it and the count shows it before the task runs.
#[test]
fn parks_are_counted_when_an_idle_worker_is_woken() {
    let rt = rt(1);
    assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
    let mut rounds = 0u32;
    while rt.metrics().workers[0].parks == 0 {
        rounds += 1;
        assert!(rounds < 100_000, "the idle worker never parked and woke");
        // Give the idle worker time to go from spinning to parked, then wake it with a task.
        for _ in 0..100 {
            std::thread::yield_now();
        }
        assert_eq!(rt.block_on(rt.spawn(async { 2 })).unwrap(), 2);
    }
    assert!(rt.metrics().workers[0].parks > 0);
}
