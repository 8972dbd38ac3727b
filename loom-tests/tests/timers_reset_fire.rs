//! Claim: a reset racing the firing of the same timer is never lost and never early. A reset
//! to a later deadline either wins (the timer does not fire at the old deadline and fires
//! exactly once at the new one) or loses with `AlreadyFired` (it fired once, at the old one).
//! A reset to an earlier deadline always leaves the timer firing exactly once by the new
//! deadline. Checks the `RESETTING` protocol (`REFILE`, lazy re-file) of
//! `scheduler-timers/src/entry/reset.rs` and the re-file push of `src/shard/ops.rs`.
//!
//! Threads: main (owner firing) + 1 spawned (remote reset); the last model adds a second
//! spawned thread (remote cancel).
//! Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

#[cfg(loom)]
use loom::thread;
#[cfg(not(loom))]
use std::thread;

use scheduler_timers::{TimerConfig, TimerError, TimerKey, TimerShard};

#[test]
fn remote_reset_later_races_owner_fire() {
    loom_tests::model(|| {
        let shard: TimerShard<u8> = TimerShard::new(0, TimerConfig::default());
        let key = shard.insert(10, 7).unwrap();
        let remote = shard.remote();
        let resetter = thread::spawn(move || remote.reset(key, 50));
        let mut at_10 = 0;
        let _ = shard.fire_due(10, |_| at_10 += 1);
        let reset = resetter.join().unwrap();
        let mut before_50 = 0;
        let _ = shard.fire_due(49, |_| before_50 += 1);
        let mut at_50 = 0;
        let _ = shard.fire_due(50, |_| at_50 += 1);
        match reset {
            Ok(_) => assert_eq!((at_10, before_50, at_50), (0, 0, 1)),
            Err(e) => assert_eq!((e, at_10, before_50, at_50), (TimerError::AlreadyFired, 1, 0, 0)),
        }
    });
}

#[test]
fn remote_reset_earlier_races_owner_fire() {
    loom_tests::model(|| {
        let shard: TimerShard<u8> = TimerShard::new(0, TimerConfig::default());
        let key = shard.insert(1_000_000_000, 7).unwrap();
        let remote = shard.remote();
        let resetter = thread::spawn(move || remote.reset(key, 10));
        let mut fired = 0;
        let _ = shard.fire_due(10, |_| fired += 1);
        let reset = resetter.join().unwrap();
        assert!(reset.is_ok());
        // The owner runs maintenance again (it would have been woken by `Wake::Owner`).
        let _ = shard.fire_due(10, |_| fired += 1);
        assert_eq!(fired, 1);
        assert_eq!(shard.next_deadline(), None);
    });
}

#[test]
fn remote_reset_and_remote_cancel_race_owner_fire() {
    // Two spawned threads: the bound of the suite. The cancel may meet the reset in its
    // RESETTING window (CANCEL_REQ) or meet the firer.
    loom_tests::model(|| {
        let shard: TimerShard<u8> = TimerShard::new(0, TimerConfig::default());
        let key = shard.insert(10, 7).unwrap();
        let (r1, r2) = (shard.remote(), shard.remote());
        let resetter = thread::spawn(move || r1.reset(key, 50));
        let canceller = thread::spawn(move || r2.cancel(key));
        let mut fired = 0;
        let _ = shard.fire_due(10, |_| fired += 1);
        let reset = resetter.join().unwrap();
        let cancel = canceller.join().unwrap();
        let _ = shard.fire_due(50, |_| fired += 1);
        match cancel {
            Ok(()) => assert_eq!(fired, 0, "a cancelled timer fired"),
            Err(e) => {
                assert_eq!((e, fired), (TimerError::AlreadyFired, 1));
                assert!(matches!(reset, Err(TimerError::AlreadyFired)), "{reset:?}");
            }
        }
        assert_eq!(shard.pending_deadlines(), Vec::<u64>::new());
    });
}

/// The owner resets its timer to 50 (on the held path when the expiry right is free, the
/// remote path when the stealer holds it) while a stealer fires it at 10 and, from its fire
/// callback, inserts another timer (due at 1000) that reuses the fired slot.
fn owner_reset_races_stealer_fire_and_slot_reuse() {
    let shard: TimerShard<u8> = TimerShard::new(0, TimerConfig::default());
    let key = shard.insert(10, 1).unwrap();
    let (thief, inserter) = (shard.remote(), shard.remote());
    let stealer = thread::spawn(move || {
        let mut stolen = Vec::new();
        let _ = thief.steal_expired(10, usize::MAX, |p| {
            stolen.push(p);
            let _ = inserter.insert_direct(1000, 2).unwrap();
        });
        stolen
    });
    let reset = shard.reset(key, 50);
    let stolen = stealer.join().unwrap();
    let mut fired = Vec::new();
    let _ = shard.fire_due(10, |p| fired.push(p));
    let _ = shard.fire_due(49, |p| fired.push(p));
    assert!(fired.is_empty() || stolen.is_empty(), "fired twice: {stolen:?} {fired:?}");
    let mut at_50 = Vec::new();
    let _ = shard.fire_due(50, |p| at_50.push(p));
    let mut before_1000 = Vec::new();
    let _ = shard.fire_due(999, |p| before_1000.push(p));
    assert!(!before_1000.contains(&2) && !at_50.contains(&2), "the other timer moved early");
    match reset {
        Ok(()) => assert_eq!((stolen.len(), fired.len(), at_50), (0, 0, vec![1])),
        Err(e) => {
            assert!(matches!(e, TimerError::AlreadyFired | TimerError::Stale), "{e:?}");
            assert_eq!((stolen, fired.len() + at_50.len()), (vec![1], 0));
        }
    }
}

#[test]
fn owner_reset_races_stealer_fire_and_slot_reuse_model() {
    loom_tests::model(owner_reset_races_stealer_fire_and_slot_reuse);
}

/// The held path's deadline store without the expiry right: a stealer can fire the timer,
/// reclaim its slot and re-arm it for the timer due at 1000 between the owner's generation
/// check and its store, which then moves that other timer to 50. Proves the model above has
/// teeth (loom only; plain runs have no knob).
#[cfg(loom)]
#[test]
#[should_panic(expected = "the other timer moved early")]
fn held_reset_without_the_right_moves_another_timer() {
    scheduler_timers::loom_api::reset_without_right(true);
    loom_tests::model(owner_reset_races_stealer_fire_and_slot_reuse);
}

#[test]
fn owner_reset_races_remote_reset_and_remote_cancel() {
    // Two spawned threads (the suite's bound). The owner's held reset to a later deadline and a
    // remote reset to an earlier one: whichever wins last, the timer fires exactly once, at
    // that deadline, never before it; with the cancel, never after a successful cancel.
    loom_tests::model(|| {
        let shard: TimerShard<u8> = TimerShard::new(0, TimerConfig::default());
        let key: TimerKey = shard.insert(30, 7).unwrap();
        let (r1, r2) = (shard.remote(), shard.remote());
        let resetter = thread::spawn(move || r1.reset(key, 20).map(|_| ()));
        let canceller = thread::spawn(move || r2.cancel(key));
        let owner = shard.reset(key, 50);
        let remote = resetter.join().unwrap();
        let cancel = canceller.join().unwrap();
        let deadline = shard.deadline(key);
        let mut fired = Vec::new();
        let _ = shard.fire_due(19, |p| fired.push(p));
        assert!(fired.is_empty(), "fired before every deadline");
        match (cancel, deadline) {
            (Ok(()), d) => {
                assert_eq!(d, Err(TimerError::AlreadyCancelled));
                let _ = shard.fire_due(u64::MAX, |p| fired.push(p));
                assert!(fired.is_empty(), "a cancelled timer fired");
            }
            (Err(e), Ok(d)) => panic!("cancel failed ({e:?}) on a pending timer at {d}"),
            (Err(e), Err(d)) => panic!("cancel failed ({e:?}) and the timer is gone ({d:?})"),
        }
        // A reset that returned Ok came before the cancel; one that failed, after it.
        for r in [owner, remote] {
            assert!(matches!(r, Ok(()) | Err(TimerError::AlreadyCancelled)), "{r:?}");
        }
    });
}

#[test]
fn owner_reset_later_races_remote_reset_earlier() {
    loom_tests::model(|| {
        let shard: TimerShard<u8> = TimerShard::new(0, TimerConfig::default());
        let key = shard.insert(30, 7).unwrap();
        let remote = shard.remote();
        let resetter = thread::spawn(move || remote.reset(key, 20));
        assert_eq!(shard.reset(key, 50), Ok(()));
        assert!(resetter.join().unwrap().is_ok());
        let deadline = shard.deadline(key).unwrap();
        assert!(deadline == 20 || deadline == 50, "{deadline}");
        let mut fired = 0;
        let _ = shard.fire_due(deadline - 1, |_| fired += 1);
        assert_eq!(fired, 0, "fired before its deadline {deadline}");
        let _ = shard.fire_due(deadline, |_| fired += 1);
        assert_eq!(fired, 1, "did not fire at its deadline {deadline}");
    });
}
