//! Behaviour of one shard through its owner and remote handles.

use scheduler_timers::{timer_overhead_bytes, TimerConfig, TimerError, TimerShard, Wake};
use std::time::Duration;

const MS: u64 = 1_000_000;

fn shard() -> TimerShard<u32> {
    TimerShard::new(0, TimerConfig::default())
}

fn fire(shard: &TimerShard<u32>, now: u64) -> Vec<u32> {
    let mut out = Vec::new();
    let _ = shard.fire_due(now, |id| out.push(id));
    out
}

#[test]
fn fires_in_deadline_then_insertion_order_and_never_early() {
    let s = shard();
    s.insert(5 * MS + 7, 1).unwrap();
    s.insert(5 * MS + 3, 2).unwrap();
    s.insert(5 * MS + 3, 3).unwrap();
    s.insert(2 * MS, 4).unwrap();
    assert_eq!(fire(&s, 2 * MS - 1), Vec::<u32>::new());
    assert_eq!(fire(&s, 2 * MS), vec![4]);
    assert_eq!(fire(&s, 5 * MS + 3), vec![2, 3]);
    assert_eq!(fire(&s, 5 * MS + 6), Vec::<u32>::new());
    assert_eq!(fire(&s, 5 * MS + 7), vec![1]);
}

#[test]
fn equal_deadlines_fire_fifo_even_across_levels() {
    let s = shard();
    let deadline = 3_600_000 * MS; // one hour: level 3
    for id in 0..100 {
        s.insert(deadline, id).unwrap();
    }
    assert_eq!(fire(&s, deadline), (0..100).collect::<Vec<_>>());
}

#[test]
fn sub_tick_deadlines_fire_exactly() {
    let config = TimerConfig::default().with_tick(Duration::from_micros(100)).unwrap();
    let s = TimerShard::new(0, config);
    s.insert(250_000, 1).unwrap();
    s.insert(120_000, 2).unwrap();
    let mut out = Vec::new();
    let pass = s.fire_due(200_000, |id| out.push(id));
    assert_eq!((out.clone(), pass.next_deadline), (vec![2], Some(250_000)));
    let _ = s.fire_due(250_000, |id| out.push(id));
    assert_eq!(out, vec![2, 1]);
}

#[test]
fn cancel_prevents_firing_and_reports_errors() {
    let s = shard();
    let a = s.insert(MS, 1).unwrap();
    let b = s.insert(MS, 2).unwrap();
    s.cancel(a).unwrap();
    assert_eq!(s.cancel(a), Err(TimerError::AlreadyCancelled));
    assert_eq!(fire(&s, MS), vec![2]);
    assert_eq!(s.cancel(b), Err(TimerError::AlreadyFired));
    assert_eq!(s.reset(b, 5 * MS), Err(TimerError::AlreadyFired));
    // Reuse the slots: the old keys become stale.
    s.insert(MS, 3).unwrap();
    s.insert(MS, 4).unwrap();
    assert_eq!(s.cancel(a), Err(TimerError::Stale));
    assert_eq!(s.cancel(b), Err(TimerError::Stale));
    let other = TimerShard::<u32>::new(1, TimerConfig::default());
    let foreign = other.insert(MS, 9).unwrap();
    assert_eq!(s.cancel(foreign), Err(TimerError::WrongShard));
}

#[test]
fn reset_later_and_earlier() {
    let s = shard();
    let a = s.insert(10 * MS, 1).unwrap();
    let b = s.insert(20 * MS, 2).unwrap();
    s.reset(a, 30 * MS).unwrap(); // later: lazy
    s.reset(b, 5 * MS).unwrap(); // earlier: re-filed
    assert_eq!(s.deadline(a), Ok(30 * MS));
    assert_eq!(fire(&s, 10 * MS), vec![2]);
    assert_eq!(fire(&s, 29 * MS), Vec::<u32>::new());
    assert_eq!(fire(&s, 30 * MS), vec![1]);
}

#[test]
fn reset_keeps_insertion_order_among_equal_deadlines() {
    let s = shard();
    let a = s.insert(10 * MS, 1).unwrap();
    s.insert(20 * MS, 2).unwrap();
    s.reset(a, 20 * MS).unwrap();
    assert_eq!(fire(&s, 20 * MS), vec![1, 2]);
}

#[test]
fn extreme_deadlines_are_accepted_and_fire_in_order() {
    let s = shard();
    s.insert(u64::MAX, 1).unwrap();
    s.insert(u64::MAX - 1, 2).unwrap();
    s.insert(u64::MAX, 3).unwrap();
    s.insert(1 << 62, 4).unwrap();
    s.insert(0, 5).unwrap();
    assert_eq!(fire(&s, 0), vec![5]);
    assert_eq!(s.earliest_deadline(), Ok(Some(1 << 62)));
    assert_eq!(fire(&s, u64::MAX - 2), vec![4]);
    assert_eq!(fire(&s, u64::MAX), vec![2, 1, 3]);
    let d = scheduler_timers::deadline_after(5, Duration::MAX);
    assert_eq!(d, u64::MAX);
}

#[test]
fn overflow_entries_are_refiled_as_time_advances() {
    // 2 levels of 64 slots at 1 ms: the wheel spans 4096 ms; later deadlines overflow.
    let config = TimerConfig::default().with_levels(2).unwrap();
    let s = TimerShard::new(0, config);
    for (i, secs) in [10_000u64, 5, 100, 4_097, 4_096, 70_000].iter().enumerate() {
        s.insert(secs * MS, i as u32).unwrap();
    }
    let mut out = Vec::new();
    for t in (0..=70_000).step_by(997) {
        let _ = s.fire_due(t * MS, |id| out.push(id));
    }
    let _ = s.fire_due(70_000 * MS, |id| out.push(id));
    assert_eq!(out, vec![1, 2, 4, 3, 0, 5]);
}

#[test]
fn time_going_backwards_is_tolerated() {
    let s = shard();
    s.insert(10 * MS, 1).unwrap();
    s.insert(20 * MS, 2).unwrap();
    assert_eq!(fire(&s, 15 * MS), vec![1]);
    assert_eq!(fire(&s, 3 * MS), Vec::<u32>::new());
    s.insert(5 * MS, 3).unwrap();
    assert_eq!(fire(&s, 4 * MS), Vec::<u32>::new());
    assert_eq!(fire(&s, 5 * MS), vec![3]);
    assert_eq!(fire(&s, 20 * MS), vec![2]);
}

#[test]
fn callbacks_may_insert_into_the_same_shard_and_due_ones_fire_in_the_pass() {
    let s = std::rc::Rc::new(TimerShard::<u32>::new(0, TimerConfig::default()));
    s.insert(MS, 1).unwrap();
    let mut out = Vec::new();
    let s2 = s.clone();
    let _ = s.fire_due(10 * MS, |id| {
        out.push(id);
        if id == 1 {
            s2.insert(2 * MS, 2).unwrap();
            s2.insert(11 * MS, 3).unwrap();
        }
    });
    assert_eq!(out, vec![1, 2]);
    assert_eq!(s.next_deadline(), Some(11 * MS));
}

#[test]
fn remote_handle_inserts_cancels_resets_and_reports_wake() {
    let s = shard();
    let r = s.remote();
    let (a, wake) = r.insert(10 * MS, 1).unwrap();
    assert_eq!(wake, Wake::Owner); // nothing was published
    let (_, wake) = r.insert(20 * MS, 2).unwrap();
    assert_eq!(wake, Wake::NotNeeded);
    let (c, _) = r.insert(30 * MS, 3).unwrap();
    r.cancel(c).unwrap();
    assert_eq!(r.cancel(c), Err(TimerError::AlreadyCancelled));
    assert_eq!(r.reset(a, 5 * MS), Ok(Wake::Owner));
    assert_eq!(r.reset(a, 6 * MS), Ok(Wake::NotNeeded));
    assert_eq!(fire(&s, 30 * MS), vec![1, 2]);
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn remote_inserts_keep_their_order_and_interleave_fifo_with_owner_inserts() {
    let s = shard();
    let r = s.remote();
    let _ = r.insert(MS, 1).unwrap();
    s.insert(MS, 2).unwrap();
    let _ = r.insert(MS, 3).unwrap();
    let _ = r.insert(MS, 4).unwrap();
    assert_eq!(fire(&s, MS), vec![1, 2, 3, 4]);
}

#[test]
fn stealing_fires_overdue_timers_in_order() {
    let s = shard();
    let r = s.remote();
    for id in 0..5 {
        s.insert((5 - u64::from(id)) * MS, id).unwrap();
    }
    assert!(r.is_overdue(MS));
    let mut out = Vec::new();
    let pass = r.steal_expired(3 * MS, usize::MAX, |id| out.push(id)).unwrap();
    assert_eq!((out, pass.fired), (vec![4, 3, 2], 3));
    let mut out = Vec::new();
    let pass = r.steal_expired(10 * MS, 1, |id| out.push(id)).unwrap();
    assert_eq!((out, pass.fired), (vec![1], 1));
    assert_eq!(fire(&s, 10 * MS), vec![0]);
}

#[test]
fn owner_churn_of_far_future_timers_keeps_constant_memory() {
    let s = shard();
    for i in 0..200_000u64 {
        let k = s.insert(3_600_000 * MS + i, 0).unwrap();
        s.cancel(k).unwrap();
    }
    assert!(s.slab_len() <= 32, "slab grew to {}", s.slab_len()); // one growth chunk
}

#[test]
fn remote_churn_of_far_future_timers_keeps_constant_memory() {
    let s = shard();
    let r = s.remote();
    for i in 0..200_000u64 {
        let (k, _) = r.insert(3_600_000 * MS + i, 0).unwrap();
        r.cancel(k).unwrap();
    }
    assert!(s.slab_len() <= 2, "slab grew to {}", s.slab_len());
    assert_eq!(s.due_heap_len(), Some(0));
}

#[test]
fn remote_inserts_fired_by_the_owner_keep_constant_memory() {
    let s = shard();
    let r = s.remote();
    for i in 0..100_000u64 {
        let _ = r.insert(i, 0).unwrap();
        let _ = s.fire_due(i, drop);
    }
    assert!(s.slab_len() <= 64, "slab grew to {}", s.slab_len());
}

#[test]
fn cancelled_payloads_are_dropped_exactly_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let s = TimerShard::new(0, TimerConfig::default());
    let r = s.remote();
    let a = s.insert(MS, Counted(drops.clone())).unwrap();
    let (b, _) = r.insert(MS, Counted(drops.clone())).unwrap();
    s.insert(MS, Counted(drops.clone())).unwrap();
    s.insert(9 * MS, Counted(drops.clone())).unwrap();
    s.cancel(a).unwrap();
    r.cancel(b).unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let _ = s.fire_due(MS, drop);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    drop(r);
    drop(s);
    assert_eq!(drops.load(Ordering::SeqCst), 4);
}

#[test]
fn overhead_per_timer_is_at_most_64_bytes() {
    let overhead = timer_overhead_bytes::<Box<dyn FnOnce()>>();
    assert_eq!(overhead, 48, "documented in the crate docs");
    assert!(timer_overhead_bytes::<u64>() <= 64);
    assert_eq!(timer_overhead_bytes::<std::task::Waker>(), overhead);
}

#[test]
fn config_rejects_bad_ticks_and_levels() {
    assert!(TimerConfig::default().with_tick(Duration::from_micros(99)).is_err());
    assert!(TimerConfig::default().with_tick(Duration::from_secs(2)).is_err());
    assert!(TimerConfig::default().with_levels(0).is_err());
    assert!(TimerConfig::default().with_levels(9).is_err());
}

#[test]
fn handles_are_send_and_sync_as_documented() {
    fn send<S: Send>() {}
    fn sync<S: Sync>() {}
    send::<TimerShard<u32>>();
    send::<scheduler_timers::RemoteShard<u32>>();
    sync::<scheduler_timers::RemoteShard<u32>>();
    assert_eq!(std::mem::size_of::<scheduler_timers::TimerKey>(), 12);
}

#[test]
fn crossing_the_top_level_boundary_neither_wraps_nor_fires_early() {
    // tokio #8334: a deadline just past the top level's span, after the wheel has advanced
    // close to the boundary. 2 levels of 64 slots: the span is 4096 ticks of 2^20 ns.
    let config = TimerConfig::default().with_levels(2).unwrap();
    let tick = config.tick_ns();
    let s = TimerShard::new(0, config);
    assert_eq!(fire(&s, 4090 * tick), Vec::<u32>::new());
    s.insert(4100 * tick, 1).unwrap(); // next top-level block: overflow
    s.insert(4095 * tick + 5, 2).unwrap(); // this block, level 0
    s.insert(8192 * tick + 1, 3).unwrap(); // two blocks ahead
    assert_eq!(s.earliest_deadline(), Ok(Some(4095 * tick + 5)));
    assert_eq!(fire(&s, 4095 * tick + 4), Vec::<u32>::new());
    assert_eq!(fire(&s, 4099 * tick), vec![2]);
    assert_eq!(fire(&s, 4100 * tick - 1), Vec::<u32>::new());
    assert_eq!(fire(&s, 8192 * tick), vec![1]);
    assert_eq!(fire(&s, 8192 * tick + 1), vec![3]);
}

#[test]
fn a_later_timer_in_a_slot_does_not_hide_an_earlier_one_at_cascade_boundaries() {
    // glommio PR #44 review: entries sharing a coarse slot, the later one inserted first, and
    // deadlines a nanosecond either side of tick boundaries.
    let s = shard();
    let tick = TimerConfig::default().tick_ns();
    let base = 64 * 64 * tick; // start of a level-2 slot
    s.insert(base + 70 * tick, 1).unwrap();
    s.insert(base + tick - 1, 2).unwrap();
    s.insert(base + tick, 3).unwrap();
    s.insert(base - 1, 4).unwrap();
    assert_eq!(s.earliest_deadline(), Ok(Some(base - 1)));
    assert_eq!(fire(&s, base - 1), vec![4]);
    assert_eq!(s.earliest_deadline(), Ok(Some(base + tick - 1)));
    assert_eq!(fire(&s, base + tick), vec![2, 3]);
    assert_eq!(fire(&s, base + 70 * tick), vec![1]);
}

#[test]
fn earliest_deadline_agrees_with_what_fires_next() {
    // tokio #8402: peek and poll must agree.
    let s = shard();
    for (i, d) in [900, 5, 77_000, 5, 4_096_000_000, 3].iter().enumerate() {
        s.insert(d * MS, i as u32).unwrap();
    }
    let mut order = Vec::new();
    while let Ok(Some(next)) = s.earliest_deadline() {
        let fired = fire(&s, next);
        assert!(!fired.is_empty(), "nothing fired at the announced deadline {next}");
        assert_eq!(fire(&s, next), Vec::<u32>::new());
        order.extend(fired);
    }
    assert_eq!(order, vec![5, 1, 3, 0, 2, 4]);
}

#[test]
fn remote_direct_path_files_at_once_and_reclaims_at_once() {
    let s = shard();
    let r = s.remote();
    let (a, wake) = r.insert_direct(5 * MS, 1).unwrap();
    assert_eq!(wake, Wake::Owner);
    let (b, wake) = r.insert_direct(9 * MS, 2).unwrap();
    assert_eq!(wake, Wake::NotNeeded);
    r.cancel_direct(a).unwrap();
    assert_eq!(r.cancel_direct(a), Err(TimerError::AlreadyCancelled));
    let len = s.slab_len();
    for i in 0..1000 {
        let (k, _) = r.insert_direct(10 * MS + i, 0).unwrap();
        r.cancel_direct(k).unwrap();
    }
    assert_eq!(s.slab_len(), len);
    assert_eq!(fire(&s, 9 * MS), vec![2]);
    assert_eq!(r.cancel_direct(b), Err(TimerError::AlreadyFired));
}

#[test]
fn a_session_inserts_cancels_and_resets_like_the_one_shot_methods() {
    let s = shard();
    let remote = s.remote();
    let mut session = s.session().unwrap();
    let (a, wake) = session.insert(5 * MS, 1).unwrap();
    assert_eq!(wake, Wake::Owner, "first deadline lowers the published one");
    let (b, wake) = session.insert(6 * MS, 2).unwrap();
    assert_eq!(wake, Wake::NotNeeded);
    let (c, _) = session.insert(7 * MS, 3).unwrap();
    // A remote insert during the session goes through the inbox; the session's next insert
    // drains it first, so it keeps its place (seq) before that insert.
    let _ = remote.insert(5 * MS, 4).unwrap();
    let _ = session.insert(5 * MS, 5).unwrap();
    // Remote inserts not yet drained: the session cancels / resets them in the inbox.
    let (queued, _) = remote.insert(MS, 6).unwrap();
    session.cancel(queued).unwrap();
    let (moved, _) = remote.insert(MS, 7).unwrap();
    assert_eq!(session.reset(moved, 8 * MS), Ok(Wake::NotNeeded));
    session.cancel(b).unwrap();
    assert_eq!(session.cancel(b), Err(TimerError::AlreadyCancelled));
    assert_eq!(session.reset(c, MS / 2), Ok(Wake::Owner)); // earlier: re-filed at once
    assert_eq!(session.reset(a, 9 * MS), Ok(Wake::NotNeeded)); // later: lazy
    assert_eq!(session.reset(b, 9 * MS), Err(TimerError::AlreadyCancelled));
    let other = TimerShard::<u32>::new(1, TimerConfig::default());
    let foreign = other.insert(MS, 9).unwrap();
    assert_eq!(session.cancel(foreign), Err(TimerError::WrongShard));
    // While the session holds the expiry right, stealing and fire_due find the shard busy.
    assert!(remote.steal_expired(u64::MAX, usize::MAX, |_| {}).is_err());
    assert_eq!(s.fire_due(u64::MAX, |_| {}).fired, 0);
    assert!(s.session().is_err() && remote.session_direct().is_err());
    drop(session);
    assert_eq!(s.next_deadline(), Some(MS / 2));
    assert_eq!(fire(&s, 8 * MS), vec![3, 4, 5, 7]);
    assert_eq!(fire(&s, 9 * MS), vec![1]);
    let mut session = remote.session_direct().unwrap();
    assert_eq!(session.cancel(a), Err(TimerError::AlreadyFired));
    assert_eq!(session.reset(a, MS), Err(TimerError::AlreadyFired));
}

#[test]
fn one_shot_operations_during_a_session_take_the_inbox_path() {
    let s = shard();
    let early = s.insert(3 * MS, 1).unwrap();
    let session = s.session().unwrap();
    let late = s.insert(2 * MS, 2).unwrap(); // right taken: through the inbox
    s.cancel(early).unwrap(); // a CAS and an inbox push
    s.reset(late, 4 * MS).unwrap();
    drop(session);
    assert_eq!(fire(&s, 3 * MS), Vec::<u32>::new());
    assert_eq!(fire(&s, 4 * MS), vec![2]);
}

#[test]
fn session_cancel_drops_the_payload_before_returning_and_churn_keeps_constant_memory() {
    use std::rc::Rc;
    let s: TimerShard<Rc<()>> = TimerShard::new(0, TimerConfig::default());
    let token = Rc::new(());
    let mut session = s.session().unwrap();
    for round in 0..50u64 {
        let keys: Vec<_> = (0..100u64)
            .map(|i| session.insert((round * 100 + i) * 1_000_000_007 % (1 << 40), token.clone()))
            .map(|r| r.unwrap().0)
            .collect();
        assert_eq!(Rc::strong_count(&token), 101);
        for key in keys {
            session.cancel(key).unwrap();
        }
        assert_eq!(Rc::strong_count(&token), 1);
    }
    drop(session);
    assert!(s.slab_len() <= 128, "slab grew to {}", s.slab_len());
    assert_eq!(s.pending_deadlines(), Vec::<u64>::new());
}
