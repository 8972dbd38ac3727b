//! rayon-demo's `join_microbench.rs` increment family: add 1 to each of 100 * 1024 `usize`s
//! in parallel, split by rayon's adaptive splitter: `increment_all` (no length bounds),
//! `increment_all_min` (pieces of at least 1,024), `increment_all_max` (pieces of at most
//! 100). `n` passes per sample, ns per element.
//!
//! The splitter is written once here, on a join that reports migration (rayon's
//! `join_context`): a piece splits while its split budget lasts, which starts at the thread
//! count (or at `len / max` if that is more, so no piece ends longer than the maximum) and
//! halves per split; a piece that was stolen (`migrated`) gets the budget back (at least the
//! thread count), so work spreads only where thieves are active; no piece shorter than twice
//! the minimum splits.
//! Systems: `ours` (the splitter on our `join_context`), `rayon_splitter` (the same code on
//! `rayon::join_context`, the row's bound) and `rayon` (rayon's own `par_iter_mut` with
//! `with_min_len` / `with_max_len`, shown beside).

use super::rayon_shapes::{ours, rayon_pool, timed_on_ours, timed_on_rayon};
use crate::{RunConfig, Sample, System};
use rayon::prelude::*;

/// Elements per pass (rayon-demo's `100 * 1024`).
const LEN: usize = 100 * 1024;

/// Piece bounds of one row.
#[derive(Clone, Copy)]
struct Bounds {
    min: usize,
    max: usize,
}

/// rayon's adaptive split budget, with the row's bounds.
#[derive(Clone, Copy)]
struct Splitter {
    splits: usize,
    threads: usize,
    bounds: Bounds,
}

impl Splitter {
    fn new(threads: usize, bounds: Bounds, len: usize) -> Self {
        Splitter { splits: threads.max(len / bounds.max.max(1)), threads, bounds }
    }

    /// Whether a piece of `len` splits, given whether it just migrated; spends the budget.
    fn try_split(&mut self, len: usize, migrated: bool) -> bool {
        if len / 2 < self.bounds.min {
            return false;
        }
        if migrated {
            self.splits = self.threads.max(self.splits / 2);
            true
        } else if self.splits > 0 {
            self.splits /= 2;
            true
        } else {
            false
        }
    }
}

/// The join of one side, with the migration flag of each half.
trait ContextJoin {
    fn join_context<A, B>(a: A, b: B)
    where
        A: FnOnce(bool) + Send,
        B: FnOnce(bool) + Send;
}

struct Ours;
struct Rayon;

impl ContextJoin for Ours {
    #[inline]
    fn join_context<A, B>(a: A, b: B)
    where
        A: FnOnce(bool) + Send,
        B: FnOnce(bool) + Send,
    {
        scheduler_core::join_context(|c| a(c.migrated()), |c| b(c.migrated()));
    }
}

impl ContextJoin for Rayon {
    #[inline]
    fn join_context<A, B>(a: A, b: B)
    where
        A: FnOnce(bool) + Send,
        B: FnOnce(bool) + Send,
    {
        rayon::join_context(|c| a(c.migrated()), |c| b(c.migrated()));
    }
}

fn increment<J: ContextJoin>(v: &mut [usize], migrated: bool, mut splitter: Splitter) {
    if splitter.try_split(v.len(), migrated) {
        let (lo, hi) = v.split_at_mut(v.len() / 2);
        J::join_context(
            move |m| increment::<J>(lo, m, splitter),
            move |m| increment::<J>(hi, m, splitter),
        );
    } else {
        for x in v {
            *x = x.wrapping_add(1);
        }
    }
}

fn check(v: &[usize], passes: u64) {
    assert!(v.iter().all(|&x| x == passes as usize), "every element incremented once a pass");
}

fn run_ours(bounds: Bounds, cfg: &RunConfig) -> Sample {
    let (rt, passes) = (ours(cfg), cfg.n.max(1));
    let threads = cfg.workers.max(1);
    let mut v = vec![0usize; LEN];
    let (took, ()) = timed_on_ours(&rt, || {
        for _ in 0..passes {
            increment::<Ours>(&mut v, false, Splitter::new(threads, bounds, LEN));
        }
    });
    check(&v, passes);
    Sample::per_op(took, passes * LEN as u64)
}

fn run_rayon_splitter(bounds: Bounds, cfg: &RunConfig) -> Sample {
    let (pool, passes) = (rayon_pool(cfg), cfg.n.max(1));
    let threads = cfg.workers.max(1);
    let mut v = vec![0usize; LEN];
    let (took, ()) = timed_on_rayon(&pool, || {
        for _ in 0..passes {
            increment::<Rayon>(&mut v, false, Splitter::new(threads, bounds, LEN));
        }
    });
    check(&v, passes);
    Sample::per_op(took, passes * LEN as u64)
}

fn run_par_iter(bounds: Bounds, cfg: &RunConfig) -> Sample {
    let (pool, passes) = (rayon_pool(cfg), cfg.n.max(1));
    let mut v = vec![0usize; LEN];
    let (took, ()) = timed_on_rayon(&pool, || {
        for _ in 0..passes {
            v.par_iter_mut()
                .with_min_len(bounds.min)
                .with_max_len(bounds.max)
                .for_each(|x| *x = x.wrapping_add(1));
        }
    });
    check(&v, passes);
    Sample::per_op(took, passes * LEN as u64)
}

macro_rules! increment_systems {
    ($min:expr, $max:expr) => {{
        const BOUNDS: Bounds = Bounds { min: $min, max: $max };
        fn ours(cfg: &RunConfig) -> Sample {
            run_ours(BOUNDS, cfg)
        }
        fn rayon_splitter(cfg: &RunConfig) -> Sample {
            run_rayon_splitter(BOUNDS, cfg)
        }
        fn rayon(cfg: &RunConfig) -> Sample {
            run_par_iter(BOUNDS, cfg)
        }
        vec![
            System { name: "ours", run: ours },
            System { name: "rayon_splitter", run: rayon_splitter },
            System { name: "rayon", run: rayon },
        ]
    }};
}

/// `increment_all`: no bounds.
pub(super) fn systems_plain() -> Vec<System> {
    increment_systems!(1, usize::MAX)
}

/// `increment_all_min`: pieces of at least 1,024.
pub(super) fn systems_min() -> Vec<System> {
    increment_systems!(1024, usize::MAX)
}

/// `increment_all_max`: pieces of at most 100.
pub(super) fn systems_max() -> Vec<System> {
    increment_systems!(1, 100)
}
