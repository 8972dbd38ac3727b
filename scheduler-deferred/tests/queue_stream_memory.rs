//! `DeferredQueue::stream` over a million operations holds no memory per operation: the live
//! heap bytes (this test binary's counting allocator) are the same after a million put/receive
//! pairs, a million receives that waited (waker recorded, then woken by the put), and 100,000
//! receivers dropped while waiting (a `select!` branch or a timeout that lost), as before them.

use futures::Stream;
use scheduler_deferred::DeferredQueue;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// The counting allocator of scheduler-timers' memory test (live heap bytes).
#[path = "../../scheduler-timers/tests/support/counting_alloc.rs"]
mod counting_alloc;

/// Counts its wake-ups.
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn poll<S: Stream + Unpin>(s: &mut S, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
    Pin::new(s).poll_next(cx)
}

/// Slack for one-off growth (a `VecDeque` reaching its steady capacity), far below a byte
/// per operation.
const SLACK: usize = 4096;

#[test]
fn a_million_operations_leave_the_heap_where_it_was() {
    let q = DeferredQueue::new();
    let mut rx = q.stream();
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    let mut round = |q: &DeferredQueue<u64>, rx: &mut _, i: u64, wait: bool| {
        if wait {
            assert!(poll(rx, &mut cx).is_pending(), "nothing pending: the receiver waits");
        }
        q.put(i).expect("unbounded");
        assert_eq!(poll(rx, &mut cx), Poll::Ready(Some(i)));
    };
    for i in 0..1_000 {
        round(&q, &mut rx, i, i % 2 == 0); // warm-up: the queue's buffers reach their size
    }
    let before = counting_alloc::live_bytes();
    for i in 0..1_000_000 {
        round(&q, &mut rx, i, false);
    }
    let after_ready = counting_alloc::live_bytes();
    let woken_before = counter.0.load(Ordering::Relaxed);
    for i in 0..1_000_000 {
        round(&q, &mut rx, i, true);
    }
    let after_waiting = counting_alloc::live_bytes();
    assert_eq!(counter.0.load(Ordering::Relaxed) - woken_before, 1_000_000, "one wake per put");
    for _ in 0..100_000 {
        let mut lost = q.stream();
        assert!(poll(&mut lost, &mut cx).is_pending());
        drop(lost); // withdrawn while waiting
    }
    let after_dropped = counting_alloc::live_bytes();
    assert_eq!(q.pending(), 0);
    for (what, bytes) in
        [("ready", after_ready), ("waiting", after_waiting), ("dropped", after_dropped)]
    {
        assert!(
            bytes <= before + SLACK,
            "{what}: {} bytes more than before a million operations",
            bytes - before
        );
    }
}
