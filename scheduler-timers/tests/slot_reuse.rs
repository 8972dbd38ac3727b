//! Timer memory is bounded by what is pending (the reclaim rule and its argument:
//! `src/shard/slots.rs`): in steady state, whatever
//! the mix of owner and remote inserts, fires, cancels and resets, the slab stays within a
//! small constant factor of the peak number of pending timers, and freed slots are reused.
//! Every test counts operations, never time; the bound asserted is `4 * peak + SLACK`.

use scheduler_timers::{RemoteShard, TimerConfig, TimerError, TimerKey, TimerShard};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Slots the bound allows beside `4 * peak`: the owner's growth chunk and a little more.
const SLACK: u64 = 64;

/// How many operations the remote side of the two-thread mix may run ahead of the owner.
const LEAD: u64 = 64;

fn bound(peak: u64) -> u64 {
    4 * peak + SLACK
}

/// A small deterministic generator (xorshift64*), so every run makes the same choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The unbounded growth the reclaim rule of `src/shard/slots.rs` prevents, without a second
/// thread: remote inserts made while the owner holds its expiry right (here a `TimerSession`;
/// in production a steal or an expiry step) find no free slot the remote side may take, then
/// the owner fires them. Under the earlier rule the fired slots went to the owner's private
/// spare list, which only the owner's own inserts use (but one per round, sent back by the
/// `starved` hint), and nine remote inserts in ten grew the slab: 10 pending timers, 109 slots at round 11, about 900,000 after 1,000,000
/// inserts.
#[test]
fn remote_inserts_while_the_right_is_held_reuse_the_slots_the_owner_fired() {
    let shard: TimerShard<u64> = TimerShard::new(0, TimerConfig::default());
    let remote = shard.remote();
    let per_round = 10u64;
    let mut fired = 0u64;
    for round in 0..100_000u64 {
        let session = shard.session().expect("no stealer");
        for i in 0..per_round {
            let _ = remote.insert(round, round * per_round + i).expect("insert");
        }
        drop(session);
        let pass = shard.fire_due(round, |_| fired += 1);
        assert_eq!(pass.fired as u64, per_round);
        assert!(
            shard.slab_len() as u64 <= bound(per_round),
            "round {round}: slab grew to {}",
            shard.slab_len()
        );
    }
    assert_eq!(fired, 100_000 * per_round);
}

/// Drives the two-thread form of that growth: a remote thread inserts `total` timers (all
/// due at once) keeping at most `peak` pending, while the owner fires in a loop. Returns the
/// slab length at the end (asserted against the bound all along by the owner).
fn remote_thread_inserts_while_owner_fires(total: u64, peak: u64) -> u32 {
    let shard: TimerShard<u64> = TimerShard::new(0, TimerConfig::default());
    let remote = shard.remote();
    let fired = Arc::new(AtomicU64::new(0));
    let inserter = {
        let fired = Arc::clone(&fired);
        std::thread::spawn(move || {
            for i in 0..total {
                // Acquire: pairs with the owner's Release count of what it fired.
                while i - fired.load(Ordering::Acquire) >= peak {
                    std::thread::yield_now();
                }
                let _ = remote.insert(i, i).expect("insert");
            }
        })
    };
    let mut next = 0u64;
    while next < total {
        let _ = shard.fire_due(u64::MAX >> 1, |id| {
            assert_eq!(id, next, "remote inserts fire in their order");
            next += 1;
        });
        fired.store(next, Ordering::Release);
        let len = u64::from(shard.slab_len());
        assert!(len <= bound(peak), "after {next} fires the slab grew to {len} slots");
    }
    inserter.join().expect("inserter");
    shard.slab_len()
}

#[test]
fn a_remote_thread_inserting_while_the_owner_fires_keeps_the_slab_bounded() {
    // 500,000 inserts and as many fires (20,000,000, the scale the growth was first seen at, is the ignored test).
    let len = remote_thread_inserts_while_owner_fires(500_000, 1_000);
    eprintln!("slab after 500,000 remote inserts, <= 1,000 pending: {len} slots");
}

/// The scale the growth was first seen at: 10,000 pending, 20,000,000 inserts (4.9 million
/// slots in 3 s under the earlier reclaim rule). Release build: `cargo test --release -p scheduler-timers --test
/// slot_reuse -- --ignored`.
#[test]
#[ignore = "20,000,000 operations: run in release"]
fn at_the_issues_scale_a_remote_thread_inserting_while_the_owner_fires_stays_bounded() {
    let len = remote_thread_inserts_while_owner_fires(20_000_000, 10_000);
    eprintln!("slab after 20,000,000 remote inserts, <= 10,000 pending: {len} slots");
}

/// One live timer of the mixed test: its key and which handle inserted it.
#[derive(Clone, Copy)]
struct Live {
    key: TimerKey,
    id: u64,
}

/// Accounting of the mixed tests: every inserted id ends fired or cancelled, exactly once.
#[derive(Default)]
struct Books {
    inserted: u64,
    fired: u64,
    cancelled: u64,
    peak: u64,
    seen: HashSet<u64>,
}

impl Books {
    fn fire(&mut self, id: u64) {
        assert!(self.seen.insert(id), "timer {id} fired twice or after its cancel");
        self.fired += 1;
    }

    fn cancel(&mut self, id: u64) {
        assert!(self.seen.insert(id), "timer {id} cancelled after it fired");
        self.cancelled += 1;
    }
}

/// A seeded single-thread mix of every path: owner one-shot inserts, cancels, resets; remote
/// inserts, cancels, resets; sessions held across a few operations (so one-shot and remote
/// operations meet a busy expiry right and take the inbox); fires as the clock advances. At
/// most `PEAK` timers pending. Exact accounting, and the slab within the bound throughout.
fn mixed_single_thread(ops: u64, seed: u64) {
    const PEAK: usize = 300;
    let shard: TimerShard<u64> = TimerShard::new(0, TimerConfig::default());
    let remote = shard.remote();
    let mut rng = Rng(seed);
    let mut live: Vec<Live> = Vec::new();
    let mut books = Books::default();
    let mut now = 0u64;
    let mut fired_ids = Vec::new();
    let mut op = 0u64;
    while op < ops {
        // A session (the right held by the owner) across up to 16 operations, one time in 8.
        let session = (rng.below(8) == 0).then(|| shard.session().expect("no stealer"));
        let burst = if session.is_some() { 1 + rng.below(16) } else { 1 };
        for _ in 0..burst {
            op += 1;
            let choice = rng.below(10);
            if live.len() < PEAK && choice < 4 {
                let deadline = now + rng.below(64) * 1_000_000;
                let id = books.inserted;
                let key = if choice < 2 {
                    shard.insert(deadline, id).expect("insert")
                } else {
                    remote.insert(deadline, id).expect("insert").0
                };
                books.inserted += 1;
                live.push(Live { key, id });
                books.peak = books.peak.max(live.len() as u64);
            } else if !live.is_empty() && choice < 7 {
                let at = rng.below(live.len() as u64) as usize;
                let Live { key, id } = live.swap_remove(at);
                let result = if choice < 6 { shard.cancel(key) } else { remote.cancel(key) };
                match result {
                    Ok(()) => books.cancel(id),
                    // It was due and fired in the last pass: already accounted for.
                    Err(TimerError::AlreadyFired) => assert!(books.seen.contains(&id)),
                    Err(e) => panic!("cancel of a live timer: {e:?}"),
                }
            } else if !live.is_empty() && choice < 9 {
                let at = rng.below(live.len() as u64) as usize;
                let deadline = now + rng.below(64) * 1_000_000;
                let key = live[at].key;
                let result = if choice < 8 {
                    shard.reset(key, deadline)
                } else {
                    remote.reset(key, deadline).map(drop)
                };
                match result {
                    Ok(()) | Err(TimerError::AlreadyFired) => {}
                    Err(e) => panic!("reset of a live timer: {e:?}"),
                }
            } else if session.is_none() {
                now += rng.below(8) * 1_000_000;
                let _ = shard.fire_due(now, |id| fired_ids.push(id));
                for id in fired_ids.drain(..) {
                    books.fire(id);
                }
                live.retain(|l| !books.seen.contains(&l.id));
            }
        }
        drop(session);
        let len = u64::from(shard.slab_len());
        assert!(len <= bound(books.peak), "op {op}: slab {len} slots, peak pending {}", books.peak);
    }
    let _ = shard.fire_due(u64::MAX, |id| fired_ids.push(id));
    for id in fired_ids.drain(..) {
        books.fire(id);
    }
    assert_eq!(books.fired + books.cancelled, books.inserted, "a timer was lost");
    assert!(shard.pending_deadlines().is_empty());
    eprintln!(
        "{ops} mixed ops: {} inserted, {} fired, {} cancelled, peak pending {}, slab {}",
        books.inserted,
        books.fired,
        books.cancelled,
        books.peak,
        shard.slab_len()
    );
}

#[test]
fn a_seeded_mix_of_owner_and_remote_operations_keeps_the_slab_bounded() {
    for seed in [1, 0x9E37_79B9_7F4A_7C15] {
        mixed_single_thread(500_000, seed);
    }
}

#[test]
#[ignore = "10,000,000 operations: run in release"]
fn a_long_seeded_mix_keeps_the_slab_bounded() {
    mixed_single_thread(10_000_000, 7);
}

/// Waits while this side's operation `op` is more than [`LEAD`] ahead of the other side's
/// count (unless the other side, `other`, has finished). The two-thread mix runs in steady
/// state this way: a finished timer's slot is reclaimed by the expiry right's holder (the
/// owner's next drain, for a remote cancel), so while one thread is descheduled holding the
/// right, the other thread's insert + cancel churn keeps finding no free slot and grows the
/// slab by the churn of that stall (the slots are reused afterwards; `src/shard/slots.rs`).
/// Counting operations, not time, keeps the test's bound exact on a loaded machine.
fn wait_until_within_lead(
    op: u64,
    other_ops: &AtomicU64,
    other: Option<&std::thread::JoinHandle<(u64, Vec<u64>)>>,
) {
    while op > other_ops.load(Ordering::Relaxed) + LEAD {
        if other.is_some_and(|t| t.is_finished()) {
            return;
        }
        std::thread::yield_now();
    }
}

/// The remote side of the two-thread mix: inserts, cancels and resets its own timers (at most
/// `peak` of its own pending, by the shared count of what the owner fired). Returns
/// (inserted, cancelled ids).
fn remote_mix(
    remote: &RemoteShard<u64>,
    ops: u64,
    peak: u64,
    fired: &AtomicU64,
    clock: &AtomicU64,
    owner_ops: &AtomicU64,
    remote_ops: &AtomicU64,
) -> (u64, Vec<u64>) {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut live: Vec<Live> = Vec::new();
    let mut inserted = 0u64;
    let mut cancelled = Vec::new();
    for op in 0..ops {
        remote_ops.store(op, Ordering::Relaxed);
        wait_until_within_lead(op, owner_ops, None);
        let now = clock.load(Ordering::Relaxed);
        let choice = rng.below(10);
        // Acquire: pairs with the owner's Release count of remote timers it fired.
        let pending = inserted - cancelled.len() as u64 - fired.load(Ordering::Acquire);
        if choice < 5 && pending < peak {
            let id = (1 << 63) | inserted; // the high bit tells the owner whose it is
            let (key, _) = remote.insert(now + rng.below(32) * 1_000_000, id).expect("insert");
            inserted += 1;
            live.push(Live { key, id });
        } else if !live.is_empty() && choice < 8 {
            let Live { key, id } = live.swap_remove(rng.below(live.len() as u64) as usize);
            match remote.cancel(key) {
                Ok(()) => cancelled.push(id),
                // Fired (and its slot perhaps re-armed since: the key is stale).
                Err(TimerError::AlreadyFired | TimerError::Stale) => {}
                Err(e) => panic!("remote cancel: {e:?}"),
            }
        } else if !live.is_empty() {
            let key = live[rng.below(live.len() as u64) as usize].key;
            match remote.reset(key, now + rng.below(32) * 1_000_000) {
                Ok(_) | Err(TimerError::AlreadyFired | TimerError::Stale) => {}
                Err(e) => panic!("remote reset: {e:?}"),
            }
        } else {
            std::thread::yield_now();
        }
        if live.len() > 2 * peak as usize {
            live.drain(..peak as usize); // forget old keys (most fired long ago)
        }
    }
    (inserted, cancelled)
}

/// Two threads: a remote thread mixing inserts, cancels and resets while the owner mixes its
/// own inserts, cancels and resets with expiry passes as its clock advances. Exact accounting
/// at the end and the slab within the bound of both sides' peaks throughout.
#[test]
fn owner_and_remote_threads_mixing_every_operation_keep_the_slab_bounded() {
    const OPS: u64 = 400_000;
    const PEAK: u64 = 200; // per side
    let shard: TimerShard<u64> = TimerShard::new(0, TimerConfig::default());
    let remote = shard.remote();
    let remote_fired = Arc::new(AtomicU64::new(0));
    let clock = Arc::new(AtomicU64::new(0));
    let owner_ops = Arc::new(AtomicU64::new(0));
    let remote_ops = Arc::new(AtomicU64::new(0));
    let other = {
        let (fired, clock) = (remote_fired.clone(), clock.clone());
        let (owner_ops, remote_ops) = (owner_ops.clone(), remote_ops.clone());
        std::thread::spawn(move || {
            remote_mix(&remote, OPS, PEAK, &fired, &clock, &owner_ops, &remote_ops)
        })
    };
    let mut rng = Rng(42);
    let mut live: Vec<Live> = Vec::new();
    let mut books = Books::default();
    let mut now = 0u64;
    let mut remote_fired_ids = HashSet::new();
    let mut fired_ids = Vec::new();
    let mut op = 0u64;
    while op < OPS || !other.is_finished() {
        // One time in 8, a session holds the right across up to 16 operations: the remote
        // thread's inserts meanwhile find it busy. (It cannot open while the remote thread
        // holds the right for a moment, to take a spare slot.)
        let mut session = if rng.below(8) == 0 { shard.session().ok() } else { None };
        let burst = if session.is_some() { 1 + rng.below(16) } else { 1 };
        for _ in 0..burst {
            op += 1;
            owner_ops.store(op, Ordering::Relaxed);
            wait_until_within_lead(op, &remote_ops, Some(&other));
            let choice = rng.below(10);
            let deadline = now + rng.below(32) * 1_000_000;
            if choice < 4 && (live.len() as u64) < PEAK {
                let id = books.inserted;
                let key = match session.as_mut() {
                    Some(session) => session.insert(deadline, id).expect("insert").0,
                    None => shard.insert(deadline, id).expect("insert"),
                };
                live.push(Live { key, id });
                books.inserted += 1;
            } else if !live.is_empty() && choice < 6 {
                let Live { key, id } = live.swap_remove(rng.below(live.len() as u64) as usize);
                let result = match session.as_mut() {
                    Some(session) => session.cancel(key),
                    None => shard.cancel(key),
                };
                match result {
                    Ok(()) => books.cancel(id),
                    Err(TimerError::AlreadyFired) => {}
                    Err(e) => panic!("owner cancel: {e:?}"),
                }
            } else if !live.is_empty() && choice < 7 {
                let key = live[rng.below(live.len() as u64) as usize].key;
                let _ = match session.as_mut() {
                    Some(session) => session.reset(key, deadline).map(drop),
                    None => shard.reset(key, deadline),
                };
            } else if session.is_none() {
                now += 1_000_000;
                clock.store(now, Ordering::Relaxed);
                let _ = shard.fire_due(now, |id| fired_ids.push(id));
                for id in fired_ids.drain(..) {
                    if id >> 63 == 1 {
                        assert!(remote_fired_ids.insert(id), "remote timer {id:#x} fired twice");
                    } else {
                        books.fire(id);
                    }
                }
                // Release: pairs with the remote side's Acquire (its pending count).
                remote_fired.store(remote_fired_ids.len() as u64, Ordering::Release);
                live.retain(|l| !books.seen.contains(&l.id));
            }
        }
        drop(session);
        let len = u64::from(shard.slab_len());
        assert!(len <= bound(2 * PEAK) + 2 * LEAD, "op {op}: the slab grew to {len} slots");
    }
    let (remote_inserted, remote_cancelled) = other.join().expect("remote thread");
    let _ = shard.fire_due(u64::MAX, |id| fired_ids.push(id));
    for id in fired_ids.drain(..) {
        if id >> 63 == 1 {
            assert!(remote_fired_ids.insert(id), "remote timer {id:#x} fired twice");
        } else {
            books.fire(id);
        }
    }
    assert_eq!(books.fired + books.cancelled, books.inserted, "an owner timer was lost");
    for id in &remote_cancelled {
        assert!(!remote_fired_ids.contains(id), "remote timer {id:#x} fired after its cancel");
    }
    assert_eq!(
        remote_fired_ids.len() as u64 + remote_cancelled.len() as u64,
        remote_inserted,
        "a remote timer was lost"
    );
    eprintln!(
        "mixed threads: owner {} timers, remote {remote_inserted}, slab {}",
        books.inserted,
        shard.slab_len()
    );
}
