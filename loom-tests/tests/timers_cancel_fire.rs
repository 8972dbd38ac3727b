//! Claim: a cancel racing the firing of the same timer has exactly one winner. Either the
//! cancel returns `Ok` and the payload never reaches the fire callback, or the timer fires
//! (once) and the cancel returns `AlreadyFired`; the payload is dropped exactly once either
//! way. Checks the entry state word (`PENDING -> FIRING` vs `PENDING -> CANCELLED`) and the
//! cancel inbox of `scheduler-timers/src/entry/mod.rs` and `src/shard/inbox.rs`.
//!
//! Threads: main (owner firing / cancelling) + 1 spawned (remote cancel / stealer).
//! Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

#[cfg(loom)]
use loom::thread;
#[cfg(not(loom))]
use std::thread;

use scheduler_timers::{TimerConfig, TimerError, TimerShard};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A payload that counts its drops (a plain std counter: not part of the protocol).
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn remote_cancel_races_owner_fire() {
    loom_tests::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let shard = TimerShard::new(0, TimerConfig::default());
        let key = shard.insert(1, Counted(drops.clone())).unwrap();
        let remote = shard.remote();
        let canceller = thread::spawn(move || remote.cancel(key));
        let mut fired = 0;
        let _ = shard.fire_due(1, |p| {
            fired += 1;
            drop(p);
        });
        let cancelled = canceller.join().unwrap();
        // A second pass drains a cancel that arrived after the first one.
        let _ = shard.fire_due(1, |_| fired += 1);
        match cancelled {
            Ok(()) => assert_eq!(fired, 0, "a cancelled timer fired"),
            Err(e) => assert_eq!((e, fired), (TimerError::AlreadyFired, 1)),
        }
        assert_eq!(drops.load(Ordering::Relaxed), 1, "payload dropped once");
    });
}

#[test]
fn owner_cancel_races_stealer_fire() {
    loom_tests::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let shard = TimerShard::new(0, TimerConfig::default());
        let key = shard.insert(1, Counted(drops.clone())).unwrap();
        let remote = shard.remote();
        let stealer = thread::spawn(move || {
            let mut fired = 0;
            let _ = remote.steal_expired(1, usize::MAX, |_| fired += 1);
            fired
        });
        let cancelled = shard.cancel(key);
        let stolen = stealer.join().unwrap();
        let mut fired = 0;
        let _ = shard.fire_due(1, |_| fired += 1);
        match cancelled {
            Ok(()) => assert_eq!(stolen + fired, 0, "a cancelled timer fired"),
            Err(e) => assert_eq!((e, stolen + fired), (TimerError::AlreadyFired, 1)),
        }
        assert_eq!(drops.load(Ordering::Relaxed), 1, "payload dropped once");
    });
}
