//! A `LoopingCall` on a `ManualReactor` re-arms its fired timer in place (the advance holds
//! the fired slot back for the call's own re-arm): what a user sees must not change. Exactly
//! one call per interval, missed intervals counted, `stop` and `reset` after any number of
//! re-arms, and a `stop` from another thread racing the advance that fires the call.

use scheduler_core::time::{LoopingCall, ManualReactor};
use scheduler_deferred::Failure;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MS: Duration = Duration::from_millis(1);

fn counting(clock: &ManualReactor) -> (LoopingCall, Arc<AtomicU64>) {
    let calls = Arc::new(AtomicU64::new(0));
    let c = calls.clone();
    let lc = LoopingCall::new(clock.clone(), move || {
        c.fetch_add(1, Ordering::SeqCst);
        Ok::<_, Failure>(())
    });
    (lc, calls)
}

#[test]
fn n_advances_of_one_interval_make_exactly_n_calls_and_one_pending_timer() {
    let clock = ManualReactor::new();
    let (lc, calls) = counting(&clock);
    let done = lc.start(MS, false).unwrap();
    for i in 1..=10_000u64 {
        assert_eq!(clock.advance(MS), 1, "tick {i}");
        assert_eq!(clock.pending_calls(), [MS * (i as u32 + 1)]);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 10_000);
    lc.stop().unwrap();
    assert!(done.take_result().unwrap().is_ok());
    assert!(clock.pending_calls().is_empty());
    assert_eq!(clock.advance(MS * 10), 0);
    assert_eq!(calls.load(Ordering::SeqCst), 10_000);
}

#[test]
fn missed_intervals_are_counted_across_in_place_rearms() {
    let clock = ManualReactor::new();
    let counts = Arc::new(Mutex::new(Vec::new()));
    let seen = counts.clone();
    let lc = LoopingCall::with_count(clock.clone(), move |n| {
        seen.lock().unwrap().push(n);
        Ok::<_, Failure>(())
    });
    let _done = lc.start(MS, false).unwrap();
    clock.advance(MS);
    clock.advance(MS);
    clock.advance(MS * 3); // two intervals missed
    clock.advance(MS / 2);
    clock.advance(MS / 2);
    clock.advance(MS * 10);
    assert_eq!(*counts.lock().unwrap(), [1, 1, 3, 1, 10]);
    assert_eq!(clock.pending_calls(), [MS * 17]);
    lc.stop().unwrap();
}

#[test]
fn stop_and_reset_after_rearms_behave_as_before() {
    let clock = ManualReactor::new();
    let (lc, calls) = counting(&clock);
    let done = lc.start(MS * 2, false).unwrap();
    for _ in 0..5 {
        clock.advance(MS * 2);
    }
    // Reset one millisecond into an interval: the next call is a whole interval from now.
    clock.advance(MS);
    lc.reset().unwrap();
    assert_eq!(clock.pending_calls(), [MS * 13]);
    assert_eq!(clock.advance(MS), 0);
    assert_eq!(clock.advance(MS), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 6);
    lc.stop().unwrap();
    assert!(done.take_result().unwrap().is_ok());
    assert_eq!(clock.advance(MS * 100), 0);
    // Restarted, it ticks again from the new start.
    let again = lc.start(MS, false).unwrap();
    assert_eq!(clock.advance(MS), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 7);
    lc.stop().unwrap();
    assert!(again.take_result().unwrap().is_ok());
}

#[test]
fn stop_from_inside_the_call_after_rearms_fires_the_deferred_once() {
    let clock = ManualReactor::new();
    let slot: Arc<Mutex<Option<LoopingCall>>> = Arc::default();
    let calls = Arc::new(AtomicU64::new(0));
    let (s, c) = (slot.clone(), calls.clone());
    let lc = LoopingCall::new(clock.clone(), move || {
        if c.fetch_add(1, Ordering::SeqCst) + 1 == 100 {
            s.lock().unwrap().as_ref().unwrap().stop().unwrap();
        }
        Ok::<_, Failure>(())
    });
    *slot.lock().unwrap() = Some(lc.clone());
    let done = lc.start(MS, false).unwrap();
    for _ in 0..200 {
        clock.advance(MS);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 100);
    assert!(done.take_result().unwrap().is_ok());
    assert!(clock.pending_calls().is_empty());
    slot.lock().unwrap().take();
}

/// `stop` from another thread while this one advances: the call is either cancelled in time
/// or already on its way (then its end completes the stop); either way the Deferred fires
/// once, no call starts after it fired, and no timer is left.
#[test]
fn a_stop_racing_the_advance_that_fires_the_call() {
    for round in 0..200u64 {
        let clock = ManualReactor::new();
        let (lc, calls) = counting(&clock);
        let done = lc.start(MS, false).unwrap();
        let fired = Arc::new(AtomicU64::new(0));
        let f = fired.clone();
        let done = done.add_callback(move |lc| {
            f.fetch_add(1, Ordering::SeqCst);
            lc
        });
        let advancer = {
            let clock = clock.clone();
            std::thread::spawn(move || {
                for _ in 0..(round % 50) + 50 {
                    clock.advance(MS);
                }
            })
        };
        for _ in 0..round % 7 {
            std::thread::yield_now();
        }
        lc.stop().unwrap();
        let at_stop = calls.load(Ordering::SeqCst);
        advancer.join().unwrap();
        assert_eq!(fired.load(Ordering::SeqCst), 1, "round {round}");
        assert!(done.take_result().unwrap().is_ok());
        // At most the call already on its way when `stop` ran ends after it.
        assert!(calls.load(Ordering::SeqCst) <= at_stop + 1, "round {round}");
        assert!(clock.pending_calls().is_empty(), "round {round}");
    }
}

/// A new interval takes effect on the grid from the loop's start (Twisted's `_scheduleFrom`),
/// not from the call last armed: interval 3 ms, calls at 3 and 6 ms, then interval 4 ms: the
/// next call is at 8 ms (the next multiple of 4 after 6), not at 6 + 4.
#[test]
fn a_changed_interval_schedules_on_the_grid_from_the_start() {
    let clock = ManualReactor::new();
    let (lc, calls) = counting(&clock);
    let _done = lc.start(MS * 3, false).unwrap();
    clock.advance(MS * 3);
    lc.set_interval(MS * 4);
    assert_eq!(clock.pending_calls(), [MS * 6], "the armed call keeps its time");
    clock.advance(MS * 3);
    assert_eq!(clock.pending_calls(), [MS * 8]);
    clock.advance(MS * 2);
    assert_eq!(clock.pending_calls(), [MS * 12]);
    // Late by more than an interval (due at 12 ms, run at 17 ms): the grid still holds.
    clock.advance(MS * 9);
    assert_eq!(clock.pending_calls(), [MS * 20]);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    lc.stop().unwrap();
}
