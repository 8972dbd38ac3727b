//! `join_context`: each closure learns through `FnContext::migrated()` whether it runs on
//! another thread than the one that called `join_context` (it was stolen, or the whole call
//! was sent to the pool from outside).

use scheduler_core::{join_context, Runtime};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn not_migrated_when_nothing_is_stolen() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let out = rt
        .block_on(rt.spawn_fn(|| {
            let me = thread::current().id();
            join_context(
                |a| (a.migrated(), thread::current().id() == me),
                |b| (b.migrated(), thread::current().id() == me),
            )
        }))
        .unwrap();
    assert_eq!(out, ((false, true), (false, true)));
}

#[test]
fn migrated_when_b_is_stolen_by_the_other_worker() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let ((a_migrated, a_thread), (b_migrated, b_thread)) = rt
        .block_on(rt.spawn_fn(|| {
            let b_started = AtomicBool::new(false);
            join_context(
                |a| {
                    // `a` holds this worker until `b` runs: only the other worker can run it.
                    let deadline = Instant::now() + Duration::from_secs(30);
                    while !b_started.load(Ordering::SeqCst) {
                        assert!(Instant::now() < deadline, "b was never stolen");
                        std::hint::spin_loop();
                    }
                    (a.migrated(), thread::current().id())
                },
                |b| {
                    b_started.store(true, Ordering::SeqCst);
                    (b.migrated(), thread::current().id())
                },
            )
        }))
        .unwrap();
    assert!(!a_migrated);
    assert!(b_migrated);
    assert_ne!(a_thread, b_thread);
}

#[test]
fn from_outside_both_halves_run_on_workers_and_are_migrated() {
    let rt = Runtime::builder().worker_threads(2).thread_name("jc").build().unwrap();
    let _in = rt.handle().enter();
    let me = thread::current().id();
    let ((a, a_name, a_here), (b, b_name, b_here)) = join_context(
        |c| {
            (
                c.migrated(),
                thread::current().name().map(str::to_owned),
                thread::current().id() == me,
            )
        },
        |c| {
            (
                c.migrated(),
                thread::current().name().map(str::to_owned),
                thread::current().id() == me,
            )
        },
    );
    assert!(a && b);
    assert!(!a_here && !b_here);
    assert!(a_name.unwrap().starts_with("jc-worker-"));
    assert!(b_name.unwrap().starts_with("jc-worker-"));
}
