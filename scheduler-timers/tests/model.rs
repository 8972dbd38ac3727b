//! Model-based test: one shard against a `BTreeMap<(deadline, seq), id>` reference.
//!
//! Random sequences of owner (one-shot and session), remote and remote-direct inserts, cancels and resets, time moving forwards (by
//! small steps, across levels, past the top level, to `u64::MAX`) and backwards, stealing
//! passes with a bound, and exact-earliest queries. After every step the exact set and order
//! of fired ids, every error value and the earliest deadline must match the model.

use proptest::prelude::*;
use scheduler_timers::{RemoteShard, TimerConfig, TimerError, TimerKey, TimerShard};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

const MS: u64 = 1_000_000;

#[derive(Debug, Clone)]
enum Op {
    Insert {
        delay: u64,
        remote: bool,
    },
    Cancel {
        pick: usize,
        remote: bool,
    },
    Reset {
        pick: usize,
        delay: u64,
        remote: bool,
    },
    Advance(u64),
    Back(u64),
    /// Fire at the model's earliest deadline, or 1 ns before it.
    ToEarliest(bool),
    Steal(usize),
    Earliest,
}

fn delay() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => (0u64..8).prop_map(|k| k * MS), // ties and tick boundaries
        4 => 0..3 * MS,
        3 => 0..5_000 * MS,
        2 => 0..400_000 * MS,
        1 => any::<u64>(),
        1 => Just(u64::MAX),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (delay(), any::<bool>()).prop_map(|(delay, remote)| Op::Insert { delay, remote }),
        3 => (any::<usize>(), any::<bool>()).prop_map(|(pick, remote)| Op::Cancel { pick, remote }),
        3 => (any::<usize>(), delay(), any::<bool>())
            .prop_map(|(pick, delay, remote)| Op::Reset { pick, delay, remote }),
        4 => delay().prop_map(Op::Advance),
        1 => (0..10 * MS).prop_map(Op::Back),
        1 => (1usize..4).prop_map(Op::Steal),
        3 => any::<bool>().prop_map(Op::ToEarliest),
        1 => Just(Op::Earliest),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fate {
    Pending(u64, u64), // deadline, seq
    Fired,
    Cancelled,
}

struct Model {
    queue: BTreeMap<(u64, u64), u32>,
    fate: HashMap<u32, Fate>,
    next_seq: u64,
}

impl Model {
    fn fire(&mut self, now: u64, max: usize) -> Vec<u32> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some((&(d, s), &id)) = self.queue.iter().next() else { break };
            if d > now {
                break;
            }
            self.queue.remove(&(d, s));
            self.fate.insert(id, Fate::Fired);
            out.push(id);
        }
        out
    }

    fn expected_error(&self, id: u32) -> Option<TimerError> {
        match self.fate[&id] {
            Fate::Pending(..) => None,
            Fate::Fired => Some(TimerError::AlreadyFired),
            Fate::Cancelled => Some(TimerError::AlreadyCancelled),
        }
    }
}

fn check_error(result: Result<(), TimerError>, expected: Option<TimerError>) {
    match (result, expected) {
        (Ok(()), None) => {}
        // A finished timer's slot may have been reused: then its key is stale.
        (Err(TimerError::Stale), Some(_)) => {}
        (Err(e), Some(x)) if e == x => {}
        (r, x) => panic!("got {r:?}, model expected {x:?}"),
    }
}

fn run(config: TimerConfig, ops: Vec<Op>) {
    let shard: TimerShard<u32> = TimerShard::new(0, config);
    let remote: RemoteShard<u32> = shard.remote();
    let mut model = Model { queue: BTreeMap::new(), fate: HashMap::new(), next_seq: 0 };
    let mut keys: Vec<(u32, TimerKey)> = Vec::new();
    let mut now = 0u64;
    let mut next_id = 0u32;
    for op in ops {
        match op {
            Op::Insert { delay, remote: via_remote } => {
                let deadline = now.saturating_add(delay);
                let key = if via_remote && delay % 3 == 0 {
                    remote.insert_direct(deadline, next_id).unwrap().0
                } else if via_remote {
                    remote.insert(deadline, next_id).unwrap().0
                } else if delay % 5 == 1 {
                    shard.session().unwrap().insert(deadline, next_id).unwrap().0
                } else {
                    shard.insert(deadline, next_id).unwrap()
                };
                model.queue.insert((deadline, model.next_seq), next_id);
                model.fate.insert(next_id, Fate::Pending(deadline, model.next_seq));
                model.next_seq += 1;
                keys.push((next_id, key));
                next_id += 1;
            }
            Op::Cancel { pick, remote: via_remote } if !keys.is_empty() => {
                let (id, key) = keys[pick % keys.len()];
                let expected = model.expected_error(id);
                let result = match (via_remote, pick % 3) {
                    (true, 0) => remote.cancel_direct(key),
                    (true, _) => remote.cancel(key),
                    (false, 1) => shard.session().unwrap().cancel(key),
                    (false, _) => shard.cancel(key),
                };
                check_error(result, expected);
                if let Fate::Pending(d, s) = model.fate[&id] {
                    model.queue.remove(&(d, s));
                    model.fate.insert(id, Fate::Cancelled);
                }
            }
            Op::Reset { pick, delay, remote: via_remote } if !keys.is_empty() => {
                let (id, key) = keys[pick % keys.len()];
                let deadline = now.saturating_add(delay);
                let expected = model.expected_error(id);
                let result = if via_remote {
                    remote.reset(key, deadline).map(|_| ())
                } else if pick % 3 == 1 {
                    shard.session().unwrap().reset(key, deadline).map(|_| ())
                } else {
                    shard.reset(key, deadline)
                };
                check_error(result, expected);
                if let Fate::Pending(d, s) = model.fate[&id] {
                    model.queue.remove(&(d, s));
                    model.queue.insert((deadline, s), id);
                    model.fate.insert(id, Fate::Pending(deadline, s));
                }
            }
            Op::Advance(d) | Op::Back(d) => {
                now = if matches!(op, Op::Advance(_)) {
                    now.saturating_add(d)
                } else {
                    now.saturating_sub(d)
                };
                let mut fired = Vec::new();
                let pass = shard.fire_due(now, |id| fired.push(id));
                assert_eq!(fired, model.fire(now, usize::MAX), "at {now}");
                let earliest = model.queue.keys().next().map(|k| k.0);
                assert_eq!(pass.next_deadline, earliest, "next deadline at {now}");
            }
            Op::ToEarliest(before) => {
                let Some(&(d, _)) = model.queue.keys().next() else { continue };
                let at = if before { d.saturating_sub(1) } else { d };
                now = now.max(at);
                let mut fired = Vec::new();
                let _ = shard.fire_due(now, |id| fired.push(id));
                assert_eq!(fired, model.fire(now, usize::MAX), "at earliest {now}");
            }
            Op::Steal(max) => {
                let mut fired = Vec::new();
                let pass = remote.steal_expired(now, max, |id| fired.push(id)).unwrap();
                assert_eq!(fired, model.fire(now, max), "steal at {now}");
                assert_eq!(pass.fired, fired.len());
            }
            Op::Earliest => {
                let earliest = model.queue.keys().next().map(|k| k.0);
                assert_eq!(shard.earliest_deadline(), Ok(earliest));
                assert_eq!(remote.earliest_deadline(), Ok(earliest));
            }
            _ => {}
        }
        if keys.len() < 500 {
            // A slab scan per step: only while small (the large case checks at the end).
            let pending: Vec<u64> = model.queue.keys().map(|k| k.0).collect();
            assert_eq!(shard.pending_deadlines(), pending);
        }
    }
    let pending: Vec<u64> = model.queue.keys().map(|k| k.0).collect();
    assert_eq!(shard.pending_deadlines(), pending);
    // Drain everything: the rest fires in order at the end of time.
    let mut fired = Vec::new();
    let _ = shard.fire_due(u64::MAX, |id| fired.push(id));
    assert_eq!(fired, model.fire(u64::MAX, usize::MAX));
}

fn config() -> impl Strategy<Value = TimerConfig> {
    (prop_oneof![Just(1usize), Just(2), Just(3), Just(7)], prop_oneof![Just(100u64), Just(1000)])
        .prop_map(|(levels, tick_us)| {
            TimerConfig::default()
                .with_levels(levels)
                .and_then(|c| c.with_tick(Duration::from_micros(tick_us)))
                .expect("valid config")
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn wheel_matches_btreemap_model(config in config(), ops in prop::collection::vec(op(), 1..120)) {
        run(config, ops);
    }
}

#[test]
fn many_timers_across_all_levels_match_the_model() {
    // A deterministic large case: 20,000 timers with deadlines spread over every level.
    let mut ops = Vec::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..20_000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ops.push(Op::Insert { delay: x % (1 << (20 + (i % 40))), remote: i % 3 == 0 });
        if i % 5 == 0 {
            ops.push(Op::Cancel { pick: x as usize, remote: i % 2 == 0 });
        }
        if i % 7 == 0 {
            ops.push(Op::Reset {
                pick: (x >> 7) as usize,
                delay: x % (1 << 30),
                remote: i % 2 == 1,
            });
        }
        if i % 50 == 0 {
            ops.push(Op::Advance(x % (1 << 28)));
        }
    }
    ops.push(Op::Advance(u64::MAX / 2));
    run(TimerConfig::default(), ops.clone());
    run(TimerConfig::default().with_levels(2).unwrap(), ops);
}
