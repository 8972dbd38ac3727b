//! Long chains and deep nesting run iteratively: 1,000,000 callbacks on one Deferred, and
//! 1,000,000 Deferreds each returned by the previous one's callback, on the default test
//! thread stack (2 MiB), fired outer-first, inner-first, and cancelled from the outside; and
//! they are dropped iteratively, unfired, from the outer handle.

#![allow(clippy::let_underscore_future)] // see twisted_test_defer.rs

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use scheduler_deferred::{
    reset_unhandled_failure_hook, set_unhandled_failure_hook, Cancelled, Deferred,
};

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

// ---- Dropping deep structures ----------------------------------------------------------------
//
// A dropped Deferred drops what its chain still owns: pending callbacks (and what they
// capture), its canceller, waker and result. Each of those may own the next Deferred, so the
// structures below are a million levels deep; they must be torn down without a native stack
// frame per level.

/// Counts its drops (proves everything was torn down, exactly once).
struct Token(Arc<AtomicUsize>);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// `depth` unfired Deferreds, each one's callback returning (so capturing) the next, with a
/// `Token` counting `drops`; only the outermost handle is returned, so it owns them all.
fn unfired_chain(depth: u64, drops: &Arc<AtomicUsize>) -> Deferred<u64> {
    unfired_chain_around(Deferred::new(), depth, drops)
}

#[test]
fn dropping_a_million_deep_unfired_chain_from_the_outer_handle() {
    let drops = Arc::new(AtomicUsize::new(0));
    let outer = unfired_chain(N, &drops);
    assert_eq!(drops.load(Ordering::Relaxed), 0);
    drop(outer);
    assert_eq!(drops.load(Ordering::Relaxed), N as usize);
}

/// Panics when dropped, unless the thread is already unwinding.
struct DropBomb;

impl Drop for DropBomb {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("drop bomb 6e1");
        }
    }
}

#[test]
fn a_panic_while_dropping_a_deep_chain_still_drops_the_rest_and_the_next_chain() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut outer = unfired_chain(N / 2, &drops);
    let bomb = DropBomb;
    let next = outer;
    outer = Deferred::new();
    let _ = outer.clone().add_callback(move |n| {
        drop((bomb, next));
        n
    });
    let outer = unfired_chain_around(outer, N / 2, &drops);
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(outer)));
    assert!(dropped.is_err(), "the bomb's panic reaches the dropping thread");
    assert_eq!(drops.load(Ordering::Relaxed), N as usize, "every level dropped, once");
    // This thread's teardown state was reset by the unwinding: the next deep drop works.
    drop(unfired_chain(N, &drops));
    assert_eq!(drops.load(Ordering::Relaxed), 2 * N as usize);
}

/// `depth` more levels like [`unfired_chain`]'s around `inner`.
fn unfired_chain_around(
    inner: Deferred<u64>,
    depth: u64,
    drops: &Arc<AtomicUsize>,
) -> Deferred<u64> {
    let mut outer = inner;
    for _ in 0..depth {
        let (next, token) = (outer, Token(drops.clone()));
        outer = Deferred::new();
        let _ = outer.clone().add_callback_deferred(move |_| {
            drop(token);
            next
        });
    }
    outer
}

#[test]
fn dropping_a_million_deep_chain_of_captured_deferreds_with_cancellers() {
    // Each Deferred's callback and canceller both capture the next one.
    let drops = Arc::new(AtomicUsize::new(0));
    let mut outer = Deferred::<u64>::new();
    for _ in 0..N {
        let (next, token) = (outer, Token(drops.clone()));
        let for_canceller = next.clone();
        outer = Deferred::with_canceller(move |_| for_canceller.cancel());
        let _ = outer.clone().add_callback(move |n| {
            drop((next, token));
            n
        });
    }
    drop(outer);
    assert_eq!(drops.load(Ordering::Relaxed), N as usize);
}

#[test]
fn dropping_a_linear_chain_of_a_million_callbacks_each_capturing_an_unfired_deferred() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut tail = Deferred::<u64>::new();
    for _ in 0..N {
        // The captured Deferred has a callback of its own (and so something to tear down).
        let captured = Deferred::<u64>::new();
        let token = Token(drops.clone());
        let captured = captured.add_callback(move |n| {
            drop(token);
            n
        });
        tail = tail.add_callback(move |n| {
            drop(captured);
            n
        });
    }
    drop(tail);
    assert_eq!(drops.load(Ordering::Relaxed), N as usize);
}

/// A value that owns the next Deferred: results may nest as deep as callbacks.
struct Link {
    _next: Option<Deferred<Link>>,
    _token: Token,
}

#[test]
fn dropping_a_million_deferreds_each_holding_the_next_as_its_result() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut outer = Deferred::succeed(Link { _next: None, _token: Token(drops.clone()) });
    for _ in 1..N {
        outer = Deferred::succeed(Link { _next: Some(outer), _token: Token(drops.clone()) });
    }
    drop(outer);
    assert_eq!(drops.load(Ordering::Relaxed), N as usize);
}

#[test]
fn dropping_a_million_deep_chain_reports_each_unhandled_failure_once_outer_first() {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = reports.clone();
    // The hook is global: keep only this test's failures.
    let _ = set_unhandled_failure_hook(move |f| {
        let report = f.to_string();
        if report.starts_with("level ") {
            sink.lock().unwrap().push(report);
        }
    });
    const DEPTH: usize = 100_000;
    let mut outer = Deferred::<u64>::fail(Level(DEPTH - 1));
    for level in (0..DEPTH - 1).rev() {
        // A paused failed Deferred keeps its failure and its callbacks (and what they capture).
        let next = outer;
        outer = Deferred::fail(Level(level));
        outer.pause();
        let _ = outer.clone().add_callback(move |n| {
            drop(next);
            n
        });
    }
    drop(outer);
    reset_unhandled_failure_hook();
    let reports = reports.lock().unwrap();
    assert_eq!(reports.len(), DEPTH);
    // The order a recursive drop would give: each Deferred before the ones it owns.
    assert!(reports.iter().enumerate().all(|(i, r)| *r == format!("level {i}")));
}

#[derive(Debug)]
struct Level(usize);

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "level {}", self.0)
    }
}

impl std::error::Error for Level {}
