//! Workloads of the deferred crate: `deferred_fire` and `deferred_chain` (benches/README.md).
//!
//! * `deferred_fire`: create a Deferred, attach one continuation, fire it; ns per Deferred.
//!   Peer `futures`: a `futures-channel` oneshot whose receiver is polled once (registering the
//!   continuation), then sent to and polled to completion.
//! * `deferred_chain`: one Deferred with `n` callbacks, fired once; ns per callback. The
//!   timed part covers adding the callbacks *and* running them (no peer: Twisted's figure is in
//!   benches/README.md).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use scheduler_deferred::Deferred;

use crate::{RunConfig, Sample, System, Target, Unit, Workload};

/// The deferred workloads of benches/README.md.
pub fn workloads() -> Vec<Workload> {
    vec![
        Workload {
            name: "deferred_fire",
            unit: Unit::NsPerOp,
            target: Target::AtMost(50.0),
            full_n: 2_000_000,
            default_n: 1_000_000,
            quick_n: 100_000,
            systems: vec![
                System { name: "ours", run: fire_ours },
                System { name: "futures", run: fire_futures_oneshot },
            ],
        },
        Workload {
            name: "deferred_chain",
            unit: Unit::NsPerOp,
            target: Target::AtMost(15.0),
            full_n: 200_000,
            default_n: 200_000,
            quick_n: 20_000,
            systems: vec![System { name: "ours", run: chain_ours }],
        },
    ]
}

/// Create, add one callback, fire: `n` times.
fn fire_ours(cfg: &RunConfig) -> Sample {
    let start = Instant::now();
    for i in 0..cfg.n {
        let d = Deferred::<u64>::new().add_callback(|x| black_box(x) + 1);
        let _ = black_box(d.callback(i));
    }
    Sample::per_op(start.elapsed(), cfg.n)
}

/// The same with a futures oneshot: create, poll the receiver once (registers the waker, our
/// "continuation"), send, poll to the value.
fn fire_futures_oneshot(cfg: &RunConfig) -> Sample {
    let mut cx = Context::from_waker(Waker::noop());
    let start = Instant::now();
    for i in 0..cfg.n {
        let (tx, rx) = futures_channel::oneshot::channel::<u64>();
        let mut rx = pin!(rx);
        let _ = black_box(rx.as_mut().poll(&mut cx));
        let _ = tx.send(i);
        if let Poll::Ready(v) = rx.as_mut().poll(&mut cx) {
            black_box(v.map(|x| x + 1).ok());
        }
    }
    Sample::per_op(start.elapsed(), cfg.n)
}

fn build_chain(n: u64) -> Deferred<u64> {
    let mut d = Deferred::<u64>::new();
    for _ in 0..n {
        d = d.add_callback(|x| x.wrapping_add(1));
    }
    d
}

/// Add `n` callbacks, fire once; the whole is timed.
fn chain_ours(cfg: &RunConfig) -> Sample {
    let start = Instant::now();
    let d = build_chain(cfg.n);
    let _ = d.callback(0);
    let elapsed = start.elapsed();
    assert_eq!(d.take_result().and_then(Result::ok), Some(cfg.n));
    Sample::per_op(elapsed, cfg.n)
}
