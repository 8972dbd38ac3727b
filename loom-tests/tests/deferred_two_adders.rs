//! Claim: with two threads adding callbacks while a third fires, every callback runs exactly
//! once, each thread's callbacks in the order it added them, and no two callbacks of the chain
//! ever run at the same time (each callback asserts it is alone).
//!
//! Protocol: `scheduler-deferred/src/chain/mod.rs` (module doc, "Protocol").
//! Threads: main (fires) + 2 spawned (each adds two callbacks).
//! Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

#![allow(clippy::let_underscore_future)] // dropped handles share the chain

#[cfg(loom)]
use loom::{sync::atomic::AtomicBool, sync::atomic::Ordering, sync::Arc, sync::Mutex, thread};
#[cfg(not(loom))]
use std::{sync::atomic::AtomicBool, sync::atomic::Ordering, sync::Arc, sync::Mutex, thread};

use scheduler_deferred::Deferred;

type Ran = Arc<Mutex<Vec<&'static str>>>;

fn adder(
    d: &Deferred<()>,
    ran: &Ran,
    busy: &Arc<AtomicBool>,
    names: [&'static str; 2],
) -> thread::JoinHandle<()> {
    let (d, ran, busy) = (d.clone(), ran.clone(), busy.clone());
    thread::spawn(move || {
        for name in names {
            let (ran, busy) = (ran.clone(), busy.clone());
            let _ = d.clone().add_callback(move |()| {
                assert!(!busy.swap(true, Ordering::SeqCst), "two callbacks ran at once");
                ran.lock().unwrap().push(name);
                busy.store(false, Ordering::SeqCst);
            });
        }
    })
}

#[test]
fn two_adders_and_a_firer() {
    loom_tests::model(|| {
        let d = Deferred::<()>::new();
        let ran: Ran = Arc::new(Mutex::new(Vec::new()));
        let busy = Arc::new(AtomicBool::new(false));
        let a = adder(&d, &ran, &busy, ["a1", "a2"]);
        let b = adder(&d, &ran, &busy, ["b1", "b2"]);
        d.callback(()).unwrap();
        a.join().unwrap();
        b.join().unwrap();
        let ran = ran.lock().unwrap();
        assert_eq!(ran.len(), 4, "every callback ran exactly once: {ran:?}");
        let pos = |name| ran.iter().position(|n| *n == name).unwrap();
        assert!(pos("a1") < pos("a2") && pos("b1") < pos("b2"), "per-thread order: {ran:?}");
    });
}
