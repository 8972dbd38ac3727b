//! Without a runtime in context, `join` and `scope` go to the global runtime, built lazily on
//! first use with the default settings; `Builder::build_global` after that is an error.
//! (One test per file: the global runtime is process-wide.)

use scheduler_core::{join, scope, Runtime};
use std::thread;

fn name() -> String {
    thread::current().name().unwrap_or("").to_owned()
}

#[test]
fn join_without_context_builds_the_global_runtime_lazily() {
    let me = thread::current().id();
    let ((a_id, a), b) = join(|| (thread::current().id(), name()), name);
    assert_ne!(a_id, me);
    assert!(a.starts_with("scheduler-worker-"), "{a}");
    assert!(b.starts_with("scheduler-worker-"), "{b}");
    let s = scope(|_| name());
    assert!(s.starts_with("scheduler-worker-"), "{s}");
    let err = Runtime::builder().worker_threads(1).build_global().unwrap_err();
    assert!(err.is_already_built(), "{err}");
    assert!(err.to_string().contains("already"), "{err}");
}
