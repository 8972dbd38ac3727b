//! Claim: a wake-up that finds its task already notified still publishes the waker's earlier
//! writes to the poll that consumes the notification (no lost wake-up). The scenario: a
//! future's first poll stores its waker and wakes itself (the task is queued again, `NOTIFIED`
//! set) and returns `Pending`; another thread stores `1` into a flag with `Relaxed` and wakes
//! the task while its second poll runs, which reads the flag. Either the second poll sees the
//! flag, or the wake lands after that poll claimed the task and queues a third one: the task
//! always completes once the queue is drained.
//!
//! Teeth: with the write-free already-notified branch restored
//! (`loom_api::skip_notified_wake_write`), the second poll may read `0` while the wake merged
//! into the notification it consumed, and the task is never polled again (`should_panic`).
//!
//! Protocol doc: `scheduler_core` `task/state.rs`, `State::transition_to_notified`.
//! Threads: main + 1. Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

use loom_tests::model;

#[cfg(loom)]
mod models {
    use super::model;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::{Arc, Mutex};
    use loom::thread;
    use scheduler_core::loom_api::{skip_notified_wake_write, TestScheduler};
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

    /// First poll: parks its waker in `slot`, wakes itself, `Pending`. Later polls: `Ready`
    /// once `flag` reads 1.
    struct SelfWakeThenFlag {
        slot: Arc<Mutex<Option<Waker>>>,
        flag: Arc<AtomicUsize>,
        polled: bool,
    }

    impl Future for SelfWakeThenFlag {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if !self.polled {
                self.polled = true;
                *self.slot.lock().unwrap() = Some(cx.waker().clone());
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if self.flag.load(Ordering::Relaxed) == 1 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }
    }

    fn noop_waker() -> Waker {
        const VTABLE: RawWakerVTable = RawWakerVTable::new(
            |_| RawWaker::new(std::ptr::null(), &VTABLE),
            |_| {},
            |_| {},
            |_| {},
        );
        // SAFETY: the vtable's functions do nothing and ignore the data pointer.
        unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) }
    }

    fn scenario(skip_write: bool) {
        model(move || {
            skip_notified_wake_write(skip_write);
            let sched = TestScheduler::new();
            let slot = Arc::new(Mutex::new(None));
            let flag = Arc::new(AtomicUsize::new(0));
            let fut = SelfWakeThenFlag { slot: slot.clone(), flag: flag.clone(), polled: false };
            let mut jh = TestScheduler::spawn(&sched, fut);
            assert!(sched.run_one()); // first poll: waker stored, re-queued by its own wake
            let waker = slot.lock().unwrap().take().expect("the first poll stored its waker");
            let waker_thread = thread::spawn(move || {
                flag.store(1, Ordering::Relaxed);
                waker.wake();
            });
            assert!(sched.run_one()); // the second poll, racing the wake
            waker_thread.join().unwrap();
            while sched.run_one() {}
            let w = noop_waker();
            let done = Pin::new(&mut jh).poll(&mut Context::from_waker(&w));
            skip_notified_wake_write(false);
            assert!(
                matches!(done, Poll::Ready(Ok(()))),
                "the wake was lost: the task is idle with the flag set"
            );
        });
    }

    #[test]
    fn wake_of_a_notified_task_publishes_to_the_next_poll() {
        scenario(false);
    }

    #[test]
    #[should_panic(expected = "the wake was lost")]
    fn write_free_notified_branch_loses_the_wake() {
        scenario(true);
    }
}

#[test]
#[cfg(not(loom))]
fn wake_publish_models_run_under_loom() {
    model(|| {});
}
