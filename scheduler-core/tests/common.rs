//! Helpers shared by the integration tests (included with `mod common;`).
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Counts live instances: `LiveCounter::guard()` increments, dropping the guard decrements.
#[derive(Clone, Default)]
pub(crate) struct LiveCounter(Arc<AtomicUsize>);

pub(crate) struct Guard(Arc<AtomicUsize>, bool);

impl LiveCounter {
    pub(crate) fn guard(&self) -> Guard {
        self.0.fetch_add(1, Ordering::SeqCst);
        Guard(self.0.clone(), false)
    }
    pub(crate) fn live(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.1 {
            DETACHED.fetch_sub(1, Ordering::SeqCst);
        } else {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// A gate that tasks block on (blocking their worker) until the test opens it.
#[derive(Clone, Default)]
pub(crate) struct Gate(Arc<(std::sync::Mutex<(bool, usize)>, std::sync::Condvar)>);

impl Gate {
    /// Blocks the calling thread until `open`; counts waiters.
    pub(crate) fn wait(&self) {
        let (m, c) = &*self.0;
        let mut g = m.lock().unwrap();
        g.1 += 1;
        c.notify_all();
        while !g.0 {
            g = c.wait(g).unwrap();
        }
    }
    /// Blocks until `n` threads are waiting.
    pub(crate) fn wait_for_waiters(&self, n: usize) {
        let (m, c) = &*self.0;
        let mut g = m.lock().unwrap();
        while g.1 < n {
            g = c.wait(g).unwrap();
        }
    }
    pub(crate) fn open(&self) {
        let (m, c) = &*self.0;
        m.lock().unwrap().0 = true;
        c.notify_all();
    }
}

/// A future that never completes and never wakes (it holds `guard` until dropped).
pub(crate) struct Forever<G>(pub G);

impl<G> std::future::Future for Forever<G> {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Pending
    }
}

static DETACHED: AtomicUsize = AtomicUsize::new(0);

impl LiveCounter {
    /// A guard on a process-wide counter (for tasks created deep inside other tasks).
    pub(crate) fn detached_guard() -> Guard {
        DETACHED.fetch_add(1, Ordering::SeqCst);
        Guard(Arc::new(AtomicUsize::new(0)), true)
    }
    pub(crate) fn detached_live() -> usize {
        DETACHED.load(Ordering::SeqCst)
    }
}

/// A future that counts its first poll in `polled`, then stays pending forever and never
/// wakes (it holds `guard` until dropped). Waiting for `polled` to reach the number of such
/// tasks proves that each one was polled, without any sleep.
pub(crate) struct ForeverCountingPolls<G> {
    _guard: G,
    polled: Arc<AtomicUsize>,
    counted: bool,
}

impl<G> ForeverCountingPolls<G> {
    pub(crate) fn new(guard: G, polled: Arc<AtomicUsize>) -> Self {
        ForeverCountingPolls { _guard: guard, polled, counted: false }
    }
}

impl<G> Unpin for ForeverCountingPolls<G> {}

impl<G> std::future::Future for ForeverCountingPolls<G> {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if !self.counted {
            self.counted = true;
            self.polled.fetch_add(1, Ordering::SeqCst);
        }
        std::task::Poll::Pending
    }
}

/// Blocks all `workers` workers of a runtime inside a poll each, and returns once they all
/// are: from then on, every poll a worker was running before has returned (so a task that
/// counted its first poll is idle, unless something woke it). Open the gate and await the
/// handles to release the workers.
pub(crate) fn hold_every_worker(
    handle: &scheduler_core::Handle,
    workers: usize,
) -> (Gate, Vec<scheduler_core::JoinHandle<()>>) {
    let gate = Gate::default();
    let holders = (0..workers)
        .map(|_| {
            let g = gate.clone();
            handle.spawn(async move { g.wait() })
        })
        .collect();
    gate.wait_for_waiters(workers);
    (gate, holders)
}
