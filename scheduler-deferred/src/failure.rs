//! [`Failure`]: the error half of a Deferred's result, and the unhandled-failure hook.
//!
//! A `Failure` is Twisted's `Failure` for Rust: it wraps either any
//! `Error + Send + Sync + 'static` value or the payload of a panic caught inside a callback. It is
//! cheap to clone (one `Arc`), because Twisted shares one failure between a `DeferredList`'s result
//! and the input's own chain.
//!
//! `Failure` deliberately does not implement [`std::error::Error`], so that every error type
//! converts into it with `?` (the `From` impl below), the way `anyhow::Error` works. The other
//! way, `?` turns a `Failure` into a `Box<dyn Error + Send + Sync>` (or `+ Send`) through the
//! transparent [`FailureError`](crate::FailureError).
//!
//! A Deferred that is dropped while its chain ends in a failure reports it through the global
//! hook set with [`set_unhandled_failure_hook`]; the default hook writes one line to stderr, as
//! Twisted logs "Unhandled error in Deferred".

use std::any::Any;
use std::error::Error;
use std::fmt;
// Configuration state, not part of any concurrent protocol: std's lock, invisible to loom on
// purpose (a hook may be set outside a model and called inside one).
use std::sync::{Arc, Mutex, RwLock};

/// The error half of a Deferred's result: an error value or a caught panic.
///
/// # Examples
///
/// ```
/// use scheduler_deferred::{Cancelled, Failure};
///
/// let f = Failure::new(Cancelled);
/// assert!(f.is::<Cancelled>());
/// assert!(f.trap::<Cancelled>().is_ok());
/// assert_eq!(f.to_string(), "Deferred was cancelled");
/// ```
#[derive(Clone)]
pub struct Failure {
    cause: Arc<Cause>,
}

enum Cause {
    Error(Box<dyn Error + Send + Sync + 'static>),
    // The payload is `Send` but not `Sync`; the mutex makes the `Failure` shareable. The message
    // is extracted once, at capture, so `Display` never needs the lock.
    Panic { message: String, payload: Mutex<Option<Box<dyn Any + Send + 'static>>> },
}

impl Failure {
    /// Wraps an error value.
    pub fn new<E: Error + Send + Sync + 'static>(error: E) -> Self {
        Failure::from_boxed(Box::new(error))
    }

    /// Wraps an already boxed error value.
    pub fn from_boxed(error: Box<dyn Error + Send + Sync + 'static>) -> Self {
        Failure { cause: Arc::new(Cause::Error(error)) }
    }

    /// Wraps the payload of a caught panic (what `std::panic::catch_unwind` returns).
    pub fn from_panic(payload: Box<dyn Any + Send + 'static>) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "Box<dyn Any>".to_owned()
        };
        Failure { cause: Arc::new(Cause::Panic { message, payload: Mutex::new(Some(payload)) }) }
    }

    /// True if this failure is a caught panic.
    pub fn is_panic(&self) -> bool {
        matches!(*self.cause, Cause::Panic { .. })
    }

    /// The panic message, if this failure is a caught panic whose payload is a string.
    pub fn panic_message(&self) -> Option<&str> {
        match &*self.cause {
            Cause::Panic { message, .. } => Some(message),
            Cause::Error(_) => None,
        }
    }

    /// Takes the panic payload out (once), e.g. to `std::panic::resume_unwind` it.
    pub fn take_panic_payload(&self) -> Option<Box<dyn Any + Send + 'static>> {
        match &*self.cause {
            Cause::Panic { payload, .. } => {
                payload.lock().unwrap_or_else(|e| e.into_inner()).take()
            }
            Cause::Error(_) => None,
        }
    }

    /// The wrapped error, unless this failure is a panic.
    pub fn error(&self) -> Option<&(dyn Error + Send + Sync + 'static)> {
        match &*self.cause {
            Cause::Error(e) => Some(&**e),
            Cause::Panic { .. } => None,
        }
    }

    /// The wrapped error as `E`, if it is one (Twisted's `check`, by type).
    pub fn downcast_ref<E: Error + 'static>(&self) -> Option<&E> {
        self.error().and_then(|e| e.downcast_ref::<E>())
    }

    /// Twisted's `check`: the wrapped error if it is an `E`, else `None`.
    pub fn check<E: Error + 'static>(&self) -> Option<&E> {
        self.downcast_ref::<E>()
    }

    /// True if the wrapped error is an `E`.
    pub fn is<E: Error + 'static>(&self) -> bool {
        self.downcast_ref::<E>().is_some()
    }

    /// Twisted's `trap`: the wrapped error if it is an `E`, else `Err(self.clone())`, so that an
    /// errback can write `failure.trap::<Cancelled>()?;` and pass any other failure on.
    ///
    /// # Errors
    ///
    /// Returns a clone of this failure when the wrapped error is not an `E`.
    pub fn trap<E: Error + 'static>(&self) -> Result<&E, Failure> {
        self.downcast_ref::<E>().ok_or_else(|| self.clone())
    }

    /// True if both handles share one failure (clones of one `Failure`).
    pub fn ptr_eq(&self, other: &Failure) -> bool {
        Arc::ptr_eq(&self.cause, &other.cause)
    }
}

impl<E: Error + Send + Sync + 'static> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure::new(error)
    }
}

impl fmt::Display for Failure {
    /// The error, then each `source()` after ": caused by: "; a panic reads `panic: <message>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.cause {
            Cause::Panic { message, .. } => write!(f, "panic: {message}"),
            Cause::Error(e) => {
                write!(f, "{e}")?;
                let mut source = e.source();
                while let Some(s) = source {
                    write!(f, ": caused by: {s}")?;
                    source = s.source();
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.cause {
            Cause::Panic { message, .. } => f.debug_tuple("Failure::Panic").field(message).finish(),
            Cause::Error(e) => f.debug_tuple("Failure").field(e).finish(),
        }
    }
}

/// The unhandled-failure hook, as [`set_unhandled_failure_hook`] stores and returns it.
pub type UnhandledFailureHook = Arc<dyn Fn(&Failure) + Send + Sync + 'static>;

static HOOK: RwLock<Option<UnhandledFailureHook>> = RwLock::new(None);

/// Sets the global hook that receives every failure a Deferred still held, unhandled, when it
/// was dropped (Twisted's "Unhandled error in Deferred" log). Returns the previous hook, if one
/// was set. The default (no hook set) writes one line to stderr.
///
/// A failure counts as handled once an errback consumed it, it moved into another Deferred by
/// chaining, or an `.await` took it.
pub fn set_unhandled_failure_hook<F>(hook: F) -> Option<UnhandledFailureHook>
where
    F: Fn(&Failure) + Send + Sync + 'static,
{
    HOOK.write().unwrap_or_else(|e| e.into_inner()).replace(Arc::new(hook))
}

/// Restores the default unhandled-failure hook (one line on stderr).
pub fn reset_unhandled_failure_hook() {
    HOOK.write().unwrap_or_else(|e| e.into_inner()).take();
}

/// Reports an unhandled failure through the global hook.
pub(crate) fn report_unhandled(failure: &Failure) {
    let hook = HOOK.read().unwrap_or_else(|e| e.into_inner()).clone();
    match hook {
        Some(hook) => hook(failure),
        None => eprintln!("Unhandled error in Deferred: {failure}"),
    }
}
