//! Offloading CPU work from tokio tasks: 10,000 jobs spawned from tokio tasks onto our
//! runtime and awaited there, with exact sums; a timeout on the tokio side plus an
//! `AbortHandle` cancels ours.

use scheduler_core::{Priority, Runtime};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn cpu_job(n: u64) -> u64 {
    (0..n % 97).fold(n, |acc, i| acc.wrapping_mul(31).wrapping_add(i)) % 1_000_003
}

#[test]
fn ten_thousand_jobs_offloaded_from_tokio_tasks_sum_exactly() {
    let compute = Runtime::builder().worker_threads(2).build().unwrap();
    let tokio_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    let handle = compute.handle().clone();
    let total = tokio_rt.block_on(async move {
        let mut requests = Vec::new();
        for r in 0..100u64 {
            let h = handle.clone();
            requests.push(tokio::spawn(async move {
                let mut sum = 0u64;
                for j in 0..100u64 {
                    let n = r * 100 + j;
                    let prio = if n % 10 == 0 { Priority::High } else { Priority::Normal };
                    sum += h.spawn_fn_with(prio, move || cpu_job(n)).await.unwrap();
                }
                sum
            }));
        }
        let mut total = 0u64;
        for r in requests {
            total += r.await.unwrap();
        }
        total
    });
    let expected: u64 = (0..10_000u64).map(cpu_job).sum();
    assert_eq!(total, expected);
}

#[test]
fn a_tokio_timeout_with_an_abort_handle_cancels_our_task() {
    let compute = Runtime::builder().worker_threads(1).build().unwrap();
    let tokio_rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let polls = Arc::new(AtomicU64::new(0));
    let p = polls.clone();
    let h = compute.handle().clone();
    let jh = compute.spawn(async move {
        loop {
            p.fetch_add(1, Ordering::SeqCst);
            h.sleep(Duration::from_millis(1)).await;
        }
    });
    let abort = jh.abort_handle();
    let timed_out = tokio_rt.block_on(async {
        match tokio::time::timeout(Duration::from_millis(10), jh).await {
            Ok(_) => false,
            Err(_) => {
                abort.abort(); // dropping the JoinHandle alone would only detach the task
                true
            }
        }
    });
    assert!(timed_out);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !abort.is_finished() && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert!(abort.is_finished(), "the aborted task ended");
    let after = polls.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(polls.load(Ordering::SeqCst), after, "no poll after the abort");
}
