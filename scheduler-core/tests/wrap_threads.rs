//! `Builder::wrap_threads` runs every runtime thread inside a caller's context for its whole
//! life: with tokio's `Handle::enter`, tokio's timers, `tokio::spawn` and TCP streams work
//! inside our tasks, each thread's guard is dropped when the thread ends, and a wrapper that
//! does not run the body fails `build` (workers) or is contained (blocking threads).

use scheduler_core::{Builder, Runtime};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Our runtime with every thread inside tokio's context; counts the threads whose body
/// returned (and whose tokio guard was therefore dropped).
fn inside_tokio(tokio: &tokio::runtime::Runtime, ended: Arc<AtomicUsize>) -> Runtime {
    let th = tokio.handle().clone();
    Builder::new()
        .worker_threads(2)
        .wrap_threads(move |run| {
            let guard = th.enter();
            run();
            drop(guard);
            ended.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap()
}

#[test]
fn tokio_timers_spawn_and_tcp_work_inside_our_tasks() {
    let tokio =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let ended = Arc::new(AtomicUsize::new(0));
    let rt = inside_tokio(&tokio, ended.clone());
    let jh = rt.spawn(async {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let spawned = tokio::spawn(async { 21 }).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 5];
            sock.read_exact(&mut buf).await.unwrap();
            sock.write_all(&buf).await.unwrap();
        });
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        client.write_all(b"hello").await.unwrap();
        let mut echo = [0u8; 5];
        client.read_exact(&mut echo).await.unwrap();
        server.await.unwrap();
        assert_eq!(&echo, b"hello");
        spawned * 2
    });
    assert_eq!(rt.block_on(jh).unwrap(), 42);
    let blocking = rt.spawn_blocking(|| tokio::runtime::Handle::current().block_on(async { 7 }));
    assert_eq!(rt.block_on(blocking).unwrap(), 7);
    let threads = 2 + rt.metrics().blocking_threads;
    drop(rt);
    assert_eq!(ended.load(Ordering::SeqCst), threads, "every thread's guard was dropped");
}

#[test]
fn a_wrapper_that_never_runs_the_body_fails_build() {
    let err = Builder::new().worker_threads(2).wrap_threads(|_run| {}).build().unwrap_err();
    assert!(err.to_string().contains("wrap_threads"), "{err}");
    let err = Builder::new()
        .worker_threads(1)
        .wrap_threads(|_run| panic!("no context today"))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("no context today"), "{err}");
}

#[test]
fn a_blocking_thread_whose_wrapper_skips_the_body_still_runs_its_task() {
    let rt = Builder::new()
        .worker_threads(1)
        .wrap_threads(|run| {
            if !std::thread::current().name().unwrap_or("").contains("blocking") {
                run();
            }
        })
        .build()
        .unwrap();
    assert_eq!(rt.block_on(rt.spawn_blocking(|| 3)).unwrap(), 3);
    assert!(rt.metrics().panics >= 1);
}

/// Dropping the runtime waits for every thread's wrapper to return, blocking threads
/// included: a wrapper that is slow to finish after its body (here 50 ms) still ends before
/// `drop` returns, so a guard it holds (tokio's `EnterGuard`) never outlives the runtime.
#[test]
fn drop_waits_for_blocking_threads_wrappers_to_return() {
    let ended = Arc::new(AtomicUsize::new(0));
    let seen = ended.clone();
    let rt = Builder::new()
        .worker_threads(1)
        .wrap_threads(move |run| {
            run();
            std::thread::sleep(Duration::from_millis(50));
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let jobs: Vec<_> = (0..3).map(|i| rt.spawn_blocking(move || i)).collect();
    for job in jobs {
        rt.block_on(job).unwrap();
    }
    let threads = 1 + rt.metrics().blocking_threads;
    drop(rt);
    assert_eq!(ended.load(Ordering::SeqCst), threads, "drop returned before a wrapper did");
}
