//! Callbacks added to a spent Deferred never vanish (issue 12, item 2): once the result moved
//! on (an `.await`, `take_result`, a Deferred chained onto it, a `DeferredList`), a callback
//! added later continues the chain with a `ResultTaken` failure: errbacks and `add_both` run,
//! a plain callback passes it on, and a chain left with it is reported as unhandled.

// `let _ = d.add_*(..)` drops the returned handle of the same chain (see twisted_test_defer.rs).
#![allow(clippy::let_underscore_future)]

mod common;

use common::*;
use scheduler_deferred::{Deferred, DeferredList, Failure, ResultTaken};

/// What the `add_both` at the end of `d` saw.
fn seen_by_add_both<T: Send + 'static>(d: Deferred<T>) -> Vec<String> {
    let log = Log::new();
    let l = log.clone();
    let _ = d.add_both(move |r: Result<T, Failure>| {
        l.push(match r {
            Ok(_) => "value".to_owned(),
            Err(f) if f.is::<ResultTaken>() => "taken".to_owned(),
            Err(f) => format!("failure {f}"),
        });
        Ok(())
    });
    log.get()
}

#[test]
fn after_take_result_an_add_both_sees_result_taken() {
    let d = Deferred::succeed(1u8);
    assert_eq!(d.take_result().unwrap().unwrap(), 1);
    assert_eq!(seen_by_add_both(d), ["taken"]);
}

#[test]
fn after_an_await_an_errback_sees_result_taken_and_may_recover() {
    let d = Deferred::succeed(1u8);
    assert_eq!(block_on(d.clone()).unwrap(), 1);
    let recovered = d.add_errback(|f| {
        assert!(f.is::<ResultTaken>());
        Ok(5)
    });
    assert_eq!(success_result_of(&recovered), 5);
}

#[test]
fn after_a_deferred_list_took_it_a_callback_passes_result_taken_on() {
    let input = Deferred::<u8>::new();
    let _list = DeferredList::new(vec![input.clone()]).build();
    input.callback(3).unwrap();
    let ran = Log::new();
    let r = ran.clone();
    let tail = input.add_callback(move |n| r.push(format!("{n}")));
    assert_eq!(ran.len(), 0, "a plain callback has no value to run on");
    assert!(failure_result_of(&tail).is::<ResultTaken>());
}

#[test]
fn an_unhandled_result_taken_is_reported_when_the_chain_is_dropped() {
    record_unhandled_failures();
    let inner = Deferred::succeed(2u8);
    let i = inner.clone();
    let outer = Deferred::succeed(()).add_callback_deferred(move |()| i);
    assert_eq!(success_result_of(&outer), 2);
    let before = unhandled_reports_mentioning("already taken");
    let logged = inner.add_callback(|n| n + 1); // nothing to run on: continues with ResultTaken
    drop(logged);
    assert_eq!(unhandled_reports_mentioning("already taken"), before + 1);
}

#[test]
fn a_spent_chain_without_new_callbacks_reports_nothing() {
    record_unhandled_failures();
    let d = Deferred::succeed(4u8);
    let before = unhandled_reports_mentioning("already taken");
    assert_eq!(d.take_result().unwrap().unwrap(), 4);
    drop(d);
    assert_eq!(unhandled_reports_mentioning("already taken"), before);
}
