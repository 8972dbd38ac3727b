//! Timer handles and the small outcome types of shard operations.

/// Names one timer: its shard, its slab slot and the slot's generation (12 bytes, `Copy`).
///
/// A key outlives its timer harmlessly: once the timer fired or was cancelled and its slot was
/// re-armed, operations with the old key fail with [`TimerError::Stale`](crate::TimerError).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerKey {
    pub(crate) shard: u32,
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl TimerKey {
    /// The id of the shard that holds the timer.
    pub fn shard(&self) -> u32 {
        self.shard
    }

    /// The slab index of the timer within its shard.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The generation of the slot when the timer was inserted.
    pub fn generation(&self) -> u32 {
        self.generation
    }
}

/// Whether a remote operation made a timer earlier than the deadline the shard's owner last
/// published, so the caller should unpark the owner (it may be parked until a later instant).
#[must_use = "if the owner may be parked past the new deadline, it must be woken"]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wake {
    /// The new deadline is earlier than the published next deadline: unpark the owner.
    Owner,
    /// The owner will wake early enough anyway.
    NotNeeded,
}

impl Wake {
    pub(crate) fn from_earlier(earlier: bool) -> Self {
        if earlier {
            Wake::Owner
        } else {
            Wake::NotNeeded
        }
    }

    /// True for [`Wake::Owner`].
    pub fn is_needed(self) -> bool {
        self == Wake::Owner
    }
}

/// What one expiry pass did.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Expired {
    /// Timers fired in this pass.
    pub fired: usize,
    /// The published next deadline after the pass (ns), `None` when the shard is empty. Exact
    /// when the pass ended because nothing more was due; a lower bound otherwise.
    pub next_deadline: Option<u64>,
}
