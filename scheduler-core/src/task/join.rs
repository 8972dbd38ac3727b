//! [`JoinHandle`]: awaiting, aborting and inspecting a spawned task; [`JoinError`].

use super::raw::{cancel_task, Header};
use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

/// An owned permission to await a task's output.
///
/// A `JoinHandle` is a [`Future`] whose output is `Ok(value)` when the task returned,
/// `Err(JoinError)` when it panicked or was cancelled (by [`JoinHandle::abort`] or by runtime
/// shutdown). Dropping it detaches the task, which keeps running.
///
/// Polling it again after it returned `Ready` yields `Err` (cancelled): the output was moved out.
#[must_use = "dropping a JoinHandle detaches the task; await it or call `abort`"]
pub struct JoinHandle<T> {
    raw: NonNull<Header>,
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves `T` out of the cell (needs `T: Send`); the cell is shared through
// atomics and the state protocol.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` allows only `abort` and `is_finished`, which touch the state word alone.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// # Safety
    /// `raw` is a task whose output type is `T`; the caller hands over the `JoinHandle` ref.
    pub(crate) unsafe fn from_raw(raw: NonNull<Header>) -> JoinHandle<T> {
        JoinHandle { raw, _output: PhantomData }
    }

    /// Cancels the task. If it has not completed, its future is dropped (at once if it is
    /// idle, otherwise right after its current or next poll) and the handle resolves to
    /// `Err(JoinError)` with [`JoinError::is_cancelled`]. A task that already completed keeps
    /// its output.
    pub fn abort(&self) {
        // SAFETY: the handle owns a ref of the task.
        unsafe { cancel_task(self.raw) }
    }

    /// A handle that can cancel this task from anywhere while this one awaits it.
    pub fn abort_handle(&self) -> super::AbortHandle {
        // SAFETY: the handle owns a ref, so the task is alive; the new ref is handed over.
        unsafe {
            self.raw.as_ref().state.ref_inc();
            super::AbortHandle::from_raw(self.raw)
        }
    }

    /// True once the task has completed (returned, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        // SAFETY: the handle owns a ref of the task.
        unsafe { self.raw.as_ref() }.state.load().is_complete()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        // SAFETY: the handle owns a ref and JOIN_INTEREST; `out` has the task's output type.
        unsafe { Header::try_read_output(self.raw, (&mut out as *mut Poll<_>).cast(), cx.waker()) };
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: the handle gives up its ref exactly once.
        unsafe { Header::drop_join_handle(self.raw) }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: the handle owns a ref of the task.
        let state = unsafe { self.raw.as_ref() }.state.load();
        f.debug_struct("JoinHandle").field("state", &state).finish()
    }
}

/// Why a task produced no value: it panicked, or it was cancelled.
///
/// `Send + Sync + 'static` and an [`Error`](std::error::Error), so `?` carries it into
/// `Box<dyn Error + Send + Sync>` or `anyhow::Error`:
///
/// ```
/// use scheduler_core::Runtime;
/// fn total(rt: &Runtime) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
///     let jh = rt.spawn(async { 41 });
///     Ok(rt.block_on(jh)? + 1)
/// }
/// let rt = Runtime::builder().worker_threads(1).build().unwrap();
/// assert_eq!(total(&rt).unwrap(), 42);
/// ```
pub struct JoinError {
    repr: Repr,
}

/// One pointer wide (the panic case is boxed): a `JoinError` lives in every task cell's
/// output slot, so its size is paid by every task, panicking or not.
enum Repr {
    Cancelled,
    Panicked(Box<Panicked>),
}

struct Panicked {
    payload: Payload,
    message: Option<Cow<'static, str>>,
}

/// A panic payload that is only ever moved, never shared: no `&` access to the
/// `dyn Any + Send` inside exists, so sharing a `&Payload` between threads shares nothing
/// (tokio wraps its payload the same way). The message is copied out at construction, with
/// exclusive access, for `Display` and `panic_message`.
struct Payload(Box<dyn Any + Send + 'static>);

// SAFETY: `Payload` offers no method taking `&self`; its content is reached only by value
// (`into_inner`), so a shared reference to it gives no access to the `!Sync` payload.
unsafe impl Sync for Payload {}

impl Payload {
    fn into_inner(self) -> Box<dyn Any + Send + 'static> {
        self.0
    }
}

impl JoinError {
    pub(crate) fn cancelled() -> JoinError {
        JoinError { repr: Repr::Cancelled }
    }

    pub(crate) fn panicked(payload: Box<dyn Any + Send + 'static>) -> JoinError {
        let message = panic_message(&*payload);
        JoinError {
            repr: Repr::Panicked(Box::new(Panicked { payload: Payload(payload), message })),
        }
    }

    /// True when the task was cancelled (aborted, or never run before shutdown).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// True when the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panicked(_))
    }

    /// The panic payload, or the error back when the task was cancelled.
    ///
    /// # Errors
    /// Returns `Err(self)` when the task did not panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panicked(p) => Ok(p.payload.into_inner()),
            Repr::Cancelled => Err(self),
        }
    }

    /// The panic payload, to resume it with `std::panic::resume_unwind` or inspect it.
    ///
    /// # Panics
    /// Panics when the task was cancelled rather than panicked; check
    /// [`is_panic`](JoinError::is_panic) first or use [`try_into_panic`](JoinError::try_into_panic).
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self.try_into_panic() {
            Ok(p) => p,
            Err(e) => panic!("JoinError::into_panic on a cancelled task: {e}"),
        }
    }

    /// The panic message when the payload is a string (`panic!("...")`).
    pub fn panic_message(&self) -> Option<&str> {
        match &self.repr {
            Repr::Panicked(p) => p.message.as_deref(),
            Repr::Cancelled => None,
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.repr, self.panic_message()) {
            (Repr::Cancelled, _) => f.write_str("task was cancelled"),
            (Repr::Panicked(_), Some(msg)) => write!(f, "task panicked: {msg}"),
            (Repr::Panicked(_), None) => f.write_str("task panicked"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("JoinError::Cancelled"),
            Repr::Panicked(_) => {
                f.debug_tuple("JoinError::Panicked").field(&self.panic_message()).finish()
            }
        }
    }
}

impl std::error::Error for JoinError {}

/// The message of a panic payload when it is a string (`panic!("...")`), borrowed when it is
/// a `&'static str`.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Option<Cow<'static, str>> {
    match payload.downcast_ref::<&'static str>() {
        Some(s) => Some(Cow::Borrowed(*s)),
        None => payload.downcast_ref::<String>().map(|s| Cow::Owned(s.clone())),
    }
}

#[cfg(all(test, not(loom)))]
mod size_tests {
    /// Every task cell holds a `Result<Output, JoinError>`: keep the error one pointer wide.
    #[test]
    fn join_error_is_one_pointer_wide() {
        assert_eq!(std::mem::size_of::<super::JoinError>(), std::mem::size_of::<usize>());
        let word = std::mem::size_of::<usize>();
        assert!(std::mem::size_of::<Result<(), super::JoinError>>() <= 2 * word);
    }
}
