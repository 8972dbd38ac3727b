//! Claim: a `DeferredQueue` getter dropped on one thread while another thread `put`s never
//! loses the value nor delivers it twice: either the getter took it before it was dropped
//! (delivered exactly once, nothing left queued), or the value stays queued for the next getter
//! (the getter withdrew before the put, or was handed the value and gave it back when dropped
//! untaken), and the dropped getter is never left among the waiters. Under loom both outcomes
//! must occur. A second model puts a live getter behind the dropped one: the value reaches it,
//! exactly once, whichever way the race goes.
//!
//! Protocol: `scheduler-deferred/src/chain/waiter.rs` (module doc: the under-lock last-user check,
//! marking the chain called, the hook's removal or give-back) with `queue.rs` and `handoff.rs`
//! (the put's pop and hand-over) on top of `chain/mod.rs` (module doc).
//! Threads: main (takes or not, then drops the getter) + 1 spawned (puts).
//! Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

// The outcome tally is outside the model: std atomics under loom too.
use std::sync::atomic::{AtomicUsize, Ordering};

#[cfg(loom)]
use loom::thread;
#[cfg(not(loom))]
use std::thread;

use scheduler_deferred::DeferredQueue;

#[test]
fn getter_dropped_racing_put_delivers_once_or_leaves_the_value_queued() {
    static DELIVERED: AtomicUsize = AtomicUsize::new(0);
    static QUEUED: AtomicUsize = AtomicUsize::new(0);
    loom_tests::model(|| {
        let q = DeferredQueue::<u32>::new();
        let getter = q.get().unwrap();
        let putter = {
            let q = q.clone();
            thread::spawn(move || q.put(7).unwrap())
        };
        let got = getter.take_result();
        drop(getter); // the select!/timeout drop: nobody calls cancel
        putter.join().unwrap();
        assert_eq!(q.waiting(), 0, "a dropped getter never stays among the waiters");
        match got {
            Some(value) => {
                assert_eq!(value.unwrap(), 7);
                assert_eq!(q.pending(), 0, "delivered exactly once");
                DELIVERED.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                assert_eq!(q.pending(), 1, "the value stays queued, not lost with the getter");
                assert_eq!(q.get().unwrap().take_result().unwrap().unwrap(), 7);
                QUEUED.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    #[cfg(loom)]
    assert!(
        DELIVERED.load(Ordering::Relaxed) > 0 && QUEUED.load(Ordering::Relaxed) > 0,
        "both outcomes are reached"
    );
}

#[test]
fn getter_dropped_racing_put_passes_the_value_to_the_live_getter_behind_it() {
    loom_tests::model(|| {
        let q = DeferredQueue::<u32>::new();
        let dropped = q.get().unwrap();
        let live = q.get().unwrap();
        let putter = {
            let q = q.clone();
            thread::spawn(move || q.put(7).unwrap())
        };
        drop(dropped);
        putter.join().unwrap();
        assert_eq!(live.take_result().unwrap().unwrap(), 7, "delivered to the live getter");
        assert_eq!((q.pending(), q.waiting()), (0, 0), "delivered exactly once");
    });
}
