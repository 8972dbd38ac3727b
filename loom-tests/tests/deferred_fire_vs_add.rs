//! Claim: a `callback` racing `add_callback` from another thread runs every callback exactly
//! once, in chain order, whichever thread ends up running them (the adder hands its callback
//! to the running firer, or runs it itself once the chain is at rest).
//!
//! Protocol: `scheduler-deferred/src/chain/mod.rs` (module doc, "Protocol").
//! Threads: main (adds one callback, then fires) + 1 spawned (adds two callbacks).
//! Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

#![allow(clippy::let_underscore_future)] // dropped handles share the chain

#[cfg(loom)]
use loom::{sync::Arc, sync::Mutex, thread};
#[cfg(not(loom))]
use std::{sync::Arc, sync::Mutex, thread};

use scheduler_deferred::Deferred;

#[test]
fn fire_racing_add_callback() {
    loom_tests::model(|| {
        let ran = Arc::new(Mutex::new(Vec::new()));
        let d = Deferred::<u32>::new();
        let r = ran.clone();
        let _ = d.clone().add_callback(move |n| {
            r.lock().unwrap().push(("first", n));
            n + 1
        });
        let adder = {
            let (d, ran) = (d.clone(), ran.clone());
            thread::spawn(move || {
                let (r1, r2) = (ran.clone(), ran);
                let _ = d
                    .add_callback(move |n| {
                        r1.lock().unwrap().push(("second", n));
                        n + 1
                    })
                    .add_callback(move |n| {
                        r2.lock().unwrap().push(("third", n));
                        n + 1
                    });
            })
        };
        d.callback(10).unwrap();
        adder.join().unwrap();
        assert_eq!(*ran.lock().unwrap(), [("first", 10), ("second", 11), ("third", 12)]);
        assert_eq!(d.take_result().unwrap().unwrap(), 13);
    });
}
