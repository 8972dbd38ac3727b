//! Claim: a worker that parks while another worker inserts an earlier timer into its own shard
//! (then may block in a long task) never sleeps past that timer plus the steal grace: either
//! it reads the new deadline while computing its park deadline, or the inserting worker reads
//! its `parked_until` (`PARKING` or a later deadline) and unparks it.
//!
//! Protocol doc: `scheduler_core::time::driver` module header ("Timer stealing", the
//! `parked_until` Dekker pair: `store PARKING; fence(SeqCst); read published deadlines` vs
//! `fetch_min published; fence(SeqCst); read parked_until`).
//! Threads: main (worker 1, parking) + 1 spawned (worker 0, inserting). Bound:
//! LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000. A missed wake-up shows as a loom deadlock
//! (the parker sleeps with nobody to wake it); the `should_panic` model removes the fences.

#![cfg(loom)]

use loom::{sync::Arc, thread};
use scheduler_core::time::loom_api::{break_parked_fences, StealWake};

const DEADLINE: u64 = 50_000_000; // 50 ms: not due during the model

fn parker_and_inserter() {
    let p = Arc::new(StealWake::new());
    let p0 = p.clone();
    let inserter = thread::spawn(move || p0.owner_insert(0, DEADLINE));
    let until = p.park_deadline_ns(1);
    if until > DEADLINE + StealWake::GRACE_NS {
        // It would sleep past the timer: only an unpark from the inserter may end this park.
        p.park(1);
    }
    inserter.join().unwrap();
}

#[test]
fn parking_worker_learns_of_a_new_earlier_deadline() {
    loom::model(|| {
        break_parked_fences(false);
        parker_and_inserter();
    });
}

#[test]
#[should_panic]
fn without_the_fences_the_wake_up_is_lost() {
    loom::model(|| {
        break_parked_fences(true);
        parker_and_inserter();
    });
}
