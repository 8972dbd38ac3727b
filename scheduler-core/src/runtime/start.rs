//! Starting the runtime's threads: thread hooks run with their panics caught, and the latch
//! [`Builder::build`](super::Builder::build) waits on until every worker has run its start
//! hook, so a hook that panics fails `build()` with an error instead of leaving a runtime
//! whose workers never run.

use super::{Hook, ThreadWrapper};
use crate::sync::{Condvar, Mutex};
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs a thread hook, if any; `Err` holds its panic message.
pub(crate) fn run_hook(hook: Option<&Hook>) -> Result<(), String> {
    let Some(hook) = hook else { return Ok(()) };
    catch_unwind(AssertUnwindSafe(|| hook())).map_err(|payload| panic_text(&*payload))
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    crate::task::join::panic_message(payload)
        .map_or_else(|| "a panic with a non-string payload".to_owned(), |m| m.into_owned())
}

#[derive(Debug)]
struct LatchState {
    pending: usize,
    failure: Option<String>,
}

/// Counts the workers that have not yet run their start hook and keeps the first failure.
#[derive(Debug)]
pub(crate) struct StartLatch {
    state: Mutex<LatchState>,
    done: Condvar,
}

impl StartLatch {
    pub(crate) fn new(workers: usize) -> StartLatch {
        StartLatch {
            state: Mutex::new(LatchState { pending: workers, failure: None }),
            done: Condvar::new(),
        }
    }

    /// A worker ran its start hook (`Err`: the hook panicked with this message).
    pub(crate) fn report(&self, outcome: Result<(), String>) {
        let mut st = self.state.lock();
        st.pending -= 1;
        if let Err(msg) = outcome {
            st.failure.get_or_insert(msg);
        }
        let last = st.pending == 0;
        drop(st);
        if last {
            self.done.notify_all();
        }
    }

    /// `n` workers will never report (their threads could not be started).
    pub(crate) fn forget(&self, n: usize) {
        for _ in 0..n {
            self.report(Ok(()));
        }
    }

    /// Waits for every worker's report; `Err` with the first hook panic's message.
    pub(crate) fn wait(&self) -> Result<(), String> {
        let mut st = self.state.lock();
        while st.pending > 0 {
            st = self.done.wait(st);
        }
        st.failure.take().map_or(Ok(()), Err)
    }
}

/// Runs `body` inside the thread wrapper, if any (`Builder::wrap_threads`). `Err` gives the
/// body back, unrun, with the reason: the wrapper panicked before calling `run`, or returned
/// without calling it. A panic after `run` (in the wrapper's own clean-up) is contained.
pub(crate) fn run_wrapped<F: FnOnce()>(
    wrapper: Option<&ThreadWrapper>,
    body: F,
) -> Result<(), (String, F)> {
    let Some(wrapper) = wrapper else {
        body();
        return Ok(());
    };
    let mut slot = Some(body);
    let outcome = {
        let mut run = || {
            if let Some(body) = slot.take() {
                body();
            }
        };
        catch_unwind(AssertUnwindSafe(|| wrapper(&mut run)))
    };
    match (slot, outcome) {
        (None, _) => Ok(()),
        (Some(body), Err(payload)) => Err((format!("panicked: {}", panic_text(&*payload)), body)),
        (Some(body), Ok(())) => Err(("returned without calling `run`".to_owned(), body)),
    }
}
