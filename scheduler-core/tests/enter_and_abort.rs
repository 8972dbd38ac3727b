//! `Handle::enter` makes a runtime current on a foreign thread (a tokio worker here) for as
//! long as its guard lives, guards nest, and `AbortHandle` cancels a task from any thread while
//! another awaits it.

use scheduler_core::{time, AbortHandle, Handle, Runtime};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn runtime() -> Runtime {
    Runtime::builder().worker_threads(1).build().unwrap()
}

#[test]
fn enter_scopes_the_current_runtime_and_nests() {
    let (a, b) = (runtime(), runtime());
    assert!(Handle::try_current().is_err());
    {
        let _ga = a.handle().enter();
        let on_a = Handle::current().spawn_fn(|| std::thread::current().name().map(String::from));
        assert!(a.block_on(on_a).unwrap().unwrap().contains("worker"));
        {
            let _gb = b.handle().enter();
            assert_eq!(Handle::current().worker_threads(), 1);
            let jh = Handle::current().spawn(async { 2 });
            assert_eq!(b.block_on(jh).unwrap(), 2);
        }
        // Back to `a`: a task spawned from context lands on `a` (it completes after `b` shuts
        // down).
        drop(b);
        let jh = Handle::current().spawn(async { 1 });
        assert_eq!(a.block_on(jh).unwrap(), 1);
    }
    assert!(Handle::try_current().is_err());
}

#[test]
fn guards_dropped_out_of_order_panic_without_dangling() {
    let (a, b) = (runtime(), runtime());
    let outer = a.handle().enter();
    let inner = b.handle().enter();
    let out_of_order = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(outer)));
    assert!(out_of_order.is_err(), "dropping the outer guard first is refused");
    drop(inner);
    // The context the inner guard restored is the (leaked, still valid) outer one.
    assert_eq!(Handle::current().worker_threads(), 1);
}

#[test]
fn enter_on_a_tokio_thread_gives_sleep_spawn_and_current() {
    let rt = runtime();
    let h = rt.handle().clone();
    let tokio_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
    let out = tokio_rt.block_on(async move {
        let (sleep, jh) = {
            let _guard = h.enter();
            (time::sleep(Duration::from_millis(2)), Handle::current().spawn(async { 40 }))
        };
        sleep.await;
        jh.await.unwrap() + 2
    });
    assert_eq!(out, 42);
}

#[test]
fn abort_handle_cancels_from_another_thread_while_a_third_awaits() {
    let rt = runtime();
    let drops = Arc::new(AtomicUsize::new(0));
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let guard = Counted(drops.clone());
    let jh = rt.spawn(async move {
        let _g = guard;
        std::future::pending::<()>().await
    });
    let abort: AbortHandle = jh.abort_handle();
    let second = abort.clone();
    let h = rt.handle().clone();
    let waiter = std::thread::spawn(move || h.block_on(jh));
    std::thread::spawn(move || abort.abort()).join().unwrap();
    let out = waiter.join().unwrap();
    assert!(out.unwrap_err().is_cancelled());
    assert!(second.is_finished());
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the future is dropped once");
    second.abort(); // aborting a finished task is a no-op
}

#[test]
fn abort_handle_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<AbortHandle>();
}
