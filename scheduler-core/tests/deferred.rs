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
