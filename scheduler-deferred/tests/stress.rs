//! Long chains and deep nesting run iteratively: 1,000,000 callbacks on one Deferred, and
//! 1,000,000 Deferreds each returned by the previous one's callback, on the default test
//! thread stack (2 MiB), fired outer-first, inner-first, and cancelled from the outside.

#![allow(clippy::let_underscore_future)] // see twisted_test_defer.rs

use scheduler_deferred::{Cancelled, Deferred};

const N: u64 = 1_000_000;

#[test]
fn a_million_callbacks_on_one_deferred() {
    let d = Deferred::<u64>::new();
    let mut tail = d.clone();
    for _ in 0..N {
        tail = tail.add_callback(|n| n + 1);
    }
    d.callback(0).unwrap();
    assert_eq!(tail.take_result().unwrap().unwrap(), N);
}

/// `ds[i]`'s callback returns `ds[i + 1]`; the last one has no callback.
fn nested(n: usize) -> (Vec<Deferred<u64>>, Deferred<u64>) {
    let ds: Vec<Deferred<u64>> = (0..n).map(|_| Deferred::new()).collect();
    for i in 0..n - 1 {
        let next = ds[i + 1].clone();
        let _ = ds[i].clone().add_callback_deferred(move |_| next);
    }
    let outermost = ds[0].clone().add_callback(|n| n + 1);
    (ds, outermost)
}

#[test]
fn a_million_nested_deferreds_fired_outer_first() {
    let (ds, outermost) = nested(N as usize);
    // Each fire makes ds[i] wait on ds[i + 1]: a waiting chain a million deep.
    for d in &ds[..ds.len() - 1] {
        d.callback(0).unwrap();
    }
    assert!(!outermost.has_result());
    // The innermost result travels up through every level without recursion.
    ds[ds.len() - 1].callback(41).unwrap();
    assert_eq!(outermost.take_result().unwrap().unwrap(), 42);
}

#[test]
fn a_million_nested_deferreds_fired_inner_first() {
    let (ds, outermost) = nested(N as usize);
    for d in ds.iter().rev() {
        d.callback(41).unwrap();
    }
    assert_eq!(outermost.take_result().unwrap().unwrap(), 42);
}

#[test]
fn cancelling_a_million_deep_waiting_chain_cancels_the_innermost() {
    let (ds, outermost) = nested(N as usize);
    for d in &ds[..ds.len() - 1] {
        d.callback(0).unwrap();
    }
    outermost.cancel();
    assert!(ds[ds.len() - 1].is_called());
    assert!(outermost.take_result().unwrap().unwrap_err().is::<Cancelled>());
}
