//! The task cell: one allocation holding the header, the future or its output, and the
//! join waker; and the type-erased functions that drive it.
//!
//! Layout (`#[repr(C)]`, so a `NonNull<Header>` is also a pointer to the whole cell):
//!
//! ```text
//! Cell<F> { header: Header { state, vtable, scheduler, priority, owned slot },
//!           stage: Running(F) | Finished(Result<F::Output, JoinError>) | Consumed,
//!           join_waker: Option<Waker> }
//! ```
//!
//! Who may touch what is decided by the state word (see [`super::state`]): the stage belongs
//! to the holder of `RUNNING`, then after `COMPLETE` to the `JoinHandle` (or to the completing
//! thread when nobody joins); the join-waker slot to the `JoinHandle` while `JOIN_WAKER` is
//! clear. The cell is freed by whoever drops the last reference.
//!
//! The header does not own its scheduler: it holds a raw [`Scheduler`] (function table plus
//! data pointer). The runtime keeps its shared state alive while any task is not yet complete
//! (see `runtime::owned`), and a complete task never calls its scheduler again.

use super::state::{State, ToCancel, ToIdle, ToRunning};
use super::{JoinError, Notified, RunOutcome};
use crate::priority::Priority;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::UnsafeCell;
use std::alloc::Layout;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// What a task needs from whoever schedules it.
#[derive(Debug)]
pub(crate) struct SchedulerVtable {
    /// Queues a task a waker made runnable (called from any thread).
    pub(crate) schedule: unsafe fn(*const (), Notified),
    /// Lists a task in the owned-task list the first time it goes idle (its first `Pending`).
    /// False when the scheduler shuts down: the caller (holding `RUNNING`) cancels the task.
    pub(crate) bind: unsafe fn(*const (), NonNull<Header>) -> bool,
    /// A task completes: unlists it if listed. Returns a value to drop after the task no
    /// longer touches the scheduler (it may end the scheduler's life).
    pub(crate) release: unsafe fn(*const (), NonNull<Header>) -> Option<crate::runtime::KeepAlive>,
    /// Counts a caught panic (called on the completing thread, before the joiner wakes).
    pub(crate) on_panic: unsafe fn(*const ()),
}

/// A scheduler as a task sees it: a function table and its data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scheduler {
    pub(crate) vtable: &'static SchedulerVtable,
    pub(crate) data: *const (),
}

/// The type-erased functions of one `Cell<F>`.
struct TaskVtable {
    poll: unsafe fn(NonNull<Header>) -> RunOutcome,
    cancel: unsafe fn(NonNull<Header>),
    dealloc: unsafe fn(NonNull<Header>),
    try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    drop_join_handle: unsafe fn(NonNull<Header>),
}

/// The first field of every task cell.
/// `Header::owned` of a task that never went idle (so it is in no owned-task list).
pub(crate) const UNLISTED: u64 = u64::MAX;

#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    vtable: &'static TaskVtable,
    pub(crate) scheduler: Scheduler,
    pub(crate) priority: Priority,
    /// Where the owned-task list holds this task: `shard << 32 | slot`, or [`UNLISTED`].
    /// Written by `bind` under the shard lock while the binder holds `RUNNING`; read by the
    /// completing thread, ordered after it by the state word's AcqRel transitions.
    pub(crate) owned: AtomicU64,
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field("state", &self.state)
            .field("priority", &self.priority)
            .finish()
    }
}

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

#[repr(C)]
struct Cell<F: Future> {
    header: Header,
    stage: UnsafeCell<Stage<F>>,
    join_waker: UnsafeCell<Option<Waker>>,
}

/// Allocates a task cell for `future`; the state is `INITIAL` (three refs: owned list,
/// `JoinHandle`, the returned notification).
pub(crate) fn allocate<F>(future: F, scheduler: Scheduler, priority: Priority) -> NonNull<Header>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let cell = Cell {
        header: Header {
            state: State::new(),
            vtable: vtable::<F>(),
            scheduler,
            priority,
            owned: AtomicU64::new(UNLISTED),
        },
        stage: UnsafeCell::new(Stage::Running(future)),
        join_waker: UnsafeCell::new(None),
    };
    let ptr = super::cell_cache::alloc(Layout::new::<Cell<F>>()).cast::<Cell<F>>();
    // SAFETY: `alloc` returned memory with `Cell<F>`'s size and alignment (or more), unused;
    // from here the task's refs own the value written.
    unsafe { ptr.as_ptr().write(cell) };
    #[cfg(test)]
    live_cells::add(1);
    // `Cell` is repr(C) with `Header` first, so the cell pointer is a header pointer.
    ptr.cast()
}

fn vtable<F>() -> &'static TaskVtable
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    &TaskVtable {
        poll: poll::<F>,
        cancel: cancel::<F>,
        dealloc: dealloc::<F>,
        try_read_output: try_read_output::<F>,
        drop_join_handle: drop_join_handle::<F>,
    }
}

/// Type-erased entry points; each forwards to the cell's vtable.
impl Header {
    /// # Safety
    /// `ptr` is a live task whose notification ref the caller owns (it came off a queue).
    pub(crate) unsafe fn poll(ptr: NonNull<Header>) -> RunOutcome {
        // SAFETY: the caller's ref keeps the header alive.
        unsafe { (ptr.as_ref().vtable.poll)(ptr) }
    }

    /// # Safety
    /// The caller holds `RUNNING` (from a `Claimed` cancel or a run) and that run's ref.
    pub(crate) unsafe fn cancel(ptr: NonNull<Header>) {
        // SAFETY: the caller's ref keeps the header alive.
        unsafe { (ptr.as_ref().vtable.cancel)(ptr) }
    }

    /// # Safety
    /// The caller is the `JoinHandle` of this task; `dst` points to a
    /// `Poll<Result<F::Output, JoinError>>` of the cell's output type.
    pub(crate) unsafe fn try_read_output(ptr: NonNull<Header>, dst: *mut (), waker: &Waker) {
        // SAFETY: the JoinHandle's ref keeps the header alive; dst's type is the caller's duty.
        unsafe { (ptr.as_ref().vtable.try_read_output)(ptr, dst, waker) }
    }

    /// # Safety
    /// The caller is the `JoinHandle` and gives up its ref.
    pub(crate) unsafe fn drop_join_handle(ptr: NonNull<Header>) {
        // SAFETY: the JoinHandle's ref keeps the header alive until this call releases it.
        unsafe { (ptr.as_ref().vtable.drop_join_handle)(ptr) }
    }

    /// Drops `n` refs and frees the cell if they were the last.
    ///
    /// # Safety
    /// The caller owns `n` refs of the live task `ptr`.
    pub(crate) unsafe fn drop_refs(ptr: NonNull<Header>, n: usize) {
        // SAFETY: the caller's refs keep the header alive during the decrement.
        let header = unsafe { ptr.as_ref() };
        if header.state.ref_dec(n) {
            // SAFETY: we dropped the last ref: nobody else can reach the cell.
            unsafe { (header.vtable.dealloc)(ptr) }
        }
    }
}

/// # Safety
/// `ptr` points to a live `Cell<F>`.
unsafe fn cell<'a, F: Future>(ptr: NonNull<Header>) -> &'a Cell<F> {
    // SAFETY: the caller guarantees the cell type and liveness; repr(C) makes the cast valid.
    unsafe { ptr.cast::<Cell<F>>().as_ref() }
}

/// # Safety
/// The caller owns the notification ref of `ptr`, a `Cell<F>`.
unsafe fn poll<F: Future>(ptr: NonNull<Header>) -> RunOutcome {
    // SAFETY: the caller's ref keeps the cell alive; the type is fixed by the vtable.
    let cell = unsafe { cell::<F>(ptr) };
    if cell.header.state.transition_to_running() == ToRunning::Cancel {
        // SAFETY: we hold RUNNING and the run ref.
        unsafe { cancel::<F>(ptr) };
        return RunOutcome::Done;
    }
    // The run's ref keeps the task alive while the borrowed waker is in use.
    let waker = ManuallyDrop::new(
        // SAFETY: the raw waker's vtable upholds the RawWaker contract (see `WAKER_VTABLE`);
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
                    unsafe { cancel::<F>(ptr) };
                    return RunOutcome::Done;
                }
            }
            idle_after_poll::<F>(ptr, cell)
        }

        Ok(Poll::Ready(value)) => {
            let dropped = drop_future(cell);
            let out = match dropped {
                Ok(()) => Ok(value),
                Err(payload) => Err(JoinError::panicked(payload)),
            };
            // SAFETY: we still hold RUNNING and the run ref.
            unsafe { complete(ptr, cell, out) };
            RunOutcome::Done
        }
        Err(payload) => {
            let _ = drop_future(cell);
            // SAFETY: we still hold RUNNING and the run ref.
            unsafe { complete(ptr, cell, Err(JoinError::panicked(payload))) };
            RunOutcome::Done
        }
    }
}

/// Releases `RUNNING` after a `Pending` poll.
fn idle_after_poll<F: Future>(ptr: NonNull<Header>, cell: &Cell<F>) -> RunOutcome {
    match cell.header.state.transition_to_idle() {
        ToIdle::Idle => RunOutcome::Idle,
        ToIdle::Notified => RunOutcome::Yielded(Notified(ptr)),
        ToIdle::Cancel => {
            // SAFETY: transition_to_idle left RUNNING set; we hold the run ref.
            unsafe { cancel::<F>(ptr) };
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
unsafe fn cancel<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: the caller's ref keeps the cell alive.
    let cell = unsafe { cell::<F>(ptr) };
    let out = match drop_future(cell) {
        Ok(()) => Err(JoinError::cancelled()),
        Err(payload) => Err(JoinError::panicked(payload)),
    };
    // SAFETY: forwarded from our caller.
    unsafe { complete(ptr, cell, out) };
}

/// Stores the output, sets `COMPLETE`, wakes the joiner, leaves the owned list and drops the
/// run's and the owned list's refs.
///
/// # Safety
/// The caller holds `RUNNING` and the run's ref.
unsafe fn complete<F: Future>(
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

/// # Safety
/// No other reference to the `Cell<F>` at `ptr` exists.
unsafe fn dealloc<F: Future>(ptr: NonNull<Header>) {
    let cell = ptr.cast::<Cell<F>>();
    // SAFETY: the cell was written by `allocate` with this exact type, and the last ref is
    // gone (the caller's contract): it is dropped once, here.
    unsafe { std::ptr::drop_in_place(cell.as_ptr()) };
    // SAFETY: the memory came from `cell_cache::alloc` with this layout and holds no value now.
    unsafe { super::cell_cache::dealloc(cell.cast(), Layout::new::<Cell<F>>()) };
    #[cfg(test)]
    live_cells::add(-1);
}

/// # Safety
/// Called by the `JoinHandle` (which holds `JOIN_INTEREST` and a ref); `dst` points to a
/// `Poll<Result<F::Output, JoinError>>`.
unsafe fn try_read_output<F: Future>(ptr: NonNull<Header>, dst: *mut (), waker: &Waker) {
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
unsafe fn drop_join_handle<F: Future>(ptr: NonNull<Header>) {
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

// ---- wakers ---------------------------------------------------------------------------------

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

fn raw_waker(ptr: NonNull<Header>) -> RawWaker {
    RawWaker::new(ptr.as_ptr() as *const (), &WAKER_VTABLE)
}

/// # Safety (RawWaker contract)
/// `data` is a live task header for which the waker holds (or borrows) a ref.
unsafe fn waker_clone(data: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned keeps the header alive; data is never null.
    let ptr = unsafe { NonNull::new_unchecked(data as *mut Header) };
    // SAFETY: as above.
    unsafe { ptr.as_ref() }.state.ref_inc();
    raw_waker(ptr)
}

unsafe fn waker_wake(data: *const ()) {
    // SAFETY: the waker owns a ref; wake-by-ref then drop that ref.
    unsafe {
        waker_wake_by_ref(data);
        waker_drop(data);
    }
}

unsafe fn waker_wake_by_ref(data: *const ()) {
    // SAFETY: the waker holds a ref, so the header is alive; data is never null.
    let ptr = unsafe { NonNull::new_unchecked(data as *mut Header) };
    // SAFETY: as above.
    unsafe { wake_task(ptr) }
}

unsafe fn waker_drop(data: *const ()) {
    // SAFETY: the dropped waker owned one ref of a live task.
    unsafe { Header::drop_refs(NonNull::new_unchecked(data as *mut Header), 1) }
}

/// Makes the task runnable; queues it if it was idle.
///
/// # Safety
/// The caller holds a ref of the live task `ptr`.
pub(crate) unsafe fn wake_task(ptr: NonNull<Header>) {
    // SAFETY: the caller's ref keeps the header alive.
    let header = unsafe { ptr.as_ref() };
    if header.state.transition_to_notified() == super::state::Notify::Submit {
        let sched = header.scheduler;
        // SAFETY: a task that is not complete keeps its scheduler alive (module doc); the
        // new notification's ref travels with the `Notified`.
        unsafe { (sched.vtable.schedule)(sched.data, Notified(ptr)) }
    }
}

/// Requests cancellation; cancels in place when the task is idle.
///
/// # Safety
/// The caller holds a ref of the live task `ptr`.
pub(crate) unsafe fn cancel_task(ptr: NonNull<Header>) {
    // SAFETY: the caller's ref keeps the header alive.
    let header = unsafe { ptr.as_ref() };
    if header.state.transition_to_cancel() == ToCancel::Claimed {
        // SAFETY: Claimed gave us RUNNING and a ref, which `cancel` consumes.
        unsafe { Header::cancel(ptr) }
    }
}

/// Unit tests' count of task cells allocated and not yet freed on this thread (the cell cache
/// hides frees from the allocator, so tests count them here).
#[cfg(test)]
pub(crate) mod live_cells {
    use std::cell::Cell;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
    }

    pub(crate) fn add(n: isize) {
        LIVE.with(|c| c.set(c.get() + n));
    }

    pub(crate) fn get() -> isize {
        LIVE.with(Cell::get)
    }
}
