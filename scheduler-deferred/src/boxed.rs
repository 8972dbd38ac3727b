//! [`FailureError`]: a [`Failure`] as a `std::error::Error`, so `?` reaches the usual boxes.
//!
//! `Failure` itself is not an `Error` (so that every error converts into it, the way
//! `anyhow::Error` works); these conversions go the other way, into
//! `Box<dyn Error + Send + Sync>` and `Box<dyn Error + Send>`, through a transparent wrapper.

use std::error::Error;
use std::fmt;

use crate::Failure;

/// A [`Failure`] as an `Error`: what `?` puts in a `Box<dyn Error + Send + Sync>` (or
/// `Box<dyn Error + Send>`) when a function returning one meets a failure.
///
/// Transparent: its `Display` is the wrapped error's own (without the "caused by" chain that
/// `Failure`'s `Display` appends), or `panic: <message>` for a caught panic, and its
/// `source()` is the wrapped error's `source()`. Downcast the box to `FailureError` to get the
/// `Failure` back.
///
/// # Examples
///
/// ```
/// use scheduler_deferred::{Cancelled, Deferred, FailureError};
/// use std::error::Error;
///
/// fn handler(d: Deferred<u8>) -> Result<u8, Box<dyn Error + Send + Sync>> {
///     Ok(d.take_result().expect("fired")?)
/// }
///
/// let err = handler(Deferred::fail(Cancelled)).unwrap_err();
/// assert_eq!(err.to_string(), "Deferred was cancelled");
/// assert!(err.downcast_ref::<FailureError>().unwrap().failure().is::<Cancelled>());
/// ```
#[derive(Debug, Clone)]
pub struct FailureError(Failure);

impl FailureError {
    /// The wrapped failure.
    pub fn failure(&self) -> &Failure {
        &self.0
    }

    /// Unwraps the failure.
    pub fn into_failure(self) -> Failure {
        self.0
    }
}

impl fmt::Display for FailureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0.error(), self.0.panic_message()) {
            (Some(error), _) => fmt::Display::fmt(error, f),
            (None, Some(message)) => write!(f, "panic: {message}"),
            (None, None) => f.write_str("panic"),
        }
    }
}

impl Error for FailureError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.error().and_then(|error| error.source())
    }
}

impl From<Failure> for FailureError {
    fn from(failure: Failure) -> Self {
        FailureError(failure)
    }
}

impl From<Failure> for Box<dyn Error + Send + Sync + 'static> {
    fn from(failure: Failure) -> Self {
        Box::new(FailureError(failure))
    }
}

impl From<Failure> for Box<dyn Error + Send + 'static> {
    fn from(failure: Failure) -> Self {
        Box::new(FailureError(failure))
    }
}
