//! Idle workers: the searching throttle, parking, and the no-lost-wake-up protocol.
//!
//! # State
//!
//! One word, [`Idle::state`], packs two counters ([`Counters`]) so that every change is a
//! single read-modify-write ([`Change`]), and a notifier that reads the word sees the two
//! counters as one consistent pair when it decides whether to wake a sleeper:
//!
//! - `searching` (low 16 bits): workers that are looking for work to steal;
//! - `unparked` (high bits): workers not registered as sleepers.
//!
//! Beside it, on the same cache line, `join_waiters` counts workers waiting inside a `join`
//! or `scope` for a half another worker took (`forkjoin::wait_until`): awake, not searching
//! and outside this protocol, but wanting work as much as a searcher ([`Idle::hungry`],
//! read by every `join`, loads the two words of one line).
//!
//! The list of sleeping workers (`sleepers`) is behind a mutex; `unparked` changes only while
//! that mutex is held, so under the lock `unparked == workers - sleepers.len()`.
//!
//! Each worker has a [`Parker`]: a token (`EMPTY`/`PARKED`/`NOTIFIED`) plus a mutex and
//! condition variable. `unpark` sets the token before it signals, so an unpark that lands
//! before the worker blocks makes `park` return at once. `park` may take a deadline (the
//! timer hook: a worker sleeps until its next timer is due) and may return spuriously.
//!
//! # Protocol
//!
//! **Posting work** (spawn, wake from outside, a worker pushing to its own queue):
//! 1. push the task onto a queue;
//! 2. `fence(SeqCst)`;
//! 3. read `state`; if `searching > 0` or every worker is unparked, stop: someone awake will
//!    find it. Otherwise lock `sleepers`, re-check, add one to *both* counters in one RMW
//!    (the woken worker starts out searching), pop a sleeper, unlock, `unpark` it.
//!
//! **Searching** (a worker whose own queues are empty): it may start searching only while
//! `2 * searching < workers` (so on 2 workers exactly one searches). A searcher that finds
//! work leaves the searching state; if it was the *last* searcher, it posts a notification
//! (step 3) so that one more worker comes to look at the work that may remain.
//!
//! **Falling asleep**:
//! 1. lock `sleepers`; subtract 1 from `unparked` (and from `searching` if it was searching)
//!    in one RMW; push itself; unlock;
//! 2. if it was the last searcher: `fence(SeqCst)`, then look at every queue (injector and all
//!    workers' queues); if any has work, post a notification (which may pick itself);
//! 3. `park` (with the optional deadline);
//! 4. on waking, lock `sleepers`: if it is still listed, it woke by timeout or spuriously:
//!    remove itself and add 1 to `unparked` (not searching). If it is not listed, a notifier
//!    removed it and already counted it as searching.
//!
//! # Why no wake-up is lost
//!
//! Take a task pushed while the last awake worker goes to sleep. The pusher runs
//! *push; fence; read state*, the sleeper runs *RMW state; fence; read queues*. The two
//! `SeqCst` fences are totally ordered. If the pusher's fence comes first, the sleeper's
//! queue read (after its own fence) sees the push and it notifies. If the sleeper's fence
//! comes first, the pusher's read sees the decremented state (`searching == 0`,
//! `unparked < workers`) and it wakes a sleeper. Either way someone wakes; the token makes
//! the wake-up stick even if it lands before `park` blocks. A worker that was not searching
//! skips step 2: it is safe because either a searcher exists (and it will run step 2 when it
//! parks in turn) or the pusher's read sees `searching == 0` and wakes someone.
//! The short spin a searcher does before it parks (`worker.rs`, `SPIN_ROUNDS`, and the last
//! awake worker's `LAST_AWAKE_YIELDS`) only looks at the queues; it is outside this protocol
//! and changes none of its steps.
//!
//! Model: `loom-tests/tests/executor_park.rs`. Under loom the queues are a mutex-protected
//! stand-in, which orders the two sides by itself; the fences matter for crossbeam's lock-free
//! deque, where only the Dekker argument above holds.

use crate::sync::atomic::{fence, AtomicUsize, Ordering};
use crate::sync::{Condvar, Mutex};
use crossbeam_utils::CachePadded;
use std::time::{Duration, Instant};

/// Whether a loom model switched off the last searcher's re-check (step 2), to show that its
/// model catches the lost wake-up (`loom_api::break_park_recheck`). Always false otherwise.
#[cfg(loom)]
fn recheck_broken() -> bool {
    crate::loom_api::park_recheck_broken()
}

#[cfg(not(loom))]
#[inline(always)]
fn recheck_broken() -> bool {
    false
}

const UNPARKED_SHIFT: usize = 16;
const SEARCHING_MASK: usize = (1 << UNPARKED_SHIFT) - 1;

/// A snapshot of [`Idle::state`]: the two counters of the module doc, read from one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counters(usize);

impl Counters {
    /// `workers` unparked, none searching.
    fn all_unparked(workers: usize) -> Counters {
        Counters(workers << UNPARKED_SHIFT)
    }

    /// Workers looking for work to steal.
    fn searching(self) -> usize {
        self.0 & SEARCHING_MASK
    }

    /// Workers not registered as sleepers.
    fn unparked(self) -> usize {
        self.0 >> UNPARKED_SHIFT
    }
}

/// One transition of the counters, applied with a single RMW on [`Idle::state`].
#[derive(Debug, Clone, Copy)]
struct Change {
    unparked: bool,
    searching: bool,
}

impl Change {
    /// A worker starts (or stops) searching.
    const SEARCH: Change = Change { unparked: false, searching: true };
    /// A sleeper woken by a notifier: unparked and searching at once.
    const WOKEN_TO_SEARCH: Change = Change { unparked: true, searching: true };
    /// A sleeper that woke on its own (deadline, direct unpark): unparked, not searching.
    const WOKEN_ALONE: Change = Change { unparked: true, searching: false };

    /// A worker that registers as a sleeper, searching or not.
    fn fall_asleep(searching: bool) -> Change {
        Change { unparked: true, searching }
    }

    fn bits(self) -> usize {
        (usize::from(self.unparked) << UNPARKED_SHIFT) | usize::from(self.searching)
    }
}

/// The idle-worker bookkeeping of one runtime.
#[derive(Debug)]
pub(crate) struct Idle {
    /// `searching | unparked << 16`; on its own cache line (read on every spawn, written on
    /// every search/park transition).
    state: CachePadded<StateLine>,
    /// Indices of the workers that registered as sleepers.
    sleepers: Mutex<Vec<usize>>,
    parkers: Box<[Parker]>,
}

/// [`Idle::state`]'s cache line: the counters' word and the join waiters.
#[derive(Debug)]
struct StateLine {
    /// `searching | unparked << 16`.
    word: AtomicUsize,
    /// Workers waiting in a `join`/`scope` for a stolen half (module doc, "State").
    join_waiters: AtomicUsize,
}

/// How a parked worker came back.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// A notifier chose it: it is now counted as searching.
    Notified,
    /// Woken directly ([`Idle::unpark`]: a timer inserted into its shard; shutdown): awake,
    /// not searching.
    Unparked,
    /// Its park deadline (its next timer) passed: awake, not searching.
    TimedOut,
}

impl Idle {
    /// All `workers` start unparked and not searching.
    pub(crate) fn new(workers: usize) -> Idle {
        assert!(workers < SEARCHING_MASK, "worker count checked by the builder");
        Idle {
            state: CachePadded::new(StateLine {
                word: AtomicUsize::new(Counters::all_unparked(workers).0),
                join_waiters: AtomicUsize::new(0),
            }),
            sleepers: Mutex::new(Vec::with_capacity(workers)),
            parkers: (0..workers).map(|_| Parker::new()).collect(),
        }
    }

    #[inline]
    fn workers(&self) -> usize {
        self.parkers.len()
    }

    /// The counters now (Relaxed: callers order it with the protocol's fences or locks).
    #[inline]
    fn counters(&self) -> Counters {
        Counters(self.state.word.load(Ordering::Relaxed))
    }

    /// Applies `change` upward; returns the counters before.
    fn add(&self, change: Change, order: Ordering) -> Counters {
        Counters(self.state.word.fetch_add(change.bits(), order))
    }

    /// Applies `change` downward; returns the counters before.
    fn sub(&self, change: Change, order: Ordering) -> Counters {
        Counters(self.state.word.fetch_sub(change.bits(), order))
    }

    /// No worker searches and some sleep: a push should wake one.
    fn should_wake(&self, c: Counters) -> bool {
        c.searching() == 0 && c.unparked() < self.workers()
    }

    /// Some worker searches, sleeps or waits in a `join`: work offered now would be taken
    /// (`join_frames`). Two Relaxed loads of one line: a hint, the deque and the park
    /// protocol carry the work itself.
    #[inline]
    pub(crate) fn hungry(&self) -> bool {
        self.counters() != Counters::all_unparked(self.workers())
            || self.state.join_waiters.load(Ordering::Relaxed) != 0
    }

    /// This worker starts waiting in a `join`/`scope` for a half another worker took; it
    /// counts as [`hungry`](Self::hungry) until [`join_wait_end`](Self::join_wait_end).
    pub(crate) fn join_wait_begin(&self) {
        // Relaxed: a hint for `hungry`, outside the park protocol.
        self.state.join_waiters.fetch_add(1, Ordering::Relaxed);
    }

    /// The wait of [`join_wait_begin`](Self::join_wait_begin) is over.
    pub(crate) fn join_wait_end(&self) {
        self.state.join_waiters.fetch_sub(1, Ordering::Relaxed);
    }

    /// Is the caller the only worker not parked? (A hint: one Relaxed load.)
    #[inline]
    pub(crate) fn only_one_awake(&self) -> bool {
        self.counters().unparked() <= 1
    }

    /// Tries to become a searcher; refused when half the workers already search.
    pub(crate) fn try_start_searching(&self) -> bool {
        if 2 * self.counters().searching() >= self.workers() {
            return false;
        }
        // Relaxed: the counter is advisory until the fences of the park protocol.
        let _before = self.add(Change::SEARCH, Ordering::Relaxed);
        true
    }

    /// A searcher found work. Returns true if it was the last searcher, in which case the
    /// caller must post a notification (see the protocol).
    #[must_use]
    pub(crate) fn stop_searching(&self) -> bool {
        // AcqRel: part of the total order of RMWs on `state` that the protocol relies on.
        let before = self.sub(Change::SEARCH, Ordering::AcqRel);
        debug_assert!(before.searching() > 0);
        before.searching() == 1
    }

    /// Posts a notification after work was pushed: the *fence; read; maybe wake* half.
    #[inline]
    pub(crate) fn notify_work(&self) {
        // SeqCst fence: pairs with the fence in `park_worker` step 2 (Dekker, module doc).
        fence(Ordering::SeqCst);
        if self.should_wake(self.counters()) {
            self.wake_one();
        }
    }

    /// True when no worker searches and some sleep: a push should wake one (no fence; for
    /// the periodic maintenance check, which tolerates a stale answer).
    pub(crate) fn wants_worker(&self) -> bool {
        self.should_wake(self.counters())
    }

    #[cold]
    fn wake_one(&self) {
        let mut sleepers = self.sleepers.lock();
        if !self.should_wake(self.counters()) {
            return;
        }
        let Some(idx) = sleepers.pop() else { return };
        let _before = self.add(Change::WOKEN_TO_SEARCH, Ordering::AcqRel);
        drop(sleepers);
        self.parkers[idx].unpark();
    }

    /// The sleep half of the protocol for worker `idx` (module doc, steps 1-4).
    /// `has_work` looks at every queue. Returns how the worker woke.
    pub(crate) fn park_worker(
        &self,
        idx: usize,
        is_searching: bool,
        has_work: impl FnOnce() -> bool,
        deadline: Option<Instant>,
    ) -> Woken {
        let last_searcher = {
            let mut sleepers = self.sleepers.lock();
            let before = self.sub(Change::fall_asleep(is_searching), Ordering::AcqRel);
            sleepers.push(idx);
            is_searching && before.searching() == 1
        };
        if last_searcher && !recheck_broken() {
            // SeqCst fence: pairs with the fence in `notify_work` (Dekker, module doc).
            fence(Ordering::SeqCst);
            if has_work() {
                self.wake_one();
            }
        }
        let parked = self.parkers[idx].park(deadline);
        self.after_park(idx, parked)
    }

    fn after_park(&self, idx: usize, parked: Parked) -> Woken {
        let mut sleepers = self.sleepers.lock();
        if let Some(pos) = sleepers.iter().position(|&i| i == idx) {
            sleepers.swap_remove(pos);
            let _before = self.add(Change::WOKEN_ALONE, Ordering::AcqRel);
            match parked {
                Parked::Unparked => Woken::Unparked,
                Parked::TimedOut => Woken::TimedOut,
            }
        } else {
            Woken::Notified
        }
    }

    /// Wakes worker `idx` whatever its state: a timer inserted from elsewhere into a parked
    /// worker's shard, earlier than its park deadline (`time/reactor.rs`). It comes back as
    /// [`Woken::Unparked`] unless a notifier chose it too.
    pub(crate) fn unpark(&self, idx: usize) {
        self.parkers[idx].unpark();
    }

    /// Wakes every worker (shutdown).
    pub(crate) fn unpark_all(&self) {
        for p in self.parkers.iter() {
            p.unpark();
        }
    }
}

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;
/// Spin hints between two looks at the token in [`Parker::park_after_spin`].
const PARK_SPIN_HINTS: u32 = 16;

/// Why [`Parker::park`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parked {
    /// It consumed an `unpark`'s token.
    Unparked,
    /// The deadline passed first.
    TimedOut,
}

/// A one-token thread parker that any thread may unpark.
#[derive(Debug)]
pub(crate) struct Parker {
    token: AtomicUsize,
    lock: Mutex<()>,
    cvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker { token: AtomicUsize::new(EMPTY), lock: Mutex::new(()), cvar: Condvar::new() }
    }

    /// Blocks until unparked (consuming the token) or until `deadline`, and says which.
    pub(crate) fn park(&self, deadline: Option<Instant>) -> Parked {
        if self.take_token() {
            return Parked::Unparked;
        }
        let mut guard = self.lock.lock();
        if let Err(actual) =
            self.token.compare_exchange(EMPTY, PARKED, Ordering::Relaxed, Ordering::Relaxed)
        {
            debug_assert_eq!(actual, NOTIFIED);
            self.token.swap(EMPTY, Ordering::Acquire);
            return Parked::Unparked;
        }
        loop {
            guard = match deadline {
                Some(d) => self.cvar.wait_until(guard, d),
                None => self.cvar.wait(guard),
            };
            if self.take_token() {
                return Parked::Unparked;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                // Timed out: withdraw PARKED (an unpark racing with us leaves NOTIFIED; take
                // it, and report the unpark).
                return match self.token.swap(EMPTY, Ordering::Acquire) {
                    NOTIFIED => Parked::Unparked,
                    _ => Parked::TimedOut,
                };
            }
        }
    }

    /// [`park`](Self::park) (no deadline) after polling the token for up to `spin`: a wake
    /// that comes within the spin costs neither side a futex call (the waker's `unpark` finds
    /// the token `EMPTY`, not `PARKED`). For a thread that waits on work it just handed to a
    /// worker (`block_on`), which often finishes within microseconds.
    pub(crate) fn park_after_spin(&self, spin: Duration) {
        // Under loom, time does not pass and a spin only multiplies the interleavings.
        if cfg!(loom) {
            let _unparked = self.park(None);
            return;
        }
        let start = Instant::now();
        loop {
            for _ in 0..PARK_SPIN_HINTS {
                std::hint::spin_loop();
            }
            // A plain load first: the spin polls without taking the line exclusively.
            if self.token.load(Ordering::Relaxed) == NOTIFIED && self.take_token() {
                return;
            }
            if start.elapsed() >= spin {
                let _unparked = self.park(None);
                return;
            }
        }
    }

    /// Consumes an `unpark`'s token if one is there.
    #[inline]
    fn take_token(&self) -> bool {
        // Acquire: pairs with the Release of `unpark`, so the unparker's writes are visible.
        self.token.compare_exchange(NOTIFIED, EMPTY, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    /// Wakes the parked thread, or makes its next `park` return at once.
    pub(crate) fn unpark(&self) {
        // Release: pairs with the Acquire in `park`.
        match self.token.swap(NOTIFIED, Ordering::Release) {
            EMPTY | NOTIFIED => {}
            _ => {
                // Taking the lock orders us after the parker's wait began (it holds the lock
                // from its PARKED store until it waits), so the signal cannot be missed.
                drop(self.lock.lock());
                self.cvar.notify_one();
            }
        }
    }
}
