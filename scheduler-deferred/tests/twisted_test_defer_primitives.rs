//! Ports of Twisted's `test_defer.py` for the helpers around `Deferred`: `DeferredList`,
//! `gatherResults`, `DeferredQueue`, `DeferredLock`, `DeferredSemaphore` and `addTimeout`
//! (`DeferredTests`, `OtherPrimitivesTests`, `DeferredAddTimeoutTests`). One Rust test per
//! Twisted test, named after it in snake case.

// Twisted code drops what `addCallback` returns: it is the same chain, kept alive by the
// producer's handle. `let _ = d.add_callback(...)` says the same here.
#![allow(clippy::let_underscore_future)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use scheduler_deferred::{
    gather_results, race, Cancelled, Deferred, DeferredList, DeferredLock, DeferredQueue,
    DeferredSemaphore, Failure, FailureGroup, FirstError, ListResult, NoTokens, NotAcquired,
    QueueOverflow, QueueUnderflow, ResultTaken, TimedOut,
};

fn all<T: Send + 'static>(d: &Deferred<ListResult<T>>) -> Vec<Result<T, Failure>> {
    match success_result_of(d) {
        ListResult::All(results) => results,
        ListResult::First { .. } => panic!("expected the whole list"),
    }
}

// ---- DeferredList / gatherResults ----------------------------------------------------------

/// testDeferredList: results in input order, failures included.
#[test]
fn test_deferred_list() {
    let ds: Vec<Deferred<String>> = (0..3).map(|_| Deferred::new()).collect();
    let dl = DeferredList::new(ds.clone()).build();
    ds[0].callback("1".into()).unwrap();
    let _ = ds[1].clone().add_errback(|_| Ok(String::new())); // eat the passed-on error
    ds[1].errback(GenericError::new("2")).unwrap();
    assert_no_result(&dl);
    ds[2].callback("3".into()).unwrap();
    let results = all(&dl);
    assert_eq!(results[0].as_ref().unwrap(), "1");
    assert_eq!(results[1].as_ref().unwrap_err().to_string(), "2");
    assert_eq!(results[2].as_ref().unwrap(), "3");
}

/// testEmptyDeferredList: fires `[]` at once, but never with fire_on_one_callback.
#[test]
fn test_empty_deferred_list() {
    let dl = DeferredList::<()>::new(vec![]).build();
    assert!(all(&dl).is_empty());
    let dl = DeferredList::<()>::new(vec![]).fire_on_one_callback(true).build();
    assert!(!dl.is_called());
}

/// testDeferredListFireOnOneError
#[test]
fn test_deferred_list_fire_on_one_error() {
    let ds: Vec<Deferred<String>> = (0..3).map(|_| Deferred::new()).collect();
    let dl = DeferredList::new(ds.clone()).fire_on_one_errback(true).build();
    let _ = ds[1].clone().add_errback(|_| Ok(String::new()));
    ds[0].callback("1".into()).unwrap();
    assert_no_result(&dl);
    ds[1].errback(GenericError::new("from def2")).unwrap();
    let failure = failure_result_of(&dl);
    let first = failure.downcast_ref::<FirstError>().expect("a FirstError");
    assert_eq!(first.index, 1);
    assert_eq!(first.failure.downcast_ref(), Some(&GenericError::new("from def2")));
    assert_eq!(failure.to_string(), "FirstError[#1]: caused by: from def2");
}

/// fireOnOneCallback: the first success and its index.
#[test]
fn test_deferred_list_fire_on_one_callback() {
    let ds: Vec<Deferred<u8>> = (0..3).map(|_| Deferred::new()).collect();
    let dl = DeferredList::new(ds.clone()).fire_on_one_callback(true).build();
    ds[2].callback(7).unwrap();
    ds[0].callback(1).unwrap(); // too late: dropped
    match success_result_of(&dl) {
        ListResult::First { index, value } => assert_eq!((index, value), (2, 7)),
        ListResult::All(_) => panic!("expected the first success"),
    }
}

/// testDeferredListDontConsumeErrors: the failure also keeps going down the input's chain.
#[test]
fn test_deferred_list_dont_consume_errors() {
    let d1 = Deferred::<()>::new();
    let dl = DeferredList::new(vec![d1.clone()]).build();
    let trapped = Log::new();
    let t = trapped.clone();
    let _ = d1.clone().add_errback(move |f| {
        t.push(f.to_string());
        Ok(())
    });
    d1.errback(GenericError::new("Bang")).unwrap();
    assert_eq!(trapped.get(), ["Bang"]);
    assert_eq!(all(&dl)[0].as_ref().unwrap_err().to_string(), "Bang");
}

/// testDeferredListConsumeErrors: the input's chain continues without the failure. (Twisted
/// continues it with `None`, so a later errback does not run; ours is spent, so a later
/// errback runs with `ResultTaken`, never with the consumed failure.)
#[test]
fn test_deferred_list_consume_errors() {
    let d1 = Deferred::<()>::new();
    let dl = DeferredList::new(vec![d1.clone()]).consume_errors(true).build();
    let trapped = Log::new();
    let t = trapped.clone();
    let _ = d1.clone().add_errback(move |f| {
        t.push(if f.is::<ResultTaken>() { "taken".to_owned() } else { f.to_string() });
        Ok(())
    });
    d1.errback(GenericError::new("Bang")).unwrap();
    assert_eq!(trapped.get(), ["taken"]);
    assert_eq!(all(&dl)[0].as_ref().unwrap_err().to_string(), "Bang");
}

/// testDeferredListFireOnOneErrorWithAlreadyFiredDeferreds
#[test]
fn test_deferred_list_fire_on_one_error_with_already_fired_deferreds() {
    let d1 = Deferred::<()>::new();
    let d2 = Deferred::<()>::new();
    d1.errback(GenericError::new("Bang")).unwrap();
    let dl = DeferredList::new(vec![d1.clone(), d2]).fire_on_one_errback(true).build();
    assert!(failure_result_of(&dl).is::<FirstError>());
    let _ = d1.add_errback(|_| Ok(()));
}

/// testDeferredListWithAlreadyFiredDeferreds
#[test]
fn test_deferred_list_with_already_fired_deferreds() {
    let d1 = Deferred::<u8>::new();
    let d2 = Deferred::<u8>::new();
    d1.errback(GenericError::new("Bang")).unwrap();
    d2.callback(2).unwrap();
    let dl = DeferredList::new(vec![d1.clone(), d2]).build();
    assert_eq!(all(&dl).len(), 2);
    let _ = d1.add_errback(|_| Ok(0));
}

/// test_cancelDeferredList: cancelling the list cancels every input.
#[test]
fn test_cancel_deferred_list() {
    let (one, two) = (Deferred::<()>::new(), Deferred::<()>::new());
    let dl = DeferredList::new(vec![one.clone(), two.clone()]).consume_errors(true).build();
    dl.cancel();
    let results = all(&dl);
    assert!(results.iter().all(|r| r.as_ref().unwrap_err().is::<Cancelled>()));
    assert!(one.is_called() && two.is_called());
}

/// test_cancelDeferredListCallback: an input whose canceller calls back keeps its value.
#[test]
fn test_cancel_deferred_list_callback() {
    let one = Deferred::<&str>::with_canceller(|d| d.callback("Callback Result").unwrap());
    let two = Deferred::<&str>::new();
    let dl = DeferredList::new(vec![one, two]).consume_errors(true).build();
    dl.cancel();
    let results = all(&dl);
    assert_eq!(results[0].as_ref().unwrap(), &"Callback Result");
    assert!(results[1].as_ref().unwrap_err().is::<Cancelled>());
}

/// test_cancelDeferredListWithFireOnOneCallback
#[test]
fn test_cancel_deferred_list_with_fire_on_one_callback() {
    let (one, two) = (Deferred::<()>::new(), Deferred::<()>::new());
    let dl = DeferredList::new(vec![one.clone(), two.clone()])
        .fire_on_one_callback(true)
        .consume_errors(true)
        .build();
    dl.cancel();
    assert!(one.is_called() && two.is_called());
    assert_eq!(all(&dl).len(), 2, "no success: the whole list, all Cancelled");
}

/// test_cancelFiredOnOneCallbackDeferredList: cancelling a fired list does nothing.
#[test]
fn test_cancel_fired_on_one_callback_deferred_list() {
    let (one, two) = (Deferred::<()>::new(), Deferred::<()>::new());
    let dl = DeferredList::new(vec![one.clone(), two.clone()]).fire_on_one_callback(true).build();
    one.callback(()).unwrap();
    dl.cancel();
    assert!(!two.is_called());
    assert!(matches!(success_result_of(&dl), ListResult::First { index: 0, .. }));
}

/// test_gatherResults
#[test]
fn test_gather_results() {
    let ok = gather_results(vec![Deferred::succeed(1), Deferred::succeed(2)], false);
    assert_eq!(success_result_of(&ok), [1, 2]);
    let bad = Deferred::<i32>::fail(GenericError::new("value error"));
    let failed = gather_results(vec![Deferred::succeed(1), bad.clone()], false);
    assert!(failure_result_of(&failed).is::<FirstError>());
    let _ = bad.add_errback(|_| Ok(1));
}

/// test_gatherResultsWithConsumeErrors (a later errback of the input sees `ResultTaken`, not
/// the consumed failure: see test_deferred_list_consume_errors)
#[test]
fn test_gather_results_with_consume_errors() {
    let good = Deferred::succeed(1);
    let bad = Deferred::<i32>::fail(GenericError::new("oh noes"));
    let d = gather_results(vec![good, bad.clone()], true);
    let unconsumed = Log::new();
    let u = unconsumed.clone();
    let _ = bad.add_errback(move |f| {
        u.push(if f.is::<ResultTaken>() { "taken".to_owned() } else { f.to_string() });
        Ok(0)
    });
    assert_eq!(unconsumed.get(), ["taken"]);
    let failure = failure_result_of(&d);
    assert!(failure.downcast_ref::<FirstError>().unwrap().failure.is::<GenericError>());
}

/// test_cancelGatherResults
#[test]
fn test_cancel_gather_results() {
    let (one, two) = (Deferred::<()>::new(), Deferred::<()>::new());
    let result = gather_results(vec![one.clone(), two.clone()], false);
    result.cancel();
    assert!(failure_result_of(&one).is::<Cancelled>());
    assert!(failure_result_of(&two).is::<Cancelled>());
    let failure = failure_result_of(&result);
    assert!(failure.downcast_ref::<FirstError>().unwrap().failure.is::<Cancelled>());
}

/// test_cancelGatherResultsWithAllDeferredsCallback
#[test]
fn test_cancel_gather_results_with_all_deferreds_callback() {
    let make = || Deferred::<&str>::with_canceller(|d| d.callback("Callback Result").unwrap());
    let result = gather_results(vec![make(), make()], false);
    result.cancel();
    assert_eq!(success_result_of(&result), ["Callback Result", "Callback Result"]);
}

// ---- RaceTests ------------------------------------------------------------------------------

/// `_setupRaceState`: `n` Deferreds whose cancellers count their calls (and fire nothing, so
/// a cancel then fails them with `Cancelled`).
fn race_state(n: usize) -> (Vec<Arc<AtomicUsize>>, Vec<Deferred<u32>>) {
    let counts: Vec<Arc<AtomicUsize>> = (0..n).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let ds = counts
        .iter()
        .map(|c| {
            let c = c.clone();
            Deferred::with_canceller(move |_: &Deferred<u32>| {
                c.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    (counts, ds)
}

fn cancel_counts(counts: &[Arc<AtomicUsize>]) -> Vec<usize> {
    counts.iter().map(|c| c.load(Ordering::SeqCst)).collect()
}

/// test_success (hypothesis over 0..=3 before and after the winner; every pair here): the
/// race fires with the winner's index and value and cancels every other input once.
#[test]
fn test_success() {
    for before in 0..=3 {
        for after in 0..=3 {
            let (counts, ds) = race_state(before + 1 + after);
            let result = race(ds.clone());
            ds[before].callback(77).unwrap();
            assert_eq!(success_result_of(&result), (before, 77));
            let mut expected = vec![1; before + 1 + after];
            expected[before] = 0;
            assert_eq!(cancel_counts(&counts), expected, "before {before}, after {after}");
        }
    }
}

/// test_failure: when every input fails, the race fails with a `FailureGroup` of their
/// failures in input order, and nothing is cancelled.
#[test]
fn test_failure() {
    for before in 0..=3 {
        for after in 0..=3 {
            let n = before + 1 + after;
            let (counts, ds) = race_state(n);
            let result = race(ds.clone());
            for (i, d) in ds.iter().enumerate() {
                d.errback(Failure::new(GenericError::new(&format!("demanded {i}")))).unwrap();
            }
            let failure = failure_result_of(&result);
            let group = failure.downcast_ref::<FailureGroup>().expect("a FailureGroup");
            let messages: Vec<String> = group.failures.iter().map(|f| f.to_string()).collect();
            let expected: Vec<String> = (0..n).map(|i| format!("demanded {i}")).collect();
            assert!(messages.iter().zip(&expected).all(|(m, e)| m.contains(e.as_str())));
            assert_eq!(messages.len(), n);
            assert_eq!(cancel_counts(&counts), vec![0; n]);
        }
    }
}

/// test_resultAfterCancel: an input that fires after the race cancelled it changes nothing,
/// and its cancellation is the race's (consumed: it is not left to be reported as unhandled).
#[test]
fn test_result_after_cancel() {
    for before in 0..=3 {
        for after in 0..=3 {
            let ds: Vec<Deferred<u32>> = (0..before + 2 + after).map(|_| Deferred::new()).collect();
            let result = race(ds.clone());
            ds[before].callback(1).unwrap();
            // Twisted's Deferred swallows one callback after a cancel; so does ours.
            let _ = ds[before + 1].callback(2);
            assert_eq!(success_result_of(&result), (before, 1));
            let late = ds[before + 1].take_result().expect("fired (cancelled)");
            assert!(!late.is_err_and(|f| f.is::<Cancelled>()), "the cancellation was consumed");
        }
    }
}

/// test_resultFromCancel: a loser whose canceller fires it with a success does no harm.
#[test]
fn test_result_from_cancel() {
    let winner = Deferred::<u32>::new();
    let loser = Deferred::with_canceller(|d: &Deferred<u32>| {
        let _ = d.callback(99);
    });
    let result = race(vec![winner.clone(), loser.clone()]);
    winner.callback(7).unwrap();
    assert_eq!(success_result_of(&result), (0, 7));
}

/// test_cancel: cancelling the race cancels every input once and ends in a `FailureGroup`.
#[test]
fn test_cancel() {
    for n in 1..=3 {
        let (counts, ds) = race_state(n);
        let result = race(ds);
        result.cancel();
        assert_eq!(cancel_counts(&counts), vec![1; n]);
        let failure = failure_result_of(&result);
        let group = failure.downcast_ref::<FailureGroup>().expect("a FailureGroup, not Cancelled");
        assert!(group.failures.iter().all(|f| f.is::<Cancelled>()));
    }
}

/// `race([])` never fires (Twisted's rule, kept and documented).
#[test]
fn race_of_nothing_never_fires() {
    let result = race(Vec::<Deferred<u32>>::new());
    assert_no_result(&result);
}

// ---- OtherPrimitivesTests: lock ------------------------------------------------------------

/// testLock: acquire/release, waiters, `run`, and `release` of an unlocked lock.
#[test]
fn test_lock() {
    let lock = DeferredLock::new();
    let first = lock.acquire();
    assert!(first.is_called() && lock.is_locked());
    let second = lock.acquire();
    assert!(!second.is_called());
    lock.release().unwrap();
    assert!(second.is_called() && lock.is_locked(), "handed straight to the waiter");
    lock.release().unwrap();
    assert!(!lock.is_locked());
    assert_eq!(lock.release(), Err(NotAcquired));

    let held = Deferred::<&str>::new();
    let h = held.clone();
    let ran = lock.run(move || h);
    assert!(lock.is_locked());
    let waiting = lock.run(|| Deferred::succeed("second"));
    assert!(!waiting.has_result());
    held.callback("first").unwrap();
    assert_eq!(success_result_of(&ran), "first");
    assert_eq!(success_result_of(&waiting), "second");
    assert!(!lock.is_locked(), "released after the function's result, success or failure");

    let failed = lock.run(|| -> Deferred<()> { panic!("in run") });
    assert!(failure_result_of(&failed).is_panic());
    assert!(!lock.is_locked());
}

/// Lock fairness: waiters get the lock in the order they asked (FIFO).
#[test]
fn test_lock_fifo_waiters() {
    let lock = DeferredLock::new();
    let log = Log::new();
    let _first = lock.acquire();
    let waiters: Vec<_> = (0..5)
        .map(|i| {
            let l = log.clone();
            lock.acquire().add_callback(move |()| l.push(format!("{i}")))
        })
        .collect();
    for _ in 0..5 {
        lock.release().unwrap();
    }
    assert_eq!(log.get(), ["0", "1", "2", "3", "4"]);
    drop(waiters);
}

/// test_cancelLockAfterAcquired: cancelling a fired acquire does nothing; still held.
#[test]
fn test_cancel_lock_after_acquired() {
    let lock = DeferredLock::new();
    let d = lock.acquire();
    d.cancel();
    success_result_of(&d);
    assert!(lock.is_locked());
}

/// test_cancelLockBeforeAcquired: a cancelled waiter leaves the queue.
#[test]
fn test_cancel_lock_before_acquired() {
    let lock = DeferredLock::new();
    let _held = lock.acquire();
    let d = lock.acquire();
    d.cancel();
    assert!(failure_result_of(&d).is::<Cancelled>());
    lock.release().unwrap();
    assert!(!lock.is_locked(), "the cancelled waiter did not get the lock");
}

// ---- OtherPrimitivesTests: semaphore -------------------------------------------------------

/// testSemaphore: at most N holders, FIFO hand-off, release errors when all tokens are free.
#[test]
fn test_semaphore() {
    const N: usize = 13;
    let sem = DeferredSemaphore::new(N).unwrap();
    let held: Vec<_> = (0..N).map(|_| sem.acquire()).collect();
    assert!(held.iter().all(Deferred::is_called));
    assert_eq!(sem.available(), 0);
    let log = Log::new();
    let waiters: Vec<_> = (0..3)
        .map(|i| {
            let l = log.clone();
            sem.acquire().add_callback(move |()| l.push(format!("{i}")))
        })
        .collect();
    assert_eq!(sem.waiting(), 3);
    for _ in 0..3 {
        sem.release().unwrap();
    }
    assert_eq!(log.get(), ["0", "1", "2"]);
    assert_eq!(sem.available(), 0);
    for _ in 0..N {
        sem.release().unwrap();
    }
    assert_eq!(sem.available(), N);
    assert_eq!(sem.release(), Err(NotAcquired));
    drop(waiters);
}

/// Semaphore bounds: `run` never has more than N functions in flight.
#[test]
fn test_semaphore_run_bounds_concurrency() {
    let sem = DeferredSemaphore::new(2).unwrap();
    let gates: Vec<Deferred<u8>> = (0..5).map(|_| Deferred::new()).collect();
    let runs: Vec<_> = gates
        .iter()
        .map(|g| {
            let g = g.clone();
            sem.run(move || g)
        })
        .collect();
    let in_flight = |runs: &[Deferred<u8>]| runs.iter().filter(|r| !r.has_result()).count();
    assert_eq!(sem.waiting(), 3);
    for (i, gate) in gates.iter().enumerate() {
        assert!(sem.waiting() <= 3 && 5 - i - sem.waiting() <= 2);
        gate.callback(i as u8).unwrap();
    }
    assert_eq!(in_flight(&runs), 0);
    let values: Vec<u8> = runs.iter().map(success_result_of).collect();
    assert_eq!(values, [0, 1, 2, 3, 4]);
}

/// test_semaphoreInvalidTokens
#[test]
fn test_semaphore_invalid_tokens() {
    assert_eq!(DeferredSemaphore::new(0).unwrap_err(), NoTokens);
}

/// test_cancelSemaphoreAfterAcquired
#[test]
fn test_cancel_semaphore_after_acquired() {
    let sem = DeferredSemaphore::new(1).unwrap();
    let d = sem.acquire();
    d.cancel();
    success_result_of(&d);
    assert_eq!(sem.available(), 0);
}

/// test_cancelSemaphoreBeforeAcquired
#[test]
fn test_cancel_semaphore_before_acquired() {
    let sem = DeferredSemaphore::new(1).unwrap();
    let _held = sem.acquire();
    let d = sem.acquire();
    d.cancel();
    assert!(failure_result_of(&d).is::<Cancelled>());
    sem.release().unwrap();
    assert_eq!(sem.available(), 1);
}

// ---- OtherPrimitivesTests: queue -----------------------------------------------------------

/// testQueue: FIFO values and getters, size and backlog limits.
#[test]
fn test_queue() {
    const N: usize = 13;
    let queue = DeferredQueue::with_limits(Some(N), Some(N));
    let gotten = Log::new();
    for _ in 0..N {
        let g = gotten.clone();
        let _ = queue.get().unwrap().add_callback(move |v: usize| g.push(v.to_string()));
    }
    assert_eq!(queue.get().map(|_| ()), Err(QueueUnderflow), "backlog of N getters reached");
    for i in 0..N {
        queue.put(i).unwrap();
    }
    let expected: Vec<String> = (0..N).map(|i| i.to_string()).collect();
    assert_eq!(gotten.get(), expected, "getters fired in FIFO order, synchronously");
    for i in 0..N {
        queue.put(i).unwrap();
    }
    assert_eq!(queue.put(N), Err(QueueOverflow), "size of N pending values reached");
    for i in 0..N {
        assert_eq!(success_result_of(&queue.get().unwrap()), i);
    }
}

/// Twisted test_defer.py:2874: size 0 overflows unless a getter waits; backlog 0 underflows
/// unless values are pending.
#[test]
fn test_queue_zero_limits() {
    let queue = DeferredQueue::<u8>::with_limits(Some(0), Some(0));
    assert_eq!(queue.put(1), Err(QueueOverflow));
    assert!(queue.get().is_err());
    let q = DeferredQueue::<u8>::with_limits(Some(0), None);
    let getter = q.get().unwrap();
    q.put(5).unwrap();
    assert_eq!(success_result_of(&getter), 5);
}

/// test_cancelQueueAfterSynchronousGet
#[test]
fn test_cancel_queue_after_synchronous_get() {
    let queue = DeferredQueue::new();
    queue.put(1).unwrap();
    let d = queue.get().unwrap();
    d.cancel();
    assert_eq!(success_result_of(&d), 1);
}

/// test_cancelQueueAfterGet: a cancelled getter is removed; the next put queues the value.
#[test]
fn test_cancel_queue_after_get() {
    let queue = DeferredQueue::new();
    let d = queue.get().unwrap();
    d.cancel();
    assert!(failure_result_of(&d).is::<Cancelled>());
    assert_eq!(queue.waiting(), 0);
    queue.put(1).unwrap();
    assert_eq!(queue.pending(), 1);
    assert_eq!(success_result_of(&queue.get().unwrap()), 1);
}

// ---- DeferredAddTimeoutTests ---------------------------------------------------------------

const TEN: Duration = Duration::from_secs(10);

/// test_timeoutChainable: `add_timeout` returns the same chain.
#[test]
fn test_timeout_chainable() {
    let clock = ManualClock::new();
    let d = Deferred::<u8>::new();
    let tail = d.clone().add_timeout(TEN, &clock).add_callback(|n| n + 1);
    d.callback(1).unwrap();
    assert_eq!(success_result_of(&tail), 2);
}

/// test_successResultBeforeTimeout: firing in time cancels the timer.
#[test]
fn test_success_result_before_timeout() {
    let clock = ManualClock::new();
    let d = Deferred::<&str>::new();
    let tail = d.clone().add_timeout(TEN, &clock);
    assert_eq!(clock.pending(), 1);
    clock.advance(Duration::from_secs(5));
    assert_no_result(&tail);
    d.callback("Result").unwrap();
    assert_eq!(clock.pending(), 0);
    assert_eq!(success_result_of(&tail), "Result");
}

/// test_failureBeforeTimeout
#[test]
fn test_failure_before_timeout() {
    let clock = ManualClock::new();
    let d = Deferred::<()>::new();
    let tail = d.clone().add_timeout(TEN, &clock);
    d.errback(GenericError::new("before")).unwrap();
    assert_eq!(clock.pending(), 0);
    assert!(failure_result_of(&tail).is::<GenericError>());
}

/// test_timedOut: the Deferred fails with TimedOut once the clock passes the timeout.
#[test]
fn test_timed_out() {
    let clock = ManualClock::new();
    let d = Deferred::<()>::new().add_timeout(TEN, &clock);
    clock.advance(Duration::from_secs(9));
    assert_no_result(&d);
    clock.advance(Duration::from_secs(1));
    let failure = failure_result_of(&d);
    assert_eq!(failure.downcast_ref::<TimedOut>(), Some(&TimedOut { after: TEN }));
}

/// test_timedOutProvidedCancelSuccess: a canceller's success passes through.
#[test]
fn test_timed_out_provided_cancel_success() {
    let clock = ManualClock::new();
    let d = Deferred::<&str>::with_canceller(|d| d.callback("I was cancelled!").unwrap())
        .add_timeout(TEN, &clock);
    clock.advance(TEN);
    assert_eq!(success_result_of(&d), "I was cancelled!");
}

/// test_timedOutProvidedCancelFailure: a canceller's other failure is kept.
#[test]
fn test_timed_out_provided_cancel_failure() {
    let clock = ManualClock::new();
    let d = Deferred::<()>::with_canceller(|d| d.errback(GenericError::new("what!")).unwrap())
        .add_timeout(TEN, &clock);
    clock.advance(TEN);
    assert!(failure_result_of(&d).is::<GenericError>());
}

/// test_cancelBeforeTimeout: a manual cancel keeps `Cancelled` and cancels the timer.
#[test]
fn test_cancel_before_timeout() {
    let clock = ManualClock::new();
    let d = Deferred::<()>::new().add_timeout(TEN, &clock);
    d.cancel();
    assert_eq!(clock.pending(), 0);
    assert!(failure_result_of(&d).is::<Cancelled>());
}

/// test_errbackAddedBeforeTimeout: an errback added before the timeout sees `Cancelled`; one
/// swallowing it leaves a success the conversion passes through.
#[test]
fn test_errback_added_before_timeout() {
    let clock = ManualClock::new();
    let seen = Log::new();
    let s = seen.clone();
    let d = Deferred::<&str>::new()
        .add_errback(move |f| {
            s.push(if f.is::<Cancelled>() { "cancelled" } else { "other" });
            Ok("swallowed")
        })
        .add_timeout(TEN, &clock);
    clock.advance(TEN);
    assert_eq!(seen.get(), ["cancelled"]);
    assert_eq!(success_result_of(&d), "swallowed");
}

/// test_timedOutCustom: a custom `on_timeout_cancel` turns the timeout's cancellation into
/// its own result.
#[test]
fn test_timed_out_custom() {
    let clock = ManualClock::new();
    let d = Deferred::<&str>::new().add_timeout_with(TEN, &clock, |result, after| {
        assert!(result.is_err_and(|f| f.is::<Cancelled>()));
        assert_eq!(after, TEN);
        Ok("OVERRIDDEN")
    });
    clock.advance(Duration::from_secs(9));
    assert_no_result(&d);
    clock.advance(Duration::from_secs(1));
    assert_eq!(success_result_of(&d), "OVERRIDDEN");
}

/// test_providedCancelCalledBeforeTimeoutCustom: a cancel by someone else before the timeout
/// keeps `Cancelled`; the converter is not called.
#[test]
fn test_provided_cancel_called_before_timeout_custom() {
    let clock = ManualClock::new();
    let called = Arc::new(AtomicUsize::new(0));
    let c = called.clone();
    let d = Deferred::<&str>::new().add_timeout_with(TEN, &clock, move |_, _| {
        c.fetch_add(1, Ordering::SeqCst);
        Ok("OVERRIDDEN")
    });
    d.cancel();
    assert!(failure_result_of(&d).is::<Cancelled>());
    clock.advance(TEN);
    assert_eq!(called.load(Ordering::SeqCst), 0);
}
