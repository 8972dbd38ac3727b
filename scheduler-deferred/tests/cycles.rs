//! Chaining cycles and abandoned waiting pairs (issue 10, item 5). A callback of `a` returns
//! `b` and a callback of `b` returns `a`: the chaining is refused with `ChainCycle` (before,
//! both waited on each other for ever and `a.cancel()` spun in its walk). `a` waits on `b`,
//! `b` is never fired, every handle is dropped: both chains and their callbacks' captures are
//! freed (before, each kept the other alive for ever).

#![allow(clippy::let_underscore_future)] // see twisted_test_defer.rs

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use scheduler_deferred::{Cancelled, ChainCycle, Deferred};

/// Counts its drops.
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn tracked() -> (Arc<AtomicUsize>, Tracked) {
    let drops = Arc::new(AtomicUsize::new(0));
    (drops.clone(), Tracked(drops))
}

#[test]
fn a_callback_closing_a_cycle_fails_with_chain_cycle_and_cancel_returns() {
    let (a, b) = (Deferred::<u8>::new(), Deferred::<u8>::new());
    let _ = b.clone().add_callback_deferred({
        let a = a.clone();
        move |_| a
    });
    let _ = a.clone().add_callback_deferred({
        let b = b.clone();
        move |_| b
    });
    a.callback(1).unwrap(); // a waits on b
    b.callback(2).unwrap(); // b's callback returns a, which waits on b: a cycle
    a.cancel(); // never spins
    b.cancel();
    assert!(a.take_result().unwrap().unwrap_err().is::<ChainCycle>());
    assert!(b.is_called());
}

#[test]
fn dropping_every_handle_of_a_refused_cycle_frees_both_chains() {
    let (drops, (ca, cb)) = (Arc::new(AtomicUsize::new(0)), (tracked(), tracked()));
    let (a, b) = (Deferred::<u8>::new(), Deferred::<u8>::new());
    let (ta, tb) = (ca.1, cb.1);
    let _ = b.clone().add_callback_deferred({
        let a = a.clone();
        move |_| a
    });
    let _ = a.clone().add_callback_deferred({
        let b = b.clone();
        move |_| b
    });
    let _ = a.clone().add_both(move |r| {
        drop(ta);
        r
    });
    let _ = b.clone().add_both(move |r| {
        drop(tb);
        r
    });
    a.callback(1).unwrap();
    b.callback(2).unwrap();
    let _ = a.take_result();
    drop((a, b));
    drops.fetch_add(ca.0.load(Ordering::SeqCst) + cb.0.load(Ordering::SeqCst), Ordering::SeqCst);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

/// A deep cycle (longer than the walk at chaining) forms anyway; `cancel` breaks it.
#[test]
fn cancelling_a_deep_cycle_ends_it_with_chain_cycle() {
    const N: usize = 5_000;
    let ds: Vec<Deferred<u8>> = (0..N).map(|_| Deferred::new()).collect();
    for i in 0..N {
        let next = ds[(i + 1) % N].clone();
        let _ = ds[i].clone().add_callback_deferred(move |_| next);
    }
    for d in &ds {
        d.callback(0).unwrap(); // d[i] waits on d[i + 1]; the last closes the cycle
    }
    ds[N / 2].cancel();
    let results: Vec<_> =
        ds.iter().map(|d| d.take_result().expect("every member has a result")).collect();
    let cycle = results.iter().filter(|r| r.as_ref().is_err_and(|f| f.is::<ChainCycle>())).count();
    assert_eq!(cycle, 1, "the cycle's result is a ChainCycle failure (the others passed it on)");
    ds.iter().for_each(Deferred::cancel); // all fired now: no-ops, no spinning
}

#[test]
fn dropping_every_handle_of_a_waiting_pair_frees_both_chains_and_captures() {
    let (outer_drops, outer_capture) = tracked();
    let (inner_drops, inner_capture) = tracked();
    let outer = Deferred::<u8>::new();
    let inner = Deferred::<u8>::new();
    let _ = inner.clone().add_callback(move |v| {
        let _keep = &inner_capture;
        v
    });
    let _ = outer
        .clone()
        .add_callback_deferred({
            let inner = inner.clone();
            move |_| inner
        })
        .add_callback(move |v| {
            let _keep = &outer_capture;
            v
        });
    outer.callback(1).unwrap(); // outer waits on inner, which nobody fires
    assert!(!outer.has_result());
    drop(inner);
    assert_eq!(inner_drops.load(Ordering::SeqCst), 0, "outer still observes inner");
    drop(outer); // the abandoned request: nothing can fire inner any more
    assert_eq!(inner_drops.load(Ordering::SeqCst), 1);
    assert_eq!(outer_drops.load(Ordering::SeqCst), 1);
}

#[test]
fn dropping_the_outer_first_and_the_inner_last_frees_both_too() {
    let (drops, capture) = tracked();
    let outer = Deferred::<u8>::new();
    let inner = Deferred::<u8>::new();
    let _ = outer
        .clone()
        .add_callback_deferred({
            let inner = inner.clone();
            move |_| inner
        })
        .add_callback(move |v| {
            let _keep = &capture;
            v
        });
    outer.callback(1).unwrap();
    drop(outer);
    assert_eq!(drops.load(Ordering::SeqCst), 0, "inner can still be fired");
    drop(inner);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn a_waiting_pair_whose_inner_is_still_held_stays_alive_and_completes() {
    let (drops, capture) = tracked();
    let outer = Deferred::<u8>::new();
    let inner = Deferred::<u8>::new();
    let seen = Arc::new(AtomicUsize::new(0));
    let sink = seen.clone();
    let _ = outer
        .clone()
        .add_callback_deferred({
            let inner = inner.clone();
            move |_| inner
        })
        .add_callback(move |v| {
            let _keep = &capture;
            sink.store(usize::from(v), Ordering::SeqCst);
        });
    outer.callback(1).unwrap();
    drop(outer); // fire-and-forget: the chain must still run when inner fires
    inner.callback(7).unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 7);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn a_deep_abandoned_waiting_chain_is_freed_iteratively() {
    const N: usize = 100_000;
    let (drops, capture) = tracked();
    let ds: Vec<Deferred<u8>> = (0..N).map(|_| Deferred::new()).collect();
    for i in 0..N - 1 {
        let next = ds[i + 1].clone();
        let _ = ds[i].clone().add_callback_deferred(move |_| next);
    }
    let _ = ds[N - 1].clone().add_callback(move |v| {
        let _keep = &capture;
        v
    });
    for d in &ds[..N - 1] {
        d.callback(0).unwrap(); // d[i] waits on d[i + 1]; d[N - 1] is never fired
    }
    drop(ds);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn cancelling_an_outer_of_a_waiting_pair_still_works_after_the_inner_handle_is_gone() {
    let outer = Deferred::<u8>::new();
    let inner = Deferred::<u8>::new();
    let chained = outer.clone().add_callback_deferred({
        let inner = inner.clone();
        move |_| inner
    });
    outer.callback(1).unwrap();
    drop(inner); // outer still observes it: not freed
    outer.cancel(); // cancels inner, whose failure flows back
    assert!(chained.take_result().unwrap().unwrap_err().is::<Cancelled>());
}

#[test]
fn waiting_pairs_dropped_and_fired_across_threads_never_lose_a_callback() {
    // Thread 1 builds pairs and drops the outer handles; thread 2 fires or drops the inners.
    // A fired inner must still run the outer's callback (never freed early); a pair dropped
    // whole is freed, once, whichever thread drops last.
    const PAIRS: usize = 20_000;
    let ran = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Deferred<u8>)>();
    let builder = {
        let (ran, drops) = (ran.clone(), drops.clone());
        std::thread::spawn(move || {
            for i in 0..PAIRS {
                let (outer, inner) = (Deferred::<u8>::new(), Deferred::<u8>::new());
                let (ran, capture) = (ran.clone(), Tracked(drops.clone()));
                let _ = outer
                    .clone()
                    .add_callback_deferred({
                        let inner = inner.clone();
                        move |_| inner
                    })
                    .add_callback(move |v| {
                        let _keep = &capture;
                        ran.fetch_add(1, Ordering::SeqCst);
                        v
                    });
                outer.callback(0).unwrap();
                tx.send((i, inner)).unwrap();
                drop(outer);
            }
        })
    };
    let mut fired = 0;
    for (i, inner) in rx {
        if i % 2 == 0 {
            inner.callback(1).unwrap();
            fired += 1;
        }
    }
    builder.join().unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), fired, "every fired inner ran its outer's callback");
    // Every outer was dropped after it settled (waiting), and every inner by its user: each
    // last drop met a settled chain, so every pair was freed, once.
    assert_eq!(drops.load(Ordering::SeqCst), PAIRS);
}
