//! Panic isolation and cancellation.

mod common;
use common::{hold_every_worker, Forever, ForeverCountingPolls, Gate, LiveCounter};
use scheduler_core::Runtime;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn a_panicking_task_does_not_kill_its_worker() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let jh = rt.spawn(async { panic!("boom") });
    let err = rt.block_on(jh).unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.panic_message(), Some("boom"));
    let payload = err.into_panic();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    // The single worker lives on.
    assert_eq!(rt.block_on(rt.spawn(async { 4 })).unwrap(), 4);
    let fnjh = rt.spawn_fn(|| -> u8 { panic!("{}", String::from("owned")) });
    assert_eq!(rt.block_on(fnjh).unwrap_err().panic_message(), Some("owned"));
    let bjh = rt.spawn_blocking(|| -> u8 { panic!("blocking") });
    assert!(rt.block_on(bjh).unwrap_err().is_panic());
    assert_eq!(rt.metrics().panics, 3);
}

#[test]
fn try_into_panic_on_cancel_gives_the_error_back() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let jh = rt.spawn(Forever(()));
    jh.abort();
    let err = rt.block_on(jh).unwrap_err();
    assert!(err.is_cancelled() && !err.is_panic());
    assert!(err.try_into_panic().unwrap_err().is_cancelled());
}

#[test]
fn abort_drops_a_pending_task_and_resolves_cancelled() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let live = LiveCounter::default();
    let polled = Arc::new(AtomicUsize::new(0));
    let jh = rt.spawn(ForeverCountingPolls::new(live.guard(), polled.clone()));
    // It was polled once ...
    while polled.load(Ordering::SeqCst) < 1 {
        std::thread::yield_now();
    }
    // ... and that poll has returned (both workers are inside another poll now): it is idle.
    let (gate, holders) = hold_every_worker(rt.handle(), 2);
    gate.open();
    for h in holders {
        rt.block_on(h).unwrap();
    }
    assert_eq!(live.live(), 1);
    jh.abort();
    assert_eq!(live.live(), 0, "an idle task's future is dropped at once");
    assert!(rt.block_on(jh).unwrap_err().is_cancelled());
    assert_eq!(live.live(), 0);
    assert_eq!(rt.metrics().live_tasks, 0);
}

#[test]
fn abort_of_a_queued_task_cancels_it_before_it_runs() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let gate = Gate::default();
    let g = gate.clone();
    let holder = rt.spawn(async move { g.wait() });
    gate.wait_for_waiters(1);
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let jh = rt.spawn(async move { r.fetch_add(1, Ordering::SeqCst) });
    jh.abort();
    gate.open();
    rt.block_on(holder).unwrap();
    assert!(rt.block_on(jh).unwrap_err().is_cancelled());
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn abort_after_completion_keeps_the_output() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let jh = rt.spawn(async { 5 });
    while !jh.is_finished() {
        std::thread::yield_now();
    }
    jh.abort();
    assert_eq!(rt.block_on(jh).unwrap(), 5);
}

/// Abort racing with running tasks: each handle resolves Ok or cancelled, nothing leaks.
#[test]
fn abort_races() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let live = LiveCounter::default();
    for round in 0..200 {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let g = live.guard();
                rt.spawn(async move {
                    let _g = g;
                    for _ in 0..(i % 4) {
                        scheduler_core::yield_now().await;
                    }
                    round
                })
            })
            .collect();
        for jh in &handles {
            jh.abort();
        }
        for jh in handles {
            match rt.block_on(jh) {
                Ok(v) => assert_eq!(v, round),
                Err(e) => assert!(e.is_cancelled()),
            }
        }
    }
    assert_eq!(live.live(), 0);
    assert_eq!(rt.metrics().live_tasks, 0);
}

/// Dropping a JoinHandle before or after completion frees the output exactly once.
#[test]
fn join_handle_drop_frees_output() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let live = LiveCounter::default();
    for _ in 0..1000 {
        let l = live.clone();
        drop(rt.spawn(async move { l.guard() }));
    }
    let l = live.clone();
    let jh = rt.spawn(async move { l.guard() });
    while !jh.is_finished() {
        std::thread::yield_now();
    }
    drop(jh);
    let h = rt.handle().clone();
    drop(rt);
    assert_eq!(live.live(), 0);
    assert_eq!(h.metrics().live_tasks, 0);
}

/// `JoinError` travels with `?` into `Box<dyn Error + Send + Sync>` (it is `Send + Sync`), and
/// keeps its panic payload and message for `into_panic` / `panic_message`.
#[test]
fn join_error_converts_with_question_mark_and_keeps_the_payload() {
    fn run(rt: &scheduler_core::Runtime) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        rt.block_on(rt.spawn(async { panic!("boom {}", 7) }))?;
        Ok(())
    }
    let rt = scheduler_core::Runtime::builder().worker_threads(1).build().unwrap();
    let err = run(&rt).unwrap_err();
    assert_eq!(err.to_string(), "task panicked: boom 7");
    let join = rt.block_on(rt.spawn(async { std::panic::panic_any(5u8) })).unwrap_err();
    assert!(join.is_panic() && !join.is_cancelled());
    assert_eq!(join.panic_message(), None);
    assert_eq!(*join.into_panic().downcast::<u8>().unwrap(), 5);
    let cancelled = rt.spawn(std::future::pending::<()>());
    cancelled.abort();
    let e = rt.block_on(cancelled).unwrap_err();
    assert!(e.is_cancelled() && e.try_into_panic().is_err());
}
