//! The owned-task list: every task that has not completed, so shutdown can cancel idle ones.
//!
//! Only tasks that went idle at least once are listed: a task is bound the first time a poll
//! returns `Pending` (by the worker polling it, while it still holds `RUNNING`), so the common
//! spawn-run-complete path takes no lock at all. A task that is never idle is always queued
//! or running, and the queue drains and the running workers take care of it at shutdown.
//!
//! Sharded by the binding worker (plus one shard for other threads), each shard a slab behind
//! its own lock; a task records `shard << 32 | slot` in its header.
//!
//! Invariants:
//! - A task is listed from `bind` until its completion calls `remove`; while listed it still
//!   holds the scheduler's "owned" ref (dropped by the completion after `remove`, see
//!   `task::harness::complete`). So a listed task is alive, and `snapshot` may take a ref on it
//!   under the shard lock.
//! - `bind` checks the shutdown flag under the shard lock, and shutdown sets the flag before
//!   it sweeps the shards (taking each lock): every idle task is either refused by `bind`
//!   (and cancelled by its poller) or seen by the sweep.
//! - Every task that can be woken from idle is listed, which is what keeps the runtime's
//!   shared state alive for its wakers (see `runtime::shared`).

use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::Mutex;
use crate::task::raw::{Header, UNLISTED};
use crossbeam_utils::CachePadded;
use std::ptr::NonNull;

#[derive(Debug, Default)]
struct Slab {
    entries: Vec<Option<NonNull<Header>>>,
    free: Vec<usize>,
    len: usize,
}

// SAFETY: the slab only stores pointers to tasks (which are Send); it dereferences none.
unsafe impl Send for Slab {}

/// The runtime's list of not-yet-completed tasks.
#[derive(Debug)]
pub(crate) struct OwnedTasks {
    shards: Box<[CachePadded<Mutex<Slab>>]>,
}

impl OwnedTasks {
    pub(crate) fn new(shards: usize) -> OwnedTasks {
        OwnedTasks {
            shards: (0..shards).map(|_| CachePadded::new(Mutex::new(Slab::default()))).collect(),
        }
    }

    /// The shard for tasks bound by threads that are not workers.
    pub(crate) fn external_shard(&self) -> usize {
        self.shards.len() - 1
    }

    /// Lists `task` in `shard`; false (and not listed) when shutdown has begun.
    pub(crate) fn bind(&self, task: NonNull<Header>, shard: usize, shutdown: &AtomicBool) -> bool {
        // SAFETY: the caller holds RUNNING and a ref of the task.
        let header = unsafe { task.as_ref() };
        let shard = shard.min(self.shards.len() - 1);
        let mut slab = self.shards[shard].lock();
        // Relaxed is enough: the sweep sets the flag before taking this same lock.
        if shutdown.load(Ordering::Relaxed) {
            return false;
        }
        let slot = match slab.free.pop() {
            Some(i) => {
                slab.entries[i] = Some(task);
                i
            }
            None => {
                slab.entries.push(Some(task));
                slab.entries.len() - 1
            }
        };
        slab.len += 1;
        // Relaxed: the remover is ordered after us by the task's state transitions.
        header.owned.store(((shard as u64) << 32) | slot as u64, Ordering::Relaxed);
        true
    }

    /// Unlists a completing task; false if it was never listed (never idle: no lock taken).
    #[inline]
    pub(crate) fn remove(&self, task: NonNull<Header>) -> bool {
        // SAFETY: the completing thread holds refs of the task.
        let header = unsafe { task.as_ref() };
        let owned = header.owned.load(Ordering::Relaxed);
        if owned == UNLISTED {
            return false;
        }
        self.remove_listed(task, owned)
    }

    /// [`remove`](Self::remove) of a task listed at `owned` (`shard << 32 | slot`).
    fn remove_listed(&self, task: NonNull<Header>, owned: u64) -> bool {
        let (shard, slot) = ((owned >> 32) as usize, (owned & u64::from(u32::MAX)) as usize);
        let mut slab = self.shards[shard].lock();
        match slab.entries.get_mut(slot) {
            Some(e) if *e == Some(task) => {
                *e = None;
                slab.free.push(slot);
                slab.len -= 1;
                true
            }
            _ => false,
        }
    }

    /// Number of listed tasks (went idle once, not yet completed).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len).sum()
    }

    /// Takes a ref on every listed task (under each shard lock) and returns them.
    pub(crate) fn snapshot(&self) -> Vec<NonNull<Header>> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let slab = shard.lock();
            for task in slab.entries.iter().flatten() {
                // SAFETY: a listed task is alive (module invariant); the new ref keeps it so.
                unsafe { task.as_ref() }.state.ref_inc();
                out.push(*task);
            }
        }
        out
    }
}
