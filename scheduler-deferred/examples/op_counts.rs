//! A driver for instruction counts (`valgrind --tool=callgrind`): the shapes of the
//! `deferred_fire`, `deferred_chain` and `ping_pong` workloads of `benches/`, on one thread and
//! without a clock, so two runs of different sizes give instructions per operation exactly:
//!
//! ```sh
//! cargo build --release -p scheduler-deferred --example op_counts
//! valgrind --tool=callgrind target/release/examples/op_counts fire 100000
//! ```
//!
//! Modes: `fire` (create, add one callback, fire, drop), `chain` (one Deferred, `n` callbacks,
//! fired once), `pingpong` (two `DeferredQueue`s: put a value, await the getter that waits
//! for it, as a task does with a no-op waker).

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use scheduler_deferred::{Deferred, DeferredQueue};

fn fire(n: u64) {
    for i in 0..n {
        let d = Deferred::<u64>::new().add_callback(|x| black_box(x) + 1);
        let _ = black_box(d.callback(i));
    }
}

fn chain(n: u64) {
    let mut d = Deferred::<u64>::new();
    for _ in 0..n {
        d = d.add_callback(|x| x.wrapping_add(1));
    }
    let _ = d.callback(0);
    assert_eq!(d.take_result().and_then(Result::ok), Some(n));
}

/// Polls a getter once while it waits (registering the waker), lets `put` fire it, polls again.
fn round_trip(q: &DeferredQueue<u64>, v: u64, cx: &mut Context<'_>) -> u64 {
    let mut getter = q.get().expect("no backlog limit");
    assert!(Pin::new(&mut getter).poll(cx).is_pending());
    q.put(v).expect("no size limit");
    match Pin::new(&mut getter).poll(cx) {
        Poll::Ready(Ok(v)) => v,
        _ => unreachable!("the put fired the getter"),
    }
}

fn ping_pong(n: u64) {
    let (ping, pong) = (DeferredQueue::<u64>::new(), DeferredQueue::<u64>::new());
    let mut cx = Context::from_waker(Waker::noop());
    for i in 0..n {
        let v = round_trip(&ping, i, &mut cx);
        let w = round_trip(&pong, v + 1, &mut cx);
        black_box(w);
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "fire".to_owned());
    let n: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    match mode.as_str() {
        "fire" => fire(n),
        "chain" => chain(n),
        "pingpong" => ping_pong(n),
        other => eprintln!("unknown mode {other}: fire, chain or pingpong"),
    }
}
