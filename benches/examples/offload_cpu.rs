//! Where the CPU goes in `server_offload`, per variant: wall and CPU time per request, the CPU
//! beyond the heavy jobs' own, and context switches per request (voluntary: a thread blocked;
//! involuntary: it was preempted). Counters of the process, so the figures hold under load
//! better than wall-clock ones, though a busy machine still preempts more.
//!
//! ```sh
//! cargo run --release -p benches --example offload_cpu -- 40000 3
//! ```
//!
//! Arguments: requests per run (default 20,000) and runs (default 3), each run going through
//! the four variants in turn.

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let cfg = benches::RunConfig { workers: 2, n };
    println!(
        "{:<15} {:>11} {:>10} {:>14} {:>13} {:>15}",
        "system",
        "wall us/req",
        "cpu us/req",
        "overhead us/req",
        "voluntary/req",
        "involuntary/req"
    );
    for _ in 0..runs {
        for b in benches::workloads::server::cpu_breakdown(&cfg) {
            println!(
                "{:<15} {:>11.1} {:>10.1} {:>14.1} {:>13.3} {:>15.3}",
                b.system, b.wall_us, b.cpu_us, b.overhead_us, b.voluntary, b.involuntary
            );
        }
    }
}
