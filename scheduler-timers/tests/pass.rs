//! The expiry pass (`RemoteShard::expire_pass`): one hold of the expiry right for a whole
//! manual-clock advance, lent to the callbacks' own operations on the shard.

use scheduler_timers::{RemoteShard, ShardBusy, TimerConfig, TimerShard};
use std::panic::{catch_unwind, AssertUnwindSafe};

const MS: u64 = 1_000_000;

fn shard() -> (TimerShard<u32>, RemoteShard<u32>) {
    let owner = TimerShard::new(0, TimerConfig::default());
    let remote = owner.remote();
    (owner, remote)
}

#[test]
fn a_callback_rearms_through_the_lent_right_and_due_timers_fire_in_the_same_pass() {
    let (owner, remote) = shard();
    let _ = remote.insert_direct(MS, 1).unwrap();
    let _ = remote.insert_direct(MS, 2).unwrap();
    let mut fired = Vec::new();
    let n = remote
        .expire_pass(MS, |id| {
            fired.push(id);
            if id < 10 {
                // Re-armed due (fires in this pass, after the timers already due) and later.
                let _ = remote.insert_direct(MS, id + 10).unwrap();
                let _ = remote.insert_direct(2 * MS, id + 20).unwrap();
            }
        })
        .unwrap();
    assert_eq!(fired, [1, 2, 11, 12]);
    assert_eq!(n, 4);
    // The lent inserts were filed at once: nothing waits in the inbox, no slot was lost.
    assert_eq!(owner.pending_deadlines(), [2 * MS, 2 * MS]);
    fired.clear();
    assert_eq!(remote.expire_pass(2 * MS, |id| fired.push(id)), Ok(2));
    assert_eq!(fired, [21, 22]);
    assert_eq!(remote.earliest_deadline(), Ok(None));
}

#[test]
fn a_callback_may_cancel_reset_query_and_nest_but_not_open_a_session() {
    let (owner, remote) = shard();
    let _ = remote.insert_direct(MS, 1).unwrap();
    let (victim, _) = remote.insert_direct(5 * MS, 2).unwrap();
    let (moved, _) = remote.insert_direct(9 * MS, 3).unwrap();
    let mut fired = Vec::new();
    let mut nested = Vec::new();
    remote
        .expire_pass(MS, |id| {
            fired.push(id);
            owner.cancel(victim).unwrap();
            owner.reset(moved, MS).unwrap();
            assert_eq!(remote.earliest_deadline(), Ok(Some(MS)));
            assert!(remote.session_direct().is_err(), "a session never borrows the right");
            // A nested pass borrows the right for its whole run.
            assert_eq!(remote.expire_pass(MS, |id| nested.push(id)), Ok(1));
        })
        .unwrap();
    assert_eq!((fired, nested), (vec![1], vec![3]));
    assert_eq!(owner.pending_deadlines(), Vec::<u64>::new());
    assert!(remote.session_direct().is_ok(), "the right is free after the pass");
}

#[test]
fn other_threads_find_the_shard_busy_and_their_inserts_fire_in_the_pass() {
    let (_owner, remote) = shard();
    let _ = remote.insert_direct(MS, 1).unwrap();
    let mut fired = Vec::new();
    remote
        .expire_pass(MS, |id| {
            fired.push(id);
            if id == 1 {
                let other = remote.clone();
                std::thread::spawn(move || {
                    assert_eq!(other.expire_pass(MS, drop).unwrap_err(), ShardBusy);
                    assert!(other.earliest_deadline().is_err());
                    let _ = other.insert_direct(MS, 2).unwrap(); // through the inbox
                })
                .join()
                .unwrap();
            }
        })
        .unwrap();
    assert_eq!(fired, [1, 2]);
}

#[test]
fn a_panicking_callback_releases_the_right_and_stops_lending() {
    let (owner, remote) = shard();
    let _ = remote.insert_direct(MS, 1).unwrap();
    let _ = remote.insert_direct(MS, 2).unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| remote.expire_pass(MS, |_| panic!("boom"))));
    assert!(r.is_err());
    assert!(remote.session_direct().is_ok(), "released by the unwind");
    // Another thread now holds the right: this thread's operations no longer borrow it.
    let (held, release) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
    let other = remote.clone();
    let t = std::thread::spawn(move || {
        let _session = other.session_direct().unwrap();
        held.0.send(()).unwrap();
        release.1.recv().unwrap();
    });
    held.1.recv().unwrap();
    let _ = remote.insert_direct(3 * MS, 3).unwrap(); // inbox, not the other thread's wheel
    release.0.send(()).unwrap();
    t.join().unwrap();
    assert_eq!(owner.pending_deadlines(), [MS, 3 * MS]);
    let mut fired = Vec::new();
    assert_eq!(remote.expire_pass(3 * MS, |id| fired.push(id)), Ok(2));
    assert_eq!(fired, [2, 3]);
}

/// A periodic timer re-armed by its own callback (`rearm_direct` with the fired key) takes
/// the fired slot again: same index, next generation, the old key stale, the slab never grows,
/// and it fires exactly once per period.
#[test]
fn a_callback_rearming_its_own_timer_reuses_the_fired_slot() {
    let (owner, remote) = shard();
    let (first, _) = remote.insert_direct(MS, 0).unwrap();
    let slab = owner.slab_len();
    let mut key = first;
    let periods = 100_000u32;
    for period in 1..=u64::from(periods) {
        let mut fired = 0;
        let n = remote
            .expire_pass(period * MS, |id| {
                fired += 1;
                let (next, _) = remote.rearm_direct(key, (period + 1) * MS, id + 1).unwrap();
                assert_eq!(next.index(), key.index(), "re-armed in place");
                assert_eq!(next.generation(), key.generation() + 1);
                key = next;
            })
            .unwrap();
        assert_eq!((n, fired), (1, 1), "period {period}");
    }
    assert_eq!(owner.slab_len(), slab, "no slot was taken besides the fired one");
    assert_eq!(owner.deadline(first), Err(scheduler_timers::TimerError::Stale));
    assert_eq!(owner.pending_deadlines(), [(u64::from(periods) + 1) * MS]);
    let mut last = None;
    assert_eq!(remote.expire_pass(u64::MAX, |id| last = Some(id)), Ok(1));
    assert_eq!(last, Some(periods));
}

/// Without a held-back slot for the key (outside a pass, from another timer's callback, a
/// key that was already re-armed), `rearm_direct` is a plain `insert_direct`; a re-armed
/// timer goes behind the timers already pending at its deadline.
#[test]
fn rearm_direct_without_the_fired_slot_is_an_insert_and_takes_a_new_place_in_order() {
    let (owner, remote) = shard();
    let (pending, _) = remote.insert_direct(5 * MS, 100).unwrap();
    // Outside a pass: a fresh slot, the pending timer untouched.
    let (other, _) = remote.rearm_direct(pending, 5 * MS, 101).unwrap();
    assert_ne!(other.index(), pending.index());
    assert_eq!(owner.deadline(pending), Ok(5 * MS));
    let (a, _) = remote.insert_direct(MS, 1).unwrap();
    let (b, _) = remote.insert_direct(MS, 2).unwrap();
    let mut fired = Vec::new();
    remote
        .expire_pass(MS, |id| {
            fired.push(id);
            match id {
                // Timer 1's callback re-arms timer 2 (not the one it fired): a fresh slot.
                1 => {
                    let (k, _) = remote.rearm_direct(b, 5 * MS, 3).unwrap();
                    assert!(k.index() != a.index() && k.index() != b.index());
                }
                // Timer 2's callback re-arms itself twice: in place once, then an insert.
                2 => {
                    let (k, _) = remote.rearm_direct(b, 5 * MS, 4).unwrap();
                    assert_eq!(k.index(), b.index());
                    let (k2, _) = remote.rearm_direct(b, 5 * MS, 5).unwrap();
                    assert_ne!(k2.index(), b.index());
                }
                _ => unreachable!(),
            }
        })
        .unwrap();
    assert_eq!(fired, [1, 2]);
    fired.clear();
    assert_eq!(remote.expire_pass(5 * MS, |id| fired.push(id)), Ok(5));
    assert_eq!(fired, [100, 101, 3, 4, 5], "equal deadlines fire in insertion order");
}

/// A callback that does not re-arm leaves its slot to the pass, which reclaims it: the next
/// insert reuses it, and a panicking callback's held-back slot is reclaimed by the next pass.
#[test]
fn a_held_back_slot_is_reclaimed_when_its_callback_does_not_rearm() {
    let (owner, remote) = shard();
    let (a, _) = remote.insert_direct(MS, 1).unwrap();
    assert_eq!(remote.expire_pass(MS, drop), Ok(1));
    let (b, _) = remote.insert_direct(2 * MS, 2).unwrap();
    assert_eq!(b.index(), a.index(), "the fired slot went back to the spares");
    let slab = owner.slab_len();
    let caught = catch_unwind(AssertUnwindSafe(|| {
        let _ = remote.expire_pass(2 * MS, |_| panic!("callback"));
    }));
    assert!(caught.is_err());
    let (c, _) = remote.insert_direct(3 * MS, 3).unwrap();
    assert_ne!(c.index(), b.index(), "held back until the next pass");
    assert_eq!(remote.expire_pass(3 * MS, drop), Ok(1));
    let (d, _) = remote.insert_direct(4 * MS, 4).unwrap();
    assert!(d.index() == b.index() || d.index() == c.index());
    assert!(owner.slab_len() <= slab.max(64));
}

/// An insert through the inbox that happened before a re-arm in place gets the earlier
/// place among equal deadlines (the re-arm drains the inbox before it takes its `seq`).
#[test]
fn a_rearm_in_place_is_ordered_after_inbox_inserts_that_happened_before_it() {
    let (_owner, remote) = shard();
    let (key, _) = remote.insert_direct(MS, 1).unwrap();
    remote
        .expire_pass(MS, |_| {
            let other = remote.clone();
            // Another thread finds the shard busy (the pass holds its right): the inbox.
            let inbox = std::thread::spawn(move || {
                let _ = other.insert(2 * MS, 2).unwrap();
            });
            inbox.join().unwrap();
            let (next, _) = remote.rearm_direct(key, 2 * MS, 3).unwrap();
            assert_eq!(next.index(), key.index(), "re-armed in place");
        })
        .unwrap();
    let mut fired = Vec::new();
    assert_eq!(remote.expire_pass(2 * MS, |id| fired.push(id)), Ok(2));
    assert_eq!(fired, [2, 3]);
}

/// The slot a panicking callback's pass held back is reclaimed by the next `fire_due` too.
#[test]
fn fire_due_reclaims_the_slot_a_panicked_pass_held_back() {
    let (owner, remote) = shard();
    let (a, _) = remote.insert_direct(MS, 1).unwrap();
    let caught = catch_unwind(AssertUnwindSafe(|| {
        let _ = remote.expire_pass(MS, |_| panic!("callback"));
    }));
    assert!(caught.is_err());
    let b = owner.insert(2 * MS, 2).unwrap();
    assert_ne!(b.index(), a.index(), "still held back");
    let mut fired = Vec::new();
    assert_eq!(owner.fire_due(2 * MS, |id| fired.push(id)).fired, 1);
    assert_eq!(fired, [2]);
    // Both freed slots are the next two handed out (spares are reused last freed first).
    let (c, d) = (owner.insert(3 * MS, 3).unwrap(), owner.insert(3 * MS, 4).unwrap());
    assert_eq!((c.index(), d.index()), (b.index(), a.index()));
}
