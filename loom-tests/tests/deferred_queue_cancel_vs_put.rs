//! Claim: cancelling a waiting `DeferredQueue` getter while another thread `put`s a value
//! loses nothing and delivers nothing twice: either the getter gets the value (the cancel is
//! then a no-op), or it fails with `Cancelled`, is withdrawn from the waiters by the queue's
//! shared cancel hook, and the value stays pending for the next `get`. Under loom both
//! outcomes must occur.
//!
//! Protocol: `scheduler-deferred/src/queue.rs` (module doc) on top of
//! `scheduler-deferred/src/chain/mod.rs` (module doc, "Cancellation").
//! Threads: main (cancels) + 1 spawned (puts).
//! Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

// The outcome tally is outside the model: std atomics under loom too.
use std::sync::atomic::{AtomicUsize, Ordering};

#[cfg(loom)]
use loom::thread;
#[cfg(not(loom))]
use std::thread;

use scheduler_deferred::{Cancelled, DeferredQueue};

#[test]
fn cancel_of_waiting_getter_racing_put() {
    static GOT: AtomicUsize = AtomicUsize::new(0);
    static CANCELLED: AtomicUsize = AtomicUsize::new(0);
    loom_tests::model(|| {
        let q = DeferredQueue::<u32>::new();
        let getter = q.get().unwrap();
        assert_eq!(q.waiting(), 1);
        let putter = {
            let q = q.clone();
            thread::spawn(move || q.put(7).unwrap())
        };
        getter.cancel();
        putter.join().unwrap();
        assert_eq!(q.waiting(), 0);
        match getter.take_result().unwrap() {
            Ok(value) => {
                assert_eq!(value, 7);
                assert_eq!(q.pending(), 0);
                GOT.fetch_add(1, Ordering::Relaxed);
            }
            Err(failure) => {
                assert!(failure.is::<Cancelled>());
                assert_eq!(q.pending(), 1);
                assert_eq!(q.get().unwrap().take_result().unwrap().unwrap(), 7);
                CANCELLED.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    #[cfg(loom)]
    assert!(GOT.load(Ordering::Relaxed) > 0 && CANCELLED.load(Ordering::Relaxed) > 0);
}
