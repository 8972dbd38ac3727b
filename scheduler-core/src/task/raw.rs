//! The task cell: one allocation holding the header, the future or its output, and the
//! join waker; its layout, the vtable of type-erased entry points, and its allocation and
//! freeing. The typed operations the vtable points at are in [`super::harness`] (poll,
//! complete, cancel, the `JoinHandle`'s read and drop); the task's waker is in
//! [`super::waker`].
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

use super::harness;
use super::state::{State, ToCancel};
use super::{JoinError, Notified, RunOutcome};
use crate::priority::Priority;
use crate::sync::atomic::AtomicU64;
use crate::sync::UnsafeCell;
use std::alloc::Layout;
use std::future::Future;
use std::ptr::NonNull;
use std::task::Waker;

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

/// `Header::owned` of a task that never went idle (so it is in no owned-task list).
pub(crate) const UNLISTED: u64 = u64::MAX;

/// The first field of every task cell.
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

pub(super) enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

#[repr(C)]
pub(super) struct Cell<F: Future> {
    pub(super) header: Header,
    pub(super) stage: UnsafeCell<Stage<F>>,
    pub(super) join_waker: UnsafeCell<Option<Waker>>,
}

/// Allocates a task cell for `future`; the state is `INITIAL` (three refs: owned list,
/// `JoinHandle`, the returned notification).
#[inline]
pub(crate) fn allocate<F>(future: F, scheduler: Scheduler, priority: Priority) -> NonNull<Header>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    allocate_with(future, scheduler, priority, State::new(), vtable::<F, false>())
}

/// Allocates a detached task cell for `future` (no `JoinHandle`): two refs, the owned list's
/// and the returned notification.
#[inline]
pub(crate) fn allocate_detached<F>(
    future: F,
    scheduler: Scheduler,
    priority: Priority,
) -> NonNull<Header>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    allocate_with(future, scheduler, priority, State::new_detached(), vtable::<F, true>())
}

#[inline]
fn allocate_with<F>(
    future: F,
    scheduler: Scheduler,
    priority: Priority,
    state: State,
    vtable: &'static TaskVtable,
) -> NonNull<Header>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let cell = Cell {
        header: Header { state, vtable, scheduler, priority, owned: AtomicU64::new(UNLISTED) },
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

/// The entry points of a `Cell<F>`; `DETACHED` for a task spawned without a `JoinHandle`.
fn vtable<F, const DETACHED: bool>() -> &'static TaskVtable
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    &TaskVtable {
        poll: harness::poll::<F, DETACHED>,
        cancel: harness::cancel::<F, DETACHED>,
        dealloc: dealloc::<F>,
        try_read_output: harness::try_read_output::<F>,
        drop_join_handle: harness::drop_join_handle::<F>,
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
pub(super) unsafe fn cell<'a, F: Future>(ptr: NonNull<Header>) -> &'a Cell<F> {
    // SAFETY: the caller guarantees the cell type and liveness; repr(C) makes the cast valid.
    unsafe { ptr.cast::<Cell<F>>().as_ref() }
}

/// # Safety
/// No other reference to the `Cell<F>` at `ptr` exists.
#[inline]
pub(super) unsafe fn dealloc<F: Future>(ptr: NonNull<Header>) {
    let cell = ptr.cast::<Cell<F>>();
    // SAFETY: the cell was written by `allocate` with this exact type, and the last ref is
    // gone (the caller's contract): it is dropped once, here.
    unsafe { std::ptr::drop_in_place(cell.as_ptr()) };
    // SAFETY: the memory came from `cell_cache::alloc` with this layout and holds no value now.
    unsafe { super::cell_cache::dealloc(cell.cast(), Layout::new::<Cell<F>>()) };
    #[cfg(test)]
    live_cells::add(-1);
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
