//! The deterministic runtime: instant virtual time, exact replay for a seed.

use scheduler_core::time::{self, LoopingCall};
use scheduler_core::{DeterministicRuntime, Stalled};
use scheduler_deferred::{Deferred, Failure};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

/// Ten tasks that each sleep a few times and log their steps; returns the log.
fn interleaving(seed: u64) -> Vec<(u32, u32)> {
    let rt = DeterministicRuntime::new(seed);
    let log = Rc::new(RefCell::new(Vec::new()));
    for t in 0..10u32 {
        let log = log.clone();
        drop(rt.spawn(async move {
            for step in 0..3u32 {
                log.borrow_mut().push((t, step));
                time::sleep(ms(u64::from(step))).await;
            }
        }));
    }
    rt.advance(ms(100));
    assert_eq!(rt.live_tasks(), 0);
    let out = log.borrow().clone();
    out
}

#[test]
fn same_seed_replays_exactly() {
    assert_eq!(interleaving(42), interleaving(42));
    let runs: Vec<_> = (0..8).map(interleaving).collect();
    assert!(runs.iter().any(|r| *r != runs[0]), "different seeds give different orders");
}

#[test]
fn advance_steps_deadline_by_deadline() {
    let rt = DeterministicRuntime::new(1);
    let seen = Rc::new(RefCell::new(Vec::new()));
    for d in [30u64, 10, 20] {
        let seen = seen.clone();
        let reactor = rt.reactor().clone();
        drop(rt.spawn(async move {
            time::sleep(ms(d)).await;
            seen.borrow_mut().push((d, reactor.now()));
        }));
    }
    rt.advance(ms(25));
    assert_eq!(*seen.borrow(), [(10, ms(10)), (20, ms(20))]);
    rt.advance(ms(5));
    assert_eq!(seen.borrow().len(), 3);
    assert_eq!(rt.now(), ms(30));
}

#[test]
fn block_on_reports_stall() {
    let rt = DeterministicRuntime::new(3);
    let never = Deferred::<()>::new();
    assert_eq!(rt.block_on(never.clone()).unwrap_err(), Stalled);
    never.callback(()).unwrap();
}

#[test]
fn timeout_and_call_later_on_virtual_time() {
    let rt = DeterministicRuntime::new(5);
    let r = rt.block_on(async { time::timeout(ms(10), time::sleep(ms(1000))).await }).unwrap();
    assert!(r.is_err());
    assert_eq!(rt.now(), ms(10));
    let hits = Arc::new(Mutex::new(0));
    let h = hits.clone();
    let _call = rt.call_later(ms(5), move || *h.lock().unwrap() += 1);
    rt.advance(ms(5));
    assert_eq!(*hits.lock().unwrap(), 1);
}

#[test]
fn looping_call_on_deterministic_runtime() {
    let rt = DeterministicRuntime::new(9);
    let ticks = Arc::new(Mutex::new(Vec::new()));
    let (t, clock) = (ticks.clone(), rt.reactor().clone());
    let lc = LoopingCall::new(rt.reactor().clone(), move || {
        t.lock().unwrap().push(clock.now());
        Ok::<_, Failure>(())
    });
    let done = lc.start(ms(100), false).unwrap();
    rt.advance(ms(350));
    lc.stop().unwrap();
    assert_eq!(*ticks.lock().unwrap(), [ms(100), ms(200), ms(300)]);
    assert!(rt.block_on(done).unwrap().is_ok());
}

#[test]
fn tasks_spawn_tasks_and_await_them() {
    let rt = DeterministicRuntime::new(11);
    let inner_rt = rt.clone();
    let out = rt
        .block_on(async move {
            let children: Vec<_> = (0..5u64)
                .map(|i| {
                    inner_rt.spawn(async move {
                        time::sleep(ms(10 * (5 - i))).await;
                        i * i
                    })
                })
                .collect();
            let mut total = 0;
            for c in children {
                total += c.await;
            }
            total
        })
        .unwrap();
    assert_eq!(out, 30);
    assert_eq!(rt.now(), ms(50));
    assert_eq!(rt.live_tasks(), 0);
}
