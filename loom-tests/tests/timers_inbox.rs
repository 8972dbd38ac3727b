//! Claim: a remote insert handed to the shard's inbox while the owner drains it and publishes
//! its next deadline is never lost and never overslept: after both finish, either the remote
//! insert returned `Wake::Owner` (the caller unparks the owner, which runs maintenance again)
//! or the published next deadline already covers the new timer; the timer then fires exactly
//! once, with the owner's own timer after it. A remote insert-then-cancel racing the drain
//! never fires and drops its payload once. Checks the inbox (intrusive Treiber stack,
//! `QUEUED` flag) and the Dekker pair (push; SeqCst fence; `fetch_min` vs store; SeqCst fence;
//! inbox load) of `scheduler-timers/src/shard/inbox.rs`.
//!
//! Threads: main (owner maintenance) + 1 spawned (remote inserter).
//! Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

#[cfg(loom)]
use loom::thread;
#[cfg(not(loom))]
use std::thread;

use scheduler_timers::{TimerConfig, TimerShard, Wake};

#[test]
fn remote_insert_races_owner_drain_and_publish() {
    loom_tests::model(|| {
        // The owner fires its timer at 30 and then publishes 100: the remote insert at 50 sees
        // 30 published (so it does not ask for a wake-up) unless the protocol orders it.
        let shard: TimerShard<u8> = TimerShard::new(0, TimerConfig::default());
        shard.insert(30, 1).unwrap();
        shard.insert(100, 3).unwrap();
        let remote = shard.remote();
        let inserter = thread::spawn(move || remote.insert(50, 2).unwrap().1);
        let mut fired = Vec::new();
        let _ = shard.fire_due(30, |p| fired.push(p));
        let wake = inserter.join().unwrap();
        if wake == Wake::Owner {
            let _ = shard.fire_due(30, |p| fired.push(p));
        }
        let published = shard.next_deadline();
        assert!(published.is_some_and(|d| d <= 50), "owner would oversleep: {published:?}");
        let _ = shard.fire_due(100, |p| fired.push(p));
        assert_eq!(fired, [1, 2, 3]);
    });
}

#[test]
fn remote_insert_and_cancel_race_owner_drain() {
    loom_tests::model(|| {
        let shard: TimerShard<u8> = TimerShard::new(0, TimerConfig::default());
        let remote = shard.remote();
        let churn = thread::spawn(move || {
            let (key, _) = remote.insert(5, 2).unwrap();
            remote.cancel(key)
        });
        let mut fired = Vec::new();
        let _ = shard.fire_due(4, |p| fired.push(p)); // drains, fires nothing yet
        assert_eq!(churn.join().unwrap(), Ok(()));
        let _ = shard.fire_due(5, |p| fired.push(p));
        assert!(fired.is_empty());
        assert_eq!(shard.pending_deadlines(), Vec::<u64>::new());
        // The slot was reclaimed: a new insert reuses it.
        shard.insert(9, 3).unwrap();
        assert_eq!(shard.slab_len(), 1);
    });
}

/// The same race with the Dekker fences removed: the model must find the oversleep. Proves
/// the first model has teeth (loom only; plain runs have no fences to remove).
#[cfg(loom)]
#[test]
#[should_panic(expected = "owner would oversleep")]
fn without_the_fences_the_owner_can_oversleep() {
    scheduler_timers::loom_api::break_dekker_fences(true);
    remote_insert_races_owner_drain_and_publish();
}
