//! Stress: a seeded random mix of nested spawns, yields, wake-ups across tasks, panics and
//! aborts; every handle resolves, nothing is lost or run twice, nothing leaks.

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
    std::panic::set_hook(Box::new(|_| {})); // the random panics are expected: keep stderr quiet
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
