//! Claim: the slot of a remotely inserted timer that the owner's expiry fires goes back to the
//! shard's shared free list, where a remote insert racing that expiry (or coming after it,
//! while the owner holds the expiry right) finds it: no slot is handed out twice (every
//! timer fires exactly once with its own payload, and arming an occupied slot trips the
//! entry's debug assertion), and none is lost (after the race, as many remote inserts as the
//! slab has slots, made while the right is held, reuse them all without growing the slab).
//! Checks the reclaim rule of "Slots" / "Reclaim" in the module doc of
//! `scheduler-timers/src/shard/slots.rs` (the `INBOX_ARMED` flag of `entry/state.rs`, the shared free list
//! of `slab.rs`, the `starved` hint).
//!
//! Teeth: with the reclaim rule from before issue 11 (a remote insert's slot goes to the
//! owner's private spares, `loom_api::reclaim_remote_slots_to_spares`), the reuse check
//! fails: the freed slot sits in the spares and the remote insert grows the slab
//! (`should_panic`).
//!
//! Threads: main (owner expiry) + 1 spawned (remote inserter); one model has 2 spawned remote
//! inserters racing for the slot the owner freed.
//! Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

#[cfg(loom)]
use loom::thread;
#[cfg(not(loom))]
use std::thread;

use scheduler_timers::{TimerConfig, TimerShard};

/// Fires everything due at `now` and returns the payloads in firing order.
fn fire(shard: &TimerShard<u8>, now: u64) -> Vec<u8> {
    let mut fired = Vec::new();
    let _ = shard.fire_due(now, |p| fired.push(p));
    fired
}

/// None lost: with the expiry right held (a session), `slab_len` remote inserts take every
/// slot from the shared free list; the slab does not grow. Then they all fire, once each.
fn every_slot_is_reusable_by_remote_inserts(shard: &TimerShard<u8>) {
    let len = shard.slab_len();
    let remote = shard.remote();
    let session = shard.session().expect("no other thread holds the right now");
    for i in 0..len {
        let _ = remote.insert(7, 100 + i as u8).unwrap();
    }
    drop(session);
    assert_eq!(shard.slab_len(), len, "a freed slot was lost to the remote inserters");
    let mut fired = fire(shard, 7);
    fired.sort_unstable();
    assert_eq!(fired, (0..len).map(|i| 100 + i as u8).collect::<Vec<_>>());
}

#[test]
fn remote_insert_races_the_owner_expiry_of_a_remote_slot() {
    loom_tests::model(|| {
        let shard: TimerShard<u8> = TimerShard::new(0, TimerConfig::default());
        let remote = shard.remote();
        let _ = remote.insert(1, 1).unwrap(); // a remote timer: its slot comes back shared
        let inserter = {
            let remote = remote.clone();
            thread::spawn(move || remote.insert(1, 2).unwrap().0)
        };
        let mut fired = fire(&shard, 1);
        let key = inserter.join().unwrap();
        fired.extend(fire(&shard, 1));
        fired.sort_unstable();
        assert_eq!(fired, [1, 2], "each timer fires once, with its own payload");
        assert!(shard.slab_len() <= 2, "slab {}", shard.slab_len());
        assert!(key.index() < shard.slab_len());
        every_slot_is_reusable_by_remote_inserts(&shard);
    });
}

/// The owner fires a remote timer, so its slot is on the shared free list; two remote inserts
/// then race for it (the tagged pop of `slab.rs`): one takes it, the other grows the slab by
/// one; never both the same occupancy.
#[test]
fn two_remote_inserts_race_for_the_slot_the_owner_freed() {
    loom_tests::model(|| {
        let shard: TimerShard<u8> = TimerShard::new(0, TimerConfig::default());
        let remote = shard.remote();
        let _ = remote.insert(1, 1).unwrap();
        assert_eq!(fire(&shard, 1), [1]);
        let inserters: Vec<_> = [2u8, 3]
            .into_iter()
            .map(|payload| {
                let remote = remote.clone();
                thread::spawn(move || remote.insert(1, payload).unwrap().0)
            })
            .collect();
        let keys: Vec<_> = inserters.into_iter().map(|t| t.join().unwrap()).collect();
        let mut fired = fire(&shard, 1);
        fired.sort_unstable();
        assert_eq!(fired, [2, 3], "each timer fires once, with its own payload");
        assert_ne!(keys[0].index(), keys[1].index(), "two pending timers in one slot");
        assert_eq!(shard.slab_len(), 2, "the freed slot was not reused");
    });
}

/// Owner-armed and remote-armed slots side by side: the owner inserts and fires its own
/// timer while a remote thread inserts and cancels one. The owner's slot goes to its spares,
/// the remote one (cancelled through the inbox) to the shared list; afterwards the owner's
/// insert and a remote insert made under the held right reuse them.
#[test]
fn owner_and_remote_slots_each_come_back_where_their_inserter_looks() {
    loom_tests::model(|| {
        let shard: TimerShard<u8> = TimerShard::new(0, TimerConfig::default());
        let remote = shard.remote();
        let churn = {
            let remote = remote.clone();
            thread::spawn(move || {
                let (key, _) = remote.insert(5, 2).unwrap();
                remote.cancel(key)
            })
        };
        shard.insert(1, 1).unwrap();
        let mut fired = fire(&shard, 1);
        assert_eq!(churn.join().unwrap(), Ok(()));
        fired.extend(fire(&shard, 5));
        assert_eq!(fired, [1], "the cancelled timer never fires");
        // Every slot is free now: the owner's (in its spares, or on the shared list if the
        // remote insert had to grow and set the `starved` hint) and the remote one (on the
        // shared list), or just one that served both (the remote insert took the owner's
        // freed spare). One owner insert, then remote inserts for the rest made while the
        // right is held, reuse them all without growing the slab.
        let len = shard.slab_len();
        assert!((1..=2).contains(&len) || cfg!(not(loom)), "slab {len}");
        let mut session = shard.session().unwrap();
        let _ = session.insert(9, 3).unwrap();
        let remote_count = (len - 1).min(1); // the owner's growth chunk is 32 without loom
        for _ in 0..remote_count {
            let _ = remote.insert(9, 4).unwrap();
        }
        drop(session);
        assert_eq!(shard.slab_len(), len, "a freed slot was not reused");
        let mut fired = fire(&shard, 9);
        fired.sort_unstable();
        assert_eq!(fired, [3, 4][..1 + remote_count as usize]);
    });
}

/// The first model with the old reclaim rule: the race's freed slots go to the owner's
/// spares, and the remote inserts made under the held right grow the slab. Proves the reuse
/// check has teeth (loom only: the knob exists under `cfg(loom)`).
#[cfg(loom)]
#[test]
#[should_panic(expected = "a freed slot was lost to the remote inserters")]
fn with_the_old_reclaim_rule_remote_inserts_grow_the_slab() {
    scheduler_timers::loom_api::reclaim_remote_slots_to_spares(true);
    remote_insert_races_the_owner_expiry_of_a_remote_slot();
}
