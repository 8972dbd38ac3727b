//! Claim: `Deferred::from_future`'s built-in driver never loses a wake-up and never polls the
//! future from two threads at once: a future awaiting a Deferred that another thread fires
//! (possibly while the first poll is still running) completes exactly once, with the value.
//!
//! Protocol: `scheduler-deferred/src/future.rs` (module doc, "The built-in driver").
//! Threads: main (creates the driver, which polls once) + 1 spawned (fires the awaited Deferred).
//! Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

#[cfg(loom)]
use loom::thread;
#[cfg(not(loom))]
use std::thread;

use scheduler_deferred::Deferred;

#[test]
fn wake_racing_the_first_poll() {
    loom_tests::model(|| {
        let awaited = Deferred::<u32>::new();
        let firer = {
            let awaited = awaited.clone();
            thread::spawn(move || awaited.callback(41).unwrap())
        };
        let inner = awaited.clone();
        let out = Deferred::from_future(async move { Ok(inner.await? + 1) });
        firer.join().unwrap();
        assert_eq!(out.take_result().unwrap().unwrap(), 42);
    });
}
