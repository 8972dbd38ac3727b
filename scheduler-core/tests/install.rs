//! `Runtime::install` / `Handle::install`: run a closure on a worker and block the caller
//! until it returns; the closure may borrow the caller's stack, its panic reaches the caller,
//! and from a worker of the same runtime it runs inline.

mod common;

use common::{Gate, LiveCounter};
use scheduler_core::{join, Runtime};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;

fn named(name: &str, workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).thread_name(name).build().unwrap()
}

fn thread_name() -> String {
    thread::current().name().unwrap_or("").to_owned()
}

#[test]
fn install_runs_on_a_worker_and_mutates_a_local_vec() {
    let rt = named("inst", 2);
    let mut v = vec![1, 2, 3];
    let caller = thread::current().id();
    let (id, name) = rt.install(|| {
        v.push(4);
        v.iter_mut().for_each(|x| *x *= 10);
        (thread::current().id(), thread_name())
    });
    assert_eq!(v, [10, 20, 30, 40]);
    assert_ne!(id, caller);
    assert!(name.starts_with("inst-worker-"), "{name}");
    // Through a Handle as well.
    let total: i32 = rt.handle().install(|| v.iter().sum());
    assert_eq!(total, 100);
}

#[test]
fn install_propagates_the_panic_payload() {
    let rt = named("inst", 2);
    let err = catch_unwind(AssertUnwindSafe(|| rt.install(|| panic!("boom")))).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"boom"));
    let err = catch_unwind(AssertUnwindSafe(|| {
        rt.install(|| std::panic::panic_any(42u32));
    }))
    .unwrap_err();
    assert_eq!(err.downcast_ref::<u32>(), Some(&42));
    assert_eq!(rt.install(|| 7), 7, "the workers survive the panics");
}

#[test]
fn nested_install_from_a_worker_runs_inline() {
    let rt = named("inst", 2);
    let h = rt.handle();
    let (outer, inner) = rt.install(|| {
        let outer = thread::current().id();
        (outer, h.install(|| thread::current().id()))
    });
    assert_eq!(outer, inner);
    // From a task of the runtime too.
    let h2 = rt.handle().clone();
    let same = rt
        .block_on(rt.spawn_fn(move || {
            let me = thread::current().id();
            h2.install(|| thread::current().id()) == me
        }))
        .unwrap();
    assert!(same);
}

#[test]
fn install_from_many_foreign_threads_at_once_gives_exact_sums() {
    let rt = named("inst", 2);
    let rt = &rt;
    thread::scope(|s| {
        let callers: Vec<_> = (0..8u64)
            .map(|t| {
                s.spawn(move || {
                    for round in 0..50u64 {
                        let data: Vec<u64> = (0..1000).map(|i| i * t + round).collect();
                        let (lo, hi) = data.split_at(500);
                        let got = rt.install(|| {
                            let (a, b) = join(|| lo.iter().sum::<u64>(), || hi.iter().sum::<u64>());
                            a + b
                        });
                        assert_eq!(got, data.iter().sum::<u64>());
                    }
                })
            })
            .collect();
        for c in callers {
            c.join().unwrap();
        }
    });
}

#[test]
fn install_from_a_worker_of_another_runtime_runs_on_the_target() {
    let a = named("rta", 1);
    let b = named("rtb", 1);
    let hb = b.handle().clone();
    let name = a
        .block_on(a.spawn_fn(move || {
            let mut local = vec![0u8; 3];
            let name = hb.install(|| {
                local[1] = 9;
                thread_name()
            });
            assert_eq!(local, [0, 9, 0]);
            name
        }))
        .unwrap();
    assert!(name.starts_with("rtb-worker-"), "{name}");
}

/// The runtime shuts down while the installed closure is still queued: the closure is
/// dropped (never run) before `install` returns, which it does by panicking.
#[test]
fn shutdown_before_the_closure_ran_drops_it_and_panics_in_the_caller() {
    let rt = named("inst", 1);
    let gate = Gate::default();
    let g = gate.clone();
    let blocker = rt.spawn_fn(move || g.wait()); // occupies the only worker
    gate.wait_for_waiters(1);
    let live = LiveCounter::default();
    let h = rt.handle().clone();
    let (tx, rx) = mpsc::channel();
    let caller = thread::spawn({
        let live = live.clone();
        move || {
            let mut local = 0u32;
            let guard = live.guard();
            let out = catch_unwind(AssertUnwindSafe(|| {
                h.install(|| {
                    let _keep = &guard;
                    local += 1;
                })
            }));
            drop(guard);
            tx.send((out.map_err(|p| p.downcast_ref::<String>().cloned()), local)).unwrap();
        }
    });
    // Wait until the install is queued (injector depth), then stop and free the worker.
    while rt.metrics().injector_depth == 0 {
        thread::yield_now();
    }
    rt.handle().stop();
    gate.open();
    let (out, local) = rx.recv().unwrap();
    caller.join().unwrap();
    let msg = out.unwrap_err().unwrap_or_default();
    assert!(msg.contains("shut down"), "{msg}");
    assert_eq!(local, 0, "the closure never ran");
    assert_eq!(live.live(), 0, "and it was dropped");
    let _ = rt.block_on(blocker);
}

/// The runtime shuts down while the installed closure runs: the worker finishes it and the
/// caller gets its result.
#[test]
fn shutdown_while_the_closure_runs_still_returns_its_result() {
    let rt = named("inst", 1);
    let h = rt.handle().clone();
    let started = AtomicBool::new(false);
    let stopped = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            while !started.load(Ordering::SeqCst) {
                thread::yield_now();
            }
            h.stop();
            stopped.store(true, Ordering::SeqCst);
        });
        let mut local = vec![1];
        let out = rt.install(|| {
            started.store(true, Ordering::SeqCst);
            while !stopped.load(Ordering::SeqCst) {
                thread::yield_now();
            }
            local.push(2);
            5
        });
        assert_eq!(out, 5);
        assert_eq!(local, [1, 2]);
    });
}

/// A task that entered another runtime (`Handle::enter`) is still on its own runtime's
/// worker: `install` into its own runtime runs inline (no hand-off to itself, which would
/// wait for ever on a 1-worker runtime), and `join` there uses its own worker.
#[test]
fn install_and_join_on_a_worker_under_another_runtimes_enter_stay_on_that_worker() {
    let a = named("own", 1);
    let b = named("other", 1);
    let ha = a.handle().clone();
    let hb = b.handle().clone();
    let out = a
        .block_on(a.spawn_fn(move || {
            let me = thread::current().id();
            let _in = hb.enter();
            let inline = ha.install(|| thread::current().id()) == me;
            let (x, y) = join(|| thread::current().id(), || thread::current().id());
            (inline, x == me && y == me)
        }))
        .unwrap();
    assert_eq!(out, (true, true));
}
