//! [`maybe_deferred`]: call a function and get a Deferred, whatever it returns.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::{Deferred, Failure};

/// What [`maybe_deferred`] accepts from its function: a Deferred, or a `Result`.
pub trait IntoDeferred<T> {
    /// Converts into a Deferred (already fired for a `Result`).
    fn into_deferred(self) -> Deferred<T>;
}

impl<T: Send + 'static> IntoDeferred<T> for Deferred<T> {
    fn into_deferred(self) -> Deferred<T> {
        self
    }
}

impl<T: Send + 'static, E: Into<Failure>> IntoDeferred<T> for Result<T, E> {
    fn into_deferred(self) -> Deferred<T> {
        match self {
            Ok(value) => Deferred::succeed(value),
            Err(error) => Deferred::fail(error),
        }
    }
}

/// Calls `f` and returns its Deferred as-is, or a fired Deferred for its `Result`; a panic in
/// `f` becomes a failed Deferred (Twisted's `maybeDeferred`).
///
/// # Examples
///
/// ```
/// use scheduler_deferred::{maybe_deferred, Failure};
///
/// let d = maybe_deferred(|| Ok::<_, Failure>(7));
/// assert_eq!(d.take_result().unwrap().unwrap(), 7);
/// let d = maybe_deferred::<u8, Result<u8, Failure>, _>(|| panic!("boom"));
/// assert!(d.take_result().unwrap().unwrap_err().is_panic());
/// ```
pub fn maybe_deferred<T, R, F>(f: F) -> Deferred<T>
where
    T: Send + 'static,
    R: IntoDeferred<T>,
    F: FnOnce() -> R,
{
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.into_deferred(),
        Err(payload) => Deferred::fail(Failure::from_panic(payload)),
    }
}
