//! [`join_context`]: `join` whose closures learn whether they migrated (rayon's
//! `join_context`, which its adaptive splitters use to stop splitting when nothing is stolen).

use crate::context;
use crate::forkjoin::{join_cold, join_on_worker};
use std::marker::PhantomData;

/// What a [`join_context`] closure learns about how it runs.
#[derive(Debug)]
pub struct FnContext {
    migrated: bool,
    /// Not `Send`: it describes the thread it was given on.
    _not_send: PhantomData<*mut ()>,
}

impl FnContext {
    fn new(migrated: bool) -> FnContext {
        FnContext { migrated, _not_send: PhantomData }
    }

    /// True when this closure runs on another thread than the one that called
    /// [`join_context`]: the second closure was stolen by another worker, or the whole call
    /// came from a thread that is not a worker and was sent to the pool.
    pub fn migrated(&self) -> bool {
        self.migrated
    }
}

/// [`join`](crate::join) whose closures receive a [`FnContext`] telling whether they
/// migrated; same scheduling, same panic rule, and from a thread that is not a worker the
/// same trip to a runtime's workers (the runtime in context, else the global one; see
/// [`join`](crate::join)).
///
/// # Examples
/// Called from a worker with nothing stolen, neither half migrates; called from outside,
/// both run on the pool's threads and do:
/// ```
/// use scheduler_core::{join_context, Runtime};
/// let rt = Runtime::builder().worker_threads(1).build().unwrap();
/// let inside = rt.install(|| join_context(|a| a.migrated(), |b| b.migrated()));
/// assert_eq!(inside, (false, false));
/// let _in = rt.handle().enter();
/// let outside = join_context(|a| a.migrated(), |b| b.migrated());
/// assert_eq!(outside, (true, true));
/// ```
pub fn join_context<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce(FnContext) -> RA + Send,
    B: FnOnce(FnContext) -> RB + Send,
    RA: Send,
    RB: Send,
{
    let a = move |migrated| a(FnContext::new(migrated));
    let b = move |migrated| b(FnContext::new(migrated));
    context::with_any_core(|core| match core {
        Some(core) => join_on_worker(core, a, b, false),
        None => join_cold(a, b),
    })
}
