//! The global runtime: where `join`, `scope` and `join_context` called from a thread that is
//! not a worker go when no runtime is in context (rayon's global pool).
//!
//! Built on first use with [`Builder::new`]'s defaults, or once, earlier, by
//! [`Builder::build_global`]. It lives for the rest of the process: its workers are never shut
//! down (a `static` is never dropped), like rayon's global pool.

use crate::runtime::{Builder, Handle, Runtime};
use crate::sync::OnceLock;
use std::fmt;
use std::io;

static GLOBAL: OnceLock<Runtime> = OnceLock::new();

/// The global runtime's handle, building the runtime with the defaults on first use.
///
/// # Panics
/// If that build fails (the OS refused to start a thread).
fn global() -> &'static Handle {
    GLOBAL
        .get_or_init(|| match Builder::new().build() {
            Ok(rt) => rt,
            Err(e) => panic!("building the global scheduler runtime failed: {e}"),
        })
        .handle()
}

/// Where fork-join work from a non-worker thread goes: the runtime in context, else the global
/// runtime.
pub(crate) fn cold_handle() -> Handle {
    crate::context::current_handle().unwrap_or_else(|| global().clone())
}

/// [`Builder::build_global`] failed: the global runtime already exists, or building it failed.
#[derive(Debug)]
pub struct BuildGlobalError {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    AlreadyBuilt,
    Build(io::Error),
}

impl BuildGlobalError {
    /// True when the global runtime had already been built (by an earlier `build_global`, or
    /// lazily by a `join`/`scope` from outside any runtime).
    pub fn is_already_built(&self) -> bool {
        matches!(self.kind, Kind::AlreadyBuilt)
    }

    /// The error [`Builder::build`] returned, if that is what failed.
    pub fn build_error(&self) -> Option<&io::Error> {
        match &self.kind {
            Kind::Build(e) => Some(e),
            Kind::AlreadyBuilt => None,
        }
    }
}

impl fmt::Display for BuildGlobalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::AlreadyBuilt => f.write_str("the global runtime was already built"),
            Kind::Build(e) => write!(f, "building the global runtime failed: {e}"),
        }
    }
}

impl std::error::Error for BuildGlobalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Build(e) => Some(e),
            Kind::AlreadyBuilt => None,
        }
    }
}

impl Builder {
    /// Builds the global runtime with these settings: the one `join`, `scope` and
    /// `join_context` use when called from a thread that is not a worker and has no runtime in
    /// context. It can be configured once, before its first use; without a call it is built
    /// with the defaults when first needed. It is never shut down.
    ///
    /// # Errors
    /// [`BuildGlobalError::is_already_built`] when the global runtime exists already (an
    /// earlier call, or a `join` from outside any runtime built it); the error of
    /// [`build`](Self::build) otherwise.
    ///
    /// # Examples
    /// ```
    /// use scheduler_core::{join, Runtime};
    /// Runtime::builder().worker_threads(2).thread_name("global").build_global().unwrap();
    /// let (a, b) = join(
    ///     || std::thread::current().name().map(str::to_owned),
    ///     || 2 + 2,
    /// );
    /// assert!(a.unwrap().starts_with("global-worker-"));
    /// assert_eq!(b, 4);
    /// let again = Runtime::builder().build_global().unwrap_err();
    /// assert!(again.is_already_built());
    /// ```
    pub fn build_global(self) -> Result<(), BuildGlobalError> {
        let already = || BuildGlobalError { kind: Kind::AlreadyBuilt };
        if GLOBAL.get().is_some() {
            return Err(already());
        }
        let rt = self.build().map_err(|e| BuildGlobalError { kind: Kind::Build(e) })?;
        // Lost a race with another first use: ours shuts down as it drops.
        GLOBAL.set(rt).map_err(|_lost| already())
    }
}
