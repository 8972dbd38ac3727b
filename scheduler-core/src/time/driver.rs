//! The runtime's timer driver: one [`scheduler_timers`] shard per worker, the clock, and the
//! rules that keep every timer firing on time.
//!
//! # Who inserts where
//!
//! A task running on worker `i` inserts into shard `i` (its owner is running, so nobody needs
//! waking: the worker recomputes its park deadline after its next maintenance step). Any
//! other thread (a `block_on` caller, a blocking-pool thread, a foreign thread) picks a shard
//! round-robin and inserts through that shard's lock-free inbox; the shard answers
//! [`Wake::Owner`](scheduler_timers::Wake) when the new deadline is earlier than the deadline
//! its owner published, and the inserting thread then unparks worker `i`.
//!
//! # Why an inserted timer is never slept through
//!
//! The owner, before parking, runs its maintenance step: an expiry pass that ends by
//! *publishing* the shard's exact next deadline (`store; fence(SeqCst); load inbox`, and a
//! re-drain if the inbox is not empty), then parks until the published deadline (read
//! afterwards, rounded up to the wake grid; the pass fired what was due by the last grid
//! point, so anything it left is due after that point and the rounded wake-up covers it).
//! A remote insert does *push to inbox; fence(SeqCst); `fetch_min` on the
//! published deadline*. By the two fences, either the owner's inbox load sees the push (it
//! drains, and the timer is part of what it publishes), or the remote `fetch_min` comes after
//! the owner's store and sees the later deadline, so it reports `Wake::Owner` and we unpark
//! the owner. The unpark sets the parker's token, so it also works when it lands before the
//! owner blocks (it then returns from `park` at once). The shard half of this argument is
//! the timer crate's (model `loom-tests/tests/timers_inbox.rs`); the driver adds only "act on
//! `Wake::Owner` with a token unpark" (model `loom-tests/tests/time_remote_insert_park.rs`).
//!
//! # Timer stealing
//!
//! The maintenance step also looks at every other shard's published deadline and, when it is
//! overdue, fires up to [`STEAL_BATCH`] of its timers on the owner's behalf (the shard's
//! try-acquired expiry right makes this safe against the owner). A parked worker wakes at its
//! own next deadline, or at another shard's next deadline plus [`STEAL_GRACE_NS`]: a worker
//! blocked in a long task has its overdue timers fired by an idle worker within about that
//! grace.
//!
//! For that, a parked worker must learn of deadlines that appear after it parked. Each worker
//! publishes in `parked_until` the deadline it parks until: before computing it, it stores
//! `PARKING`, then `fence(SeqCst)`, then reads the shards' published deadlines. A thread that
//! lowers a shard's deadline (an insert or earlier reset answered `Wake::Owner`) does
//! `fence(SeqCst)` after that `fetch_min` and reads the other workers' `parked_until`. By the
//! fences, either a parking worker reads the new deadline, or the inserting thread reads
//! `PARKING` or its stale deadline. A worker resets its entry to `AWAKE` in maintenance.
//!
//! One idle worker is enough to steal a timer: so the inserting thread does nothing if some
//! parked worker already wakes by the new deadline plus the grace (it then re-reads every
//! shard and parks again until the next deadline anywhere, so it covers this timer too), and
//! otherwise unparks exactly one worker parked (or parking) past it, with a token unpark that
//! is not lost if it lands before the park. An `AWAKE` worker is not counted: it may be the
//! busy owner itself; if it parks later, its own read sees the new deadline.
//!
//! So a worker parks until the real next deadline: with no timer anywhere it parks until
//! unparked, and an idle runtime burns no CPU (before, every idle worker woke once a second
//! and scanned every shard: 72 % of a core for 1,024 idle workers). A new earliest timer
//! costs at most one wake-up, not one per idle worker. The price: if the woken worker then
//! turns busy in a long task too, another shard's overdue timers wait for a worker to park.
//!
//! # Shutdown
//!
//! [`TimeDriver::shutdown`] ends every pending payload ([`discard`]): a call's function is
//! dropped unrun (so a callback holding a `Handle` cannot keep the runtime alive through a
//! cycle; `defer_later` fails its Deferred with `Cancelled` then), and a waker is woken, so the
//! `Sleep` or `Timeout` behind it completes (a sleep on a shut-down runtime is ready at once).
//! An insert racing with it pairs *push;
//! fence(SeqCst); load shutdown flag* with the shutdown's *store flag; fence(SeqCst); drain*,
//! and drains again itself when it sees the flag.

use super::call::{CallFn, CallInner};
pub(crate) use super::reactor::dispatch;
use crate::priority::{Priority, CLASSES};
use crate::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use crate::sync::Arc;
use scheduler_timers::{
    Clock, ConfigError, ManualClock, RemoteShard, SystemClock, TimerConfig, TimerError, TimerKey,
    TimerShard,
};
use std::fmt;
use std::task::Waker;
use std::time::{Duration, Instant};

/// Most timers an idle worker fires from another worker's shard per maintenance step.
pub(crate) const STEAL_BATCH: usize = 256;

/// How long after another shard's next deadline a parked worker wakes to steal it (1 ms).
pub(crate) const STEAL_GRACE_NS: u64 = 1_000_000;

/// A wake-up (after coalescing) closer than this (30 us) is waited for without sleeping
/// (bounded spinning through the worker loop), since a timed sleep would overshoot it by the
/// timer slack.
pub(crate) const NEAR_DEADLINE_NS: u64 = 30_000;

/// A sleep longer than this (2 ms) ends [`PRE_WAKE_NS`] early, and the rest is slept anew.
pub(crate) const LONG_SLEEP_NS: u64 = 2_000_000;

/// How early a long sleep ends (1 ms).
pub(crate) const PRE_WAKE_NS: u64 = 1_000_000;

/// Wake-ups are rounded up to this grid (100 us) so that dense deadlines share one wake-up.
pub(crate) const WAKE_GRID_NS: u64 = 100_000;

/// Rounds a park deadline up to the wake grid: timers never fire early, and at most
/// `WAKE_GRID_NS` late from coalescing, while a schedule of one deadline per microsecond costs
/// one park per grid step instead of one per timer.
fn coalesce(deadline_ns: u64) -> u64 {
    deadline_ns.div_ceil(WAKE_GRID_NS).saturating_mul(WAKE_GRID_NS)
}

/// How far a maintenance pass fires due timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Horizon {
    /// Every timer due now (a busy worker's periodic pass; any pass on a manual clock).
    Now,
    /// Every timer due by the last point of the wake grid ([`WAKE_GRID_NS`]): the pass a
    /// worker runs before it parks. A timer due since then waits for the next grid point,
    /// which the worker sleeps until (its park deadline is rounded up to that point). Without
    /// this, a dense schedule (one deadline per microsecond) keeps an idle worker from ever
    /// parking: each pre-park pass finds the one or two timers that fell due during the last
    /// loop, and the worker fires them one loop at a time on a busy core. Lateness stays
    /// within the coalescing bound of the module doc.
    LastGridPoint,
}

/// What a timer hands out when it fires.
pub(crate) enum TimerPayload {
    /// Wake a task (sleep, timeout): done inline by whoever fires it.
    Wake(Waker),
    /// Run a [`DelayedCall`](super::DelayedCall)'s function.
    Call(Arc<CallInner>),
}

/// What a runtime does with fired timers: wake a task, or run a batch of calls (in firing
/// order) as one task in their class.
pub(crate) enum Fired {
    Wake(Waker),
    Calls(Vec<CallFn>, Priority),
}

/// Calls fired in one pass that run as one task: one spawn (and one wake-up of an idle worker)
/// per chunk instead of per call; chunks keep parallelism across workers.
pub(crate) const CALL_CHUNK: usize = 32;

/// Groups the calls of one expiry pass by class, in firing order.
struct Batcher {
    calls: [Vec<CallFn>; CLASSES],
}

impl Batcher {
    fn new() -> Self {
        Batcher { calls: [Vec::new(), Vec::new(), Vec::new()] }
    }

    fn push(&mut self, payload: TimerPayload, dispatch: &mut impl FnMut(Fired)) {
        match payload {
            TimerPayload::Wake(w) => dispatch(Fired::Wake(w)),
            TimerPayload::Call(call) => {
                let Some(f) = call.begin_call() else { return };
                let class = call.priority();
                let batch = &mut self.calls[class.index()];
                batch.push(f);
                if batch.len() >= CALL_CHUNK {
                    dispatch(Fired::Calls(std::mem::take(batch), class));
                }
            }
        }
    }

    fn flush(&mut self, dispatch: &mut impl FnMut(Fired)) {
        for class in Priority::ALL {
            let batch = &mut self.calls[class.index()];
            if !batch.is_empty() {
                dispatch(Fired::Calls(std::mem::take(batch), class));
            }
        }
    }
}

impl fmt::Debug for TimerPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimerPayload::Wake(_) => f.write_str("Wake"),
            TimerPayload::Call(_) => f.write_str("Call"),
        }
    }
}

/// The clock a runtime's timers run on.
#[derive(Debug, Clone)]
pub(crate) enum TimeSource {
    /// Monotonic time since the runtime started.
    System(SystemClock),
    /// Time that moves only when told to (`Builder::clock`, `Handle::advance`).
    Manual(ManualClock),
}

impl TimeSource {
    #[inline]
    pub(crate) fn now_ns(&self) -> u64 {
        match self {
            TimeSource::System(c) => c.now_ns(),
            TimeSource::Manual(c) => c.now_ns(),
        }
    }

    /// The clock reading (ns) of an `Instant`: exact for the system clock; for a manual clock
    /// the instant counts as "that long from now".
    pub(crate) fn deadline_of(&self, at: Instant) -> u64 {
        match self {
            TimeSource::System(c) => c.deadline_of(at),
            TimeSource::Manual(c) => scheduler_timers::deadline_after(
                c.now_ns(),
                at.saturating_duration_since(Instant::now()),
            ),
        }
    }
}

/// The timer shards of one runtime and its clock.
pub(crate) struct TimeDriver {
    source: TimeSource,
    shards: Box<[RemoteShard<TimerPayload>]>,
    next_external: AtomicUsize,
    /// Per worker: the deadline (ns) it parks until, [`PARKING`] while it computes it,
    /// `u64::MAX` for "until unparked", [`AWAKE`] once it runs its maintenance again.
    parked_until: Box<[AtomicU64]>,
}

/// `parked_until` value of a worker that is running (not parked).
const AWAKE: u64 = 0;
/// `parked_until` value of a worker about to park whose deadline is not computed yet.
const PARKING: u64 = u64::MAX - 1;

impl fmt::Debug for TimeDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeDriver")
            .field("source", &self.source)
            .field("shards", &self.shards.len())
            .finish()
    }
}

impl TimeDriver {
    /// One shard per worker with the given tick (default 1 ms) on the given clock (default:
    /// the system clock, from now).
    pub(crate) fn new(
        workers: usize,
        tick: Option<Duration>,
        source: Option<TimeSource>,
    ) -> Result<TimeDriver, ConfigError> {
        let config = match tick {
            Some(t) => TimerConfig::default().with_tick(t)?,
            None => TimerConfig::default(),
        };
        let shards =
            (0..workers).map(|i| TimerShard::new(i as u32, config).remote()).collect::<Box<[_]>>();
        let source = source.unwrap_or_else(|| TimeSource::System(SystemClock::new()));
        let parked_until = (0..workers).map(|_| AtomicU64::new(AWAKE)).collect();
        Ok(TimeDriver { source, shards, next_external: AtomicUsize::new(0), parked_until })
    }

    pub(crate) fn source(&self) -> &TimeSource {
        &self.source
    }

    #[inline]
    pub(crate) fn now_ns(&self) -> u64 {
        self.source.now_ns()
    }

    /// Inserts a timer: into shard `local` when called on that worker, else into a shard
    /// picked round-robin, calling `unpark(i)` when worker `i` must wake for it.
    pub(crate) fn insert(
        &self,
        local: Option<usize>,
        deadline_ns: u64,
        payload: TimerPayload,
        unpark: impl Fn(usize),
    ) -> Result<TimerKey, TimerError> {
        let (index, remote) = match local {
            Some(i) => (i, false),
            None => {
                // Relaxed: a load-balancing counter, nothing is published through it.
                let i = self.next_external.fetch_add(1, Ordering::Relaxed) % self.shards.len();
                (i, true)
            }
        };
        let shard = &self.shards[index];
        // The owner files the timer at once through its shard's expiry right (the inbox only
        // when a stealer holds the right at this moment); other threads use the inbox.
        let (key, wake) = if remote {
            shard.insert(deadline_ns, payload)?
        } else {
            shard.insert_direct(deadline_ns, payload)?
        };
        if wake.is_needed() {
            if remote {
                unpark(index);
            }
            self.wake_stealers(index, deadline_ns, unpark);
        }
        Ok(key)
    }

    /// Shard `owner`'s deadline was lowered to `deadline_ns` (its worker may be running a task
    /// that turns out long): wake the other parked workers that would sleep past it plus the
    /// steal grace, so they re-read it (module doc, "Timer stealing").
    fn wake_stealers(&self, owner: usize, deadline_ns: u64, unpark: impl Fn(usize)) {
        if self.parked_until.len() < 2 {
            return;
        }
        // SeqCst fence: pairs with the one in `park_deadline` (after its PARKING store): either
        // that worker reads our lowered deadline, or we read its PARKING / deadline here.
        dekker_fence();
        let latest_useful = deadline_ns.saturating_add(STEAL_GRACE_NS);
        let mut late = None;
        for (j, until) in self.parked_until.iter().enumerate() {
            // Relaxed: ordered by the fences.
            match until.load(Ordering::Relaxed) {
                _ if j == owner => {}
                AWAKE => {}
                u if u <= latest_useful => return, // it wakes in time and re-reads every shard
                _ => late = late.or(Some(j)),
            }
        }
        if let Some(j) = late {
            unpark(j); // one idle worker is enough (module doc, "Timer stealing")
        }
    }

    /// Cancels a timer from any thread. On its shard's worker (`local`) the entry is unlinked
    /// and its slot reclaimed at once; elsewhere the owner does so at its next pass.
    pub(crate) fn cancel(&self, local: Option<usize>, key: TimerKey) -> Result<(), TimerError> {
        let shard = self.shard_of(key)?;
        if local == Some(key.shard() as usize) {
            shard.cancel_direct(key)
        } else {
            shard.cancel(key)
        }
    }

    /// Moves a timer's deadline; `unpark(i)` when worker `i` must wake for the new deadline.
    pub(crate) fn reset(
        &self,
        local: Option<usize>,
        key: TimerKey,
        deadline_ns: u64,
        unpark: impl Fn(usize),
    ) -> Result<(), TimerError> {
        let wake = self.shard_of(key)?.reset(key, deadline_ns)?;
        let owner = key.shard() as usize;
        if wake.is_needed() {
            if local != Some(owner) {
                unpark(owner);
            }
            self.wake_stealers(owner, deadline_ns, unpark);
        }
        Ok(())
    }

    fn shard_of(&self, key: TimerKey) -> Result<&RemoteShard<TimerPayload>, TimerError> {
        self.shards.get(key.shard() as usize).ok_or(TimerError::WrongShard)
    }

    /// Worker `index`'s maintenance: fires its own timers due by `horizon`, then steals the
    /// other shards' timers due by then. Returns how many fired.
    pub(crate) fn maintain(
        &self,
        index: usize,
        horizon: Horizon,
        mut dispatch: impl FnMut(Fired),
    ) -> usize {
        // Relaxed: a stale value only costs a spare unpark (see `wake_stealers`).
        self.parked_until[index].store(AWAKE, Ordering::Relaxed);
        let mut batch = Batcher::new();
        let n = self.shards.len();
        let mut now = None;
        let mut fired = 0;
        for k in 0..n {
            let j = (index + k) % n;
            let shard = &self.shards[j];
            let Some(next) = shard.next_deadline() else { continue };
            let now = *now.get_or_insert_with(|| self.horizon_ns(horizon));
            if next > now {
                continue;
            }
            let max = if j == index { usize::MAX } else { STEAL_BATCH };
            if let Ok(pass) = shard.steal_expired(now, max, |p| batch.push(p, &mut dispatch)) {
                fired += pass.fired;
            }
        }
        batch.flush(&mut dispatch);
        fired
    }

    /// The clock reading up to which a maintenance pass fires timers.
    fn horizon_ns(&self, horizon: Horizon) -> u64 {
        let now = self.now_ns();
        match (horizon, &self.source) {
            (Horizon::LastGridPoint, TimeSource::System(_)) => now - now % WAKE_GRID_NS,
            _ => now,
        }
    }

    /// The instant worker `index` should wake at: its own next deadline, or another shard's
    /// plus [`STEAL_GRACE_NS`]. `None` (no timer, or a manual clock): sleep until unparked.
    pub(crate) fn park_deadline(&self, index: usize) -> Option<Instant> {
        let TimeSource::System(clock) = &self.source else { return None };
        let until = &self.parked_until[index];
        until.store(PARKING, Ordering::Relaxed);
        // SeqCst fence: pairs with the one in `wake_stealers` (Dekker).
        dekker_fence();
        let deadline = self.earliest_wake(index, clock);
        until.store(deadline.map_or(u64::MAX, |(ns, _)| ns), Ordering::Relaxed);
        deadline.map(|(_, at)| at)
    }

    /// The park deadline of worker `index` in clock ns and as an instant.
    fn earliest_wake(&self, index: usize, clock: &SystemClock) -> Option<(u64, Instant)> {
        let mut best: Option<u64> = None;
        for (j, shard) in self.shards.iter().enumerate() {
            if let Some(d) = shard.next_deadline() {
                let d = if j == index { d } else { d.saturating_add(STEAL_GRACE_NS) };
                best = Some(best.map_or(d, |b| b.min(d)));
            }
        }
        // No timer anywhere: park until unparked (a new timer that needs this worker unparks
        // it, `wake_stealers`).
        let best = coalesce(best?);
        let now = clock.now_ns();
        if best <= now.saturating_add(NEAR_DEADLINE_NS) {
            // Sleeping this little costs more than it saves: a timed futex wait wakes up to
            // the kernel's timer slack (50 us) late. Come straight back instead. The check is
            // on the coalesced wake-up: a deadline just past a grid point (the next one of a
            // dense schedule, say) waits for the next grid point asleep, not spinning.
            return Some((now, Instant::now()));
        }
        // A long sleep ends a little early and the last stretch is slept again: a worker that
        // slept hundreds of ms was seen waking 1-2 ms past its deadline on the 2-core VM (the
        // first timers of `timer_fire` all late together), while short sleeps land on time.
        let best = if best - now > LONG_SLEEP_NS { best - PRE_WAKE_NS } else { best };
        clock.epoch().checked_add(Duration::from_nanos(best)).map(|at| (best, at))
    }

    /// Fires every timer due at `now_ns` on every shard from the calling thread (manual
    /// clock: `Handle::advance`). Returns how many fired.
    pub(crate) fn fire_all_due(&self, now_ns: u64, mut dispatch: impl FnMut(Fired)) -> usize {
        let mut batch = Batcher::new();
        let mut fired = 0;
        for shard in self.shards.iter() {
            loop {
                match shard.steal_expired(now_ns, usize::MAX, |p| batch.push(p, &mut dispatch)) {
                    Ok(pass) => {
                        fired += pass.fired;
                        break;
                    }
                    Err(_) => std::thread::yield_now(), // an owner's pass is brief
                }
            }
        }
        batch.flush(&mut dispatch);
        fired
    }

    /// The exact earliest pending deadline over all shards (manual-clock stepping).
    pub(crate) fn earliest_deadline(&self) -> Option<u64> {
        self.shards
            .iter()
            .filter_map(|shard| loop {
                match shard.earliest_deadline() {
                    Ok(next) => break next,
                    Err(_) => std::thread::yield_now(), // an expiry pass is brief
                }
            })
            .min()
    }

    /// Ends every pending payload of shard `index` (shutdown; see [`discard`]).
    pub(crate) fn drain_shard(&self, index: usize) {
        let shard = &self.shards[index];
        while shard.steal_expired(u64::MAX, usize::MAX, discard).is_err() {
            std::thread::yield_now(); // whoever holds the right releases it within one step
        }
    }

    /// Ends every pending payload of every shard (shutdown; see [`discard`]).
    pub(crate) fn shutdown(&self) {
        for i in 0..self.shards.len() {
            self.drain_shard(i);
        }
    }
}

/// The `SeqCst` fence of the `parked_until` protocol. Under loom a model may switch it off
/// (`loom_api::break_parked_fences`) to show that its model catches the lost wake-up.
#[inline]
fn dekker_fence() {
    #[cfg(loom)]
    if super::loom_api::fences_broken() {
        return;
    }
    fence(Ordering::SeqCst);
}

#[cfg(loom)]
impl TimeDriver {
    /// What worker `index` stored as its park deadline (for the models).
    pub(crate) fn parked_until(&self, index: usize) -> u64 {
        self.parked_until[index].load(Ordering::Relaxed)
    }
}

/// Ends a payload that will never fire (shutdown): a call is marked cancelled and drops its
/// function, which breaks any cycle through a captured `Handle`; a waker is woken, so the
/// `Sleep` or `Timeout` behind it sees the shutdown and completes instead of waiting for ever.
pub(crate) fn discard(payload: TimerPayload) {
    match payload {
        TimerPayload::Call(call) => call.discard(),
        TimerPayload::Wake(waker) => waker.wake(),
    }
}
