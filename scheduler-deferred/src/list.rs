//! [`DeferredList`] and [`gather_results`]: one Deferred for many.
//!
//! Each input gets one callback pair, added in input order (inputs that already fired are
//! processed during `build`). The pair stores the input's result in a shared slot vector under
//! a mutex and decides, under that mutex, whether this result fires the list; the list itself
//! is fired after the mutex is released, so it fires exactly once and never under a lock.
//!
//! Results are *moved* into the list (Rust values need not be `Clone`): after its result was
//! recorded, an input's own chain continues with a spent result, except that a failure keeps
//! propagating in the input's chain (and is reported if nobody handles it) unless
//! `consume_errors` is set, as in Twisted.

use std::fmt;

use crate::chain::{spent, Core, Outcome, Step};
use crate::deferred::typed_result;
use crate::errors::FirstError;
use crate::sync::{Arc, Mutex};
use crate::{Deferred, Failure};

/// What a [`DeferredList`] fires with.
#[derive(Debug)]
pub enum ListResult<T> {
    /// Every input finished: each one's result, in input order.
    All(Vec<Result<T, Failure>>),
    /// `fire_on_one_callback`: the first success and its input's index.
    First {
        /// The position of the input in the list.
        index: usize,
        /// Its value.
        value: T,
    },
}

/// Builder of a Deferred that fires when the given Deferreds have (Twisted's `DeferredList`).
///
/// # Examples
///
/// ```
/// use scheduler_deferred::{Deferred, DeferredList, ListResult};
///
/// let a = Deferred::<i32>::new();
/// let list = DeferredList::new(vec![a.clone(), Deferred::succeed(2)]).build();
/// a.callback(1).unwrap();
/// match list.take_result().unwrap().unwrap() {
///     ListResult::All(results) => {
///         let values: Vec<i32> = results.into_iter().map(Result::unwrap).collect();
///         assert_eq!(values, [1, 2]);
///     }
///     ListResult::First { .. } => unreachable!(),
/// }
/// ```
#[must_use = "call build() to get the Deferred"]
pub struct DeferredList<T> {
    inputs: Vec<Deferred<T>>,
    fire_on_one_callback: bool,
    fire_on_one_errback: bool,
    consume_errors: bool,
}

impl<T> fmt::Debug for DeferredList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredList")
            .field("inputs", &self.inputs.len())
            .field("fire_on_one_callback", &self.fire_on_one_callback)
            .field("fire_on_one_errback", &self.fire_on_one_errback)
            .field("consume_errors", &self.consume_errors)
            .finish()
    }
}

struct Shared<T> {
    slots: Vec<Option<Result<T, Failure>>>,
    finished: usize,
    fired: bool,
}

enum Fire<T> {
    Not,
    List(ListResult<T>),
    Error(FirstError),
}

impl<T: Send + 'static> DeferredList<T> {
    /// A list over `inputs` (copied out of the iterator), with every flag off.
    pub fn new(inputs: impl IntoIterator<Item = Deferred<T>>) -> Self {
        DeferredList {
            inputs: inputs.into_iter().collect(),
            fire_on_one_callback: false,
            fire_on_one_errback: false,
            consume_errors: false,
        }
    }

    /// Fire with [`ListResult::First`] on the first success. With no inputs the list then
    /// never fires (as in Twisted).
    pub fn fire_on_one_callback(mut self, on: bool) -> Self {
        self.fire_on_one_callback = on;
        self
    }

    /// Fail with [`FirstError`] on the first failure.
    pub fn fire_on_one_errback(mut self, on: bool) -> Self {
        self.fire_on_one_errback = on;
        self
    }

    /// Consume the inputs' failures: their chains continue with a spent result instead of the
    /// failure, so nothing is reported as unhandled (a callback added to an input afterwards
    /// meets [`ResultTaken`](crate::ResultTaken), as on any spent chain).
    pub fn consume_errors(mut self, on: bool) -> Self {
        self.consume_errors = on;
        self
    }

    /// Attaches to every input and returns the list's Deferred; cancelling it cancels every
    /// input.
    pub fn build(self) -> Deferred<ListResult<T>> {
        let n = self.inputs.len();
        if n == 0 {
            return if self.fire_on_one_callback {
                Deferred::new()
            } else {
                Deferred::succeed(ListResult::All(Vec::new()))
            };
        }
        let to_cancel = self.inputs.clone();
        let list = Deferred::with_canceller(move |_: &Deferred<ListResult<T>>| {
            to_cancel.iter().for_each(Deferred::cancel);
        });
        let slots = (0..n).map(|_| None).collect();
        let shared = Arc::new(Mutex::new(Shared { slots, finished: 0, fired: false }));
        let flags = (self.fire_on_one_callback, self.fire_on_one_errback, self.consume_errors);
        for (index, input) in self.inputs.into_iter().enumerate() {
            let (shared, list) = (shared.clone(), list.clone());
            Core::add(
                &input.core,
                Box::new(move |outcome: Outcome| {
                    let result = typed_result::<T>(outcome);
                    let passed_on = match (&result, flags.2) {
                        (Err(failure), false) => Err(failure.clone()),
                        _ => spent(),
                    };
                    let fire = record(&shared, index, result, flags);
                    match fire {
                        Fire::Not => {}
                        Fire::List(done) => drop(list.callback(done)),
                        Fire::Error(first) => drop(list.errback(first)),
                    }
                    Step::Done(passed_on)
                }),
            );
        }
        list
    }
}

/// Stores input `index`'s result and says whether the list fires now.
fn record<T>(
    shared: &Mutex<Shared<T>>,
    index: usize,
    result: Result<T, Failure>,
    (on_callback, on_errback, _): (bool, bool, bool),
) -> Fire<T> {
    let mut s = shared.lock();
    s.finished += 1;
    if s.fired {
        return Fire::Not; // Twisted updates a list nobody will read again; we drop it
    }
    match result {
        Ok(value) if on_callback => {
            s.fired = true;
            return Fire::List(ListResult::First { index, value });
        }
        Err(failure) if on_errback => {
            s.fired = true;
            return Fire::Error(FirstError { index, failure });
        }
        result => s.slots[index] = Some(result),
    }
    if s.finished < s.slots.len() {
        return Fire::Not;
    }
    s.fired = true;
    let results = s.slots.iter_mut().filter_map(Option::take).collect();
    Fire::List(ListResult::All(results))
}

/// All values in input order, or the first failure as [`FirstError`] (Twisted's
/// `gatherResults`). Cancelling the result cancels every input.
///
/// # Examples
///
/// ```
/// use scheduler_deferred::{gather_results, Deferred, FirstError};
///
/// let all = gather_results(vec![Deferred::succeed(1), Deferred::succeed(2)], false);
/// assert_eq!(all.take_result().unwrap().unwrap(), vec![1, 2]);
/// ```
pub fn gather_results<T: Send + 'static>(
    inputs: impl IntoIterator<Item = Deferred<T>>,
    consume_errors: bool,
) -> Deferred<Vec<T>> {
    DeferredList::new(inputs)
        .fire_on_one_errback(true)
        .consume_errors(consume_errors)
        .build()
        .add_callback(|outcome| match outcome {
            // fire_on_one_errback: the list only completes with all successes.
            ListResult::All(results) => results.into_iter().filter_map(Result::ok).collect(),
            ListResult::First { value, .. } => vec![value],
        })
}
