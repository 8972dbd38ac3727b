//! Narrow handles on the timer driver's protocols for the loom models in `loom-tests` (only
//! under `cfg(loom)`): the real `TimeDriver` and `Idle`, without a runtime.

#![allow(missing_docs, missing_debug_implementations, unreachable_pub, clippy::new_without_default)]

use super::driver::{TimeDriver, TimerPayload, STEAL_GRACE_NS};
use crate::idle::Idle;
use std::cell::Cell;
use std::task::Waker;

thread_local! {
    static BROKEN: Cell<bool> = const { Cell::new(false) };
}

/// Switches the `parked_until` fences off on this (OS) thread, which runs every loom thread
/// of a model: the buggy variant for `should_panic` models.
pub fn break_parked_fences(broken: bool) {
    BROKEN.with(|b| b.set(broken));
}

pub(crate) fn fences_broken() -> bool {
    BROKEN.with(Cell::get)
}

/// A two-worker timer driver and its idle-worker parkers.
pub struct StealWake {
    driver: TimeDriver,
    idle: Idle,
}

impl StealWake {
    pub const GRACE_NS: u64 = STEAL_GRACE_NS;

    pub fn new() -> Self {
        StealWake {
            driver: TimeDriver::new(2, None, None).expect("default config"),
            idle: Idle::new(2),
        }
    }

    /// Worker `owner` inserts a timer into its own shard (the owner path of `Host::insert`).
    pub fn owner_insert(&self, owner: usize, deadline_ns: u64) {
        let payload = TimerPayload::Wake(Waker::noop().clone());
        self.driver.insert(Some(owner), deadline_ns, payload, |j| self.idle.unpark(j)).unwrap();
    }

    /// Worker `index` computes its park deadline (`Core::park_deadline`); returns what it
    /// published in `parked_until` (`u64::MAX`: until unparked).
    pub fn park_deadline_ns(&self, index: usize) -> u64 {
        let _ = self.driver.park_deadline(index);
        self.driver.parked_until(index)
    }

    /// Parks worker `index` until unparked (loom has no clock: a deadline never expires).
    pub fn park(&self, index: usize) {
        let _ = self.idle.park_worker(index, false, || false, None);
    }
}
