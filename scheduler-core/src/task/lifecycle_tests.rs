//! Every order of the events in a task's life, run sequentially on one thread against a
//! stand-in scheduler (the idea of tokio's `runtime/tests/task_combinations.rs`).
//!
//! A case is a future behaviour (ready or panicking on the first or the second poll, or
//! pending for ever), an output whose `Drop` panics or not, and an order of the six events
//! *run the queue*, *abort*, *drop the `JoinHandle`*, *poll the `JoinHandle`* (registering a
//! waker), *wake the task*, *drop the task's waker*, and the same with the handle kept to the end
//! (its drop event skipped): 5 x 2 x 2 x 720 = 14,400 cases. After the
//! events each case settles (runs the queue, reads and drops what is left, shuts the stand-in
//! scheduler down as the runtime does) and checks: the future was dropped exactly once, the
//! output exactly once if one was produced (never otherwise), the cell was freed, a joiner
//! that registered before the completion was woken, and the outcome read matches the
//! behaviour.

use super::raw::{self, live_cells, Header, Scheduler, SchedulerVtable};
use super::{JoinError, JoinHandle, Notified, RunOutcome};
use crate::priority::Priority;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::task::{Context, Poll, Wake, Waker};

/// The payload of every panic a case raises on purpose (the panic hook keeps them quiet).
const PLANNED: &str = "planned lifecycle-test panic";

// ---- a sequential scheduler with an owned-task list ------------------------------------------

/// Woken tasks queue here; every task not yet complete is listed, as in the runtime's
/// owned-task list, so `shutdown` can cancel the idle ones.
#[derive(Default)]
struct SeqScheduler {
    queue: Mutex<VecDeque<Notified>>,
    owned: Mutex<Vec<NonNull<Header>>>,
}

static SEQ_VTABLE: SchedulerVtable = SchedulerVtable {
    schedule: seq_schedule,
    bind: seq_bind,
    release: seq_release,
    on_panic: seq_on_panic,
};

/// # Safety
/// `data` is the live `SeqScheduler` of the case (it outlives every task of the case).
unsafe fn seq(data: *const ()) -> &'static SeqScheduler {
    // SAFETY: see above.
    unsafe { &*(data as *const SeqScheduler) }
}

unsafe fn seq_schedule(data: *const (), task: Notified) {
    // SAFETY: forwarded from the task.
    unsafe { seq(data) }.queue.lock().unwrap().push_back(task);
}

unsafe fn seq_bind(_: *const (), _: NonNull<Header>) -> bool {
    true // listed at spawn already
}

unsafe fn seq_release(data: *const (), task: NonNull<Header>) -> Option<crate::runtime::KeepAlive> {
    // SAFETY: forwarded from the task.
    let owned = &mut *unsafe { seq(data) }.owned.lock().unwrap();
    owned.retain(|t| *t != task);
    None
}

unsafe fn seq_on_panic(_: *const ()) {}

impl SeqScheduler {
    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let sched = Scheduler { vtable: &SEQ_VTABLE, data: self as *const Self as *const () };
        let ptr = raw::allocate(future, sched, Priority::Normal);
        self.owned.lock().unwrap().push(ptr);
        self.queue.lock().unwrap().push_back(Notified(ptr));
        // SAFETY: `allocate` hands over the JoinHandle ref.
        unsafe { JoinHandle::from_raw(ptr) }
    }

    fn run_queue(&self) {
        loop {
            let next = self.queue.lock().unwrap().pop_front();
            let Some(task) = next else { return };
            if let RunOutcome::Yielded(task) = task.run() {
                self.queue.lock().unwrap().push_back(task);
            }
        }
    }

    /// What the runtime's shutdown does: cancel every listed task, then the queue.
    fn shutdown(&self) {
        let listed: Vec<NonNull<Header>> = {
            let owned = self.owned.lock().unwrap();
            // SAFETY: a listed task is alive (its completion unlists it first); the ref keeps it.
            owned.iter().for_each(|t| unsafe { t.as_ref() }.state.ref_inc());
            owned.clone()
        };
        for task in listed {
            // SAFETY: we hold the ref taken above.
            unsafe {
                raw::cancel_task(task);
                Header::drop_refs(task, 1);
            }
        }
        let queued: Vec<Notified> = self.queue.lock().unwrap().drain(..).collect();
        queued.into_iter().for_each(Notified::cancel);
    }
}

// ---- the future, its output, the wakers ------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    ReadyFirst,
    PanicFirst,
    ReadySecond,
    PanicSecond,
    PendingForever,
}

/// Counts drops; panics in `Drop` when asked.
struct Counted {
    drops: Arc<AtomicUsize>,
    panic_on_drop: bool,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if self.panic_on_drop && !std::thread::panicking() {
            std::panic::panic_any(PLANNED);
        }
    }
}

struct CaseFuture {
    behaviour: Behaviour,
    polls: usize,
    waker_slot: Arc<Mutex<Option<Waker>>>,
    out_drops: Arc<AtomicUsize>,
    out_panics: bool,
    _dropped: Counted,
}

impl Future for CaseFuture {
    type Output = Counted;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Counted> {
        self.polls += 1;
        let first = self.polls == 1;
        let out =
            |this: &Self| Counted { drops: this.out_drops.clone(), panic_on_drop: this.out_panics };
        match (self.behaviour, first) {
            (Behaviour::ReadyFirst, _) | (Behaviour::ReadySecond, false) => Poll::Ready(out(&self)),
            (Behaviour::PanicFirst, _) | (Behaviour::PanicSecond, false) => {
                std::panic::panic_any(PLANNED)
            }
            _ => {
                *self.waker_slot.lock().unwrap() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

struct CountWake(AtomicUsize);

impl Wake for CountWake {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

// ---- one case --------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    RunQueue,
    Abort,
    DropJoinHandle,
    PollJoinHandle,
    Wake,
    DropWaker,
}

const EVENTS: [Event; 6] = [
    Event::RunQueue,
    Event::Abort,
    Event::DropJoinHandle,
    Event::PollJoinHandle,
    Event::Wake,
    Event::DropWaker,
];

struct Case {
    sched: Box<SeqScheduler>,
    jh: Option<JoinHandle<Counted>>,
    waker_slot: Arc<Mutex<Option<Waker>>>,
    joiner: Arc<CountWake>,
    /// The joiner's waker was registered while the task was not complete.
    joiner_registered: bool,
    outcome: Option<Result<Counted, JoinError>>,
    aborted: bool,
    /// The `DropJoinHandle` event is skipped: the handle lives until the case settles.
    keep_handle: bool,
}

impl Case {
    fn apply(&mut self, event: Event) {
        match event {
            Event::RunQueue => self.sched.run_queue(),
            Event::Abort => {
                if let Some(jh) = &self.jh {
                    jh.abort();
                    self.aborted = true;
                }
            }
            Event::DropJoinHandle if self.keep_handle => {}
            Event::DropJoinHandle => drop(self.jh.take()),
            Event::PollJoinHandle => self.poll_join_handle(),
            Event::Wake => {
                let waker = self.waker_slot.lock().unwrap().clone();
                if let Some(w) = waker {
                    w.wake();
                }
            }
            Event::DropWaker => drop(self.waker_slot.lock().unwrap().take()),
        }
    }

    /// A joiner that registered while the task was running and still holds its handle is woken
    /// by the completion.
    fn check_joiner(&self, ctx: &str) {
        let finished = self.jh.as_ref().is_some_and(JoinHandle::is_finished);
        if self.joiner_registered && finished {
            assert!(
                self.joiner.0.load(Ordering::SeqCst) >= 1,
                "{ctx}: the registered joiner slept"
            );
        }
    }

    fn poll_join_handle(&mut self) {
        let Some(jh) = self.jh.as_mut() else { return };
        let waker = Waker::from(self.joiner.clone());
        match Pin::new(jh).poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(out) => {
                self.outcome = Some(out);
                self.jh = None;
            }
            Poll::Pending => self.joiner_registered = true,
        }
    }
}

fn run_case(behaviour: Behaviour, out_panics: bool, keep_handle: bool, order: &[Event]) {
    let live_before = live_cells::get();
    let fut_drops = Arc::new(AtomicUsize::new(0));
    let out_drops = Arc::new(AtomicUsize::new(0));
    let waker_slot = Arc::new(Mutex::new(None));
    let sched = Box::new(SeqScheduler::default());
    let jh = sched.spawn(CaseFuture {
        behaviour,
        polls: 0,
        waker_slot: waker_slot.clone(),
        out_drops: out_drops.clone(),
        out_panics,
        _dropped: Counted { drops: fut_drops.clone(), panic_on_drop: false },
    });
    let mut case = Case {
        sched,
        jh: Some(jh),
        waker_slot,
        joiner: Arc::new(CountWake(AtomicUsize::new(0))),
        joiner_registered: false,
        outcome: None,
        aborted: false,
        keep_handle,
    };
    let ctx = format!("{behaviour:?} out_panics={out_panics} keep_handle={keep_handle} {order:?}");
    for &event in order {
        case.apply(event);
        case.check_joiner(&ctx);
    }
    settle_and_check(case, behaviour, &ctx, &fut_drops, &out_drops, live_before);
}

fn settle_and_check(
    mut case: Case,
    behaviour: Behaviour,
    ctx: &str,
    fut_drops: &AtomicUsize,
    out_drops: &AtomicUsize,
    live_before: isize,
) {
    case.sched.run_queue();
    case.check_joiner(ctx);
    case.sched.shutdown();
    case.check_joiner(ctx);
    case.poll_join_handle();
    drop(case.jh.take());
    drop(case.waker_slot.lock().unwrap().take());
    let produced_output = match &case.outcome {
        Some(Ok(_)) => {
            assert!(matches!(behaviour, Behaviour::ReadyFirst | Behaviour::ReadySecond), "{ctx}");
            true
        }
        Some(Err(e)) if e.is_panic() => {
            let panicking = matches!(behaviour, Behaviour::PanicFirst | Behaviour::PanicSecond);
            assert!(panicking, "{ctx}: a panic from a future that does not panic");
            false
        }
        Some(Err(e)) => {
            assert!(e.is_cancelled(), "{ctx}");
            assert!(case.aborted || behaviour == Behaviour::PendingForever, "{ctx}: cancelled");
            false
        }
        None => out_drops.load(Ordering::SeqCst) > 0, // dropped unread, by the task or the handle
    };
    // Dropping an output read through the handle is the user's drop (its panic is theirs).
    let _ = catch_unwind(AssertUnwindSafe(|| drop(case.outcome.take())));
    drop(case.sched);
    assert_eq!(fut_drops.load(Ordering::SeqCst), 1, "{ctx}: future drops");
    let expected_out = usize::from(produced_output);
    assert_eq!(out_drops.load(Ordering::SeqCst), expected_out, "{ctx}: output drops");
    assert_eq!(live_cells::get(), live_before, "{ctx}: the task cell was not freed");
}

/// All orders of `items` (Heap's algorithm, iterative: no recursion per item).
fn permutations(items: &[Event]) -> Vec<Vec<Event>> {
    let mut a = items.to_vec();
    let mut c = vec![0usize; a.len()];
    let mut out = vec![a.clone()];
    let mut i = 0;
    while i < a.len() {
        if c[i] < i {
            let j = if i % 2 == 0 { 0 } else { c[i] };
            a.swap(j, i);
            out.push(a.clone());
            c[i] += 1;
            i = 0;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
    out
}

fn quiet_planned_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&PLANNED) {
                previous(info);
            }
        }));
    });
}

#[test]
fn every_order_of_a_tasks_events_drops_everything_once() {
    quiet_planned_panics();
    let orders = permutations(&EVENTS);
    assert_eq!(orders.len(), 720);
    let behaviours = [
        Behaviour::ReadyFirst,
        Behaviour::PanicFirst,
        Behaviour::ReadySecond,
        Behaviour::PanicSecond,
        Behaviour::PendingForever,
    ];
    let mut cases = 0;
    for behaviour in behaviours {
        for out_panics in [false, true] {
            for keep_handle in [false, true] {
                for order in &orders {
                    run_case(behaviour, out_panics, keep_handle, order);
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 14_400);
}
