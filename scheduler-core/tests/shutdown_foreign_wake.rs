//! A waker fired on a thread outside the runtime while the runtime is dropped: the runtime's
//! shared state must outlive every touch of that waker (and of a completion it triggers).
//!
//! The window: the waker has made its idle task `NOTIFIED` and is about to push it to the
//! global queue when the runtime shuts down. Shutdown's sweep leaves the notified task for
//! whoever queues it, and the waker's own push then finds the shutdown flag, drains the queue
//! and cancels the task, the last one listed, which releases the runtime's keep-alive. Before
//! the fix that freed the shared state while the drain was still walking the queue (valgrind:
//! `Invalid read` in `Injector::steal`, inside the block `Builder::build` allocated).
//!
//! To open the window on demand, this binary's global allocator sleeps once, inside the first
//! allocation the waking thread makes after it asked for it (the injector's next block, when
//! the push crosses a block boundary). The test moves the boundary by spawning 0..=63 tasks
//! first, so one of the rounds sleeps inside the push. The outcome is checked twice: the task's
//! `JoinHandle` resolves as cancelled and its future is dropped once, here; and `.ci/run` runs
//! this binary under valgrind, which reports the use-after-free as an error.

use scheduler_core::Runtime;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

struct SleepOnceAlloc;

thread_local! {
    /// Set by the waking thread: its next allocation sleeps.
    static SLEEP_NEXT: Cell<bool> = const { Cell::new(false) };
}

/// The waking thread is asleep inside an allocation.
static SLEEPING: AtomicBool = AtomicBool::new(false);

// SAFETY: every call forwards to `System` with the same arguments; the sleep touches only a
// const-initialised thread-local `Cell` (no allocation, no destructor) and an atomic.
unsafe impl GlobalAlloc for SleepOnceAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if SLEEP_NEXT.try_with(|s| s.replace(false)).unwrap_or(false) {
            SLEEPING.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout (above).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: SleepOnceAlloc = SleepOnceAlloc;

/// Stores its waker on every poll and never completes; counts its drop.
struct ParkForever {
    slot: Arc<Mutex<Option<Waker>>>,
    drops: Arc<AtomicUsize>,
}

impl Future for ParkForever {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for ParkForever {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// One round: `prefill` tasks pushed through the global queue first, then the foreign wake
/// racing the drop. Returns true when the waking thread slept inside its wake (the window was
/// open while the runtime was dropped).
fn round(prefill: usize) -> bool {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let slot = Arc::new(Mutex::new(None));
    let drops = Arc::new(AtomicUsize::new(0));
    let jh = rt.spawn(ParkForever { slot: slot.clone(), drops: drops.clone() });
    // The one worker polls tasks in order: once a later task has run, the first poll has
    // returned and the task is idle and listed.
    rt.block_on(rt.spawn(async {})).unwrap();
    for _ in 0..prefill {
        rt.block_on(rt.spawn(async {})).unwrap();
    }
    let waker = slot.lock().unwrap().take().expect("polled once");
    SLEEPING.store(false, Ordering::SeqCst);
    let waking = std::thread::spawn(move || {
        SLEEP_NEXT.with(|s| s.set(true));
        waker.wake_by_ref();
        SLEEP_NEXT.with(|s| s.set(false));
        drop(waker);
    });
    while !SLEEPING.load(Ordering::SeqCst) && !waking.is_finished() {
        std::thread::yield_now();
    }
    let slept = SLEEPING.load(Ordering::SeqCst);
    drop(rt); // while the waking thread sleeps between its NOTIFIED transition and its push
    waking.join().unwrap();
    let out = futures_lite_block_on(jh);
    assert!(out.unwrap_err().is_cancelled(), "a task that never completed resolves as cancelled");
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the future is dropped exactly once");
    slept
}

/// Polls a `JoinHandle` of a dropped runtime to its (already stored) outcome.
fn futures_lite_block_on<F: Future + Unpin>(mut f: F) -> F::Output {
    let waker = Waker::noop();
    for _ in 0..1_000 {
        if let Poll::Ready(v) = Pin::new(&mut f).poll(&mut Context::from_waker(waker)) {
            return v;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("the JoinHandle of a dropped runtime never resolved");
}

#[test]
fn foreign_wake_racing_runtime_drop_keeps_shared_alive() {
    let mut windows = 0;
    for prefill in 0..=63 {
        if round(prefill) {
            windows += 1;
        }
    }
    assert!(windows >= 1, "no round slept inside the foreign wake: the window was never opened");
}
