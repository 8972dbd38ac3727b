//! Model-based test: random sequences of add_callback / add_errback / add_both / fire /
//! cancel / pause / unpause on one Deferred, checked step by step against a plain sequential
//! model of Twisted's chain (a list of pending pairs, a result, a pause count and the
//! "swallow one fire after a canceller-less cancel" flag).

#![allow(clippy::let_underscore_future)] // see twisted_test_defer.rs

use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use scheduler_deferred::{AlreadyCalled, Cancelled, Deferred, Failure, NotPaused};

/// A failure carrying a number, so the model can compare failures by value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Code(i64);

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "code {}", self.0)
    }
}

impl Error for Code {}

/// The code the model uses for `Cancelled`.
const CANCELLED: i64 = i64::MIN;

type Res = Result<i64, i64>;

fn code_of(f: &Failure) -> i64 {
    if f.is::<Cancelled>() {
        CANCELLED
    } else {
        f.downcast_ref::<Code>().map(|c| c.0).expect("only Code or Cancelled failures")
    }
}

fn fail(code: i64) -> Failure {
    Failure::new(Code(code))
}

#[derive(Debug, Clone, Copy)]
enum Op {
    /// value -> value + k
    AddCallback(i64),
    /// value -> failure(k)
    AddFailingCallback(i64),
    /// failure(c) -> value c + k (recovers)
    AddErrback(i64),
    /// failure(c) -> failure(c + 1)
    AddRethrowingErrback,
    /// either -> value (v or c) * 2
    AddBoth,
    Fire(i64),
    FireFailure(i64),
    Cancel,
    Pause,
    Unpause,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (-5i64..5).prop_map(Op::AddCallback),
        (0i64..5).prop_map(Op::AddFailingCallback),
        (-5i64..5).prop_map(Op::AddErrback),
        Just(Op::AddRethrowingErrback),
        Just(Op::AddBoth),
        (0i64..100).prop_map(Op::Fire),
        (0i64..100).prop_map(Op::FireFailure),
        Just(Op::Cancel),
        Just(Op::Pause),
        Just(Op::Unpause),
    ]
}

/// What one pair does to a result (shared by the model and the real callbacks).
fn apply(op: Op, input: Res) -> Res {
    match (op, input) {
        (Op::AddCallback(k), Ok(v)) => Ok(v.wrapping_add(k)),
        (Op::AddFailingCallback(k), Ok(_)) => Err(k),
        (Op::AddErrback(k), Err(c)) => Ok(c.wrapping_add(k)),
        (Op::AddRethrowingErrback, Err(c)) => Err(c.wrapping_add(1)),
        (Op::AddBoth, Ok(v) | Err(v)) => Ok(v.wrapping_mul(2)),
        (_, passed) => passed,
    }
}

/// Twisted's chain, sequentially.
#[derive(Default)]
struct Model {
    called: bool,
    suppress: bool,
    paused: usize,
    result: Option<Res>,
    pending: VecDeque<(usize, Op)>,
    log: Vec<(usize, Res)>,
}

impl Model {
    fn run(&mut self) {
        if !self.called || self.paused > 0 {
            return;
        }
        while let Some((id, op)) = self.pending.pop_front() {
            let input = self.result.take().expect("fired");
            if matches!(op, Op::AddBoth)
                || input.is_ok() != matches!(op, Op::AddErrback(_) | Op::AddRethrowingErrback)
            {
                self.log.push((id, input));
            }
            self.result = Some(apply(op, input));
        }
    }

    fn fire(&mut self, r: Res) -> Result<(), AlreadyCalled> {
        if self.called {
            if std::mem::take(&mut self.suppress) {
                return Ok(());
            }
            return Err(AlreadyCalled);
        }
        self.called = true;
        self.result = Some(r);
        self.run();
        Ok(())
    }
}

/// Adds `op` as a real callback pair that logs the half that runs.
fn add_real(d: &Deferred<i64>, id: usize, op: Op, log: &Arc<Mutex<Vec<(usize, Res)>>>) {
    let (l1, l2) = (log.clone(), log.clone());
    let d = d.clone();
    let _ = match op {
        Op::AddCallback(_) | Op::AddFailingCallback(_) => d.add_callback_result(move |v| {
            l1.lock().unwrap().push((id, Ok(v)));
            apply(op, Ok(v)).map_err(fail)
        }),
        Op::AddErrback(_) | Op::AddRethrowingErrback => d.add_errback(move |f| {
            let c = code_of(&f);
            l2.lock().unwrap().push((id, Err(c)));
            apply(op, Err(c)).map_err(fail)
        }),
        Op::AddBoth => d.add_both(move |r: Result<i64, Failure>| {
            let input = r.map_err(|f| code_of(&f));
            l1.lock().unwrap().push((id, input));
            apply(op, input).map_err(fail)
        }),
        _ => unreachable!("not an add"),
    };
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn chain_matches_sequential_model(ops in proptest::collection::vec(op(), 0..40)) {
        let mut model = Model::default();
        let d = Deferred::<i64>::new();
        let log: Arc<Mutex<Vec<(usize, Res)>>> = Arc::default();
        for (id, op) in ops.into_iter().enumerate() {
            match op {
                Op::Fire(v) => prop_assert_eq!(d.callback(v), model.fire(Ok(v))),
                Op::FireFailure(c) => prop_assert_eq!(d.errback(fail(c)), model.fire(Err(c))),
                Op::Cancel => {
                    d.cancel();
                    if !model.called {
                        model.suppress = true;
                        model.called = true;
                        model.result = Some(Err(CANCELLED));
                        model.run();
                    }
                }
                Op::Pause => {
                    d.pause();
                    model.paused += 1;
                }
                Op::Unpause => {
                    let expected = if model.paused == 0 {
                        Err(NotPaused)
                    } else {
                        model.paused -= 1;
                        model.run();
                        Ok(())
                    };
                    prop_assert_eq!(d.unpause(), expected);
                }
                add => {
                    add_real(&d, id, add, &log);
                    model.pending.push_back((id, add));
                    model.run();
                }
            }
            prop_assert_eq!(&*log.lock().unwrap(), &model.log, "after {:?}", op);
            prop_assert_eq!(d.is_called(), model.called);
        }
        let ready = model.called && model.paused == 0;
        prop_assert_eq!(d.has_result(), ready);
        if ready {
            let real = d.take_result().unwrap().map_err(|f| code_of(&f));
            prop_assert_eq!(real, model.result.unwrap());
        }
    }
}
