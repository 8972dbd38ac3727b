//! Dropping is cancelling (issue 10, item 1): a `DeferredQueue` getter or a `DeferredLock` /
//! `DeferredSemaphore` acquirer whose handles are all dropped (by `tokio::time::timeout`, by a
//! `select!` that took another branch, by hand, on any thread) leaves the waiters; the value
//! stays queued and the token goes to the next live waiter, FIFO among the live ones. One
//! dropped after it was handed a value or token that nobody took gives it back. Before, the
//! dropped waiter kept its place and the next value or token went to it and was lost.

#![allow(clippy::let_underscore_future)] // see twisted_test_defer.rs

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use scheduler_deferred::{Deferred, DeferredLock, DeferredQueue, DeferredSemaphore};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().unwrap()
}

/// Polls `d` once inside `select!`, then lets the other, ready branch win: `d` is dropped
/// after it registered its waker, as a real `select!` loser is.
async fn lose_a_select<T: Send + 'static>(d: Deferred<T>) {
    tokio::select! {
        biased;
        _ = d => unreachable!("nobody fired it"),
        _ = std::future::ready(()) => {}
    }
}

/// Polls `d` once: it waits (and registers a waker).
fn poll_pending<T: Send + 'static>(mut d: Deferred<T>) -> Deferred<T> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(Pin::new(&mut d).poll(&mut cx).is_pending());
    d
}

#[test]
fn a_getter_dropped_by_timeout_leaves_the_value_queued() {
    runtime().block_on(async {
        let q = DeferredQueue::<u32>::new();
        let timed_out = tokio::time::timeout(Duration::from_millis(5), q.get().unwrap()).await;
        assert!(timed_out.is_err());
        assert_eq!(q.waiting(), 0);
        q.put(7).unwrap();
        assert_eq!(q.pending(), 1);
        assert_eq!(q.get().unwrap().await.unwrap(), 7);
    });
}

#[test]
fn a_getter_dropped_by_select_leaves_the_value_for_the_next_live_getter() {
    runtime().block_on(async {
        let q = DeferredQueue::<u32>::new();
        let first = q.get().unwrap();
        lose_a_select(q.get().unwrap()).await;
        let third = q.get().unwrap();
        lose_a_select(q.get().unwrap()).await;
        assert_eq!(q.waiting(), 2);
        q.put(1).unwrap();
        q.put(2).unwrap();
        q.put(3).unwrap();
        assert_eq!(first.await.unwrap(), 1);
        assert_eq!(third.await.unwrap(), 2);
        assert_eq!(q.pending(), 1);
        assert_eq!(q.get().unwrap().await.unwrap(), 3);
    });
}

#[test]
fn a_getter_dropped_after_the_put_gives_the_value_back_to_the_front() {
    let q = DeferredQueue::<u32>::new();
    let handed = q.get().unwrap();
    let next = q.get().unwrap();
    q.put(1).unwrap(); // fires `handed`; nobody takes the value
    drop(handed); // goes to `next`, the oldest live getter
    assert_eq!(next.take_result().unwrap().unwrap(), 1);
    let handed = poll_pending(q.get().unwrap());
    q.put(2).unwrap();
    q.put(3).unwrap();
    drop(handed); // no live getter: back to the front of the pending values
    assert_eq!(q.pending(), 2);
    assert_eq!(q.get().unwrap().take_result().unwrap().unwrap(), 2);
    assert_eq!(q.get().unwrap().take_result().unwrap().unwrap(), 3);
}

#[test]
fn a_get_served_at_once_and_dropped_untaken_gives_the_value_back() {
    let q = DeferredQueue::<u32>::new();
    q.put(1).unwrap();
    q.put(2).unwrap();
    let served = q.get().unwrap();
    assert!(served.is_called());
    drop(served);
    assert_eq!(q.pending(), 2);
    assert_eq!(q.get().unwrap().take_result().unwrap().unwrap(), 1);
    let sem = DeferredSemaphore::new(1).unwrap();
    drop(sem.acquire()); // the token was never taken
    assert_eq!(sem.available(), 1);
    let taken = sem.acquire();
    assert!(taken.take_result().unwrap().is_ok());
    drop(taken); // taken: ours until released
    assert_eq!(sem.available(), 0);
}

#[test]
fn a_clone_kept_keeps_the_getter_waiting() {
    let q = DeferredQueue::<u32>::new();
    let getter = q.get().unwrap();
    let kept = getter.clone();
    drop(getter); // not the last handle
    assert_eq!(q.waiting(), 1);
    q.put(5).unwrap();
    assert_eq!(kept.take_result().unwrap().unwrap(), 5);
}

#[test]
fn a_getter_with_a_callback_is_a_consumer_and_keeps_its_place() {
    let q = DeferredQueue::<u32>::new();
    let seen = Arc::new(AtomicUsize::new(0));
    let sink = seen.clone();
    let _ = q.get().unwrap().add_callback(move |v| sink.store(v as usize, Ordering::SeqCst));
    assert_eq!(q.waiting(), 1); // Twisted's fire-and-forget: the handle is gone, the callback not
    q.put(9).unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 9);
}

#[test]
fn a_lock_acquirer_dropped_by_timeout_does_not_keep_the_lock() {
    runtime().block_on(async {
        let lock = DeferredLock::new();
        lock.acquire().await.unwrap();
        let timed_out = tokio::time::timeout(Duration::from_millis(5), lock.acquire()).await;
        assert!(timed_out.is_err());
        lock.release().unwrap();
        assert!(!lock.is_locked()); // before: handed to the dead waiter, locked for ever
        lock.acquire().await.unwrap();
        lock.release().unwrap();
    });
}

#[test]
fn a_lock_acquirer_dropped_after_the_hand_off_passes_the_lock_on() {
    let lock = DeferredLock::new();
    let held = lock.acquire();
    let handed = lock.acquire();
    let next = lock.acquire();
    lock.release().unwrap(); // to `handed`, which nobody awaits any more
    drop(handed);
    assert!(next.take_result().unwrap().is_ok());
    assert!(lock.is_locked());
    lock.release().unwrap();
    assert!(!lock.is_locked());
    let _ = held;
}

#[test]
fn semaphore_tokens_are_counted_exactly_across_dropped_acquirers() {
    runtime().block_on(async {
        let sem = DeferredSemaphore::new(2).unwrap();
        sem.acquire().await.unwrap();
        sem.acquire().await.unwrap();
        assert_eq!(sem.available(), 0);
        lose_a_select(sem.acquire()).await;
        let live = sem.acquire();
        assert!(tokio::time::timeout(Duration::from_millis(5), sem.acquire()).await.is_err());
        assert_eq!(sem.waiting(), 1);
        sem.release().unwrap(); // to `live`, skipping the dropped ones
        live.await.unwrap();
        assert_eq!(sem.available(), 0);
        sem.release().unwrap();
        sem.release().unwrap();
        assert_eq!(sem.available(), 2);
        assert!(sem.release().is_err());
    });
}

#[test]
fn getters_dropped_on_other_threads_while_values_are_put_lose_nothing() {
    const ROUNDS: usize = 2_000;
    let q = DeferredQueue::<usize>::new();
    let received = Arc::new(AtomicUsize::new(0));
    let droppers: Vec<_> = (0..2)
        .map(|_| {
            let (q, received) = (q.clone(), received.clone());
            std::thread::spawn(move || {
                for i in 0..ROUNDS {
                    let getter = q.get().unwrap();
                    if i % 2 == 0 {
                        drop(getter); // whenever: before, during or after a put
                    } else if let Some(Ok(_)) = getter.take_result() {
                        received.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for i in 0..ROUNDS {
        q.put(i).unwrap();
    }
    droppers.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(q.waiting(), 0);
    assert_eq!(received.load(Ordering::SeqCst) + q.pending(), ROUNDS);
}

#[test]
fn aborted_tasks_awaiting_a_getter_lose_no_value() {
    runtime().block_on(async {
        let q = DeferredQueue::<u32>::new();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let q = q.clone();
            tasks.push(tokio::spawn(async move { q.get().unwrap().await.unwrap() }));
        }
        // Wait (without a clock) until every task registered its getter.
        poll_fn(|cx| {
            if q.waiting() == 8 {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await;
        let aborted: Vec<_> = tasks.drain(..4).collect();
        for task in &aborted {
            task.abort();
        }
        for task in aborted {
            assert!(task.await.unwrap_err().is_cancelled());
        }
        for v in 0..8 {
            q.put(v).unwrap();
        }
        let mut got: Vec<u32> = Vec::new();
        for task in tasks {
            got.push(task.await.unwrap());
        }
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2, 3]); // FIFO: the four live getters took the first four
        assert_eq!(q.pending(), 4);
    });
}
