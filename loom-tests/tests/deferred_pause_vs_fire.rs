//! Claim: `unpause` racing `callback` on another thread neither loses the chain (a result
//! stuck behind a pause nobody will lift) nor runs a callback twice or while paused.
//!
//! Protocol: `scheduler-deferred/src/chain/mod.rs` (module doc, "State": `paused` and the
//! runner's locked stop check).
//! Threads: main (pauses, then unpauses) + 1 spawned (fires).
//! Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

#![allow(clippy::let_underscore_future)] // dropped handles share the chain

#[cfg(loom)]
use loom::{sync::Arc, sync::Mutex, thread};
#[cfg(not(loom))]
use std::{sync::Arc, sync::Mutex, thread};

use scheduler_deferred::Deferred;

#[test]
fn unpause_racing_fire() {
    loom_tests::model(|| {
        let d = Deferred::<u32>::new();
        let ran = Arc::new(Mutex::new(Vec::new()));
        let r = ran.clone();
        let tail = d.clone().add_callback(move |n| {
            r.lock().unwrap().push(n);
            n + 1
        });
        d.pause();
        let firer = {
            let d = d.clone();
            thread::spawn(move || d.callback(1).unwrap())
        };
        d.unpause().unwrap();
        firer.join().unwrap();
        assert_eq!(*ran.lock().unwrap(), [1]);
        assert_eq!(tail.take_result().unwrap().unwrap(), 2);
    });
}
