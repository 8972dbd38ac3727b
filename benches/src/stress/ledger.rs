//! The soak's exact accounting: every operation it starts is counted when it starts and again
//! by how it ended, and the totals must balance when the soak has drained everything.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one soak, shared by the driver thread and the callbacks it schedules.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Tasks spawned (futures, closures, blocking closures).
    pub tasks_spawned: AtomicU64,
    /// Tasks whose `JoinHandle` returned a value.
    pub tasks_completed: AtomicU64,
    /// Tasks whose `JoinHandle` reported a panic (all of them panicked on purpose).
    pub tasks_panicked: AtomicU64,
    /// Tasks whose `JoinHandle` reported a cancellation (aborted on purpose).
    pub tasks_cancelled: AtomicU64,
    /// Timers set (`call_later`, from the driver thread or from workers).
    pub timers_set: AtomicU64,
    /// Timer callbacks that ran.
    pub timers_fired: AtomicU64,
    /// Timers cancelled before they ran (`cancel()` returned `Ok`).
    pub timers_cancelled: AtomicU64,
    /// Deferreds (chains, queue gets, lock runs, `defer_later`) started / resolved.
    pub deferreds_started: AtomicU64,
    /// Deferreds that resolved with the expected value.
    pub deferreds_resolved: AtomicU64,
    /// `LoopingCall`s started / whose `start` Deferred fired after `stop`.
    pub loops_started: AtomicU64,
    /// Loops whose `start` Deferred fired.
    pub loops_stopped: AtomicU64,
    /// Operations that produced an outcome the soak did not ask for (a wrong value, a panic
    /// that was not planned, a timeout that did not elapse): each one is a failure.
    pub surprises: AtomicU64,
}

/// Adds one to a ledger counter.
pub fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// The balance of a drained soak; `lost` lists each equation that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// Human-readable equations, one per line.
    pub lines: Vec<String>,
    /// The equations that do not hold.
    pub lost: Vec<String>,
}

impl Ledger {
    /// Checks every equation of a drained soak.
    pub fn balance(&self) -> Balance {
        let mut b = Balance { lines: Vec::new(), lost: Vec::new() };
        let spawned = get(&self.tasks_spawned);
        let ended =
            get(&self.tasks_completed) + get(&self.tasks_panicked) + get(&self.tasks_cancelled);
        b.check("tasks spawned = completed + panicked + cancelled", spawned, ended);
        let set = get(&self.timers_set);
        let gone = get(&self.timers_fired) + get(&self.timers_cancelled);
        b.check("timers set = fired + cancelled", set, gone);
        b.check(
            "deferreds started = resolved",
            get(&self.deferreds_started),
            get(&self.deferreds_resolved),
        );
        b.check("loops started = stopped", get(&self.loops_started), get(&self.loops_stopped));
        b.check("surprises = 0", get(&self.surprises), 0);
        b
    }
}

impl Balance {
    fn check(&mut self, what: &str, left: u64, right: u64) {
        let line = format!("{what}: {left} = {right}");
        if left != right {
            self.lost.push(line.clone());
        }
        self.lines.push(line);
    }

    /// True when every equation holds.
    pub fn holds(&self) -> bool {
        self.lost.is_empty()
    }
}

impl fmt::Display for Balance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            let mark = if self.lost.contains(line) { "LOST" } else { "ok" };
            writeln!(f, "  [{mark:>4}] {line}")?;
        }
        Ok(())
    }
}
