//! [`race`]: the first input to succeed wins (Twisted's `defer.race`, 22.x).
//!
//! Each input gets one callback, added in input order (inputs that already fired are
//! processed at once). The callback records the input's outcome under a mutex and decides,
//! under it, whether the race ends now; the race Deferred is fired, and the other inputs are
//! cancelled, only after the mutex is released, so the race fires exactly once and never under
//! a lock, and the cancellations' own callbacks (which land here again) find it ended.
//!
//! Results are moved into the race: every input's chain continues with a spent result, its
//! failures consumed (they are the race's to report, in a [`FailureGroup`]), as Twisted's
//! inputs continue with `None`.

use std::error::Error;
use std::fmt;

use crate::chain::{spent, Core, Outcome, Step};
use crate::deferred::typed_result;
use crate::sync::{Arc, Mutex};
use crate::{Deferred, Failure};

/// Every input of a [`race`] failed: their failures, in input order (Twisted's
/// `FailureGroup`). Cancelling a race that has inputs ends in one of these too, holding the
/// inputs' cancellations.
#[derive(Debug, Clone)]
pub struct FailureGroup {
    /// One failure per input, in input order.
    pub failures: Vec<Failure>,
}

impl fmt::Display for FailureGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "all {} inputs failed", self.failures.len())
    }
}

impl Error for FailureGroup {}

struct RaceState {
    failures: Vec<Option<Failure>>,
    failed: usize,
    ended: bool,
}

/// What an input's outcome does to the race.
enum End<T> {
    Not,
    Won(usize, T),
    AllFailed(Vec<Failure>),
}

/// Fires with `(index, value)` of the first input to succeed and cancels every other input
/// (before firing); later outcomes are ignored. If every input fails, it fails with a
/// [`FailureGroup`] of their failures in input order. Cancelling the race cancels every input
/// (and so ends in a `FailureGroup` of their cancellations, unless one succeeds from its
/// canceller). With no input it never fires, as in Twisted.
///
/// # Examples
///
/// ```
/// use scheduler_deferred::{race, Deferred, Failure};
///
/// let (slow, fast) = (Deferred::<&str>::new(), Deferred::<&str>::new());
/// let first = race(vec![slow.clone(), fast.clone()]);
/// fast.callback("fast").unwrap();
/// assert_eq!(first.take_result().unwrap().unwrap(), (1, "fast"));
/// assert!(slow.is_called()); // cancelled by the race
/// ```
pub fn race<T: Send + 'static>(
    inputs: impl IntoIterator<Item = Deferred<T>>,
) -> Deferred<(usize, T)> {
    let inputs: Vec<Deferred<T>> = inputs.into_iter().collect();
    let n = inputs.len();
    if n == 0 {
        return Deferred::new();
    }
    let everyone = Arc::new(inputs.clone());
    let to_cancel = everyone.clone();
    let result = Deferred::with_canceller(move |_: &Deferred<(usize, T)>| {
        to_cancel.iter().for_each(Deferred::cancel);
    });
    let state = Arc::new(Mutex::new(RaceState {
        failures: (0..n).map(|_| None).collect(),
        failed: 0,
        ended: false,
    }));
    for (index, input) in inputs.into_iter().enumerate() {
        let (state, result, everyone) = (state.clone(), result.clone(), everyone.clone());
        Core::add(
            &input.core,
            Box::new(move |outcome: Outcome| {
                match record(&state, index, typed_result::<T>(outcome)) {
                    End::Not => {}
                    End::Won(i, value) => {
                        for (j, other) in everyone.iter().enumerate() {
                            if j != i {
                                other.cancel();
                            }
                        }
                        let _ = result.callback((i, value)); // AlreadyCalled: the race was cancelled
                    }
                    End::AllFailed(failures) => {
                        let _ = result.errback(Failure::new(FailureGroup { failures }));
                    }
                }
                Step::Done(spent())
            }),
        );
    }
    result
}

/// Records input `index`'s outcome and says whether the race ends with it.
fn record<T>(state: &Mutex<RaceState>, index: usize, outcome: Result<T, Failure>) -> End<T> {
    let mut s = state.lock();
    if s.ended {
        return End::Not; // a loser's late or cancelled outcome goes nowhere
    }
    match outcome {
        Ok(value) => {
            s.ended = true;
            End::Won(index, value)
        }
        Err(failure) => {
            s.failures[index] = Some(failure);
            s.failed += 1;
            if s.failed < s.failures.len() {
                return End::Not;
            }
            s.ended = true;
            End::AllFailed(s.failures.iter_mut().filter_map(Option::take).collect())
        }
    }
}
