//! Tasks: the heap cell of a spawned future, its state word, and its `JoinHandle`.
//!
//! A task is one allocation ([`raw`]), polled and completed by [`harness`] and woken through
//! [`waker`], with a state word ([`state`]) that arbitrates between the worker that polls it,
//! the wakers that reschedule it, `abort()`/shutdown that cancel it, and the [`JoinHandle`]
//! that reads its output. A queued task is a [`Notified`]: an owned reference that must be
//! either run or cancelled, never dropped silently.

mod abort;
mod cell_cache;
mod harness;
pub(crate) mod join;
#[cfg(all(test, not(loom)))]
mod lifecycle_tests;
pub(crate) mod raw;
pub(crate) mod state;
mod waker;

pub use abort::AbortHandle;
pub use join::{JoinError, JoinHandle};

use crate::priority::Priority;
use raw::Header;
use std::ptr::NonNull;

/// A runnable task taken off (or going onto) a queue; owns the notification's ref.
#[derive(Debug)]
#[must_use = "a queued task must be run or cancelled"]
pub(crate) struct Notified(pub(crate) NonNull<Header>);

// SAFETY: a task may be polled on any worker: its future and output are `Send` (enforced at
// spawn), and the state word serialises every access to them.
unsafe impl Send for Notified {}

impl Notified {
    /// Runs one poll of the task.
    #[inline]
    pub(crate) fn run(self) -> RunOutcome {
        let ptr = self.0;
        std::mem::forget(self);
        // SAFETY: a `Notified` owns the notification ref of a live task.
        unsafe { Header::poll(ptr) }
    }

    /// Cancels the task without polling it (shutdown drain): it completes as cancelled.
    pub(crate) fn cancel(self) {
        let ptr = self.0;
        std::mem::forget(self);
        // SAFETY: a `Notified` owns the notification ref of a live task.
        let header = unsafe { ptr.as_ref() };
        let _ = header.state.transition_to_running();
        // SAFETY: we now hold RUNNING and the run's ref (the notification's).
        unsafe { Header::cancel(ptr) }
    }

    /// The priority class the task was spawned with.
    #[inline]
    pub(crate) fn priority(&self) -> Priority {
        // SAFETY: a `Notified` owns a ref of a live task.
        unsafe { self.0.as_ref() }.priority
    }

    /// The raw header pointer (the LIFO slot stores it).
    pub(crate) fn into_raw(self) -> NonNull<Header> {
        let ptr = self.0;
        std::mem::forget(self);
        ptr
    }

    /// # Safety
    /// `ptr` came from [`Notified::into_raw`] and was not turned back before.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Notified {
        Notified(ptr)
    }
}

impl Drop for Notified {
    fn drop(&mut self) {
        // Dropping a queued task is a bug in the scheduler; cancel it rather than leak it.
        debug_assert!(std::thread::panicking(), "a Notified task was dropped without running");
        let ptr = self.0;
        Notified(ptr).cancel_inner();
    }
}

impl Notified {
    fn cancel_inner(self) {
        self.cancel()
    }
}

/// What one poll of a task led to.
#[derive(Debug)]
pub(crate) enum RunOutcome {
    /// The task is waiting for a wake-up.
    Idle,
    /// The task woke itself during the poll (`yield_now`): queue it at the back.
    Yielded(Notified),
    /// The task completed: returned, panicked, or was cancelled.
    Done,
}
