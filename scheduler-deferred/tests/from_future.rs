//! `Deferred::from_future` keeps Rust's future contract (issue 10, items 3 and 6): it never
//! polls inside a `Waker::wake` that came from other code (a `futures::lock::Mutex` wakes its
//! next waiter while holding its waiter list, and an inline poll that locks again deadlocks);
//! it keeps a future that returned `Pending` without keeping its waker; a panic in the
//! future's `Drop` is caught and reported, never unwinds out of `from_future` or `cancel`. A
//! runtime may install a spawner on its threads: the polls then run as its tasks.

mod common;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use common::{block_on, record_unhandled_failures, unhandled_reports_mentioning};
use scheduler_deferred::{set_thread_spawner, Cancelled, Deferred, Failure, PollTask, Spawn};

#[test]
fn a_futures_mutex_guard_dropped_on_a_plain_thread_does_not_deadlock() {
    let lock = Arc::new(futures::lock::Mutex::new(0u32));
    let guard = block_on(lock.clone().lock_owned());
    let d = {
        let lock = lock.clone();
        Deferred::from_future(async move {
            let mut n = lock.lock().await;
            *n += 1;
            Ok::<_, Failure>(*n)
        })
    };
    assert!(!d.is_called());
    // The guard's drop wakes the waiting lock future while holding the Mutex's waiter list;
    // polling it there (what the built-in driver did) locks that list again: a deadlock.
    std::thread::spawn(move || drop(guard)).join().unwrap();
    assert_eq!(block_on(d).unwrap(), 1);
}

#[test]
fn a_guard_dropped_inside_another_from_future_poll_wakes_the_waiter_after_that_poll() {
    let lock = Arc::new(futures::lock::Mutex::new(Vec::<&str>::new()));
    let release = Deferred::<()>::new();
    let holder = {
        let (lock, release) = (lock.clone(), release.clone());
        Deferred::from_future(async move {
            let mut log = lock.lock().await;
            log.push("holder");
            release.await?;
            drop(log); // wakes `waiter` from inside this poll
            Ok::<_, Failure>(())
        })
    };
    let waiter = {
        let lock = lock.clone();
        Deferred::from_future(async move {
            lock.lock().await.push("waiter");
            Ok::<_, Failure>(())
        })
    };
    assert!(!waiter.is_called());
    release.callback(()).unwrap();
    block_on(holder).unwrap();
    block_on(waiter).unwrap();
    let log = block_on(lock.lock()).clone();
    assert_eq!(log, ["holder", "waiter"]);
}

#[test]
fn a_deferred_fired_by_hand_still_resumes_the_future_synchronously() {
    // Twisted's inlineCallbacks: the waiting coroutine continues inside `callback()`.
    let awaited = Deferred::<u8>::new();
    let inner = awaited.clone();
    let d = Deferred::from_future(async move { Ok(inner.await? + 1) });
    awaited.callback(1).unwrap();
    assert_eq!(d.take_result().unwrap().unwrap(), 2);
}

/// Counts drops; its drop panics if told to.
struct Guarded {
    drops: Arc<AtomicUsize>,
    panic_with: Option<&'static str>,
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if let Some(message) = self.panic_with {
            panic!("{message}");
        }
    }
}

/// A future that returns `Pending` and drops its waker (nothing will ever wake it).
fn forgets_its_waker(guard: Guarded) -> impl Future<Output = Result<u8, Failure>> + Send {
    poll_fn(move |_cx: &mut Context<'_>| {
        let _keep = &guard;
        Poll::Pending
    })
}

#[test]
fn a_pending_future_without_a_kept_waker_lives_until_cancelled() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = Deferred::from_future(forgets_its_waker(Guarded {
        drops: drops.clone(),
        panic_with: None,
    }));
    assert_eq!(drops.load(Ordering::SeqCst), 0, "dropped inside from_future");
    d.cancel();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(d.take_result().unwrap().unwrap_err().is::<Cancelled>());
}

#[test]
fn a_pending_future_lives_until_its_deferred_is_dropped() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = Deferred::from_future(forgets_its_waker(Guarded {
        drops: drops.clone(),
        panic_with: None,
    }));
    let clone = d.clone();
    drop(d);
    assert_eq!(drops.load(Ordering::SeqCst), 0, "a handle is still alive");
    drop(clone);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the last handle took the future with it");
}

#[test]
fn a_panicking_drop_of_a_completed_future_is_reported_not_unwound() {
    record_unhandled_failures();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = Guarded { drops: drops.clone(), panic_with: Some("drop panic after ready") };
    // The guard lives in the future itself (not in a poll's locals): dropped with the future.
    let d = Deferred::from_future(poll_fn(move |_cx: &mut Context<'_>| {
        let _keep = &guard;
        Poll::Ready(Ok::<_, Failure>(5u8))
    }));
    assert_eq!(d.take_result().unwrap().unwrap(), 5);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(unhandled_reports_mentioning("drop panic after ready"), 1);
}

#[test]
fn a_panicking_drop_of_a_cancelled_future_is_reported_not_unwound() {
    record_unhandled_failures();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = Guarded { drops: drops.clone(), panic_with: Some("drop panic on cancel") };
    let d = Deferred::from_future(forgets_its_waker(guard));
    d.cancel();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(d.take_result().unwrap().unwrap_err().is::<Cancelled>());
    assert_eq!(unhandled_reports_mentioning("drop panic on cancel"), 1);
}

/// A spawner that only queues the polls, so the test runs them when it wants.
#[derive(Default)]
struct Queued(Mutex<Vec<PollTask>>);

impl Spawn for Queued {
    fn spawn(&self, task: PollTask) {
        self.0.lock().unwrap().push(task);
    }
}

impl Queued {
    fn run_all(&self) -> usize {
        let tasks: Vec<_> = self.0.lock().unwrap().drain(..).collect();
        let n = tasks.len();
        tasks.into_iter().for_each(PollTask::run);
        n
    }
}

#[test]
fn with_a_spawner_installed_later_polls_run_as_its_tasks() {
    let spawner = Arc::new(Queued::default());
    let previous = set_thread_spawner(Some(spawner.clone()));
    let awaited = Deferred::<u8>::new();
    let inner = awaited.clone();
    let d = Deferred::from_future(async move { Ok(inner.await? * 2) });
    set_thread_spawner(previous);
    awaited.callback(21).unwrap();
    assert!(!d.is_called(), "not polled inside the wake");
    assert_eq!(spawner.run_all(), 1);
    assert_eq!(d.take_result().unwrap().unwrap(), 42);
}

#[test]
fn many_nested_from_futures_woken_in_turn_do_not_grow_the_stack() {
    // Each future fires the Deferred the next one awaits: the wakes nest inside polls and
    // go through the thread's trampoline instead of recursing.
    const N: usize = 20_000;
    let gates: Vec<Deferred<()>> = (0..=N).map(|_| Deferred::new()).collect();
    let outs: Vec<Deferred<usize>> = (0..N)
        .map(|i| {
            let (wait, open) = (gates[i].clone(), gates[i + 1].clone());
            Deferred::from_future(async move {
                wait.await?;
                open.callback(()).unwrap();
                Ok::<_, Failure>(i)
            })
        })
        .collect();
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn({
            let first = gates[0].clone();
            move || first.callback(()).unwrap()
        })
        .unwrap()
        .join()
        .unwrap();
    for (i, out) in outs.iter().enumerate() {
        assert_eq!(out.take_result().unwrap().unwrap(), i);
    }
}

#[test]
fn a_pending_poll_of_the_deferred_inside_from_future_is_not_polled_twice_at_once() {
    let polls = Arc::new(AtomicUsize::new(0));
    let counted = polls.clone();
    let awaited = Deferred::<u8>::new();
    let inner = awaited.clone();
    let d = Deferred::from_future(async move {
        let mut inner = inner;
        poll_fn(|cx| {
            counted.fetch_add(1, Ordering::SeqCst);
            Pin::new(&mut inner).poll(cx)
        })
        .await
    });
    awaited.callback(3).unwrap();
    assert_eq!(d.take_result().unwrap().unwrap(), 3);
    assert_eq!(polls.load(Ordering::SeqCst), 2);
}

#[test]
fn dropping_the_deferred_detaches_a_future_that_can_still_be_woken() {
    record_unhandled_failures();
    let gate = Deferred::<()>::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let d = {
        let (gate, ran) = (gate.clone(), ran.clone());
        Deferred::<()>::from_future(async move {
            gate.await?;
            ran.fetch_add(1, Ordering::SeqCst);
            Err(Failure::new(common::GenericError::new("detached future failed")))
        })
    };
    drop(d); // like dropping a JoinHandle: the future runs on
    gate.callback(()).unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(unhandled_reports_mentioning("detached future failed"), 1);
}
