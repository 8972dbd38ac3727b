//! Claim: a waker fired on a thread outside the runtime while the runtime is being dropped
//! never touches the runtime's shared state after it was freed, and the shared state is freed
//! (no leak) once its last task is cancelled. The foreign wake queues its idle task, sees the
//! shutdown flag, drains the global queue itself and cancels the task, the last one listed,
//! which releases the keep-alive; with two such wakers, their two completions race for the
//! last two listed tasks. Each waker holds a strong reference for its whole push and drain
//! (`runtime::shared` module doc, "Lifetime"); the JoinHandle of each task resolves as
//! cancelled.
//!
//! Teeth: with the strong reference skipped (`loom_api::skip_foreign_ref`, the old code), the
//! drain or the completion touches `Shared` after the drop (`should_panic`: the oracle in
//! `runtime::shared`, `probe_alive`, reports the use-after-free that valgrind showed).
//!
//! Protocol doc: `scheduler_core` `runtime/shared.rs`, "Lifetime"; `runtime/owned.rs`.
//! Threads: main (the dropping runtime) + 1 or 2 wakers. Bound: LOOM_MAX_PREEMPTIONS=2,
//! LOOM_MAX_BRANCHES=10000.

use loom_tests::model;

#[cfg(loom)]
mod models {
    use super::model;
    use loom::thread;
    use scheduler_core::loom_api::{skip_foreign_ref, ForeignWakeShutdown};
    use scheduler_core::JoinHandle;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    fn assert_cancelled(mut jh: JoinHandle<()>) {
        match Pin::new(&mut jh).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            other => panic!("the task must have been cancelled: {other:?}"),
        }
    }

    fn one_waker(skip: bool) {
        model(move || {
            skip_foreign_ref(skip);
            let mut rt = ForeignWakeShutdown::new();
            let (waker, jh) = rt.spawn_parked();
            let waking = thread::spawn(move || waker.wake());
            rt.drop_runtime();
            waking.join().unwrap();
            skip_foreign_ref(false);
            assert_cancelled(jh);
            assert!(ForeignWakeShutdown::shared_freed(), "the runtime's state leaked");
        });
    }

    fn two_wakers(skip: bool) {
        model(move || {
            skip_foreign_ref(skip);
            let mut rt = ForeignWakeShutdown::new();
            let (waker_a, jh_a) = rt.spawn_parked();
            let (waker_b, jh_b) = rt.spawn_parked();
            let a = thread::spawn(move || waker_a.wake());
            let b = thread::spawn(move || waker_b.wake());
            rt.drop_runtime();
            a.join().unwrap();
            b.join().unwrap();
            skip_foreign_ref(false);
            assert_cancelled(jh_a);
            assert_cancelled(jh_b);
            assert!(ForeignWakeShutdown::shared_freed(), "the runtime's state leaked");
        });
    }

    #[test]
    fn foreign_wake_racing_drop() {
        one_waker(false);
    }

    #[test]
    #[should_panic(expected = "Shared used after it was freed")]
    fn foreign_wake_without_its_own_reference_uses_freed_state() {
        one_waker(true);
    }

    #[test]
    fn two_foreign_wakes_racing_drop() {
        two_wakers(false);
    }
}

#[test]
#[cfg(not(loom))]
fn foreign_wake_models_run_under_loom() {
    model(|| {});
}
