//! Priority order under saturation, deterministic: the single worker is held inside a poll
//! while the queues fill, then released; the recorded run order must follow the documented
//! rule (High first; after 8 consecutive picks of a class, one pick starts a class lower).

mod common;
use common::Gate;
use scheduler_core::{Priority, Runtime};
use std::sync::{Arc, Mutex};

/// The documented bounded-share rule, as a reference model.
fn expected_order(mut counts: [usize; 3]) -> Vec<Priority> {
    const K: u32 = 8;
    let mut streak = [0u32; 2];
    let mut out = Vec::new();
    while counts.iter().any(|&c| c > 0) {
        let order: [usize; 3] = match (streak[0] >= K, streak[1] >= K) {
            (true, true) => [2, 1, 0],
            (true, false) => [1, 2, 0],
            (false, true) => [0, 2, 1],
            (false, false) => [0, 1, 2],
        };
        let class = order.into_iter().find(|&c| counts[c] > 0).unwrap();
        counts[class] -= 1;
        match class {
            0 => streak[0] += 1,
            1 => {
                streak[0] = 0;
                streak[1] += 1
            }
            _ => streak = [0, 0],
        }
        out.push(Priority::ALL[class]);
    }
    out
}

#[test]
fn higher_classes_run_first_and_lower_ones_get_a_bounded_share() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let gate = Gate::default();
    let g = gate.clone();
    let holder = rt.spawn_with(Priority::High, async move { g.wait() });
    gate.wait_for_waiters(1);
    let log = Arc::new(Mutex::new(Vec::new()));
    let counts = [100usize, 100, 100];
    let mut handles = Vec::new();
    // Interleave the spawns so submission order says nothing about class.
    for i in 0..100 {
        for p in [Priority::Low, Priority::Normal, Priority::High] {
            let log = log.clone();
            handles.push(rt.spawn_with(p, async move { log.lock().unwrap().push((p, i)) }));
        }
    }
    gate.open();
    rt.block_on(holder).unwrap();
    for h in handles {
        rt.block_on(h).unwrap();
    }
    let log = log.lock().unwrap();
    let classes: Vec<Priority> = log.iter().map(|(p, _)| *p).collect();
    // The holder was the first High pick of the worker: model it as one more High task.
    let expected = expected_order([counts[0] + 1, counts[1], counts[2]]);
    assert_eq!(classes, expected[1..]);
    // Each task ran exactly once. (Order within a class is FIFO per queue, but the periodic
    // injector-first check may take a newer injector task ahead of a batch already moved to the
    // local deque, so it is not asserted.)
    for p in Priority::ALL {
        let mut seq: Vec<usize> = log.iter().filter(|(q, _)| *q == p).map(|(_, i)| *i).collect();
        seq.sort_unstable();
        assert_eq!(seq, (0..100).collect::<Vec<_>>());
    }
    // The documented bound: in the first 90 picks (High saturated) the lower classes got >= 10.
    let lower = classes[..90].iter().filter(|&&p| p != Priority::High).count();
    assert!(lower >= 10, "{lower}");
    // And Low runs within the first (K + 1)^2 = 81 picks of the worker (holder included).
    assert!(expected[..81].contains(&Priority::Low));
}

#[test]
fn tasks_spawned_on_a_worker_keep_their_class() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let out = rt.spawn(async move {
        let h = scheduler_core::Handle::current();
        let mut hs = Vec::new();
        for p in [Priority::Low, Priority::Normal, Priority::High] {
            let l = l.clone();
            hs.push(h.spawn_with(p, async move { l.lock().unwrap().push(p) }));
        }
        for jh in hs {
            jh.await.unwrap();
        }
    });
    rt.block_on(out).unwrap();
    assert_eq!(*log.lock().unwrap(), vec![Priority::High, Priority::Normal, Priority::Low]);
}

/// Two workers, deterministic: worker B queues High tasks in its own deque and stays blocked;
/// Low tasks wait in the injector. Worker A, released, must take B's High tasks (stealing
/// them) before the Low ones, following the bounded-share rule exactly.
#[test]
fn priority_holds_across_workers() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let (gate_a, gate_b1, gate_b2, spawned) =
        (Gate::default(), Gate::default(), Gate::default(), Gate::default());
    let log = Arc::new(Mutex::new(Vec::new()));
    let ga = gate_a.clone();
    let holder_a = rt.spawn_with(Priority::High, async move { ga.wait() });
    let (gb1, gb2, sp, l) = (gate_b1.clone(), gate_b2.clone(), spawned.clone(), log.clone());
    let holder_b = rt.spawn_with(Priority::High, async move {
        gb1.wait();
        let h = scheduler_core::Handle::current();
        let highs: Vec<_> = (0..20)
            .map(|_| {
                let l = l.clone();
                h.spawn_with(Priority::High, async move {
                    l.lock().unwrap().push((Priority::High, std::thread::current().id()))
                })
            })
            .collect();
        sp.wait(); // counts as "spawned"; the test opened it already
        gb2.wait();
        highs
    });
    gate_a.wait_for_waiters(1);
    gate_b1.wait_for_waiters(1);
    let lows: Vec<_> = (0..20)
        .map(|_| {
            let l = log.clone();
            rt.spawn_with(Priority::Low, async move {
                l.lock().unwrap().push((Priority::Low, std::thread::current().id()))
            })
        })
        .collect();
    spawned.open();
    gate_b1.open();
    spawned.wait_for_waiters(1); // B has queued its 20 High tasks and is about to block
    gate_b2.wait_for_waiters(1);
    gate_a.open(); // A runs everything while B stays blocked
    rt.block_on(holder_a).unwrap();
    for jh in lows {
        rt.block_on(jh).unwrap();
    }
    gate_b2.open();
    for jh in rt.block_on(holder_b).unwrap() {
        rt.block_on(jh).unwrap();
    }
    let log = log.lock().unwrap();
    let runner = log[0].1;
    assert!(log.iter().all(|(_, t)| *t == runner), "B was blocked: A ran everything");
    // A's holder was its first High pick: model it as one more High.
    let expected = expected_order([21, 0, 20]);
    let classes: Vec<Priority> = log.iter().map(|(p, _)| *p).collect();
    assert_eq!(classes, expected[1..]);
}
