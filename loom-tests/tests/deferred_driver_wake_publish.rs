//! Claim: a wake of a `Deferred::from_future` driver that finds a poll already scheduled (or a
//! repoll already asked for) still publishes the waker's earlier writes to the poll that
//! consumes the merged wake-up. The scenario: the future's first poll parks its waker and
//! returns `Pending`; one wake schedules a poll (handed to a runtime's spawner, queued here);
//! another thread then stores `1` into a flag with `Relaxed` and wakes again while the queued
//! poll runs and reads the flag. Either that poll sees the flag, or the second wake lands
//! after it claimed the future and asks for a repoll: the Deferred always fires.
//!
//! Teeth: with the write-free merged wake restored (`loom_api::skip_merged_wake_write`), the
//! poll may read `0` while the second wake merged into the scheduled one, and the future is
//! never polled again (`should_panic`).
//!
//! Protocol doc: `scheduler-deferred/src/driver.rs`, `Driver::wake_up`.
//! Threads: main + 1. Bound: LOOM_MAX_PREEMPTIONS=2, LOOM_MAX_BRANCHES=10000.

#[cfg(loom)]
use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(loom)]
use loom::sync::Mutex;
#[cfg(loom)]
use loom::thread;
#[cfg(not(loom))]
use std::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(loom))]
use std::sync::Mutex;
#[cfg(not(loom))]
use std::thread;

use scheduler_deferred::{set_thread_spawner, Deferred, Failure, PollTask, Spawn};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// A runtime stand-in: polls handed to it wait in a queue the model runs by hand.
struct QueueSpawner(Mutex<VecDeque<PollTask>>);

impl Spawn for QueueSpawner {
    fn spawn(&self, task: PollTask) {
        self.0.lock().unwrap().push_back(task);
    }
}

impl QueueSpawner {
    fn run_one(&self) -> bool {
        let task = self.0.lock().unwrap().pop_front();
        task.map(PollTask::run).is_some()
    }
}

/// First poll: parks its waker, `Pending`. Later polls: ready once `flag` reads 1.
struct ParkThenFlag {
    slot: Arc<Mutex<Option<Waker>>>,
    flag: Arc<AtomicUsize>,
    polled: bool,
}

impl Future for ParkThenFlag {
    type Output = Result<(), Failure>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if !self.polled {
            self.polled = true;
            *self.slot.lock().unwrap() = Some(cx.waker().clone());
            return Poll::Pending;
        }
        if self.flag.load(Ordering::Relaxed) == 1 {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }
}

fn scenario() {
    let spawner = Arc::new(QueueSpawner(Mutex::new(VecDeque::new())));
    let previous = set_thread_spawner(Some(spawner.clone()));
    let slot = Arc::new(Mutex::new(None));
    let flag = Arc::new(AtomicUsize::new(0));
    let fut = ParkThenFlag { slot: slot.clone(), flag: flag.clone(), polled: false };
    let d = Deferred::from_future(fut); // first poll inline: parked
    set_thread_spawner(previous);
    let waker = slot.lock().unwrap().take().expect("the first poll parked its waker");
    waker.wake_by_ref(); // schedules a poll: queued on the spawner
    let waking = thread::spawn(move || {
        flag.store(1, Ordering::Relaxed);
        waker.wake();
    });
    spawner.run_one(); // the scheduled poll, racing the second wake
    waking.join().unwrap();
    while spawner.run_one() {}
    assert!(
        matches!(d.take_result(), Some(Ok(()))),
        "the wake was lost: the future is parked with the flag set"
    );
}

#[test]
fn a_merged_wake_publishes_to_the_poll_that_consumes_it() {
    loom_tests::model(scenario);
}

#[cfg(loom)]
#[test]
#[should_panic(expected = "the wake was lost")]
fn a_write_free_merged_wake_is_lost() {
    loom::model(|| {
        scheduler_deferred::loom_api::skip_merged_wake_write(true);
        scenario();
    });
}
