//! Claim: cancelling a `Deferred::from_future` while another thread fires the Deferred its
//! coroutine awaits fires the outer Deferred exactly once, with the coroutine's final
//! outcome, and the cancel is never lost:
//!
//! * `cancel_racing_the_awaited_child_fire`: the coroutine awaits one child and turns a
//!   `Cancelled` into the value 1000; whichever wins (the cancel reaches the child first, or
//!   the child's value does), the outer's one callback sees exactly what the coroutine
//!   returned.
//! * `cancel_racing_the_fire_that_moves_the_coroutine_on`: the coroutine awaits a first child
//!   (fired by the other thread) and then a second one nobody fires; the cancel reaches the
//!   first child, or the second one once the coroutine awaits it (also when it lands while the
//!   first child has fired but the coroutine has not resumed yet), so the outer always ends
//!   failed with `Cancelled`, never pending.
//!
//! * `a_caught_cancel_racing_the_drop_of_another_handle_still_detaches`: the coroutine
//!   catches the cancel and then waits on something that cannot wake it; one handle is
//!   dropped on another thread while the other cancels and is dropped: the cancel leaves the
//!   Deferred armed (`waiter.rs`), so whichever drop is last detaches the driver and the
//!   coroutine is dropped exactly once.
//!
//! Teeth: with a cancel that reached only fired children dropped instead of left to the next
//! poll (`loom_api::drop_unreached_cancel`), the second scenario loses it (`should_panic`).
//!
//! Protocol doc: `scheduler-deferred/src/awaited.rs` (the driver's awaited set and cancel
//! cases), `driver.rs` ("Cancellation"), `cancel.rs` (`Core::cancel` reporting whether it
//! reached an unfired Deferred).
//! Threads: main (makes the coroutine, cancels) + 1 (fires the first child).
//! Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

#[cfg(loom)]
use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(loom)]
use loom::sync::{Arc, Mutex};
#[cfg(loom)]
use loom::thread;
#[cfg(not(loom))]
use std::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(loom))]
use std::sync::{Arc, Mutex};
#[cfg(not(loom))]
use std::thread;

use scheduler_deferred::{Cancelled, Deferred, Failure};

#[test]
fn cancel_racing_the_awaited_child_fire() {
    loom_tests::model(|| {
        let child = Deferred::<u32>::new();
        let returned = Arc::new(Mutex::new(None::<u32>));
        let (c, r) = (child.clone(), returned.clone());
        let outer = Deferred::from_future(async move {
            let value = match c.await {
                Ok(v) => v,
                Err(f) if f.is::<Cancelled>() => 1000,
                Err(f) => return Err(f),
            };
            *r.lock().unwrap() = Some(value);
            Ok::<_, Failure>(value)
        });
        let fires = Arc::new(AtomicUsize::new(0));
        let f = fires.clone();
        let observed = outer.clone().add_callback(move |v| {
            f.fetch_add(1, Ordering::Relaxed);
            v
        });
        let firer = thread::spawn(move || {
            let _ = child.callback(7); // refused (swallowed) if the cancel got there first
        });
        outer.cancel();
        firer.join().unwrap();
        assert_eq!(fires.load(Ordering::Relaxed), 1, "the outer fired exactly once");
        let got = observed.take_result().expect("the outer fired").expect("a value");
        assert_eq!(Some(got), *returned.lock().unwrap(), "the coroutine's final outcome");
    });
}

#[test]
fn cancel_racing_the_fire_that_moves_the_coroutine_on() {
    loom_tests::model(|| {
        let first = Deferred::<u32>::new();
        let second = Deferred::<u32>::new(); // never fired: only the cancel ends the coroutine
        let (f, s) = (first.clone(), second.clone());
        let outer = Deferred::from_future(async move {
            f.await?;
            s.await
        });
        let fires = Arc::new(AtomicUsize::new(0));
        let n = fires.clone();
        let observed = outer.clone().add_both(move |r| {
            n.fetch_add(1, Ordering::Relaxed);
            r
        });
        let firer = thread::spawn(move || {
            let _ = first.callback(1);
        });
        outer.cancel();
        firer.join().unwrap();
        assert_eq!(fires.load(Ordering::Relaxed), 1, "the cancel was lost: the outer is pending");
        let failure = observed.take_result().expect("fired").expect_err("cancelled");
        assert!(failure.is::<Cancelled>());
        drop(second);
    });
}

/// Counts drops (the coroutine's guard).
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn a_caught_cancel_racing_the_drop_of_another_handle_still_detaches() {
    loom_tests::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let guard = Counted(drops.clone());
        let first = Deferred::<u32>::new();
        let f = first.clone();
        let outer = Deferred::<u32>::from_future(async move {
            let _guard = guard;
            let _ = f.await; // catches the cancel
            std::future::poll_fn(|_| std::task::Poll::<()>::Pending).await; // keeps no waker
            Ok(0)
        });
        let other = outer.clone();
        let dropper = thread::spawn(move || drop(other));
        outer.cancel();
        drop(outer);
        dropper.join().unwrap();
        assert!(first.is_called(), "the cancel reached the awaited Deferred");
        assert_eq!(drops.load(Ordering::Relaxed), 1, "the coroutine was not dropped exactly once");
    });
}

/// Teeth: a cancel whose children had all fired, dropped instead of left to the next poll,
/// is lost when it lands after the first child fired and before the coroutine resumed.
#[cfg(loom)]
#[test]
#[should_panic(expected = "the cancel was lost")]
fn a_dropped_unreached_cancel_is_lost() {
    loom::model(|| {
        scheduler_deferred::loom_api::drop_unreached_cancel(true);
        let first = Deferred::<u32>::new();
        let second = Deferred::<u32>::new();
        let (f, s) = (first.clone(), second.clone());
        let outer = Deferred::from_future(async move {
            f.await?;
            s.await
        });
        let firer = thread::spawn(move || {
            let _ = first.callback(1);
        });
        outer.cancel();
        firer.join().unwrap();
        assert!(outer.is_called(), "the cancel was lost: the outer is pending");
        drop(second);
    });
}
