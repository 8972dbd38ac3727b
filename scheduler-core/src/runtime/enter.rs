//! [`Handle::enter`](super::Handle::enter): make a runtime current on a thread that is not one
//! of its own (a tokio worker, a test thread), so that [`Handle::current`](super::Handle::current),
//! the free time functions ([`time::sleep`](crate::time::sleep), ...) and `spawn` from context
//! find it.

use super::Handle;
use crate::context::{self, Context};
use std::fmt;
use std::marker::PhantomData;

/// Keeps a runtime current on this thread until dropped (tokio's shape). Guards nest: each
/// restores the one before it. Not `Send`: it must be dropped on the thread that made it.
///
/// # Panics
/// Dropping guards out of order (an outer one before an inner one) panics; the outer
/// guard's context is then leaked rather than left dangling.
#[must_use = "the runtime stops being current when the guard is dropped"]
pub struct EnterGuard<'a> {
    ctx: Option<Box<Context>>,
    inner: Option<context::EnterGuard>,
    _handle: PhantomData<&'a Handle>,
    _not_send: PhantomData<*const ()>,
}

impl<'a> EnterGuard<'a> {
    pub(crate) fn new(handle: &'a Handle) -> EnterGuard<'a> {
        let ctx = Box::new(Context {
            shared: &*handle.shared as *const _,
            handle: handle.clone(),
            core: None,
        });
        let inner = context::enter(&ctx);
        EnterGuard {
            ctx: Some(ctx),
            inner: Some(inner),
            _handle: PhantomData,
            _not_send: PhantomData,
        }
    }
}

impl Drop for EnterGuard<'_> {
    fn drop(&mut self) {
        let ours = self.ctx.as_deref().map_or(std::ptr::null(), |c| c as *const Context);
        if std::ptr::eq(context::current_ptr(), ours) {
            drop(self.inner.take()); // restores the previous context
            drop(self.ctx.take());
            return;
        }
        // Out of order: an inner guard still points at us through its saved `prev`. Leak our
        // context so that pointer stays valid, and report the misuse.
        std::mem::forget(self.inner.take());
        std::mem::forget(self.ctx.take());
        if !std::thread::panicking() {
            panic!("EnterGuard dropped out of order: drop the innermost guard first");
        }
    }
}

impl fmt::Debug for EnterGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnterGuard").finish_non_exhaustive()
    }
}
