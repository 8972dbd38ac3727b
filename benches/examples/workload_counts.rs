//! Runs one workload's `ours` system once, for instruction counts under
//! `valgrind --tool=callgrind` (two sizes give instructions per operation; the machine's
//! load does not change them, unlike wall-clock figures):
//!
//! ```sh
//! cargo build --release -p benches --example workload_counts
//! valgrind --tool=callgrind target/release/examples/workload_counts ping_pong 20000 1
//! ```
//!
//! Arguments: workload name, `n`, worker threads (default 1: one worker keeps the count
//! deterministic enough; spinning and parking of idle workers would add noise), and the
//! system (default `ours`; a peer's name, such as `chili` or `std`, counts the peer).

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "ping_pong".to_owned());
    let n: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let workers: usize = args.next().and_then(|w| w.parse().ok()).unwrap_or(1);
    let workload = benches::all_workloads()
        .into_iter()
        .chain(benches::peer_workloads())
        .find(|w| w.name == name)
        .unwrap_or_else(|| panic!("no workload named {name}"));
    let system = args.next().unwrap_or_else(|| "ours".to_owned());
    let run = workload.systems.iter().find(|s| s.name == system);
    let run = run.unwrap_or_else(|| panic!("{name} has no system named {system}"));
    let sample = (run.run)(&benches::RunConfig { workers, n });
    println!("{name} {system}: {sample:?}");
}
