//! Ports of Twisted's `src/twisted/test/test_defer.py`: the `Deferred` itself (callback order,
//! chaining, cancellation, `AlreadyCalled`, unhandled-error logging). One Rust test per Twisted
//! test, named after it in snake case; the lists, queue, lock, semaphore and timeout ports are
//! in `twisted_test_defer_primitives.rs`. Where Rust forces a difference, the test says so.

// Twisted code drops what `addCallback` returns: it is the same chain, kept alive by the
// producer's handle. `let _ = d.add_callback(...)` says the same here.
#![allow(clippy::let_underscore_future)]

mod common;

use common::*;
use scheduler_deferred::{
    maybe_deferred, AlreadyCalled, Cancelled, ChainedToItself, Deferred, Failure, NotPaused,
    ResultTaken,
};

// ---- DeferredTests -------------------------------------------------------------------------

/// testCallbackWithoutArgs
#[test]
fn test_callback_without_args() {
    let log = Log::new();
    let d = Deferred::<String>::new();
    let l = log.clone();
    let _ = d.clone().add_callbacks(
        move |s| {
            l.push(format!("cb {s}"));
            Ok(())
        },
        |_| panic!("errback must not run"),
    );
    d.callback("hello".into()).unwrap();
    assert_eq!(log.get(), ["cb hello"]);
}

/// testTwoCallbacks
#[test]
fn test_two_callbacks() {
    let log = Log::new();
    let d = Deferred::<String>::new();
    let (l1, l2) = (log.clone(), log.clone());
    let _ = d
        .clone()
        .add_callback(move |s| {
            l1.push(format!("1 {s}"));
            s
        })
        .add_callback(move |s| l2.push(format!("2 {s}")));
    d.callback("hello".into()).unwrap();
    assert_eq!(log.get(), ["1 hello", "2 hello"]);
}

/// test_addCallbacksNoneErrback: `add_callback` passes failures through to the next errback.
#[test]
fn test_add_callbacks_none_errback() {
    let d = Deferred::<()>::new();
    let chained = d.clone().add_callback(|()| panic!("callback must not run"));
    d.errback(GenericError::new("oopsie")).unwrap();
    let failure = failure_result_of(&chained);
    assert_eq!(failure.downcast_ref::<GenericError>(), Some(&GenericError::new("oopsie")));
}

/// testImmediateSuccess
#[test]
fn test_immediate_success() {
    let d = Deferred::succeed("success");
    assert_eq!(success_result_of(&d.add_callback(|s| s)), "success");
}

/// testImmediateFailure
#[test]
fn test_immediate_failure() {
    let d = Deferred::<()>::fail(GenericError::new("fail"));
    let f = failure_result_of(&d.add_errback(Err));
    assert_eq!(f.to_string(), "fail");
}

/// testPausedFailure: a paused Deferred holds its failure back until unpaused.
#[test]
fn test_paused_failure() {
    let d = Deferred::<()>::fail(GenericError::new("paused failure"));
    d.pause();
    let log = Log::new();
    let l = log.clone();
    let after = d.clone().add_errback(move |f| {
        l.push(f.to_string());
        Ok(())
    });
    assert_eq!(log.len(), 0);
    d.unpause().unwrap();
    assert_eq!(log.get(), ["paused failure"]);
    success_result_of(&after);
}

/// testCallbackErrors: an error in a callback (a panic here, Python's ZeroDivisionError) goes
/// to the errback; so does a returned `Err`.
#[test]
fn test_callback_errors() {
    let d = Deferred::<u32>::new();
    let caught = d.clone().add_callback(|n| 1 / (n - n)).add_errback(|f| {
        assert!(f.is_panic());
        assert!(f.panic_message().unwrap().contains("divide by zero"));
        Ok(0)
    });
    d.callback(1).unwrap();
    assert_eq!(success_result_of(&caught), 0);

    let d = Deferred::<u32>::new();
    let failed =
        d.clone().add_callback_result(|_| Err::<u32, _>(Failure::new(GenericError::new("err"))));
    d.callback(1).unwrap();
    assert!(failure_result_of(&failed).is::<GenericError>());
}

/// testUnpauseBeforeCallback
#[test]
fn test_unpause_before_callback() {
    let d = Deferred::<u8>::new();
    d.pause();
    let added = d.clone().add_callback(|n| n + 1);
    d.unpause().unwrap();
    assert_no_result(&added);
    d.callback(1).unwrap();
    assert_eq!(success_result_of(&added), 2);
}

/// Port note 7: Twisted lets `unpause()` without `pause()` wedge the chain for good; ours
/// refuses it with `NotPaused` and the chain still runs.
#[test]
fn unmatched_unpause_is_an_error_not_a_stuck_chain() {
    let d = Deferred::<u8>::new();
    assert_eq!(d.unpause(), Err(NotPaused));
    d.callback(4).unwrap();
    assert_eq!(success_result_of(&d.add_callback(|n| n * 2)), 8);
}

/// testReturnDeferred: a callback returning a Deferred pauses the chain until that one fires.
#[test]
fn test_return_deferred() {
    let inner = Deferred::<u32>::new();
    let outer = Deferred::<u32>::new();
    let i = inner.clone();
    let chained = outer.clone().add_callback_deferred(move |_| i).add_callback(|n| n + 1);
    outer.callback(1).unwrap();
    assert_no_result(&chained);
    inner.callback(41).unwrap();
    assert_eq!(success_result_of(&chained), 42);
}

/// test_errbackReturnsDeferred
#[test]
fn test_errback_returns_deferred() {
    let d = Deferred::<String>::new();
    let d2 = Deferred::<String>::new();
    let log = Log::new();
    let (l, d2c) = (log.clone(), d2.clone());
    let _ = d.clone().add_errback_deferred(move |_| d2c).add_callback(move |s| l.push(s));
    d.errback(GenericError::new("value error")).unwrap();
    assert_eq!(log.len(), 0);
    d2.callback("result".into()).unwrap();
    assert_eq!(log.get(), ["result"]);
}

/// test_chainedPausedDeferredWithResult
#[test]
fn test_chained_paused_deferred_with_result() {
    let paused = Deferred::<&str>::new();
    paused.callback("expected").unwrap();
    paused.pause();
    let chained = Deferred::<()>::new();
    let p = paused.clone();
    let chained_tail = chained.clone().add_callback_deferred(move |()| p);
    chained.callback(()).unwrap();
    let log = Log::new();
    let l = log.clone();
    let _ = chained_tail.add_callback(move |s| l.push(s));
    assert_eq!(log.len(), 0);
    paused.unpause().unwrap();
    assert_eq!(log.get(), ["expected"]);
}

/// test_pausedDeferredChained: a paused outer Deferred does not stop the inner one from running
/// its own callbacks up to the hand-off. A callback added to the inner one afterwards runs too:
/// Twisted hands it `None`; ours continues with a `ResultTaken` failure (the value moved to the
/// outer), so an `add_both` sees it.
#[test]
fn test_paused_deferred_chained() {
    let first = Deferred::<()>::new();
    let second = Deferred::<()>::new();
    let s = second.clone();
    let first_tail = first.clone().add_callback_deferred(move |()| s);
    first.callback(()).unwrap();
    first.pause();
    second.callback(()).unwrap();
    let log = Log::new();
    let l = log.clone();
    let _ = second.clone().add_both(move |r: Result<(), Failure>| {
        l.push(match r {
            Ok(()) => "value".to_owned(),
            Err(f) if f.is::<ResultTaken>() => "result taken".to_owned(),
            Err(f) => format!("other failure {f}"),
        });
        Ok(())
    });
    assert_eq!(log.get(), ["result taken"]);
    first.unpause().unwrap();
    success_result_of(&first_tail);
}

/// test_innerCallbacksPreserved
#[test]
fn test_inner_callbacks_preserved() {
    let log = Log::new();
    let inner = Deferred::<String>::new();
    let outer = Deferred::succeed("outer".to_owned());
    let (l, i) = (log.clone(), inner.clone());
    let outer = outer.add_callback_deferred(move |result: String| {
        l.push(format!("start-of-cb {result}"));
        let (l1, l2) = (l.clone(), l.clone());
        Deferred::succeed("inner".to_owned())
            .add_callback_deferred(move |_| {
                l1.push("firstCallback inner");
                i
            })
            .add_callback(move |result: String| {
                l2.push(format!("secondCallback {result}"));
                result.repeat(2)
            })
            .add_errback(|f| panic!("unexpected failure {f}"))
    });
    inner.callback("orange".into()).unwrap();
    let l = log.clone();
    let _ = outer.add_callback(move |s| l.push(s));
    assert_eq!(
        log.get(),
        ["start-of-cb outer", "firstCallback inner", "secondCallback orange", "orangeorange"]
    );
}

fn cb_returning_gathered(log: &Log, a: &Deferred<String>) -> Deferred<()> {
    let d = Deferred::<()>::new();
    let (l1, l2, a) = (log.clone(), log.clone(), a.clone());
    let returner = d
        .clone()
        .add_callback_deferred(move |()| {
            l1.push("firstCallback");
            scheduler_deferred::gather_results(vec![a], false)
        })
        .add_callback(move |r: Vec<String>| l2.push(format!("secondCallback {r:?}")))
        .add_errback(|f| panic!("unexpected failure {f}"));
    d.callback(()).unwrap();
    returner
}

/// test_continueCallbackNotFirst
#[test]
fn test_continue_callback_not_first() {
    let log = Log::new();
    let a = Deferred::<String>::new();
    let (l, a2) = (log.clone(), a.clone());
    let _ = Deferred::succeed("outer".to_owned()).add_callback_deferred(move |r| {
        l.push(format!("cb {r}"));
        cb_returning_gathered(&l, &a2)
    });
    assert_eq!(log.get(), ["cb outer", "firstCallback"]);
    a.callback("withers".into()).unwrap();
    assert_eq!(log.get(), ["cb outer", "firstCallback", "secondCallback [\"withers\"]"]);
}

/// test_callbackOrderPreserved
#[test]
fn test_callback_order_preserved() {
    let log = Log::new();
    let a = Deferred::<String>::new();
    let outer = Deferred::<String>::new();
    let (l, l2, a2) = (log.clone(), log.clone(), a.clone());
    let _ = outer
        .clone()
        .add_callback_deferred(move |r| {
            l.push(format!("cb {r}"));
            cb_returning_gathered(&l, &a2)
        })
        .add_callback(move |()| l2.push("final"));
    outer.callback("outer".into()).unwrap();
    assert_eq!(log.get(), ["cb outer", "firstCallback"]);
    a.callback("withers".into()).unwrap();
    assert_eq!(log.get(), ["cb outer", "firstCallback", "secondCallback [\"withers\"]", "final"]);
}

/// test_reentrantRunCallbacks: a callback added by a callback runs at the end of the chain.
#[test]
fn test_reentrant_run_callbacks() {
    let log = Log::new();
    let d = Deferred::<()>::new();
    let (l1, l2, l3, handle) = (log.clone(), log.clone(), log.clone(), d.clone());
    let _ = d
        .clone()
        .add_callback(move |()| {
            l1.push("callback1");
            let _ = handle.add_callback(move |()| l3.push("callback3"));
        })
        .add_callback(move |()| l2.push("callback2"));
    d.callback(()).unwrap();
    assert_eq!(log.get(), ["callback1", "callback2", "callback3"]);
}

/// test_nonReentrantCallbacks: a callback added from inside a callback does not run before
/// the adding callback returns.
#[test]
fn test_non_reentrant_callbacks() {
    let log = Log::new();
    let d = Deferred::<()>::new();
    let (l1, l2, handle) = (log.clone(), log.clone(), d.clone());
    let _ = d.clone().add_callback(move |()| {
        l1.push("callback1");
        let _ = handle.add_callback(move |()| l2.push("callback2"));
        assert_eq!(l1.get(), ["callback1"]);
    });
    d.callback(()).unwrap();
    assert_eq!(log.get(), ["callback1", "callback2"]);
}

/// test_reentrantRunCallbacksWithFailure
#[test]
fn test_reentrant_run_callbacks_with_failure() {
    let d = Deferred::<()>::new();
    let handle = d.clone();
    let _ = d.clone().add_callback(move |()| {
        let _ =
            handle.add_callback_result(|()| Err::<(), _>(Failure::new(GenericError::new("bang"))));
    });
    d.callback(()).unwrap();
    assert_eq!(failure_result_of(&d).to_string(), "bang");
}

/// Records what an `add_both` added to a spent chain sees: `"taken"` for `ResultTaken`.
fn record_both<T: Send + 'static + std::fmt::Debug>(log: &Log, d: &Deferred<T>) {
    let l = log.clone();
    let _ = d.clone().add_both(move |r: Result<T, Failure>| {
        l.push(match r {
            Ok(v) => format!("{v:?}"),
            Err(f) if f.is::<ResultTaken>() => "taken".to_owned(),
            Err(f) => format!("failure {f}"),
        });
        Ok(())
    });
}

/// test_synchronousImplicitChain: returning an already-fired Deferred continues at once and
/// takes its result; a callback added to the inner one afterwards sees `ResultTaken` (Twisted:
/// `None`).
#[test]
fn test_synchronous_implicit_chain() {
    let first = Deferred::succeed(7);
    let second = Deferred::<()>::new();
    let f = first.clone();
    let second_tail = second.clone().add_callback_deferred(move |()| f);
    second.callback(()).unwrap();
    let log = Log::new();
    record_both(&log, &first);
    assert_eq!(log.get(), ["taken"]);
    record_both(&log, &second_tail);
    assert_eq!(log.get(), ["taken", "7"]);
}

/// test_asynchronousImplicitChain: the inner Deferred's result goes to the outer one when it
/// fires; a callback added to the inner one after the chaining then sees `ResultTaken`
/// (Twisted: `None`), the outer's callback the value.
#[test]
fn test_asynchronous_implicit_chain() {
    let first = Deferred::<u8>::new();
    let second = Deferred::<()>::new();
    let f = first.clone();
    let second_tail = second.clone().add_callback_deferred(move |()| f);
    second.callback(()).unwrap();
    let (first_log, second_log) = (Log::new(), Log::new());
    record_both(&first_log, &first);
    record_both(&second_log, &second_tail);
    assert_eq!(first_log.len(), 0);
    assert_eq!(second_log.len(), 0);
    first.callback(9).unwrap();
    assert_eq!(first_log.get(), ["taken"]);
    assert_eq!(second_log.get(), ["9"]);
}

/// test_synchronousImplicitErrorChain
#[test]
fn test_synchronous_implicit_error_chain() {
    let failed = Deferred::<u8>::fail(GenericError::new("first"));
    let f = failed.clone();
    let outer = Deferred::succeed(()).add_callback_deferred(move |()| f);
    assert!(failure_result_of(&outer).is::<GenericError>());
}

/// test_asynchronousImplicitErrorChain: the inner's failure moves to the outer (only there is
/// it reported if unhandled); a callback added to the inner afterwards sees `ResultTaken`
/// (Twisted: `None`); the outer's errback recovers, so its next callback runs once.
#[test]
fn test_asynchronous_implicit_error_chain() {
    record_unhandled_failures();
    let first = Deferred::<()>::new();
    let second = Deferred::<()>::new();
    let f = first.clone();
    let second_tail = second.clone().add_callback_deferred(move |()| f);
    second.callback(()).unwrap();
    let second_error = Log::new();
    let e = second_error.clone();
    let second_tail = second_tail.add_errback(move |failure| {
        e.push(failure.to_string());
        Ok(())
    });
    let (first_log, second_log) = (Log::new(), Log::new());
    record_both(&first_log, &first);
    record_both(&second_log, &second_tail);
    assert_eq!(first_log.len(), 0);
    assert_eq!(second_log.len(), 0);
    first.errback(GenericError::new("async 5e1")).unwrap();
    assert_eq!(second_error.get(), ["async 5e1"]);
    assert_eq!(first_log.get(), ["taken"]);
    assert_eq!(second_log.get(), ["()"]);
    drop((first, second, second_tail));
    assert_eq!(unhandled_reports_mentioning("async 5e1"), 0);
}

/// test_doubleAsynchronousImplicitChaining
#[test]
fn test_double_asynchronous_implicit_chaining() {
    let first_outer = Deferred::<u8>::new();
    let second_outer = Deferred::<u8>::new();
    let inner = Deferred::<u8>::new();
    let (i, fo) = (inner.clone(), first_outer.clone());
    let first_tail = first_outer.clone().add_callback_deferred(move |_| i);
    let second_tail = second_outer.clone().add_callback_deferred(move |_| fo);
    second_outer.callback(0).unwrap();
    first_outer.callback(0).unwrap();
    assert_no_result(&second_tail);
    inner.callback(7).unwrap();
    assert_eq!(success_result_of(&second_tail), 7);
    assert!(first_tail.take_result().unwrap().is_err(), "its result moved to second_outer");
}

/// test_nestedAsynchronousChainedDeferreds
#[test]
fn test_nested_asynchronous_chained_deferreds() {
    let log = Log::new();
    let inner = Deferred::<String>::new();
    let (l, i) = (log.clone(), inner.clone());
    let outer = Deferred::succeed("outer".to_owned()).add_callback_deferred(move |r| {
        l.push(format!("start-of-cb {r}"));
        let l1 = l.clone();
        Deferred::succeed("inner".to_owned()).add_callback_deferred(move |_| {
            l1.push("firstCallback");
            i.add_callback(|s: String| s.to_uppercase())
        })
    });
    assert_eq!(log.get(), ["start-of-cb outer", "firstCallback"]);
    inner.callback("orange".into()).unwrap();
    assert_eq!(success_result_of(&outer), "ORANGE");
}

/// test_circularChainWarning / test_circularChainException: Twisted warns and wedges when a
/// callback returns its own Deferred; ours fails the chain with `ChainedToItself`.
#[test]
fn test_circular_chain_exception() {
    let d = Deferred::<u8>::new();
    let me = d.clone();
    let tail = d.clone().add_callback_deferred(move |_| me);
    d.callback(1).unwrap();
    assert!(failure_result_of(&tail).is::<ChainedToItself>());
}

/// A callback that panics turns the panic into a failure the next errback receives.
#[test]
fn panics_in_callbacks_become_failures() {
    let d = Deferred::<u8>::new();
    let tail = d.clone().add_callback(|_| -> u8 { panic!("callback exploded") }).add_errback(|f| {
        assert_eq!(f.to_string(), "panic: callback exploded");
        Ok(9)
    });
    d.callback(1).unwrap();
    assert_eq!(success_result_of(&tail), 9);
}

/// maybeDeferred: test_maybeDeferredSync, ...SyncException, ...Async, ...AsyncError.
#[test]
fn test_maybe_deferred_sync() {
    assert_eq!(success_result_of(&maybe_deferred(|| Ok::<_, Failure>(15))), 15);
}

/// test_maybeDeferredSyncException
#[test]
fn test_maybe_deferred_sync_exception() {
    let d = maybe_deferred::<u8, Result<u8, Failure>, _>(|| panic!("that value is unacceptable"));
    assert_eq!(failure_result_of(&d).panic_message(), Some("that value is unacceptable"));
    let d = maybe_deferred(|| Err::<u8, _>(GenericError::new("returned")));
    assert!(failure_result_of(&d).is::<GenericError>());
}

/// test_maybeDeferredAsync
#[test]
fn test_maybe_deferred_async() {
    let d1 = Deferred::<String>::new();
    let d = d1.clone();
    let d2 = maybe_deferred(move || d);
    d1.callback("Success".into()).unwrap();
    assert_eq!(success_result_of(&d2), "Success");
}

/// test_maybeDeferredAsyncError
#[test]
fn test_maybe_deferred_async_error() {
    let d1 = Deferred::<()>::new();
    let d = d1.clone();
    let d2 = maybe_deferred(move || d);
    d1.errback(GenericError::new("runtime")).unwrap();
    assert!(failure_result_of(&d2).is::<GenericError>());
}

// ---- AlreadyCalledTests --------------------------------------------------------------------

/// testAlreadyCalled_CC
#[test]
fn test_already_called_cc() {
    let d = Deferred::<()>::new();
    d.callback(()).unwrap();
    assert_eq!(d.callback(()), Err(AlreadyCalled));
}

/// testAlreadyCalled_CE
#[test]
fn test_already_called_ce() {
    let d = Deferred::<()>::new();
    d.callback(()).unwrap();
    assert_eq!(d.errback(GenericError::new("x")), Err(AlreadyCalled));
}

/// testAlreadyCalled_EE
#[test]
fn test_already_called_ee() {
    let d = Deferred::<()>::new();
    d.errback(GenericError::new("x")).unwrap();
    assert_eq!(d.errback(GenericError::new("y")), Err(AlreadyCalled));
    let _ = d.take_result();
}

/// testAlreadyCalled_EC
#[test]
fn test_already_called_ec() {
    let d = Deferred::<()>::new();
    d.errback(GenericError::new("x")).unwrap();
    assert_eq!(d.callback(()), Err(AlreadyCalled));
    let _ = d.take_result();
}

// ---- DeferredCancellerTests ----------------------------------------------------------------

fn cancelled_log(d: &Deferred<()>) -> Log {
    let log = Log::new();
    let (l1, l2) = (log.clone(), log.clone());
    let _ = d.clone().add_callbacks(
        move |()| {
            l1.push("callback");
            Ok(())
        },
        move |f| {
            l2.push(if f.is::<Cancelled>() { "cancelled" } else { "other error" });
            Ok(())
        },
    );
    log
}

/// test_noCanceller
#[test]
fn test_no_canceller() {
    let d = Deferred::<()>::new();
    let log = cancelled_log(&d);
    d.cancel();
    assert_eq!(log.get(), ["cancelled"]);
}

/// test_raisesAfterCancelAndCallback: without a canceller, one fire after `cancel` is
/// swallowed; the next is AlreadyCalled.
#[test]
fn test_raises_after_cancel_and_callback() {
    let d = Deferred::<()>::new();
    let log = cancelled_log(&d);
    d.cancel();
    assert_eq!(d.callback(()), Ok(()));
    assert_eq!(d.callback(()), Err(AlreadyCalled));
    assert_eq!(d.errback(GenericError::new("x")), Err(AlreadyCalled));
    assert_eq!(log.get(), ["cancelled"]);
}

/// test_raisesAfterCancelAndErrback
#[test]
fn test_raises_after_cancel_and_errback() {
    let d = Deferred::<()>::new();
    let log = cancelled_log(&d);
    d.cancel();
    assert_eq!(d.errback(GenericError::new("x")), Ok(()));
    assert_eq!(d.errback(GenericError::new("y")), Err(AlreadyCalled));
    assert_eq!(d.callback(()), Err(AlreadyCalled));
    assert_eq!(log.get(), ["cancelled"]);
}

/// test_noCancellerMultipleCancelsAfterCancelAndCallback
#[test]
fn test_no_canceller_multiple_cancels_after_cancel_and_callback() {
    let d = Deferred::<()>::new();
    let log = cancelled_log(&d);
    d.cancel();
    d.callback(()).unwrap();
    d.cancel();
    assert_eq!(d.callback(()), Err(AlreadyCalled));
    assert_eq!(log.get(), ["cancelled"]);
}

/// test_noCancellerMultipleCancel
#[test]
fn test_no_canceller_multiple_cancel() {
    let d = Deferred::<()>::new();
    let log = cancelled_log(&d);
    d.cancel();
    d.cancel();
    assert_eq!(log.get(), ["cancelled"]);
}

/// test_cancellerMultipleCancel: the canceller runs once.
#[test]
fn test_canceller_multiple_cancel() {
    let calls = Log::new();
    let c = calls.clone();
    let d = Deferred::<()>::with_canceller(move |_| c.push("canceller"));
    let log = cancelled_log(&d);
    d.cancel();
    d.cancel();
    assert_eq!(calls.get(), ["canceller"]);
    assert_eq!(log.get(), ["cancelled"]);
}

/// test_simpleCanceller: with a canceller nothing is swallowed: a later fire is AlreadyCalled.
#[test]
fn test_simple_canceller() {
    let calls = Log::new();
    let c = calls.clone();
    let d = Deferred::<()>::with_canceller(move |_| c.push("canceller"));
    let log = cancelled_log(&d);
    d.cancel();
    assert_eq!(calls.get(), ["canceller"]);
    assert_eq!(log.get(), ["cancelled"]);
    assert_eq!(d.callback(()), Err(AlreadyCalled));
    assert_eq!(d.errback(GenericError::new("x")), Err(AlreadyCalled));
}

/// test_cancellerArg: the canceller receives the cancelled Deferred.
#[test]
fn test_canceller_arg() {
    let d = Deferred::<u8>::with_canceller(|me| me.callback(5).unwrap());
    d.cancel();
    assert_eq!(success_result_of(&d), 5);
}

/// test_cancelAfterCallback: cancelling a fired Deferred neither calls the canceller nor
/// changes the result.
#[test]
fn test_cancel_after_callback() {
    let d = Deferred::<&str>::with_canceller(|_| panic!("canceller must not run"));
    d.callback("biff!").unwrap();
    d.cancel();
    assert_eq!(success_result_of(&d), "biff!");
}

/// test_cancelAfterErrback
#[test]
fn test_cancel_after_errback() {
    let d = Deferred::<()>::with_canceller(|_| panic!("canceller must not run"));
    d.errback(GenericError::new("biff!")).unwrap();
    d.cancel();
    assert!(failure_result_of(&d).is::<GenericError>());
}

/// test_cancellerThatErrbacks
#[test]
fn test_canceller_that_errbacks() {
    let d = Deferred::<()>::with_canceller(|me| me.errback(GenericError::new("mine")).unwrap());
    d.cancel();
    assert_eq!(failure_result_of(&d).downcast_ref(), Some(&GenericError::new("mine")));
}

/// test_cancellerThatCallbacks
#[test]
fn test_canceller_that_callbacks() {
    let d = Deferred::<&str>::with_canceller(|me| me.callback("Callback Result").unwrap());
    d.cancel();
    assert_eq!(success_result_of(&d), "Callback Result");
}

/// test_cancelNestedDeferred: cancelling a Deferred waiting on a chained one cancels the
/// inner one (its canceller runs, the outer's does not), and the failure flows back.
#[test]
fn test_cancel_nested_deferred() {
    let calls = Log::new();
    let c = calls.clone();
    let b = Deferred::<()>::with_canceller(move |_| c.push("inner canceller"));
    let a = Deferred::<()>::with_canceller(|_| panic!("outer canceller must not run"));
    a.callback(()).unwrap();
    let b2 = b.clone();
    let a_tail = a.clone().add_callback_deferred(move |()| b2);
    a.cancel();
    assert_eq!(calls.get(), ["inner canceller"]);
    assert!(failure_result_of(&a_tail).is::<Cancelled>());
}

/// A canceller that panics is reported through the hook, and the Deferred still fails with
/// `Cancelled` (port note 11).
#[test]
fn canceller_panic_is_reported_and_cancel_completes() {
    record_unhandled_failures();
    let d = Deferred::<()>::with_canceller(|_| panic!("canceller panic 5c1e"));
    d.cancel();
    assert!(failure_result_of(&d).is::<Cancelled>());
    assert_eq!(unhandled_reports_mentioning("canceller panic 5c1e"), 1);
}

// ---- LogTests ------------------------------------------------------------------------------

/// test_errorLog: a Deferred dropped while holding a failure reports it, once.
#[test]
fn test_error_log() {
    record_unhandled_failures();
    let d = Deferred::<u8>::new();
    let tail = d
        .clone()
        .add_callback_result(|_| Err::<u8, _>(Failure::new(GenericError::new("unhandled 71a"))));
    d.callback(1).unwrap();
    assert_eq!(unhandled_reports_mentioning("unhandled 71a"), 0);
    drop((d, tail));
    assert_eq!(unhandled_reports_mentioning("unhandled 71a"), 1);
}

/// test_errorClearedByChaining: a failure that moved into another Deferred by chaining is
/// reported by that one only (and not at all once handled there).
#[test]
fn test_error_cleared_by_chaining() {
    record_unhandled_failures();
    let bad = Deferred::<()>::fail(GenericError::new("chained 0f3"));
    let b = bad.clone();
    let good = Deferred::succeed(()).add_callback_deferred(move |()| b);
    drop(bad);
    assert_eq!(unhandled_reports_mentioning("chained 0f3"), 0);
    let handled = good.add_errback(|_| Ok(()));
    drop(handled);
    assert_eq!(unhandled_reports_mentioning("chained 0f3"), 0);
}

/// Awaiting a failed Deferred takes (handles) its failure: nothing is reported.
#[test]
fn awaiting_a_failure_handles_it() {
    record_unhandled_failures();
    let d = Deferred::<()>::fail(GenericError::new("awaited 9b2"));
    let got = block_on(d);
    assert!(got.unwrap_err().is::<GenericError>());
    assert_eq!(unhandled_reports_mentioning("awaited 9b2"), 0);
}

/// A never-fired Deferred reports nothing.
#[test]
fn unfired_deferred_reports_nothing() {
    record_unhandled_failures();
    let d =
        Deferred::<()>::new().add_errback(|_| Err(Failure::new(GenericError::new("never 3d4"))));
    drop(d);
    assert_eq!(unhandled_reports_mentioning("never 3d4"), 0);
}

// ---- Threads and futures -------------------------------------------------------------------

/// Fired from another thread (Twisted's `deferToThread` shape): callbacks run on the firing
/// thread, the result is visible afterwards.
#[test]
fn fire_from_another_thread() {
    let d = Deferred::<u64>::new();
    let log = Log::new();
    let l = log.clone();
    let tail = d.clone().add_callback(move |n| {
        l.push(format!("{n}"));
        n * 2
    });
    let producer = d.clone();
    std::thread::spawn(move || producer.callback(21).unwrap()).join().unwrap();
    assert_eq!(log.get(), ["21"]);
    assert_eq!(success_result_of(&tail), 42);
}

/// inlineCallbacks in Rust: an `async` block awaiting Deferreds, fired from another thread.
#[test]
fn from_future_awaits_deferreds() {
    let a = Deferred::<u32>::new();
    let b = Deferred::<u32>::new();
    let (a2, b2) = (a.clone(), b.clone());
    let sum =
        Deferred::from_future(
            async move { Ok(a2.await? + b2.await? + Deferred::succeed(1).await?) },
        );
    assert!(!sum.is_called(), "runs synchronously up to the first unfired Deferred");
    a.callback(10).unwrap();
    std::thread::spawn(move || b.callback(31).unwrap()).join().unwrap();
    assert_eq!(block_on(sum).unwrap(), 42);
}

/// A failure thrown into the async block at the await can be caught there.
#[test]
fn from_future_sees_failures() {
    let a = Deferred::<u32>::new();
    let a2 = a.clone();
    let d = Deferred::from_future(async move {
        match a2.await {
            Ok(_) => Ok("value"),
            Err(f) if f.is::<GenericError>() => Ok("caught"),
            Err(f) => Err(f),
        }
    });
    a.errback(GenericError::new("thrown in")).unwrap();
    assert_eq!(success_result_of(&d), "caught");
}

/// Cancelling a `from_future` Deferred cancels the Deferred its future awaits; the future
/// passes the `Cancelled` failure on with `?`.
#[test]
fn from_future_cancel() {
    let never = Deferred::<u32>::new();
    let n = never.clone();
    let d = Deferred::from_future(async move { Ok(n.await? + 1) });
    d.cancel();
    assert!(failure_result_of(&d).is::<Cancelled>());
    assert!(never.is_called(), "the awaited Deferred was cancelled");
    assert_eq!(never.callback(1), Ok(()), "no canceller: one later fire is swallowed");
}

// ---- inlineCallbacks CancellationTests (src/twisted/internet/test/test_inlinecb.py) ---------
//
// G is a coroutine (`Deferred::from_future`), D the Deferred it returns, C the Deferred G
// awaits. Cancelling D cancels C; C's outcome goes into G at its `.await`, and D fires with
// whatever G makes of it (issue 12, item 1).

#[derive(Debug)]
struct UntranslatedError;
#[derive(Debug)]
struct TranslatedError;
#[derive(Debug)]
struct DontFail(i64);

impl std::fmt::Display for UntranslatedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("untranslated")
    }
}
impl std::fmt::Display for TranslatedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("translated")
    }
}
impl std::fmt::Display for DontFail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "don't fail: {}", self.0)
    }
}
impl std::error::Error for UntranslatedError {}
impl std::error::Error for TranslatedError {}
impl std::error::Error for DontFail {}

type ChildFn = Box<dyn FnOnce() -> Deferred<i64> + Send>;

/// Twisted's `stackedInlineCB`: a coroutine that only awaits the child.
fn stacked_inline_cb(child: ChildFn) -> Deferred<i64> {
    Deferred::from_future(async move { child().await })
}

/// Twisted's `sampleInlineCB`: awaits the child (directly, or through a stacked coroutine,
/// after `first` when given), turns `UntranslatedError` into `TranslatedError` and
/// `DontFail(n)` into the value `n - 2`, and returns the value plus one.
fn sample_inline_cb(child: ChildFn, stacked: bool, first: Option<Deferred<i64>>) -> Deferred<i64> {
    Deferred::from_future(async move {
        let got = if stacked {
            if let Some(first) = first {
                first.await?;
            }
            stacked_inline_cb(child).await
        } else {
            child().await
        };
        let x = match got {
            Ok(x) => x,
            Err(f) if f.is::<UntranslatedError>() => return Err(Failure::new(TranslatedError)),
            Err(f) => match f.downcast_ref::<DontFail>() {
                Some(dont_fail) => dont_fail.0 - 2,
                None => return Err(f),
            },
        };
        Ok(x + 1)
    })
}

/// `firstDeferred` when cancelling on the second await: an unfired Deferred, fired with 1
/// before the cancel.
fn first_deferred(on_second: bool) -> Option<Deferred<i64>> {
    on_second.then(Deferred::new)
}

fn fire_first(first: &Option<Deferred<i64>>) {
    if let Some(first) = first {
        first.callback(1).unwrap();
    }
}

/// doCascadeCancellingOnCancel: cancelling D cancels C at once (C's errback sees Cancelled).
fn cascade_cancelling_on_cancel(stacked: bool, on_second: bool) {
    let child_saw = Log::new();
    let seen = child_saw.clone();
    let child: ChildFn = Box::new(move || {
        Deferred::<i64>::new().add_errback(move |f| {
            seen.push(if f.is::<Cancelled>() { "Cancelled" } else { "other" });
            Err(f)
        })
    });
    let first = first_deferred(on_second);
    let d = sample_inline_cb(child, stacked, first.clone());
    let d = d.add_errback(|_| Ok(0));
    fire_first(&first);
    d.cancel();
    assert_eq!(child_saw.get(), ["Cancelled"], "no cascade cancelling occurs");
}

/// test_CascadeCancellingOnCancel
#[test]
fn test_cascade_cancelling_on_cancel() {
    cascade_cancelling_on_cancel(false, false);
}

/// test_CascadeCancellingOnCancelStacked: C is awaited through a nested coroutine.
#[test]
fn test_cascade_cancelling_on_cancel_stacked() {
    cascade_cancelling_on_cancel(true, false);
}

/// test_CascadeCancellingOnCancelStackedOnSecondDeferred: cancelled at the second await.
#[test]
fn test_cascade_cancelling_on_cancel_stacked_on_second_deferred() {
    cascade_cancelling_on_cancel(true, true);
}

/// doErrbackCancelledErrorOnCancel: C's Cancelled failure comes out of D.
fn errback_cancelled_error_on_cancel(stacked: bool, on_second: bool) {
    let outstanding = Deferred::<i64>::new();
    let o = outstanding.clone();
    let first = first_deferred(on_second);
    let d = sample_inline_cb(Box::new(move || o), stacked, first.clone());
    fire_first(&first);
    d.cancel();
    assert!(failure_result_of(&d).is::<Cancelled>());
}

/// test_ErrbackCancelledErrorOnCancel
#[test]
fn test_errback_cancelled_error_on_cancel() {
    errback_cancelled_error_on_cancel(false, false);
}

/// test_ErrbackCancelledErrorOnCancelStacked
#[test]
fn test_errback_cancelled_error_on_cancel_stacked() {
    errback_cancelled_error_on_cancel(true, false);
}

/// test_ErrbackCancelledErrorOnCancelStackedOnSecondDeferred
#[test]
fn test_errback_cancelled_error_on_cancel_stacked_on_second_deferred() {
    errback_cancelled_error_on_cancel(true, true);
}

/// doErrorToErrorTranslation: C's canceller fails it with another error, which G translates.
fn error_to_error_translation(stacked: bool, on_second: bool) {
    let a = Deferred::<i64>::with_canceller(|it| it.errback(UntranslatedError).unwrap());
    let first = first_deferred(on_second);
    let d = sample_inline_cb(Box::new(move || a), stacked, first.clone());
    fire_first(&first);
    d.cancel();
    assert!(failure_result_of(&d).is::<TranslatedError>());
}

/// test_ErrorToErrorTranslation
#[test]
fn test_error_to_error_translation() {
    error_to_error_translation(false, false);
}

/// test_ErrorToErrorTranslationStacked
#[test]
fn test_error_to_error_translation_stacked() {
    error_to_error_translation(true, false);
}

/// test_ErrorToErrorTranslationStackedOnSecondDeferred
#[test]
fn test_error_to_error_translation_stacked_on_second_deferred() {
    error_to_error_translation(true, true);
}

/// doErrorToSuccessTranslation: C's canceller fails it with an error G turns into a value.
fn error_to_success_translation(stacked: bool, on_second: bool) {
    let a = Deferred::<i64>::with_canceller(|it| it.errback(DontFail(4321)).unwrap());
    let first = first_deferred(on_second);
    let d = sample_inline_cb(Box::new(move || a), stacked, first.clone());
    let results = Log::new();
    let r = results.clone();
    let _ = d.clone().add_callback(move |x| r.push(format!("{x}")));
    fire_first(&first);
    d.cancel();
    assert_eq!(results.get(), ["4320"]);
}

/// test_ErrorToSuccessTranslation
#[test]
fn test_error_to_success_translation() {
    error_to_success_translation(false, false);
}

/// test_ErrorToSuccessTranslationStacked
#[test]
fn test_error_to_success_translation_stacked() {
    error_to_success_translation(true, false);
}

/// test_ErrorToSuccessTranslationStackedOnSecondDeferred
#[test]
fn test_error_to_success_translation_stacked_on_second_deferred() {
    error_to_success_translation(true, true);
}

/// doAsynchronousCancellation: C's errback turns the cancellation into another unfired
/// Deferred; D stays pending until that one fires, and G resumes with its value.
fn asynchronous_cancellation(stacked: bool, on_second: bool) {
    let more = Deferred::<i64>::new();
    let m = more.clone();
    let child: ChildFn = Box::new(move || {
        Deferred::<i64>::new().add_errback_deferred(move |f| match f.trap::<Cancelled>() {
            Ok(_) => m,
            Err(other) => Deferred::fail(other),
        })
    });
    let first = first_deferred(on_second);
    let d = sample_inline_cb(child, stacked, first.clone());
    fire_first(&first);
    d.cancel();
    assert_no_result(&d);
    more.callback(6543).unwrap();
    assert_eq!(success_result_of(&d), 6544);
}

/// test_AsynchronousCancellation
#[test]
fn test_asynchronous_cancellation() {
    asynchronous_cancellation(false, false);
}

/// test_AsynchronousCancellationStacked
#[test]
fn test_asynchronous_cancellation_stacked() {
    asynchronous_cancellation(true, false);
}

/// test_AsynchronousCancellationStackedOnSecondDeferred
#[test]
fn test_asynchronous_cancellation_stacked_on_second_deferred() {
    asynchronous_cancellation(true, true);
}

/// test_inlineCallbacksCancelCaptured: G catches the first cancellation and awaits a second
/// Deferred: the first `cancel()` reaches only the first child's canceller and leaves D
/// pending; the second reaches the second child, and D fails with Cancelled.
#[test]
fn test_inline_callbacks_cancel_captured() {
    let (calls1, calls2) = (Log::new(), Log::new());
    let (c1, c2) = (calls1.clone(), calls2.clone());
    let d1 = Deferred::<()>::with_canceller(move |_| c1.push("d1"));
    let d2 = Deferred::<()>::with_canceller(move |_| c2.push("d2"));
    let (w1, w2) = (d1.clone(), d2.clone());
    let func_d = Deferred::from_future(async move {
        let _ = w1.await; // any failure is caught
        w2.await
    });
    assert_no_result(&d1);
    assert_no_result(&d2);
    assert_no_result(&func_d);
    assert_eq!(calls1.len() + calls2.len(), 0);

    func_d.cancel();
    assert_eq!(calls1.get(), ["d1"]);
    assert_eq!(calls2.len(), 0);
    assert_no_result(&func_d);

    func_d.cancel();
    assert!(failure_result_of(&func_d).is::<Cancelled>());
    assert_eq!(calls2.get(), ["d2"]);
}
