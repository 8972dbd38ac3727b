//! The contended path of the Deferred chain's `SpinLock`: `threads` threads (default 4, twice
//! this machine's cores) each take and release one shared lock `n` times around a short
//! section (a few field updates, as a chain's sections are), and the run prints ns per
//! lock/unlock pair over all threads, beside `parking_lot::Mutex` doing the same.
//!
//! ```sh
//! cargo run --release -p scheduler-deferred --example spin_contention -- 4 2000000
//! ```

use scheduler_deferred::__private::SpinLock;
use std::hint::black_box;
use std::time::Instant;

#[derive(Default)]
struct Section {
    a: u64,
    b: u64,
    c: [u64; 4],
}

fn touch(s: &mut Section, i: u64) {
    s.a = s.a.wrapping_add(i);
    s.b ^= s.a;
    s.c[(i % 4) as usize] += 1;
}

fn run<L: Sync>(threads: usize, n: u64, lock: &L, op: impl Fn(&L, u64) + Sync) -> f64 {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for i in 0..n {
                    op(lock, i);
                }
            });
        }
    });
    start.elapsed().as_nanos() as f64 / (threads as u64 * n) as f64
}

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000_000);
    let spin = SpinLock::new(Section::default());
    let ns = run(threads, n, &spin, |l, i| touch(&mut l.lock(), black_box(i)));
    let pl = parking_lot::Mutex::new(Section::default());
    let ns_pl = run(threads, n, &pl, |l, i| touch(&mut l.lock(), black_box(i)));
    println!(
        "{threads} threads x {n}: SpinLock {ns:.1} ns/pair, parking_lot::Mutex {ns_pl:.1} ns/pair"
    );
}
