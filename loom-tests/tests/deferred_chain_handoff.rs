//! Claim: when a callback of `outer` returns `inner` and `inner` is fired by another thread at
//! the same time, `inner`'s result reaches `outer` exactly once and `outer`'s remaining
//! callbacks run exactly once, whichever side wins (the hand-off to a still-running outer
//! runner, or the inner's runner claiming the idle outer). And: cancelling the waiting outer
//! Deferred while the inner one is fired delivers exactly one outcome (value or `Cancelled`).
//!
//! Protocol: `scheduler-deferred/src/chain/mod.rs` (module doc, "Chaining").
//! Threads: main (fires or cancels outer) + 1 spawned (fires inner), in both models.
//! Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

#![allow(clippy::let_underscore_future)] // dropped handles share the chain

#[cfg(loom)]
use loom::{sync::Arc, sync::Mutex, thread};
#[cfg(not(loom))]
use std::{sync::Arc, sync::Mutex, thread};

use scheduler_deferred::Deferred;

#[test]
fn inner_fired_while_outer_chains_onto_it() {
    loom_tests::model(|| {
        let outer = Deferred::<u32>::new();
        let inner = Deferred::<u32>::new();
        let after = Arc::new(Mutex::new(Vec::new()));
        let (i, a) = (inner.clone(), after.clone());
        let tail = outer.clone().add_callback_deferred(move |_| i).add_callback(move |n| {
            a.lock().unwrap().push(n);
            n + 1
        });
        let firer = thread::spawn(move || inner.callback(41).unwrap());
        outer.callback(0).unwrap();
        firer.join().unwrap();
        assert_eq!(*after.lock().unwrap(), [41]);
        assert_eq!(tail.take_result().unwrap().unwrap(), 42);
    });
}

/// Claim: cancelling an outer Deferred that waits on an inner one, while another thread fires
/// the inner one, delivers exactly one outcome to the outer chain: the value, or `Cancelled`
/// (the cancel walks `waiting_on` to the inner Deferred, which has no canceller, so a fire
/// that loses the race is swallowed).
#[test]
fn cancel_of_waiting_outer_racing_inner_fire() {
    loom_tests::model(|| {
        let outer = Deferred::<u32>::new();
        let inner = Deferred::<u32>::new();
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let (i, o1, o2) = (inner.clone(), outcomes.clone(), outcomes.clone());
        let tail = outer.clone().add_callback_deferred(move |_| i).add_callbacks(
            move |n| {
                o1.lock().unwrap().push("value");
                Ok(n)
            },
            move |f| {
                assert!(f.is::<scheduler_deferred::Cancelled>());
                o2.lock().unwrap().push("cancelled");
                Ok(0)
            },
        );
        outer.callback(0).unwrap(); // outer now waits on inner
        let firer = thread::spawn(move || inner.callback(41).unwrap());
        tail.cancel();
        firer.join().unwrap();
        assert_eq!(outcomes.lock().unwrap().len(), 1);
        assert!(tail.has_result());
    });
}
