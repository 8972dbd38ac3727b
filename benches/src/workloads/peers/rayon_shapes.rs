//! rayon-demo's fork-join benchmarks (rayon-rs/rayon, `rayon-demo/src`), rewritten on our
//! API beside rayon, the same algorithm on both sides through [`Joiner`]:
//!
//! * `fibonacci/mod.rs`: `fibonacci_join_1_2` and `fibonacci_join_2_1` (recursive fib with a
//!   join per call, the larger branch first or second; rayon-demo computes fib(32)); `n` is
//!   fib's argument, the figure ns per join;
//! * `join_microbench.rs`: `join_recursively` (a complete binary tree of 2^16 - 1 empty
//!   joins); `n` repetitions, ns per join;
//! * `quicksort/`: `quick_sort_par_bench` (Lomuto partition, serial below 5 * 1024 elements);
//!   `mergesort/`: `merge_sort_par_bench` (serial sort below 32 Ki elements, parallel merge
//!   above 64 Ki): 250,000,000 / 512 = 488,281 random `u32`s at `--full`; `n` elements,
//!   ns per element;
//! * the closure chain of rayon's `spawn` (a task that spawns its successor, 1,000 deep, as
//!   tokio's `chained_spawn`), ours with `spawn_fn_detached` (rayon's `spawn` is detached and
//!   finds the pool it runs on; so does ours); `n` chains, ns per spawn.
//!
//! Each sample enters the pool once (`install` on both sides) and runs all its work there.

use crate::{RunConfig, Sample};
use scheduler_core::Runtime;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The join of one side, so each algorithm below is written once.
pub(super) trait Joiner {
    fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send;
}

/// Our `join`.
pub(super) struct Ours;
/// `rayon::join`.
pub(super) struct Rayon;

impl Joiner for Ours {
    #[inline]
    fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        scheduler_core::join(a, b)
    }
}

impl Joiner for Rayon {
    #[inline]
    fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        rayon::join(a, b)
    }
}

pub(super) fn ours(cfg: &RunConfig) -> Runtime {
    Runtime::builder().worker_threads(cfg.workers).build().expect("runtime")
}

pub(super) fn rayon_pool(cfg: &RunConfig) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(cfg.workers).build().expect("rayon pool")
}

/// Runs `f` on one of our workers (`Runtime::install`) and times it there.
pub(super) fn timed_on_ours<R: Send>(rt: &Runtime, f: impl FnOnce() -> R + Send) -> (Duration, R) {
    rt.install(move || {
        let start = Instant::now();
        let r = f();
        (start.elapsed(), r)
    })
}

/// Runs `f` in the rayon pool and times it there.
pub(super) fn timed_on_rayon<R: Send>(
    pool: &rayon::ThreadPool,
    f: impl FnOnce() -> R + Send,
) -> (Duration, R) {
    pool.install(move || {
        let start = Instant::now();
        let r = f();
        (start.elapsed(), r)
    })
}

// ---- fibonacci ------------------------------------------------------------------------------

fn fib_1_2<J: Joiner>(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = J::join(|| fib_1_2::<J>(n - 1), || fib_1_2::<J>(n - 2));
    a + b
}

fn fib_2_1<J: Joiner>(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = J::join(|| fib_2_1::<J>(n - 2), || fib_2_1::<J>(n - 1));
    a + b
}

fn fib_iterative(n: u64) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        (a, b) = (b, a + b);
    }
    a
}

/// Joins of one recursive fib(n): one per call with n >= 2, i.e. fib(n + 1) - 1.
fn fib_joins(n: u64) -> u64 {
    fib_iterative(n + 1) - 1
}

/// The sample of one timed `fib(n)`: ns per join, after checking the value.
fn fib_sample(n: u64, (took, value): (Duration, u64)) -> Sample {
    debug_assert_eq!(value, fib_iterative(n));
    Sample::per_op(took, fib_joins(n).max(1))
}

pub(super) fn fib_1_2_ours(cfg: &RunConfig) -> Sample {
    let n = cfg.n;
    fib_sample(n, timed_on_ours(&ours(cfg), move || fib_1_2::<Ours>(n)))
}

pub(super) fn fib_1_2_rayon(cfg: &RunConfig) -> Sample {
    let n = cfg.n;
    fib_sample(n, timed_on_rayon(&rayon_pool(cfg), move || fib_1_2::<Rayon>(n)))
}

pub(super) fn fib_2_1_ours(cfg: &RunConfig) -> Sample {
    let n = cfg.n;
    fib_sample(n, timed_on_ours(&ours(cfg), move || fib_2_1::<Ours>(n)))
}

pub(super) fn fib_2_1_rayon(cfg: &RunConfig) -> Sample {
    let n = cfg.n;
    fib_sample(n, timed_on_rayon(&rayon_pool(cfg), move || fib_2_1::<Rayon>(n)))
}

// ---- join_recursively -----------------------------------------------------------------------

/// Depth of rayon-demo's `join_recursively`.
const JOIN_DEPTH: u32 = 16;

fn join_recursively<J: Joiner>(depth: u32) {
    if depth == 0 {
        return;
    }
    J::join(|| join_recursively::<J>(depth - 1), || join_recursively::<J>(depth - 1));
}

fn join_count(cfg: &RunConfig) -> u64 {
    cfg.n.max(1) * ((1u64 << JOIN_DEPTH) - 1)
}

pub(super) fn join_recursively_ours(cfg: &RunConfig) -> Sample {
    let reps = cfg.n.max(1);
    let (took, ()) = timed_on_ours(&ours(cfg), move || {
        for _ in 0..reps {
            join_recursively::<Ours>(JOIN_DEPTH);
        }
    });
    Sample::per_op(took, join_count(cfg))
}

pub(super) fn join_recursively_rayon(cfg: &RunConfig) -> Sample {
    let reps = cfg.n.max(1);
    let (took, ()) = timed_on_rayon(&rayon_pool(cfg), move || {
        for _ in 0..reps {
            join_recursively::<Rayon>(JOIN_DEPTH);
        }
    });
    Sample::per_op(took, join_count(cfg))
}

// ---- quick_sort / merge_sort ------------------------------------------------------------------

/// `n` pseudo-random `u32`s (a fixed xorshift seed: the same input for every system).
fn random_vec(n: u64) -> Vec<u32> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u32
        })
        .collect()
}

fn is_sorted(v: &[u32]) -> bool {
    v.windows(2).all(|w| w[0] <= w[1])
}

/// Below this many elements quick_sort runs serially (rayon-demo's cut-off).
const QUICK_SERIAL: usize = 5 * 1024;

fn quick_sort<J: Joiner>(v: &mut [u32]) {
    if v.len() <= 1 {
        return;
    }
    if v.len() <= QUICK_SERIAL {
        return quick_sort_serial(v);
    }
    let mid = partition(v);
    let (lo, hi) = v.split_at_mut(mid);
    J::join(|| quick_sort::<J>(lo), || quick_sort::<J>(&mut hi[1..]));
}

fn quick_sort_serial(v: &mut [u32]) {
    if v.len() > 1 {
        let mid = partition(v);
        let (lo, hi) = v.split_at_mut(mid);
        quick_sort_serial(lo);
        quick_sort_serial(&mut hi[1..]);
    }
}

/// Lomuto partition around the last element; returns the pivot's final index.
fn partition(v: &mut [u32]) -> usize {
    let pivot = v.len() - 1;
    let mut i = 0;
    for j in 0..pivot {
        if v[j] <= v[pivot] {
            v.swap(i, j);
            i += 1;
        }
    }
    v.swap(i, pivot);
    i
}

/// Below this many elements merge_sort sorts a run serially (rayon-demo's `SORT_CHUNK`).
const SORT_CHUNK: usize = 32 * 1024;
/// Below this many elements a merge runs serially (rayon-demo's `MERGE_CHUNK`).
const MERGE_CHUNK: usize = 64 * 1024;

/// Sorts `v`, using `buf` (as long as `v`) as scratch.
fn merge_sort<J: Joiner>(v: &mut [u32], buf: &mut [u32]) {
    if v.len() <= SORT_CHUNK {
        v.sort_unstable();
        return;
    }
    let mid = v.len() / 2;
    {
        let (v1, v2) = v.split_at_mut(mid);
        let (b1, b2) = buf.split_at_mut(mid);
        J::join(|| merge_sort::<J>(v1, b1), || merge_sort::<J>(v2, b2));
    }
    let (v1, v2) = v.split_at(mid);
    merge::<J>(v1, v2, buf);
    v.copy_from_slice(buf);
}

/// Merges sorted `a` and `b` into `dest` (`a.len() + b.len()` long), in parallel halves
/// split at the larger run's midpoint.
fn merge<J: Joiner>(a: &[u32], b: &[u32], dest: &mut [u32]) {
    if a.len() + b.len() <= MERGE_CHUNK {
        return merge_serial(a, b, dest);
    }
    let (a, b) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    let a_mid = a.len() / 2;
    let b_mid = b.partition_point(|x| *x < a[a_mid]);
    let (a1, a2) = a.split_at(a_mid);
    let (b1, b2) = b.split_at(b_mid);
    let (d1, d2) = dest.split_at_mut(a_mid + b_mid);
    J::join(|| merge::<J>(a1, b1, d1), || merge::<J>(a2, b2, d2));
}

fn merge_serial(a: &[u32], b: &[u32], dest: &mut [u32]) {
    let (mut i, mut j) = (0, 0);
    for slot in dest.iter_mut() {
        if j == b.len() || (i < a.len() && a[i] <= b[j]) {
            *slot = a[i];
            i += 1;
        } else {
            *slot = b[j];
            j += 1;
        }
    }
}

fn sort_sample(took: Duration, v: &[u32]) -> Sample {
    assert!(is_sorted(v), "the sort sorts");
    Sample::per_op(took, v.len().max(1) as u64)
}

pub(super) fn quick_sort_ours(cfg: &RunConfig) -> Sample {
    let mut v = random_vec(cfg.n);
    let (took, ()) = timed_on_ours(&ours(cfg), || quick_sort::<Ours>(&mut v));
    sort_sample(took, &v)
}

pub(super) fn quick_sort_rayon(cfg: &RunConfig) -> Sample {
    let mut v = random_vec(cfg.n);
    let (took, ()) = timed_on_rayon(&rayon_pool(cfg), || quick_sort::<Rayon>(&mut v));
    sort_sample(took, &v)
}

pub(super) fn merge_sort_ours(cfg: &RunConfig) -> Sample {
    let (mut v, mut buf) = (random_vec(cfg.n), vec![0u32; cfg.n as usize]);
    let (took, ()) = timed_on_ours(&ours(cfg), || merge_sort::<Ours>(&mut v, &mut buf));
    sort_sample(took, &v)
}

pub(super) fn merge_sort_rayon(cfg: &RunConfig) -> Sample {
    let (mut v, mut buf) = (random_vec(cfg.n), vec![0u32; cfg.n as usize]);
    let (took, ()) = timed_on_rayon(&rayon_pool(cfg), || merge_sort::<Rayon>(&mut v, &mut buf));
    sort_sample(took, &v)
}

// ---- chained_spawn of closures ------------------------------------------------------------

/// Spawns per closure chain.
const CHAIN: u64 = 1_000;

fn chain_ours(done: mpsc::SyncSender<()>, n: u64) {
    if n == 0 {
        done.send(()).expect("receiver lives");
    } else {
        scheduler_core::spawn_fn_detached(move || chain_ours(done, n - 1));
    }
}

fn chain_rayon(done: mpsc::SyncSender<()>, n: u64) {
    if n == 0 {
        done.send(()).expect("receiver lives");
    } else {
        rayon::spawn(move || chain_rayon(done, n - 1));
    }
}

pub(super) fn chained_spawn_fn_ours(cfg: &RunConfig) -> Sample {
    let rt = ours(cfg);
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    let start = Instant::now();
    for _ in 0..cfg.n.max(1) {
        let done = done_tx.clone();
        rt.spawn_fn_detached(move || chain_ours(done, CHAIN));
        done_rx.recv().expect("chain ends");
    }
    Sample::per_op(start.elapsed(), cfg.n.max(1) * CHAIN)
}

pub(super) fn chained_spawn_fn_rayon(cfg: &RunConfig) -> Sample {
    let pool = rayon_pool(cfg);
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    let start = Instant::now();
    for _ in 0..cfg.n.max(1) {
        let done = done_tx.clone();
        pool.spawn(move || chain_rayon(done, CHAIN));
        done_rx.recv().expect("chain ends");
    }
    Sample::per_op(start.elapsed(), cfg.n.max(1) * CHAIN)
}
