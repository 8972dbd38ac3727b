//! Memory workloads (benches/README.md "Memory"): `timer_bytes` and `task_bytes`, in bytes.
//!
//! # Method
//!
//! Every figure is measured, not computed from `size_of` alone: build the system, reserve
//! every container the harness itself needs, read the process's **heap bytes in use**, create
//! `n` pending items (1,000,000 in the default runs; in the full runs 5,000,000 timers, the
//! size at which the timers crate's 64-byte overhead bound is judged, and 1,000,000 tasks),
//! read the heap again, and divide the difference by `n`. What the user's own object occupies is then subtracted, so
//! the figure is the system's overhead per item.
//!
//! The heap reading is glibc's `mallinfo2()` (`uordblks + hblkhd`: bytes in allocated chunks,
//! malloc's own chunk headers included, summed over all arenas, so the runtime's worker
//! threads count too). It is exact to the byte and does not depend on whether freed memory of
//! an earlier workload is reused. On other platforms the resident set size from
//! `/proc/self/statm` (4 KiB pages assumed) is used instead: coarser, and it undercounts when
//! the allocator reuses memory freed earlier in the process. [`heap_method`] says which one
//! a build uses.
//!
//! * `timer_bytes`: bytes per pending timer beside its payload, a 16-byte `Waker` (what a
//!   pending `sleep` or `timeout` keeps in the wheel). Target: at most 64.
//!   - `ours`: `n` timers with deadlines spread over 1..10 s inserted into a `TimerShard`
//!     (the per-worker shard of the runtime, owner path); heap delta / n minus
//!     `size_of::<Waker>()`. The static figure `timer_overhead_bytes::<Waker>()` (48 on
//!     64-bit) is checked against it by this module's test.
//!   - `tokio`: `n` `tokio::time::Sleep`s pinned in place in a pre-reserved `Vec` and polled
//!     once inside a 2-worker runtime (so each really registers with the time driver).
//!     tokio's timer entry lives inside the `Sleep` itself, so its figure is
//!     `size_of::<Sleep>()` plus the heap delta / n, minus the same 16-byte `Waker`.
//! * `task_bytes`: bytes per idle spawned task beside its future. Target: at most 128.
//!   - `ours`: `n` tasks spawned from outside onto a 2-worker `Runtime`; each future bumps a
//!     counter on its first poll, then pends forever (it never registers its waker anywhere).
//!     Once all `n` were polled (so each is idle and bound to the runtime's task list), heap
//!     delta / n minus `size_of_val` of the future. The `JoinHandle`s are kept in a Vec
//!     reserved before the first reading; the runtime is then dropped, which cancels them.
//!   - `tokio`: the same future and procedure on a 2-worker tokio runtime.
//!
//! Not in the table: the full cost of a runtime `call_later` (wheel entry plus the shared
//! `DelayedCall` state, beside a zero-sized closure), which [`call_later_bytes`] measures the
//! same way (printed by this module's test).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use scheduler_core::Runtime;
use scheduler_timers::{TimerConfig, TimerShard};

use crate::{RunConfig, Sample, System, Target, Unit, Workload};

/// The memory workloads of benches/README.md.
pub fn workloads() -> Vec<Workload> {
    vec![
        Workload {
            name: "timer_bytes",
            unit: Unit::Bytes,
            target: Target::AtMost(64.0),
            full_n: 5_000_000,
            default_n: 1_000_000,
            quick_n: 100_000,
            systems: vec![
                System { name: "ours", run: timer_bytes_ours },
                System { name: "tokio", run: timer_bytes_tokio },
            ],
        },
        Workload {
            name: "task_bytes",
            unit: Unit::Bytes,
            target: Target::AtMost(128.0),
            full_n: 1_000_000,
            default_n: 1_000_000,
            quick_n: 100_000,
            systems: vec![
                System { name: "ours", run: task_bytes_ours },
                System { name: "tokio", run: task_bytes_tokio },
            ],
        },
    ]
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    /// glibc's `struct mallinfo2` (all fields `size_t`).
    #[repr(C)]
    #[derive(Debug, Default, Clone, Copy)]
    pub(super) struct MallInfo2 {
        arena: usize,
        ordblks: usize,
        smblks: usize,
        hblks: usize,
        pub(super) hblkhd: usize,
        usmblks: usize,
        fsmblks: usize,
        pub(super) uordblks: usize,
        fordblks: usize,
        keepcost: usize,
    }

    extern "C" {
        fn mallinfo2() -> MallInfo2;
    }

    /// Bytes in allocated chunks (arena chunks in use plus mmapped chunks), all arenas.
    pub(super) fn heap_in_use() -> usize {
        // SAFETY: `mallinfo2` takes no arguments, only reads malloc's statistics under its
        // arena locks, and returns the struct by value; the layout above is glibc's (>= 2.33).
        let info = unsafe { mallinfo2() };
        info.uordblks + info.hblkhd
    }
}

/// How this build reads the heap: `"mallinfo2"` (glibc) or `"rss"` (`/proc/self/statm`).
pub fn heap_method() -> &'static str {
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        "mallinfo2"
    } else {
        "rss"
    }
}

/// Bytes of heap in use now (see the module doc for the method).
pub fn heap_in_use() -> usize {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        glibc::heap_in_use()
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        resident_bytes()
    }
}

/// Resident set size from `/proc/self/statm` (0 where it cannot be read).
pub fn resident_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<usize>().ok()))
        .map_or(0, |pages| pages * 4096)
}

/// Overhead per item: the heap delta over `n` items plus what each item keeps outside the
/// heap, minus the user's own part. NaN (a failed measurement) if the heap shrank.
fn per_item(before: usize, after: usize, n: u64, inline_bytes: usize, user_bytes: usize) -> f64 {
    if after < before || n == 0 {
        return f64::NAN;
    }
    (after - before) as f64 / n as f64 + inline_bytes as f64 - user_bytes as f64
}

fn sample(value: f64, elapsed: Duration) -> Sample {
    Sample { value, elapsed, latency: None }
}

/// Delay of timer `i` of `n`: spread over 1..10 s in a fixed pseudo-random order.
fn spread_delay_ns(i: u64, n: u64) -> u64 {
    let slot = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % n.max(1);
    1_000_000_000 + slot * (9_000_000_000 / n.max(1))
}

fn timer_bytes_ours(cfg: &RunConfig) -> Sample {
    let n = cfg.n;
    let shard: TimerShard<Waker> = TimerShard::new(0, TimerConfig::default());
    let mut keys = Vec::with_capacity(n as usize);
    let start = Instant::now();
    let before = heap_in_use();
    for i in 0..n {
        keys.push(shard.insert(spread_delay_ns(i, n), Waker::noop().clone()).expect("insert"));
    }
    let after = heap_in_use();
    let elapsed = start.elapsed();
    for key in keys {
        let _ = shard.cancel(key);
    }
    sample(per_item(before, after, n, 0, std::mem::size_of::<Waker>()), elapsed)
}

fn timer_bytes_tokio(cfg: &RunConfig) -> Sample {
    let n = cfg.n;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.workers)
        .enable_time()
        .build()
        .expect("tokio runtime");
    let (before, after, elapsed) = rt.block_on(async move {
        let mut sleeps: Vec<tokio::time::Sleep> = Vec::with_capacity(n as usize);
        let mut cx = Context::from_waker(Waker::noop());
        let now = tokio::time::Instant::now();
        let start = Instant::now();
        let before = heap_in_use();
        for i in 0..n {
            sleeps
                .push(tokio::time::sleep_until(now + Duration::from_nanos(spread_delay_ns(i, n))));
            let last = sleeps.last_mut().expect("just pushed");
            // SAFETY: the Vec was reserved for all `n` sleeps, so it never reallocates while
            // they live and no `Sleep` moves after being pinned here; `clear` drops them in
            // place.
            let pinned = unsafe { Pin::new_unchecked(last) };
            let _ = pinned.poll(&mut cx);
        }
        let after = heap_in_use();
        let elapsed = start.elapsed();
        sleeps.clear();
        (before, after, elapsed)
    });
    let inline = std::mem::size_of::<tokio::time::Sleep>();
    sample(per_item(before, after, n, inline, std::mem::size_of::<Waker>()), elapsed)
}

/// The idle task of `task_bytes`: counts its first poll, then pends forever without keeping
/// its waker.
async fn idle_task(polled: Arc<AtomicUsize>) {
    polled.fetch_add(1, Ordering::Relaxed);
    std::future::pending::<()>().await;
}

/// Waits (yielding the CPU) until `n` idle tasks have been polled once.
fn wait_polled(polled: &AtomicUsize, n: u64) {
    while (polled.load(Ordering::Relaxed) as u64) < n {
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn task_bytes_ours(cfg: &RunConfig) -> Sample {
    let n = cfg.n;
    let rt = Runtime::builder().worker_threads(cfg.workers).build().expect("runtime");
    let polled = Arc::new(AtomicUsize::new(0));
    let future_bytes = std::mem::size_of_val(&idle_task(polled.clone()));
    let mut handles = Vec::with_capacity(n as usize);
    let start = Instant::now();
    let before = heap_in_use();
    for _ in 0..n {
        handles.push(rt.spawn(idle_task(polled.clone())));
    }
    wait_polled(&polled, n);
    let after = heap_in_use();
    let elapsed = start.elapsed();
    drop(rt); // cancels and frees every idle task
    drop(handles);
    sample(per_item(before, after, n, 0, future_bytes), elapsed)
}

fn task_bytes_tokio(cfg: &RunConfig) -> Sample {
    let n = cfg.n;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.workers)
        .build()
        .expect("tokio runtime");
    let polled = Arc::new(AtomicUsize::new(0));
    let future_bytes = std::mem::size_of_val(&idle_task(polled.clone()));
    let mut handles = Vec::with_capacity(n as usize);
    let start = Instant::now();
    let before = heap_in_use();
    for _ in 0..n {
        handles.push(rt.spawn(idle_task(polled.clone())));
    }
    wait_polled(&polled, n);
    let after = heap_in_use();
    let elapsed = start.elapsed();
    drop(rt);
    drop(handles);
    sample(per_item(before, after, n, 0, future_bytes), elapsed)
}

/// Bytes per pending runtime `call_later` with a zero-sized closure: the wheel entry plus the
/// call's shared state (what the `DelayedCall` handle points to), measured as above on a
/// 2-worker runtime, from a non-worker thread (the inbox path).
pub fn call_later_bytes(n: u64) -> f64 {
    let rt = Runtime::builder().worker_threads(2).build().expect("runtime");
    let mut calls = Vec::with_capacity(n as usize);
    let before = heap_in_use();
    for i in 0..n {
        calls.push(rt.call_later(Duration::from_nanos(spread_delay_ns(i, n)), || {}));
    }
    let after = heap_in_use();
    for call in &calls {
        let _ = call.cancel();
    }
    drop(rt);
    per_item(before, after, n, 0, 0)
}
