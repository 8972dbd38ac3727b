//! The time API on a real multi-worker runtime: call_later, cancel from another thread,
//! reset, sleep, timeout, defer_later, LoopingCall, FIFO ties, shutdown. Assertions are on
//! order and facts, never on durations; where real time must pass, delays are a few ms and
//! the test waits for completion.

mod common;
use common::Gate;
use scheduler_core::time::{self, defer_later, DelayedCallError, LoopingCall, ReactorTime};
use scheduler_core::{Priority, Runtime};
use scheduler_deferred::{Deferred, Failure};
use scheduler_timers::ManualClock;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn rt(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).build().unwrap()
}

fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

#[test]
fn call_later_fires_on_multi_worker_runtime() {
    let rt = rt(2);
    let (tx, rx) = mpsc::channel();
    let calls: Vec<_> = (0..100u64)
        .map(|i| {
            let tx = tx.clone();
            rt.call_later(Duration::from_micros(i * 37), move || tx.send(i).unwrap())
        })
        .collect();
    let mut got: Vec<u64> = (0..100).map(|_| rx.recv().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    assert!(calls.iter().all(|c| c.called() && !c.active()));
    assert_eq!(calls[0].cancel(), Err(DelayedCallError::AlreadyCalled));
}

#[test]
fn workers_count_the_timers_they_fire() {
    let rt = rt(2);
    let h = rt.handle().clone();
    let (tx, rx) = mpsc::channel();
    let calls: Vec<_> = (0..40u64)
        .map(|i| {
            let tx = tx.clone();
            rt.call_later(Duration::from_micros(i * 50), move || tx.send(()).unwrap())
        })
        .collect();
    let cancelled = rt.call_later(Duration::from_secs(3600), || ());
    cancelled.cancel().unwrap();
    for _ in 0..40 {
        rx.recv().unwrap();
    }
    // Shutdown joins the workers, so every count they made is visible; the cancelled call
    // never fired and is not counted.
    assert!(rt.shutdown_timeout(Duration::from_secs(10)));
    let fired: u64 = h.metrics().workers.iter().map(|w| w.timers_fired).sum();
    assert_eq!(fired, 40);
    drop(calls);
}

#[test]
fn call_later_from_tasks_on_workers() {
    let rt = rt(2);
    let hits = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<()>();
    for _ in 0..50 {
        let (hits, tx) = (hits.clone(), tx.clone());
        let h = rt.handle().clone();
        drop(rt.spawn(async move {
            let _c = h.call_later(ms(1), move || {
                hits.fetch_add(1, Ordering::SeqCst);
                tx.send(()).unwrap();
            });
        }));
    }
    for _ in 0..50 {
        rx.recv().unwrap();
    }
    assert_eq!(hits.load(Ordering::SeqCst), 50);
}

#[test]
fn cancel_from_another_thread() {
    let rt = rt(2);
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let call = rt.call_later(Duration::from_secs(3600), move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    let c2 = call.clone();
    std::thread::spawn(move || c2.cancel()).join().unwrap().unwrap();
    assert!(call.cancelled());
    assert_eq!(call.cancel(), Err(DelayedCallError::AlreadyCancelled));
    assert_eq!(call.reset(ms(1)), Err(DelayedCallError::AlreadyCancelled));
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn reset_earlier_fires() {
    let rt = rt(2);
    let (tx, rx) = mpsc::channel();
    let call = rt.call_later(Duration::from_secs(3600), move || tx.send("fired").unwrap());
    call.reset(ms(1)).unwrap();
    assert_eq!(rx.recv().unwrap(), "fired");
    assert!(call.called());
}

#[test]
fn reset_later_and_delay_move_the_deadline() {
    // On a manual clock: no waiting, exact facts.
    let clock = ManualClock::new();
    let rt = Runtime::builder().worker_threads(2).clock(clock).build().unwrap();
    let (tx, rx) = mpsc::channel();
    let call = rt.call_later(ms(10), move || tx.send(()).unwrap());
    call.reset(ms(20)).unwrap();
    call.delay(ms(5)).unwrap();
    assert_eq!(call.time(), ms(25));
    assert_eq!(rt.handle().advance(ms(24)), Some(0));
    assert!(call.active());
    // Fired by this advance or by a worker's maintenance: either way exactly once.
    assert!(rt.handle().advance(ms(1)).is_some());
    rx.recv().unwrap();
    assert!(call.called());
}

#[test]
fn equal_deadlines_fire_fifo_on_one_shard() {
    // One worker, one shard: the worker fires the 200 calls in insertion order and spawns
    // each into its own FIFO queue, so they also run in that order.
    let rt = rt(1);
    let order = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let at = Instant::now() + ms(5);
    let _calls: Vec<_> = (0..200)
        .map(|i| {
            let (order, tx) = (order.clone(), tx.clone());
            rt.call_at(at, move || {
                order.lock().unwrap().push(i);
                tx.send(()).unwrap();
            })
        })
        .collect();
    for _ in 0..200 {
        rx.recv().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..200).collect::<Vec<_>>());
}

#[test]
fn equal_deadlines_fire_fifo_on_manual_clock() {
    let clock = scheduler_core::time::ManualReactor::new();
    let order = Arc::new(Mutex::new(Vec::new()));
    let _calls: Vec<_> = (0..200)
        .map(|i| {
            let order = order.clone();
            clock.call_later(ms(5), move || order.lock().unwrap().push(i))
        })
        .collect();
    assert_eq!(clock.advance(ms(5)), 200);
    assert_eq!(*order.lock().unwrap(), (0..200).collect::<Vec<_>>());
}

#[test]
fn manual_clock_on_multi_worker_runtime_fires_all() {
    let rt = Runtime::builder().worker_threads(2).clock(ManualClock::new()).build().unwrap();
    let (tx, rx) = mpsc::channel();
    let _calls: Vec<_> = (0..200u64)
        .map(|i| {
            let tx = tx.clone();
            rt.call_later(ms(i % 7), move || tx.send(i).unwrap())
        })
        .collect();
    assert_eq!(rt.handle().advance(ms(3)).map(|_| ()), Some(()));
    // Workers also fire what is due in their maintenance, so the count split between them
    // and `advance` is not fixed; every call runs exactly once.
    rt.handle().advance(ms(4)).unwrap();
    let mut got: Vec<u64> = (0..200).map(|_| rx.recv().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, (0..200).collect::<Vec<_>>());
}

#[test]
fn sleep_in_tasks_and_block_on() {
    let rt = rt(2);
    let handles: Vec<_> = (0..20u64)
        .map(|i| {
            rt.spawn(async move {
                time::sleep(Duration::from_micros(100 * i)).await;
                i
            })
        })
        .collect();
    let sum = rt.block_on(async move {
        let mut s = 0;
        for h in handles {
            s += h.await.unwrap();
        }
        time::sleep(ms(1)).await; // on the block_on thread
        s
    });
    assert_eq!(sum, (0..20).sum());
}

#[test]
fn sleep_until_past_deadline_is_ready() {
    let rt = rt(1);
    rt.block_on(time::sleep_until(Instant::now()));
    rt.block_on(rt.handle().sleep(Duration::ZERO));
}

#[test]
fn timeout_elapses_and_completes() {
    let rt = rt(2);
    let h = rt.handle().clone();
    let (late, early) = rt.block_on(async move {
        let late = time::timeout(ms(1), h.sleep(Duration::from_secs(3600))).await;
        let early = time::timeout(Duration::from_secs(3600), async { 5 }).await;
        (late, early)
    });
    assert_eq!(late.unwrap_err().after(), ms(1));
    assert_eq!(early.unwrap(), 5);
}

#[test]
fn dropped_sleep_cancels_its_timer() {
    let rt = Runtime::builder().worker_threads(1).clock(ManualClock::new()).build().unwrap();
    let h = rt.handle().clone();
    let fired = Arc::new(AtomicUsize::new(0));
    let f = fired.clone();
    // A task that polls a long sleep once, then drops it.
    rt.block_on(async move {
        let mut sleep = Box::pin(h.sleep(ms(50)));
        std::future::poll_fn(|cx| {
            let _ = sleep.as_mut().poll(cx);
            std::task::Poll::Ready(())
        })
        .await;
        drop(sleep);
        f.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(fired.load(Ordering::SeqCst), 1);
    assert_eq!(rt.handle().advance(ms(100)), Some(0), "the dropped sleep's timer was cancelled");
}

#[test]
fn defer_later_on_runtime_and_cancel() {
    let rt = rt(2);
    let d = defer_later(rt.handle(), ms(1), || Ok::<_, Failure>(21 * 2));
    assert_eq!(rt.block_on(d).unwrap(), 42);
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let d = defer_later(rt.handle(), Duration::from_secs(3600), move || {
        r.fetch_add(1, Ordering::SeqCst);
        Ok::<_, Failure>(())
    });
    d.cancel();
    assert!(rt.block_on(d).is_err());
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn add_timeout_with_runtime_handle() {
    let rt = rt(2);
    let d = Deferred::<u8>::new().add_timeout(ms(1), rt.handle());
    let err = rt.block_on(d).unwrap_err();
    assert!(err.is::<scheduler_deferred::TimedOut>());
}

#[test]
fn looping_call_on_runtime_stops_and_fires() {
    let rt = rt(2);
    let count = Arc::new(AtomicUsize::new(0));
    let slot: Arc<Mutex<Option<LoopingCall>>> = Arc::new(Mutex::new(None));
    let (c, s) = (count.clone(), slot.clone());
    let lc = LoopingCall::new(rt.handle().clone(), move || {
        if c.fetch_add(1, Ordering::SeqCst) + 1 == 5 {
            s.lock().unwrap().as_ref().unwrap().stop().unwrap();
        }
        Ok::<_, Failure>(())
    });
    *slot.lock().unwrap() = Some(lc.clone());
    let done = lc.start(ms(1), true).unwrap();
    let stopped = rt.block_on(done).unwrap();
    assert!(!stopped.running());
    assert_eq!(count.load(Ordering::SeqCst), 5);
    slot.lock().unwrap().take();
}

#[test]
fn looping_call_interval_zero_does_not_starve_other_tasks() {
    let rt = rt(1);
    let ticks = Arc::new(AtomicUsize::new(0));
    let t = ticks.clone();
    let lc = LoopingCall::new(rt.handle().clone(), move || {
        t.fetch_add(1, Ordering::SeqCst);
        Ok::<_, Failure>(())
    });
    let done = lc.start(Duration::ZERO, true).unwrap();
    // Another task still runs on the single worker while the loop spins (starvation would
    // hang here), and the loop goes on ticking after it: both make progress.
    let t2 = ticks.clone();
    let seen = rt.block_on(rt.spawn(async move { t2.load(Ordering::SeqCst) })).unwrap();
    assert!(seen >= 1, "the loop ran at start (now = true)");
    assert!(lc.running());
    while ticks.load(Ordering::SeqCst) < seen + 100 {
        std::thread::yield_now();
    }
    lc.stop().unwrap();
    rt.block_on(done).unwrap();
}

#[test]
fn priority_is_carried_by_calls() {
    let rt = rt(1);
    let (tx, rx) = mpsc::channel();
    let call = rt.handle().call_later_with(Priority::High, ms(1), move || tx.send(()).unwrap());
    assert_eq!(call.priority(), Priority::High);
    rx.recv().unwrap();
}

#[test]
fn a_high_call_runs_before_a_low_one_fired_earlier() {
    // One worker, held on a gate while the manual clock fires a Low call, then a High one:
    // released, the worker runs the High call's task first, though the Low one was queued
    // first (the call's priority is its task's class).
    let rt = Runtime::builder().worker_threads(1).clock(ManualClock::new()).build().unwrap();
    let h = rt.handle().clone();
    let order = Arc::new(Mutex::new(Vec::new()));
    let (o1, o2) = (order.clone(), order.clone());
    let _low = h.call_later_with(Priority::Low, ms(1), move || o1.lock().unwrap().push("low"));
    let _high = h.call_later_with(Priority::High, ms(2), move || o2.lock().unwrap().push("high"));
    let gate = Gate::default();
    let g = gate.clone();
    let held = rt.spawn_fn(move || g.wait()); // holds the only worker
    gate.wait_for_waiters(1);
    assert_eq!(h.advance(ms(1)), Some(1)); // the Low call's task is queued
    assert_eq!(h.advance(ms(1)), Some(1)); // then the High call's
    gate.open();
    rt.block_on(held).unwrap();
    while order.lock().unwrap().len() < 2 {
        std::thread::yield_now();
    }
    assert_eq!(*order.lock().unwrap(), ["high", "low"]);
}

#[test]
fn bad_float_delays_are_errors() {
    let rt = rt(1);
    for bad in [-0.5, f64::NAN, f64::INFINITY] {
        assert!(rt.handle().call_later_secs(bad, || {}).is_err());
    }
    let never = rt.call_later(Duration::MAX, || {});
    assert!(never.active());
    never.cancel().unwrap();
    assert_eq!(rt.handle().advance(ms(1)), None, "system clock cannot be advanced");
}

#[test]
fn shutdown_drops_pending_callbacks() {
    let rt = rt(2);
    let dropped = Arc::new(AtomicUsize::new(0));
    struct OnDrop(Arc<AtomicUsize>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let guard = OnDrop(dropped.clone());
            let h = rt.handle().clone(); // a handle captured by the callback: no cycle leak
            rt.call_later(Duration::from_secs(3600), move || {
                drop((guard, h));
            })
        })
        .collect();
    drop(rt);
    assert_eq!(dropped.load(Ordering::SeqCst), 100);
    assert!(calls.iter().all(|c| c.cancelled()));
}

#[test]
fn reactor_time_now_moves_forward() {
    let rt = rt(1);
    let a = ReactorTime::now(rt.handle());
    rt.block_on(rt.handle().sleep(ms(1)));
    assert!(ReactorTime::now(rt.handle()) > a);
}

#[test]
fn idle_worker_steals_timers_of_a_blocked_worker() {
    // Worker A inserts a timer into its own shard, then blocks (spins) until the call has run;
    // worker B, kept busy by a yielding task, fires A's overdue timer in its maintenance step.
    use std::sync::atomic::AtomicBool;
    let rt = rt(2);
    let done = Arc::new(AtomicBool::new(false));
    let ran_on = Arc::new(Mutex::new(None));
    let h = rt.handle().clone();
    let (d, r) = (done.clone(), ran_on.clone());
    let blocked = rt.spawn_fn(move || {
        let me = std::thread::current().id();
        let (d2, r2) = (d.clone(), r.clone());
        let _call = h.call_later(ms(1), move || {
            *r2.lock().unwrap() = Some(std::thread::current().id());
            d2.store(true, Ordering::SeqCst);
        });
        let give_up = Instant::now() + Duration::from_secs(20); // only against a hang
        while !d.load(Ordering::SeqCst) && Instant::now() < give_up {
            std::hint::spin_loop();
        }
        me
    });
    let d3 = done.clone();
    let busy = rt.spawn(async move {
        let give_up = Instant::now() + Duration::from_secs(20);
        while !d3.load(Ordering::SeqCst) && Instant::now() < give_up {
            scheduler_core::yield_now().await;
        }
    });
    let blocked_thread = rt.block_on(blocked).unwrap();
    rt.block_on(busy).unwrap();
    assert!(done.load(Ordering::SeqCst), "the call ran while its shard's worker was blocked");
    assert_ne!(*ran_on.lock().unwrap(), Some(blocked_thread));
}

#[test]
fn parked_worker_steals_timer_of_a_worker_blocked_after_inserting() {
    // Worker A inserts a timer into its own shard, then blocks; worker B is parked with no
    // deadline of its own. A's insert wakes B to re-read the deadlines, so B fires it.
    use std::sync::atomic::AtomicBool;
    let rt = rt(2);
    // Let both workers go idle first (B parks with nothing to wait for).
    rt.block_on(rt.spawn(async {})).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let ran_on = Arc::new(Mutex::new(None));
    let h = rt.handle().clone();
    let (d, r) = (done.clone(), ran_on.clone());
    let blocked = rt.spawn_fn(move || {
        let me = std::thread::current().id();
        // Give B time to park (if it has not, the test passes without exercising the wake-up;
        // it never fails because of this wait).
        std::thread::sleep(ms(20));
        let (d2, r2) = (d.clone(), r.clone());
        let _call = h.call_later(ms(2), move || {
            *r2.lock().unwrap() = Some(std::thread::current().id());
            d2.store(true, Ordering::SeqCst);
        });
        let give_up = Instant::now() + Duration::from_secs(5); // only against a hang
        while !d.load(Ordering::SeqCst) && Instant::now() < give_up {
            std::hint::spin_loop();
        }
        me
    });
    let blocked_thread = rt.block_on(blocked).unwrap();
    assert!(done.load(Ordering::SeqCst), "the call ran while its shard's worker was blocked");
    assert_ne!(*ran_on.lock().unwrap(), Some(blocked_thread));
}

#[test]
fn call_later_after_shutdown_is_born_cancelled() {
    let rt = rt(1);
    let h = rt.handle().clone();
    drop(rt);
    let call = h.call_later(ms(1), || panic!("never runs"));
    assert!(call.cancelled());
    assert_eq!(call.cancel(), Err(DelayedCallError::AlreadyCancelled));
    let d = defer_later(&h, ms(1), || Ok::<_, Failure>(()));
    let failure = d.take_result().unwrap().unwrap_err();
    assert!(failure.is::<scheduler_deferred::Cancelled>(), "its timer would never fire");
}

#[test]
fn advance_stepping_fires_each_call_at_its_deadline() {
    let clock = ManualClock::new();
    let rt = Runtime::builder().worker_threads(2).clock(clock.clone()).build().unwrap();
    let (tx, rx) = mpsc::channel();
    for d in [30u64, 10, 20] {
        let tx = tx.clone();
        let c = clock.clone();
        // The clock when the call runs is at least its deadline, and stepping never jumps
        // past the next deadline before firing it.
        let _call = rt.call_later(ms(d), move || tx.send((d, c.now())).unwrap());
    }
    // Calls run as tasks while `advance_stepping` continues, and workers also fire what is due
    // in their maintenance, so which thread fired each one and what time it reads later may
    // vary; the set fired and the final time are exact.
    assert!(rt.handle().advance_stepping(ms(25)).is_some());
    assert_eq!(clock.now(), ms(25));
    let mut got: Vec<(u64, Duration)> = (0..2).map(|_| rx.recv().unwrap()).collect();
    got.sort();
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [10, 20]);
    assert!(got.iter().all(|(d, seen)| *seen >= ms(*d)));
    assert!(rx.try_recv().is_err(), "the 30 ms call cannot run before the clock reads 30 ms");
    assert!(rt.handle().advance_stepping(ms(5)).is_some());
    assert_eq!(rx.recv().unwrap().0, 30);
    assert_eq!(rt.handle().advance_stepping(ms(1)), Some(0));
    assert_eq!(rt.handle().advance_stepping(Duration::ZERO), Some(0));
}

#[test]
fn bad_timer_tick_is_a_build_error() {
    let err = Runtime::builder().worker_threads(1).timer_tick(Duration::from_nanos(1)).build();
    assert_eq!(err.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    let ok = Runtime::builder().worker_threads(1).timer_tick(Duration::from_micros(100)).build();
    assert!(ok.is_ok());
}

#[test]
fn cooperator_on_the_runtime() {
    use scheduler_core::time::Cooperator;
    let rt = rt(2);
    let coop = Cooperator::new(rt.handle().clone());
    let sums = Arc::new(Mutex::new(Vec::new()));
    let done: Vec<_> = (0..4u64)
        .map(|k| {
            let sums = sums.clone();
            let mut acc = 0u64;
            coop.coiterate((0..1000u64).map(move |i| {
                acc += i * k;
                if i == 999 {
                    sums.lock().unwrap().push((k, acc));
                }
            }))
        })
        .collect();
    for d in done {
        rt.block_on(d).unwrap();
    }
    let mut sums = sums.lock().unwrap().clone();
    sums.sort_unstable();
    assert_eq!(sums, (0..4u64).map(|k| (k, k * 499_500)).collect::<Vec<_>>());
}
