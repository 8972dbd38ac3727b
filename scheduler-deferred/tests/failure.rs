//! `Failure`: wrapping, `trap` / `check` / `is` / `downcast_ref`, the cause chain in
//! `Display`, panics, and `?` conversion inside callbacks.

use std::error::Error;
use std::fmt;

use scheduler_deferred::{Cancelled, Deferred, Failure, FirstError, TimedOut};

#[derive(Debug)]
struct Outer(Inner);
#[derive(Debug)]
struct Inner;

impl fmt::Display for Outer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not load config")
    }
}
impl Error for Outer {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}
impl fmt::Display for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("file not found")
    }
}
impl Error for Inner {}

#[test]
fn display_walks_the_cause_chain() {
    let f = Failure::new(Outer(Inner));
    assert_eq!(f.to_string(), "could not load config: caused by: file not found");
    let first = Failure::new(FirstError { index: 2, failure: f });
    assert_eq!(
        first.to_string(),
        "FirstError[#2]: caused by: could not load config: caused by: file not found"
    );
}

#[test]
fn trap_check_is_and_downcast() {
    let f = Failure::new(Cancelled);
    assert!(f.is::<Cancelled>());
    assert!(!f.is::<TimedOut>());
    assert_eq!(f.check::<Cancelled>(), Some(&Cancelled));
    assert!(f.trap::<Cancelled>().is_ok());
    let passed_on = f.trap::<TimedOut>().unwrap_err();
    assert!(passed_on.ptr_eq(&f), "trap passes the same failure on");
    assert!(f.error().is_some() && !f.is_panic());
}

#[test]
fn panics_are_failures() {
    let payload = std::panic::catch_unwind(|| panic!("boom {}", 7)).unwrap_err();
    let f = Failure::from_panic(payload);
    assert!(f.is_panic());
    assert_eq!(f.to_string(), "panic: boom 7");
    assert!(f.error().is_none() && !f.is::<Cancelled>());
    assert!(f.take_panic_payload().is_some());
    assert!(f.take_panic_payload().is_none(), "taken once");
}

#[test]
fn question_mark_converts_errors_inside_callbacks() {
    let d = Deferred::succeed("12x").add_callback_result(|s| Ok(s.parse::<u32>()?));
    let f = d.take_result().unwrap().unwrap_err();
    assert!(f.is::<std::num::ParseIntError>());
}

#[test]
fn errback_trap_passes_other_failures_on() {
    let d = Deferred::<u8>::fail(TimedOut { after: std::time::Duration::from_secs(1) })
        .add_errback(|f| {
            f.trap::<Cancelled>()?;
            Ok(0)
        });
    assert!(d.take_result().unwrap().unwrap_err().is::<TimedOut>());
}

// ---- `?` into the usual error boxes (issue 10, item 7) ---------------------------------------

fn boxed_sync(d: Deferred<u8>) -> Result<u8, Box<dyn Error + Send + Sync>> {
    let value = d.take_result().expect("fired")?;
    Ok(value)
}

fn boxed_send(d: Deferred<u8>) -> Result<u8, Box<dyn Error + Send>> {
    let value = d.take_result().expect("fired")?;
    Ok(value)
}

#[test]
fn question_mark_turns_a_failure_into_a_boxed_error() {
    assert_eq!(boxed_sync(Deferred::succeed(3)).unwrap(), 3);
    let err = boxed_sync(Deferred::fail(Outer(Inner))).unwrap_err();
    // Transparent: the failure's own error is the Display, its source the source.
    assert_eq!(err.to_string(), "could not load config");
    assert_eq!(err.source().unwrap().to_string(), "file not found");
    let failure = err.downcast_ref::<scheduler_deferred::FailureError>().unwrap().failure();
    assert!(failure.is::<Outer>());

    let err = boxed_send(Deferred::fail(Cancelled)).unwrap_err();
    assert_eq!(err.to_string(), "Deferred was cancelled");
    assert!(err.source().is_none());
}

#[test]
fn a_panic_failure_converts_with_its_message() {
    let d = Deferred::<u8>::succeed(1).add_callback(|_| -> u8 { panic!("kaboom") });
    let err = boxed_sync(d).unwrap_err();
    assert_eq!(err.to_string(), "panic: kaboom");
    let back = err.downcast::<scheduler_deferred::FailureError>().unwrap().into_failure();
    assert!(back.is_panic());
}
