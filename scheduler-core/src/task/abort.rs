//! [`AbortHandle`]: cancels a task without owning its output.

use super::raw::{cancel_task, Header};
use std::fmt;
use std::ptr::NonNull;

/// A permission to cancel a task, apart from its [`JoinHandle`](super::JoinHandle): `Clone`,
/// `Send` and `Sync`, so one task (or thread) can abort what another one awaits.
///
/// It holds a reference to the task's cell, not to its output: the task's future and output
/// are dropped as usual, and the cell is freed when the last handle of any kind goes.
///
/// # Examples
/// ```
/// use scheduler_core::Runtime;
/// let rt = Runtime::builder().worker_threads(1).build().unwrap();
/// let jh = rt.spawn(std::future::pending::<()>());
/// let abort = jh.abort_handle();
/// std::thread::spawn(move || abort.abort()).join().unwrap();
/// assert!(rt.block_on(jh).unwrap_err().is_cancelled());
/// ```
pub struct AbortHandle {
    raw: NonNull<Header>,
}

// SAFETY: the handle only touches the task's state word (atomics) and cancels through the
// state protocol, which any thread may do; it never reads the future or the output.
unsafe impl Send for AbortHandle {}
// SAFETY: as above; `&AbortHandle` allows the same operations.
unsafe impl Sync for AbortHandle {}

impl AbortHandle {
    /// # Safety
    /// `raw` is a live task; the caller hands over one ref of it.
    pub(crate) unsafe fn from_raw(raw: NonNull<Header>) -> AbortHandle {
        AbortHandle { raw }
    }

    /// Cancels the task, as [`JoinHandle::abort`](super::JoinHandle::abort) does.
    pub fn abort(&self) {
        // SAFETY: the handle owns a ref of the task.
        unsafe { cancel_task(self.raw) }
    }

    /// True once the task has completed (returned, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        // SAFETY: the handle owns a ref of the task.
        unsafe { self.raw.as_ref() }.state.load().is_complete()
    }
}

impl Clone for AbortHandle {
    fn clone(&self) -> Self {
        // SAFETY: the handle owns a ref, so the task is alive; the new ref is the clone's.
        unsafe { self.raw.as_ref() }.state.ref_inc();
        AbortHandle { raw: self.raw }
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        // SAFETY: the handle gives up its one ref, once.
        unsafe { Header::drop_refs(self.raw, 1) }
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle").field("finished", &self.is_finished()).finish()
    }
}
