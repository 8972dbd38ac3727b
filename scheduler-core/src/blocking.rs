//! The blocking pool: threads for work that blocks, so it never occupies a worker.
//!
//! A queue of ready blocking tasks behind one mutex, with a condition variable. `spawn` pushes
//! a task and wakes an idle thread, or starts a new one while fewer than `max_threads` exist;
//! a thread that stays idle for `keep_alive` exits, so the pool grows up to its bound under
//! load and shrinks when idle. At shutdown the queued tasks are cancelled (their `JoinHandle`s
//! resolve as cancelled), running ones finish, and `wait_idle` lets the runtime wait for the
//! threads to exit up to its deadline.
//!
//! Invariant (under the lock): `notified <= idle <= threads`; a pushed task is run by a
//! thread that was idle and not yet claimed by another push (`idle - notified > 0`: the push
//! claims it and signals), or by a new thread, or, after shutdown, cancelled. Without the
//! claim, two pushes landing before the one idle thread wakes would both count on it, and a
//! task waiting on the other (A blocks until B runs) would hold the only thread forever.

use crate::context::{self, Context};
use crate::runtime::Handle;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::{Condvar, Mutex};
use crate::task::Notified;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct PoolState {
    queue: VecDeque<Notified>,
    threads: usize,
    /// OS threads of the pool not yet returned from their wrapper: `threads` counts a thread
    /// out when it leaves the work loop (so the pool may start another), this only once the
    /// thread's `wrap_threads` wrapper returned, which is what `wait_idle` waits for.
    alive: usize,
    idle: usize,
    /// Idle threads already signalled for a pushed task (each push claims one).
    notified: usize,
    shutdown: bool,
    next_id: usize,
}

/// The blocking pool of one runtime.
#[derive(Debug)]
pub(crate) struct BlockingPool {
    state: Mutex<PoolState>,
    /// Signals queued work (and shutdown) to idle threads.
    work: Condvar,
    /// Signals a thread's exit (to `wait_idle`).
    exited: Condvar,
    max_threads: usize,
    keep_alive: Duration,
    panics: AtomicU64,
}

/// A closure as a future that completes on its first poll.
#[derive(Debug)]
pub(crate) struct BlockingTask<F>(Option<F>);

impl<F> BlockingTask<F> {
    pub(crate) fn new(f: F) -> Self {
        BlockingTask(Some(f))
    }
}

impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingTask<F> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut TaskContext<'_>) -> Poll<R> {
        match self.0.take() {
            Some(f) => Poll::Ready(f()),
            None => Poll::Pending, // never polled twice: it completes on the first poll
        }
    }
}

impl BlockingPool {
    pub(crate) fn new(max_threads: usize, keep_alive: Duration) -> BlockingPool {
        BlockingPool {
            state: Mutex::new(PoolState::default()),
            work: Condvar::new(),
            exited: Condvar::new(),
            max_threads: max_threads.max(1),
            keep_alive,
            panics: AtomicU64::new(0),
        }
    }

    /// Queues `task`, waking or starting a thread; cancels it after shutdown.
    pub(crate) fn push(&self, handle: &Handle, task: Notified) {
        let mut st = self.state.lock();
        if st.shutdown {
            drop(st);
            task.cancel();
            return;
        }
        st.queue.push_back(task);
        if st.idle > st.notified {
            st.notified += 1;
            drop(st);
            self.work.notify_one();
        } else if st.threads < self.max_threads {
            st.threads += 1;
            st.alive += 1;
            st.next_id += 1;
            let id = st.next_id;
            drop(st);
            self.start_thread(handle, id);
        }
    }

    fn start_thread(&self, handle: &Handle, id: usize) {
        let cfg = &handle.shared.config;
        let mut b = std::thread::Builder::new().name(format!("{}-blocking-{id}", cfg.thread_name));
        if let Some(size) = cfg.stack_size {
            b = b.stack_size(size);
        }
        let h = handle.clone();
        if b.spawn(move || run_thread(h)).is_err() {
            // No thread: the queued task waits for a running thread, or is cancelled at
            // shutdown; undo the count.
            let mut st = self.state.lock();
            st.threads -= 1;
            st.alive -= 1;
            if st.threads == 0 {
                let orphans: Vec<Notified> = st.queue.drain(..).collect();
                drop(st);
                // With no thread to run them, fail them rather than hang their joiners.
                orphans.into_iter().for_each(Notified::cancel);
            }
        }
    }

    pub(crate) fn begin_shutdown(&self) {
        let mut st = self.state.lock();
        st.shutdown = true;
        let queued: Vec<Notified> = st.queue.drain(..).collect();
        drop(st);
        self.work.notify_all();
        queued.into_iter().for_each(Notified::cancel);
    }

    /// Waits until every pool thread exited (its wrapper returned) or `deadline` passed; true
    /// if they all exited. Called on one of this pool's own threads (a blocking task that drops or shuts down its
    /// runtime), it does not wait for that thread, which exits once the task returns.
    pub(crate) fn wait_idle(&self, deadline: Option<Instant>) -> bool {
        let own = usize::from(POOL_THREAD.with(|p| std::ptr::eq(p.get(), self)));
        let mut st = self.state.lock();
        while st.alive > own {
            match deadline {
                Some(d) if Instant::now() >= d => return false,
                Some(d) => st = self.exited.wait_until(st, d),
                None => st = self.exited.wait(st),
            }
        }
        true
    }

    /// A pool thread's wrapper returned: it no longer runs anything of the runtime's.
    fn thread_returned(&self) {
        let mut st = self.state.lock();
        st.alive -= 1;
        drop(st);
        self.exited.notify_all();
    }

    pub(crate) fn threads(&self) -> usize {
        self.state.lock().threads
    }

    /// Pool threads waiting for work.
    pub(crate) fn idle_threads(&self) -> usize {
        self.state.lock().idle
    }

    pub(crate) fn queue_depth(&self) -> usize {
        self.state.lock().queue.len()
    }

    /// Counts a panic caught on a pool thread (or any non-worker thread).
    pub(crate) fn count_panic(&self) {
        self.panics.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }

    /// Next task for a pool thread, or None when it should exit.
    fn next(&self) -> Option<Notified> {
        let mut st = self.state.lock();
        loop {
            if let Some(t) = st.queue.pop_front() {
                return Some(t);
            }
            if st.shutdown {
                break;
            }
            st.idle += 1;
            // A keep-alive too long for an `Instant` (`Duration::MAX`) saturates: wait until
            // work or shutdown comes.
            let deadline = Instant::now().checked_add(self.keep_alive);
            st = match deadline {
                Some(d) => self.work.wait_until(st, d),
                None => self.work.wait(st),
            };
            st.idle -= 1;
            // Whichever idle thread wakes takes one claim (keeps `notified <= idle`); the task
            // it was claimed for is in the queue unless a busy thread took it first.
            st.notified = st.notified.saturating_sub(1);
            let expired = deadline.is_some_and(|d| Instant::now() >= d);
            if st.queue.is_empty() && !st.shutdown && expired {
                break; // idle for keep_alive: shrink
            }
        }
        st.threads -= 1;
        drop(st);
        self.exited.notify_all();
        None
    }
}

thread_local! {
    /// The pool this thread belongs to (null on other threads).
    static POOL_THREAD: std::cell::Cell<*const BlockingPool> =
        const { std::cell::Cell::new(std::ptr::null()) };
}

/// A pool thread: its body inside the thread wrapper if one is set; a wrapper that never
/// runs it is counted as a panic and the body runs unwrapped, so the queued task still runs.
fn run_thread(handle: Handle) {
    let shared = handle.shared.clone();
    let body = move || thread_body(handle);
    if let Err((_why, unrun)) =
        crate::runtime::run_wrapped(shared.config.wrap_threads.as_ref(), body)
    {
        shared.blocking.count_panic();
        unrun();
    }
    shared.blocking.thread_returned();
}

fn thread_body(handle: Handle) {
    let shared = handle.shared.clone();
    POOL_THREAD.with(|p| p.set(&shared.blocking));
    // A panicking hook is contained here and counted: the thread still serves the pool (the
    // task it was started for would otherwise never run and its JoinHandle never resolve).
    if crate::runtime::run_hook(shared.config.on_thread_start.as_ref()).is_err() {
        shared.blocking.count_panic();
    }
    {
        let ctx = Context { shared: &*shared as *const _, handle, core: None };
        let _guard = context::enter(&ctx);
        let pool = &shared.blocking;
        while let Some(task) = pool.next() {
            let _ = task.run(); // a blocking task completes in one poll
        }
    }
    if crate::runtime::run_hook(shared.config.on_thread_stop.as_ref()).is_err() {
        shared.blocking.count_panic();
    }
}
