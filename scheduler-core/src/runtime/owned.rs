//! The owned-task list: every task that has not completed, so shutdown can cancel idle ones.
//!
//! Sharded by spawning worker (plus one shard for spawns from other threads), each shard a
//! slab behind its own lock, so a task spawned and completed on one worker only ever takes
//! that worker's lock (uncontended, on a line no other core writes). A task records its shard
//! and slot in its header.
//!
//! Invariants:
//! - A task is listed from `bind` until its completion calls `remove`; while listed it holds
//!   the "owned" ref (dropped by the completion, see `task::raw::complete`). So a listed task
//!   is alive, and `for_each_listed` may take a ref on it under the shard lock.
//! - `bind` checks the shutdown flag under the shard lock, and shutdown sets the flag before
//!   it sweeps the shards (taking each lock): every task is either refused by `bind` or seen
//!   by the sweep.
//! - The live-task count is the sum of the shard lengths.

use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::Mutex;
use crate::task::raw::Header;
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

    /// The shard for spawns from threads that are not workers.
    pub(crate) fn external_shard(&self) -> u32 {
        (self.shards.len() - 1) as u32
    }

    /// Lists `task` in its shard; false (and not listed) when shutdown has begun.
    pub(crate) fn bind(&self, task: NonNull<Header>, shutdown: &AtomicBool) -> bool {
        // SAFETY: the caller holds refs of the freshly allocated task.
        let header = unsafe { task.as_ref() };
        let mut slab = self.shards[header.owned_shard as usize].lock();
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
        // Relaxed: read back only under this shard's lock.
        header.owned_slot.store(slot, Ordering::Relaxed);
        true
    }

    /// Unlists a completing task; false if it was never listed (spawned after shutdown).
    pub(crate) fn remove(&self, task: NonNull<Header>) -> bool {
        // SAFETY: the completing thread holds refs of the task.
        let header = unsafe { task.as_ref() };
        let mut slab = self.shards[header.owned_shard as usize].lock();
        let slot = header.owned_slot.load(Ordering::Relaxed);
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

    /// Number of listed (not yet completed) tasks.
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
