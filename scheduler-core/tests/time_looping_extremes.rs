//! LoopingCall at the ends of time: missed intervals are skipped in O(1) whatever the jump,
//! `Duration::MAX` included, and a loop whose next grid point lies past the last representable
//! instant waits (running, stoppable) instead of firing again and again.

use scheduler_core::time::{LoopingCall, ManualReactor};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Runs `f` on a new thread; fails if it takes more than 30 s (it used to spin for ever).
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("{what}: never returned"))
}

/// A counting loop: (calls, sum of the counts `with_count` passed).
fn counting(clock: &ManualReactor) -> (LoopingCall, Arc<AtomicU64>, Arc<AtomicU64>) {
    let calls = Arc::new(AtomicU64::new(0));
    let counted = Arc::new(AtomicU64::new(0));
    let (c, n) = (calls.clone(), counted.clone());
    let lc = LoopingCall::with_count(clock.clone(), move |count: u64| {
        c.fetch_add(1, Ordering::SeqCst);
        n.fetch_add(count, Ordering::SeqCst);
    });
    (lc, calls, counted)
}

#[test]
fn advance_by_duration_max_runs_the_loop_once_and_returns() {
    within("advance(Duration::MAX)", || {
        let clock = ManualReactor::new();
        let (lc, calls, counted) = counting(&clock);
        let done = lc.start(Duration::from_secs(1), true).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        clock.advance(Duration::MAX);
        assert_eq!(calls.load(Ordering::SeqCst), 2, "one call for the whole jump");
        let end_secs = u64::MAX / 1_000_000_000;
        assert_eq!(counted.load(Ordering::SeqCst), 1 + end_secs, "every missed interval counted");
        assert!(lc.running(), "the loop still runs; its next call lies past the end of time");
        clock.advance(Duration::MAX); // the clock is at its end: nothing more happens
        clock.advance(Duration::from_secs(1));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        lc.stop().unwrap();
        assert!(done.take_result().expect("stop fires the start Deferred").is_ok());
        assert!(!lc.running());
    });
}

#[test]
fn a_loop_started_at_the_end_of_time_waits_and_stops() {
    within("start at u64::MAX", || {
        let clock = ManualReactor::new();
        clock.advance(Duration::MAX);
        let (lc, calls, _) = counting(&clock);
        let done = lc.start(Duration::from_millis(1), false).unwrap();
        clock.advance(Duration::from_secs(1));
        assert_eq!(calls.load(Ordering::SeqCst), 0, "no grid point after the last instant");
        lc.reset().unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        lc.stop().unwrap();
        assert!(done.take_result().unwrap().is_ok());
    });
}

#[test]
fn a_jump_of_a_billion_intervals_costs_one_call() {
    within("huge jump", || {
        let clock = ManualReactor::new();
        let (lc, calls, counted) = counting(&clock);
        let _done = lc.start(Duration::from_nanos(1), false).unwrap();
        clock.advance(Duration::from_secs(1_000_000_000)); // 1e18 intervals of 1 ns
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(counted.load(Ordering::SeqCst), 1_000_000_000_000_000_000);
        lc.stop().unwrap();
    });
}
