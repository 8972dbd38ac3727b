//! `ManualReactor` cases beyond the `ClockTestCase` ports of `twisted_test_task.rs` (they came
//! with the single-threaded `ManualTimers` of scheduler-timers, which `ManualReactor` replaces):
//! FIFO ties, calls scheduled during an advance, the deadline-by-deadline stepping mode,
//! sub-millisecond delays, `Duration::MAX`, and a clock set backwards.

use scheduler_core::time::ManualReactor;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

type Log = Arc<Mutex<Vec<(&'static str, f64)>>>;

fn logger(clock: &ManualReactor, log: &Log, name: &'static str) -> impl FnOnce() + Send + 'static {
    let (clock, log) = (clock.clone(), log.clone());
    move || log.lock().unwrap().push((name, clock.now().as_secs_f64()))
}

fn names(log: &Log) -> Vec<&'static str> {
    log.lock().unwrap().iter().map(|(n, _)| *n).collect()
}

#[test]
fn ties_run_first_in_first_out() {
    let clock = ManualReactor::new();
    let log = Log::default();
    for name in ["a", "b", "c", "d"] {
        let _call = clock.call_later(secs(1.0), logger(&clock, &log, name));
    }
    clock.advance(secs(5.0));
    assert_eq!(names(&log), ["a", "b", "c", "d"]);
}

#[test]
fn advance_runs_calls_scheduled_during_it_like_twisted() {
    // The clock moves first: a call scheduled from a callback with delay 0 is due in the same
    // advance; one with delay 1 s counts from the final time.
    let clock = ManualReactor::new();
    let log = Log::default();
    let (c2, log2) = (clock.clone(), log.clone());
    let _first = clock.call_later(secs(1.0), move || {
        log2.lock().unwrap().push(("first", c2.now().as_secs_f64()));
        let _zero = c2.call_later(Duration::ZERO, logger(&c2, &log2, "zero"));
        let _one = c2.call_later(secs(1.0), logger(&c2, &log2, "one"));
    });
    assert_eq!(clock.advance(secs(3.0)), 2);
    assert_eq!(*log.lock().unwrap(), [("first", 3.0), ("zero", 3.0)]);
    clock.advance(secs(1.0));
    assert_eq!(log.lock().unwrap()[2], ("one", 4.0));
}

#[test]
fn advance_stepping_fires_each_call_at_its_own_deadline() {
    let clock = ManualReactor::new();
    let log = Log::default();
    let (c2, log2) = (clock.clone(), log.clone());
    let _first = clock.call_later(secs(1.0), move || {
        log2.lock().unwrap().push(("first", c2.now().as_secs_f64()));
        let _chained = c2.call_later(secs(1.0), logger(&c2, &log2, "chained"));
    });
    let _last = clock.call_later(secs(2.5), logger(&clock, &log, "last"));
    assert_eq!(clock.advance_stepping(secs(3.0)), 3);
    assert_eq!(*log.lock().unwrap(), [("first", 1.0), ("chained", 2.0), ("last", 2.5)]);
    assert_eq!(clock.now(), secs(3.0));
}

#[test]
fn advance_stepping_in_parts_equals_advance_stepping_at_once() {
    fn scenario(steps: &[f64]) -> Vec<(&'static str, f64)> {
        let clock = ManualReactor::new();
        let log = Log::default();
        for (name, at) in [("a", 0.7), ("b", 1.3), ("c", 1.3), ("d", 2.9)] {
            let _call = clock.call_later(secs(at), logger(&clock, &log, name));
        }
        for s in steps {
            clock.advance_stepping(secs(*s));
        }
        let out = log.lock().unwrap().clone();
        out
    }
    assert_eq!(scenario(&[1.0, 2.0]), scenario(&[3.0]));
    assert_eq!(scenario(&[0.5, 0.5, 0.5, 1.5]), scenario(&[3.0]));
}

#[test]
fn sub_millisecond_delays_are_exact_on_the_manual_clock() {
    let clock = ManualReactor::new();
    let log = Log::default();
    let _call = clock.call_later(Duration::from_micros(300), logger(&clock, &log, "a"));
    clock.advance(Duration::from_micros(299));
    assert!(log.lock().unwrap().is_empty());
    clock.advance(Duration::from_micros(1));
    assert_eq!(log.lock().unwrap().len(), 1);
    assert_eq!(clock.now(), Duration::from_micros(300));
}

#[test]
fn duration_max_is_accepted_and_never_overflows() {
    let clock = ManualReactor::new();
    let log = Log::default();
    clock.advance(secs(1.0));
    let call = clock.call_later(Duration::MAX, logger(&clock, &log, "never"));
    assert!(call.active());
    clock.advance(Duration::from_secs(3600 * 24 * 365 * 100));
    assert!(log.lock().unwrap().is_empty());
    clock.advance(Duration::MAX);
    assert_eq!(log.lock().unwrap().len(), 1);
    assert!(call.called());
}

#[test]
fn clock_set_backwards_is_tolerated() {
    let clock = ManualReactor::new();
    let log = Log::default();
    let _call = clock.call_later(secs(2.0), logger(&clock, &log, "a"));
    clock.advance(secs(1.0));
    clock.clock().set_ns(0);
    clock.advance(secs(1.5));
    assert!(log.lock().unwrap().is_empty());
    clock.advance(secs(0.5));
    assert_eq!(*log.lock().unwrap(), [("a", 2.0)]);
}
