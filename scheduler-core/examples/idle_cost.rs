//! How much CPU an idle runtime burns, and what building and dropping it costs:
//! `cargo run --release -p scheduler-core --example idle_cost -- 1024 5` builds 1,024 workers,
//! lets them idle for 5 s (with one far timer pending, the common request-timeout shape) and
//! prints the process CPU time spent idling as a share of one core.

use std::time::{Duration, Instant};

fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // utime and stime are fields 14 and 15 (1-based), after the ')' that ends the name.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    let ticks = field(11) + field(12); // utime, stime
    Duration::from_millis(ticks * 10) // USER_HZ = 100 on Linux
}

fn main() {
    let mut args = std::env::args().skip(1);
    let workers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1024);
    let secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let t = Instant::now();
    let rt = scheduler_core::Runtime::builder().worker_threads(workers).build().unwrap();
    let built = t.elapsed();
    let _far = rt.handle().call_later(Duration::from_secs(3600), || {});
    std::thread::sleep(Duration::from_secs(1)); // let the start-up settle
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    std::thread::sleep(Duration::from_secs(secs));
    let idle_share = (cpu_time() - cpu0).as_secs_f64() / wall0.elapsed().as_secs_f64();
    let t = Instant::now();
    drop(rt);
    println!(
        "{workers} workers: build {:.3} s, idle CPU {:.1} % of one core, drop {:.3} s",
        built.as_secs_f64(),
        idle_share * 100.0,
        t.elapsed().as_secs_f64()
    );
}
