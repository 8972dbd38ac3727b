//! A `LoopingCall` stopped and restarted while one of its calls is already on its way (taken
//! for running in the same batch as the call that restarts it): the in-flight call completes
//! the old run's stop, and the new run keeps one timer (Twisted would schedule twice).
//! The worker is held on a gate while `Handle::advance` fires, so `advance`'s count is exact.

mod common;
use common::Gate;
use scheduler_core::time::LoopingCall;
use scheduler_core::Runtime;
use scheduler_deferred::Failure;
use scheduler_timers::ManualClock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Runs `step` while the only worker is blocked on a gate, then lets it go.
fn with_worker_held<R>(rt: &Runtime, step: impl FnOnce() -> R) -> R {
    let gate = Gate::default();
    let g = gate.clone();
    let held = rt.spawn_fn(move || g.wait());
    gate.wait_for_waiters(1);
    let r = step();
    gate.open();
    rt.block_on(held).unwrap();
    r
}

#[test]
fn restart_while_a_call_is_on_its_way_keeps_one_timer() {
    let rt = Runtime::builder().worker_threads(1).clock(ManualClock::new()).build().unwrap();
    let h = rt.handle().clone();
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let lc = LoopingCall::new(h.clone(), move || {
        r.fetch_add(1, Ordering::SeqCst);
        Ok::<_, Failure>(())
    });
    let (tx, rx) = mpsc::channel();
    let second = Arc::new(Mutex::new(None));
    let (l2, s2) = (lc.clone(), second.clone());
    // Filed before the loop's first call, due at the same instant: it runs first in the batch.
    let _restarter = h.call_later(secs(1), move || {
        l2.stop().unwrap();
        *s2.lock().unwrap() = Some(l2.start(secs(1), false).unwrap());
    });
    let first = lc.start(secs(1), false).unwrap();
    let f2 = first.clone();
    drop(first.add_both(move |r| {
        tx.send(r.is_ok()).unwrap();
        r
    }));
    assert_eq!(with_worker_held(&rt, || h.advance(secs(1))), Some(2));
    assert!(
        rx.recv_timeout(secs(10)).expect("the stopped run's Deferred fired"),
        "{f2:?} fired with a failure"
    );
    assert!(lc.running());
    let before = runs.load(Ordering::SeqCst);
    for i in 1..=3 {
        assert_eq!(with_worker_held(&rt, || h.advance(secs(1))), Some(1), "one timer per tick");
        while runs.load(Ordering::SeqCst) < before + i {
            std::thread::yield_now(); // the tick's call runs once the worker is released
        }
    }
    assert_eq!(runs.load(Ordering::SeqCst), before + 3);
    lc.stop().unwrap();
    let second = second.lock().unwrap().take().unwrap();
    assert!(rt.block_on(second).is_ok());
}
