//! `join` deep in a recursion (where most calls run serially or keep their second half
//! private, `join_frames`): idle workers still get work, panics keep the rule "both halves
//! finish, then the panic", every captured value is dropped once, and results are exact on
//! 1, 2 and 4 workers.

use scheduler_core::{join, join_context, scope, Runtime};
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

fn runtime(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).build().expect("runtime")
}

/// Counts its drops.
struct Counted<'a>(&'a AtomicUsize);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A complete binary recursion of `levels` levels; each call moves one `Counted` into each
/// closure and sums its leaves.
fn tree(levels: u32, made: &AtomicUsize, dropped: &AtomicUsize) -> u64 {
    if levels == 0 {
        return 1;
    }
    let (l, r) = (Counted(dropped), Counted(dropped));
    made.fetch_add(2, Ordering::Relaxed);
    let (a, b) = join(
        move || {
            let _l = l;
            tree(levels - 1, made, dropped)
        },
        move || {
            let _r = r;
            tree(levels - 1, made, dropped)
        },
    );
    a + b
}

#[test]
fn deep_recursions_are_exact_and_drop_every_capture_once() {
    for workers in [1, 2, 4] {
        let rt = runtime(workers);
        let (made, dropped) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let leaves = rt.install(|| tree(16, &made, &dropped));
        assert_eq!(leaves, 1 << 16, "{workers} workers");
        assert_eq!(made.load(Ordering::Relaxed), 2 * ((1 << 16) - 1));
        assert_eq!(dropped.load(Ordering::Relaxed), made.load(Ordering::Relaxed));
    }
}

/// Spins for `d` of wall-clock time (a leaf with real work in it).
fn busy(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

fn leaves_on(levels: u32, seen: &Mutex<HashSet<ThreadId>>) {
    if levels == 0 {
        busy(Duration::from_micros(20));
        seen.lock().unwrap().insert(thread::current().id());
        return;
    }
    join(|| leaves_on(levels - 1, seen), || leaves_on(levels - 1, seen));
}

#[test]
fn an_idle_worker_gets_work_from_deep_in_the_recursion() {
    let rt = runtime(2);
    let seen = Mutex::new(HashSet::new());
    // 4,096 leaves of 20 µs: most joins are far below the eagerly published frames.
    rt.install(|| leaves_on(12, &seen));
    assert_eq!(seen.lock().unwrap().len(), 2, "both workers ran leaves");
}

/// Recurses `depth` joins down the first half, then runs `f` there.
fn at_depth<R: Send>(depth: u32, f: &(dyn Fn() -> R + Sync)) -> R {
    if depth == 0 {
        return f();
    }
    join(|| at_depth(depth - 1, f), || ()).0
}

#[test]
fn a_panic_deep_down_still_runs_the_other_half_first() {
    let rt = runtime(1);
    let ran_b = AtomicUsize::new(0);
    let caught = rt.install(|| {
        catch_unwind(AssertUnwindSafe(|| {
            at_depth(40, &|| {
                join(
                    || -> u32 { panic!("a fails") },
                    || {
                        ran_b.fetch_add(1, Ordering::Relaxed);
                    },
                )
            })
        }))
    });
    let payload = caught.expect_err("the panic propagates");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"a fails"));
    assert_eq!(ran_b.load(Ordering::Relaxed), 1, "b ran before the panic went on");
}

#[test]
fn a_panic_of_the_second_half_deep_down_propagates() {
    let rt = runtime(1);
    let caught = rt
        .install(|| catch_unwind(|| at_depth(40, &|| join(|| 1, || -> u32 { panic!("b fails") }))));
    let payload = caught.expect_err("the panic propagates");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"b fails"));
}

#[test]
fn nothing_migrates_deep_down_on_one_worker() {
    let rt = runtime(1);
    let me = rt.install(|| thread::current().id());
    let seen = rt.install(|| {
        at_depth(40, &|| {
            join_context(
                |a| (a.migrated(), thread::current().id()),
                |b| (b.migrated(), thread::current().id()),
            )
        })
    });
    assert_eq!(seen, ((false, me), (false, me)));
}

#[test]
fn a_scope_deep_down_runs_its_jobs_and_the_frames_below_it() {
    for workers in [1, 2] {
        let rt = runtime(workers);
        let total = AtomicUsize::new(0);
        rt.install(|| {
            // Lazy frames below the scope: its wait publishes them and may run them.
            at_depth(30, &|| {
                scope(|s| {
                    for k in 1..=100 {
                        let total = &total;
                        s.spawn(move |_| {
                            total.fetch_add(k, Ordering::Relaxed);
                        });
                    }
                })
            })
        });
        assert_eq!(total.load(Ordering::Relaxed), 5050, "{workers} workers");
    }
}
