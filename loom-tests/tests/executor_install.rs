//! Claim: `Handle::install`'s caller returns only after the installed closure ran and its
//! result (with the closure's writes to the caller's stack) is visible, or after the closure
//! was dropped unrun (a shutdown cancelled the task); the task's last access to the job on
//! the caller's stack is the latch store, so the caller's frame is never used after it
//! returned. The task runs (or is dropped) on another thread while the caller parks.
//!
//! Teeth: with the latch store Relaxed instead of Release (`loom_api::weaken_install_latch`),
//! the caller reads the result slot without a happens-before edge to the task's write, which
//! loom reports (`should_panic`).
//!
//! Protocol doc: `scheduler_core` `install.rs` module header.
//! Threads: main (the caller) + 1 (the runtime's worker). Bound: LOOM_MAX_PREEMPTIONS=2,
//! LOOM_MAX_BRANCHES=10000.

use loom_tests::model;

#[cfg(loom)]
mod models {
    use super::model;
    use loom::thread;
    use scheduler_core::loom_api::{install_with, weaken_install_latch};

    fn run_on_another_thread(weak: bool) {
        model(move || {
            weaken_install_latch(weak);
            let mut local = vec![1u32];
            let out = install_with(
                || {
                    local.push(2);
                    local.len()
                },
                |task| drop(thread::spawn(move || task.run())),
            );
            weaken_install_latch(false);
            assert_eq!(out, Some(2));
            assert_eq!(local, [1, 2], "the closure's writes are visible to the caller");
        });
    }

    #[test]
    fn install_run_by_another_thread() {
        run_on_another_thread(false);
    }

    #[test]
    #[should_panic(expected = "Causality violation")]
    fn install_with_a_relaxed_latch_races_on_the_result() {
        run_on_another_thread(true);
    }

    #[test]
    fn install_dropped_by_another_thread() {
        model(|| {
            let live = std::sync::Arc::new(());
            let held = live.clone();
            let out =
                install_with(move || drop(held), |task| drop(thread::spawn(move || drop(task))));
            assert_eq!(out, None, "dropped unrun");
            assert_eq!(std::sync::Arc::strong_count(&live), 1, "the closure was dropped");
        });
    }
}

#[test]
#[cfg(not(loom))]
fn install_models_run_under_loom() {
    model(|| {});
}
