//! `into_deferred` and `defer_to_thread`.

mod common;
use common::{Forever, LiveCounter};
use scheduler_core::Runtime;
use scheduler_deferred::Cancelled;

#[test]
fn into_deferred_fires_with_the_value_or_the_failure() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let d = rt.spawn(async { 21 }).into_deferred().add_callback(|v| v * 2);
    assert_eq!(rt.block_on(d).unwrap(), 42);
    let d = rt.spawn(async { panic!("deferred boom") }).into_deferred();
    let failure: scheduler_deferred::Failure = rt.block_on(d).unwrap_err();
    assert!(failure.is_panic());
    assert_eq!(failure.panic_message(), Some("deferred boom"));
}

#[test]
fn cancelling_the_deferred_aborts_the_task() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let live = LiveCounter::default();
    let jh = rt.spawn(Forever(live.guard()));
    let d = jh.into_deferred();
    d.cancel();
    let failure = rt.block_on(d).unwrap_err();
    assert!(failure.is::<Cancelled>());
    // The task is aborted: its future is dropped.
    while live.live() > 0 {
        std::thread::yield_now();
    }
}

#[test]
fn defer_to_thread_runs_on_the_blocking_pool() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let d = rt.defer_to_thread(|| std::thread::current().name().unwrap_or("").to_owned());
    let name = rt.block_on(d).unwrap();
    assert!(name.contains("-blocking-"), "{name}");
    let d = rt.handle().defer_to_thread(|| -> u8 { panic!("thread boom") });
    assert!(rt.block_on(d).unwrap_err().is_panic());
}

/// A `Deferred::from_future` made on one of the runtime's threads runs its later polls as
/// tasks of that runtime (the spawner the runtime installs), not on scheduler-deferred's
/// fallback thread and never inside the waker's caller.
#[test]
fn from_future_made_on_a_worker_resumes_on_a_worker() {
    let rt = scheduler_core::Runtime::builder().worker_threads(1).build().unwrap();
    let h = rt.handle().clone();
    let made = rt.spawn_fn(move || {
        scheduler_deferred::Deferred::from_future(async move {
            h.sleep(std::time::Duration::from_millis(1)).await; // woken by the timer driver
            let name = std::thread::current().name().unwrap_or_default().to_owned();
            Ok::<_, scheduler_deferred::Failure>(name)
        })
    });
    let d = rt.block_on(made).unwrap();
    let resumed_on = rt.block_on(d).unwrap();
    assert!(resumed_on.contains("worker"), "resumed on {resumed_on:?}");
}
