//! [`Handle::call_soon`](super::Handle::call_soon): Twisted's `reactor.callFromThread`, a
//! "run this soon on the runtime" that keeps the callers' order.
//!
//! Calls go into one FIFO queue per runtime. Whoever finds the queue idle starts a *drainer*
//! task; the drainer runs the queued calls one after another, in queue order, up to
//! [`BATCH`] at a time (then it re-queues itself behind the other tasks of its class, so a
//! flood of calls does not hold a worker), and marks the queue idle under the lock only when
//! it finds it empty. At most one drainer exists at a time, so calls never run concurrently
//! with each other and run exactly in the order they were queued (from one thread, the order
//! of its calls; across threads, the order their pushes took the lock in).

use super::Handle;
use crate::sync::Mutex;
use std::collections::VecDeque;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Calls a drainer runs before it yields its worker.
const BATCH: usize = 64;

type Call = Box<dyn FnOnce() + Send + 'static>;

#[derive(Default)]
struct SoonState {
    calls: VecDeque<Call>,
    /// A drainer task exists (queued or running).
    draining: bool,
}

/// The runtime's `call_soon` queue.
#[derive(Default)]
pub(crate) struct SoonQueue {
    state: Mutex<SoonState>,
}

impl fmt::Debug for SoonQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoonQueue").finish_non_exhaustive()
    }
}

impl SoonQueue {
    /// Queues `call`; true when the caller must start a drainer.
    fn push(&self, call: Call) -> bool {
        let mut st = self.state.lock();
        st.calls.push_back(call);
        !std::mem::replace(&mut st.draining, true)
    }

    /// The next call, or `None` (and the queue idle again) when it is empty.
    fn pop(&self) -> Option<Call> {
        let mut st = self.state.lock();
        let next = st.calls.pop_front();
        if next.is_none() {
            st.draining = false;
        }
        next
    }
}

impl Handle {
    /// Runs `f` soon on one of the runtime's workers (Twisted's `reactor.callFromThread`),
    /// from any thread. Calls run one at a time, in the order they were made: from one
    /// thread, exactly its order. A panicking call is counted in
    /// [`RuntimeMetrics::panics`](crate::RuntimeMetrics::panics) and the next ones still run.
    /// After shutdown the calls are dropped unrun.
    ///
    /// For independent work that may run in parallel, use [`spawn_fn`](Self::spawn_fn).
    ///
    /// # Examples
    /// ```
    /// use scheduler_core::Runtime;
    /// use std::sync::{Arc, Mutex};
    /// let rt = Runtime::builder().worker_threads(2).build().unwrap();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// for i in 0..100 {
    ///     let seen = seen.clone();
    ///     let tx = tx.clone();
    ///     rt.handle().call_soon(move || {
    ///         seen.lock().unwrap().push(i);
    ///         if i == 99 { tx.send(()).unwrap(); }
    ///     });
    /// }
    /// rx.recv().unwrap();
    /// assert_eq!(*seen.lock().unwrap(), (0..100).collect::<Vec<_>>());
    /// ```
    pub fn call_soon<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        if self.is_shutdown() {
            return; // dropped unrun: no drainer will run again
        }
        if self.shared.soon.push(Box::new(f)) {
            self.start_drainer();
        }
    }

    fn start_drainer(&self) {
        let h = self.clone();
        drop(self.spawn_fn(move || h.drain_soon()));
    }

    /// The drainer's body: up to `BATCH` calls, then again as a new task if more remain.
    fn drain_soon(&self) {
        for _ in 0..BATCH {
            let Some(call) = self.shared.soon.pop() else { return };
            if catch_unwind(AssertUnwindSafe(call)).is_err() {
                self.shared.blocking.count_panic();
            }
        }
        self.start_drainer(); // the queue may still hold calls: stay the one drainer
    }
}
