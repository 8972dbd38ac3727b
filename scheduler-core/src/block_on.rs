//! `block_on`: drive one future on the calling thread.

use crate::context::{self, Context};
use crate::idle::Parker;
use crate::runtime::Handle;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Wake, Waker};

struct ThreadWaker(Parker);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread until it completes, parking between polls. With a handle, the
/// thread counts as "in the runtime" for [`Handle::current`] unless it already is.
pub(crate) fn block_on<F: Future>(handle: Option<&Handle>, future: F) -> F::Output {
    let ctx = handle.filter(|_| !context::is_set()).map(|h| Context {
        shared: &*h.shared as *const _,
        handle: h.clone(),
        core: None,
    });
    let _guard = ctx.as_ref().map(context::enter);
    let parker = Arc::new(ThreadWaker(Parker::new()));
    let waker = Waker::from(parker.clone());
    let mut cx = TaskContext::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        parker.0.park(None);
    }
}
