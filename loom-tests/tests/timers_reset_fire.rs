//! Claim: a reset racing the firing of the same timer is never lost and never early. A reset
//! to a later deadline either wins (the timer does not fire at the old deadline and fires
//! exactly once at the new one) or loses with `AlreadyFired` (it fired once, at the old one).
//! A reset to an earlier deadline always leaves the timer firing exactly once by the new
//! deadline. Checks the `RESETTING` protocol (`REFILE`, lazy re-file) of
//! `scheduler-timers/src/entry.rs` and the re-file push of `src/shard.rs`.
//!
//! Threads: main (owner firing) + 1 spawned (remote reset); the last model adds a second
//! spawned thread (remote cancel).
//! Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

#[cfg(loom)]
use loom::thread;
#[cfg(not(loom))]
use std::thread;

use scheduler_timers::{TimerConfig, TimerError, TimerShard};

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
