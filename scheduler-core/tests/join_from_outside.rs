//! `join` and `scope` called from a thread that is not a worker run on the workers of the
//! runtime in context (`Handle::enter`, a `block_on` caller, a blocking-pool thread), never
//! serially on the caller.

use scheduler_core::{join, scope, Runtime};
use std::sync::Mutex;
use std::thread;

fn name() -> String {
    thread::current().name().unwrap_or("").to_owned()
}

fn runtime(n: &str) -> Runtime {
    Runtime::builder().worker_threads(2).thread_name(n).build().unwrap()
}

#[test]
fn join_in_an_entered_context_runs_on_that_runtimes_workers() {
    let rt = runtime("outj");
    let _in = rt.handle().enter();
    let me = thread::current().id();
    let mut left = vec![1, 2];
    let ((a_id, a_name), (b_id, b_name)) = join(
        || {
            left.push(3);
            (thread::current().id(), name())
        },
        || (thread::current().id(), name()),
    );
    assert_eq!(left, [1, 2, 3]);
    assert_ne!(a_id, me);
    assert_ne!(b_id, me);
    assert!(a_name.starts_with("outj-worker-"), "{a_name}");
    assert!(b_name.starts_with("outj-worker-"), "{b_name}");
}

#[test]
fn scope_in_an_entered_context_runs_on_that_runtimes_workers() {
    let rt = runtime("outs");
    let _in = rt.handle().enter();
    let me = thread::current().id();
    let names = Mutex::new(Vec::new());
    let body = scope(|s| {
        for _ in 0..4 {
            s.spawn(|_| names.lock().unwrap().push((thread::current().id(), name())));
        }
        (thread::current().id(), name())
    });
    assert_ne!(body.0, me);
    assert!(body.1.starts_with("outs-worker-"), "{}", body.1);
    let names = names.into_inner().unwrap();
    assert_eq!(names.len(), 4);
    for (id, n) in names {
        assert_ne!(id, me);
        assert!(n.starts_with("outs-worker-"), "{n}");
    }
}

#[test]
fn join_in_block_on_and_on_a_blocking_thread_goes_to_the_workers() {
    let rt = runtime("outb");
    let me = thread::current().id();
    let (a, b) = rt.block_on(async { join(name, || thread::current().id()) });
    assert!(a.starts_with("outb-worker-"), "{a}");
    assert_ne!(b, me);
    let (a, b) = rt.block_on(rt.spawn_blocking(|| join(name, name))).unwrap();
    assert!(a.starts_with("outb-worker-"), "{a}");
    assert!(b.starts_with("outb-worker-"), "{b}");
}

#[test]
fn a_panic_in_join_from_outside_reaches_the_caller() {
    let rt = runtime("outp");
    let _in = rt.handle().enter();
    let err =
        std::panic::catch_unwind(|| join(|| 1, || -> i32 { panic!("right side") })).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"right side"));
}

/// The runtime in context has shut down: `join` from outside says so instead of running
/// serially; both closures are dropped unrun.
#[test]
fn join_in_the_context_of_a_stopped_runtime_panics_with_a_message() {
    let rt = runtime("outx");
    rt.handle().stop();
    let _in = rt.handle().enter();
    let ran = std::sync::atomic::AtomicBool::new(false);
    let err = std::panic::catch_unwind(|| {
        join(|| ran.store(true, std::sync::atomic::Ordering::SeqCst), || ())
    })
    .unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("shut down"), "{msg}");
    assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
}
