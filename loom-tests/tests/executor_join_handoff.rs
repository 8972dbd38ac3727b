//! Claim: a `join` whose published frame races a thief returns `b`'s result exactly once, run
//! either by the owner (popped back before the steal) or by the thief, and in the second case
//! the owner sees the thief's writes (the result and what `b` wrote to the owner's stack)
//! before its frame returns; the thief's last access to the job on the owner's stack is the
//! `done` store, so the frame is never used after it returned. Both outcomes are reached.
//!
//! Teeth: with the `done` store Relaxed instead of Release (`loom_api::weaken_join_done`),
//! the owner reads the result slot without a happens-before edge to the thief's write, which
//! loom reports (`should_panic`).
//!
//! Protocol doc: `scheduler_core` `forkjoin.rs` module header (the published path of
//! `join_frames.rs`). Threads: main (the owner) + 1 (the thief). Bound:
//! LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

use loom_tests::model;

#[cfg(loom)]
mod models {
    use super::model;
    use loom::thread;
    use scheduler_core::loom_api::{join_handoff, weaken_join_done};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn race(weak: bool) {
        // Which outcomes the explored interleavings reached (std atomics: they outlive the
        // model's executions).
        let outcomes = Arc::new(AtomicUsize::new(0));
        let seen = outcomes.clone();
        model(move || {
            weaken_join_done(weak);
            let mut written = vec![1u32];
            let slot = &mut written;
            let mut thief = None;
            let migrated = join_handoff(
                move |migrated| {
                    slot.push(2);
                    migrated
                },
                |stealer| thief = Some(thread::spawn(move || stealer.steal_and_run())),
            );
            let stolen = thief.expect("spawned").join().expect("thief ran");
            weaken_join_done(false);
            assert_eq!(written, [1, 2], "b ran once and its write is visible to the owner");
            assert_eq!(stolen, migrated, "a stolen b reports migrated, a popped one not");
            seen.fetch_or(if stolen { 1 } else { 2 }, Ordering::Relaxed);
        });
        if !weak {
            assert_eq!(outcomes.load(Ordering::Relaxed), 3, "both outcomes reached");
        }
    }

    #[test]
    fn the_owner_or_the_thief_runs_b_once() {
        race(false);
    }

    #[test]
    #[should_panic(expected = "Causality violation")]
    fn a_relaxed_done_races_on_the_result() {
        race(true);
    }
}

#[test]
#[cfg(not(loom))]
fn join_handoff_models_run_under_loom() {
    model(|| {});
}
