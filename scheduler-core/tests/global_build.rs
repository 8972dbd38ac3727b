//! `Builder::build_global` configures the global runtime once; a second call is an error.
//! (One test per file: the global runtime is process-wide.)

use scheduler_core::{join, join_context, scope, Runtime};
use std::thread;

fn name() -> String {
    thread::current().name().unwrap_or("").to_owned()
}

#[test]
fn build_global_configures_the_global_runtime_once() {
    Runtime::builder().worker_threads(2).thread_name("glob").build_global().unwrap();
    let second = Runtime::builder().worker_threads(2).build_global().unwrap_err();
    assert!(second.is_already_built(), "{second}");
    let (a, b) = join(name, name);
    assert!(a.starts_with("glob-worker-"), "{a}");
    assert!(b.starts_with("glob-worker-"), "{b}");
    let s = scope(|_| name());
    assert!(s.starts_with("glob-worker-"), "{s}");
    let (x, y) = join_context(|c| c.migrated(), |c| c.migrated());
    assert!(x && y, "called from outside: both halves run elsewhere");
}
