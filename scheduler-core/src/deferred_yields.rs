//! A worker's deferred yielders: the tasks that yielded while remote work of their class
//! waited in the injector (the yield fairness rule, `worker.rs` module doc). Owned by one
//! worker's `Core` and touched only on its thread, so plain cells; tasks here are not
//! stealable until the worker moves them back to its deques.

use crate::task::Notified;
use std::cell::{Cell, RefCell};

/// The deferred tasks, oldest first, and when the list last became non-empty.
#[derive(Debug, Default)]
pub(crate) struct DeferredYields {
    tasks: RefCell<Vec<Notified>>,
    /// The worker tick at which `tasks` last went from empty to non-empty.
    since: Cell<u32>,
}

impl DeferredYields {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.tasks.borrow().is_empty()
    }

    /// Appends `task`, deferred at worker tick `tick` (the uncommon side of a yield).
    #[cold]
    pub(crate) fn push(&self, task: Notified, tick: u32) {
        let mut tasks = self.tasks.borrow_mut();
        if tasks.is_empty() {
            self.since.set(tick);
        }
        tasks.push(task);
    }

    /// Takes every deferred task, oldest first.
    pub(crate) fn take_all(&self) -> Vec<Notified> {
        std::mem::take(&mut *self.tasks.borrow_mut())
    }

    /// True when the list is non-empty and became so at least `ticks` ticks before `now`.
    pub(crate) fn waited(&self, now: u32, ticks: u32) -> bool {
        now.wrapping_sub(self.since.get()) >= ticks && !self.is_empty()
    }
}
