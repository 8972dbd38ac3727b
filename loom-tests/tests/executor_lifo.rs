//! Claim: the LIFO slot of `scheduler-core/src/lifo.rs` hands each item to exactly one
//! thread: an owner putting twice while a thief steals neither loses nor duplicates an item.
//!
//! Protocol doc: `scheduler_core::lifo` module header.
//! Threads: main (owner) + 1 thief. Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

use loom_tests::model;

#[cfg(loom)]
use loom::{sync::Arc, thread};

#[test]
#[cfg(loom)]
fn put_put_take_against_a_thief() {
    use scheduler_core::loom_api::LifoSlot;
    model(|| {
        let slot = Arc::new(LifoSlot::default());
        let thief = {
            let slot = slot.clone();
            thread::spawn(move || slot.take())
        };
        let mut got = Vec::new();
        assert_eq!(slot.put(1), None);
        // The owner displaces the first item (unless the thief took it).
        got.extend(slot.put(2));
        got.extend(slot.take());
        got.extend(thief.join().unwrap());
        got.sort_unstable();
        assert_eq!(got, vec![1, 2], "each item exactly once");
        assert_eq!(slot.take(), None);
    });
}

#[test]
#[cfg(not(loom))]
fn lifo_models_run_under_loom() {
    model(|| {});
}
