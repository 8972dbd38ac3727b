//! Claim: the task state machine of `scheduler-core/src/task/state.rs` resolves every race
//! between completion, `abort()`, `JoinHandle` drop and wake-ups: the future is dropped exactly
//! once, the output is dropped exactly once, the joiner is woken when it registered before
//! completion, and the cell is freed (loom reports a leaked `loom::sync::Arc` otherwise).
//!
//! Protocol doc: `scheduler_core` `task/state.rs` module header.
//! Threads: main + 1 (two racers, main being one). Bound: LOOM_MAX_PREEMPTIONS=2,
//! LOOM_MAX_BRANCHES=10000.

use loom_tests::model;

#[cfg(loom)]
mod models {
    use super::model;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::{Arc, Mutex};
    use loom::thread;
    use scheduler_core::loom_api::TestScheduler;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

    /// Counts drops of the value it guards.
    struct DropCount(Arc<AtomicUsize>);
    impl Drop for DropCount {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
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

    fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
        let w = noop_waker();
        Pin::new(f).poll(&mut Context::from_waker(&w))
    }

    #[test]
    fn complete_races_abort() {
        model(|| {
            let sched = TestScheduler::new();
            let fut_drops = Arc::new(AtomicUsize::new(0));
            let guard = DropCount(fut_drops.clone());
            let mut jh = TestScheduler::spawn(&sched, async move {
                let _g = guard;
                5
            });
            let s2 = sched.clone();
            let runner = thread::spawn(move || {
                s2.run_one();
            });
            jh.abort();
            runner.join().unwrap();
            match poll_once(&mut jh) {
                Poll::Ready(Ok(v)) => assert_eq!(v, 5),
                Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
                Poll::Pending => panic!("both racers finished: the task is complete"),
            }
            assert_eq!(fut_drops.load(Ordering::SeqCst), 1);
        });
    }

    #[test]
    fn complete_races_join_handle_drop() {
        model(|| {
            let sched = TestScheduler::new();
            let out_drops = Arc::new(AtomicUsize::new(0));
            let od = out_drops.clone();
            let jh = TestScheduler::spawn(&sched, async move { DropCount(od) });
            let s2 = sched.clone();
            let runner = thread::spawn(move || {
                s2.run_one();
            });
            drop(jh);
            runner.join().unwrap();
            assert_eq!(out_drops.load(Ordering::SeqCst), 1, "output dropped exactly once");
        });
    }

    /// A future that parks its waker in `slot` on the first poll and completes on the second.
    struct WaitOnce {
        slot: Arc<Mutex<Option<Waker>>>,
        polled: bool,
    }
    impl Future for WaitOnce {
        type Output = u8;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u8> {
            if self.polled {
                return Poll::Ready(1);
            }
            self.polled = true;
            *self.slot.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    #[test]
    fn wake_races_abort_of_an_idle_task() {
        model(|| {
            let sched = TestScheduler::new();
            let slot = Arc::new(Mutex::new(None));
            let mut jh =
                TestScheduler::spawn(&sched, WaitOnce { slot: slot.clone(), polled: false });
            assert!(sched.run_one()); // first poll: idle, waker stored
            let waker = slot.lock().unwrap().take().unwrap();
            let waker_thread = thread::spawn(move || waker.wake());
            jh.abort();
            waker_thread.join().unwrap();
            // A wake may have queued it; running (or cancelling) the queue settles it.
            while sched.run_one() {}
            match poll_once(&mut jh) {
                Poll::Ready(Ok(v)) => assert_eq!(v, 1),
                Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
                Poll::Pending => panic!("aborted and drained: must be complete"),
            }
        });
    }

    #[test]
    fn join_waker_registered_before_completion_is_woken() {
        model(|| {
            let sched = TestScheduler::new();
            let mut jh = TestScheduler::spawn(&sched, async { 3u8 });
            let s2 = sched.clone();
            let runner = thread::spawn(move || {
                s2.run_one();
            });
            let woken = Arc::new(AtomicUsize::new(0));
            let waker = counting_waker(woken.clone());
            let first = Pin::new(&mut jh).poll(&mut Context::from_waker(&waker));
            runner.join().unwrap();
            match first {
                Poll::Ready(r) => assert_eq!(r.unwrap(), 3),
                Poll::Pending => {
                    assert_eq!(woken.load(Ordering::SeqCst), 1, "joiner woken");
                    assert_eq!(poll_once(&mut jh).map(Result::unwrap), Poll::Ready(3));
                }
            }
        });
    }

    #[test]
    fn shutdown_drain_cancels_a_queued_task_racing_abort() {
        model(|| {
            let sched = TestScheduler::new();
            let drops = Arc::new(AtomicUsize::new(0));
            let g = DropCount(drops.clone());
            let mut jh = TestScheduler::spawn(&sched, async move {
                let _g = g;
            });
            let s2 = sched.clone();
            let drainer = thread::spawn(move || s2.drain_cancel());
            jh.abort();
            drainer.join().unwrap();
            assert!(matches!(poll_once(&mut jh), Poll::Ready(Err(e)) if e.is_cancelled()));
            assert_eq!(drops.load(Ordering::SeqCst), 1);
        });
    }

    /// A detached task (no `JoinHandle`) hands a clone of its waker to another thread on its
    /// first poll; that thread wakes it and drops the waker while the second poll completes
    /// it (`complete_unjoined`: one RMW sets COMPLETE and drops two refs). The future and the
    /// output are dropped once each and the cell is freed once, by whichever side drops the
    /// last ref.
    #[test]
    fn detached_completion_races_a_foreign_waker_drop() {
        model(|| {
            let sched = TestScheduler::new();
            let (fut_drops, out_drops) =
                (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            let slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
            TestScheduler::spawn_detached(
                &sched,
                HandOff {
                    slot: slot.clone(),
                    polled: false,
                    _guard: Some(DropCount(fut_drops.clone())),
                    out: Some(DropCount(out_drops.clone())),
                },
            );
            assert!(sched.run_one(), "the first poll hands the waker off");
            let waker = slot.lock().unwrap().take().expect("registered");
            let waker_thread = thread::spawn(move || waker.wake());
            while fut_drops.load(Ordering::SeqCst) == 0 {
                if !sched.run_one() {
                    thread::yield_now();
                }
            }
            waker_thread.join().unwrap();
            while sched.run_one() {}
            assert_eq!(fut_drops.load(Ordering::SeqCst), 1);
            assert_eq!(out_drops.load(Ordering::SeqCst), 1);
        });
    }

    /// Pending on its first poll (its waker goes to `slot`), ready with `out` on the next.
    struct HandOff {
        slot: Arc<Mutex<Option<Waker>>>,
        polled: bool,
        _guard: Option<DropCount>,
        out: Option<DropCount>,
    }
    impl Unpin for HandOff {}
    impl Future for HandOff {
        type Output = DropCount;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DropCount> {
            if self.polled {
                return Poll::Ready(self.out.take().expect("polled to completion once"));
            }
            self.polled = true;
            *self.slot.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    fn counting_waker(count: Arc<AtomicUsize>) -> Waker {
        use std::task::Wake;
        struct Counter(Arc<AtomicUsize>);
        impl Wake for Counter {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        Waker::from(std::sync::Arc::new(Counter(count)))
    }
}

#[test]
#[cfg(not(loom))]
fn task_models_run_under_loom() {
    model(|| {});
}
