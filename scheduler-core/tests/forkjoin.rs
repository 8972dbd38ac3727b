//! `join` and `scope`: results, parallel use, borrowing, panics.

use scheduler_core::{join, scope, Runtime};
use std::sync::atomic::{AtomicUsize, Ordering};

fn fib(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = join(|| fib(n - 1), || fib(n - 2));
    a + b
}

fn fib_serial(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib_serial(n - 1) + fib_serial(n - 2)
    }
}

#[test]
fn join_on_workers_matches_serial() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    assert_eq!(rt.block_on(rt.spawn_fn(|| fib(22))).unwrap(), fib_serial(22));
    // Many joins at once from several tasks.
    let hs: Vec<_> = (0..8).map(|_| rt.spawn_fn(|| fib(16))).collect();
    for h in hs {
        assert_eq!(rt.block_on(h).unwrap(), fib_serial(16));
    }
}

/// Outside any runtime `join` goes to the global runtime (`join_from_outside.rs` and
/// `global_lazy.rs` check where it runs); the result is the same.
#[test]
fn join_outside_a_runtime_gives_the_same_result() {
    assert_eq!(fib(10), 55);
}

#[test]
fn join_propagates_a_panic_after_both_sides_finished() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let other_ran = std::sync::Arc::new(AtomicUsize::new(0));
    let o = other_ran.clone();
    let jh = rt.spawn_fn(move || {
        join(
            || panic!("left"),
            move || {
                o.fetch_add(1, Ordering::SeqCst);
            },
        )
    });
    let err = rt.block_on(jh).unwrap_err();
    assert_eq!(err.panic_message(), Some("left"));
    assert_eq!(other_ran.load(Ordering::SeqCst), 1);
    // Workers still fine.
    assert_eq!(rt.block_on(rt.spawn_fn(|| fib(12))).unwrap(), 144);
}

#[test]
fn scope_borrows_from_the_stack() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let out = rt.block_on(rt.spawn_fn(|| {
        let mut data = vec![0u64; 1000];
        scope(|s| {
            for (i, chunk) in data.chunks_mut(100).enumerate() {
                s.spawn(move |s2| {
                    for x in chunk.iter_mut() {
                        *x = i as u64;
                    }
                    // nested spawn into the same scope
                    s2.spawn(|_| {});
                });
            }
        });
        data.iter().sum::<u64>()
    }));
    assert_eq!(out.unwrap(), (0..10).map(|i| i * 100).sum::<u64>());
}

/// Outside any runtime the scope runs on the global runtime; every spawn still runs once.
#[test]
fn scope_outside_a_runtime_runs_every_spawn() {
    let counter = AtomicUsize::new(0);
    scope(|s| {
        for _ in 0..10 {
            s.spawn(|_| {
                counter.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    assert_eq!(counter.load(Ordering::SeqCst), 10);
}

#[test]
fn scope_resumes_a_job_panic() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let finished = std::sync::Arc::new(AtomicUsize::new(0));
    let f = finished.clone();
    let jh = rt.spawn_fn(move || {
        scope(|s| {
            s.spawn(|_| panic!("in scope"));
            for _ in 0..20 {
                let f = &f;
                s.spawn(move |_| {
                    f.fetch_add(1, Ordering::SeqCst);
                });
            }
        })
    });
    assert_eq!(rt.block_on(jh).unwrap_err().panic_message(), Some("in scope"));
    assert_eq!(finished.load(Ordering::SeqCst), 20, "the other jobs all ran");
}
