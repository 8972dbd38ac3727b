//! [`react`]: Twisted's `task.react` — run a main Deferred (or future) to completion on a
//! runtime, shut down, and turn the outcome into an exit status.

use super::sleep::Sleep;
use crate::runtime::{Handle, Runtime};
use scheduler_deferred::{Deferred, Failure};
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::task::{Context, Poll};
use std::time::Duration;

/// A failure carrying an explicit exit status (Twisted's `SystemExit(code)`): [`react`]
/// exits with `code` instead of 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SystemExit(pub u8);

impl fmt::Display for SystemExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit with status {}", self.0)
    }
}

impl Error for SystemExit {}

/// Builds a default runtime, runs `main(handle)`'s Deferred to completion, shuts the runtime
/// down and returns the exit status: success for a value, the code of a [`SystemExit`]
/// failure, else failure (1) after printing the failure to stderr ("main function encountered
/// error"). A future works too: return `Deferred::from_future(async { ... })`. `main` may end
/// the run itself with [`Handle::stop`] (Twisted's `reactor.stop()`): react then returns the
/// status of the Deferred's result if it has one by then, else success (0).
///
/// # Examples
/// ```no_run
/// use scheduler_core::time::{defer_later, react};
/// use scheduler_deferred::Failure;
/// use std::time::Duration;
///
/// fn main() -> std::process::ExitCode {
///     react(|handle| defer_later(&handle, Duration::from_millis(10), || Ok::<_, Failure>(())))
/// }
/// ```
pub fn react<T, F>(main: F) -> ExitCode
where
    T: Send + 'static,
    F: FnOnce(Handle) -> Deferred<T>,
{
    match Runtime::new() {
        Ok(rt) => ExitCode::from(react_on(rt, main)),
        Err(e) => {
            eprintln!("react: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// [`react`] on a given runtime, returning the status as a number (0 = success), so tests and
/// custom runtimes can use it.
///
/// # Examples
/// ```
/// use scheduler_core::{time::react_on, Runtime};
/// use scheduler_deferred::Deferred;
///
/// let rt = || Runtime::builder().worker_threads(1).build().unwrap();
/// let ok = react_on(rt(), |_| Deferred::succeed(()));
/// assert_eq!(ok, 0);
/// let failed = react_on(rt(), |_| Deferred::<()>::fail(std::fmt::Error));
/// assert_eq!(failed, 1);
/// ```
pub fn react_on<T, F>(runtime: Runtime, main: F) -> u8
where
    T: Send + 'static,
    F: FnOnce(Handle) -> Deferred<T>,
{
    let handle = runtime.handle().clone();
    let finished = main(handle.clone());
    // A sleep that never ends by itself: it completes when the runtime stops (`Handle::stop`,
    // Twisted's `reactor.stop()` from inside `main`).
    let stopped = handle.sleep(Duration::MAX);
    let outcome = runtime.block_on(FinishedOrStopped { finished, stopped });
    drop(runtime);
    outcome.map_or(0, exit_status)
}

/// `main`'s Deferred, or the runtime's stop, whichever comes first. A result that is there by
/// the time the stop is seen still counts (Twisted records it as the stop happens).
struct FinishedOrStopped<T> {
    finished: Deferred<T>,
    stopped: Sleep,
}

impl<T: Send + 'static> Future for FinishedOrStopped<T> {
    /// `None`: stopped before `main`'s Deferred had a result (exit status 0, as in Twisted).
    type Output = Option<Result<T, Failure>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(outcome) = Pin::new(&mut self.finished).poll(cx) {
            return Poll::Ready(Some(outcome));
        }
        match Pin::new(&mut self.stopped).poll(cx) {
            Poll::Ready(()) => Poll::Ready(self.finished.take_result()),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn exit_status<T>(outcome: Result<T, Failure>) -> u8 {
    match outcome {
        Ok(_) => 0,
        Err(f) => match f.downcast_ref::<SystemExit>() {
            Some(exit) => exit.0,
            None => {
                eprintln!("main function encountered error: {f}");
                1
            }
        },
    }
}
