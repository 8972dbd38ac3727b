//! [`TaskSet`]: a set of spawned tasks awaited in the order they finish (tokio's `JoinSet`).
//!
//! Each task's future is wrapped so that, when it ends (returns, panics or is cancelled), a
//! guard in it pushes the task's slot index onto the set's *done queue* and wakes the task
//! awaiting [`TaskSet::join_next`]. The guard runs before the task's output is stored, so a
//! `join_next` that pops an index may find its `JoinHandle` not yet ready: it keeps that index
//! as a *candidate*, whose `JoinHandle` (polled with the same waker) wakes it a moment later.
//! Each index is pushed exactly once per task, and a slot is reused only after its task's
//! output was taken, so no index can name the wrong task. `join_next` costs O(1) per finished
//! task, whatever the set's size.

use crate::runtime::Handle;
use crate::sync::Mutex;
use crate::task::{JoinError, JoinHandle};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// Finished tasks' slots, and the waker of the `join_next` waiting for one.
#[derive(Debug, Default)]
struct DoneQueue {
    inner: Mutex<DoneState>,
}

#[derive(Debug, Default)]
struct DoneState {
    done: VecDeque<usize>,
    waker: Option<Waker>,
}

impl DoneQueue {
    fn push(&self, slot: usize) {
        let waker = {
            let mut st = self.inner.lock();
            st.done.push_back(slot);
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn pop(&self) -> Option<usize> {
        self.inner.lock().done.pop_front()
    }

    /// Stores `waker` unless a slot arrived meanwhile (then returns it instead).
    fn park(&self, waker: &Waker) -> Option<usize> {
        let mut st = self.inner.lock();
        match st.done.pop_front() {
            Some(slot) => Some(slot),
            None => {
                st.waker = Some(waker.clone());
                None
            }
        }
    }
}

/// Pushes its slot when the task's future ends, however it ends.
struct DoneGuard {
    slot: usize,
    queue: Arc<DoneQueue>,
}

impl Drop for DoneGuard {
    fn drop(&mut self) {
        self.queue.push(self.slot);
    }
}

/// A set of tasks whose outputs are taken in the order the tasks finish.
///
/// Dropping the set aborts every task still in it (as [`abort_all`](Self::abort_all)).
///
/// # Examples
/// ```
/// use scheduler_core::{Runtime, TaskSet};
/// let rt = Runtime::builder().worker_threads(2).build().unwrap();
/// let mut set = TaskSet::new();
/// for i in 0..10u64 {
///     set.spawn_on(rt.handle(), async move { i * i });
/// }
/// let sum = rt.block_on(async {
///     let mut sum = 0;
///     while let Some(out) = set.join_next().await {
///         sum += out.unwrap();
///     }
///     sum
/// });
/// assert_eq!(sum, 285);
/// ```
pub struct TaskSet<T> {
    slots: Vec<Option<JoinHandle<T>>>,
    free: Vec<usize>,
    len: usize,
    queue: Arc<DoneQueue>,
    /// Slots popped from the done queue whose `JoinHandle` was not ready yet.
    candidates: VecDeque<usize>,
}

impl<T> Default for TaskSet<T> {
    fn default() -> Self {
        TaskSet {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            queue: Arc::default(),
            candidates: VecDeque::new(),
        }
    }
}

impl<T> fmt::Debug for TaskSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskSet").field("len", &self.len).finish()
    }
}

impl<T: Send + 'static> TaskSet<T> {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tasks in the set (running or finished but not yet taken).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Spawns `future` on the current runtime ([`Handle::current`]) into the set.
    ///
    /// # Panics
    /// Outside a runtime thread or an entered context; use [`spawn_on`](Self::spawn_on).
    pub fn spawn<F>(&mut self, future: F)
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.spawn_on(&Handle::current(), future);
    }

    /// Spawns `future` on `handle`'s runtime into the set.
    pub fn spawn_on<F>(&mut self, handle: &Handle, future: F)
    where
        F: Future<Output = T> + Send + 'static,
    {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let guard = DoneGuard { slot, queue: self.queue.clone() };
        let jh = handle.spawn(async move {
            let _guard = guard;
            future.await
        });
        self.slots[slot] = Some(jh);
        self.len += 1;
    }

    /// Runs the closure `f` as a task of `handle`'s runtime in the set.
    pub fn spawn_fn_on<F>(&mut self, handle: &Handle, f: F)
    where
        F: FnOnce() -> T + Send + 'static,
    {
        self.spawn_on(handle, async move { f() });
    }

    /// Waits for the next task to finish and takes its output; `None` when the set is empty.
    /// Cancel-safe: dropping the future loses no output (the task stays in the set).
    pub fn join_next(&mut self) -> JoinNext<'_, T> {
        JoinNext { set: self }
    }

    /// Aborts every task in the set; each still appears in [`join_next`](Self::join_next),
    /// as cancelled unless it had finished first.
    pub fn abort_all(&self) {
        self.slots.iter().flatten().for_each(JoinHandle::abort);
    }

    /// Polls the task in `slot`; its output when ready (the slot is freed).
    fn try_take(&mut self, slot: usize, cx: &mut Context<'_>) -> Option<Result<T, JoinError>> {
        let jh = self.slots.get_mut(slot)?.as_mut()?;
        match Pin::new(jh).poll(cx) {
            Poll::Ready(out) => {
                self.slots[slot] = None;
                self.free.push(slot);
                self.len -= 1;
                Some(out)
            }
            Poll::Pending => None,
        }
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        if self.len == 0 {
            return Poll::Ready(None);
        }
        for _ in 0..self.candidates.len() {
            let slot = self.candidates.pop_front().expect("counted");
            match self.try_take(slot, cx) {
                Some(out) => return Poll::Ready(Some(out)),
                None => self.candidates.push_back(slot),
            }
        }
        loop {
            let next = match self.queue.pop() {
                Some(slot) => Some(slot),
                None => self.queue.park(cx.waker()),
            };
            let Some(slot) = next else { return Poll::Pending };
            match self.try_take(slot, cx) {
                Some(out) => return Poll::Ready(Some(out)),
                None => self.candidates.push_back(slot),
            }
        }
    }
}

impl<T> Drop for TaskSet<T> {
    fn drop(&mut self) {
        self.slots.iter().flatten().for_each(JoinHandle::abort);
    }
}

/// The future of [`TaskSet::join_next`].
#[must_use = "futures do nothing unless polled"]
pub struct JoinNext<'a, T> {
    set: &'a mut TaskSet<T>,
}

impl<T> fmt::Debug for JoinNext<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinNext").field("len", &self.set.len).finish()
    }
}

impl<T: Send + 'static> Future for JoinNext<'_, T> {
    type Output = Option<Result<T, JoinError>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.set.poll_next(cx)
    }
}
