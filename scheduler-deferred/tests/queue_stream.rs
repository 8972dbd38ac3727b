//! `DeferredQueue::stream`: values in order, none lost or duplicated across receivers, a
//! dropped waiting receiver (a `select!` branch, a timeout) loses nothing, getters come first,
//! values given back by a withdrawn getter reach a waiting receiver, and exact totals across
//! threads.

use futures::StreamExt;
use scheduler_deferred::DeferredQueue;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn values_arrive_in_order_and_the_stream_waits_for_later_puts() {
    let q = DeferredQueue::new();
    let mut rx = q.stream();
    q.put(1).unwrap();
    let producer = {
        let q = q.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            for i in 2..=1000 {
                q.put(i).unwrap();
            }
        })
    };
    let got: Vec<i32> = futures::executor::block_on(async {
        let mut v = Vec::new();
        for _ in 0..1000 {
            v.push(rx.next().await.unwrap());
        }
        v
    });
    producer.join().unwrap();
    assert_eq!(got, (1..=1000).collect::<Vec<_>>());
    assert_eq!(q.pending(), 0);
}

#[test]
fn a_waiting_get_deferred_is_served_before_a_receiver() {
    let q = DeferredQueue::new();
    let mut rx = q.stream();
    let getter = q.get().unwrap();
    q.put("first").unwrap();
    q.put("second").unwrap();
    assert_eq!(getter.take_result().unwrap().unwrap(), "first");
    assert_eq!(futures::executor::block_on(rx.recv()), "second");
}

#[tokio::test]
async fn a_receiver_dropped_by_a_timeout_loses_nothing() {
    let q = DeferredQueue::<u32>::new();
    let mut rx = q.stream();
    let r = tokio::time::timeout(Duration::from_millis(10), rx.recv()).await;
    assert!(r.is_err(), "nothing was put");
    drop(rx);
    q.put(7).unwrap();
    assert_eq!(q.pending(), 1, "the value waits for the next consumer");
    let mut rx2 = q.stream();
    assert_eq!(rx2.recv().await, 7);
}

#[tokio::test]
async fn a_value_given_back_by_a_dropped_getter_wakes_a_waiting_receiver() {
    let q = DeferredQueue::<u32>::new();
    let getter = q.get().unwrap(); // waits
    let mut rx = q.stream();
    let receiver = {
        let q2 = q.clone();
        tokio::spawn(async move {
            let v = rx.recv().await;
            drop(q2);
            v
        })
    };
    tokio::time::sleep(Duration::from_millis(10)).await; // the receiver registers
    q.put(5).unwrap(); // handed to the getter, not yet taken
    drop(getter); // gives it back: the receiver must get it
    let v = tokio::time::timeout(Duration::from_secs(5), receiver).await.expect("woken");
    assert_eq!(v.unwrap(), 5);
}

#[test]
fn a_woken_receiver_dropped_unpolled_passes_the_wake_up_on() {
    let q = DeferredQueue::<u32>::new();
    let mut a = q.stream();
    let mut b = q.stream();
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    use futures::Stream;
    assert!(std::pin::Pin::new(&mut a).poll_next(&mut cx).is_pending());
    let (tx, rx) = std::sync::mpsc::channel();
    let flag = Arc::new(AtomicU64::new(0));
    let f = flag.clone();
    let b_waker = futures::task::waker(Arc::new(Flag(f, tx)));
    let mut cx_b = std::task::Context::from_waker(&b_waker);
    assert!(std::pin::Pin::new(&mut b).poll_next(&mut cx_b).is_pending());
    q.put(9).unwrap(); // wakes `a`, the oldest
    assert_eq!(flag.load(Ordering::SeqCst), 0);
    drop(a); // woken, never polled: `b` must be woken instead
    rx.recv_timeout(Duration::from_secs(5)).expect("b woken");
    assert!(matches!(
        std::pin::Pin::new(&mut b).poll_next(&mut cx_b),
        std::task::Poll::Ready(Some(9))
    ));
}

struct Flag(Arc<AtomicU64>, std::sync::mpsc::Sender<()>);

impl futures::task::ArcWake for Flag {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.fetch_add(1, Ordering::SeqCst);
        let _ = arc_self.1.send(());
    }
}

#[test]
fn four_receivers_on_four_threads_take_every_value_exactly_once() {
    const N: u64 = 100_000;
    let q = DeferredQueue::<u64>::new();
    let sum = Arc::new(AtomicU64::new(0));
    let count = Arc::new(AtomicU64::new(0));
    let receivers: Vec<_> = (0..4)
        .map(|_| {
            let (mut rx, sum, count) = (q.stream(), sum.clone(), count.clone());
            std::thread::spawn(move || {
                futures::executor::block_on(async {
                    while count.load(Ordering::SeqCst) < N {
                        let v = rx.recv().await;
                        if v == u64::MAX {
                            break; // a stop marker
                        }
                        sum.fetch_add(v, Ordering::SeqCst);
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
        })
        .collect();
    for i in 1..=N {
        q.put(i).unwrap();
    }
    while count.load(Ordering::SeqCst) < N {
        std::thread::yield_now();
    }
    for _ in 0..4 {
        q.put(u64::MAX).unwrap();
    }
    for r in receivers {
        r.join().unwrap();
    }
    assert_eq!(count.load(Ordering::SeqCst), N);
    assert_eq!(sum.load(Ordering::SeqCst), N * (N + 1) / 2);
}
