//! chili's README benchmark (dragostis/chili, `benches/overhead.rs`): the sum of a balanced
//! binary tree whose every node holds 1, one join per node, beside chili (heartbeat
//! scheduling, a port of Spice), rayon and the serial recursion. Trees of 1,023, 65,535 and
//! 1,048,575 nodes (10, 16 and 20 levels); `n` sums per sample, run inside one entry into
//! each pool; the figure is ns per node. chili's `thread_count` counts the calling thread,
//! so every system runs on `--workers` threads in all.

use super::rayon_shapes::{ours, rayon_pool, timed_on_ours, timed_on_rayon};
use crate::{RunConfig, Sample};
use std::num::NonZeroUsize;
use std::time::Instant;

/// One tree node.
pub(super) struct Node {
    val: u64,
    left: Option<Box<Node>>,
    right: Option<Box<Node>>,
}

impl Node {
    /// A complete tree of `levels` levels (`2^levels - 1` nodes), built level by level from
    /// the leaves so that building it does not recurse.
    pub(super) fn tree(levels: u32) -> Node {
        let mut level: Vec<Node> =
            (0..1u64 << (levels - 1)).map(|_| Node { val: 1, left: None, right: None }).collect();
        while level.len() > 1 {
            let mut pairs = level.into_iter();
            let mut up = Vec::new();
            while let (Some(l), Some(r)) = (pairs.next(), pairs.next()) {
                up.push(Node { val: 1, left: Some(Box::new(l)), right: Some(Box::new(r)) });
            }
            level = up;
        }
        level.pop().expect("at least one level")
    }
}

/// Frees the tree without recursing per node.
impl Drop for Node {
    fn drop(&mut self) {
        let mut stack: Vec<Box<Node>> = self.left.take().into_iter().collect();
        stack.extend(self.right.take());
        while let Some(mut node) = stack.pop() {
            stack.extend(node.left.take());
            stack.extend(node.right.take());
        }
    }
}

fn sum_serial(node: &Node) -> u64 {
    let left = node.left.as_deref().map_or(0, sum_serial);
    let right = node.right.as_deref().map_or(0, sum_serial);
    node.val + left + right
}

fn sum_ours(node: &Node) -> u64 {
    let (left, right) = scheduler_core::join(
        || node.left.as_deref().map_or(0, sum_ours),
        || node.right.as_deref().map_or(0, sum_ours),
    );
    node.val + left + right
}

fn sum_rayon(node: &Node) -> u64 {
    let (left, right) = rayon::join(
        || node.left.as_deref().map_or(0, sum_rayon),
        || node.right.as_deref().map_or(0, sum_rayon),
    );
    node.val + left + right
}

fn sum_chili(node: &Node, scope: &mut chili::Scope<'_>) -> u64 {
    let (left, right) = scope.join(
        |s| node.left.as_deref().map_or(0, |n| sum_chili(n, s)),
        |s| node.right.as_deref().map_or(0, |n| sum_chili(n, s)),
    );
    node.val + left + right
}

fn nodes(levels: u32) -> u64 {
    (1u64 << levels) - 1
}

fn sample(took: std::time::Duration, total: u64, levels: u32, cfg: &RunConfig) -> Sample {
    let reps = cfg.n.max(1);
    assert_eq!(total, reps * nodes(levels), "every node counted once per sum");
    Sample::per_op(took, reps * nodes(levels))
}

fn run_ours(levels: u32, cfg: &RunConfig) -> Sample {
    let (tree, rt, reps) = (Node::tree(levels), ours(cfg), cfg.n.max(1));
    let (took, total) = timed_on_ours(&rt, || (0..reps).map(|_| sum_ours(&tree)).sum());
    sample(took, total, levels, cfg)
}

fn run_rayon(levels: u32, cfg: &RunConfig) -> Sample {
    let (tree, pool, reps) = (Node::tree(levels), rayon_pool(cfg), cfg.n.max(1));
    let (took, total) = timed_on_rayon(&pool, || (0..reps).map(|_| sum_rayon(&tree)).sum());
    sample(took, total, levels, cfg)
}

fn run_chili(levels: u32, cfg: &RunConfig) -> Sample {
    let tree = Node::tree(levels);
    let pool = chili::ThreadPool::with_config(chili::Config {
        thread_count: NonZeroUsize::new(cfg.workers.max(1)),
        ..chili::Config::default()
    });
    let mut scope = pool.scope();
    let start = Instant::now();
    let total = (0..cfg.n.max(1)).map(|_| sum_chili(&tree, &mut scope)).sum();
    let took = start.elapsed();
    sample(took, total, levels, cfg)
}

fn run_serial(levels: u32, cfg: &RunConfig) -> Sample {
    let tree = Node::tree(levels);
    let start = Instant::now();
    let total = (0..cfg.n.max(1)).map(|_| sum_serial(std::hint::black_box(&tree))).sum();
    let took = start.elapsed();
    sample(took, total, levels, cfg)
}

macro_rules! tree_systems {
    ($levels:expr) => {{
        fn ours(cfg: &RunConfig) -> Sample {
            run_ours($levels, cfg)
        }
        fn chili(cfg: &RunConfig) -> Sample {
            run_chili($levels, cfg)
        }
        fn rayon(cfg: &RunConfig) -> Sample {
            run_rayon($levels, cfg)
        }
        fn serial(cfg: &RunConfig) -> Sample {
            run_serial($levels, cfg)
        }
        vec![
            crate::System { name: "ours", run: ours },
            crate::System { name: "chili", run: chili },
            crate::System { name: "rayon", run: rayon },
            crate::System { name: "std", run: serial },
        ]
    }};
}

/// The systems of the 1,023-node row.
pub(super) fn systems_1k() -> Vec<crate::System> {
    tree_systems!(10)
}

/// The systems of the 65,535-node row.
pub(super) fn systems_64k() -> Vec<crate::System> {
    tree_systems!(16)
}

/// The systems of the 1,048,575-node row.
pub(super) fn systems_1m() -> Vec<crate::System> {
    tree_systems!(20)
}
