//! Error values of the time API, and the checked conversion of `f64` seconds.

use std::error::Error;
use std::fmt;
use std::time::Duration;

/// Why [`DelayedCall::cancel`](crate::time::DelayedCall::cancel) /
/// [`reset`](crate::time::DelayedCall::reset) / [`delay`](crate::time::DelayedCall::delay)
/// was refused (Twisted's `error.AlreadyCalled` / `error.AlreadyCancelled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DelayedCallError {
    /// The call's time came: it ran or is running (set just before the function runs, so a
    /// `cancel` from inside the function gets this).
    AlreadyCalled,
    /// The call was cancelled before.
    AlreadyCancelled,
}

impl fmt::Display for DelayedCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DelayedCallError::AlreadyCalled => "Tried to cancel an already-called event",
            DelayedCallError::AlreadyCancelled => "Tried to cancel an already-cancelled event",
        })
    }
}

impl Error for DelayedCallError {}

/// A delay or interval given as `f64` seconds was negative, NaN or infinite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InvalidDelay(pub f64);

impl fmt::Display for InvalidDelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "delay must be finite and >= 0 seconds, got {}", self.0)
    }
}

impl Error for InvalidDelay {}

/// Converts `f64` seconds to a [`Duration`], rejecting negative, NaN and infinite values
/// (Twisted would assert, or wedge its heap on NaN: twisted#3884). Values too large for a
/// `Duration` saturate at [`Duration::MAX`].
///
/// # Errors
/// [`InvalidDelay`] for a negative, NaN or infinite `secs`.
///
/// # Examples
/// ```
/// use scheduler_core::time::secs_f64;
/// assert_eq!(secs_f64(0.25).unwrap().as_millis(), 250);
/// assert!(secs_f64(-1.0).is_err() && secs_f64(f64::NAN).is_err());
/// ```
pub fn secs_f64(secs: f64) -> Result<Duration, InvalidDelay> {
    if !secs.is_finite() || secs < 0.0 {
        return Err(InvalidDelay(secs));
    }
    Ok(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
}

/// A [`timeout`](crate::time::timeout) ended before its future completed: its deadline
/// elapsed, or its runtime shut down first ([`is_shutdown`](Elapsed::is_shutdown)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Elapsed {
    after: Duration,
    shutdown: bool,
}

impl Elapsed {
    pub(crate) fn deadline(after: Duration) -> Elapsed {
        Elapsed { after, shutdown: false }
    }

    pub(crate) fn shutdown(after: Duration) -> Elapsed {
        Elapsed { after, shutdown: true }
    }

    /// The timeout that was set.
    pub fn after(&self) -> Duration {
        self.after
    }

    /// True when the runtime shut down before the deadline (the future did not get its whole
    /// time); false when the deadline really elapsed.
    pub fn is_shutdown(&self) -> bool {
        self.shutdown
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.shutdown {
            write!(f, "the runtime shut down before the deadline of {:?}", self.after)
        } else {
            write!(f, "deadline of {:?} elapsed", self.after)
        }
    }
}

impl Error for Elapsed {}

/// Why a [`LoopingCall`](crate::time::LoopingCall) operation was refused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoopingCallError {
    /// `start` on a loop that is running.
    AlreadyRunning,
    /// `stop` or `reset` on a loop that is not running.
    NotRunning,
    /// A negative, NaN or infinite interval.
    InvalidInterval(f64),
}

impl fmt::Display for LoopingCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoopingCallError::AlreadyRunning => {
                f.write_str("Tried to start an already running LoopingCall.")
            }
            LoopingCallError::NotRunning => {
                f.write_str("Tried to stop a LoopingCall that was not running.")
            }
            LoopingCallError::InvalidInterval(i) => write!(f, "interval must be >= 0, got {i}"),
        }
    }
}

impl Error for LoopingCallError {}

/// The failure a [`CooperativeTask`](crate::time::CooperativeTask) completes with when it is
/// stopped (Twisted's `TaskStopped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TaskStopped;

impl fmt::Display for TaskStopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the cooperative task was stopped")
    }
}

impl Error for TaskStopped {}

/// The failure of a task whose [`Cooperator`](crate::time::Cooperator) was stopped (Twisted's
/// `SchedulerStopped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SchedulerStopped;

impl fmt::Display for SchedulerStopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the cooperator was stopped")
    }
}

impl Error for SchedulerStopped {}

/// Why `pause`, `resume` or `stop` on a [`CooperativeTask`](crate::time::CooperativeTask) was
/// refused (Twisted's `TaskFinished` family and `NotPaused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskFinished {
    /// The iterator was exhausted (`TaskDone`).
    Done,
    /// The task was stopped (`TaskStopped`).
    Stopped,
    /// The iterator failed (`TaskFailed`).
    Failed,
    /// The cooperator was stopped (`SchedulerStopped`).
    SchedulerStopped,
    /// `resume` on a task that is not paused (`NotPaused`).
    NotPaused,
}

impl fmt::Display for TaskFinished {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskFinished::Done => "the task is done",
            TaskFinished::Stopped => "the task was stopped",
            TaskFinished::Failed => "the task failed",
            TaskFinished::SchedulerStopped => "the cooperator was stopped",
            TaskFinished::NotPaused => "the task is not paused",
        })
    }
}

impl Error for TaskFinished {}
