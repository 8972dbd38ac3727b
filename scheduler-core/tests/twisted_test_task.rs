//! Ports of Twisted's `src/twisted/test/test_task.py` (and the Cooperator scenarios of
//! `test_cooperator.py`), one Rust test per Twisted test, named after it. Everything runs on
//! a `ManualReactor` (Twisted's `task.Clock`): no test waits on real time, except the `react`
//! ports, which run a real runtime and assert outcomes, never durations.
//!
//! Not ported, with the reason: `test_defaultClock` (no global reactor: the clock is passed
//! in), `test_reprFunction` / `test_reprMethod` (Python reprs), `test_deferredDeprecation`
//! (no deprecated `deferred` attribute), `test_withCountFloatingPointBoundary` is ported with
//! an interval of 1/3 s (ns integers have no float drift; the invariant "counts sum to the
//! intervals, never 0" is what is checked), and the `react` tests about argv and the global
//! reactor and its single stop (`test_singleStopCallback`, `test_singleStopErrback`,
//! `test_arguments`, `test_defaultReactor`): our `react` owns its runtime and has no argv; a
//! stop (`Handle::stop`) is idempotent, so there is no second stop to count.
//! `test_synchronousStop` and `test_asynchronousStop` are ported.

use scheduler_core::time::{
    defer_later, react_on, Cooperator, DelayedCallError, LoopingCall, LoopingCallError,
    ManualReactor, ReactorTime, SliceBudget, Step, SystemExit, TaskFinished, TaskStopped,
};
use scheduler_core::Runtime;
use scheduler_deferred::{Cancelled, Deferred, Failure};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

#[derive(Debug)]
struct TestException;
impl std::fmt::Display for TestException {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestException")
    }
}
impl std::error::Error for TestException {}

type Log<T> = Arc<Mutex<Vec<T>>>;

fn log<T>() -> Log<T> {
    Arc::new(Mutex::new(Vec::new()))
}

fn snapshot<T: Clone>(l: &Log<T>) -> Vec<T> {
    l.lock().unwrap().clone()
}

// ---------------------------------------------------------------- ClockTests

#[test]
fn test_seconds() {
    assert_eq!(ManualReactor::new().now(), Duration::ZERO);
}

#[test]
fn test_call_later() {
    let c = ManualReactor::new();
    let call = c.call_later(secs(1.0), || {});
    assert_eq!(call.time(), secs(1.0));
    assert!(call.active());
}

#[test]
fn test_call_later_cancelled() {
    let c = ManualReactor::new();
    let call = c.call_later(secs(1.0), || {});
    call.cancel().unwrap();
    assert!(!call.active());
}

#[test]
fn test_call_later_ordering() {
    let c = ManualReactor::new();
    let call1 = c.call_later(secs(10.0), || {});
    let call2 = c.call_later(secs(1.0), || {});
    assert_ne!(call1.time(), call2.time());
    call2.cancel().unwrap();
    assert!(call1.active(), "distinct calls: cancelling one leaves the other");
}

#[test]
fn test_advance() {
    let events = log();
    let c = ManualReactor::new();
    let e = events.clone();
    let call = c.call_later(secs(2.0), move || e.lock().unwrap().push(()));
    c.advance(secs(1.0));
    assert!(snapshot(&events).is_empty());
    c.advance(secs(1.0));
    assert_eq!(snapshot(&events).len(), 1);
    assert!(!call.active());
}

#[test]
fn test_advance_cancel() {
    let c = ManualReactor::new();
    let slot: Arc<Mutex<Option<scheduler_core::DelayedCall>>> = Arc::new(Mutex::new(None));
    let seen = log();
    let (s, out) = (slot.clone(), seen.clone());
    let call = c.call_later(secs(1.0), move || {
        let call = s.lock().unwrap().clone().unwrap();
        out.lock().unwrap().push(call.cancel());
    });
    *slot.lock().unwrap() = Some(call);
    c.advance(secs(1.0));
    assert_eq!(snapshot(&seen), [Err(DelayedCallError::AlreadyCalled)]);
}

#[test]
fn test_call_later_delayed() {
    let events = log();
    let c = ManualReactor::new();
    let e = events.clone();
    let call = c.call_later(secs(1.0), move || e.lock().unwrap().push((1, 2)));
    call.delay(secs(1.0)).unwrap();
    assert_eq!(call.time(), secs(2.0));
    c.advance(secs(1.5));
    assert!(snapshot(&events).is_empty());
    c.advance(secs(1.0));
    assert_eq!(snapshot(&events), [(1, 2)]);
}

#[test]
fn test_call_later_reset_later() {
    let events = log();
    let c = ManualReactor::new();
    let e = events.clone();
    let call = c.call_later(secs(2.0), move || e.lock().unwrap().push((1, 2)));
    c.advance(secs(1.0));
    call.reset(secs(3.0)).unwrap();
    assert_eq!(call.time(), secs(4.0));
    c.advance(secs(2.0));
    assert!(snapshot(&events).is_empty());
    c.advance(secs(1.0));
    assert_eq!(snapshot(&events), [(1, 2)]);
}

#[test]
fn test_call_later_reset_sooner() {
    let events = log();
    let c = ManualReactor::new();
    let e = events.clone();
    let call = c.call_later(secs(4.0), move || e.lock().unwrap().push((1, 2)));
    call.reset(secs(3.0)).unwrap();
    assert_eq!(call.time(), secs(3.0));
    c.advance(secs(3.0));
    assert_eq!(snapshot(&events), [(1, 2)]);
}

#[test]
fn test_get_delayed_calls() {
    let c = ManualReactor::new();
    let _call = c.call_later(secs(1.0), || {});
    let _call2 = c.call_later(secs(2.0), || {});
    assert_eq!(c.pending_calls(), [secs(1.0), secs(2.0)]);
}

#[test]
fn test_get_delayed_calls_empty() {
    assert!(ManualReactor::new().pending_calls().is_empty());
}

#[test]
fn test_provides_ireactor_time() {
    fn takes(_: &dyn ReactorTime) {}
    takes(&ManualReactor::new());
}

fn logtime(
    c: &ManualReactor,
    result: &Log<(&'static str, Duration)>,
    name: &'static str,
) -> impl FnOnce() + Send + 'static {
    let (c, r) = (c.clone(), result.clone());
    move || r.lock().unwrap().push((name, c.now()))
}

#[test]
fn test_call_later_keeps_calls_ordered() {
    let result = log();
    let clock = ManualReactor::new();
    let call_a = clock.call_later(secs(1.0), logtime(&clock, &result, "a"));
    call_a.reset(secs(3.0)).unwrap();
    let _b = clock.call_later(secs(2.0), logtime(&clock, &result, "b"));
    clock.pump(&[secs(1.0); 3]);
    assert_eq!(snapshot(&result), [("b", secs(2.0)), ("a", secs(3.0))]);
}

#[test]
fn test_call_later_reset_keeps_calls_ordered() {
    let result = log();
    let clock = ManualReactor::new();
    let call_a = clock.call_later(secs(1.0), logtime(&clock, &result, "a"));
    let _b = clock.call_later(secs(2.0), logtime(&clock, &result, "b"));
    call_a.reset(secs(3.0)).unwrap();
    clock.pump(&[secs(1.0); 3]);
    assert_eq!(snapshot(&result), [("b", secs(2.0)), ("a", secs(3.0))]);
}

#[test]
fn test_call_later_reset_inside_call_keeps_calls_ordered() {
    let result = log();
    let clock = ManualReactor::new();
    let call_b = clock.call_later(secs(2.0), logtime(&clock, &result, "b"));
    let _a = clock.call_later(secs(1.0), move || call_b.reset(secs(3.0)).unwrap());
    let _c = clock.call_later(secs(3.0), logtime(&clock, &result, "c"));
    clock.pump(&[secs(0.5); 10]);
    assert_eq!(snapshot(&result), [("c", secs(3.0)), ("b", secs(4.0))]);
}

/// Port note (section 5, item 2): calls scheduled during an advance that are already due run
/// in the same advance, as in Twisted's `Clock`.
#[test]
fn test_call_later_from_inside_a_call_runs_in_same_advance() {
    let result = log();
    let clock = ManualReactor::new();
    let (c2, r) = (clock.clone(), result.clone());
    let _outer = clock.call_later(secs(1.0), move || {
        r.lock().unwrap().push("outer");
        let r2 = r.clone();
        let _inner = c2.call_later(Duration::ZERO, move || r2.lock().unwrap().push("inner"));
    });
    assert_eq!(clock.advance(secs(1.0)), 2);
    assert_eq!(snapshot(&result), ["outer", "inner"]);
}

#[test]
fn test_cancel_during_advance() {
    let result = log();
    let clock = ManualReactor::new();
    let later = clock.call_later(secs(2.0), logtime(&clock, &result, "later"));
    let l2 = later.clone();
    let _first = clock.call_later(secs(1.0), move || l2.cancel().unwrap());
    clock.advance(secs(5.0));
    assert!(snapshot(&result).is_empty());
    assert_eq!(later.cancel(), Err(DelayedCallError::AlreadyCancelled));
    assert_eq!(later.reset(secs(1.0)), Err(DelayedCallError::AlreadyCancelled));
}

/// Twisted's `Clock.advance` lets an exception escape; the popped call is consumed and later
/// calls stay pending (port notes, section 1.3).
#[test]
fn test_advance_propagates_a_panicking_call() {
    let clock = ManualReactor::new();
    let ran = log();
    let r = ran.clone();
    let _bad = clock.call_later(secs(1.0), || panic!("boom"));
    let _later = clock.call_later(secs(2.0), move || r.lock().unwrap().push(()));
    let c2 = clock.clone();
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || c2.advance(secs(1.0))));
    assert!(outcome.is_err());
    assert_eq!(clock.pending_calls(), [secs(2.0)]);
    clock.advance(secs(1.0));
    assert_eq!(snapshot(&ran).len(), 1);
}

#[test]
fn test_call_later_rejects_bad_float_delays() {
    let clock = ManualReactor::new();
    for bad in [-1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(clock.call_later_secs(bad, || {}).is_err(), "{bad}");
    }
    let never = clock.call_later(Duration::MAX, || panic!("never"));
    clock.advance(Duration::from_secs(10 * 365 * 24 * 3600));
    assert!(never.active());
}

// ---------------------------------------------------------------- LoopTests

#[test]
fn test_callback_time_skips() {
    let times = log();
    let clock = ManualReactor::new();
    let call_duration = Arc::new(Mutex::new(secs(2.0)));
    let (c, t, cd) = (clock.clone(), times.clone(), call_duration.clone());
    let call = LoopingCall::new(clock.clone(), move || {
        t.lock().unwrap().push(c.now());
        let d = *cd.lock().unwrap();
        c.advance(d);
        Ok::<_, Failure>(())
    });
    let _d = call.start(secs(0.5), true).unwrap();
    assert_eq!(snapshot(&times), [secs(0.0)]);
    assert_eq!(clock.now(), secs(2.0));
    clock.advance(secs(0.0));
    assert_eq!(snapshot(&times), [secs(0.0)]);
    *call_duration.lock().unwrap() = secs(1.0);
    clock.advance(secs(0.5));
    assert_eq!(snapshot(&times), [secs(0.0), secs(2.5)]);
    assert_eq!(clock.now(), secs(3.5));
    clock.advance(secs(0.0));
    assert_eq!(snapshot(&times), [secs(0.0), secs(2.5)]);
    *call_duration.lock().unwrap() = secs(0.0);
    clock.advance(secs(0.5));
    assert_eq!(snapshot(&times), [secs(0.0), secs(2.5), secs(4.0)]);
    assert_eq!(clock.now(), secs(4.0));
}

#[test]
fn test_reactor_time_skips() {
    let times = log();
    let clock = ManualReactor::new();
    let (c, t) = (clock.clone(), times.clone());
    let call = LoopingCall::new(clock.clone(), move || {
        t.lock().unwrap().push(c.now());
        Ok::<_, Failure>(())
    });
    let _d = call.start(secs(0.5), true).unwrap();
    assert_eq!(snapshot(&times), [secs(0.0)]);
    clock.advance(secs(2.0));
    assert_eq!(snapshot(&times), [secs(0.0), secs(2.0)]);
    clock.advance(secs(1.0));
    assert_eq!(snapshot(&times), [secs(0.0), secs(2.0), secs(3.0)]);
    clock.advance(secs(0.0));
    assert_eq!(snapshot(&times), [secs(0.0), secs(2.0), secs(3.0)]);
}

fn counting_loop(clock: &ManualReactor, times: &Log<(Duration, u64)>) -> LoopingCall {
    let (c, t) = (clock.clone(), times.clone());
    LoopingCall::with_count(clock.clone(), move |n| {
        t.lock().unwrap().push((c.now(), n));
        Ok::<_, Failure>(())
    })
}

#[test]
fn test_reactor_time_count_skips() {
    let times = log();
    let clock = ManualReactor::new();
    let call = counting_loop(&clock, &times);
    let _d = call.start(ms(500), true).unwrap();
    assert_eq!(snapshot(&times), [(ms(0), 1)]);
    clock.advance(ms(510));
    assert_eq!(snapshot(&times), [(ms(0), 1), (ms(510), 1)]);
    clock.advance(ms(1510));
    assert_eq!(snapshot(&times), [(ms(0), 1), (ms(510), 1), (ms(2020), 3)]);
    clock.advance(ms(0));
    assert_eq!(snapshot(&times).len(), 3);
}

#[test]
fn test_count_lengthy_interval_counts() {
    let times = log();
    let clock = ManualReactor::new();
    let call = counting_loop(&clock, &times);
    let _d = call.start(ms(500), true).unwrap();
    assert_eq!(times.lock().unwrap().pop(), Some((ms(0), 1)));
    clock.advance(ms(510));
    assert_eq!(times.lock().unwrap().pop(), Some((ms(510), 1)));
    clock.advance(ms(875));
    assert_eq!(times.lock().unwrap().pop(), Some((ms(1385), 1)));
    clock.advance(ms(125));
    assert_eq!(times.lock().unwrap().pop(), Some((ms(1510), 1)));
}

#[test]
fn test_with_count_floating_point_boundary() {
    let acc = log();
    let clock = ManualReactor::new();
    let a = acc.clone();
    let call = LoopingCall::with_count(clock.clone(), move |n| {
        a.lock().unwrap().push(n);
        Ok::<_, Failure>(())
    });
    let count = 10;
    let interval = secs(1.0 / 3.0); // not a whole number of ns: exercises rounding
    let _d = call.start(interval, false).unwrap();
    for _ in 0..count {
        clock.advance(interval);
    }
    let acc = snapshot(&acc);
    assert_eq!(acc.iter().sum::<u64>(), count);
    assert!(!acc.contains(&0));
}

#[test]
fn test_with_count_interval_zero() {
    let clock = ManualReactor::new();
    let acc = log();
    let slot: Arc<Mutex<Option<LoopingCall>>> = Arc::new(Mutex::new(None));
    let (a, s) = (acc.clone(), slot.clone());
    let lc = LoopingCall::with_count(clock.clone(), move |n| {
        a.lock().unwrap().push(n);
        if a.lock().unwrap().len() > 4 {
            s.lock().unwrap().as_ref().unwrap().stop().unwrap();
        }
        Ok::<_, Failure>(())
    });
    *slot.lock().unwrap() = Some(lc.clone());
    let d = lc.start(Duration::ZERO, false).unwrap();
    clock.advance(Duration::ZERO);
    assert!(d.take_result().unwrap().is_ok());
    assert_eq!(snapshot(&acc), [1, 1, 1, 1, 1]);
    slot.lock().unwrap().take();
}

#[test]
fn test_with_count_interval_zero_delay() {
    let clock = ManualReactor::new();
    let deferred = Deferred::<()>::new();
    let acc = log();
    let slot: Arc<Mutex<Option<LoopingCall>>> = Arc::new(Mutex::new(None));
    let (a, s, d) = (acc.clone(), slot.clone(), deferred.clone());
    let lc = LoopingCall::with_count(clock.clone(), move |n| {
        let len = {
            let mut a = a.lock().unwrap();
            a.push(n);
            a.len()
        };
        if len == 2 {
            return d.clone();
        }
        if len > 4 {
            s.lock().unwrap().as_ref().unwrap().stop().unwrap();
        }
        Deferred::succeed(())
    });
    *slot.lock().unwrap() = Some(lc.clone());
    let _done = lc.start(Duration::ZERO, false).unwrap();
    clock.advance(Duration::ZERO);
    assert_eq!(snapshot(&acc), [1, 1]);
    clock.advance(secs(2.0));
    assert_eq!(snapshot(&acc), [1, 1]);
    deferred.callback(()).unwrap();
    clock.advance(Duration::ZERO);
    assert_eq!(snapshot(&acc), [1, 1, 1, 1, 1]);
    slot.lock().unwrap().take();
}

#[test]
fn test_with_count_interval_zero_delay_then_non_zero_interval() {
    let clock = ManualReactor::new();
    let deferred = Deferred::<()>::new();
    let acc = log();
    let (a, d) = (acc.clone(), deferred.clone());
    let lc = LoopingCall::with_count(clock.clone(), move |n| {
        let len = {
            let mut a = a.lock().unwrap();
            a.push(n);
            a.len()
        };
        if len == 2 {
            d.clone()
        } else {
            Deferred::succeed(())
        }
    });
    let _done = lc.start(Duration::ZERO, false).unwrap();
    clock.advance(secs(10.0));
    assert_eq!(snapshot(&acc), [1, 1]);
    lc.set_interval(secs(2.0));
    deferred.callback(()).unwrap();
    clock.advance(secs(7.0));
    assert_eq!(snapshot(&acc), [1, 1, 3]);
    clock.advance(secs(2.0));
    assert_eq!(snapshot(&acc), [1, 1, 3, 1]);
    clock.advance(secs(4.0));
    assert_eq!(snapshot(&acc), [1, 1, 3, 1, 2]);
}

#[test]
fn test_basic_function() {
    let clock = ManualReactor::new();
    let l = log();
    let l2 = l.clone();
    let lc = LoopingCall::new(clock.clone(), move || {
        l2.lock().unwrap().push(("a", "b", None::<&str>, "d"));
        Ok::<_, Failure>(())
    });
    let d = lc.start(ms(100), true).unwrap();
    let the_result = log();
    let r = the_result.clone();
    let _tail = d.add_callback(move |lc: LoopingCall| r.lock().unwrap().push(lc.running()));
    clock.pump(&[ms(50), ms(100), ms(100)]);
    assert_eq!(snapshot(&l).len(), 3);
    assert!(snapshot(&l).iter().all(|e| *e == ("a", "b", None, "d")));
    lc.stop().unwrap();
    assert_eq!(snapshot(&the_result), [false]);
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn test_delayed_start() {
    let clock = ManualReactor::new();
    let l = log();
    let l2 = l.clone();
    let lc = LoopingCall::new(clock.clone(), move || {
        l2.lock().unwrap().push(());
        Ok::<_, Failure>(())
    });
    let d = lc.start(ms(100), false).unwrap();
    clock.pump(&[ms(50), ms(100), ms(100)]);
    assert_eq!(snapshot(&l).len(), 2);
    lc.stop().unwrap();
    assert!(d.take_result().unwrap().is_ok());
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn test_bad_delay() {
    let lc = LoopingCall::new(ManualReactor::new(), || Ok::<_, Failure>(()));
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(lc.start_secs(bad, true), Err(LoopingCallError::InvalidInterval(_))));
    }
    assert!(!lc.running());
    assert_eq!(lc.stop(), Err(LoopingCallError::NotRunning));
    assert_eq!(lc.reset(), Err(LoopingCallError::NotRunning));
    let _d = lc.start(secs(1.0), false).unwrap();
    assert!(matches!(lc.start(secs(1.0), false), Err(LoopingCallError::AlreadyRunning)));
}

fn stopping_test(delay: Duration) {
    let ran = log();
    let clock = ManualReactor::new();
    let r = ran.clone();
    let lc = LoopingCall::new(clock.clone(), move || {
        r.lock().unwrap().push(());
        Ok::<_, Failure>(())
    });
    let d = lc.start(delay, false).unwrap();
    lc.stop().unwrap();
    assert!(snapshot(&ran).is_empty());
    assert!(clock.pending_calls().is_empty());
    assert!(d.take_result().unwrap().is_ok());
    clock.advance(secs(20.0));
    assert!(snapshot(&ran).is_empty());
}

#[test]
fn test_stop_at_once() {
    stopping_test(Duration::ZERO);
}

#[test]
fn test_stopping_before_delayed_start() {
    stopping_test(secs(10.0));
}

#[test]
fn test_reset() {
    let ran = log();
    let c = ManualReactor::new();
    let r = ran.clone();
    let lc = LoopingCall::new(c.clone(), move || {
        r.lock().unwrap().push(());
        Ok::<_, Failure>(())
    });
    let _d = lc.start(secs(2.0), false).unwrap();
    c.advance(secs(1.0));
    lc.reset().unwrap();
    c.advance(secs(1.0));
    assert!(snapshot(&ran).is_empty());
    c.advance(secs(1.0));
    assert_eq!(snapshot(&ran).len(), 1);
}

// ---------------------------------------------------------------- ReactorLoopTests
// (Twisted runs these on the real reactor; here on a manual clock, plus runtime variants in
// time_runtime.rs.)

#[test]
fn test_failure() {
    let clock = ManualReactor::new();
    let lc = LoopingCall::new(clock.clone(), || Err::<(), _>(Failure::new(TestException)));
    let d = lc.start(ms(100), true).unwrap();
    assert!(d.take_result().unwrap().unwrap_err().is::<TestException>());
    assert!(!lc.running());
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn test_fail_and_stop() {
    let clock = ManualReactor::new();
    let slot: Arc<Mutex<Option<LoopingCall>>> = Arc::new(Mutex::new(None));
    let s = slot.clone();
    let lc = LoopingCall::new(clock.clone(), move || {
        s.lock().unwrap().as_ref().unwrap().stop().unwrap();
        Err::<(), _>(Failure::new(TestException))
    });
    *slot.lock().unwrap() = Some(lc.clone());
    let d = lc.start(ms(100), false).unwrap();
    clock.advance(ms(100));
    assert!(d.take_result().unwrap().unwrap_err().is::<TestException>());
    slot.lock().unwrap().take();
}

#[test]
fn test_panic_in_f_fails_the_loop() {
    let clock = ManualReactor::new();
    let lc = LoopingCall::new(clock.clone(), || -> Result<(), Failure> { panic!("boom") });
    let d = lc.start(ms(100), false).unwrap();
    clock.advance(ms(100));
    let failure = d.take_result().unwrap().unwrap_err();
    assert!(failure.is_panic());
    assert!(!lc.running());
}

#[test]
fn test_every_iteration() {
    let clock = ManualReactor::new();
    let ran = log();
    let slot: Arc<Mutex<Option<LoopingCall>>> = Arc::new(Mutex::new(None));
    let (r, s) = (ran.clone(), slot.clone());
    let lc = LoopingCall::new(clock.clone(), move || {
        r.lock().unwrap().push(());
        if r.lock().unwrap().len() > 5 {
            s.lock().unwrap().as_ref().unwrap().stop().unwrap();
        }
        Ok::<_, Failure>(())
    });
    *slot.lock().unwrap() = Some(lc.clone());
    let d = lc.start(Duration::ZERO, true).unwrap();
    clock.advance(Duration::ZERO);
    assert!(d.take_result().unwrap().is_ok());
    assert_eq!(snapshot(&ran).len(), 6);
    slot.lock().unwrap().take();
}

#[test]
fn test_stop_at_once_later() {
    let clock = ManualReactor::new();
    let ran = log();
    let r = ran.clone();
    let lc = LoopingCall::new(clock.clone(), move || {
        r.lock().unwrap().push(());
        Ok::<_, Failure>(())
    });
    let _d = lc.start(secs(1.0), false).unwrap();
    let l2 = lc.clone();
    let _stopper = clock.call_later(Duration::ZERO, move || l2.stop().unwrap());
    clock.advance(Duration::ZERO);
    clock.advance(secs(5.0));
    assert!(snapshot(&ran).is_empty());
}

#[test]
fn test_wait_deferred() {
    let clock = ManualReactor::new();
    let slot: Arc<Mutex<Option<LoopingCall>>> = Arc::new(Mutex::new(None));
    let (c, s) = (clock.clone(), slot.clone());
    let lc = LoopingCall::new(clock.clone(), move || {
        let d = Deferred::<()>::new();
        let fire = d.clone();
        let s = s.clone();
        let tail = d.add_callback(move |()| {
            s.lock().unwrap().as_ref().unwrap().stop().unwrap();
        });
        let _call = c.call_later(secs(1.0), move || fire.callback(()).unwrap());
        tail
    });
    *slot.lock().unwrap() = Some(lc.clone());
    let _d = lc.start(ms(200), true).unwrap();
    clock.pump(&[ms(200), ms(800)]);
    assert!(clock.pending_calls().is_empty());
    assert!(!lc.running());
    slot.lock().unwrap().take();
}

#[test]
fn test_failure_propagation() {
    let clock = ManualReactor::new();
    let c = clock.clone();
    let lc = LoopingCall::new(clock.clone(), move || {
        let d = Deferred::<()>::new();
        let fire = d.clone();
        let _call = c.call_later(ms(300), move || fire.errback(TestException).unwrap());
        d
    });
    let d = lc.start(secs(1.0), true).unwrap();
    clock.pump(&[ms(300)]);
    assert!(clock.pending_calls().is_empty());
    assert!(d.take_result().unwrap().unwrap_err().is::<TestException>());
}

#[test]
fn test_deferred_with_count() {
    let clock = ManualReactor::new();
    let d = Deferred::<()>::new();
    let counts = log();
    let (cs, first) = (counts.clone(), d.clone());
    let lc = LoopingCall::with_count(clock.clone(), move |n| {
        cs.lock().unwrap().push(n);
        if cs.lock().unwrap().len() == 1 {
            first.clone()
        } else {
            Deferred::succeed(())
        }
    });
    let _done = lc.start(ms(200), false).unwrap();
    assert!(snapshot(&counts).is_empty());
    clock.pump(&[ms(200), ms(400)]);
    assert_eq!(snapshot(&counts).len(), 1);
    d.callback(()).unwrap();
    clock.pump(&[ms(200)]);
    assert_eq!(snapshot(&counts), [1, 3]);
}

// ---------------------------------------------------------------- DeferLaterTests

#[test]
fn test_defer_later_callback() {
    let results = log();
    let clock = ManualReactor::new();
    let r = results.clone();
    let d = defer_later(&clock, secs(3.0), move || {
        r.lock().unwrap().push(("foo", "bar"));
        Ok::<_, Failure>("flag")
    });
    clock.advance(secs(2.0));
    assert!(snapshot(&results).is_empty());
    clock.advance(secs(1.0));
    assert_eq!(snapshot(&results), [("foo", "bar")]);
    assert_eq!(d.take_result().unwrap().unwrap(), "flag");
}

#[test]
fn test_defer_later_errback() {
    let clock = ManualReactor::new();
    let d = defer_later(&clock, secs(1.0), || Err::<(), _>(Failure::new(TestException)));
    clock.advance(secs(1.0));
    assert!(d.take_result().unwrap().unwrap_err().is::<TestException>());
}

#[test]
fn test_defer_later_cancel() {
    let called = log();
    let clock = ManualReactor::new();
    let c = called.clone();
    let d = defer_later(&clock, secs(1.0), move || {
        c.lock().unwrap().push(());
        Ok::<_, Failure>(())
    });
    d.cancel();
    assert!(clock.pending_calls().is_empty());
    assert!(d.take_result().unwrap().unwrap_err().is::<Cancelled>());
    clock.advance(secs(2.0));
    assert!(snapshot(&called).is_empty());
}

#[test]
fn test_defer_later_no_callback() {
    let clock = ManualReactor::new();
    let d = defer_later(&clock, secs(2.0), || Ok::<_, Failure>(()));
    assert!(!d.is_called());
    clock.advance(secs(2.0));
    assert!(d.take_result().unwrap().is_ok());
}

// ---------------------------------------------------------------- ReactTests

fn one_worker() -> Runtime {
    Runtime::builder().worker_threads(1).build().unwrap()
}

#[test]
fn test_runs_until_async_callback() {
    let time_passed = log();
    let tp = time_passed.clone();
    let code = react_on(one_worker(), move |h| {
        let finished = Deferred::<()>::new();
        let f = finished.clone();
        let _a = h.call_later(ms(1), move || tp.lock().unwrap().push(true));
        let _b = h.call_later(ms(2), move || f.callback(()).unwrap());
        finished
    });
    assert_eq!(code, 0);
    assert_eq!(snapshot(&time_passed), [true]);
}

#[test]
fn test_runs_until_sync_callback() {
    assert_eq!(react_on(one_worker(), |_| Deferred::succeed(())), 0);
}

#[test]
fn test_runs_until_async_errback() {
    let code = react_on(one_worker(), |h| {
        let finished = Deferred::<()>::new();
        let f = finished.clone();
        let _b = h.call_later(ms(1), move || f.errback(TestException).unwrap());
        finished
    });
    assert_eq!(code, 1);
}

#[test]
fn test_runs_until_sync_errback() {
    assert_eq!(react_on(one_worker(), |_| Deferred::<()>::fail(TestException)), 1);
}

#[test]
fn test_exit_with_defined_code() {
    assert_eq!(react_on(one_worker(), |_| Deferred::<()>::fail(SystemExit(23))), 23);
}

#[test]
fn test_react_coro_runs_until_async_callback() {
    let code = react_on(one_worker(), |h| {
        Deferred::from_future(async move {
            h.sleep(ms(1)).await;
            Ok::<_, Failure>(())
        })
    });
    assert_eq!(code, 0);
}

// ---------------------------------------------------------------- Cooperator (test_cooperator.py)

fn units_coop(clock: &ManualReactor, n: u32) -> Cooperator {
    Cooperator::with_budget(clock.clone(), SliceBudget::Units(n))
}

#[test]
fn test_cooperator_round_robin_slices() {
    let clock = ManualReactor::new();
    let coop = units_coop(&clock, 4);
    let out = log();
    let (a, b) = (out.clone(), out.clone());
    let da = coop.coiterate((0..3).map(move |i| a.lock().unwrap().push(("a", i))));
    let db = coop.coiterate((0..3).map(move |i| b.lock().unwrap().push(("b", i))));
    clock.advance(secs(1.0));
    assert_eq!(snapshot(&out), [("a", 0), ("b", 0), ("a", 1), ("b", 1)]);
    clock.advance(secs(1.0));
    // Tick 2: a2, b2, then each iterator reports its end (a unit each).
    assert_eq!(snapshot(&out)[4..], [("a", 2), ("b", 2)]);
    assert!(da.take_result().unwrap().is_ok());
    assert!(db.take_result().unwrap().is_ok());
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn test_stop_running() {
    let clock = ManualReactor::new();
    let coop = units_coop(&clock, 1);
    let d = coop.coiterate(std::iter::repeat(()));
    coop.stop();
    assert!(d.take_result().unwrap().unwrap_err().is::<scheduler_core::time::SchedulerStopped>());
    let later = coop.coiterate(std::iter::once(()));
    assert!(later.take_result().unwrap().is_err(), "a stopped cooperator refuses new tasks");
}

#[test]
fn test_unexpected_error() {
    let clock = ManualReactor::new();
    let coop = units_coop(&clock, 10);
    let d =
        coop.coiterate((0..3).map(
            |i| {
                if i == 1 {
                    Err(Failure::new(TestException))
                } else {
                    Ok(())
                }
            },
        ));
    clock.advance(secs(1.0));
    assert!(d.take_result().unwrap().unwrap_err().is::<TestException>());
}

#[test]
fn test_iterator_panic_fails_task() {
    let clock = ManualReactor::new();
    let coop = units_coop(&clock, 10);
    let d = coop.coiterate((0..3).map(|i| {
        if i == 1 {
            panic!("boom")
        }
    }));
    clock.advance(secs(1.0));
    assert!(d.take_result().unwrap().unwrap_err().is_panic());
}

#[test]
fn test_yielded_deferred_pauses_task() {
    let clock = ManualReactor::new();
    let coop = units_coop(&clock, 10);
    let gate = Deferred::<()>::new();
    let g = gate.clone();
    let out = log();
    let o = out.clone();
    let d = coop.coiterate((0..3).map(move |i| {
        o.lock().unwrap().push(i);
        if i == 0 {
            Step::Wait(g.clone())
        } else {
            Step::Continue
        }
    }));
    clock.advance(secs(1.0));
    clock.advance(secs(1.0));
    assert_eq!(snapshot(&out), [0]);
    gate.callback(()).unwrap();
    clock.advance(secs(1.0));
    assert_eq!(snapshot(&out), [0, 1, 2]);
    assert!(d.take_result().unwrap().is_ok());
}

#[test]
fn test_pause_resume() {
    let clock = ManualReactor::new();
    let coop = units_coop(&clock, 1);
    let out = log();
    let o = out.clone();
    let task = coop.cooperate((0..3).map(move |i| o.lock().unwrap().push(i)));
    task.pause().unwrap();
    task.pause().unwrap();
    clock.advance(secs(1.0));
    assert!(snapshot(&out).is_empty());
    task.resume().unwrap();
    clock.advance(secs(1.0));
    assert!(snapshot(&out).is_empty(), "two pauses need two resumes");
    task.resume().unwrap();
    assert_eq!(task.resume(), Err(TaskFinished::NotPaused));
    assert!(snapshot(&out).is_empty(), "resume does no work synchronously");
    clock.advance(secs(1.0));
    assert_eq!(snapshot(&out), [0]);
}

#[test]
fn test_stop_task_and_when_done() {
    let clock = ManualReactor::new();
    let coop = units_coop(&clock, 1);
    let task = coop.cooperate(std::iter::repeat(()));
    let first = task.when_done();
    let second = task.when_done();
    task.stop().unwrap();
    assert!(first.take_result().unwrap().unwrap_err().is::<TaskStopped>());
    assert!(second.take_result().unwrap().unwrap_err().is::<TaskStopped>());
    assert_eq!(task.stop(), Err(TaskFinished::Stopped));
    assert_eq!(task.pause(), Err(TaskFinished::Stopped));
    let late = task.when_done();
    assert!(late.take_result().unwrap().is_err(), "when_done after completion fires at once");
}

#[test]
fn test_when_done_after_success() {
    let clock = ManualReactor::new();
    let coop = units_coop(&clock, 10);
    let task = coop.cooperate((0..2).map(|_| ()));
    clock.advance(secs(1.0));
    assert!(task.when_done().take_result().unwrap().is_ok());
    assert_eq!(task.pause(), Err(TaskFinished::Done));
}

// ---- Beyond Twisted: restarting a loop while one of its calls is in flight ---------------
// Twisted overwrites `_deferred` and schedules twice here (the first `start()` Deferred never
// fires; `f` then runs twice per interval). Ours: the in-flight call completes the old run's
// stop, and the new run keeps exactly one pending call.

/// Where a restarting loop's `f` leaves the second run's `start` Deferred.
type SecondStart = Arc<Mutex<Option<Deferred<LoopingCall>>>>;

/// A loop whose `f` counts its runs and, on run `restart_on`, stops and restarts its loop.
fn restarting_loop(
    clock: &ManualReactor,
    restart_on: usize,
    now: bool,
) -> (LoopingCall, Log<usize>, SecondStart) {
    let runs = log();
    let second = Arc::new(Mutex::new(None));
    let me: Arc<Mutex<Option<LoopingCall>>> = Arc::new(Mutex::new(None));
    let (r, s, m) = (runs.clone(), second.clone(), me.clone());
    let lc = LoopingCall::new(clock.clone(), move || {
        let n = {
            let mut r = r.lock().unwrap();
            let n = r.len() + 1;
            r.push(n);
            n
        };
        if n == restart_on {
            let lc = m.lock().unwrap().clone().unwrap();
            lc.stop().unwrap();
            *s.lock().unwrap() = Some(lc.start(secs(1.0), now).unwrap());
        }
        Ok::<_, Failure>(())
    });
    *me.lock().unwrap() = Some(lc.clone());
    (lc, runs, second)
}

#[test]
fn restart_inside_f_keeps_one_pending_call() {
    let clock = ManualReactor::new();
    let (lc, runs, second) = restarting_loop(&clock, 2, false);
    let first = lc.start(secs(1.0), false).unwrap();
    clock.advance(secs(1.0));
    clock.advance(secs(1.0)); // run 2 restarts the loop
    assert!(first.take_result().unwrap().is_ok(), "the first run's stop completed");
    assert!(lc.running());
    assert_eq!(clock.pending_calls().len(), 1);
    for _ in 0..3 {
        clock.advance(secs(1.0));
    }
    assert_eq!(snapshot(&runs), [1, 2, 3, 4, 5], "one run per interval, not two");
    lc.stop().unwrap();
    assert!(second.lock().unwrap().take().unwrap().take_result().unwrap().is_ok());
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn restart_now_inside_f_runs_once_and_keeps_one_pending_call() {
    let clock = ManualReactor::new();
    let (lc, runs, _second) = restarting_loop(&clock, 1, true);
    let first = lc.start(secs(1.0), false).unwrap();
    clock.advance(secs(1.0)); // run 1 restarts with now=true: f is busy, the re-entrant call skips
    assert!(first.take_result().unwrap().is_ok());
    assert_eq!(clock.pending_calls().len(), 1);
    clock.advance(secs(1.0));
    clock.advance(secs(1.0));
    assert_eq!(snapshot(&runs), [1, 2, 3]);
    lc.stop().unwrap();
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn restart_from_another_call_due_at_the_same_instant() {
    // A call due at the same instant as the loop's, filed first, stops and restarts the loop.
    // (A manual reactor runs one call at a time, so the loop's call is still cancellable here;
    // the runtime's batched variant, where it is already on its way, is in
    // `time_looping_restart.rs`.)
    let clock = ManualReactor::new();
    let runs = log();
    let r = runs.clone();
    let lc = LoopingCall::new(clock.clone(), move || {
        r.lock().unwrap().push(());
        Ok::<_, Failure>(())
    });
    let second = Arc::new(Mutex::new(None));
    let (l2, s2) = (lc.clone(), second.clone());
    let _restarter = clock.call_later(secs(1.0), move || {
        l2.stop().unwrap();
        *s2.lock().unwrap() = Some(l2.start(secs(1.0), false).unwrap());
    });
    let first = lc.start(secs(1.0), false).unwrap();
    clock.advance(secs(1.0));
    assert!(first.take_result().unwrap().is_ok(), "the stopped run's Deferred fired");
    assert!(lc.running());
    assert_eq!(clock.pending_calls().len(), 1);
    let before = snapshot(&runs).len();
    clock.advance(secs(1.0));
    clock.advance(secs(1.0));
    assert_eq!(snapshot(&runs).len(), before + 2, "one run per interval of the new run");
    lc.stop().unwrap();
    assert!(second.lock().unwrap().take().unwrap().take_result().unwrap().is_ok());
}

/// test_removingLastTaskStopsScheduledCall: when the last task leaves the cooperator
/// (stopped, or paused), its next tick is cancelled, so no reactor state is left behind; a new
/// task schedules a tick again.
#[test]
fn test_removing_last_task_stops_scheduled_call() {
    let clock = ManualReactor::new();
    let coop = units_coop(&clock, 1);
    let task1 = coop.cooperate(vec![(), ()]);
    let task2 = coop.cooperate(vec![(), ()]);
    assert_eq!(clock.pending_calls().len(), 1, "one tick scheduled for both");
    task1.stop().unwrap();
    assert_eq!(clock.pending_calls().len(), 1, "task2 still needs the tick");
    task2.stop().unwrap();
    assert!(clock.pending_calls().is_empty(), "the last task left: tick cancelled");
    let task3 = coop.cooperate(vec![(), ()]);
    assert_eq!(clock.pending_calls().len(), 1, "a new task schedules a tick again");
    task3.pause().unwrap();
    assert!(clock.pending_calls().is_empty(), "a paused last task leaves no tick either");
    task3.resume().unwrap();
    assert_eq!(clock.pending_calls().len(), 1);
}

/// test_synchronousStop: `main` stops the runtime just before its Deferred fires: exit 0.
#[test]
fn test_synchronous_stop() {
    let code = react_on(one_worker(), |h| {
        let d = Deferred::<()>::new();
        let (fire, stop) = (d.clone(), h.clone());
        let _call = h.call_later(ms(1), move || {
            stop.stop();
            fire.callback(()).unwrap();
        });
        d
    });
    assert_eq!(code, 0);
}

/// test_asynchronousStop: `main` stops the runtime later and its Deferred never fires: react
/// returns (the stop ends it) with exit 0.
#[test]
fn test_asynchronous_stop() {
    let code = react_on(one_worker(), |h| {
        let stop = h.clone();
        let _call = h.call_later(ms(5), move || stop.stop());
        Deferred::<()>::new()
    });
    assert_eq!(code, 0);
}

/// A failure that fires just after the stop still sets the status (Twisted: `stop(result,
/// False)` records the code once the reactor is stopping).
#[test]
fn react_stop_then_failure_exits_one() {
    let code = react_on(one_worker(), |h| {
        let d = Deferred::<()>::new();
        let (fire, stop) = (d.clone(), h.clone());
        let _call = h.call_later(ms(1), move || {
            stop.stop();
            fire.errback(Failure::new(std::fmt::Error)).unwrap();
        });
        d
    });
    assert_eq!(code, 1);
}
