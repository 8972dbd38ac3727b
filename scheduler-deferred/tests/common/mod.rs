//! Helpers shared by the integration tests: a call log, a manual clock, a recording
//! unhandled-failure hook, result extraction and a tiny `block_on`.

#![allow(dead_code, unreachable_pub)] // each test file uses a different subset

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use scheduler_deferred::{set_unhandled_failure_hook, CallLater, Deferred, Failure, ScheduledCall};

/// An ordered record of events, shareable with callbacks.
#[derive(Clone, Default, Debug)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn new() -> Self {
        Log::default()
    }

    pub fn push(&self, event: impl Into<String>) {
        self.0.lock().unwrap().push(event.into());
    }

    pub fn get(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// Twisted's `GenericError`: an error with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericError(pub String);

impl GenericError {
    pub fn new(message: &str) -> Self {
        GenericError(message.to_owned())
    }
}

impl fmt::Display for GenericError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for GenericError {}

/// Twisted's `successResultOf`: the value, or a panic explaining why there is none.
#[track_caller]
pub fn success_result_of<T: Send + 'static>(d: &Deferred<T>) -> T {
    match d.take_result() {
        Some(Ok(value)) => value,
        Some(Err(failure)) => panic!("expected a success, got failure {failure}"),
        None => panic!("expected a result, the Deferred has none"),
    }
}

/// Twisted's `failureResultOf`.
#[track_caller]
pub fn failure_result_of<T: Send + 'static>(d: &Deferred<T>) -> Failure {
    match d.take_result() {
        Some(Err(failure)) => failure,
        Some(Ok(_)) => panic!("expected a failure, got a success"),
        None => panic!("expected a result, the Deferred has none"),
    }
}

/// Twisted's `assertNoResult`.
#[track_caller]
pub fn assert_no_result<T: Send + 'static>(d: &Deferred<T>) {
    assert!(!d.has_result(), "expected no result");
}

/// Twisted's `task.Clock` reduced to `CallLater`: calls run only in `advance`, in due order
/// (FIFO among equal deadlines).
#[derive(Clone, Default)]
pub struct ManualClock(Arc<Mutex<ClockState>>);

#[derive(Default)]
struct ClockState {
    now: Duration,
    calls: Vec<PendingCall>,
}

struct PendingCall {
    due: Duration,
    f: Box<dyn FnOnce() + Send>,
    cancelled: Arc<AtomicBool>,
}

struct CallHandle(Arc<AtomicBool>);

impl ScheduledCall for CallHandle {
    fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl CallLater for ManualClock {
    fn call_later(&self, delay: Duration, f: Box<dyn FnOnce() + Send>) -> Box<dyn ScheduledCall> {
        let cancelled = Arc::new(AtomicBool::new(false));
        let mut s = self.0.lock().unwrap();
        let due = s.now + delay;
        s.calls.push(PendingCall { due, f, cancelled: cancelled.clone() });
        Box::new(CallHandle(cancelled))
    }
}

impl ManualClock {
    pub fn new() -> Self {
        ManualClock::default()
    }

    /// Moves time forward and runs every call that comes due, in order.
    pub fn advance(&self, by: Duration) {
        let now = {
            let mut s = self.0.lock().unwrap();
            s.now += by;
            s.now
        };
        loop {
            let next = {
                let mut s = self.0.lock().unwrap();
                s.calls.retain(|c| !c.cancelled.load(Ordering::SeqCst));
                let due = s
                    .calls
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.due <= now)
                    .min_by_key(|(i, c)| (c.due, *i));
                due.map(|(i, _)| i).map(|i| s.calls.remove(i))
            };
            match next {
                Some(call) => (call.f)(),
                None => return,
            }
        }
    }

    /// Calls scheduled and neither run nor cancelled.
    pub fn pending(&self) -> usize {
        let s = self.0.lock().unwrap();
        s.calls.iter().filter(|c| !c.cancelled.load(Ordering::SeqCst)).count()
    }
}

static REPORTS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

/// Installs (once per test binary) a hook that records every unhandled failure's text.
pub fn record_unhandled_failures() {
    INSTALL.call_once(|| {
        set_unhandled_failure_hook(|f: &Failure| REPORTS.lock().unwrap().push(f.to_string()));
    });
}

/// How many recorded unhandled failures mention `needle` (tests use unique messages, since
/// every test of the binary shares the hook).
pub fn unhandled_reports_mentioning(needle: &str) -> usize {
    REPORTS.lock().unwrap().iter().filter(|r| r.contains(needle)).count()
}

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` to completion on this thread, parking between polls.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
