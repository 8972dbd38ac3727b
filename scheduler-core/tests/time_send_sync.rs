//! Which time-API types cross threads: everything a runtime hands out is `Send + Sync`; the
//! deterministic runtime is single-threaded (`!Send`).

use scheduler_core::time::{
    CooperativeTask, Cooperator, DelayedCall, Elapsed, LoopingCall, ManualReactor, Sleep, Timeout,
};
use scheduler_core::DeterministicRuntime;

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}

#[test]
fn handles_are_send_and_sync() {
    send_sync::<DelayedCall>();
    send_sync::<LoopingCall>();
    send_sync::<ManualReactor>();
    send_sync::<Cooperator>();
    send_sync::<CooperativeTask>();
    send_sync::<Elapsed>();
    send::<Sleep>();
    send::<Timeout<Sleep>>();
}

/// `DeterministicRuntime` holds `Rc`s: it cannot leave its thread (a `compile_fail` doctest
/// on the type checks that).
#[test]
fn deterministic_runtime_stays_on_its_thread() {
    let rt = DeterministicRuntime::new(0);
    assert_eq!(rt.live_tasks(), 0);
}
