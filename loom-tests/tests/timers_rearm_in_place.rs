//! Claim: a timer re-armed in place by its own callback during an expiry pass
//! (`RemoteShard::rearm_direct` with the fired key: the new timer takes the fired timer's
//! held-back slot) is a new timer: another thread's cancel with the fired key either wins
//! before the fire (the timer never fires, nothing is re-armed) or fails (`AlreadyFired`
//! before the re-arm, `Stale` after) and never cancels the new one; another thread's remote
//! insert during the pass never gets the held-back slot; every timer not cancelled fires
//! exactly once. Checks "Held back" in `scheduler-timers/src/wheel/reclaim.rs`
//! and "Re-arm in place" in `scheduler-timers/src/pass.rs`.
//!
//! Threads: main (the passes) + 1 spawned (cancel with the fired key, then a remote insert).
//! Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

#[cfg(loom)]
use loom::thread;
#[cfg(not(loom))]
use std::thread;

use scheduler_timers::{TimerConfig, TimerError, TimerShard};

#[test]
fn a_rearm_in_place_is_a_new_timer_for_every_other_thread() {
    loom_tests::model(|| {
        let shard: TimerShard<u8> = TimerShard::new(0, TimerConfig::default());
        let first = shard.insert(1, 1).unwrap();
        let (mine, theirs) = (shard.remote(), shard.remote());
        let other = thread::spawn(move || {
            let cancelled = theirs.cancel(first);
            let (inserted, _) = theirs.insert(2, 3).unwrap();
            (cancelled, inserted)
        });
        let mut rearmed = None;
        let mut fired = Vec::new();
        // The pass finds the shard busy while the other thread's insert holds the right.
        while mine
            .expire_pass(1, |p| {
                fired.push(p);
                rearmed = Some(mine.rearm_direct(first, 2, 2).unwrap().0);
            })
            .is_err()
        {
            thread::yield_now();
        }
        let (cancelled, inserted) = other.join().unwrap();
        let _ = mine.expire_pass(2, |p| fired.push(p));
        fired.sort_unstable();
        match cancelled {
            Ok(()) => {
                assert!(rearmed.is_none(), "a cancelled timer neither fires nor re-arms");
                assert_eq!(fired, [3]);
            }
            Err(TimerError::AlreadyFired | TimerError::Stale) => {
                let key = rearmed.expect("fired, so re-armed");
                assert_eq!(key.index(), first.index(), "re-armed in place");
                assert_ne!(inserted.index(), key.index(), "the held-back slot is nobody else's");
                assert_eq!(fired, [1, 2, 3], "each timer fires exactly once");
            }
            Err(e) => panic!("unexpected cancel outcome {e:?}"),
        }
        assert_eq!(shard.pending_deadlines(), Vec::<u64>::new());
    });
}
