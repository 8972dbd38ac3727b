//! Stress: seeded random mixes on a 2-worker runtime; every handle resolves, nothing is lost or
//! run twice, nothing leaks.
//!
//! - `random_mix_...`: nested spawns across classes, yields, panics, aborts.
//! - `mixed_tasks_timers_deferreds_...`: the full mix (module `mix`): futures and closures
//!   that spawn children, panic, get aborted racing their completion, yield, await
//!   JoinHandles, fire and chain Deferreds across threads, schedule `call_later` timers that
//!   other tasks and another OS thread cancel, reset or delay, run `spawn_blocking` work
//!   (some of which panics), sleep and time out. A ledger with one slot per task and per timer
//!   makes the end checks exact: every task not aborted ran exactly once, an aborted one at
//!   most once, a completed task never reports cancelled; every timer not cancelled fired
//!   exactly once and no cancelled one fired; panics counted by the runtime equal panics
//!   injected; 0 live tasks in the metrics and 0 live futures / timer closures (drop guards)
//!   after shutdown. 200,000 top-level items by default (~370,000 tasks, ~100,000 timers, a
//!   few seconds in debug); `mixed_millions` (ignored) runs 2,000,000.
//! - `looping_calls_and_defer_later_...`: 3,000 LoopingCalls (intervals 0..300 us, some
//!   waiting on a Deferred per tick, some failing on purpose) stopped from their own function,
//!   another task or another OS thread while they tick; 20,000 `defer_later` Deferreds
//!   cancelled racing their timers. Every `start` Deferred fires exactly once, no tick runs
//!   after it, failures arrive as injected; a `defer_later` function runs exactly once unless
//!   its Deferred reports `Cancelled`, and then never.
//! - `manual_clock_runtime_...`: a `ManualClock` drives the 2-worker runtime; 20,000 calls
//!   scheduled, cancelled and reset by 200 concurrent tasks, then the clock moves in random
//!   steps: after each step exactly the due calls have run, once, none early.
//! - `shutdown_mid_flight_...`: the runtime is dropped while tasks run, wait on Deferreds and
//!   hour-long sleeps, spin in yield loops, while timers are pending and another thread keeps
//!   spawning: every JoinHandle resolves, nothing leaks.
//!
//! The seed fixes the shape of each mix (which task does what); thread interleavings still
//! vary from run to run, which is the point. No assertion depends on timing.

mod common;
use common::LiveCounter;
use scheduler_core::{yield_now, Handle, Priority, Runtime};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// xorshift64: deterministic task shapes.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

type BoxTask = std::pin::Pin<Box<dyn std::future::Future<Output = u64> + Send>>;

fn random_task(seed: u64, depth: u32, ran: Arc<AtomicUsize>, guard: common::Guard) -> BoxTask {
    Box::pin(random_body(seed, depth, ran, guard))
}

async fn random_body(seed: u64, depth: u32, ran: Arc<AtomicUsize>, guard: common::Guard) -> u64 {
    let _guard = guard;
    ran.fetch_add(1, Ordering::Relaxed);
    let mut x = seed | 1;
    let mut sum = 0;
    for _ in 0..(next(&mut x) % 4) {
        yield_now().await;
    }
    if next(&mut x) % 97 == 0 {
        panic!("random panic");
    }
    if depth < 3 {
        let h = Handle::current();
        let kids: Vec<_> = (0..(next(&mut x) % 3))
            .map(|i| {
                let prio = Priority::ALL[(next(&mut x) % 3) as usize];
                let fut = random_task(
                    seed.wrapping_mul(31).wrapping_add(i),
                    depth + 1,
                    ran.clone(),
                    common::LiveCounter::detached_guard(),
                );
                h.spawn_with(prio, fut)
            })
            .collect();
        for (i, k) in kids.into_iter().enumerate() {
            if (seed + i as u64) % 5 == 0 {
                k.abort();
            }
            match k.await {
                Ok(v) => sum += v,
                Err(e) => assert!(e.is_cancelled() || e.is_panic()),
            }
        }
    }
    sum + 1
}

#[test]
fn random_mix_resolves_everything_and_leaks_nothing() {
    quiet_panics(); // the random panics are expected: keep stderr quiet
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let live = LiveCounter::default();
    let ran = Arc::new(AtomicUsize::new(0));
    let mut seed = 0x5EED_u64;
    let handles: Vec<_> = (0..100_000)
        .map(|_| {
            let s = next(&mut seed);
            rt.spawn(random_task(s, 0, ran.clone(), live.guard()))
        })
        .collect();
    let mut ok = 0;
    for h in handles {
        match rt.block_on(h) {
            Ok(_) => ok += 1,
            Err(e) => assert!(e.is_panic()),
        }
    }
    assert!(ok > 0);
    assert!(ran.load(Ordering::Relaxed) >= 100_000);
    let h = rt.handle().clone();
    drop(rt);
    assert_eq!(live.live(), 0);
    assert_eq!(common::LiveCounter::detached_live(), 0);
    assert_eq!(h.metrics().live_tasks, 0);
}

// ---------------------------------------------------------------------------------------------
// The full mix: tasks and closures that spawn children, panic, get aborted (racing their
// completion), yield, await JoinHandles, fire and chain Deferreds across threads, schedule
// `call_later` timers that other tasks and another OS thread cancel or reset, run
// `spawn_blocking` work, sleep and time out. Every task and timer has a slot in a ledger; the
// checks at the end are exact, per slot.
// ---------------------------------------------------------------------------------------------

mod mix {
    use super::common::{Guard, LiveCounter};
    use scheduler_core::{time::DelayedCallError, yield_now, DelayedCall, Handle, Priority};
    use scheduler_deferred::Deferred;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
    use std::sync::{mpsc, Arc, Mutex};
    use std::time::Duration;

    /// A tiny xorshift64* generator: the seed fixes the shape of the mix.
    #[derive(Clone, Debug)]
    pub(crate) struct Rng(u64);

    impl Rng {
        pub(crate) fn new(seed: u64) -> Rng {
            Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        /// Uniform-ish in `0..n`.
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        pub(crate) fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }
        pub(crate) fn priority(&mut self) -> Priority {
            Priority::ALL[self.below(3) as usize]
        }
        pub(crate) fn micros(&mut self, max: u64) -> Duration {
            Duration::from_micros(self.below(max + 1))
        }
    }

    /// How a JoinHandle resolved, as recorded by whoever awaited it.
    pub(crate) const NOT_AWAITED: u8 = 0;
    pub(crate) const OUT_OK: u8 = 1;
    pub(crate) const OUT_CANCELLED: u8 = 2;
    pub(crate) const OUT_PANIC: u8 = 3;

    const STARTED: u32 = 1;
    const COMPLETED: u32 = 1 << 8;
    const PANICKED: u32 = 1 << 16;

    /// One slot per task and per timer; every event is a counter, so "exactly once" is
    /// checked as "the counter is 1", never assumed.
    #[derive(Debug)]
    pub(crate) struct Ledger {
        task_events: Vec<AtomicU32>,
        task_aborted: Vec<AtomicBool>,
        task_outcome: Vec<AtomicU8>,
        next_task: AtomicUsize,
        timer_fired: Vec<AtomicU32>,
        timer_cancelled: Vec<AtomicBool>,
        next_timer: AtomicUsize,
        pub(crate) panics_injected: AtomicU64,
        /// Wrong values seen inside tasks (a Deferred chain that computed the wrong thing...).
        pub(crate) mismatches: AtomicU64,
        pub(crate) timers_fired: AtomicU64,
        pub(crate) timers_cancelled: AtomicU64,
        /// Timers scheduled after shutdown (born cancelled).
        pub(crate) timers_refused: AtomicU64,
        pub(crate) blocking_ran: AtomicU64,
    }

    fn slots<T>(n: usize, f: impl Fn() -> T) -> Vec<T> {
        (0..n).map(|_| f()).collect()
    }

    impl Ledger {
        pub(crate) fn new(max_tasks: usize, max_timers: usize) -> Ledger {
            Ledger {
                task_events: slots(max_tasks, || AtomicU32::new(0)),
                task_aborted: slots(max_tasks, || AtomicBool::new(false)),
                task_outcome: slots(max_tasks, || AtomicU8::new(NOT_AWAITED)),
                next_task: AtomicUsize::new(0),
                timer_fired: slots(max_timers, || AtomicU32::new(0)),
                timer_cancelled: slots(max_timers, || AtomicBool::new(false)),
                next_timer: AtomicUsize::new(0),
                panics_injected: AtomicU64::new(0),
                mismatches: AtomicU64::new(0),
                timers_fired: AtomicU64::new(0),
                timers_cancelled: AtomicU64::new(0),
                timers_refused: AtomicU64::new(0),
                blocking_ran: AtomicU64::new(0),
            }
        }

        /// A fresh task id, or `None` when the ledger is full (the caller spawns nothing).
        pub(crate) fn task_id(&self) -> Option<usize> {
            let id = self.next_task.fetch_add(1, Ordering::Relaxed);
            (id < self.task_events.len()).then_some(id)
        }
        pub(crate) fn tasks(&self) -> usize {
            self.next_task.load(Ordering::Relaxed).min(self.task_events.len())
        }
        fn mark(&self, id: usize, event: u32) {
            self.task_events[id].fetch_add(event, Ordering::SeqCst);
        }
        pub(crate) fn started(&self, id: usize) {
            self.mark(id, STARTED);
        }
        pub(crate) fn completed(&self, id: usize) {
            self.mark(id, COMPLETED);
        }
        /// Records the injection, then panics (the runtime must count exactly these).
        pub(crate) fn inject_panic(&self, id: Option<usize>) -> ! {
            if let Some(id) = id {
                self.mark(id, PANICKED);
            }
            self.panics_injected.fetch_add(1, Ordering::SeqCst);
            panic!("injected panic");
        }
        pub(crate) fn aborted(&self, id: usize) {
            self.task_aborted[id].store(true, Ordering::SeqCst);
        }
        pub(crate) fn outcome<T>(&self, id: usize, r: &Result<T, scheduler_core::JoinError>) {
            let o = match r {
                Ok(_) => OUT_OK,
                Err(e) if e.is_cancelled() => OUT_CANCELLED,
                Err(e) if e.is_panic() => OUT_PANIC,
                Err(_) => 255,
            };
            self.task_outcome[id].store(o, Ordering::SeqCst);
        }

        /// The task's Deferred failed with its panic.
        pub(crate) fn panicked_via_deferred(&self, id: usize) {
            self.task_outcome[id].store(OUT_PANIC, Ordering::SeqCst);
        }

        pub(crate) fn timer_id(&self) -> Option<usize> {
            let id = self.next_timer.fetch_add(1, Ordering::Relaxed);
            (id < self.timer_fired.len()).then_some(id)
        }
        pub(crate) fn timers(&self) -> usize {
            self.next_timer.load(Ordering::Relaxed).min(self.timer_fired.len())
        }
        pub(crate) fn timer_fired(&self, id: usize) {
            self.timer_fired[id].fetch_add(1, Ordering::SeqCst);
            self.timers_fired.fetch_add(1, Ordering::SeqCst);
        }
        /// Cancels `call` and records a successful cancel (the call must then never run).
        pub(crate) fn cancel_timer(&self, id: usize, call: &DelayedCall) {
            match call.cancel() {
                Ok(()) => {
                    self.timer_cancelled[id].store(true, Ordering::SeqCst);
                    self.timers_cancelled.fetch_add(1, Ordering::SeqCst);
                }
                Err(DelayedCallError::AlreadyCalled) => {}
                Err(DelayedCallError::AlreadyCancelled) => {
                    // Only one party ever cancels a given timer: this one was born cancelled
                    // because the runtime had shut down (checked by the callers).
                    self.timer_cancelled[id].store(true, Ordering::SeqCst);
                    self.timers_refused.fetch_add(1, Ordering::SeqCst);
                }
            }
        }

        /// Per-slot checks, once nothing runs any more (after the runtime is dropped).
        /// `every_task_ran`: false when a shutdown may have cancelled tasks that never ran and
        /// dropped timers that never fired.
        pub(crate) fn check(&self, every_task_ran: bool) -> Summary {
            let mut s = Summary::default();
            for id in 0..self.tasks() {
                let ev = self.task_events[id].load(Ordering::SeqCst);
                let (started, completed, panicked) =
                    (ev & 0xff, (ev >> 8) & 0xff, (ev >> 16) & 0xff);
                let aborted = self.task_aborted[id].load(Ordering::SeqCst);
                let outcome = self.task_outcome[id].load(Ordering::SeqCst);
                assert!(started <= 1, "task {id} started {started} times");
                assert!(completed + panicked <= started, "task {id}: events {ev:#x}");
                if !aborted && every_task_ran {
                    assert_eq!(started, 1, "task {id} was never aborted but did not run");
                    assert_eq!(completed + panicked, 1, "task {id} neither completed nor panicked");
                }
                match outcome {
                    NOT_AWAITED => {}
                    OUT_OK => assert_eq!(completed, 1, "task {id}: Ok without completing"),
                    OUT_CANCELLED => {
                        assert!(aborted || !every_task_ran, "task {id} cancelled, never aborted");
                        assert_eq!(completed, 0, "task {id} completed, yet reported cancelled");
                    }
                    OUT_PANIC => assert_eq!(panicked, 1, "task {id}: panic never injected"),
                    other => panic!("task {id}: unexpected JoinError kind {other}"),
                }
                if completed == 1 && outcome != NOT_AWAITED {
                    assert_eq!(outcome, OUT_OK, "task {id} completed but its output was lost");
                }
                s.tasks += 1;
                s.aborted += usize::from(aborted);
                s.ran += started as usize;
                s.panicked += panicked as usize;
            }
            for id in 0..self.timers() {
                let fired = self.timer_fired[id].load(Ordering::SeqCst);
                let cancelled = self.timer_cancelled[id].load(Ordering::SeqCst);
                if cancelled {
                    assert_eq!(fired, 0, "timer {id} fired after a successful cancel");
                } else if !every_task_ran {
                    assert!(fired <= 1, "timer {id} fired {fired} times");
                } else {
                    assert_eq!(fired, 1, "timer {id} (not cancelled) fired {fired} times");
                }
                s.timers += 1;
                s.timers_cancelled += usize::from(cancelled);
            }
            s
        }
    }

    /// What [`Ledger::check`] counted.
    #[derive(Debug, Default)]
    pub(crate) struct Summary {
        pub(crate) tasks: usize,
        pub(crate) ran: usize,
        pub(crate) aborted: usize,
        pub(crate) panicked: usize,
        pub(crate) timers: usize,
        pub(crate) timers_cancelled: usize,
    }

    /// Everything a task of the mix needs.
    pub(crate) struct Mix {
        pub(crate) ledger: Ledger,
        /// Every task future and every timer closure holds one guard.
        pub(crate) live: LiveCounter,
        /// Timers handed to the canceller thread (cancel or reset from another OS thread).
        pub(crate) to_canceller: Mutex<Option<mpsc::Sender<(usize, DelayedCall, u64)>>>,
        pub(crate) max_depth: u32,
    }

    pub(crate) type BoxTask = Pin<Box<dyn Future<Output = u64> + Send>>;

    /// Spawns one task of the mix (a future or a closure) in a random class; `None` when the
    /// ledger is full.
    pub(crate) fn spawn_one(
        mix: &Arc<Mix>,
        h: &Handle,
        rng: &mut Rng,
        depth: u32,
    ) -> Option<(usize, scheduler_core::JoinHandle<u64>)> {
        let id = mix.ledger.task_id()?;
        let prio = rng.priority();
        let seed = rng.next();
        let guard = mix.live.guard();
        let m = mix.clone();
        let jh = if rng.chance(25) {
            h.spawn_fn_with(prio, move || closure_body(&m, id, seed, guard))
        } else {
            h.spawn_with(prio, task_body(m, id, seed, depth, guard))
        };
        Some((id, jh))
    }

    /// A closure task: runs once, may panic, may schedule a timer or spawn a detached child.
    fn closure_body(mix: &Arc<Mix>, id: usize, seed: u64, guard: Guard) -> u64 {
        let _guard = guard;
        let l = &mix.ledger;
        l.started(id);
        let mut rng = Rng::new(seed);
        match rng.below(100) {
            0..=2 => l.inject_panic(Some(id)),
            3..=20 => schedule_timer(mix, &Handle::current(), &mut rng),
            21..=30 => {
                // A detached child: nobody awaits it, it must still run exactly once.
                drop(spawn_one(mix, &Handle::current(), &mut rng, mix.max_depth));
            }
            _ => {}
        }
        l.completed(id);
        seed & 0xffff
    }

    fn task_body(mix: Arc<Mix>, id: usize, seed: u64, depth: u32, guard: Guard) -> BoxTask {
        Box::pin(async move {
            let _guard = guard;
            let l = &mix.ledger;
            l.started(id);
            let h = Handle::current();
            let mut rng = Rng::new(seed);
            let mut acc = 0u64;
            for _ in 0..rng.below(4) {
                match rng.below(100) {
                    0..=19 => {
                        for _ in 0..rng.below(3) + 1 {
                            yield_now().await;
                        }
                    }
                    20..=44 if depth < mix.max_depth => {
                        acc += children(&mix, &h, &mut rng, depth).await
                    }
                    45..=59 => acc += deferred_chain(&h, &mut rng, l).await,
                    60..=79 => schedule_timer(&mix, &h, &mut rng),
                    80..=87 => acc += blocking(&mix, &h, &mut rng).await,
                    88..=97 => sleep_or_timeout(&h, &mut rng).await,
                    _ => {
                        // Panic at an await point's far side (after some work).
                        yield_now().await;
                        l.inject_panic(Some(id));
                    }
                }
            }
            l.completed(id);
            acc.wrapping_add(1)
        })
    }

    /// Spawns 1..=3 children; aborts some (at once, after a yield, or never); awaits most,
    /// detaches the rest; records how each awaited handle resolved.
    async fn children(mix: &Arc<Mix>, h: &Handle, rng: &mut Rng, depth: u32) -> u64 {
        let mut kids = Vec::new();
        for _ in 0..rng.below(3) + 1 {
            if let Some(kid) = spawn_one(mix, h, rng, depth + 1) {
                kids.push(kid);
            }
        }
        let mut sum = 0;
        for (id, jh) in kids {
            match rng.below(10) {
                0 => {
                    mix.ledger.aborted(id);
                    jh.abort(); // races the child's start and completion
                }
                1 => {
                    yield_now().await;
                    mix.ledger.aborted(id);
                    jh.abort();
                }
                2 => {
                    drop(jh); // detached
                    continue;
                }
                3 | 4 => {
                    // Through a Deferred; cancelling it aborts the task (racing completion).
                    let d = jh.into_deferred();
                    let cancel = rng.chance(50);
                    if cancel {
                        mix.ledger.aborted(id);
                        d.cancel();
                    }
                    match d.await {
                        Ok(v) => {
                            mix.ledger.outcome::<u64>(id, &Ok(v));
                            sum += v & 0xff;
                        }
                        // A cancel may win over a completed task's undelivered value: a
                        // Cancelled failure says nothing about the task then.
                        Err(f) if f.is::<scheduler_deferred::Cancelled>() => {
                            if !cancel && !h.is_shutdown() {
                                mix.ledger.mismatches.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        Err(f) if f.is_panic() => mix.ledger.panicked_via_deferred(id),
                        Err(_) => {
                            mix.ledger.mismatches.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    continue;
                }
                _ => {}
            }
            let r = jh.await;
            mix.ledger.outcome(id, &r);
            if let Ok(v) = r {
                sum += v & 0xff;
            }
        }
        sum
    }

    /// A Deferred fired from another worker, a blocking thread or a timer, with a chained
    /// Deferred fired from yet another thread; the awaited value is checked.
    async fn deferred_chain(h: &Handle, rng: &mut Rng, l: &Ledger) -> u64 {
        let x = rng.below(1000);
        let first = Deferred::<u64>::new();
        let firer = first.clone();
        match rng.below(3) {
            0 => drop(h.spawn_fn_with(rng.priority(), move || firer.callback(x).unwrap())),
            1 => drop(h.spawn_blocking(move || firer.callback(x).unwrap())),
            _ => {
                let call = h.call_later(rng.micros(300), move || firer.callback(x).unwrap());
                drop(call);
            }
        }
        let h2 = h.clone();
        let chained = first.add_callback(|v| v * 2).add_callback_deferred(move |v| {
            let inner = Deferred::<u64>::new();
            let firer = inner.clone();
            drop(h2.spawn_fn(move || firer.callback(v + 1).unwrap()));
            inner
        });
        match chained.await {
            Ok(v) if v == x * 2 + 1 => v,
            _ => {
                l.mismatches.fetch_add(1, Ordering::SeqCst);
                0
            }
        }
    }

    /// Schedules a short timer; leaves it, cancels or resets it here, or hands it to the
    /// canceller thread.
    pub(crate) fn schedule_timer(mix: &Arc<Mix>, h: &Handle, rng: &mut Rng) {
        let Some(tid) = mix.ledger.timer_id() else { return };
        let m = mix.clone();
        let guard = mix.live.guard();
        let call = h.call_later_with(rng.priority(), rng.micros(2000), move || {
            let _guard = guard;
            m.ledger.timer_fired(tid);
        });
        match rng.below(10) {
            0..=1 => mix.ledger.cancel_timer(tid, &call),
            2 => {
                let _ = call.reset(rng.micros(1000)); // AlreadyCalled is fine
            }
            3..=5 => {
                let to = mix.to_canceller.lock().unwrap().clone();
                if let Some(to) = to {
                    let _ = to.send((tid, call, rng.next()));
                }
            }
            _ => {}
        }
    }

    /// The other OS thread: cancels or resets (earlier, later) what it receives.
    pub(crate) fn canceller(mix: Arc<Mix>, rx: mpsc::Receiver<(usize, DelayedCall, u64)>) {
        for (tid, call, seed) in rx {
            let mut rng = Rng::new(seed);
            match rng.below(3) {
                0 => mix.ledger.cancel_timer(tid, &call),
                1 => {
                    let _ = call.reset(rng.micros(1500));
                }
                _ => {
                    let _ = call.delay(rng.micros(500));
                }
            }
        }
    }

    /// Blocking work on the pool; 5% of it panics (counted by the pool, seen as a panic).
    async fn blocking(mix: &Arc<Mix>, h: &Handle, rng: &mut Rng) -> u64 {
        let panics = rng.chance(5);
        let v = rng.below(100);
        let m = mix.clone();
        let r = h
            .spawn_blocking(move || {
                m.ledger.blocking_ran.fetch_add(1, Ordering::SeqCst);
                if panics {
                    m.ledger.inject_panic(None);
                }
                v
            })
            .await;
        match r {
            Ok(got) if got == v && !panics => v,
            Err(e) if panics && e.is_panic() => 0,
            Err(e) if e.is_cancelled() && h.is_shutdown() => 0, // spawned after shutdown
            _ => {
                mix.ledger.mismatches.fetch_add(1, Ordering::SeqCst);
                0
            }
        }
    }

    async fn sleep_or_timeout(h: &Handle, rng: &mut Rng) {
        if rng.chance(50) {
            h.sleep(rng.micros(500)).await;
        } else {
            let _ = h.timeout(rng.micros(300), h.sleep(rng.micros(600))).await;
        }
    }
}

use mix::{Ledger, Mix, Rng};
use scheduler_core::LoopingCall;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

/// Silences the panics these tests inject (once per process); any other panic, such as a
/// failed assertion, is still reported.
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info.payload().downcast_ref::<&str>().copied().unwrap_or("");
            if msg != "injected panic" && msg != "random panic" {
                report(info);
            }
        }));
        // A task aborted while awaiting a child's Deferred drops it; if the child then
        // panics, the failure ends unhandled (Twisted logs it): expected for injected panics.
        scheduler_deferred::set_unhandled_failure_hook(|failure| {
            let msg = failure.panic_message().unwrap_or("");
            if msg != "injected panic" && msg != "random panic" {
                eprintln!("Unhandled error in Deferred: {failure:?}");
            }
        });
    });
}

/// Waits (without asserting any timing) until `cond` holds; a bound of minutes only turns a
/// lost task or timer into a failure instead of a hung test.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(300);
    while !cond() {
        assert!(Instant::now() < give_up, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn new_mix(
    max_tasks: usize,
    max_timers: usize,
    max_depth: u32,
) -> (Arc<Mix>, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let mix = Arc::new(Mix {
        ledger: Ledger::new(max_tasks, max_timers),
        live: LiveCounter::default(),
        to_canceller: Mutex::new(Some(tx)),
        max_depth,
    });
    let m = mix.clone();
    let canceller = std::thread::spawn(move || mix::canceller(m, rx));
    (mix, canceller)
}

/// `top` top-level tasks spawned from outside the runtime in batches (some aborted by the
/// spawner at once, racing their start), plus timers scheduled from outside; then exact
/// accounting of every task and timer.
fn run_mix(seed: u64, top: usize) {
    quiet_panics();
    const BATCH: usize = 5_000;
    let rt = Runtime::builder().worker_threads(2).max_blocking_threads(4).build().unwrap();
    let h = rt.handle().clone();
    let (mix, canceller) = new_mix(top * 4, top, 3);
    let mut rng = Rng::new(seed);
    let mut spawned = 0;
    while spawned < top {
        let mut batch = Vec::with_capacity(BATCH);
        for _ in 0..BATCH.min(top - spawned) {
            spawned += 1;
            if rng.chance(5) {
                mix::schedule_timer(&mix, &h, &mut rng); // the remote (inbox) insert path
                continue;
            }
            let Some((id, jh)) = mix::spawn_one(&mix, &h, &mut rng, 0) else { continue };
            if rng.chance(5) {
                mix.ledger.aborted(id);
                jh.abort();
            }
            batch.push((id, jh));
        }
        let m = mix.clone();
        h.block_on(async move {
            for (id, jh) in batch {
                let r = jh.await;
                m.ledger.outcome(id, &r);
            }
        });
    }
    // Detached children and pending timers drain by themselves: every task future and timer
    // closure holds a guard.
    wait_until("detached tasks and timers", || mix.live.live() == 0);
    drop(mix.to_canceller.lock().unwrap().take());
    canceller.join().unwrap();
    drop(rt);

    let l = &mix.ledger;
    assert_eq!(mix.live.live(), 0, "a task future or timer closure leaked");
    let m = h.metrics();
    assert_eq!(m.live_tasks, 0, "metrics: live tasks after shutdown");
    assert_eq!(m.panics, l.panics_injected.load(Ordering::SeqCst), "panics counted vs injected");
    assert_eq!(l.mismatches.load(Ordering::SeqCst), 0, "wrong values seen inside tasks");
    assert_eq!(l.timers_refused.load(Ordering::SeqCst), 0, "a live runtime refused a timer");
    let s = l.check(true);
    assert_eq!(
        l.timers_fired.load(Ordering::SeqCst) as usize,
        s.timers - s.timers_cancelled,
        "every timer not cancelled fired once"
    );
    eprintln!(
        "mix(seed {seed:#x}, {top} top-level): {s:?}, panics {}, blocking {}",
        m.panics,
        l.blocking_ran.load(Ordering::SeqCst)
    );
    // The mix exercised every path.
    assert!(s.tasks > top && s.aborted > 0 && s.panicked > 0 && s.timers_cancelled > 0, "{s:?}");
    assert!(s.timers > s.timers_cancelled && l.blocking_ran.load(Ordering::SeqCst) > 0, "{s:?}");
}

#[test]
fn mixed_tasks_timers_deferreds_every_one_accounted_for() {
    run_mix(0x5EED_0001, 200_000);
}

/// The DESIGN's "millions of tasks": `cargo test -p scheduler-core --release --test stress --
/// --ignored`.
#[test]
#[ignore = "millions of tasks: minutes in debug; run with --release -- --ignored"]
fn mixed_millions() {
    run_mix(0x5EED_0002, 2_000_000);
}

/// Drops the runtime while tasks run, wait on Deferreds and long sleeps, spin in yield loops,
/// and while timers are pending and another thread keeps spawning: every JoinHandle resolves,
/// every future and timer closure is dropped, the metrics count no live task.
#[test]
fn shutdown_mid_flight_resolves_every_handle_and_leaks_nothing() {
    quiet_panics();
    const N: usize = 40_000;
    let rt = Runtime::builder().worker_threads(2).max_blocking_threads(2).build().unwrap();
    let h = rt.handle().clone();
    let (mix, canceller) = new_mix(N * 4, N, 2);
    let mut rng = Rng::new(0x5EED_0003);
    let mut mixed = Vec::new();
    let mut stuck = Vec::new(); // tasks that can only end by being cancelled
                                // Tasks in an hour-long sleep: the shutdown wakes every pending timer's waker and a sleep
                                // polled on a shut-down runtime is ready at once (`time::sleep`'s module doc), so a worker
                                // that has not yet seen the shutdown may poll one to its end: cancelled, or `Ok(0)`.
    let mut sleepers = Vec::new();
    let mut never_fired = Vec::new();
    let mut long_calls = Vec::new();
    let mut never_fired_later = Vec::new();
    for _ in 0..N {
        let guard = mix.live.guard();
        match rng.below(100) {
            0..=9 => {
                let d = scheduler_deferred::Deferred::<u64>::new();
                never_fired.push(d.clone());
                stuck.push(h.spawn(async move {
                    let _g = guard;
                    d.await.unwrap_or(0)
                }));
            }
            10..=19 => {
                let h2 = h.clone();
                sleepers.push(h.spawn_with(rng.priority(), async move {
                    let _g = guard;
                    h2.sleep(Duration::from_secs(3600)).await;
                    0
                }));
            }
            20..=24 => {
                long_calls.push(h.call_later(Duration::from_secs(3600), move || drop(guard)))
            }
            25..=29 => stuck.push(h.spawn(async move {
                let _g = guard;
                loop {
                    yield_now().await;
                }
            })),
            30..=31 => {
                // A running LoopingCall whose function holds the guard; nobody keeps the loop
                // or its Deferred: shutdown must break the loop <-> timer cycle.
                let interval = rng.micros(1000);
                let lc = LoopingCall::new(h.clone(), move || {
                    let _ = &guard;
                });
                drop(lc.start(interval, rng.chance(50)).unwrap());
            }
            32..=33 => {
                // A pending defer_later whose function holds the guard.
                let d = scheduler_core::time::defer_later(&h, rng.micros(2000), move || {
                    drop(guard);
                    Ok::<_, scheduler_deferred::Failure>(())
                });
                if rng.chance(50) {
                    drop(d);
                } else {
                    never_fired_later.push(d);
                }
            }
            _ => {
                drop(guard);
                if let Some(kid) = mix::spawn_one(&mix, &h, &mut rng, 0) {
                    mixed.push(kid);
                }
            }
        }
    }
    // Another thread keeps spawning (and aborting) while the runtime goes down.
    let spawner = {
        let (h, mix) = (h.clone(), mix.clone());
        std::thread::spawn(move || {
            let mut rng = Rng::new(0x5EED_0004);
            let mut kids = Vec::new();
            while !h.is_shutdown() || kids.len() < 1_000 {
                match mix::spawn_one(&mix, &h, &mut rng, 0) {
                    Some((id, jh)) => {
                        if rng.chance(10) {
                            mix.ledger.aborted(id);
                            jh.abort();
                        }
                        kids.push((id, jh));
                    }
                    None => break,
                }
            }
            kids
        })
    };
    wait_until("the spawner thread to start", || mix.ledger.tasks() > mixed.len() + 100);
    drop(rt); // mid-flight
    let late = spawner.join().unwrap();
    for (id, jh) in mixed.into_iter().chain(late) {
        let r = h.block_on(jh);
        mix.ledger.outcome(id, &r);
    }
    for jh in stuck {
        assert!(h.block_on(jh).unwrap_err().is_cancelled(), "a stuck task must be cancelled");
    }
    for jh in sleepers {
        match h.block_on(jh) {
            Ok(v) => assert_eq!(v, 0, "a sleeper cut short by the shutdown returns its value"),
            Err(e) => assert!(e.is_cancelled(), "a sleeper ends cancelled or cut short: {e:?}"),
        }
    }
    for d in never_fired {
        d.callback(1).unwrap(); // nobody waits any more: no task runs, nothing panics
    }
    for d in never_fired_later {
        // Fired before the shutdown, or failed with Cancelled by it.
        if let Some(Err(f)) = d.take_result() {
            assert!(f.is::<scheduler_deferred::Cancelled>(), "{f:?}");
        }
    }
    drop(mix.to_canceller.lock().unwrap().take());
    canceller.join().unwrap();
    for call in &long_calls {
        assert!(!call.called(), "an hour-long call ran");
        assert!(call.cancel().is_err(), "shutdown dropped the call: it cannot be cancelled again");
    }
    assert_eq!(mix.live.live(), 0, "a task future or timer closure leaked");
    let m = h.metrics();
    assert_eq!(m.live_tasks, 0);
    assert_eq!(m.panics, mix.ledger.panics_injected.load(Ordering::SeqCst));
    assert_eq!(mix.ledger.mismatches.load(Ordering::SeqCst), 0);
    let s = mix.ledger.check(false);
    eprintln!("shutdown mid-flight: {s:?}");
}

/// What the loop-and-defer_later race test counts.
#[derive(Default)]
struct LoopTally {
    /// `start` Deferreds fired (each must fire exactly once).
    loops_done: AtomicUsize,
    /// Loop functions that failed on purpose, and `start` Deferreds that failed.
    loop_failures_injected: AtomicUsize,
    loop_failures_seen: AtomicUsize,
    /// A tick that ran after its loop's `start` Deferred fired.
    ticks_after_done: AtomicUsize,
    ticks: AtomicUsize,
    /// How each `defer_later` Deferred resolved.
    later_ok: Mutex<Vec<usize>>,
    later_cancelled: Mutex<Vec<usize>>,
    wrong: AtomicUsize,
}

/// LoopingCalls stopped from their own function, from another task, from another OS thread,
/// or failing on purpose, racing their ticks; `defer_later` Deferreds cancelled racing their
/// timers. Every `start` Deferred fires exactly once and no tick follows it; every
/// `defer_later` function runs exactly once unless its Deferred reports `Cancelled`.
#[test]
fn looping_calls_and_defer_later_under_stop_and_cancel_races() {
    use scheduler_core::time::defer_later;
    use scheduler_deferred::{Cancelled, Deferred, Failure};
    quiet_panics();
    const LOOPS: usize = 3_000;
    const LATERS: usize = 20_000;
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let h = rt.handle().clone();
    let tally = Arc::new(LoopTally::default());
    let later_runs: Arc<Vec<AtomicUsize>> =
        Arc::new((0..LATERS).map(|_| AtomicUsize::new(0)).collect());
    let (to_thread, from_tasks) = mpsc::channel::<Box<dyn FnOnce() + Send>>();
    let other_thread = std::thread::spawn(move || {
        for job in from_tasks {
            job();
        }
    });
    let mut rng = Rng::new(0x5EED_0005);
    let mut items = Vec::new();
    for i in 0..LOOPS + LATERS {
        let (h2, tally, to_thread, seed) =
            (h.clone(), tally.clone(), to_thread.clone(), rng.next());
        let later_runs = later_runs.clone();
        let item = async move {
            let mut rng = Rng::new(seed);
            if i >= LOOPS {
                let id = i - LOOPS;
                let runs = later_runs.clone();
                let d: Deferred<usize> = defer_later(&h2, rng.micros(400), move || {
                    runs[id].fetch_add(1, Ordering::SeqCst);
                    Ok::<_, Failure>(id)
                });
                match rng.below(4) {
                    0 => d.cancel(),
                    1 => {
                        yield_now().await;
                        d.cancel();
                    }
                    2 => {
                        let d2 = d.clone();
                        let _ = to_thread.send(Box::new(move || d2.cancel()));
                    }
                    _ => {}
                }
                match d.await {
                    Ok(v) if v == id => tally.later_ok.lock().unwrap().push(id),
                    Err(f) if f.is::<Cancelled>() => tally.later_cancelled.lock().unwrap().push(id),
                    _ => {
                        tally.wrong.fetch_add(1, Ordering::SeqCst);
                    }
                }
                return;
            }
            let done = Arc::new(AtomicBool::new(false));
            let fail_at = rng.chance(10).then(|| rng.below(4) + 1);
            let stop_self_at = rng.chance(25).then(|| rng.below(4) + 1);
            let waits = rng.chance(30);
            let me: Arc<Mutex<Option<LoopingCall>>> = Arc::new(Mutex::new(None));
            let f = {
                let (tally, done, me, h3) = (tally.clone(), done.clone(), me.clone(), h2.clone());
                let mut n = 0;
                move || -> Deferred<()> {
                    n += 1;
                    if done.load(Ordering::SeqCst) {
                        tally.ticks_after_done.fetch_add(1, Ordering::SeqCst);
                    }
                    tally.ticks.fetch_add(1, Ordering::SeqCst);
                    if Some(n) == stop_self_at {
                        if let Some(lc) = me.lock().unwrap().take() {
                            let _ = lc.stop();
                        }
                    }
                    if Some(n) == fail_at {
                        tally.loop_failures_injected.fetch_add(1, Ordering::SeqCst);
                        return Deferred::fail(Failure::new(std::io::Error::other("injected")));
                    }
                    if waits {
                        // The next tick waits for this Deferred, fired by another task.
                        let d = Deferred::new();
                        let firer = d.clone();
                        drop(h3.spawn_fn(move || firer.callback(()).unwrap()));
                        d
                    } else {
                        Deferred::succeed(())
                    }
                }
            };
            let lc = LoopingCall::new(h2.clone(), f);
            *me.lock().unwrap() = Some(lc.clone());
            let started = lc.start(rng.micros(300), rng.chance(50)).unwrap();
            let fired = {
                let (tally, done) = (tally.clone(), done.clone());
                started.add_both(move |r: Result<LoopingCall, Failure>| {
                    done.store(true, Ordering::SeqCst);
                    tally.loops_done.fetch_add(1, Ordering::SeqCst);
                    if r.is_err() {
                        tally.loop_failures_seen.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok::<_, Failure>(())
                })
            };
            if stop_self_at.is_none() || rng.chance(50) {
                for _ in 0..rng.below(20) {
                    yield_now().await;
                }
                let stopper = me.lock().unwrap().take(); // whoever takes it stops it
                if let Some(lc) = stopper {
                    match rng.below(3) {
                        0 => drop(lc.stop()),
                        1 => drop(h2.spawn(async move {
                            let _ = lc.stop();
                        })),
                        _ => {
                            let _ = to_thread.send(Box::new(move || {
                                let _ = lc.stop();
                            }));
                        }
                    }
                }
            }
            let _ = fired.await;
            me.lock().unwrap().take(); // break the loop <-> function cycle if still there
        };
        items.push(h.spawn_with(rng.priority(), item));
    }
    drop(to_thread);
    h.block_on(async move {
        for item in items {
            item.await.unwrap();
        }
    });
    other_thread.join().unwrap();
    drop(rt);

    let t = &tally;
    assert_eq!(t.wrong.load(Ordering::SeqCst), 0, "a defer_later Deferred got a wrong result");
    assert_eq!(t.loops_done.load(Ordering::SeqCst), LOOPS, "every start Deferred fired once");
    assert_eq!(t.ticks_after_done.load(Ordering::SeqCst), 0, "a tick ran after its loop ended");
    assert_eq!(
        t.loop_failures_seen.load(Ordering::SeqCst),
        t.loop_failures_injected.load(Ordering::SeqCst),
        "a failing loop function fails its start Deferred"
    );
    let ok = t.later_ok.lock().unwrap();
    let cancelled = t.later_cancelled.lock().unwrap();
    assert_eq!(ok.len() + cancelled.len(), LATERS);
    for &id in ok.iter() {
        assert_eq!(later_runs[id].load(Ordering::SeqCst), 1, "defer_later {id} ran once");
    }
    for &id in cancelled.iter() {
        assert_eq!(later_runs[id].load(Ordering::SeqCst), 0, "cancelled defer_later {id} ran");
    }
    eprintln!(
        "loops: {LOOPS}, ticks {}, failures {}; defer_later: {} ok, {} cancelled",
        t.ticks.load(Ordering::SeqCst),
        t.loop_failures_seen.load(Ordering::SeqCst),
        ok.len(),
        cancelled.len()
    );
    assert!(!ok.is_empty() && !cancelled.is_empty());
}

/// The manual clock driving the multi-threaded runtime: 200 tasks on 2 workers schedule
/// 20,000 calls in all classes over one virtual second, cancelling and resetting some while
/// the others schedule; then the test thread moves the clock in random steps. After each step
/// exactly the calls now due (and not cancelled) have run, each once, none early (the clock
/// read inside each call is at least its deadline); no real time is waited on.
#[test]
fn manual_clock_runtime_fires_exactly_the_due_calls_at_every_step() {
    use scheduler_core::DelayedCall;
    use scheduler_timers::ManualClock;
    const TASKS: usize = 200;
    const PER_TASK: usize = 100;
    const N: usize = TASKS * PER_TASK;
    let rt = Runtime::builder().worker_threads(2).clock(ManualClock::new()).build().unwrap();
    let h = rt.handle().clone();
    let fired: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
    let ran_at: Arc<Vec<AtomicU64>> = Arc::new((0..N).map(|_| AtomicU64::new(0)).collect());
    let total = Arc::new(AtomicUsize::new(0));
    let mut rng = Rng::new(0x5EED_0006);
    let schedulers: Vec<_> = (0..TASKS)
        .map(|t| {
            let (h2, fired, ran_at, total, seed) =
                (h.clone(), fired.clone(), ran_at.clone(), total.clone(), rng.next());
            h.spawn_with(rng.priority(), async move {
                let mut rng = Rng::new(seed);
                let mut calls: Vec<(usize, DelayedCall)> = Vec::with_capacity(PER_TASK);
                for k in 0..PER_TASK {
                    let id = t * PER_TASK + k;
                    let (h3, fired, ran_at, total) =
                        (h2.clone(), fired.clone(), ran_at.clone(), total.clone());
                    let delay = Duration::from_micros(rng.below(1_000_000));
                    let call = h2.call_later_with(rng.priority(), delay, move || {
                        ran_at[id].store(h3.clock_now().as_nanos() as u64, Ordering::SeqCst);
                        fired[id].fetch_add(1, Ordering::SeqCst);
                        total.fetch_add(1, Ordering::SeqCst);
                    });
                    calls.push((id, call));
                    if rng.chance(10) {
                        yield_now().await;
                    }
                    // Cancel or reset an earlier call of this task.
                    let (_, earlier) = &calls[rng.below(calls.len() as u64) as usize];
                    match rng.below(10) {
                        0 => drop(earlier.cancel()),
                        1 => drop(earlier.reset(Duration::from_micros(rng.below(1_000_000)))),
                        2 => drop(earlier.delay(Duration::from_micros(rng.below(50_000)))),
                        _ => {}
                    }
                }
                calls
            })
        })
        .collect();
    let calls: Vec<(usize, DelayedCall)> = h.block_on(async move {
        let mut all = Vec::with_capacity(N);
        for s in schedulers {
            all.extend(s.await.unwrap());
        }
        all
    });
    assert_eq!(calls.len(), N);
    assert_eq!(total.load(Ordering::SeqCst), 0, "nothing runs before the clock moves");
    let end = calls.iter().map(|(_, c)| c.time()).max().unwrap();
    let mut steps = 0;
    while h.clock_now() <= end {
        h.advance(Duration::from_micros(rng.below(20_000) + 1)).unwrap();
        steps += 1;
        let now = h.clock_now();
        let due = calls.iter().filter(|(_, c)| !c.cancelled() && c.time() <= now).count();
        wait_until("the due calls of this step", || total.load(Ordering::SeqCst) >= due);
        assert_eq!(total.load(Ordering::SeqCst), due, "at {now:?}: a call ran before its time");
    }
    drop(rt);
    let mut cancelled = 0;
    for (id, call) in &calls {
        let runs = fired[*id].load(Ordering::SeqCst);
        if call.cancelled() {
            cancelled += 1;
            assert_eq!(runs, 0, "call {id} ran after being cancelled");
        } else {
            assert_eq!(runs, 1, "call {id} ran {runs} times");
            assert!(call.called());
            let at = Duration::from_nanos(ran_at[*id].load(Ordering::SeqCst));
            assert!(at >= call.time(), "call {id} ran at {at:?}, due {:?}", call.time());
        }
    }
    eprintln!("manual clock: {N} calls, {cancelled} cancelled, {steps} steps");
    assert!(cancelled > 0);
}
