//! [`defer_later`]: Twisted's `task.deferLater`.

use super::call::DelayedCall;
use super::reactor::ReactorTime;
use crate::sync::{Arc, Mutex};
use scheduler_deferred::{maybe_deferred, Deferred, IntoDeferred};
use std::time::Duration;

/// A Deferred that fires with `f()`'s result once `delay` has passed on `clock` (Twisted's
/// `deferLater`). `f` may return a `Result` or a `Deferred` (which chains); a panic fails the
/// Deferred. Cancelling the Deferred before the delay cancels the timer: `f` never runs and
/// the Deferred fails with [`Cancelled`](scheduler_deferred::Cancelled). On a runtime that has
/// shut down it fails with `Cancelled` at once, and when the runtime shuts down before the
/// delay (the call is dropped unrun) it fails with `Cancelled` then: its awaiters never hang.
///
/// # Examples
/// ```
/// use scheduler_core::time::{defer_later, ManualReactor};
/// use scheduler_deferred::Failure;
/// use std::time::Duration;
///
/// let clock = ManualReactor::new();
/// let d = defer_later(&clock, Duration::from_secs(2), || Ok::<_, Failure>("done"));
/// clock.advance(Duration::from_secs(1));
/// assert!(!d.is_called());
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(d.take_result().unwrap().unwrap(), "done");
/// ```
pub fn defer_later<T, R, F>(clock: &dyn ReactorTime, delay: Duration, f: F) -> Deferred<T>
where
    T: Send + 'static,
    R: IntoDeferred<T>,
    F: FnOnce() -> R + Send + 'static,
{
    let slot: Arc<Mutex<Option<DelayedCall>>> = Arc::new(Mutex::new(None));
    let canceller_slot = slot.clone();
    let ready = Deferred::<()>::with_canceller(move |_| {
        let call = canceller_slot.lock().take();
        if let Some(call) = call {
            let _ = call.cancel();
        }
    });
    let fire = FireOrCancel(Some(ready.clone()));
    let call = clock.call_later_boxed(delay, Box::new(move || fire.fire()));
    let refused = call.cancelled(); // the runtime has shut down: the timer never fires
    *slot.lock() = Some(call);
    if refused {
        ready.cancel();
    }
    ready.add_callback_deferred(move |()| maybe_deferred(f))
}

/// The timer's function: fires the Deferred when it runs; cancels it when it is dropped
/// without running (the runtime shut down before the delay and discarded the call).
struct FireOrCancel(Option<Deferred<()>>);

impl FireOrCancel {
    fn fire(mut self) {
        if let Some(d) = self.0.take() {
            let _ = d.callback(());
        }
    }
}

impl Drop for FireOrCancel {
    fn drop(&mut self) {
        if let Some(d) = self.0.take() {
            d.cancel();
        }
    }
}
