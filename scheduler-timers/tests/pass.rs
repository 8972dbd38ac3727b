//! The expiry pass (`RemoteShard::expire_pass`): one hold of the expiry right for a whole
//! manual-clock advance, lent to the callbacks' own operations on the shard.

use scheduler_timers::{RemoteShard, ShardBusy, TimerConfig, TimerShard};
use std::panic::{catch_unwind, AssertUnwindSafe};

const MS: u64 = 1_000_000;

fn shard() -> (TimerShard<u32>, RemoteShard<u32>) {
    let owner = TimerShard::new(0, TimerConfig::default());
    let remote = owner.remote();
    (owner, remote)
}

#[test]
fn a_callback_rearms_through_the_lent_right_and_due_timers_fire_in_the_same_pass() {
    let (owner, remote) = shard();
    let _ = remote.insert_direct(MS, 1).unwrap();
    let _ = remote.insert_direct(MS, 2).unwrap();
    let mut fired = Vec::new();
    let n = remote
        .expire_pass(MS, |id| {
            fired.push(id);
            if id < 10 {
                // Re-armed due (fires in this pass, after the timers already due) and later.
                let _ = remote.insert_direct(MS, id + 10).unwrap();
                let _ = remote.insert_direct(2 * MS, id + 20).unwrap();
            }
        })
        .unwrap();
    assert_eq!(fired, [1, 2, 11, 12]);
    assert_eq!(n, 4);
    // The lent inserts were filed at once: nothing waits in the inbox, no slot was lost.
    assert_eq!(owner.pending_deadlines(), [2 * MS, 2 * MS]);
    fired.clear();
    assert_eq!(remote.expire_pass(2 * MS, |id| fired.push(id)), Ok(2));
    assert_eq!(fired, [21, 22]);
    assert_eq!(remote.earliest_deadline(), Ok(None));
}

#[test]
fn a_callback_may_cancel_reset_query_and_nest_but_not_open_a_session() {
    let (owner, remote) = shard();
    let _ = remote.insert_direct(MS, 1).unwrap();
    let (victim, _) = remote.insert_direct(5 * MS, 2).unwrap();
    let (moved, _) = remote.insert_direct(9 * MS, 3).unwrap();
    let mut fired = Vec::new();
    let mut nested = Vec::new();
    remote
        .expire_pass(MS, |id| {
            fired.push(id);
            owner.cancel(victim).unwrap();
            owner.reset(moved, MS).unwrap();
            assert_eq!(remote.earliest_deadline(), Ok(Some(MS)));
            assert!(remote.session_direct().is_err(), "a session never borrows the right");
            // A nested pass borrows the right for its whole run.
            assert_eq!(remote.expire_pass(MS, |id| nested.push(id)), Ok(1));
        })
        .unwrap();
    assert_eq!((fired, nested), (vec![1], vec![3]));
    assert_eq!(owner.pending_deadlines(), Vec::<u64>::new());
    assert!(remote.session_direct().is_ok(), "the right is free after the pass");
}

#[test]
fn other_threads_find_the_shard_busy_and_their_inserts_fire_in_the_pass() {
    let (_owner, remote) = shard();
    let _ = remote.insert_direct(MS, 1).unwrap();
    let mut fired = Vec::new();
    remote
        .expire_pass(MS, |id| {
            fired.push(id);
            if id == 1 {
                let other = remote.clone();
                std::thread::spawn(move || {
                    assert_eq!(other.expire_pass(MS, drop).unwrap_err(), ShardBusy);
                    assert!(other.earliest_deadline().is_err());
                    let _ = other.insert_direct(MS, 2).unwrap(); // through the inbox
                })
                .join()
                .unwrap();
            }
        })
        .unwrap();
    assert_eq!(fired, [1, 2]);
}

#[test]
fn a_panicking_callback_releases_the_right_and_stops_lending() {
    let (owner, remote) = shard();
    let _ = remote.insert_direct(MS, 1).unwrap();
    let _ = remote.insert_direct(MS, 2).unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| remote.expire_pass(MS, |_| panic!("boom"))));
    assert!(r.is_err());
    assert!(remote.session_direct().is_ok(), "released by the unwind");
    // Another thread now holds the right: this thread's operations no longer borrow it.
    let (held, release) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
    let other = remote.clone();
    let t = std::thread::spawn(move || {
        let _session = other.session_direct().unwrap();
        held.0.send(()).unwrap();
        release.1.recv().unwrap();
    });
    held.1.recv().unwrap();
    let _ = remote.insert_direct(3 * MS, 3).unwrap(); // inbox, not the other thread's wheel
    release.0.send(()).unwrap();
    t.join().unwrap();
    assert_eq!(owner.pending_deadlines(), [MS, 3 * MS]);
    let mut fired = Vec::new();
    assert_eq!(remote.expire_pass(3 * MS, |id| fired.push(id)), Ok(2));
    assert_eq!(fired, [2, 3]);
}
