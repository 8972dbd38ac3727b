//! A periodic job: Twisted's `task.LoopingCall` on the multi-threaded runtime.
//!
//! `cargo run -p scheduler-core --example periodic_job`
//!
//! What it shows:
//! - `LoopingCall::new(handle, job)` runs `job` every 10 ms on the runtime's timers.
//! - The job returns a `Deferred<()>`: the loop waits for it before scheduling the next run,
//!   so two runs never overlap. Here each run hands a "fetch" to the blocking pool
//!   (`defer_to_thread`) and chains the processing of its result with `add_callback`.
//! - After five runs the job calls `stop()` on its own loop; the Deferred returned by
//!   `start` then fires with the loop, and a callback chained on it prints a summary.
//! - `block_on` waits for that Deferred (a Deferred is a `Future`).

use scheduler_core::{LoopingCall, Runtime};
use scheduler_deferred::Deferred;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RUNS: u64 = 5;

fn main() {
    let rt = Runtime::builder().worker_threads(2).build().expect("runtime");
    let handle = rt.handle().clone();
    let started = Instant::now();
    let runs = Arc::new(AtomicU64::new(0));
    let total = Arc::new(AtomicU64::new(0));

    // The job needs its own loop to stop it: hand the loop in once it exists (and take it
    // out when stopping, so the loop and its job do not keep each other alive).
    let this_loop: Arc<Mutex<Option<LoopingCall>>> = Arc::new(Mutex::new(None));
    let job = {
        let (handle, runs, total, this_loop) =
            (handle.clone(), runs.clone(), total.clone(), this_loop.clone());
        move || -> Deferred<()> {
            let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
            println!("[{:>4} ms] run {run}: fetching", started.elapsed().as_millis());
            // Blocking work goes to the blocking pool; its result comes back as a Deferred.
            let fetched = handle.defer_to_thread(move || {
                std::thread::sleep(Duration::from_millis(2)); // stands for a slow read
                run * 10
            });
            let (total, this_loop) = (total.clone(), this_loop.clone());
            fetched.add_callback(move |value| {
                total.fetch_add(value, Ordering::SeqCst);
                println!("[{:>4} ms] run {run}: processed {value}", started.elapsed().as_millis());
                if run == RUNS {
                    if let Some(lc) = this_loop.lock().unwrap().take() {
                        let _ = lc.stop(); // the start Deferred fires once this run ends
                    }
                }
            })
        }
    };

    let lc = LoopingCall::new(handle.clone(), job);
    *this_loop.lock().unwrap() = Some(lc.clone());
    let done = lc
        .start(Duration::from_millis(10), true)
        .expect("a new loop is not running")
        .add_callback(move |stopped: LoopingCall| {
            assert!(!stopped.running());
            format!(
                "stopped after {} runs, total {}",
                runs.load(Ordering::SeqCst),
                total.load(Ordering::SeqCst)
            )
        });

    match rt.block_on(done) {
        Ok(summary) => println!("[{:>4} ms] {summary}", started.elapsed().as_millis()),
        Err(failure) => {
            eprintln!("the loop failed: {failure:?}");
            std::process::exit(1);
        }
    }
}
