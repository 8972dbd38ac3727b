//! [`react`]: Twisted's `task.react` — run a main Deferred (or future) to completion on a
//! runtime, shut down, and turn the outcome into an exit status.

use crate::runtime::{Handle, Runtime};
use scheduler_deferred::{Deferred, Failure};
use std::error::Error;
use std::fmt;
use std::process::ExitCode;

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
/// error"). A future works too: return `Deferred::from_future(async { ... })`.
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
    let outcome = runtime.block_on(finished);
    drop(runtime);
    exit_status(outcome)
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
