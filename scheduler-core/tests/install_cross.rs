//! `install` across runtimes, from workers: a worker that waits for another runtime's install
//! keeps serving installs sent to its own runtime (rayon's `in_worker_cross`), so installs that
//! bounce between two runtimes whose every worker is waiting do not deadlock.
//!
//! Each scenario runs on a helper thread and the test waits for it with a bound: a deadlock
//! fails the test with a message instead of hanging the suite.

use scheduler_core::{join, Runtime};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

fn named(name: &str, workers: usize) -> Arc<Runtime> {
    Arc::new(Runtime::builder().worker_threads(workers).thread_name(name).build().unwrap())
}

fn thread_name() -> String {
    thread::current().name().unwrap_or("").to_owned()
}

/// Runs `f` on a fresh thread; panics if it has not returned within 30 s.
fn within_bound<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("deadlock: {what}"))
}

#[test]
fn installs_bouncing_between_two_one_worker_runtimes_complete() {
    let (x, y) = (named("cx", 1), named("cy", 1));
    let names = within_bound("x -> y -> x", move || {
        let (x2, y2) = (x.clone(), y.clone());
        x.install(move || {
            let outer = thread_name();
            let (middle, inner) = y2.install(move || {
                // X's only worker waits in `y2.install`: it must run this one meanwhile.
                (thread_name(), x2.install(thread_name))
            });
            (outer, middle, inner)
        })
    });
    assert!(names.0.starts_with("cx-worker-"), "{names:?}");
    assert!(names.1.starts_with("cy-worker-"), "{names:?}");
    assert_eq!(names.2, names.0, "X's one worker ran the innermost install while it waited");
}

#[test]
fn a_chain_of_forty_bounces_gives_the_exact_depth() {
    fn bounce(here: Arc<Runtime>, there: Arc<Runtime>, left: usize) -> usize {
        if left == 0 {
            return 0;
        }
        let back = here.clone();
        1 + here.install(move || bounce(there, back, left - 1))
    }
    let (x, y) = (named("dx", 1), named("dy", 1));
    let depth = within_bound("40 bounces", move || bounce(x, y, 40));
    assert_eq!(depth, 40);
}

#[test]
fn bounced_installs_with_joins_inside_give_exact_sums_on_two_workers() {
    let (x, y) = (named("jx", 2), named("jy", 2));
    let total = Arc::new(AtomicUsize::new(0));
    let t = total.clone();
    within_bound("joins inside bounced installs", move || {
        let callers: Vec<_> = (0..4)
            .map(|_| {
                let (x, y, t) = (x.clone(), y.clone(), t.clone());
                thread::spawn(move || {
                    for _ in 0..50 {
                        let (x2, t2) = (x.clone(), t.clone());
                        let y2 = y.clone();
                        x.install(move || {
                            let (a, b) =
                                join(|| y2.install(|| join(|| 1, || 2)), || x2.install(|| 3));
                            t2.fetch_add(a.0 + a.1 + b, Ordering::Relaxed);
                        });
                    }
                })
            })
            .collect();
        for c in callers {
            c.join().unwrap();
        }
    });
    assert_eq!(total.load(Ordering::Relaxed), 4 * 50 * 6);
}

#[test]
fn an_install_from_a_worker_into_a_shut_down_runtime_drops_the_closure_and_panics_there() {
    let a = named("sa", 1);
    let b = named("sb", 1);
    let h = b.handle().clone();
    drop(b); // shut down and joined
    let dropped = Arc::new(AtomicUsize::new(0));
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    let d = dropped.clone();
    let (msg, ran) = within_bound("install into a stopped runtime", move || {
        a.install(move || {
            let counted = Counted(d);
            let ran = std::sync::atomic::AtomicBool::new(false);
            let ran_ref = &ran;
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                h.install(move || {
                    let _keep = &counted; // the closure owns it
                    ran_ref.store(true, Ordering::Relaxed);
                })
            }));
            let msg = out.err().and_then(|p| p.downcast_ref::<String>().cloned());
            (msg.unwrap_or_default(), ran.load(Ordering::Relaxed))
        })
    });
    assert!(msg.contains("shut down"), "{msg}");
    assert!(!ran, "the closure never ran");
    assert_eq!(dropped.load(Ordering::Relaxed), 1, "its captures were dropped once");
}

#[test]
fn a_hundred_thousand_installs_from_workers_into_another_runtime_give_the_exact_sum() {
    let (x, y) = (named("mx", 2), named("my", 2));
    let total = within_bound("100,000 cross-runtime installs", move || {
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let y = y.clone();
                x.spawn_fn(move || {
                    (0..25_000u64).map(|i| y.install(|| t * 25_000 + i)).sum::<u64>()
                })
            })
            .collect();
        handles.into_iter().map(|h| x.block_on(h).unwrap()).sum::<u64>()
    });
    assert_eq!(total, (0..100_000u64).sum::<u64>());
}
