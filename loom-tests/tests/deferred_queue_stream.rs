//! Claim: a `DeferredQueue` stream receiver that polls while another thread `put`s never
//! misses the value: either its poll takes the value, or its poll registers its waker first
//! and the put wakes it, so a second poll takes it. A receiver dropped after it was woken
//! passes the wake-up to the next waiting receiver. Under loom both orders of the first case
//! must occur.
//!
//! Protocol: `scheduler-deferred/src/queue_stream.rs` (module doc) on `queue.rs`'s lock.
//! Threads: main (polls) + 1 spawned (puts).
//! Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

// The wake flags and the outcome tally are outside the model: std atomics under loom too.
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

#[cfg(loom)]
use loom::thread;
#[cfg(not(loom))]
use std::thread;

use futures_core::Stream;
use scheduler_deferred::DeferredQueue;

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn flag_waker() -> (Arc<Flag>, Waker) {
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    (flag.clone(), Waker::from(flag))
}

#[test]
fn stream_poll_racing_put_never_misses_the_value() {
    static AT_ONCE: AtomicUsize = AtomicUsize::new(0);
    static WOKEN: AtomicUsize = AtomicUsize::new(0);
    loom_tests::model(|| {
        let q = DeferredQueue::<u32>::new();
        let mut rx = q.stream();
        let putter = {
            let q = q.clone();
            thread::spawn(move || q.put(7).unwrap())
        };
        let (flag, waker) = flag_waker();
        let mut cx = Context::from_waker(&waker);
        let first = Pin::new(&mut rx).poll_next(&mut cx);
        putter.join().unwrap();
        match first {
            Poll::Ready(v) => {
                assert_eq!(v, Some(7));
                AT_ONCE.fetch_add(1, Ordering::Relaxed);
            }
            Poll::Pending => {
                assert!(flag.0.load(Ordering::SeqCst), "the put must wake the receiver");
                assert_eq!(Pin::new(&mut rx).poll_next(&mut cx), Poll::Ready(Some(7)));
                WOKEN.fetch_add(1, Ordering::Relaxed);
            }
        }
        assert_eq!(q.pending(), 0);
    });
    #[cfg(loom)]
    assert!(AT_ONCE.load(Ordering::Relaxed) > 0 && WOKEN.load(Ordering::Relaxed) > 0);
}

#[test]
fn a_woken_receiver_dropped_unpolled_wakes_the_next() {
    loom_tests::model(|| {
        let q = DeferredQueue::<u32>::new();
        let (mut a, mut b) = (q.stream(), q.stream());
        let (_fa, wa) = flag_waker();
        let (fb, wb) = flag_waker();
        assert!(Pin::new(&mut a).poll_next(&mut Context::from_waker(&wa)).is_pending());
        assert!(Pin::new(&mut b).poll_next(&mut Context::from_waker(&wb)).is_pending());
        let putter = {
            let q = q.clone();
            thread::spawn(move || q.put(9).unwrap())
        };
        drop(a);
        putter.join().unwrap();
        // Whether `a` was dropped before or after the put woke it, `b` is woken.
        assert!(fb.0.load(Ordering::SeqCst));
        assert_eq!(Pin::new(&mut b).poll_next(&mut Context::from_waker(&wb)), Poll::Ready(Some(9)));
    });
}
