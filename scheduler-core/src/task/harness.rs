//! The typed operations of a task cell `Cell<F>`, which the vtable of [`super::raw`] points
//! at: poll, cancel and complete, the `JoinHandle`'s read of the output and its drop.
//!
//! Each runs with the access the state word gives its caller (see the [`super::raw`] module
//! doc: the stage belongs to the holder of `RUNNING`, then after `COMPLETE` to the
//! `JoinHandle`; the join-waker slot to the `JoinHandle` while `JOIN_WAKER` is clear); each
//! `unsafe fn` names that access in its `# Safety` section.

use super::raw::{cell, dealloc, Cell, Header, Stage, UNLISTED};
use super::state::{ToIdle, ToRunning};
use super::waker::raw_waker;
use super::{JoinError, Notified, RunOutcome};
use crate::sync::atomic::Ordering;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

/// # Safety
/// The caller owns the notification ref of `ptr`, a `Cell<F>`.
pub(super) unsafe fn poll<F: Future, const DETACHED: bool>(ptr: NonNull<Header>) -> RunOutcome {
    // SAFETY: the caller's ref keeps the cell alive; the type is fixed by the vtable.
    let cell = unsafe { cell::<F>(ptr) };
    // A never-idle task is in no owned-task list: a detached one is then claimed with a plain
    // store (`State::try_claim_unshared`).
    let unlisted = cell.header.owned.load(Ordering::Relaxed) == UNLISTED;
    if !(unlisted && cell.header.state.try_claim_unshared())
        && cell.header.state.transition_to_running() == ToRunning::Cancel
    {
        // SAFETY: we hold RUNNING and the run ref.
        unsafe { cancel::<F, DETACHED>(ptr) };
        return RunOutcome::Done;
    }
    // The run's ref keeps the task alive while the borrowed waker is in use.
    let waker = ManuallyDrop::new(
        // SAFETY: the raw waker's vtable upholds the RawWaker contract (see `waker::WAKER_VTABLE`);
        // ManuallyDrop: this borrowed waker owns no ref.
        unsafe { Waker::from_raw(raw_waker(ptr)) },
    );
    let mut cx = Context::from_waker(&waker);
    let polled = catch_unwind(AssertUnwindSafe(|| {
        cell.stage.with_mut(|stage| {
            // SAFETY: we hold RUNNING, which gives exclusive access to the stage.
            match unsafe { &mut *stage } {
                // SAFETY: the future is never moved out of the heap cell while `Running`
                // (it is dropped in place), so pinning holds.
                Stage::Running(fut) => unsafe { Pin::new_unchecked(fut) }.poll(&mut cx),
                _ => unreachable!("a queued task holds a future"),
            }
        })
    }));
    match polled {
        Ok(Poll::Pending) => {
            // First time idle: list it so shutdown can find it (module doc of runtime/owned).
            if cell.header.owned.load(Ordering::Relaxed) == UNLISTED {
                let sched = cell.header.scheduler;
                // SAFETY: not complete, so the scheduler is alive (module doc).
                if !unsafe { (sched.vtable.bind)(sched.data, ptr) } {
                    // SAFETY: we hold RUNNING and the run's ref.
                    unsafe { cancel::<F, DETACHED>(ptr) };
                    return RunOutcome::Done;
                }
            }
            idle_after_poll::<F, DETACHED>(ptr, cell)
        }

        Ok(Poll::Ready(value)) => {
            let dropped = drop_future(cell);
            let out = match dropped {
                Ok(()) => Ok(value),
                Err(payload) => Err(JoinError::panicked(payload)),
            };
            // SAFETY: we still hold RUNNING and the run ref.
            unsafe { complete::<F, DETACHED>(ptr, cell, out) };
            RunOutcome::Done
        }
        Err(payload) => {
            let _ = drop_future(cell);
            // SAFETY: we still hold RUNNING and the run ref.
            unsafe { complete::<F, DETACHED>(ptr, cell, Err(JoinError::panicked(payload))) };
            RunOutcome::Done
        }
    }
}

/// Releases `RUNNING` after a `Pending` poll.
fn idle_after_poll<F: Future, const DETACHED: bool>(
    ptr: NonNull<Header>,
    cell: &Cell<F>,
) -> RunOutcome {
    match cell.header.state.transition_to_idle() {
        ToIdle::Idle => RunOutcome::Idle,
        ToIdle::Notified => RunOutcome::Yielded(Notified(ptr)),
        ToIdle::Cancel => {
            // SAFETY: transition_to_idle left RUNNING set; we hold the run ref.
            unsafe { cancel::<F, DETACHED>(ptr) };
            RunOutcome::Done
        }
    }
}

/// Drops the future in place (the caller holds `RUNNING`), catching a panicking `Drop`.
fn drop_future<F: Future>(cell: &Cell<F>) -> std::thread::Result<()> {
    catch_unwind(AssertUnwindSafe(|| {
        cell.stage.with_mut(|stage| {
            // SAFETY: the caller holds RUNNING: exclusive access to the stage.
            unsafe { *stage = Stage::Consumed };
        })
    }))
}

/// # Safety
/// The caller holds `RUNNING` and one ref (the run's) of the `Cell<F>` at `ptr`.
pub(super) unsafe fn cancel<F: Future, const DETACHED: bool>(ptr: NonNull<Header>) {
    // SAFETY: the caller's ref keeps the cell alive.
    let cell = unsafe { cell::<F>(ptr) };
    let out = match drop_future(cell) {
        Ok(()) => Err(JoinError::cancelled()),
        Err(payload) => Err(JoinError::panicked(payload)),
    };
    // SAFETY: forwarded from our caller.
    unsafe { complete::<F, DETACHED>(ptr, cell, out) };
}

/// Completes the task with `out`: [`complete_unjoined`], inline in the poll, for a task
/// spawned detached (`DETACHED`: it never had a `JoinHandle`), else [`complete_joined`]
/// (which also drops the output of a task whose `JoinHandle` is gone). Chosen by the spawn,
/// not by the state word: when a joined task whose handle was dropped before it completed
/// took `complete_unjoined` too, `spawn_external` (tasks spawned from outside, their
/// handles dropped at once) went from about 100 to 230 ns per task.
///
/// # Safety
/// The caller holds `RUNNING` and the run's ref; a `DETACHED` task never had
/// `JOIN_INTEREST`.
#[inline(always)]
unsafe fn complete<F: Future, const DETACHED: bool>(
    ptr: NonNull<Header>,
    cell: &Cell<F>,
    out: Result<F::Output, JoinError>,
) {
    if DETACHED {
        // SAFETY: forwarded from our caller; a detached task's JOIN_INTEREST was never set.
        unsafe { complete_unjoined(ptr, cell, out) }
    } else {
        // SAFETY: forwarded from our caller.
        unsafe { complete_joined(ptr, cell, out) }
    }
}

/// [`complete`] for a task whose `JoinHandle` may read the output: stores it, sets
/// `COMPLETE`, leaves the owned list, wakes the joiner and drops the run's and the owned
/// list's refs.
///
/// # Safety
/// As for [`complete`].
#[inline(never)]
unsafe fn complete_joined<F: Future>(
    ptr: NonNull<Header>,
    cell: &Cell<F>,
    out: Result<F::Output, JoinError>,
) {
    let panicked = matches!(&out, Err(e) if e.is_panic());
    cell.stage.with_mut(|stage| {
        // SAFETY: RUNNING gives exclusive access to the stage.
        unsafe { *stage = Stage::Finished(out) };
    });
    let sched = cell.header.scheduler;
    if panicked {
        // SAFETY: the task is not yet released, so the scheduler is alive (module doc).
        unsafe { (sched.vtable.on_panic)(sched.data) };
    }
    let prev = cell.header.state.transition_to_complete();
    // Leave the owned list before waking the joiner, so a joiner that sees the output also
    // sees the live-task count without this task.
    // SAFETY: as above: not yet released.
    let keep = unsafe { (sched.vtable.release)(sched.data, ptr) };
    if !prev.is_join_interested() {
        // Nobody will read the output: it is ours to drop. A panicking Drop of the output is
        // contained here (the worker survives).
        let _ = catch_unwind(AssertUnwindSafe(|| {
            cell.stage.with_mut(|stage| {
                // SAFETY: COMPLETE without JOIN_INTEREST: the stage belongs to us.
                unsafe { *stage = Stage::Consumed };
            })
        }));
    } else if prev.has_join_waker() {
        cell.join_waker.with(|slot| {
            // SAFETY: JOIN_WAKER is set and COMPLETE now too: the slot is read-only for all.
            if let Some(w) = unsafe { &*slot } {
                w.wake_by_ref();
            }
        });
    }
    // SAFETY: we own the run's ref and the owned list's ref.
    unsafe { Header::drop_refs(ptr, 2) };
    drop(keep);
}

/// The completion of a detached task (it never had a `JoinHandle`): the output is dropped at
/// once (never stored), the task leaves the owned list while it still holds `RUNNING`, then
/// one read-modify-write sets `COMPLETE` and drops the run's and the owned list's refs; none
/// when those two refs are the last (no waker or `AbortHandle` left): then the cell is freed
/// at once. Leaving the list first is what `complete_joined` does too, only earlier: while `RUNNING` is held a wake-up only sets `NOTIFIED`,
/// so nothing reaches the scheduler through this task after `release`.
///
/// # Safety
/// The caller holds `RUNNING` and the run's ref; `JOIN_INTEREST` is clear.
#[inline(always)]
unsafe fn complete_unjoined<F: Future>(
    ptr: NonNull<Header>,
    cell: &Cell<F>,
    out: Result<F::Output, JoinError>,
) {
    let sched = cell.header.scheduler;
    if matches!(&out, Err(e) if e.is_panic()) {
        // SAFETY: the task is not yet released, so the scheduler is alive (module doc of raw).
        unsafe { (sched.vtable.on_panic)(sched.data) };
    }
    // A panicking Drop of the output is contained here (the worker survives).
    let _ = catch_unwind(AssertUnwindSafe(move || drop(out)));
    // SAFETY: as above: not yet released.
    let keep = unsafe { (sched.vtable.release)(sched.data, ptr) };
    // Unlisted now, unjoined: if our two refs are the only ones, nobody else can reach the
    // cell (a new ref is made only from an existing one): free it without setting COMPLETE.
    let state = &cell.header.state;
    if state.only_refs(2) || state.complete_unjoined(2) {
        // SAFETY: those were the last refs: nobody else can reach the cell, a `Cell<F>`.
        unsafe { dealloc::<F>(ptr) };
    }
    drop(keep);
}

/// # Safety
/// Called by the `JoinHandle` (which holds `JOIN_INTEREST` and a ref); `dst` points to a
/// `Poll<Result<F::Output, JoinError>>`.
pub(super) unsafe fn try_read_output<F: Future>(ptr: NonNull<Header>, dst: *mut (), waker: &Waker) {
    // SAFETY: the JoinHandle's ref keeps the cell alive.
    let cell = unsafe { cell::<F>(ptr) };
    let snap = cell.header.state.load();
    if !snap.is_complete() && register_join_waker(cell, snap, waker).is_ok() {
        return;
    }
    let out = cell.stage.with_mut(|stage| {
        // SAFETY: COMPLETE and JOIN_INTEREST (ours): the stage belongs to the JoinHandle.
        match std::mem::replace(unsafe { &mut *stage }, Stage::Consumed) {
            Stage::Finished(out) => out,
            _ => Err(JoinError::cancelled()), // polled again after Ready: documented
        }
    });
    let dst = dst.cast::<Poll<Result<F::Output, JoinError>>>();
    // SAFETY: the caller passes a valid, exclusive pointer of this type.
    unsafe { *dst = Poll::Ready(out) };
}

/// Stores `waker` for the completion to wake. `Err` means the task completed meanwhile.
fn register_join_waker<F: Future>(
    cell: &Cell<F>,
    snap: super::state::Snapshot,
    waker: &Waker,
) -> Result<(), ()> {
    let state = &cell.header.state;
    if snap.has_join_waker() {
        let same = cell.join_waker.with(|slot| {
            // SAFETY: JOIN_WAKER set: the slot is read-only for everyone, reads are fine.
            unsafe { &*slot }.as_ref().is_some_and(|w| w.will_wake(waker))
        });
        if same {
            return Ok(());
        }
        state.unset_join_waker().map_err(|_| ())?;
    }
    cell.join_waker.with_mut(|slot| {
        // SAFETY: JOIN_WAKER clear and not COMPLETE: only the JoinHandle (us) writes the slot.
        unsafe { *slot = Some(waker.clone()) };
    });
    state.set_join_waker().map_err(|_| ())
}

/// # Safety
/// Called once by the dropping `JoinHandle`, which gives up its ref.
pub(super) unsafe fn drop_join_handle<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: the JoinHandle's ref keeps the cell alive.
    let cell = unsafe { cell::<F>(ptr) };
    if cell.header.state.drop_join_handle_fast() {
        return; // one RMW: interest and ref gone, nothing of ours in the cell
    }
    match cell.header.state.unset_join_interest() {
        Ok(prev) => {
            if prev.has_join_waker() {
                cell.join_waker.with_mut(|slot| {
                    // SAFETY: we cleared JOIN_WAKER before COMPLETE: the slot is ours.
                    unsafe { *slot = None };
                });
            }
        }
        Err(_) => {
            let _ = catch_unwind(AssertUnwindSafe(|| {
                cell.stage.with_mut(|stage| {
                    // SAFETY: COMPLETE with our JOIN_INTEREST: the stage is ours.
                    unsafe { *stage = Stage::Consumed };
                })
            }));
        }
    }
    // SAFETY: the JoinHandle's ref.
    unsafe { Header::drop_refs(ptr, 1) };
}
