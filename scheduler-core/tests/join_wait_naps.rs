//! A worker that waits for something it cannot help with (the stolen half of a `join` still
//! running elsewhere, a `scope`'s last job, another runtime's `install`) naps instead of
//! spinning: over a 400 ms wait the process burns a small share of one core, where the old
//! spin-and-yield loop burnt all of it. And a waiter woken from its nap still gets every
//! result, exactly.
//!
//! The figure is the whole process's CPU time, so the tests of this file take turns
//! (`SERIAL`).

use scheduler_core::{join, scope, Runtime};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// CPU time of this process so far (utime + stime from /proc, 10 ms ticks).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((field(11) + field(12)) * 10)
}

/// Runs `f`, returning its result and the process's CPU time over wall time meanwhile.
fn cpu_share<R>(f: impl FnOnce() -> R) -> (R, f64) {
    let (c0, t0) = (cpu_time(), Instant::now());
    let r = f();
    let share = (cpu_time() - c0).as_secs_f64() / t0.elapsed().as_secs_f64();
    (r, share)
}

const LONG: Duration = Duration::from_millis(400);

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn long_waits_nap_instead_of_spinning() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let ((a_thread, b_thread), join_share) = cpu_share(|| {
        rt.install(|| {
            join(
                || {
                    thread::sleep(Duration::from_millis(20)); // the idle worker steals b meanwhile
                    thread::current().id()
                },
                || {
                    thread::sleep(LONG);
                    thread::current().id()
                },
            )
        })
    });
    assert_ne!(a_thread, b_thread, "b was stolen, so the owner waited for it");
    assert!(join_share < 0.5, "a join waiting 380 ms burnt {:.0} % of a core", join_share * 100.0);

    let ran = AtomicUsize::new(0);
    let ((), scope_share) = cpu_share(|| {
        rt.install(|| {
            scope(|s| {
                s.spawn(|_| {
                    thread::sleep(LONG);
                    ran.fetch_add(1, Ordering::Relaxed);
                });
            })
        })
    });
    assert_eq!(ran.load(Ordering::Relaxed), 1);
    assert!(
        scope_share < 0.5,
        "a scope waiting 400 ms burnt {:.0} % of a core",
        scope_share * 100.0
    );

    let other = Runtime::builder().worker_threads(1).build().unwrap();
    let (v, install_share) = cpu_share(|| {
        rt.install(|| {
            other.install(|| {
                thread::sleep(LONG);
                7
            })
        })
    });
    assert_eq!(v, 7);
    assert!(
        install_share < 0.5,
        "a worker waiting 400 ms for another runtime's install burnt {:.0} % of a core",
        install_share * 100.0
    );
}

#[test]
fn waiters_woken_from_their_naps_get_every_result() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // b outlasts the waiter's spin and yield rounds, so the owner naps and the thief's set
    // wakes it; a's and b's values must all come back.
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let total: u64 = rt.install(|| {
        (0..100u64)
            .map(|i| {
                let (a, b) = join(
                    || i,
                    || {
                        thread::sleep(Duration::from_micros(200 + (i % 7) * 150));
                        i * 1000
                    },
                );
                a + b
            })
            .sum()
    });
    assert_eq!(total, (0..100u64).map(|i| i + i * 1000).sum::<u64>());
}
