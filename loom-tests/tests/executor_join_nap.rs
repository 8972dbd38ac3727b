//! Claim: a `join` (or `scope`) waiter that naps on its `DoneLatch` because it found no work
//! is woken by the thief that sets the latch, whenever the set lands: before the waiter
//! announced its nap (it then does not park), between the announcement and the park (the
//! parker's token makes the unpark stick), or while it is parked. And it sees what the thief
//! wrote before the set.
//!
//! loom ignores the nap's deadline, so a lost unpark shows as a deadlock.
//!
//! Teeth: a setter that stores `DONE` without looking for a napper (never unparks) leaves the
//! waiter parked for ever: loom reports the deadlock (`should_panic`). A Relaxed set gives
//! the waiter's read of the value no happens-before edge: loom reports the race.
//!
//! Protocol doc: `scheduler_core` `done_latch.rs` module header. Threads: main (the waiter)
//! + 1 (the thief). Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

use loom_tests::model;

#[cfg(loom)]
mod models {
    use super::model;
    use loom::thread;
    use scheduler_core::loom_api::{NapHandoff, NapSetter};

    fn handoff(how: NapSetter) {
        model(move || {
            let h = NapHandoff::new();
            let thief = {
                let h = h.clone();
                thread::spawn(move || h.set(7, how))
            };
            assert_eq!(h.wait(), 7, "the waiter wakes and sees the thief's write");
            thief.join().unwrap();
        });
    }

    #[test]
    fn the_thief_wakes_the_napping_waiter() {
        handoff(NapSetter::Real);
    }

    #[test]
    #[should_panic(expected = "deadlock")]
    fn a_set_that_forgets_the_napper_deadlocks() {
        handoff(NapSetter::ForgetsTheNapper);
    }

    #[test]
    #[should_panic(expected = "Causality violation")]
    fn a_relaxed_set_races_on_the_value() {
        handoff(NapSetter::Relaxed);
    }
}

#[test]
#[cfg(not(loom))]
fn join_nap_models_run_under_loom() {
    model(|| {});
}
