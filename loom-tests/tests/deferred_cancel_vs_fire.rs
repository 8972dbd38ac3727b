//! Claim: `cancel` racing `callback` has exactly one winner: either the value or the
//! `Cancelled` failure reaches the chain, exactly once. Without a canceller the losing fire is
//! swallowed (Twisted's rule); with one, it is `AlreadyCalled`, and the canceller runs at most
//! once.
//!
//! Protocol: `scheduler-deferred/src/chain.rs` (module doc, "Protocol" and "Cancellation").
//! Threads: main (cancels) + 1 spawned (fires).
//! Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

#![allow(clippy::let_underscore_future)] // dropped handles share the chain

#[cfg(loom)]
use loom::{sync::Arc, sync::Mutex, thread};
#[cfg(not(loom))]
use std::{sync::Arc, sync::Mutex, thread};

use scheduler_deferred::{AlreadyCalled, Cancelled, Deferred};

/// Adds a pair that records which half ran.
fn record(d: &Deferred<u32>) -> Arc<Mutex<Vec<&'static str>>> {
    let ran = Arc::new(Mutex::new(Vec::new()));
    let (r1, r2) = (ran.clone(), ran.clone());
    let _ = d.clone().add_callbacks(
        move |n| {
            r1.lock().unwrap().push("value");
            Ok(n)
        },
        move |f| {
            assert!(f.is::<Cancelled>());
            r2.lock().unwrap().push("cancelled");
            Ok(0)
        },
    );
    ran
}

#[test]
fn cancel_racing_fire_without_canceller() {
    loom_tests::model(|| {
        let d = Deferred::<u32>::new();
        let ran = record(&d);
        let firer = {
            let d = d.clone();
            thread::spawn(move || d.callback(7))
        };
        d.cancel();
        assert_eq!(firer.join().unwrap(), Ok(()), "the losing fire is swallowed, not an error");
        assert_eq!(ran.lock().unwrap().len(), 1);
        assert_eq!(d.callback(1), Err(AlreadyCalled));
    });
}

#[test]
fn cancel_racing_fire_with_canceller() {
    loom_tests::model(|| {
        let cancellers = Arc::new(Mutex::new(0));
        let c = cancellers.clone();
        let d = Deferred::<u32>::with_canceller(move |_| *c.lock().unwrap() += 1);
        let ran = record(&d);
        let firer = {
            let d = d.clone();
            thread::spawn(move || d.callback(7))
        };
        d.cancel();
        let fired = firer.join().unwrap();
        let ran = ran.lock().unwrap();
        assert_eq!(ran.len(), 1);
        match ran[0] {
            "value" => assert_eq!(fired, Ok(())),
            _ => assert_eq!(fired, Err(AlreadyCalled)),
        }
        assert!(*cancellers.lock().unwrap() <= 1);
    });
}
