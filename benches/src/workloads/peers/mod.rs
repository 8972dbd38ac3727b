//! The `peers` group: the peers' own benchmark shapes rewritten on our API, beside the peer
//! they come from (tokio's `rt_multi_threaded.rs` and `spawn.rs`, rayon-demo's fork-join
//! benches, chili's tree sum). Each module's doc names the peer file and its sizes.
//!
//! `schedbench` runs the group with `--full`, or with `--only peers` (or a row's name); the
//! default and `--quick` matrices leave it out.

mod increment_all;
mod rayon_shapes;
mod tokio_shapes;
mod tree_sum;

use crate::{System, Target, Unit, Workload};
use rayon_shapes as ry;
use tokio_shapes as tk;

/// The name `--only` takes for the whole group.
pub const GROUP: &str = "peers";

fn row(
    name: &'static str,
    target: Target,
    (full_n, default_n, quick_n): (u64, u64, u64),
    systems: Vec<System>,
) -> Workload {
    Workload { name, unit: Unit::NsPerOp, target, full_n, default_n, quick_n, systems }
}

fn pair(
    peer: &'static str,
    ours: fn(&crate::RunConfig) -> crate::Sample,
    theirs: fn(&crate::RunConfig) -> crate::Sample,
) -> Vec<System> {
    vec![System { name: "ours", run: ours }, System { name: peer, run: theirs }]
}

/// tokio's shapes (ns per task; per yield for `tokio_yield_many`, per ping for
/// `tokio_ping_pong`).
fn tokio_rows() -> Vec<Workload> {
    let at_most = Target::RatioToBestPeer;
    vec![
        row(
            "spawn_many_local",
            at_most(1.0),
            (50, 10, 2),
            pair("tokio", tk::spawn_many_local_ours, tk::spawn_many_local_tokio),
        ),
        row(
            "spawn_many_remote_idle",
            at_most(1.0),
            (50, 10, 2),
            pair("tokio", tk::spawn_many_remote_idle_ours, tk::spawn_many_remote_idle_tokio),
        ),
        row(
            "spawn_many_remote_busy1",
            at_most(1.0),
            (50, 10, 2),
            pair("tokio", tk::spawn_many_remote_busy1_ours, tk::spawn_many_remote_busy1_tokio),
        ),
        row(
            "spawn_many_remote_busy2",
            at_most(1.0),
            (50, 20, 3),
            pair("tokio", tk::spawn_many_remote_busy2_ours, tk::spawn_many_remote_busy2_tokio),
        ),
        row(
            "tokio_yield_many",
            at_most(1.0),
            (10, 3, 1),
            pair("tokio", tk::yield_many_ours, tk::yield_many_tokio),
        ),
        row(
            "tokio_ping_pong",
            at_most(1.0),
            (50, 10, 2),
            pair("tokio", tk::ping_pong_ours, tk::ping_pong_tokio),
        ),
        row(
            "tokio_chained_spawn",
            at_most(1.0),
            (100, 20, 3),
            pair("tokio", tk::chained_spawn_ours, tk::chained_spawn_tokio),
        ),
        row(
            "threaded_scheduler_spawn",
            at_most(0.8),
            (20_000, 5_000, 500),
            pair("tokio", tk::spawn1_ours, tk::spawn1_tokio),
        ),
        row(
            "threaded_scheduler_spawn10",
            at_most(1.0),
            (5_000, 1_000, 100),
            pair("tokio", tk::spawn10_ours, tk::spawn10_tokio),
        ),
    ]
}

/// rayon-demo's shapes and chili's tree sum (ns per join, element, spawn or node).
fn rayon_rows() -> Vec<Workload> {
    let at_most = Target::RatioToBestPeer;
    vec![
        row(
            "fibonacci_join_1_2",
            at_most(1.0),
            (32, 27, 20),
            pair("rayon", ry::fib_1_2_ours, ry::fib_1_2_rayon),
        ),
        row(
            "fibonacci_join_2_1",
            at_most(1.0),
            (32, 27, 20),
            pair("rayon", ry::fib_2_1_ours, ry::fib_2_1_rayon),
        ),
        row(
            "join_recursively",
            at_most(1.0),
            (20, 5, 1),
            pair("rayon", ry::join_recursively_ours, ry::join_recursively_rayon),
        ),
        row("increment_all", splitter_bound(), (2_000, 500, 50), increment_all::systems_plain()),
        row("increment_all_min", splitter_bound(), (2_000, 500, 50), increment_all::systems_min()),
        row("increment_all_max", splitter_bound(), (2_000, 500, 50), increment_all::systems_max()),
        row(
            "quick_sort",
            at_most(1.0),
            (488_281, 200_000, 20_000),
            pair("rayon", ry::quick_sort_ours, ry::quick_sort_rayon),
        ),
        row(
            "merge_sort",
            at_most(1.0),
            (488_281, 200_000, 20_000),
            pair("rayon", ry::merge_sort_ours, ry::merge_sort_rayon),
        ),
        row(
            "chained_spawn_fn",
            at_most(0.8),
            (100, 20, 3),
            pair("rayon", ry::chained_spawn_fn_ours, ry::chained_spawn_fn_rayon),
        ),
        row("tree_sum_1k", chili_bound(), (5_000, 1_000, 50), tree_sum::systems_1k()),
        row("tree_sum_64k", chili_bound(), (100, 20, 2), tree_sum::systems_64k()),
        row("tree_sum_1m", chili_bound(), (10, 2, 1), tree_sum::systems_1m()),
    ]
}

/// The increment rows are judged against rayon running the same splitter (its own
/// `par_iter_mut` is shown beside).
fn splitter_bound() -> Target {
    Target::RatioToPeers(&[("rayon_splitter", 1.0)])
}

/// The tree sums are judged against chili alone (rayon and the serial sum are shown beside).
fn chili_bound() -> Target {
    Target::RatioToPeers(&[("chili", 1.0)])
}

/// Every row of the group.
pub fn workloads() -> Vec<Workload> {
    let mut rows = tokio_rows();
    rows.extend(rayon_rows());
    rows
}
