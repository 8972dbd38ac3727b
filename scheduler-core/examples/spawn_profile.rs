//! A profiling driver for the spawn paths:
//! `spawn_profile internal|external|cpu [tasks] [rounds] [workers]`.
//! Prints ns per task and the worker metrics of each round (polls, steals, parks).

use scheduler_core::{Handle, Runtime};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

struct Latch {
    remaining: AtomicUsize,
    done: Mutex<bool>,
    cv: Condvar,
}

impl Latch {
    fn count_down(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.done.lock().unwrap() = true;
            self.cv.notify_all();
        }
    }
    fn wait(&self) {
        let mut d = self.done.lock().unwrap();
        while !*d {
            d = self.cv.wait(d).unwrap();
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("internal").to_owned();
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let rounds: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let workers: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(2);
    let rt = Runtime::builder().worker_threads(workers).build().expect("runtime");
    for _ in 0..rounds {
        let latch: &'static Latch = Box::leak(Box::new(Latch {
            remaining: AtomicUsize::new(n),
            done: Mutex::new(false),
            cv: Condvar::new(),
        }));
        let before = rt.metrics();
        let start = Instant::now();
        if mode == "cpu" {
            // n tasks of ~100 us of work each, spawned from outside.
            for _ in 0..n {
                drop(rt.spawn_fn(move || {
                    let mut x = 0u64;
                    for i in 0..200_000u64 {
                        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
                    }
                    latch.count_down();
                }));
            }
        } else if mode == "internal" {
            drop(rt.spawn(async move {
                let h = Handle::current();
                for _ in 0..n {
                    drop(h.spawn(async move { latch.count_down() }));
                }
            }));
        } else {
            for _ in 0..n {
                drop(rt.spawn(async move { latch.count_down() }));
            }
        }
        latch.wait();
        let ns = start.elapsed().as_nanos() as f64 / n as f64;
        let after = rt.metrics();
        let d = |f: fn(&scheduler_core::WorkerMetrics) -> u64| -> Vec<u64> {
            after.workers.iter().zip(&before.workers).map(|(a, b)| f(a) - f(b)).collect()
        };
        println!(
            "{mode}: {ns:.1} ns/task  polls {:?} steals {:?} parks {:?}",
            d(|w| w.polls),
            d(|w| w.steals),
            d(|w| w.parks)
        );
    }
}
