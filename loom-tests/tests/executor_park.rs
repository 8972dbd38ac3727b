//! Claim: the park/notify protocol of `scheduler-core/src/idle.rs` loses no wake-up: work
//! pushed while the last awake worker goes to sleep is always picked up, and a worker chosen
//! by a notifier always comes back.
//!
//! Protocol doc: `scheduler_core::idle` module header ("Why no wake-up is lost").
//! Threads: main (pusher) + 1 or 2 workers. Bound: LOOM_MAX_PREEMPTIONS=2,
//! LOOM_MAX_BRANCHES=10000. A lost wake-up shows as a loom deadlock (every thread blocked).
//! Teeth: two `should_panic` models (the push without its notification; the last searcher
//! parking without its re-check) deadlock. The queue is a mutex stand-in under loom, so the
//! `SeqCst` fences themselves are argued in `idle.rs`, not checked here.

#[cfg(loom)]
use loom::{sync::atomic::AtomicBool, sync::atomic::Ordering, sync::Arc, thread};
#[cfg(not(loom))]
use std::{sync::atomic::AtomicBool, sync::atomic::Ordering, sync::Arc, thread};

use loom_tests::model;

#[cfg(loom)]
use scheduler_core::loom_api::ParkProtocol;

/// The worker loop of `worker.rs` reduced to the protocol: take work, else try to search
/// (one more look), else park. Returns once it took an item or `done` is set.
#[cfg(loom)]
fn worker(p: &ParkProtocol, idx: usize, done: &AtomicBool) -> bool {
    let mut searching = false;
    loop {
        if let Some(_item) = p.pop() {
            if searching && p.stop_searching() {
                p.notify();
            }
            return true;
        }
        if done.load(Ordering::Acquire) {
            if searching {
                let _ = p.stop_searching();
            }
            return false;
        }
        if !searching && p.try_start_searching() {
            searching = true;
            continue;
        }
        searching = p.park(idx, searching);
    }
}

/// One worker parks while main pushes one item: the worker must take it.
#[test]
#[cfg(loom)]
fn push_while_the_last_worker_parks() {
    model(|| teeth(|p| p.push(7)));
}

/// Two workers, one item: one takes it, then stops the other (shutdown-style unpark).
#[test]
#[cfg(loom)]
fn two_workers_one_item() {
    model(|| {
        let p = Arc::new(ParkProtocol::new(2));
        let done = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..2)
            .map(|idx| {
                let (p, d) = (p.clone(), done.clone());
                thread::spawn(move || {
                    let took = worker(&p, idx, &d);
                    if took {
                        d.store(true, Ordering::Release);
                        p.unpark(1 - idx);
                    }
                    took
                })
            })
            .collect();
        p.push(1);
        let took: usize = handles.into_iter().map(|h| usize::from(h.join().unwrap())).sum();
        assert_eq!(took, 1);
    });
}

/// The scenario of the teeth models, with the roles swapped so that the thread loom finds
/// blocked is the main one (the worker; a spawned pusher posts the item): a deadlocked
/// spawned thread makes loom's own cleanup abort instead of unwinding into `should_panic`.
#[cfg(loom)]
fn teeth(post: impl FnOnce(&ParkProtocol) + Send + 'static) {
    let p = Arc::new(ParkProtocol::new(1));
    let done = AtomicBool::new(false);
    let p2 = p.clone();
    let pusher = thread::spawn(move || post(&p2));
    assert!(worker(&p, 0, &done));
    pusher.join().unwrap();
}

/// Teeth: the same scenario with the push's notification left out. The worker may have
/// looked at the queue and be about to park when the item lands; nobody wakes it, and loom
/// reports the deadlock.
#[test]
#[cfg(loom)]
#[should_panic]
fn push_without_notify_is_lost() {
    model(|| teeth(|p| p.push_without_notify(7)));
}

/// Teeth: the last searcher parks without re-checking the queues (step 2). The pusher saw it
/// searching and relied on it; the item is never taken, and loom reports the deadlock.
#[test]
#[cfg(loom)]
#[should_panic]
fn last_searcher_without_recheck_loses_the_push() {
    scheduler_core::loom_api::break_park_recheck(true);
    model(|| teeth(|p| p.push(7)));
}

/// Plain-test stand-in: the protocol is exercised by the runtime's own tests.
#[test]
#[cfg(not(loom))]
fn park_protocol_models_run_under_loom() {
    model(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        thread::spawn(move || f.store(true, Ordering::SeqCst)).join().unwrap();
        assert!(flag.load(Ordering::SeqCst));
    });
}
