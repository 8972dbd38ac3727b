//! Property test: `LoopingCall::with_count` on a `ManualReactor` against a direct model of
//! Twisted's rules (`task.py` `_scheduleFrom` and `withCount`): calls land on the grid
//! `start + k * interval`, strictly after the previous call; missed intervals are skipped and
//! counted; `now = true` calls at once with count 1.

use proptest::prelude::*;
use scheduler_core::time::{LoopingCall, ManualReactor};
use scheduler_deferred::Failure;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The expected `(time, count)` of every call, in ns, for advances `steps` (ns each).
fn model(interval: u64, now: bool, steps: &[u64]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let start = 0u64;
    let mut last: i128 = if now { -(interval as i128) } else { 0 };
    let mut next = if now {
        out.push((0, 1));
        last = 0;
        interval
    } else {
        interval
    };
    let mut t = 0u64;
    for &s in steps {
        t += s;
        if next <= t {
            let count = ((t - start) / interval) as i128 - last / interval as i128;
            out.push((t, count as u64));
            last = t as i128;
            next = t - t % interval + interval; // first grid point strictly after t
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn looping_call_matches_twisted_model(
        interval_ms in 1u64..50,
        now in any::<bool>(),
        steps_ms in prop::collection::vec(0u64..200, 1..40),
    ) {
        let ms = 1_000_000u64;
        let clock = ManualReactor::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, c) = (seen.clone(), clock.clone());
        let lc = LoopingCall::with_count(clock.clone(), move |n| {
            s.lock().unwrap().push((c.now().as_nanos() as u64, n));
            Ok::<_, Failure>(())
        });
        let _done = lc.start(Duration::from_millis(interval_ms), now).unwrap();
        for &step in &steps_ms {
            clock.advance(Duration::from_millis(step));
        }
        lc.stop().unwrap();
        let steps: Vec<u64> = steps_ms.iter().map(|s| s * ms).collect();
        let expected = model(interval_ms * ms, now, &steps);
        prop_assert_eq!(seen.lock().unwrap().clone(), expected);
        prop_assert!(clock.pending_calls().is_empty());
    }
}
