//! Builder settings a user may pass that used to wedge the runtime: each is either accepted
//! and works, or rejected by `build()` with an `io::Error`; `Runtime::drop` returns in every
//! case. Each scenario runs on its own thread with a generous bound, so a regression fails
//! with a message instead of hanging the suite.

use scheduler_core::{Builder, Runtime};
use std::io::ErrorKind;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Runs `f` on a new thread and returns its result, failing if it takes more than 30 s.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("{what}: hung"))
}

#[test]
fn blocking_keep_alive_of_duration_max_saturates() {
    within("keep-alive Duration::MAX", || {
        let rt = Builder::new().worker_threads(1).blocking_keep_alive(Duration::MAX).build();
        let rt = rt.expect("Duration::MAX is a valid keep-alive (it saturates)");
        assert_eq!(rt.block_on(rt.spawn_blocking(|| 7)).unwrap(), 7);
        // The idle blocking thread now waits "for ever"; shutdown must still wake it.
        drop(rt);
    });
}

#[test]
fn a_panicking_worker_start_hook_fails_build() {
    let err = within("panicking on_thread_start", || {
        Builder::new()
            .worker_threads(2)
            .on_thread_start(|| panic!("hook refused"))
            .build()
            .map(drop)
            .expect_err("build must report the hook's panic")
    });
    assert_eq!(err.kind(), ErrorKind::Other);
    let msg = err.to_string();
    assert!(msg.contains("on_thread_start") && msg.contains("hook refused"), "{msg}");
}

#[test]
fn a_worker_start_hook_panicking_on_one_worker_only_fails_build() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let err = within("one panicking hook", move || {
        Builder::new()
            .worker_threads(3)
            .on_thread_start(move || {
                if c.fetch_add(1, Ordering::SeqCst) == 1 {
                    panic!("second worker refused");
                }
            })
            .build()
            .map(drop)
            .expect_err("one failing worker fails the build")
    });
    assert!(err.to_string().contains("second worker refused"), "{err}");
}

#[test]
fn a_start_hook_panicking_on_blocking_threads_is_contained() {
    within("blocking-thread hook", || {
        let rt = Builder::new()
            .worker_threads(1)
            .on_thread_start(|| {
                let name = std::thread::current().name().unwrap_or("").to_owned();
                if name.contains("blocking") {
                    panic!("no hook on blocking threads");
                }
            })
            .build()
            .expect("the workers' hook succeeds");
        // The pool thread's hook panicked: the panic is contained and the thread still runs
        // the task (a JoinHandle that never resolved was the bug).
        assert_eq!(rt.block_on(rt.spawn_blocking(|| 5)).unwrap(), 5);
        assert!(rt.metrics().panics >= 1, "the hook panic is counted");
        drop(rt);
    });
}

#[test]
fn a_panicking_stop_hook_does_not_hang_drop() {
    within("panicking on_thread_stop", || {
        let rt: Runtime = Builder::new()
            .worker_threads(2)
            .on_thread_stop(|| panic!("stop hook"))
            .build()
            .unwrap();
        assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
        assert_eq!(rt.block_on(rt.spawn_blocking(|| 2)).unwrap(), 2);
        drop(rt);
    });
}

#[test]
fn a_thread_name_with_nul_is_an_error() {
    let err = within("NUL thread name", || {
        Builder::new().worker_threads(1).thread_name("bad\0name").build().map(drop).unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("thread_name"), "{err}");
}

#[test]
fn an_impossible_stack_size_is_an_error() {
    let err = within("huge stack", || {
        Builder::new().worker_threads(1).stack_size(usize::MAX / 2).build().map(drop).unwrap_err()
    });
    let _ = err; // the OS refuses the thread: an error value, not a panic or a hang
}
