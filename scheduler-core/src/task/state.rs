//! The task state word: named bits and typed transitions.
//!
//! One `AtomicUsize` per task holds six flags and a reference count:
//!
//! | bit | name | set when | cleared when |
//! |---|---|---|---|
//! | 0 | `RUNNING` | a worker claims the task to poll it, or a canceller claims an idle task | the poll returns `Pending` (never cleared once `COMPLETE`) |
//! | 1 | `COMPLETE` | the output (value, panic or cancellation) is stored | never |
//! | 2 | `NOTIFIED` | a wake-up happens while the task is not `COMPLETE` | a worker claims it to run |
//! | 3 | `CANCELLED` | `abort()` or shutdown asks for cancellation | never |
//! | 4 | `JOIN_INTEREST` | at spawn (a `JoinHandle` exists; never for a detached spawn) | the `JoinHandle` is dropped |
//! | 5 | `JOIN_WAKER` | the `JoinHandle` stored a waker in the cell | the `JoinHandle` replaces or drops it |
//! | 6.. | refcount | one per owner: the owned-task list, the `JoinHandle`, each `Waker`, and one for the current notification (queued) or run | |
//!
//! A detached task (`spawn_fn_detached`) starts without `JOIN_INTEREST` and without the
//! `JoinHandle`'s ref ([`State::new_detached`]); from then on it is a task whose handle was
//! dropped before it ran.
//!
//! Invariants:
//! - Whoever sets `RUNNING` (by [`State::transition_to_running`] or a `Claimed`
//!   [`State::transition_to_cancel`]) has exclusive access to the task's stage until it sets
//!   `COMPLETE` or clears `RUNNING`.
//! - A task is in at most one queue: only the transition that sets `NOTIFIED` on an idle task
//!   (neither `RUNNING` nor `NOTIFIED` nor `COMPLETE`) returns [`Notify::Submit`], and that ref
//!   travels with the queue entry.
//! - After `COMPLETE`, the stage belongs to the `JoinHandle` if `JOIN_INTEREST` was set at that
//!   moment, else to the completing thread, which drops the output.
//! - The join-waker slot may be written only by the `JoinHandle` while `JOIN_WAKER` is clear and
//!   `COMPLETE` is clear; while `JOIN_WAKER` is set it is read-only for everyone.
//!
//! Orderings: every transition is an `AcqRel` read-modify-write, so the stage writes of the
//! thread that clears `RUNNING` or sets `COMPLETE` are visible to the next claimant (Acquire of
//! the claim pairs with the Release of the previous transition). Reference increments are
//! `Relaxed` (the incrementer already holds a ref); the decrement is `AcqRel` so the thread that
//! frees the cell sees every other owner's last writes.

use crate::sync::atomic::{AtomicUsize, Ordering};

/// The buggy variant of the already-notified wake (no write), for the `should_panic` loom model
/// only: see `loom_api::skip_notified_wake_write`.
#[cfg(loom)]
fn skip_notified_write() -> bool {
    crate::loom_api::notified_wake_write_skipped()
}

#[cfg(not(loom))]
#[inline(always)]
fn skip_notified_write() -> bool {
    false
}

const RUNNING: usize = 1 << 0;
const COMPLETE: usize = 1 << 1;
const NOTIFIED: usize = 1 << 2;
const CANCELLED: usize = 1 << 3;
const JOIN_INTEREST: usize = 1 << 4;
const JOIN_WAKER: usize = 1 << 5;
const REF_SHIFT: usize = 6;
const REF_ONE: usize = 1 << REF_SHIFT;

/// A new task: queued (`NOTIFIED`), a `JoinHandle` exists, and three refs: the owned-task
/// list, the `JoinHandle`, the notification.
const INITIAL: usize = NOTIFIED | JOIN_INTEREST | (3 * REF_ONE);

/// A new detached task: queued, no `JoinHandle`, two refs (the owned-task list, the
/// notification).
const INITIAL_DETACHED: usize = NOTIFIED | (2 * REF_ONE);

/// A copy of the state word at one instant.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

impl Snapshot {
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(crate) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(crate) fn has_join_waker(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    pub(crate) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }
    fn is_idle(self) -> bool {
        self.0 & (RUNNING | NOTIFIED | COMPLETE) == 0
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("cancelled", &self.is_cancelled())
            .field("join_interest", &self.is_join_interested())
            .field("join_waker", &self.has_join_waker())
            .field("refs", &self.ref_count())
            .finish()
    }
}

/// Outcome of [`State::transition_to_running`].
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToRunning {
    /// The caller holds `RUNNING` and should poll.
    Poll,
    /// The caller holds `RUNNING` but cancellation was requested: cancel instead of polling.
    Cancel,
}

/// Outcome of [`State::transition_to_idle`].
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToIdle {
    /// `RUNNING` cleared and the run's ref released; the task waits for a wake-up.
    Idle,
    /// Woken during the poll: `RUNNING` cleared, `NOTIFIED` kept, and the run's ref now belongs
    /// to the new notification: the caller must queue the task again.
    Notified,
    /// Cancellation was requested during the poll; the caller still holds `RUNNING`.
    Cancel,
}

/// Outcome of a wake-up.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notify {
    /// Nothing to do (already queued, running, or complete).
    Nothing,
    /// The task went idle -> notified and a ref was added: the caller must queue it.
    Submit,
}

/// Outcome of [`State::transition_to_cancel`].
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToCancel {
    /// The task was idle: the caller now holds `RUNNING` and one new ref, and must cancel it.
    Claimed,
    /// The task is queued or running: `CANCELLED` is set and whoever runs it next cancels it.
    Deferred,
    /// The task is already complete.
    AlreadyComplete,
}

/// The atomic state word of one task.
pub(crate) struct State(AtomicUsize);

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.load().fmt(f)
    }
}

impl State {
    /// The state of a freshly spawned, queued task.
    pub(crate) fn new() -> State {
        State(AtomicUsize::new(INITIAL))
    }

    /// The state of a freshly spawned, queued task that nobody joins.
    pub(crate) fn new_detached() -> State {
        State(AtomicUsize::new(INITIAL_DETACHED))
    }

    /// Acquire: pairs with the Release half of the transition that set `COMPLETE`.
    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Ordering::Acquire))
    }

    /// Applies `f` until the compare-exchange succeeds; `f` returns the new word or `None` to
    /// stop. Returns the word `f` last saw and whether it was stored.
    #[inline]
    fn update<R>(&self, mut f: impl FnMut(Snapshot) -> (Option<usize>, R)) -> R {
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            let (next, out) = f(Snapshot(cur));
            let Some(next) = next else { return out };
            // AcqRel: the Release publishes our stage writes to the next claimant; the Acquire
            // pairs with the previous transition's Release.
            match self.0.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return out,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Claims a queued task for a run. The caller holds the notification's ref, which becomes
    /// the run's ref. Precondition: `NOTIFIED` set, `RUNNING` and `COMPLETE` clear.
    ///
    /// One `fetch_add` rather than a compare-exchange loop: under the precondition, adding
    /// `RUNNING - NOTIFIED` clears `NOTIFIED` and sets `RUNNING` without a carry into any other
    /// bit, whatever the other bits do meanwhile (only `CANCELLED`, `JOIN_*` and the refcount
    /// can change under us, and nobody else clears `NOTIFIED` or sets `RUNNING`).
    #[inline]
    pub(crate) fn transition_to_running(&self) -> ToRunning {
        // AcqRel as every transition (module doc).
        let prev = Snapshot(self.0.fetch_add(RUNNING.wrapping_sub(NOTIFIED), Ordering::AcqRel));
        debug_assert!(prev.is_notified() && !prev.is_running() && !prev.is_complete(), "{prev:?}");
        if prev.is_cancelled() {
            ToRunning::Cancel
        } else {
            ToRunning::Poll
        }
    }

    /// Claims a queued task for its run without a read-modify-write when nobody else can
    /// reach the word: true (and `RUNNING` is ours, the notification's ref the run's) when the
    /// word is exactly a detached task's initial one. False: nothing changed, the caller
    /// takes [`transition_to_running`](Self::transition_to_running).
    ///
    /// Precondition: the task is in no owned-task list (never idle). Then the two refs are
    /// the caller's notification and the unlisted owned ref that nobody holds; no
    /// `JoinHandle`, `AbortHandle` or waker exists (each would hold a ref, or `JOIN_INTEREST`),
    /// and a new one can only be made from an existing one: the word is the caller's alone
    /// until its poll makes a waker. The Acquire load pairs with the queue hand-off that gave
    /// the caller the task.
    #[inline]
    pub(crate) fn try_claim_unshared(&self) -> bool {
        if self.0.load(Ordering::Acquire) != INITIAL_DETACHED {
            return false;
        }
        // Release: publishes nothing new (the word is ours alone), kept as every transition.
        self.0.store((INITIAL_DETACHED & !NOTIFIED) | RUNNING, Ordering::Release);
        true
    }

    /// True when the caller's `n` refs are the only ones (the Acquire load sees every other
    /// owner's last writes, published by its ref drop's Release). For a task nobody joins and
    /// no owned-task list holds, that means nobody else can reach the cell any more: the
    /// caller may free it without touching the word.
    #[inline]
    pub(crate) fn only_refs(&self, n: usize) -> bool {
        self.load().ref_count() == n
    }

    /// Releases `RUNNING` after a poll returned `Pending`.
    pub(crate) fn transition_to_idle(&self) -> ToIdle {
        self.update(|s| {
            debug_assert!(s.is_running() && !s.is_complete(), "{s:?}");
            if s.is_cancelled() {
                // No write: the caller keeps RUNNING and cancels; the canceller's only message
                // is the bit, which this Acquire read already saw.
                (None, ToIdle::Cancel)
            } else if s.is_notified() {
                (Some(s.0 & !RUNNING), ToIdle::Notified)
            } else {
                debug_assert!(s.ref_count() >= 2, "the owned list still holds a ref");
                (Some((s.0 & !RUNNING) - REF_ONE), ToIdle::Idle)
            }
        })
    }

    /// Sets `COMPLETE` and clears `RUNNING` in one step; returns the word before.
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        // AcqRel: Release publishes the stored output to the JoinHandle (its Acquire load);
        // Acquire sees the JoinHandle's last waker write.
        let prev = Snapshot(self.0.fetch_xor(RUNNING | COMPLETE, Ordering::AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete(), "{prev:?}");
        prev
    }

    /// Completes a task whose output nobody reads (no `JOIN_INTEREST`): sets `COMPLETE`, clears
    /// `RUNNING` and drops `n` refs in one step. True when they were the last (the caller must
    /// free the cell); either way the caller must not touch the cell afterwards unless so.
    ///
    /// Precondition: the caller holds `RUNNING` and `n` refs, and `JOIN_INTEREST` is clear (it
    /// is never set again, so no `JoinHandle` can read the stage or store a waker). Adding
    /// `COMPLETE - RUNNING - n * REF_ONE` flips the two bits and lowers the count without a
    /// carry into any other bit, as in [`transition_to_running`](Self::transition_to_running).
    #[inline]
    #[must_use]
    pub(crate) fn complete_unjoined(&self, n: usize) -> bool {
        let delta = COMPLETE.wrapping_sub(RUNNING).wrapping_sub(n * REF_ONE);
        // AcqRel: Release publishes the dropped stage to whoever frees the cell; Acquire lets
        // us free it after every other owner's last writes.
        let prev = Snapshot(self.0.fetch_add(delta, Ordering::AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete(), "{prev:?}");
        debug_assert!(!prev.is_join_interested() && prev.ref_count() >= n, "{prev:?}");
        prev.ref_count() == n
    }

    /// A wake-up through a borrowed waker.
    ///
    /// Every branch but "complete" writes the word, the already-notified one included (it
    /// stores the unchanged word back): the waker's own writes before `wake` (the flag the
    /// future will read) must happen-before the poll that consumes the notification, and only
    /// a write in the word's modification order gives that poll's Acquire claim something to
    /// synchronise with. A wake merged into a pending notification without a write can be
    /// consumed by a poll that still reads the old flag, and then nothing polls again (tokio
    /// fixed the same shape in its `transition_to_notified_by_ref`).
    pub(crate) fn transition_to_notified(&self) -> Notify {
        self.update(|s| {
            if s.is_complete() {
                // No poll follows a completion, so nothing needs to see the waker's writes.
                (None, Notify::Nothing)
            } else if s.is_notified() {
                if skip_notified_write() {
                    (None, Notify::Nothing)
                } else {
                    (Some(s.0), Notify::Nothing)
                }
            } else if s.is_running() {
                (Some(s.0 | NOTIFIED), Notify::Nothing)
            } else {
                (Some((s.0 | NOTIFIED) + REF_ONE), Notify::Submit)
            }
        })
    }

    /// Requests cancellation (`abort()` or shutdown).
    pub(crate) fn transition_to_cancel(&self) -> ToCancel {
        self.update(|s| {
            if s.is_complete() {
                // No write: nothing runs after a completion, so nothing must see the caller.
                (None, ToCancel::AlreadyComplete)
            } else if s.is_idle() {
                (Some((s.0 | RUNNING | CANCELLED) + REF_ONE), ToCancel::Claimed)
            } else if s.is_cancelled() {
                // No write: the bit is already set and an abort carries no other data for the
                // thread that will cancel.
                (None, ToCancel::Deferred)
            } else {
                (Some(s.0 | CANCELLED), ToCancel::Deferred)
            }
        })
    }

    /// The `JoinHandle` stores a waker: sets `JOIN_WAKER` unless the task completed.
    pub(crate) fn set_join_waker(&self) -> Result<(), Snapshot> {
        self.update(|s| {
            debug_assert!(s.is_join_interested() && !s.has_join_waker());
            if s.is_complete() {
                // No write: the caller reads the output next; this Acquire read pairs with the
                // completion's Release, which is all that read needs.
                (None, Err(s))
            } else {
                (Some(s.0 | JOIN_WAKER), Ok(()))
            }
        })
    }

    /// The `JoinHandle` wants to replace its waker: clears `JOIN_WAKER` unless complete.
    pub(crate) fn unset_join_waker(&self) -> Result<(), Snapshot> {
        self.update(|s| {
            debug_assert!(s.is_join_interested() && s.has_join_waker());
            if s.is_complete() {
                // No write: as in `set_join_waker`.
                (None, Err(s))
            } else {
                (Some(s.0 & !JOIN_WAKER), Ok(()))
            }
        })
    }

    /// The `JoinHandle` is dropped: clears `JOIN_INTEREST` (and `JOIN_WAKER`) unless complete.
    /// `Ok(prev)`: the caller owns the waker slot if `prev` had a waker. `Err(_)`: the task is
    /// complete and the caller owns (and must drop) the output.
    pub(crate) fn unset_join_interest(&self) -> Result<Snapshot, Snapshot> {
        self.update(|s| {
            debug_assert!(s.is_join_interested());
            if s.is_complete() {
                // No write: the caller drops the output, published by the completion's
                // Release and seen by this Acquire read.
                (None, Err(s))
            } else {
                (Some(s.0 & !(JOIN_INTEREST | JOIN_WAKER)), Ok(s))
            }
        })
    }

    /// The `JoinHandle` is dropped before completion and without a stored waker: clears
    /// `JOIN_INTEREST` and drops its ref in one step. False (nothing changed) otherwise; the
    /// caller then takes the slow path. The ref cannot be the last: an incomplete task still
    /// holds the scheduler's owned ref.
    pub(crate) fn drop_join_handle_fast(&self) -> bool {
        self.update(|s| {
            debug_assert!(s.is_join_interested());
            if s.is_complete() || s.has_join_waker() {
                // No write: the slow path that follows does its own transition.
                (None, false)
            } else {
                debug_assert!(s.ref_count() >= 2);
                (Some((s.0 & !JOIN_INTEREST) - REF_ONE), true)
            }
        })
    }

    /// Adds a ref (a waker clone). Relaxed: the caller already holds a ref.
    pub(crate) fn ref_inc(&self) {
        let prev = self.0.fetch_add(REF_ONE, Ordering::Relaxed);
        if prev > isize::MAX as usize {
            std::process::abort();
        }
    }

    /// Drops `n` refs; true when they were the last (the caller must free the cell).
    #[must_use]
    pub(crate) fn ref_dec(&self, n: usize) -> bool {
        // AcqRel: Release publishes this owner's writes; Acquire lets the freeing thread see
        // every other owner's.
        let prev = Snapshot(self.0.fetch_sub(n * REF_ONE, Ordering::AcqRel));
        debug_assert!(prev.ref_count() >= n, "{prev:?}");
        prev.ref_count() == n
    }
}
