//! Shutdown is a wake-up too: every `Sleep` and `Timeout` waiting on a runtime completes when
//! the runtime goes away, from any thread and from a foreign executor (tokio here), and one
//! created after shutdown completes at once. A `Timeout` ended by shutdown says so
//! (`Elapsed::is_shutdown`); a `defer_later` Deferred whose call never ran fails with
//! `Cancelled`.

use scheduler_core::time::defer_later;
use scheduler_core::Runtime;
use std::sync::mpsc;
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

fn runtime() -> Runtime {
    Runtime::builder().worker_threads(1).build().unwrap()
}

fn recv<T>(rx: &mpsc::Receiver<T>, what: &str) -> T {
    rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("{what}: never woken"))
}

#[test]
fn a_thread_blocked_on_a_sleep_returns_when_the_runtime_drops() {
    let rt = runtime();
    let h = rt.handle().clone();
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let sleep = h.sleep(HOUR);
        let _ = ready_tx.send(());
        h.block_on(sleep);
        let _ = tx.send(h.is_shutdown());
    });
    ready_rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(20)); // let it register its timer (either way works)
    drop(rt);
    assert!(recv(&rx, "block_on(sleep)"), "it returned because of the shutdown");
}

#[test]
fn tokio_tasks_awaiting_sleep_and_timeout_resolve_at_shutdown() {
    let rt = runtime();
    let h = rt.handle().clone();
    let tokio_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
    let (h1, h2) = (h.clone(), h.clone());
    let sleeper = tokio_rt.spawn(async move { h1.sleep(HOUR).await });
    let timed = tokio_rt.spawn(async move { h2.timeout(HOUR, std::future::pending::<()>()).await });
    std::thread::sleep(Duration::from_millis(20));
    drop(rt);
    let (tx, rx) = mpsc::channel();
    tokio_rt.spawn(async move {
        sleeper.await.unwrap();
        let _ = tx.send(timed.await.unwrap());
    });
    let err = recv(&rx, "tokio tasks").expect_err("the timeout cannot have succeeded");
    assert!(err.is_shutdown(), "{err}");
    assert!(err.to_string().contains("shut down"), "{err}");
}

#[test]
fn sleep_and_timeout_made_after_shutdown_complete_at_once() {
    let rt = runtime();
    let h = rt.handle().clone();
    drop(rt);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        h.block_on(h.sleep(HOUR));
        let t = h.block_on(h.timeout(HOUR, std::future::pending::<()>()));
        let _ = tx.send(t);
    });
    assert!(recv(&rx, "after shutdown").unwrap_err().is_shutdown());
}

#[test]
fn a_timeout_that_really_elapses_is_not_a_shutdown() {
    let rt = runtime();
    let out =
        rt.block_on(rt.handle().timeout(Duration::from_millis(1), std::future::pending::<()>()));
    let err = out.unwrap_err();
    assert!(!err.is_shutdown());
    assert_eq!(err.after(), Duration::from_millis(1));
}

#[test]
fn a_defer_later_whose_call_never_ran_fails_cancelled() {
    let rt = runtime();
    let d = defer_later(rt.handle(), HOUR, || Ok::<_, scheduler_deferred::Failure>(1));
    drop(rt);
    let failure = d.take_result().expect("resolved by the shutdown").unwrap_err();
    assert!(failure.is::<scheduler_deferred::Cancelled>(), "{failure:?}");
}
