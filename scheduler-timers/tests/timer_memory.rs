//! What a pending timer costs in heap bytes, measured with a counting global allocator (this
//! test binary's own, so nothing else in the process allocates on the side).
//!
//! The figure is defined as `timer_bytes` defines it (`benches/src/workloads/memory.rs`): a
//! fresh shard, `n` timers with deadlines spread over 1..10 s inserted through the owner path
//! with a 16-byte `Waker` payload, the live heap bytes after minus before, divided by `n`,
//! minus `size_of::<Waker>()` (the payload is the user's, not overhead). The budget is at
//! most 64 bytes (the crate doc, "Memory": 48 bytes of entry and link, the rest for unused
//! capacity of the slab's pages and the wheel's links). The allocator counts requested bytes; glibc's `mallinfo2` (the bench's
//! reading) adds a chunk header per allocation, a few bytes per page, nothing per timer.

use scheduler_timers::{timer_overhead_bytes, TimerConfig, TimerShard};
use std::sync::Mutex;
use std::task::Waker;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

/// The live-byte count is process-wide: the measurements must not run beside each other.
static ALONE: Mutex<()> = Mutex::new(());

/// `timer_bytes`' delay of timer `i` of `n`: spread over 1..10 s in a fixed pseudo-random order.
fn spread_delay_ns(i: u64, n: u64) -> u64 {
    let slot = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % n.max(1);
    1_000_000_000 + slot * (9_000_000_000 / n.max(1))
}

/// Overhead bytes per pending timer at `n` pending timers (the caller holds [`ALONE`]).
fn overhead_per_timer(n: u64) -> f64 {
    let shard: TimerShard<Waker> = TimerShard::new(0, TimerConfig::default());
    let mut keys = Vec::with_capacity(n as usize);
    let before = counting_alloc::live_bytes();
    for i in 0..n {
        keys.push(shard.insert(spread_delay_ns(i, n), Waker::noop().clone()).expect("insert"));
    }
    let after = counting_alloc::live_bytes();
    assert_eq!(shard.pending_deadlines().len() as u64, n);
    drop(keys);
    drop(shard);
    let figure = (after - before) as f64 / n as f64 - std::mem::size_of::<Waker>() as f64;
    eprintln!("{n} timers: {figure:.2} bytes of overhead per pending timer");
    figure
}

fn check(n: u64) {
    // Held until the asserts are done: a failing test's panic hook (backtrace symbolisation)
    // allocates, and must not do so beside another test's measurement.
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let figure = overhead_per_timer(n);
    let stated = timer_overhead_bytes::<Waker>() as f64;
    assert!(figure >= stated, "{n} timers: {figure:.2} < the entry itself ({stated})");
    assert!(figure <= 64.0, "{n} timers: {figure:.2} bytes per timer (budget: at most 64)");
}

/// Just past a power-of-two boundary (the slab's old page doubling and a `Vec`'s capacity
/// doubling both land here): the worst case of geometric growth.
#[test]
fn at_270_000_timers_a_pending_timer_costs_at_most_64_bytes() {
    check(270_000);
}

/// Just past the start of a page (of 32,768 entries) of the slab's current layout, whose
/// pages grow by an eighth: near the worst case it leaves.
#[test]
fn at_294_401_timers_a_pending_timer_costs_at_most_64_bytes() {
    check(294_401);
}

#[test]
fn at_1_000_000_timers_a_pending_timer_costs_at_most_64_bytes() {
    check(1_000_000);
}

/// Where the slab's earlier doubling pages cost 77.7 bytes per timer (`src/slab.rs`,
/// "Pages"). About 10 s in a debug build: run it in release,
/// `cargo test --release -p scheduler-timers --test timer_memory -- --ignored`.
#[test]
#[ignore = "5,000,000 timers: run in release (see the doc comment)"]
fn at_5_000_000_timers_a_pending_timer_costs_at_most_64_bytes() {
    check(5_000_000);
}
