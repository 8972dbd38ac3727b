//! Cancelling a `Deferred::from_future` cancels the Deferred its coroutine awaits (issue 12,
//! item 1), seen from outside: a timeout now stops the operation behind it; a tokio task
//! awaiting the outer Deferred while another thread cancels it gets the coroutine's outcome;
//! the coroutine and its child are dropped exactly once; a child the coroutine stopped
//! awaiting is left alone; a queue getter awaited by the coroutine is withdrawn, losing no
//! value; a coroutine suspended on something else than one of our Deferreds is dropped.

mod common;

use std::future::{pending, poll_fn, Future};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use common::*;
use scheduler_deferred::{Cancelled, Deferred, DeferredQueue, Failure, TimedOut};

#[test]
fn a_timeout_on_a_coroutine_runs_the_inner_canceller_and_stops_the_inner() {
    let clock = ManualClock::new();
    let canceller_ran = Arc::new(AtomicUsize::new(0));
    let ran = canceller_ran.clone();
    let inner = Deferred::<u8>::with_canceller(move |_| {
        ran.fetch_add(1, Ordering::SeqCst);
    });
    let i = inner.clone();
    let outer = Deferred::from_future(async move { Ok(i.await? + 1) })
        .add_timeout(Duration::from_secs(1), &clock);
    clock.advance(Duration::from_secs(1));
    assert_eq!(canceller_ran.load(Ordering::SeqCst), 1, "the inner's canceller ran");
    // The coroutine took the inner's `Cancelled` at its await (and the timeout made it
    // `TimedOut`); the inner is fired, so spent.
    assert!(inner.is_called(), "the inner stopped");
    assert!(failure_result_of(&outer).is::<TimedOut>());
    assert_eq!(clock.pending(), 0);
}

#[test]
fn a_tokio_task_awaiting_the_outer_gets_the_coroutine_outcome_when_another_thread_cancels() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    for _ in 0..200 {
        let child = Deferred::<u32>::new();
        let c = child.clone();
        let outer = Deferred::from_future(async move {
            match c.await {
                Ok(v) => Ok(v),
                Err(f) if f.is::<Cancelled>() => Ok(999), // the coroutine turns it into a value
                Err(f) => Err(f),
            }
        });
        let awaiting = rt.spawn(outer.clone());
        let canceller = std::thread::spawn(move || outer.cancel());
        canceller.join().unwrap();
        let got = rt.block_on(awaiting).unwrap().unwrap();
        assert_eq!(got, 999);
        assert!(child.is_called(), "the cancel reached the child");
    }
}

#[test]
fn cancel_racing_the_child_firing_on_another_thread_fires_the_outer_once() {
    for _ in 0..500 {
        let child = Deferred::<u32>::new();
        let c = child.clone();
        let outer = Deferred::from_future(async move {
            match c.await {
                Ok(v) => Ok(v),
                Err(f) if f.is::<Cancelled>() => Ok(0),
                Err(f) => Err(f),
            }
        });
        let fires = Arc::new(AtomicUsize::new(0));
        let f = fires.clone();
        let observed = outer.clone().add_callback(move |v| {
            f.fetch_add(1, Ordering::SeqCst);
            v
        });
        let firer = std::thread::spawn(move || child.callback(7));
        outer.cancel();
        let fired = firer.join().unwrap();
        let got = success_result_of(&observed);
        assert_eq!(fires.load(Ordering::SeqCst), 1);
        match fired {
            Ok(()) => assert!(got == 7 || got == 0, "got {got}"), // fire first, or cancel first
            Err(_) => assert_eq!(got, 0, "the cancel fired the child first"),
        }
    }
}

/// Counts drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn the_coroutine_and_its_child_are_dropped_exactly_once() {
    let (coroutine_drops, child_drops) =
        (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let in_child = Counted(child_drops.clone());
    let child = Deferred::<u8>::with_canceller(move |_| drop(in_child));
    let guard = Counted(coroutine_drops.clone());
    let c = child.clone();
    let outer = Deferred::from_future(async move {
        let _guard = guard;
        let got = c.await;
        assert!(got.unwrap_err().is::<Cancelled>());
        Ok::<_, Failure>(3u8)
    });
    outer.cancel();
    assert_eq!(success_result_of(&outer), 3);
    assert_eq!(coroutine_drops.load(Ordering::SeqCst), 1);
    assert_eq!(child_drops.load(Ordering::SeqCst), 1);
    outer.cancel(); // fired: a no-op
    drop((outer, child));
    assert_eq!(coroutine_drops.load(Ordering::SeqCst), 1);
    assert_eq!(child_drops.load(Ordering::SeqCst), 1);
}

#[test]
fn a_child_dropped_by_a_select_is_not_cancelled_for_the_coroutine() {
    let abandoned = Deferred::<u8>::new();
    let ready = Deferred::succeed(1u8);
    let awaited = Deferred::<u8>::new();
    let (a, r, w) = (abandoned.clone(), ready.clone(), awaited.clone());
    let outer = Deferred::from_future(async move {
        let mut a = a;
        let mut r = r;
        // Polls `a` (Pending, registered), then `r` (Ready): `a` is dropped with the select.
        let first = poll_fn(|cx| {
            let _ = std::pin::Pin::new(&mut a).poll(cx);
            std::pin::Pin::new(&mut r).poll(cx)
        })
        .await?;
        drop(a);
        Ok(first + w.await?)
    });
    outer.cancel();
    assert!(awaited.is_called(), "the awaited child is cancelled");
    assert!(!abandoned.is_called(), "the abandoned one is not");
    assert!(failure_result_of(&outer).is::<Cancelled>());
}

#[test]
fn a_queue_getter_awaited_by_a_cancelled_coroutine_is_withdrawn_and_loses_nothing() {
    let queue = DeferredQueue::<u8>::new();
    let q = queue.clone();
    let outer = Deferred::from_future(async move { q.get().unwrap().await });
    outer.cancel();
    assert!(failure_result_of(&outer).is::<Cancelled>());
    queue.put(5).unwrap();
    assert_eq!(success_result_of(&queue.get().unwrap()), 5, "the value went to nobody else");
}

#[test]
fn a_coroutine_suspended_on_a_foreign_future_is_dropped_and_fails() {
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = Counted(drops.clone());
    let outer = Deferred::<u8>::from_future(async move {
        let _guard = guard;
        pending::<()>().await;
        Ok(1)
    });
    outer.cancel();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(failure_result_of(&outer).is::<Cancelled>());
}

#[test]
fn a_coroutine_that_cancels_its_own_deferred_while_running_gets_it_at_the_next_await() {
    let gate = Deferred::<()>::new();
    let child = Deferred::<u8>::new();
    let me = Arc::new(std::sync::Mutex::new(None::<Deferred<u8>>));
    let (g, c, m) = (gate.clone(), child.clone(), me.clone());
    let outer = Deferred::from_future(async move {
        g.await?;
        let myself = m.lock().unwrap().take().expect("set before the gate opens");
        myself.cancel(); // inside our own poll: nothing awaited yet, so at the next await
        drop(myself);
        c.await
    });
    *me.lock().unwrap() = Some(outer.clone());
    gate.callback(()).unwrap();
    assert!(child.is_called(), "the cancel reached the next await");
    assert!(failure_result_of(&outer).is::<Cancelled>());
}

#[test]
fn a_cancel_through_many_nested_coroutines_does_not_grow_the_stack() {
    const N: usize = 50_000;
    let innermost = Deferred::<u32>::new();
    let mut next = innermost.clone();
    let mut levels = Vec::with_capacity(N);
    for _ in 0..N {
        let awaited = next;
        next = Deferred::from_future(awaited); // a coroutine that only awaits the next level
        levels.push(next.clone());
    }
    let outermost = next;
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || outermost.cancel())
        .unwrap()
        .join()
        .unwrap();
    assert!(innermost.is_called(), "the cancel reached the innermost Deferred");
    assert!(levels.iter().all(Deferred::is_called), "every level fired");
    let outermost = levels.last().unwrap();
    assert!(failure_result_of(outermost).is::<Cancelled>(), "came up every level");
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || drop((levels, innermost)))
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn a_coroutine_that_caught_a_cancel_still_detaches_when_every_handle_is_dropped() {
    record_unhandled_failures();
    let first = Deferred::<()>::new();
    let second = Deferred::<()>::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let (f, s, r) = (first.clone(), second.clone(), ran.clone());
    let outer = Deferred::<()>::from_future(async move {
        let _ = f.await; // catches the cancel
        s.await?;
        r.fetch_add(1, Ordering::SeqCst);
        Err(Failure::new(GenericError::new("caught-then-failed 8c1")))
    });
    outer.cancel();
    assert!(first.is_called());
    assert_no_result(&outer);
    drop(outer); // like a dropped JoinHandle: the coroutine runs on, detached
    second.callback(()).unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(unhandled_reports_mentioning("caught-then-failed 8c1"), 1);
}

#[test]
fn a_coroutine_that_caught_a_cancel_and_cannot_be_woken_is_dropped_with_its_last_handle() {
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = Counted(drops.clone());
    let first = Deferred::<()>::new();
    let f = first.clone();
    let outer = Deferred::<()>::from_future(async move {
        let _guard = guard;
        let _ = f.await; // catches the cancel
        poll_fn(|_| Poll::<()>::Pending).await; // keeps no waker: nothing can wake it
        Ok(())
    });
    outer.cancel();
    assert!(first.is_called());
    assert_eq!(drops.load(Ordering::SeqCst), 0, "suspended, not dropped");
    drop(outer);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the last handle took the future with it");
}

#[test]
fn a_failure_the_coroutine_ends_with_during_the_cancel_is_reported_if_nobody_takes_it() {
    record_unhandled_failures();
    let child = Deferred::<u8>::new();
    let c = child.clone();
    let outer = Deferred::from_future(async move {
        c.await.map_err(|_| Failure::new(GenericError::new("translated during cancel 4d7")))
    });
    outer.cancel(); // the coroutine ends with its failure inside this call
    drop(outer);
    assert_eq!(unhandled_reports_mentioning("translated during cancel 4d7"), 1);
}

#[test]
fn a_branch_the_coroutine_drops_after_the_first_cancelled_branch_resumed_it_is_left_alone() {
    let (first, second) = (Deferred::<u8>::new(), Deferred::<u8>::new());
    let (f, s) = (first.clone(), second.clone());
    let outer = Deferred::from_future(async move {
        let (mut f, mut s) = (f, s);
        // A select of both: each poll polls both (both registered while pending).
        let got = poll_fn(|cx| {
            if let Poll::Ready(r) = std::pin::Pin::new(&mut f).poll(cx) {
                return Poll::Ready(r);
            }
            std::pin::Pin::new(&mut s).poll(cx)
        })
        .await;
        drop((f, s)); // the select is over: the other branch goes
        Ok::<_, Failure>(u8::from(got.is_err()))
    });
    outer.cancel(); // cancels `first`, which resumes the coroutine, which drops `second`
    assert_eq!(success_result_of(&outer), 1);
    assert!(first.is_called());
    assert!(!second.is_called(), "no longer awaited when its turn came");
}
