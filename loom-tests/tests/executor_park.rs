//! Claim: the park/notify protocol of `scheduler-core/src/idle.rs` loses no wake-up: work
//! pushed while the last awake worker goes to sleep is always picked up, and a worker chosen
//! by a notifier always comes back.
//!
//! Protocol doc: `scheduler_core::idle` module header ("Why no wake-up is lost").
//! Threads: main (pusher) + 1 or 2 workers. Bound: LOOM_MAX_PREEMPTIONS=2,
//! LOOM_MAX_BRANCHES=10000. A lost wake-up shows as a loom deadlock (every thread blocked).

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
    model(|| {
        let p = Arc::new(ParkProtocol::new(1));
        let done = Arc::new(AtomicBool::new(false));
        let (p2, d2) = (p.clone(), done.clone());
        let w = thread::spawn(move || worker(&p2, 0, &d2));
        p.push(7);
        assert!(w.join().unwrap());
    });
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
