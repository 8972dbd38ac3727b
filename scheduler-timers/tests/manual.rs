//! `ManualTimers` against Twisted's `task.Clock` semantics (ports of test_task.py's
//! `ClockTestCase`), plus the deadline-by-deadline stepping mode.

use scheduler_timers::{ManualTimers, TimerError};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

type Log = Rc<RefCell<Vec<(&'static str, f64)>>>;

fn logger(timers: &ManualTimers, log: &Log, name: &'static str) -> impl FnOnce() + 'static {
    let (timers, log) = (timers.clone(), log.clone());
    move || log.borrow_mut().push((name, timers.now().as_secs_f64()))
}

#[test]
fn test_seconds_starts_at_zero() {
    assert_eq!(ManualTimers::new().now(), Duration::ZERO);
}

#[test]
fn test_advance() {
    let t = ManualTimers::new();
    let log = Log::default();
    t.call_later(secs(1.0), logger(&t, &log, "a")).unwrap();
    t.advance(secs(0.5));
    assert!(log.borrow().is_empty());
    t.advance(secs(0.5));
    assert_eq!(*log.borrow(), [("a", 1.0)]);
}

#[test]
fn test_advance_cancel() {
    let t = ManualTimers::new();
    let log = Log::default();
    let call = t.call_later(secs(1.0), logger(&t, &log, "a")).unwrap();
    t.cancel(call).unwrap();
    t.advance(secs(1.0));
    assert!(log.borrow().is_empty());
    assert_eq!(t.cancel(call), Err(TimerError::AlreadyCancelled));
}

#[test]
fn test_call_later_delayed() {
    let t = ManualTimers::new();
    let log = Log::default();
    let call = t.call_later(secs(1.0), logger(&t, &log, "a")).unwrap();
    t.delay(call, secs(1.0)).unwrap();
    assert_eq!(t.deadline(call), Ok(2_000_000_000));
    t.advance(secs(1.5));
    assert!(log.borrow().is_empty());
    t.advance(secs(1.0));
    assert_eq!(*log.borrow(), [("a", 2.5)]);
}

#[test]
fn test_call_later_reset_later() {
    let t = ManualTimers::new();
    let log = Log::default();
    let call = t.call_later(secs(2.0), logger(&t, &log, "a")).unwrap();
    t.advance(secs(1.0));
    t.reset(call, secs(3.0)).unwrap();
    assert_eq!(t.deadline(call), Ok(4_000_000_000));
    t.advance(secs(2.0));
    assert!(log.borrow().is_empty());
    t.advance(secs(1.0));
    assert_eq!(*log.borrow(), [("a", 4.0)]);
}

#[test]
fn test_call_later_reset_sooner() {
    let t = ManualTimers::new();
    let log = Log::default();
    let call = t.call_later(secs(4.0), logger(&t, &log, "a")).unwrap();
    t.reset(call, secs(3.0)).unwrap();
    t.advance(secs(3.0));
    assert_eq!(*log.borrow(), [("a", 3.0)]);
    assert_eq!(t.reset(call, secs(1.0)), Err(TimerError::AlreadyFired));
    assert!(!t.is_active(call));
}

#[test]
fn test_get_delayed_calls() {
    let t = ManualTimers::new();
    let a = t.call_later(secs(1.0), || ()).unwrap();
    t.call_later(secs(2.0), || ()).unwrap();
    assert_eq!(t.pending_deadlines(), [1_000_000_000, 2_000_000_000]);
    t.cancel(a).unwrap();
    assert_eq!(t.pending_deadlines(), [2_000_000_000]);
}

#[test]
fn test_call_later_keeps_calls_ordered() {
    let t = ManualTimers::new();
    let log = Log::default();
    let a = t.call_later(secs(1.0), logger(&t, &log, "a")).unwrap();
    t.reset(a, secs(3.0)).unwrap();
    t.call_later(secs(2.0), logger(&t, &log, "b")).unwrap();
    t.pump(&[secs(1.0); 3]);
    assert_eq!(*log.borrow(), [("b", 2.0), ("a", 3.0)]);
}

#[test]
fn test_call_later_reset_keeps_calls_ordered() {
    let t = ManualTimers::new();
    let log = Log::default();
    let a = t.call_later(secs(1.0), logger(&t, &log, "a")).unwrap();
    t.call_later(secs(2.0), logger(&t, &log, "b")).unwrap();
    t.reset(a, secs(3.0)).unwrap();
    t.pump(&[secs(1.0); 3]);
    assert_eq!(*log.borrow(), [("b", 2.0), ("a", 3.0)]);
}

#[test]
fn ties_run_first_in_first_out() {
    let t = ManualTimers::new();
    let log = Log::default();
    for name in ["a", "b", "c", "d"] {
        t.call_later(secs(1.0), logger(&t, &log, name)).unwrap();
    }
    t.advance(secs(5.0));
    let names: Vec<_> = log.borrow().iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["a", "b", "c", "d"]);
}

#[test]
fn advance_runs_calls_scheduled_during_it_like_twisted() {
    // Twisted: the clock moves first, so a call scheduled from a callback with delay 0 comes
    // due in the same advance; one with delay 1 s is relative to the final time.
    let t = ManualTimers::new();
    let log = Log::default();
    let (t2, log2) = (t.clone(), log.clone());
    t.call_later(secs(1.0), move || {
        log2.borrow_mut().push(("first", t2.now().as_secs_f64()));
        t2.call_later(Duration::ZERO, logger(&t2, &log2, "zero")).unwrap();
        t2.call_later(secs(1.0), logger(&t2, &log2, "one")).unwrap();
    })
    .unwrap();
    assert_eq!(t.advance(secs(3.0)), 2);
    assert_eq!(*log.borrow(), [("first", 3.0), ("zero", 3.0)]);
    t.advance(secs(1.0));
    assert_eq!(log.borrow()[2], ("one", 4.0));
}

#[test]
fn advance_stepping_fires_each_call_at_its_own_deadline() {
    let t = ManualTimers::new();
    let log = Log::default();
    let (t2, log2) = (t.clone(), log.clone());
    t.call_later(secs(1.0), move || {
        log2.borrow_mut().push(("first", t2.now().as_secs_f64()));
        t2.call_later(secs(1.0), logger(&t2, &log2, "chained")).unwrap();
    })
    .unwrap();
    t.call_later(secs(2.5), logger(&t, &log, "last")).unwrap();
    assert_eq!(t.advance_stepping(secs(3.0)), 3);
    assert_eq!(*log.borrow(), [("first", 1.0), ("chained", 2.0), ("last", 2.5)]);
    assert_eq!(t.now(), secs(3.0));
}

#[test]
fn advance_stepping_in_parts_equals_advance_stepping_at_once() {
    fn scenario(steps: &[f64]) -> Vec<(&'static str, f64)> {
        let t = ManualTimers::new();
        let log = Log::default();
        for (name, at) in [("a", 0.7), ("b", 1.3), ("c", 1.3), ("d", 2.9)] {
            t.call_later(secs(at), logger(&t, &log, name)).unwrap();
        }
        for s in steps {
            t.advance_stepping(secs(*s));
        }
        let out = log.borrow().clone();
        out
    }
    assert_eq!(scenario(&[1.0, 2.0]), scenario(&[3.0]));
    assert_eq!(scenario(&[0.5, 0.5, 0.5, 1.5]), scenario(&[3.0]));
}

#[test]
fn sub_millisecond_delays_are_exact_on_the_manual_clock() {
    let t = ManualTimers::new();
    let log = Log::default();
    t.call_later(Duration::from_micros(300), logger(&t, &log, "a")).unwrap();
    t.advance(Duration::from_micros(299));
    assert!(log.borrow().is_empty());
    t.advance(Duration::from_micros(1));
    assert_eq!(log.borrow().len(), 1);
    assert_eq!(t.now_ns(), 300_000);
}

#[test]
fn duration_max_is_accepted_and_never_overflows() {
    let t = ManualTimers::new();
    let log = Log::default();
    t.advance(secs(1.0));
    let k = t.call_later(Duration::MAX, logger(&t, &log, "never")).unwrap();
    assert_eq!(t.deadline(k), Ok(u64::MAX));
    t.advance(Duration::from_secs(3600 * 24 * 365 * 100));
    assert!(log.borrow().is_empty());
    t.advance(Duration::MAX);
    assert_eq!(log.borrow().len(), 1);
    assert_eq!(t.now_ns(), u64::MAX);
}

#[test]
fn clock_set_backwards_is_tolerated() {
    let t = ManualTimers::new();
    let log = Log::default();
    t.call_later(secs(2.0), logger(&t, &log, "a")).unwrap();
    t.advance(secs(1.0));
    t.clock().set_ns(0);
    t.advance(secs(1.5));
    assert!(log.borrow().is_empty());
    t.advance(secs(0.5));
    assert_eq!(*log.borrow(), [("a", 2.0)]);
}
