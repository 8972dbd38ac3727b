//! Claim: `cancel` racing `callback` has exactly one winner: either the value or the
//! `Cancelled` failure reaches the chain, exactly once. Without a canceller the losing fire is
//! swallowed (Twisted's rule); with one, it is `AlreadyCalled`. The canceller runs exactly
//! once when cancel wins, and at most once when the fire wins: not at all if the fire came
//! first (the fire drops it), once if cancel had taken it and the fire landed while it ran.
//! Under loom all three outcomes must occur.
//!
//! Protocol: `scheduler-deferred/src/chain/mod.rs` (module doc, "Protocol" and "Cancellation").
//! Threads: main (cancels) + 1 spawned (fires).
//! Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

#![allow(clippy::let_underscore_future)] // dropped handles share the chain

// The outcome tally is outside the model: std atomics under loom too.
use std::sync::atomic::{AtomicUsize, Ordering};

#[cfg(loom)]
use loom::{sync::Arc, sync::Mutex, thread};
#[cfg(not(loom))]
use std::{sync::Arc, sync::Mutex, thread};

use scheduler_deferred::{AlreadyCalled, Cancelled, Deferred};

/// Adds a pair that records which half ran.
fn record(d: &Deferred<u32>) -> Arc<Mutex<Vec<&'static str>>> {
    let ran = Arc::new(Mutex::new(Vec::new()));
    let (r1, r2) = (ran.clone(), ran.clone());
    let _ = d.clone().add_callbacks(
        move |n| {
            r1.lock().unwrap().push("value");
            Ok(n)
        },
        move |f| {
            assert!(f.is::<Cancelled>());
            r2.lock().unwrap().push("cancelled");
            Ok(0)
        },
    );
    ran
}

#[test]
fn cancel_racing_fire_without_canceller() {
    loom_tests::model(|| {
        let d = Deferred::<u32>::new();
        let ran = record(&d);
        let firer = {
            let d = d.clone();
            thread::spawn(move || d.callback(7))
        };
        d.cancel();
        assert_eq!(firer.join().unwrap(), Ok(()), "the losing fire is swallowed, not an error");
        assert_eq!(ran.lock().unwrap().len(), 1);
        assert_eq!(d.callback(1), Err(AlreadyCalled));
    });
}

#[test]
fn cancel_racing_fire_with_canceller() {
    loom_tests::model(|| {
        let cancellers = Arc::new(Mutex::new(0));
        let c = cancellers.clone();
        let d = Deferred::<u32>::with_canceller(move |_| *c.lock().unwrap() += 1);
        let ran = record(&d);
        let firer = {
            let d = d.clone();
            thread::spawn(move || d.callback(7))
        };
        d.cancel();
        let fired = firer.join().unwrap();
        let ran = ran.lock().unwrap();
        assert_eq!(ran.len(), 1);
        let outcome = match (ran[0], *cancellers.lock().unwrap()) {
            // Cancel won: its canceller ran, exactly once, and the fire came too late.
            ("cancelled", 1) => CANCEL_WON,
            // Fire won before cancel looked: the canceller was dropped unrun.
            ("value", 0) => FIRE_WON_FIRST,
            // Cancel took the canceller first, but the fire landed while it ran (it did not
            // fire the Deferred itself): the value wins, and the canceller ran once.
            ("value", 1) => FIRE_WON_DURING_CANCELLER,
            other => panic!("impossible outcome (winner, canceller runs): {other:?}"),
        };
        let expected = if outcome == CANCEL_WON { Err(AlreadyCalled) } else { Ok(()) };
        assert_eq!(fired, expected);
        SEEN[outcome].fetch_add(1, Ordering::Relaxed);
    });
    // Under loom every interleaving ran: each outcome above must have been reached, so the
    // model checks all three (a single plain run reaches only one).
    #[cfg(loom)]
    for (outcome, seen) in SEEN.iter().enumerate() {
        assert!(seen.load(Ordering::Relaxed) > 0, "outcome {outcome} unexplored");
    }
}

/// The outcomes of [`cancel_racing_fire_with_canceller`], indexes into [`SEEN`].
const CANCEL_WON: usize = 0;
const FIRE_WON_FIRST: usize = 1;
const FIRE_WON_DURING_CANCELLER: usize = 2;

/// How often each outcome occurred, over all the executions loom explored. Outside the model
/// (std, not loom, atomics): loom runs its executions one after another on one OS thread.
static SEEN: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];
