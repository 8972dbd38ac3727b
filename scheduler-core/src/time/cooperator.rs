//! [`Cooperator`], [`CooperativeTask`] and [`coiterate`]: Twisted's `task.Cooperator`.
//!
//! # How a tick runs
//!
//! The cooperator keeps a run queue of tasks. A tick (a call scheduled on the clock) takes the
//! task at the front, runs one unit (one `next()` of its iterator) with no lock held, and puts
//! it at the back if it is still runnable: round robin that spans ticks. After each unit it
//! asks its [`SliceBudget`] whether the slice is used up (so every tick does at least one
//! unit); if tasks remain, it schedules the next tick a few nanoseconds later, which lets
//! other work run in between.
//!
//! A paused or finished task is dropped from the queue lazily, when the tick reaches it.
//! `queued` says whether the task is in the queue (or running a unit), so `resume` never
//! enqueues it twice.

use super::call::DelayedCall;
use super::error::{SchedulerStopped, TaskFinished, TaskStopped};
use super::reactor::ReactorTime;
use crate::sync::{Arc, Mutex};
use scheduler_deferred::{Deferred, Failure};
use std::collections::VecDeque;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// What one unit of a cooperative iterator produced.
#[derive(Debug)]
pub enum Step {
    /// Keep going (any plain item).
    Continue,
    /// Pause the task until this Deferred fires; its failure fails the task.
    Wait(Deferred<()>),
    /// The iterator failed: the task completes with this failure.
    Fail(Failure),
}

impl From<()> for Step {
    fn from((): ()) -> Step {
        Step::Continue
    }
}

impl From<Deferred<()>> for Step {
    fn from(d: Deferred<()>) -> Step {
        Step::Wait(d)
    }
}

impl<S: Into<Step>> From<Result<S, Failure>> for Step {
    fn from(r: Result<S, Failure>) -> Step {
        match r {
            Ok(s) => s.into(),
            Err(f) => Step::Fail(f),
        }
    }
}

impl<S: Into<Step>> From<Option<S>> for Step {
    fn from(o: Option<S>) -> Step {
        o.map_or(Step::Continue, Into::into)
    }
}

/// How much work one tick of a [`Cooperator`] may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceBudget {
    /// Wall-clock time per tick (Twisted's `_Timer`, 10 ms by default).
    Time(Duration),
    /// Units per tick (deterministic: what tests on a manual clock want).
    Units(u32),
}

/// The delay between ticks (Twisted's `_EPSILON`, 1e-8 s).
const TICK_DELAY: Duration = Duration::from_nanos(10);

type StepIter = Box<dyn Iterator<Item = Step> + Send + 'static>;

#[derive(Default)]
struct CoopState {
    queue: VecDeque<CooperativeTask>,
    tick: Option<DelayedCall>,
    stopped: bool,
}

struct CoopInner {
    clock: Box<dyn ReactorTime>,
    budget: SliceBudget,
    state: Mutex<CoopState>,
}

/// Runs many iterators in time slices, round robin (Twisted's `task.Cooperator`).
///
/// # Examples
/// ```
/// use scheduler_core::time::{Cooperator, ManualReactor, SliceBudget};
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
///
/// let clock = ManualReactor::new();
/// let coop = Cooperator::with_budget(clock.clone(), SliceBudget::Units(3));
/// let log = Arc::new(Mutex::new(Vec::new()));
/// let (a, b) = (log.clone(), log.clone());
/// let da = coop.coiterate((0..2).map(move |i| a.lock().unwrap().push(("a", i))));
/// let db = coop.coiterate((0..2).map(move |i| b.lock().unwrap().push(("b", i))));
/// clock.advance(Duration::from_secs(1)); // one tick: three units
/// assert_eq!(*log.lock().unwrap(), [("a", 0), ("b", 0), ("a", 1)]);
/// clock.advance(Duration::from_secs(1));
/// assert!(da.take_result().unwrap().is_ok() && db.take_result().unwrap().is_ok());
/// ```
#[derive(Clone)]
pub struct Cooperator {
    inner: Arc<CoopInner>,
}

impl fmt::Debug for Cooperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.lock();
        f.debug_struct("Cooperator")
            .field("budget", &self.inner.budget)
            .field("queued", &st.queue.len())
            .field("stopped", &st.stopped)
            .finish()
    }
}

impl Cooperator {
    /// A cooperator on `clock` with Twisted's 10 ms wall-clock slice.
    pub fn new<C: ReactorTime + 'static>(clock: C) -> Cooperator {
        Self::with_budget(clock, SliceBudget::Time(Duration::from_millis(10)))
    }

    /// A cooperator with the given slice budget.
    pub fn with_budget<C: ReactorTime + 'static>(clock: C, budget: SliceBudget) -> Cooperator {
        Cooperator {
            inner: Arc::new(CoopInner {
                clock: Box::new(clock),
                budget,
                state: Mutex::new(CoopState::default()),
            }),
        }
    }

    /// Adds an iterator as a task (Twisted's `cooperate`). Items convert to [`Step`]: `()`
    /// continues, a `Deferred<()>` pauses the task until it fires, `Err(failure)` fails it.
    /// On a stopped cooperator the task completes at once with [`SchedulerStopped`].
    pub fn cooperate<I>(&self, iter: I) -> CooperativeTask
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Into<Step> + 'static,
    {
        let task = CooperativeTask::new(self.clone(), Box::new(iter.into_iter().map(Into::into)));
        self.enqueue(&task);
        task
    }

    /// [`cooperate`](Self::cooperate) and return the task's
    /// [`when_done`](CooperativeTask::when_done) Deferred (Twisted's `coiterate`).
    pub fn coiterate<I>(&self, iter: I) -> Deferred<()>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Into<Step> + 'static,
    {
        self.cooperate(iter).when_done()
    }

    /// Stops: every queued task completes with [`SchedulerStopped`]; paused tasks complete so
    /// when they resume (Twisted keeps them until then); new tasks complete at once.
    pub fn stop(&self) {
        let (tasks, tick) = {
            let mut st = self.inner.state.lock();
            st.stopped = true;
            (std::mem::take(&mut st.queue), st.tick.take())
        };
        if let Some(tick) = tick {
            let _ = tick.cancel();
        }
        for task in tasks {
            task.set_queued(false);
            task.complete(Err(Failure::new(SchedulerStopped)), TaskFinished::SchedulerStopped);
        }
    }

    /// Restarts a stopped cooperator.
    pub fn start(&self) {
        self.inner.state.lock().stopped = false;
    }

    /// True unless stopped.
    pub fn running(&self) -> bool {
        !self.inner.state.lock().stopped
    }

    fn enqueue(&self, task: &CooperativeTask) {
        let mut st = self.inner.state.lock();
        if st.stopped {
            drop(st);
            task.complete(Err(Failure::new(SchedulerStopped)), TaskFinished::SchedulerStopped);
            return;
        }
        task.set_queued(true);
        st.queue.push_back(task.clone());
        self.schedule_tick(&mut st);
    }

    /// A task leaves the run queue (it completed, or was paused): when it was the last one,
    /// the next tick is cancelled, so an idle cooperator leaves no call on the clock (Twisted's
    /// `_removeTask`). Lock order: the cooperator's, then the task's (as in `enqueue`).
    fn remove_task(&self, task: &CooperativeTask) {
        let tick = {
            let mut st = self.inner.state.lock();
            st.queue.retain(|t| !Arc::ptr_eq(&t.inner, &task.inner));
            task.set_queued(false);
            if st.queue.is_empty() {
                st.tick.take()
            } else {
                None
            }
        };
        if let Some(tick) = tick {
            let _ = tick.cancel(); // AlreadyCalled: the tick is running and finds nothing
        }
    }

    fn schedule_tick(&self, st: &mut CoopState) {
        if st.tick.is_none() && !st.queue.is_empty() {
            let me = self.clone();
            st.tick =
                Some(self.inner.clock.call_later_boxed(TICK_DELAY, Box::new(move || me.tick())));
        }
    }

    fn tick(&self) {
        self.inner.state.lock().tick = None;
        let started = Instant::now();
        let mut units = 0u32;
        loop {
            let task = {
                let mut st = self.inner.state.lock();
                if st.stopped {
                    return;
                }
                match st.queue.pop_front() {
                    Some(t) => t,
                    None => break,
                }
            };
            if !task.runnable() {
                task.set_queued(false);
                continue;
            }
            task.one_unit();
            units += 1;
            {
                let mut st = self.inner.state.lock();
                if task.runnable() && !st.stopped {
                    st.queue.push_back(task);
                } else {
                    task.set_queued(false);
                }
            }
            let spent = match self.inner.budget {
                SliceBudget::Time(slice) => started.elapsed() >= slice,
                SliceBudget::Units(n) => units >= n.max(1),
            };
            if spent {
                break;
            }
        }
        let mut st = self.inner.state.lock();
        self.schedule_tick(&mut st);
    }
}

/// Runs `iter` on a new [`Cooperator`] on `clock` and returns its completion Deferred
/// (Twisted's module-level `coiterate`; share one `Cooperator` to interleave iterators).
pub fn coiterate<C, I>(clock: C, iter: I) -> Deferred<()>
where
    C: ReactorTime + 'static,
    I: IntoIterator,
    I::IntoIter: Send + 'static,
    I::Item: Into<Step> + 'static,
{
    Cooperator::new(clock).coiterate(iter)
}

struct TaskState {
    pause_count: u32,
    queued: bool,
    finished: Option<(Result<(), Failure>, TaskFinished)>,
    waiters: Vec<Deferred<()>>,
}

struct TaskInner {
    coop: Cooperator,
    iter: Mutex<Option<StepIter>>,
    state: Mutex<TaskState>,
}

/// One iterator run by a [`Cooperator`] (Twisted's `CooperativeTask`). Clones refer to the
/// same task.
#[derive(Clone)]
pub struct CooperativeTask {
    inner: Arc<TaskInner>,
}

impl fmt::Debug for CooperativeTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.lock();
        f.debug_struct("CooperativeTask")
            .field("paused", &st.pause_count)
            .field("finished", &st.finished.as_ref().map(|(_, why)| *why))
            .finish()
    }
}

impl CooperativeTask {
    fn new(coop: Cooperator, iter: StepIter) -> Self {
        CooperativeTask {
            inner: Arc::new(TaskInner {
                coop,
                iter: Mutex::new(Some(iter)),
                state: Mutex::new(TaskState {
                    pause_count: 0,
                    queued: false,
                    finished: None,
                    waiters: Vec::new(),
                }),
            }),
        }
    }

    /// A new Deferred that fires when the task completes: `Ok(())` when the iterator is
    /// exhausted, else the failure ([`TaskStopped`], [`SchedulerStopped`], or the
    /// iterator's). Each call gets its own Deferred.
    pub fn when_done(&self) -> Deferred<()> {
        let mut st = self.inner.state.lock();
        match &st.finished {
            Some((Ok(()), _)) => Deferred::succeed(()),
            Some((Err(f), _)) => Deferred::fail(f.clone()),
            None => {
                let d = Deferred::new();
                st.waiters.push(d.clone());
                d
            }
        }
    }

    /// Pauses the task (counted: each pause needs a resume).
    ///
    /// # Errors
    /// The [`TaskFinished`] reason if the task has completed.
    pub fn pause(&self) -> Result<(), TaskFinished> {
        let mut st = self.inner.state.lock();
        if let Some((_, why)) = &st.finished {
            return Err(*why);
        }
        st.pause_count += 1;
        drop(st);
        self.inner.coop.remove_task(self);
        Ok(())
    }

    /// Undoes one pause; the last one puts the task back in the cooperator (no work is done
    /// synchronously). Resuming a completed task is a no-op.
    ///
    /// # Errors
    /// [`TaskFinished::NotPaused`] if the task is not paused.
    pub fn resume(&self) -> Result<(), TaskFinished> {
        let requeue = {
            let mut st = self.inner.state.lock();
            if st.pause_count == 0 {
                return Err(TaskFinished::NotPaused);
            }
            st.pause_count -= 1;
            st.pause_count == 0 && st.finished.is_none() && !st.queued
        };
        if requeue {
            self.inner.coop.enqueue(self);
        }
        Ok(())
    }

    /// Stops the task: it completes with [`TaskStopped`].
    ///
    /// # Errors
    /// The [`TaskFinished`] reason if it has already completed.
    pub fn stop(&self) -> Result<(), TaskFinished> {
        if let Some((_, why)) = &self.inner.state.lock().finished {
            return Err(*why);
        }
        self.complete(Err(Failure::new(TaskStopped)), TaskFinished::Stopped);
        Ok(())
    }

    fn runnable(&self) -> bool {
        let st = self.inner.state.lock();
        st.pause_count == 0 && st.finished.is_none()
    }

    fn set_queued(&self, queued: bool) {
        self.inner.state.lock().queued = queued;
    }

    /// Records the outcome (first one wins), drops the iterator, fires the waiters.
    fn complete(&self, result: Result<(), Failure>, why: TaskFinished) {
        let waiters = {
            let mut st = self.inner.state.lock();
            if st.finished.is_some() {
                return;
            }
            let copy = match &result {
                Ok(()) => Ok(()),
                Err(f) => Err(f.clone()),
            };
            st.finished = Some((copy, why));
            std::mem::take(&mut st.waiters)
        };
        self.inner.coop.remove_task(self);
        let iter = self.inner.iter.lock().take();
        drop(iter);
        for d in waiters {
            let _ = match &result {
                Ok(()) => d.callback(()),
                Err(f) => d.errback(f.clone()),
            };
        }
    }

    /// Runs one `next()` of the iterator, with no lock held (the iterator is out of its
    /// slot meanwhile, so it may stop or pause its own task).
    fn one_unit(&self) {
        let iter = self.inner.iter.lock().take();
        let Some(mut iter) = iter else { return };
        let step = catch_unwind(AssertUnwindSafe(|| iter.next()));
        if self.inner.state.lock().finished.is_none() {
            *self.inner.iter.lock() = Some(iter);
        }
        match step {
            Ok(None) => self.complete(Ok(()), TaskFinished::Done),
            Ok(Some(Step::Continue)) => {}
            Ok(Some(Step::Fail(f))) => self.complete(Err(f), TaskFinished::Failed),
            Ok(Some(Step::Wait(d))) => self.wait_on(d),
            Err(panic) => self.complete(Err(Failure::from_panic(panic)), TaskFinished::Failed),
        }
    }

    fn wait_on(&self, d: Deferred<()>) {
        self.inner.state.lock().pause_count += 1;
        self.inner.coop.remove_task(self); // waiting: out of the run queue until it fires
        let me = self.clone();
        drop(d.add_both(move |r: Result<(), Failure>| {
            match r {
                Ok(()) => {
                    let _ = me.resume();
                }
                Err(f) => me.complete(Err(f), TaskFinished::Failed),
            }
            Ok::<(), Failure>(())
        }));
    }
}
