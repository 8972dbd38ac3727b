//! Claim: an expiry pass (the expiry right held for a whole manual-clock advance, callbacks
//! included) lends its right only to the operations of its own callbacks: a callback's insert
//! into the same shard is filed at once under the borrowed right and, already due, fires in
//! the same pass; another thread's insert during the pass takes the inbox path (or goes in
//! before or after it) and is neither lost nor fired twice; no two threads ever touch the
//! wheel at once (loom checks the wheel's `UnsafeCell`). Checks "Lending the right" in the
//! module doc of `scheduler-timers/src/pass.rs` ("Expiry pass" in `shard/ops.rs`).
//!
//! Teeth: `pass_lending_to_any_thread_races_on_the_wheel` lends the right to whoever finds it
//! taken (no thread-local record check): the other thread's insert then files into the wheel
//! while the pass works on it, and loom reports the unsynchronised access (`should_panic`).
//!
//! Threads: main (the pass) + 1 spawned (inserter). Bound: LOOM_MAX_PREEMPTIONS=2,
//! LOOM_MAX_BRANCHES=10000.

#[cfg(loom)]
use loom::thread;
#[cfg(not(loom))]
use std::thread;

use scheduler_timers::{RemoteShard, TimerConfig, TimerShard};

/// Main runs a pass at time 1 whose callback re-arms timer 1 as timer 3 (due at once) while
/// `spawned` inserts timer 2 (due at 1) with `insert_direct`; a second pass after the join
/// fires what is left (the first one finds the shard busy if the inserter holds the right).
fn pass_with_reentrant_insert(spawned: impl FnOnce(RemoteShard<u8>) + Send + 'static) {
    let shard: TimerShard<u8> = TimerShard::new(0, TimerConfig::default());
    shard.insert(1, 1).unwrap();
    let (mine, theirs) = (shard.remote(), shard.remote());
    let other = thread::spawn(move || spawned(theirs));
    // Both passes run the same callback: timer 1 re-arms itself as timer 3, due at once.
    let pass = |fired: &mut Vec<u8>| {
        mine.expire_pass(1, |p| {
            fired.push(p);
            if p == 1 {
                let _ = mine.insert_direct(1, 3).unwrap();
            }
        })
    };
    let mut first = Vec::new();
    let ran = pass(&mut first).is_ok();
    other.join().unwrap();
    let mut second = Vec::new();
    pass(&mut second).unwrap();
    for fired in [&first, &second] {
        if fired.contains(&1) {
            assert!(fired.contains(&3), "the callback's insert, already due, fires in its pass");
        }
    }
    assert!(ran || first.is_empty());
    let mut all: Vec<u8> = first.iter().chain(&second).copied().collect();
    all.sort_unstable();
    assert_eq!(all, [1, 2, 3], "each timer fires exactly once");
    assert_eq!(shard.pending_deadlines(), Vec::<u64>::new());
}

#[test]
fn pass_lends_its_right_to_its_callbacks_only() {
    loom_tests::model(|| {
        pass_with_reentrant_insert(|theirs| {
            let _ = theirs.insert_direct(1, 2).unwrap();
        });
    });
}

#[cfg(loom)]
#[test]
#[should_panic(expected = "Causality violation")]
fn pass_lending_to_any_thread_races_on_the_wheel() {
    scheduler_timers::loom_api::lend_to_any_thread(true);
    pass_lends_its_right_to_its_callbacks_only();
}
