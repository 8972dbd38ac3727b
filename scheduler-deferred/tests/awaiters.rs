//! Every task awaiting a clone of one Deferred is woken when it fires (issue 10, item 2): the
//! first to poll takes the result, the others get `ResultTaken`. Before, the chain had one
//! waker slot that each poll overwrote, so all but the last awaiter slept for ever. A handle
//! polled from another task replaces its waker; a handle dropped while waiting takes its waker
//! out (no stale wake-ups, nothing kept per dropped awaiter).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use scheduler_deferred::{Deferred, ResultTaken};

/// `n` tokio tasks await clones of one Deferred; it fires once all are waiting.
fn concurrent_awaiters(n: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build();
    rt.unwrap().block_on(async {
        let d = Deferred::<u32>::new();
        let polled = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (d, polled) = (d.clone(), polled.clone());
                tokio::spawn(async move {
                    let mut d = d;
                    std::future::poll_fn(|cx| {
                        let poll = Pin::new(&mut d).poll(cx);
                        if poll.is_pending() {
                            polled.fetch_add(1, Ordering::SeqCst);
                        }
                        poll
                    })
                    .await
                })
            })
            .collect();
        while polled.load(Ordering::SeqCst) < n {
            tokio::task::yield_now().await;
        }
        d.callback(42).unwrap();
        let (mut values, mut taken) = (0, 0);
        for task in tasks {
            // A hang guard, not a timing assertion: before the fix the others never woke.
            let joined = tokio::time::timeout(Duration::from_secs(30), task).await;
            match joined.expect("an awaiter was never woken").unwrap() {
                Ok(v) => {
                    assert_eq!(v, 42);
                    values += 1;
                }
                Err(failure) => {
                    assert!(failure.is::<ResultTaken>());
                    taken += 1;
                }
            }
        }
        assert_eq!((values, taken), (1, n - 1));
    });
}

#[test]
fn two_concurrent_awaiters_are_both_woken() {
    concurrent_awaiters(2);
}

#[test]
fn eight_concurrent_awaiters_are_all_woken() {
    concurrent_awaiters(8);
}

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Arc<CountingWaker>, Waker) {
    let count = Arc::new(CountingWaker::default());
    (count.clone(), Waker::from(count))
}

#[test]
fn a_handle_moved_to_another_task_replaces_its_waker() {
    let d = Deferred::<u8>::new();
    let mut handle = d.clone();
    let (first, first_waker) = counting();
    let (second, second_waker) = counting();
    assert!(Pin::new(&mut handle).poll(&mut Context::from_waker(&first_waker)).is_pending());
    assert!(Pin::new(&mut handle).poll(&mut Context::from_waker(&second_waker)).is_pending());
    d.callback(1).unwrap();
    assert_eq!(first.0.load(Ordering::SeqCst), 0, "the replaced waker is not woken");
    assert_eq!(second.0.load(Ordering::SeqCst), 1);
}

#[test]
fn a_handle_dropped_while_waiting_takes_its_waker_out() {
    let d = Deferred::<u8>::new();
    let (dropped, dropped_waker) = counting();
    let (kept, kept_waker) = counting();
    let mut gone = d.clone();
    assert!(Pin::new(&mut gone).poll(&mut Context::from_waker(&dropped_waker)).is_pending());
    drop(gone); // a `select!` loser
    drop(dropped_waker);
    let mut waiting = d.clone();
    assert!(Pin::new(&mut waiting).poll(&mut Context::from_waker(&kept_waker)).is_pending());
    // The dropped handle's waker was released at once, not kept until the fire.
    assert_eq!(Arc::strong_count(&dropped), 1);
    d.callback(1).unwrap();
    assert_eq!(dropped.0.load(Ordering::SeqCst), 0);
    assert_eq!(kept.0.load(Ordering::SeqCst), 1);
}

#[test]
fn one_task_awaiting_two_clones_is_woken_for_both() {
    let d = Deferred::<u8>::new();
    let (a, b) = (d.clone(), d.clone());
    let (count, waker) = counting();
    let mut joined = std::pin::pin!(async move { (a.await, b.await) });
    let mut cx = Context::from_waker(&waker);
    assert!(joined.as_mut().poll(&mut cx).is_pending());
    d.callback(5).unwrap();
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    match joined.as_mut().poll(&mut cx) {
        std::task::Poll::Ready((first, second)) => {
            assert_eq!(first.unwrap(), 5);
            assert!(second.unwrap_err().is::<ResultTaken>());
        }
        std::task::Poll::Pending => panic!("both clones were ready"),
    }
}
