//! `block_on`: drive one future on the calling thread.

use crate::context::{self, Context};
use crate::idle::Parker;
use crate::runtime::Handle;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::time::Duration;

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
///
/// # Panics
/// On a worker thread of any runtime, at once (see [`refuse_on_worker`]).
pub(crate) fn block_on<F: Future>(handle: Option<&Handle>, future: F) -> F::Output {
    refuse_on_worker();
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
        parker.0.park_after_spin(BLOCK_ON_SPIN);
    }
}

/// How long `block_on` polls for its wake-up before it sleeps: a future that waits on a task
/// it just spawned is often woken within microseconds, and a wake that finds the thread still
/// spinning costs no futex call on either side (the round trip of tokio's `spawn.rs`
/// benchmark). Bounded, and paid once per wait, so a long wait wastes at most this.
const BLOCK_ON_SPIN: Duration = Duration::from_micros(20);

/// The message of [`refuse_on_worker`]'s panic.
pub(crate) const BLOCK_ON_WORKER: &str = "Handle::block_on called on a worker thread: blocking a \
worker can deadlock the runtime (a 1-worker runtime waiting on its own tasks or timers never \
wakes). Inside a task, `.await` the future instead; for blocking code use \
Handle::spawn_blocking (block_on works on blocking-pool threads), or Handle::spawn and await \
the JoinHandle";

/// Blocking a worker on a future may wait on that very worker (a task it would run, a timer on
/// its own shard), which never comes: fail at once with a message that names the fix instead
/// of deadlocking silently (tokio panics the same way).
fn refuse_on_worker() {
    if context::on_worker_thread() {
        panic!("{BLOCK_ON_WORKER}");
    }
}
