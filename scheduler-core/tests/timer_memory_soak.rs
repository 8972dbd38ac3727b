//! Timer memory under steady traffic on the runtime stays flat: the allocator's live bytes
//! after a warm-up and after many more fired timers differ by less than a small constant. Two
//! shapes from the issue: a thread outside the runtime keeping 1,000 short `call_later`s in
//! flight (its timers go through the shards' inboxes), and 200 tasks on the workers sleeping
//! 0-100 us in a loop. Before the slot-reuse fix the first grew by 6.3 MB over 300,000 timers
//! here; the second is a guard (the issue measured ~3.3 MiB per million sleeps in release;
//! this debug-build run of 200,000 did not show the growth even before the fix).

use scheduler_core::Runtime;
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to `System` with the caller's arguments; only adds a counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded; `ptr` came from `System.alloc` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The two shapes share the binary, so they run one after the other.
static SERIAL: Mutex<()> = Mutex::new(());

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Keeps `in_flight` short calls pending from this (non-worker) thread until `total` fired.
fn external_calls(rt: &Runtime, fired: &Arc<AtomicU64>, total: u64, in_flight: usize) {
    let mut window = VecDeque::with_capacity(in_flight);
    let mut started = 0u64;
    while started < total {
        while window.len() < in_flight && started < total {
            let f = fired.clone();
            let delay = Duration::from_micros(started % 50);
            window.push_back(rt.handle().call_later(delay, move || {
                f.fetch_add(1, Ordering::Relaxed);
            }));
            started += 1;
        }
        // Let the oldest ones fire, then drop their handles.
        while window.front().is_some_and(|c| c.called()) {
            window.pop_front();
        }
        std::thread::yield_now();
    }
    while fired.load(Ordering::Relaxed) < started {
        std::thread::yield_now();
    }
}

#[test]
fn external_call_later_traffic_keeps_memory_flat() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let fired = Arc::new(AtomicU64::new(0));
    external_calls(&rt, &fired, 50_000, 1_000); // warm-up: slabs, pools, queues at size
    let before = live();
    external_calls(&rt, &fired, 300_000, 1_000);
    let grown = live() - before;
    assert!(grown < 256 * 1024, "live bytes grew by {grown} over 300,000 external timers");
}

#[test]
fn worker_sleep_traffic_keeps_memory_flat() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let run = |sleeps_per_task: u64| {
        let tasks: Vec<_> = (0..200u64)
            .map(|t| {
                let h = rt.handle().clone();
                rt.spawn(async move {
                    for i in 0..sleeps_per_task {
                        h.sleep(Duration::from_micros((t * 7 + i * 13) % 100)).await;
                    }
                })
            })
            .collect();
        for t in tasks {
            rt.block_on(t).unwrap();
        }
    };
    run(100); // warm-up: 20,000 sleeps
    let before = live();
    run(1_000); // 200,000 sleeps
    let grown = live() - before;
    assert!(grown < 256 * 1024, "live bytes grew by {grown} over 200,000 sleeps");
}
