//! Single-threaded drivers shaped like the timer benchmarks, for counting instructions with
//! callgrind (wall-clock benchmarks are unreliable on a shared 2-core machine):
//!
//! ```sh
//! cargo build --release -p scheduler-timers --example timer_shapes
//! valgrind --tool=callgrind --toggle-collect='timer_shapes::measured*' \
//!     target/release/examples/timer_shapes insert_cancel 200000
//! ```
//!
//! Only the `measured*` functions are counted (a warm-up round runs first, as in the
//! benches); divide the total by the printed op count.
//!
//! - `insert_cancel`: `timer_insert_cancel`'s owner path: a `TimerSession` inserts `n` timers
//!   spread over 1..10 s, a second one cancels them all.
//! - `insert_mt`: `timer_insert_mt`: two threads, each the `insert_cancel` shape on its own
//!   shard.
//! - `oneshot`: the owner's one-shot `insert` / `cancel` (a CAS on the expiry right each).
//! - `fire`: `timer_fire`'s timer side: a non-owner thread inserts `n` timers through the
//!   inbox (`RemoteShard::insert`, the runtime's `call_at` from outside), then the owner fires
//!   them in 100 expiry passes (`steal_expired`, as the runtime's worker does).
//! - `fire_interleaved`: the steady state of the same: rounds of 1,000 remote inserts, each
//!   followed by the pass that fires them, so slots are freed and reused round after round.
//! - `pass_rearm`: `looping_call`'s timer side: one periodic timer (1 ms) on a manual clock,
//!   one expiry pass per period whose callback re-arms its own timer in place
//!   (`RemoteShard::rearm_direct` with the fired key); ops = periods.
//! - `pass_reinsert`: the same with the callback inserting the next timer afresh
//!   (`insert_direct`: the fired slot is reclaimed, a spare taken), as before re-arm in place.

use scheduler_timers::{RemoteShard, TimerConfig, TimerKey, TimerShard};
use std::hint::black_box;

fn spread_delay_ns(i: u64, n: u64) -> u64 {
    let slot = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % n.max(1);
    1_000_000_000 + slot * (9_000_000_000 / n.max(1))
}

fn insert_cancel_round(shard: &TimerShard<u64>, keys: &mut Vec<TimerKey>, n: u64) {
    let mut session = shard.session().expect("no stealer");
    for i in 0..n {
        keys.push(session.insert(spread_delay_ns(i, n), i).expect("insert").0);
    }
    drop(session);
    let mut session = shard.session().expect("no stealer");
    for key in keys.drain(..) {
        let _ = black_box(session.cancel(key));
    }
}

#[inline(never)]
fn measured_insert_cancel(shard: &TimerShard<u64>, keys: &mut Vec<TimerKey>, n: u64) {
    insert_cancel_round(shard, keys, n);
}

#[inline(never)]
fn measured_oneshot(shard: &TimerShard<u64>, keys: &mut Vec<TimerKey>, n: u64) {
    for i in 0..n {
        keys.push(shard.insert(spread_delay_ns(i, n), i).expect("insert"));
    }
    for key in keys.drain(..) {
        let _ = black_box(shard.cancel(key));
    }
}

fn fire_round(remote: &RemoteShard<u64>, n: u64, base: u64) {
    for i in 0..n {
        let _ = black_box(remote.insert(base + 1 + i * 1_000, i).expect("insert"));
    }
    let passes = 100u64.min(n.max(1));
    for p in 1..=passes {
        let now = base + n * 1_000 * p / passes;
        let _ = black_box(remote.steal_expired(now, usize::MAX, |v| {
            black_box(v);
        }));
    }
}

#[inline(never)]
fn measured_fire(remote: &RemoteShard<u64>, n: u64, base: u64) {
    fire_round(remote, n, base);
}

#[inline(never)]
fn measured_fire_interleaved(remote: &RemoteShard<u64>, n: u64, base: u64) {
    let per = 1_000.min(n);
    for r in 0..n / per {
        fire_round(remote, per, base + r * per * 1_000);
    }
}

/// One period of `pass_rearm` / `pass_reinsert`: the pass at `period` ms fires the timer
/// named by `key`, whose callback arms the next one a period later.
fn periodic_pass(remote: &RemoteShard<u64>, key: &mut TimerKey, period: u64, in_place: bool) {
    const MS: u64 = 1_000_000;
    let fired = remote.expire_pass(period * MS, |p| {
        let next = (period + 1) * MS;
        *key = if in_place {
            remote.rearm_direct(*key, next, p + 1).expect("rearm").0
        } else {
            remote.insert_direct(next, p + 1).expect("insert").0
        };
    });
    let _ = black_box(fired);
}

#[inline(never)]
fn measured_periodic(remote: &RemoteShard<u64>, key: &mut TimerKey, n: u64, in_place: bool) {
    for period in 1_001..=1_000 + n {
        periodic_pass(remote, key, period, in_place);
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let shape = args.next().unwrap_or_else(|| "insert_cancel".into());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let ops = match shape.as_str() {
        "insert_cancel" | "oneshot" => {
            let shard = TimerShard::new(0, TimerConfig::default());
            let mut keys = Vec::with_capacity(n as usize);
            insert_cancel_round(&shard, &mut keys, n); // warm-up: the slab has grown
            if shape == "oneshot" {
                measured_oneshot(&shard, &mut keys, n);
            } else {
                measured_insert_cancel(&shard, &mut keys, n);
            }
            n
        }
        "insert_mt" => {
            std::thread::scope(|s| {
                for id in 0..2 {
                    s.spawn(move || {
                        let shard = TimerShard::new(id, TimerConfig::default());
                        let mut keys = Vec::with_capacity(n as usize);
                        insert_cancel_round(&shard, &mut keys, n);
                        measured_insert_cancel(&shard, &mut keys, n);
                    });
                }
            });
            2 * n
        }
        "fire" | "fire_interleaved" => {
            let shard: TimerShard<u64> = TimerShard::new(0, TimerConfig::default());
            let remote = shard.remote();
            let inserter = remote.clone();
            // The inserts come from another thread, as the runtime's `call_at` from outside.
            std::thread::scope(|s| {
                s.spawn(|| fire_round(&inserter, n, 0)); // warm-up
            });
            let base = n * 1_000 + 1;
            if shape == "fire" {
                measured_fire(&remote, n, base);
            } else {
                measured_fire_interleaved(&remote, n, base);
            }
            println!("slab_len {}", shard.slab_len());
            n
        }
        "pass_rearm" | "pass_reinsert" => {
            let in_place = shape == "pass_rearm";
            let shard: TimerShard<u64> = TimerShard::new(0, TimerConfig::default());
            let remote = shard.remote();
            let mut key = remote.insert_direct(1_000_000, 0).expect("insert").0;
            for period in 1..=1_000 {
                periodic_pass(&remote, &mut key, period, in_place); // warm-up
            }
            measured_periodic(&remote, &mut key, n, in_place);
            println!("slab_len {}", shard.slab_len());
            n
        }
        other => panic!("unknown shape {other}"),
    };
    println!("{shape}: {ops} ops");
}
