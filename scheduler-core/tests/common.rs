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
