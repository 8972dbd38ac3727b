//! [`Deferred<T>`]: the typed handle over a type-erased callback chain.
//!
//! The design notes (type-erased chain, one method per callback shape) are on [`Deferred`]
//! itself, where users read them.

use std::any::type_name;
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::chain::{Callback, Canceller, Core, Outcome, Step};
use crate::core_ref::CoreRef;
use crate::errors::{AlreadyCalled, NotPaused, TypeMismatch};
use crate::value::{Taken, Value};
use crate::wakers::WaiterKey;
use crate::Failure;

/// A result that is not there yet, with a chain of callbacks to run on it (Twisted's
/// `Deferred`).
///
/// Fire it once with [`callback`](Deferred::callback) or [`errback`](Deferred::errback); each
/// callback's output is the next one's input; a failure skips to the next errback; an errback
/// that returns `Ok` recovers. Any thread may fire, add callbacks or cancel: callbacks run
/// exactly once, in chain order, never two of one chain at once, on the thread that fired or
/// added them (a thread that finds the chain already running hands its work to that thread).
///
/// # Examples
///
/// ```
/// use scheduler_deferred::{Deferred, Failure};
///
/// let d = Deferred::<u32>::new();
/// let producer = d.clone();
/// let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
/// let sink = seen.clone();
/// d.add_callback(|n| n * 2)
///     .add_callback_result(|n| if n > 5 { Ok(n) } else { Err(Failure::new(std::fmt::Error)) })
///     .add_errback(|_| Ok(0))
///     .add_callback(move |n| *sink.lock().unwrap() = Some(n));
/// producer.callback(21).unwrap();
/// assert_eq!(*seen.lock().unwrap(), Some(42));
/// assert!(producer.callback(1).is_err()); // AlreadyCalled
/// ```
///
/// # Handles and types: a type-erased chain
///
/// Twisted callbacks may change the result's type at each step. A `Deferred<T>` is a cheap
/// handle (one `Arc`) to a chain whose values are stored type-erased; each `add_*` method
/// consumes the handle and returns a `Deferred<U>` over the *same* chain, typed for the value
/// the new callback will produce. Nothing is allocated per type change, and a callback whose
/// output has its input's type reuses the value's allocation.
///
/// The type of a handle is the chain's type *when the handle was made*. A producer keeps a
/// clone taken at creation and fires through it; consumers keep using the handle the last
/// `add_*` returned. A handle used out of turn (a stale clone after a type-changing callback)
/// cannot break the chain: the mismatch surfaces as a [`TypeMismatch`] failure.
///
/// # One method per callback shape
///
/// Rust cannot take "a value, a `Result` or a `Deferred`" through one closure type without
/// inference trouble, so each return shape has its own method:
///
/// | callback returns | method |
/// |---|---|
/// | `U` | [`add_callback`](Deferred::add_callback) |
/// | `Result<U, Failure>` | [`add_callback_result`](Deferred::add_callback_result) |
/// | `Deferred<U>` (chaining) | [`add_callback_deferred`](Deferred::add_callback_deferred) |
/// | errback `Result<T, Failure>` | [`add_errback`](Deferred::add_errback) |
/// | errback `Deferred<T>` | [`add_errback_deferred`](Deferred::add_errback_deferred) |
/// | both halves, one function | [`add_both`](Deferred::add_both), [`add_both_deferred`](Deferred::add_both_deferred) |
/// | a callback/errback pair | [`add_callbacks`](Deferred::add_callbacks) |
///
/// A panic inside any callback is caught and becomes the chain's [`Failure`].
///
/// # Results that moved on
///
/// A result taken by an `.await`, by [`take_result`](Deferred::take_result), by a Deferred
/// chained onto this one, or by a [`DeferredList`](crate::DeferredList) (or
/// [`race`](crate::race())) leaves the chain *spent*. Twisted runs callbacks added afterwards
/// with `None`, which has no Rust counterpart of type `T`; here the first callback that meets
/// a spent chain continues it with a [`ResultTaken`](crate::ResultTaken) failure instead, so
/// nothing added later vanishes:
///
/// * an errback, [`add_both`](Deferred::add_both) or the errback half of
///   [`add_callbacks`](Deferred::add_callbacks) runs with that failure, and may recover;
/// * a plain callback has no value to run on: it passes the failure on to the next errback;
/// * a chain left holding it reports it through the unhandled-failure hook when dropped,
///   like any other unhandled failure
///   ([`set_unhandled_failure_hook`](crate::set_unhandled_failure_hook)).
///
/// A spent chain to which nothing is added reports nothing, and awaiting it again gives the
/// same [`ResultTaken`](crate::ResultTaken) failure.
///
/// ```
/// use scheduler_deferred::{Deferred, ResultTaken};
///
/// let inner = Deferred::succeed(7);
/// let i = inner.clone();
/// let outer = Deferred::succeed(()).add_callback_deferred(move |()| i);
/// assert_eq!(outer.take_result().unwrap().unwrap(), 7); // the 7 moved to `outer`
///
/// // Added to `inner` after its value moved on: runs, with `ResultTaken`.
/// let noticed = inner.add_both(|r: Result<i32, _>| Ok(r.unwrap_err().is::<ResultTaken>()));
/// assert!(noticed.take_result().unwrap().unwrap());
/// ```
///
/// The handle returned by an `add_*` method may be dropped (`d.add_callback(f);`): it is the
/// same chain, kept alive by the other handles. Constructors are `#[must_use]`.
pub struct Deferred<T> {
    /// Dropped by `Drop` below (a primitive's waiter takes the withdraw path).
    pub(crate) core: ManuallyDrop<CoreRef>,
    /// This handle's key among the chain's awaiting wakers (`wakers.rs`); 0 while it has
    /// none (it never returned `Pending`, or its last poll was `Ready`).
    pub(crate) waiter: WaiterKey,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Deferred<T> {
    fn clone(&self) -> Self {
        let core = ManuallyDrop::new(CoreRef::clone(&self.core));
        Deferred { core, waiter: 0, _type: PhantomData }
    }
}

impl<T> Drop for Deferred<T> {
    /// Forgets this handle's waker if it was awaiting; the last handle of a primitive's waiter
    /// withdraws it (see [`DeferredQueue`](crate::DeferredQueue)).
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the field is taken once, here, and not used afterwards.
        let core = unsafe { ManuallyDrop::take(&mut self.core) };
        if self.waiter != 0 {
            core.forget_waiter(self.waiter);
        }
        if core.drop_hint() {
            Core::drop_user(core);
        }
    }
}

impl<T> Deferred<T> {
    /// The chain handle, out of this user handle (its waker forgotten).
    #[inline(always)]
    pub(crate) fn into_core(self) -> CoreRef {
        let mut this = ManuallyDrop::new(self);
        if this.waiter != 0 {
            this.core.forget_waiter(this.waiter);
        }
        // SAFETY: `this` is never dropped, so the field is taken exactly once.
        unsafe { ManuallyDrop::take(&mut this.core) }
    }
}

impl<T> fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deferred")
            .field("type", &type_name::<T>())
            .field("core", &self.core)
            .finish()
    }
}

impl<T: Send + 'static> Default for Deferred<T> {
    fn default() -> Self {
        Deferred::new()
    }
}

/// What a typed callback hands back to the chain.
pub(crate) enum Next<U> {
    Ready(Result<U, Failure>),
    Wait(Deferred<U>),
}

impl<T: Send + 'static> Deferred<T> {
    #[inline(always)]
    pub(crate) fn from_core(core: CoreRef) -> Self {
        Deferred { core: ManuallyDrop::new(core), waiter: 0, _type: PhantomData }
    }

    /// A new, unfired Deferred without a canceller.
    #[must_use = "a new Deferred does nothing unless kept to be fired or awaited"]
    pub fn new() -> Self {
        Deferred::from_core(Core::unfired(None))
    }

    /// A new, unfired Deferred whose [`cancel`](Deferred::cancel) calls `canceller` first
    /// (with the Deferred itself). If the canceller does not fire it, `cancel` fails it with
    /// [`Cancelled`](crate::Cancelled). The canceller is dropped once the Deferred fires.
    #[must_use = "a new Deferred does nothing unless kept to be fired or awaited"]
    pub fn with_canceller<F>(canceller: F) -> Self
    where
        F: FnOnce(&Deferred<T>) + Send + 'static,
    {
        let erased = move |core: &CoreRef| canceller(&Deferred::from_core(core.clone()));
        Deferred::from_core(Core::unfired(Some(Canceller::Boxed(Box::new(erased)))))
    }

    /// A Deferred already fired with `value` (Twisted's `succeed`).
    #[must_use = "a new Deferred does nothing unless kept to be fired or awaited"]
    pub fn succeed(value: T) -> Self {
        Deferred::from_core(Core::fired(Ok(boxed(value))))
    }

    /// A Deferred already failed with `failure` (Twisted's `fail`).
    #[must_use = "a new Deferred does nothing unless kept to be fired or awaited"]
    pub fn fail(failure: impl Into<Failure>) -> Self {
        Deferred::from_core(Core::fired(Err(failure.into())))
    }

    /// Fires the chain with `value`; the callbacks run on this thread before it returns
    /// (unless paused, or another thread is running this chain).
    ///
    /// # Errors
    ///
    /// [`AlreadyCalled`] if it was fired before (except the one fire Twisted swallows after a
    /// `cancel` without canceller).
    ///
    /// A Deferred cannot be fired with itself (Twisted raises for `d.callback(d)`; here the
    /// types forbid it):
    ///
    /// ```compile_fail
    /// let d = scheduler_deferred::Deferred::<u8>::new();
    /// d.callback(d.clone());
    /// ```
    pub fn callback(&self, value: T) -> Result<(), AlreadyCalled> {
        Core::fire(&self.core, Ok(boxed(value)))
    }

    /// Like [`callback`](Deferred::callback), but gives the value back when the Deferred was
    /// already fired, so a hand-off (a queue's `put`, a lock's `release`) can try elsewhere.
    ///
    /// # Errors
    ///
    /// The value, if the Deferred was already fired.
    pub fn try_callback(&self, value: T) -> Result<(), T> {
        Core::fire_or_return(&self.core, Ok(boxed(value))).map_err(|outcome| {
            match typed_result::<T>(outcome) {
                Ok(value) => value,
                Err(_) => unreachable!("the outcome we built holds a T"),
            }
        })
    }

    /// Fires the chain with a failure; the next errback receives it.
    ///
    /// # Errors
    ///
    /// [`AlreadyCalled`] as for [`callback`](Deferred::callback).
    pub fn errback(&self, failure: impl Into<Failure>) -> Result<(), AlreadyCalled> {
        Core::fire(&self.core, Err(failure.into()))
    }

    /// True once fired (by `callback`, `errback` or `cancel`).
    pub fn is_called(&self) -> bool {
        self.core.is_called()
    }

    /// Pauses the chain: no callback runs until the matching [`unpause`](Deferred::unpause).
    pub fn pause(&self) {
        self.core.pause();
    }

    /// Undoes one [`pause`](Deferred::pause); the last one resumes the chain on this thread.
    ///
    /// # Errors
    ///
    /// [`NotPaused`] if the Deferred is not paused (Twisted would wedge the chain).
    pub fn unpause(&self) -> Result<(), NotPaused> {
        Core::unpause(&self.core)
    }

    /// Cancels: an unfired Deferred calls its canceller, then fails with
    /// [`Cancelled`](crate::Cancelled) unless the canceller fired it. Without a canceller the
    /// next `callback`/`errback` is silently swallowed, once. A Deferred that fired but waits on
    /// a chained Deferred cancels that one. Otherwise a no-op; never an error.
    pub fn cancel(&self) {
        Core::cancel(&self.core);
    }

    /// True if the chain holds a result at rest: fired, not paused, not waiting on a chained
    /// Deferred, no callback pending (what an `.await` or `take_result` would get now).
    pub fn has_result(&self) -> bool {
        self.core.has_result()
    }

    /// Takes the result if the chain has one at rest (fired, not paused, not waiting, no
    /// callback pending), like Twisted's `successResultOf`/`failureResultOf`. The chain is
    /// spent afterwards: a callback added later continues it with a
    /// [`ResultTaken`](crate::ResultTaken) failure (see "Results that moved on" above).
    pub fn take_result(&self) -> Option<Result<T, Failure>> {
        self.core.try_take().map(typed_result::<T>)
    }

    #[inline(always)]
    fn push<U: Send + 'static>(self, callback: Callback) -> Deferred<U> {
        Deferred::from_core(Core::add_owned(self.into_core(), callback))
    }

    /// Adds a callback whose return value is the next result; failures pass it by.
    #[inline]
    pub fn add_callback<U, F>(self, f: F) -> Deferred<U>
    where
        U: Send + 'static,
        F: FnOnce(T) -> U + Send + 'static,
    {
        self.push(on_value(move |t| Next::Ready(Ok(f(t)))))
    }

    /// Adds a callback that may fail: `Err` switches the chain to the errback path.
    #[inline]
    pub fn add_callback_result<U, F>(self, f: F) -> Deferred<U>
    where
        U: Send + 'static,
        F: FnOnce(T) -> Result<U, Failure> + Send + 'static,
    {
        self.push(on_value(move |t| Next::Ready(f(t))))
    }

    /// Adds a callback that returns another Deferred: the chain pauses until that one fires,
    /// then continues with its result (Twisted's chaining). The inner Deferred's result is
    /// moved out of it.
    #[inline]
    pub fn add_callback_deferred<U, F>(self, f: F) -> Deferred<U>
    where
        U: Send + 'static,
        F: FnOnce(T) -> Deferred<U> + Send + 'static,
    {
        self.push(on_value(move |t| Next::Wait(f(t))))
    }

    /// Adds an errback: it receives a failure and may recover (`Ok`) or fail on; values pass
    /// it by.
    #[inline]
    pub fn add_errback<F>(self, f: F) -> Deferred<T>
    where
        F: FnOnce(Failure) -> Result<T, Failure> + Send + 'static,
    {
        self.push(on_failure::<T, _>(move |e| Next::Ready(f(e))))
    }

    /// Adds an errback that returns a Deferred to wait on.
    #[inline]
    pub fn add_errback_deferred<F>(self, f: F) -> Deferred<T>
    where
        F: FnOnce(Failure) -> Deferred<T> + Send + 'static,
    {
        self.push(on_failure::<T, _>(move |e| Next::Wait(f(e))))
    }

    /// Adds one function for both paths (Twisted's `addBoth`).
    #[inline]
    pub fn add_both<U, F>(self, f: F) -> Deferred<U>
    where
        U: Send + 'static,
        F: FnOnce(Result<T, Failure>) -> Result<U, Failure> + Send + 'static,
    {
        self.push(on_both(move |r| Next::Ready(f(r))))
    }

    /// Adds one function for both paths that returns a Deferred to wait on.
    #[inline]
    pub fn add_both_deferred<U, F>(self, f: F) -> Deferred<U>
    where
        U: Send + 'static,
        F: FnOnce(Result<T, Failure>) -> Deferred<U> + Send + 'static,
    {
        self.push(on_both(move |r| Next::Wait(f(r))))
    }

    /// Adds a callback/errback *pair* (Twisted's `addCallbacks`): exactly one half runs, so an
    /// error raised by `callback` does not reach this `errback`.
    #[inline]
    pub fn add_callbacks<U, C, E>(self, callback: C, errback: E) -> Deferred<U>
    where
        U: Send + 'static,
        C: FnOnce(T) -> Result<U, Failure> + Send + 'static,
        E: FnOnce(Failure) -> Result<U, Failure> + Send + 'static,
    {
        self.push(on_both(move |r: Result<T, Failure>| {
            Next::Ready(match r {
                Ok(t) => callback(t),
                Err(e) => errback(e),
            })
        }))
    }
}

/// Boxes a value for the chain.
pub(crate) fn boxed<T: Send + 'static>(value: T) -> Value {
    Value::new(value)
}

/// The failure a callback meets on a spent chain (see "Results that moved on" on
/// [`Deferred`]); out of line, off every callback's fast path.
#[cold]
#[inline(never)]
fn result_taken() -> Failure {
    Failure::new(crate::ResultTaken)
}

fn mismatch<T>() -> Failure {
    Failure::new(TypeMismatch { expected: type_name::<T>() })
}

/// Converts a chain outcome into the typed result an `.await` or `take_result` returns.
pub(crate) fn typed_result<T: 'static>(outcome: Outcome) -> Result<T, Failure> {
    match outcome {
        Ok(mut value) => match value.take::<T>() {
            Taken::Value(t) => Ok(t),
            Taken::Spent => Err(result_taken()),
            Taken::Mismatch => Err(mismatch::<T>()),
        },
        Err(failure) => Err(failure),
    }
}

/// Stores `u` in `slot`'s box when it fits, else in a new box.
fn store<U: Send + 'static>(slot: Option<Value>, u: U) -> Value {
    match slot {
        Some(value) => value.store(u),
        None => Value::new_outlined(u),
    }
}

/// Runs a user function, turning a panic into a failure.
fn guarded<U>(slot: Option<Value>, f: impl FnOnce() -> Next<U>) -> Step
where
    U: Send + 'static,
{
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Next::Ready(Ok(u))) => Step::Done(Ok(store(slot, u))),
        Ok(Next::Ready(Err(failure))) => Step::Done(Err(failure)),
        Ok(Next::Wait(inner)) => Step::Chain(inner.into_core()),
        Err(payload) => Step::Done(Err(Failure::from_panic(payload))),
    }
}

/// An entry that runs `f` on a value and passes failures by.
fn on_value<T, U, F>(f: F) -> Callback
where
    T: Send + 'static,
    U: Send + 'static,
    F: FnOnce(T) -> Next<U> + Send + 'static,
{
    Box::new(move |outcome: Outcome| match outcome {
        Ok(mut value) => match value.take::<T>() {
            Taken::Value(t) => guarded(Some(value), move || f(t)),
            Taken::Spent => Step::Done(Err(result_taken())),
            Taken::Mismatch => Step::Done(Err(mismatch::<T>())),
        },
        Err(failure) => Step::Done(Err(failure)),
    })
}

/// An entry that runs `f` on a failure and passes values by.
fn on_failure<T, F>(f: F) -> Callback
where
    T: Send + 'static,
    F: FnOnce(Failure) -> Next<T> + Send + 'static,
{
    Box::new(move |outcome: Outcome| match outcome {
        Ok(value) if value.is_spent() => guarded(None, move || f(result_taken())),
        Ok(value) => Step::Done(Ok(value)),
        Err(failure) => guarded(None, move || f(failure)),
    })
}

/// An entry that runs `f` on either result.
fn on_both<T, U, F>(f: F) -> Callback
where
    T: Send + 'static,
    U: Send + 'static,
    F: FnOnce(Result<T, Failure>) -> Next<U> + Send + 'static,
{
    Box::new(move |outcome: Outcome| match outcome {
        Ok(mut value) => match value.take::<T>() {
            Taken::Value(t) => guarded(Some(value), move || f(Ok(t))),
            Taken::Spent => guarded(None, move || f(Err(result_taken()))),
            Taken::Mismatch => guarded(None, move || f(Err(mismatch::<T>()))),
        },
        Err(failure) => guarded(None, move || f(Err(failure))),
    })
}
