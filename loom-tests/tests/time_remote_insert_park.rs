//! Claim: a timer inserted from another thread while the shard's owner runs its maintenance
//! and parks is never slept through: the runtime's timer driver acts on `Wake::Owner` with a
//! token unpark (`Idle::unpark`), so either the owner fires the timer in its maintenance pass,
//! or it parks and is woken, then fires it. Exactly once, either way.
//!
//! Protocol doc: `scheduler_core::time::driver` module header ("Why an inserted timer is never
//! slept through"); it composes the shard's Dekker pair (model `timers_inbox.rs`) with the
//! token parker of `scheduler-core/src/idle.rs` (model `executor_park.rs`).
//! Threads: main (the owner: maintenance, park, maintenance) + 1 spawned (remote inserter).
//! Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000. A lost wake-up shows as a loom
//! deadlock; the `should_panic` model drops the unpark and is caught that way.
//!
//! Under plain `cargo test` the models do not run (they need `scheduler_core::loom_api`, which
//! exists only under `cfg(loom)`); the same path runs in `scheduler-core/tests/time_runtime.rs`.

#![cfg(loom)]

use loom::{sync::Arc, thread};
use scheduler_core::loom_api::ParkProtocol;
use scheduler_timers::{TimerConfig, TimerShard};

/// The owner's side: maintenance (fire what is due at `now`, publish), park unless the timer
/// already fired, maintenance again. The inserter unparks the owner only if `unpark_on_wake`.
fn owner_and_inserter(unpark_on_wake: bool) {
    let park = Arc::new(ParkProtocol::new(1));
    let shard: TimerShard<u8> = TimerShard::new(0, TimerConfig::default());
    let remote = shard.remote();
    let p2 = park.clone();
    let inserter = thread::spawn(move || {
        let (_, wake) = remote.insert(5, 7).unwrap();
        if wake.is_needed() && unpark_on_wake {
            p2.unpark(0);
        }
    });
    let mut fired = Vec::new();
    let _ = shard.fire_due(5, |p| fired.push(p));
    if fired.is_empty() {
        // `park_deadline` reads the published deadline: one at or before now means "do not
        // sleep" (the pass admitted the timer but it raced past the firing step); otherwise
        // the owner sleeps, which loom models as "until unparked" (no clock), so any timer
        // earlier than what was published must come with an unpark.
        if shard.next_deadline().is_none_or(|d| d > 5) {
            let _ = park.park(0, false);
        }
        let _ = shard.fire_due(5, |p| fired.push(p));
    }
    inserter.join().unwrap();
    assert_eq!(fired, [7]);
}

#[test]
fn remote_insert_while_owner_parks_is_not_lost() {
    loom::model(|| owner_and_inserter(true));
}

#[test]
#[should_panic]
fn remote_insert_without_unpark_is_lost() {
    loom::model(|| owner_and_inserter(false));
}
