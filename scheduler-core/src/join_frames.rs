//! The `join` frames of one worker, and when a frame's second half is offered to the others.
//!
//! rayon publishes the second half `b` of every `join` on the worker's deque: a push, a pop
//! and a `SeqCst` fence each, paid on every call, stolen or not. Heartbeat scheduling (Spice,
//! chili) publishes only when another thread may take the work. We do the same, with the
//! idle counters (`crate::idle`) in place of a heartbeat: a worker that searches, sleeps, or
//! waits inside a `join` for a half that was taken is a thread that wants work, and reading
//! that costs two loads of one line that changes only when a worker starts or stops
//! searching, parks, or starts or stops such a wait.
//!
//! A `join` on a worker takes one of three paths ([`JoinFrames::serial`] and
//! [`JoinFrames::push`] choose):
//!
//! - **serial**: `a` then `b`, no frame at all. Only when nobody wants work, this worker already
//!   holds at least [`FRAMES_BEFORE_SERIAL`] frames, and this is not one call in
//!   [`FRAME_EVERY`] (so deep recursion keeps frames spread over its depths, for later
//!   promotion).
//! - **lazy frame**: `b`'s job is recorded here, on this worker only. When `a` returns and the
//!   frame is still lazy, `b` runs inline: no atomic operation, no fence.
//! - **published frame**: the job is on the worker's deque, as rayon's, stealable.
//!
//! A frame is published at its push when it is one of this worker's bottom
//! [`EAGER_FRAMES`] frames (coarse work near the root of a recursion, or of a stolen job, is
//! always stealable, as with rayon), and otherwise later: when a `join` starts while a worker
//! wants work (it searches, sleeps, or waits in a `join` of its own for a half that was
//! taken) and this worker's deque is empty, the *oldest* lazy frame (the biggest piece of
//! work) is published and a sleeper is notified. A `join` that waits for a stolen half,
//! and a `scope` that waits for its jobs, publish every lazy frame first, so their jobs run
//! while the worker would otherwise wait (rayon's behaviour there).
//!
//! Invariants (this worker's thread only; no atomics here):
//! - `stack` holds the job of every lazy or published frame of a `join` running on this
//!   thread, oldest first; a frame is pushed at its `join`'s start and popped at its end, so
//!   the top is always the innermost running `join`'s frame.
//! - The published frames are exactly the bottom `published` entries: publication goes
//!   oldest first, and a frame's pop happens only after every newer frame was popped.
//! - A published frame's job is on this worker's deque, or was taken from it (by a thief, or
//!   by this worker while it waited); its `join` finishes it through the deque protocol of
//!   `crate::forkjoin`. A lazy frame's job was never given to anyone: its `join` runs it.
//!
//! The price: a lazy frame's `b` waits until this worker's next `join` starts, or its own
//! `a` returns, to be published. A closure must not wait for the other half of its own
//! `join` (rayon does not promise that both halves run in parallel either).

use crate::forkjoin::JobRef;
use std::cell::{Cell, UnsafeCell};

/// Frames at the bottom of a worker's stack that are published when pushed.
pub(crate) const EAGER_FRAMES: usize = 2;

/// Below this many frames a `join` always records one (chili keeps 3).
pub(crate) const FRAMES_BEFORE_SERIAL: usize = 4;

/// Deeper, one `join` in this many records a frame; the others run serially.
#[cfg(not(loom))]
pub(crate) const FRAME_EVERY: u32 = 64;
/// Shrunk under loom so a model reaches both paths within a few calls.
#[cfg(loom)]
pub(crate) const FRAME_EVERY: u32 = 2;

/// What a frame turned out to be when its `join`'s `a` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Popped {
    /// Never offered: the `join` runs `b` itself.
    Lazy,
    /// On the deque (or taken from it): the `join` finishes through the deque protocol.
    Published,
}

/// One worker's frames (module doc).
#[derive(Debug)]
pub(crate) struct JoinFrames {
    stack: UnsafeCell<Vec<JobRef>>,
    published: Cell<usize>,
    /// Frames whose `join` has not returned yet (`stack`'s length, plus the lazy frames
    /// popped whose `b` is running inline): how deep in the recursion this worker is.
    nesting: Cell<usize>,
    calls: Cell<u32>,
}

impl Default for JoinFrames {
    fn default() -> Self {
        JoinFrames {
            stack: UnsafeCell::new(Vec::with_capacity(64)),
            published: Cell::new(0),
            nesting: Cell::new(0),
            calls: Cell::new(0),
        }
    }
}

impl JoinFrames {
    /// Should this `join` run serially, without a frame? `hungry`: some worker wants work.
    #[inline]
    pub(crate) fn serial(&self, hungry: bool) -> bool {
        let calls = self.calls.get().wrapping_add(1);
        self.calls.set(calls);
        !hungry && self.nesting.get() >= FRAMES_BEFORE_SERIAL && calls % FRAME_EVERY != 0
    }

    /// Records a lazy frame for `job`; returns true when it must be published at once (one of
    /// the bottom [`EAGER_FRAMES`]: then it is also counted as published).
    #[inline]
    pub(crate) fn push(&self, job: JobRef) -> bool {
        self.nesting.set(self.nesting.get() + 1);
        let depth = self.with_stack(|s| {
            s.push(job);
            s.len()
        });
        if depth <= EAGER_FRAMES {
            debug_assert_eq!(self.published.get(), depth - 1, "every lower frame is published");
            self.published.set(depth);
            return true;
        }
        false
    }

    /// Removes the top frame (the caller's: module invariants) and says what it was.
    #[inline]
    pub(crate) fn pop(&self) -> Popped {
        let depth = self.with_stack(|s| {
            let _ = s.pop();
            s.len()
        });
        if depth < self.published.get() {
            self.published.set(depth);
            Popped::Published
        } else {
            Popped::Lazy
        }
    }

    /// The `join` of the last frame popped returned (both halves finished).
    #[inline]
    pub(crate) fn finished(&self) {
        self.nesting.set(self.nesting.get() - 1);
    }

    /// Marks the oldest lazy frame published and returns its job, for the deque.
    #[inline]
    pub(crate) fn publish_oldest(&self) -> Option<JobRef> {
        let next = self.published.get();
        let job = self.with_stack(|s| s.get(next).copied())?;
        self.published.set(next + 1);
        Some(job)
    }

    /// Are there lazy frames?
    #[inline]
    pub(crate) fn has_lazy(&self) -> bool {
        self.published.get() < self.depth()
    }

    fn depth(&self) -> usize {
        self.with_stack(|s| s.len())
    }

    fn with_stack<R>(&self, f: impl FnOnce(&mut Vec<JobRef>) -> R) -> R {
        // SAFETY: `JoinFrames` is `!Sync` (its `Cell`s) and owned by one worker's `Core`, so
        // only this thread reaches `stack`; `f` is one of the short closures above, which call
        // nothing that could reach `stack` again, so no two references to it overlap.
        f(unsafe { &mut *self.stack.get() })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    unsafe fn nothing(_: *const ()) {}

    fn job(n: usize) -> JobRef {
        // SAFETY: never executed.
        unsafe { JobRef::new(n as *const (), nothing) }
    }

    #[test]
    fn the_bottom_frames_publish_at_once_then_lazily_oldest_first() {
        let f = JoinFrames::default();
        assert!(f.push(job(1)));
        assert!(f.push(job(2)));
        assert!(!f.push(job(3)));
        assert!(!f.push(job(4)));
        assert!(f.has_lazy());
        assert_eq!(f.publish_oldest(), Some(job(3)));
        assert_eq!(f.pop(), Popped::Lazy); // 4
        assert!(!f.has_lazy());
        assert_eq!(f.publish_oldest(), None);
        assert_eq!(f.pop(), Popped::Published); // 3
        assert_eq!(f.pop(), Popped::Published); // 2
        assert!(f.push(job(5)), "depth 2 again: eager");
        assert_eq!(f.pop(), Popped::Published);
        assert_eq!(f.pop(), Popped::Published); // 1
        assert!(!f.has_lazy());
    }

    #[test]
    fn serial_only_deep_with_nobody_hungry_and_one_frame_in_frame_every() {
        let f = JoinFrames::default();
        for n in 0..FRAMES_BEFORE_SERIAL - 1 {
            assert!(!f.serial(false), "shallow joins record frames");
            let _ = f.push(job(n));
        }
        // The deepest shallow frame is popped (its `b` runs inline); its `join` still runs.
        assert!(!f.serial(false));
        assert!(!f.push(job(9)));
        assert_eq!(f.pop(), Popped::Lazy);
        // `calls` is FRAMES_BEFORE_SERIAL here: the next FRAME_EVERY * 4 calls hold 4
        // multiples of FRAME_EVERY.
        let serial = (0..FRAME_EVERY * 4).filter(|_| f.serial(false)).count();
        assert_eq!(serial as u32, FRAME_EVERY * 4 - 4);
        assert!((0..100).all(|_| !f.serial(true)), "a hungry peer gets frames");
        f.finished();
        assert!(!f.serial(false), "back above FRAMES_BEFORE_SERIAL");
    }
}
