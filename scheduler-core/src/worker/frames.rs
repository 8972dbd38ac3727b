//! The worker's side of the `join` frames (`crate::join_frames`): whether another worker
//! wants work, and publishing lazy frames onto the fork-join deque.

use super::*;
use crate::join_frames::JoinFrames;

impl Core {
    /// This worker's `join` frames.
    #[inline]
    pub(crate) fn frames(&self) -> &JoinFrames {
        &self.frames
    }

    /// Does some other worker search or sleep (so work offered now would be taken)?
    #[inline]
    pub(crate) fn peers_hungry(&self) -> bool {
        self.shared.idle.hungry()
    }

    /// A `join` starts while a worker wants work: if nothing of ours is on offer yet, offer
    /// the oldest lazy frame (module doc of `join_frames`).
    #[inline]
    pub(crate) fn offer_to_hungry(&self) {
        if self.frames.has_lazy() && self.jobs.is_empty() {
            self.publish_oldest_frame();
        }
    }

    /// Publishes the oldest lazy frame, if any (a deque push and a notification).
    #[inline]
    pub(crate) fn publish_oldest_frame(&self) {
        if let Some(job) = self.frames.publish_oldest() {
            self.push_job(job);
        }
    }

    /// Counts this worker as waiting in a `join` (so [`peers_hungry`](Self::peers_hungry)
    /// holds for the others) until the guard drops.
    pub(crate) fn join_waiting(&self) -> JoinWaiting<'_> {
        self.shared.idle.join_wait_begin();
        JoinWaiting(&self.shared.idle)
    }

    /// Before this worker waits (for a stolen half, for a scope's jobs): publishes every lazy
    /// frame, so it can run them meanwhile and others can steal them.
    pub(crate) fn publish_all_frames(&self) {
        while self.frames.has_lazy() {
            self.publish_oldest_frame();
        }
    }
}

/// A worker waiting inside a `join` or `scope` (see [`Core::join_waiting`]).
pub(crate) struct JoinWaiting<'a>(&'a crate::idle::Idle);

impl Drop for JoinWaiting<'_> {
    fn drop(&mut self) {
        self.0.join_wait_end();
    }
}
