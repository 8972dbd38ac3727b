//! One timer's shared half: the state word, the deadline and the payload, in a slab slot.
//!
//! # The state word
//!
//! `state: AtomicU64` packs a 32-bit *generation* (high half) and a phase plus four flags
//! (low bits). The generation is bumped each time the slot is armed for a new timer, so a
//! [`TimerKey`](crate::TimerKey) naming an older occupant fails every CAS and reports
//! [`TimerError::Stale`]. The generation never wraps: a slot that finishes at
//! [`LAST_GENERATION`] is retired by its reclaimer instead of going back to a free list, so a
//! key can name only its own occupancy, however often the slot was reused. Phases:
//!
//! - `FREE`: never armed (generation 0). A slot that finished keeps its last phase
//!   (`FIRED` / `CANCELLED`) while on the free list, so a late handle still gets the right error
//!   until the slot is re-armed.
//! - `PENDING`: armed, not yet fired or cancelled.
//! - `RESETTING`: a thread that won `PENDING -> RESETTING` is writing a new deadline. Nobody
//!   else writes the deadline or reclaims the slot meanwhile. A canceller that meets it sets
//!   `CANCEL_REQ` (its cancel is ordered after the reset) and succeeds; the expiry-right holder
//!   that meets it sets `REFILE` and forgets the entry; the resetter then finishes with one CAS
//!   that honours both. Only a second concurrent *reset* of the same timer waits (spins) for
//!   the first resetter's two steps.
//! - `FIRING`: the expiry-right holder won `PENDING -> FIRING`; the payload is being moved out.
//! - `FIRED`: the payload was handed to the fire callback (which may still be running).
//! - `CANCELLED`: a canceller won `PENDING -> CANCELLED` (or a resetter honoured `CANCEL_REQ`).
//!
//! Bits 8..32 hold a reset epoch, bumped by each finished reset, so the word never returns to
//! an earlier value while the slot keeps its generation (no ABA for a firer that read the
//! deadline before a reset).
//!
//! Flags: `QUEUED` = the index sits in the shard's inbox (set only together with the push, in
//! the same CAS that decides the push; cleared only by the drain, with `fetch_and`). While
//! `QUEUED` is set only the drain reclaims the slot. `REFILE` / `CANCEL_REQ`: see `RESETTING`.
//! `INBOX_ARMED` = this occupancy was armed through the inbox (a remote insert): set by the
//! arm, never changed until the slot's next arm. It tells the reclaimer where the slot goes
//! back to (`Entry::reuse`): the shard's shared free list, where the remote inserters that
//! armed it look for free slots, rather than the owner's private spares (`crate::shard`,
//! "Slots").
//!
//! The linearisation points: cancel = the CAS to `CANCELLED` (or to `CANCEL_REQ`); fire = the
//! CAS to `FIRING`; reset = the CAS into `RESETTING`. `PENDING -> FIRING` and
//! `PENDING -> CANCELLED` exclude each other, so a cancelled timer never runs and a running
//! one is never reported cancelled.
//!
//! # Reset by the right's holder
//!
//! The holder of the shard's expiry right (the owner's one-shot `reset` when the right is free,
//! or a [`TimerSession`](crate::TimerSession)) resets with [`Entry::reset_held`]: store the
//! deadline, then one CAS `PENDING -> PENDING` that bumps the epoch (one read-modify-write; an
//! earlier deadline is then re-filed by the holder at once). No `RESETTING` window is needed:
//!
//! - no firer can read the deadline meanwhile: firing (`PENDING -> FIRING`) is done only by the
//!   right's holder, that is by this thread, later;
//! - the store cannot land on another occupant: the slot returns to a free list only through a
//!   reclaim, which also needs the right, so while we hold it the generation we checked stays;
//! - a remote canceller that wins first leaves `CANCELLED` (our CAS fails and we report
//!   `AlreadyCancelled`; the deadline we stored is never read again); a remote resetter in its
//!   window is waited for (it never needs the right), then our deadline is stored again, so the
//!   value left is that of the reset whose CAS came last.
//!
//! The CAS is still needed: a remote resetter compares its new deadline with the old one it
//! reads after its own `PENDING -> RESETTING` CAS, to decide whether the entry must be re-filed
//! (earlier) or may stay where it is filed (later, lazily). A plain store of ours, not followed
//! by a `Release` write to the state word, need not be visible to that read (the resetter could
//! read an older, smaller deadline than ours, skip the re-file, and its timer would fire late
//! at our later deadline's slot); our CAS is in the modification order that its CAS reads from,
//! so it sees our deadline.
//!
//! # Why a remote reset-later is not one atomic store
//!
//! One could hope for "a reset to a later deadline is one atomic store, from any thread" (a
//! common timer-wheel trick). A thread without the right cannot do that safely here:
//!
//! - *Firers race it.* A firer reads the state, then the deadline, then CASes `PENDING ->
//!   FIRING`. If a reset changed only the deadline, a firer that read the old, due deadline
//!   would still win its CAS and fire early; the reset must change the state word too (the
//!   epoch, found by loom as an ABA), so at least one CAS on the state. A 128-bit CAS over
//!   state and deadline would make that one step, but stable Rust and loom have none, and the
//!   state word has no room for a 64-bit deadline.
//! - *The slot can change occupant under it.* Between reading the generation and storing the
//!   deadline, the timer can fire, be reclaimed and the slot re-armed for another timer; a
//!   store then silently moves *that* timer (a store cannot be conditional on the generation).
//!   So the deadline may only be written by a thread that owns it for the moment: the armer,
//!   the right's holder (above), or a resetter inside its `RESETTING` window, which the
//!   closing CAS ends (a second RMW, also the one that honours `CANCEL_REQ` / `REFILE` set
//!   meanwhile).
//!
//! Hence: reset by the right's holder = one store + one CAS; remote reset = two CASes + one
//! store (`timers_reset_fire` models both, and that the held path is unsafe without the
//! right).
//!
//! # The other fields
//!
//! `deadline` is written only by the slot's armer (before the `Release` store that publishes
//! the arm), by a resetter holding `RESETTING`, and by the expiry-right holder's reset; it is read by the expiry-right holder after
//! an `Acquire` load of the state. `next` links the slot into the inbox or the free list (never
//! both). `payload` is written by the armer while the slot is free, taken by the firer after
//! winning `FIRING`, or by the reclaimer of a `CANCELLED` slot; those three never overlap.

use crate::error::TimerError;
use crate::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use crate::sync::{spin_loop, UnsafeCell};

/// The "no index" link value.
pub(crate) const NIL: u32 = u32::MAX;

/// The last generation a slot may carry. A slot that finishes at it is retired: never handed
/// out again, because its next arm would wrap to generation 1 and every key of an earlier
/// occupant (held by any `TimerShard`, `RemoteShard` or session user) would name the new
/// timer. One entry per 2^32 reuses of a slot is the price; in a tight insert + cancel loop
/// (~25 ns a pair) that is one entry every ~107 s.
pub(crate) const LAST_GENERATION: u32 = u32::MAX;

/// A phase of the state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Free,
    Pending,
    Resetting,
    Firing,
    Fired,
    Cancelled,
}

const PHASE_MASK: u64 = 0b111;
/// The phase and the flags that steer a cancel: `PENDING_BITS` under this mask = pending, no
/// such flag set (`INBOX_ARMED` does not matter to a cancel).
const FLAGS_AND_PHASE: u64 = PHASE_MASK | QUEUED | REFILE | CANCEL_REQ;
/// The phase bits of `PENDING`.
const PENDING_BITS: u64 = 1;
const QUEUED: u64 = 1 << 3;
const REFILE: u64 = 1 << 4;
const CANCEL_REQ: u64 = 1 << 5;
/// The occupancy was armed through the inbox (module doc, "Flags").
const INBOX_ARMED: u64 = 1 << 6;
/// Bits 8..32: the reset epoch, bumped by every finished reset. Without it a reset would take
/// the word from `PENDING` back to the very same `PENDING` value, and a firer that read the
/// old deadline before the reset could still win its CAS (ABA; found by loom).
const EPOCH_SHIFT: u32 = 8;
const EPOCH_MASK: u64 = 0xFF_FFFF << EPOCH_SHIFT;

/// A loaded state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(u64);

impl Snapshot {
    pub(crate) fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }

    pub(crate) fn phase(self) -> Phase {
        match self.0 & PHASE_MASK {
            1 => Phase::Pending,
            2 => Phase::Resetting,
            3 => Phase::Firing,
            4 => Phase::Fired,
            5 => Phase::Cancelled,
            _ => Phase::Free,
        }
    }

    pub(crate) fn is_queued(self) -> bool {
        self.0 & QUEUED != 0
    }

    fn has(self, flag: u64) -> bool {
        self.0 & flag != 0
    }

    fn with_phase(self, phase: Phase) -> Snapshot {
        let bits = match phase {
            Phase::Free => 0,
            Phase::Pending => 1,
            Phase::Resetting => 2,
            Phase::Firing => 3,
            Phase::Fired => 4,
            Phase::Cancelled => 5,
        };
        Snapshot((self.0 & !PHASE_MASK) | bits)
    }

    fn with(self, flag: u64) -> Snapshot {
        Snapshot(self.0 | flag)
    }

    fn without(self, flag: u64) -> Snapshot {
        Snapshot(self.0 & !flag)
    }

    fn next_epoch(self) -> Snapshot {
        let epoch = (self.0 & EPOCH_MASK).wrapping_add(1 << EPOCH_SHIFT) & EPOCH_MASK;
        Snapshot((self.0 & !EPOCH_MASK) | epoch)
    }

    fn armed(generation: u32, queued: bool) -> Snapshot {
        let s = Snapshot((u64::from(generation) << 32) | 1);
        if queued {
            s.with(QUEUED | INBOX_ARMED)
        } else {
            s
        }
    }

    /// Where this occupancy's slot goes when reclaimed ([`Entry::reuse`]).
    #[inline]
    fn reuse(self) -> Reuse {
        if self.generation() == LAST_GENERATION {
            Reuse::Retire
        } else if self.has(INBOX_ARMED) {
            Reuse::Shared
        } else {
            Reuse::Owner
        }
    }

    /// The error a cancel or reset gets from a finished phase.
    fn finished_error(self) -> TimerError {
        match self.phase() {
            Phase::Cancelled => TimerError::AlreadyCancelled,
            Phase::Firing | Phase::Fired => TimerError::AlreadyFired,
            _ => TimerError::Stale,
        }
    }
}

/// What a successful cancel leaves the caller to do.
#[must_use = "a cancel may require an inbox push or an unlink"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cancelled {
    /// The entry is `CANCELLED`; `was_queued` says whether it already sat in the inbox, and
    /// `must_push` whether this caller set `QUEUED` and must push the index.
    /// `reuse`: where the slot goes once reclaimed, read from the state this cancel replaced
    /// (generation and `INBOX_ARMED` change only at the next arm), so the reclaimer need not
    /// load the word again.
    Now { was_queued: bool, must_push: bool, reuse: Reuse },
    /// A reset was in flight; `CANCEL_REQ` is set and the resetter finishes the cancel.
    Requested,
}

/// What [`Entry::finish_reset`] leaves the caller to do.
#[must_use = "a reset may require an inbox push, a re-file or a reclaim"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResetEnd {
    /// A cancel arrived during the reset: the entry is now `CANCELLED`.
    pub(crate) cancelled: bool,
    /// The entry sat in the inbox before this CAS (the drain will handle it).
    pub(crate) was_queued: bool,
    /// This caller set `QUEUED` and must push the index onto the inbox.
    pub(crate) must_push: bool,
    /// The wheel must re-file the entry (earlier deadline, or the expiry holder dropped it).
    pub(crate) needs_refile: bool,
}

/// What the expiry-right holder found when it tried to fire an entry.
#[derive(Debug)]
pub(crate) enum FireAttempt<T> {
    /// Won `PENDING -> FIRING -> FIRED`; here is the payload. `queued`: the drain reclaims.
    Fired { payload: Option<T>, queued: bool },
    /// Still pending, but its deadline is later than the caller's bound (a lazy reset-later).
    Later(u64),
    /// A reset is in flight; `REFILE` was set, so the resetter re-queues the entry.
    Resetting,
    /// Cancelled; `queued`: the drain reclaims, otherwise the caller does.
    Cancelled { queued: bool },
    /// Fired before (only reachable through the inbox).
    AlreadyFired { queued: bool },
}

/// Where a reclaimed slot goes ([`Entry::reuse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reuse {
    /// Its generation is spent: never handed out again.
    Retire,
    /// Armed through the inbox: back to the slab's shared free list, where remote inserters
    /// find it.
    Shared,
    /// Armed by the right's holder: the owner's private spares (or the shared list, as the
    /// reclaimer decides).
    Owner,
}

/// One slab slot.
#[derive(Debug)]
pub(crate) struct Entry<T> {
    state: AtomicU64,
    deadline: AtomicU64,
    /// Inbox or free-list link.
    pub(crate) next: AtomicU32,
    payload: UnsafeCell<Option<T>>,
}

impl<T> Entry<T> {
    pub(crate) fn new() -> Self {
        Entry {
            state: AtomicU64::new(0),
            deadline: AtomicU64::new(0),
            next: AtomicU32::new(NIL),
            payload: UnsafeCell::new(None),
        }
    }

    /// Acquire: pairs with the Release stores / CASes that publish a state.
    #[inline]
    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot(self.state.load(Ordering::Acquire))
    }

    /// The deadline; meaningful after an Acquire [`snapshot`](Self::snapshot).
    #[inline]
    pub(crate) fn deadline(&self) -> u64 {
        self.deadline.load(Ordering::Relaxed)
    }

    /// Arms a free slot for a new timer and returns its generation.
    ///
    /// The caller owns the slot: it popped it from the free list or grew the slab for it.
    #[inline]
    pub(crate) fn arm(&self, deadline_ns: u64, payload: T, queued: bool) -> u32 {
        let previous = Snapshot(self.state.load(Ordering::Relaxed));
        debug_assert!(previous.generation() != LAST_GENERATION, "a retired slot was re-armed");
        debug_assert!(
            matches!(previous.phase(), Phase::Free | Phase::Fired | Phase::Cancelled),
            "arming a slot that is not free: {:?}",
            previous.phase()
        );
        // Generation 0 means "never armed"; LAST_GENERATION is never exceeded (retired), so
        // this never wraps.
        let generation = previous.generation() + 1;
        // SAFETY: the slot is free and owned by this caller (popped from the free list or
        // freshly grown); no firer or reclaimer can reach it until the Release store below.
        self.payload.with_mut(|p| unsafe { *p = Some(payload) });
        self.deadline.store(deadline_ns, Ordering::Relaxed);
        // Release: pairs with the Acquire loads of cancel / reset / fire / drain, which then see
        // the payload and the deadline.
        self.state.store(Snapshot::armed(generation, queued).0, Ordering::Release);
        generation
    }

    /// The generation check every handle operation starts with.
    #[inline]
    fn checked(&self, generation: u32) -> Result<Snapshot, TimerError> {
        let s = self.snapshot();
        if s.generation() != generation || s.0 & PHASE_MASK == 0 {
            return Err(TimerError::Stale);
        }
        Ok(s)
    }

    /// Cancels the timer of `generation`. With `queue`, a newly cancelled entry that is not in
    /// the inbox gets `QUEUED` (the caller must push it); without, the caller holds the expiry
    /// right and unlinks it itself.
    #[inline]
    pub(crate) fn cancel(&self, generation: u32, queue: bool) -> Result<Cancelled, TimerError> {
        let mut s = self.checked(generation)?;
        if !queue && s.0 & FLAGS_AND_PHASE == PENDING_BITS {
            // The common case (pending, no flag): one CAS, no phase dispatch. Same CAS as in
            // the loop below: AcqRel pairs with the arm / reset Release and publishes the
            // cancel to the drain's and the firer's Acquire.
            let next = s.with_phase(Phase::Cancelled);
            match self.state.compare_exchange(s.0, next.0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    let reuse = s.reuse();
                    return Ok(Cancelled::Now { was_queued: false, must_push: false, reuse });
                }
                Err(actual) => s = Snapshot(actual),
            }
            if s.generation() != generation {
                return Err(TimerError::Stale);
            }
        }
        loop {
            let (next, outcome) = match s.phase() {
                Phase::Pending => {
                    let must_push = queue && !s.is_queued();
                    let next = s.with_phase(Phase::Cancelled);
                    let next = if must_push { next.with(QUEUED) } else { next };
                    let reuse = s.reuse();
                    (next, Cancelled::Now { was_queued: s.is_queued(), must_push, reuse })
                }
                Phase::Resetting if !s.has(CANCEL_REQ) => {
                    (s.with(CANCEL_REQ), Cancelled::Requested)
                }
                Phase::Resetting => return Err(TimerError::AlreadyCancelled),
                _ => return Err(s.finished_error()),
            };
            // AcqRel: Acquire pairs with the arm / reset Release; Release publishes the
            // cancel to the drain's and the firer's Acquire.
            match self.state.compare_exchange(s.0, next.0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(outcome),
                Err(actual) => s = Snapshot(actual),
            }
            if s.generation() != generation {
                return Err(TimerError::Stale);
            }
        }
    }

    /// Wins `PENDING -> RESETTING` for `generation` and returns the old deadline. Waits (spins)
    /// only while another reset of the same timer is in its two-step window.
    pub(crate) fn begin_reset(&self, generation: u32) -> Result<u64, TimerError> {
        let mut s = self.checked(generation)?;
        loop {
            match s.phase() {
                Phase::Pending => {
                    let next = s.with_phase(Phase::Resetting);
                    // Acquire: see the deadline the armer / last resetter wrote.
                    match self.state.compare_exchange(
                        s.0,
                        next.0,
                        Ordering::Acquire,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => return Ok(self.deadline()),
                        Err(actual) => s = Snapshot(actual),
                    }
                }
                Phase::Resetting if s.has(CANCEL_REQ) => return Err(TimerError::AlreadyCancelled),
                Phase::Resetting => {
                    spin_loop();
                    s = self.snapshot();
                }
                _ => return Err(s.finished_error()),
            }
            if s.generation() != generation {
                return Err(TimerError::Stale);
            }
        }
    }

    /// Reset by the holder of the shard's expiry right: one store of the deadline, then one
    /// CAS that keeps `PENDING` and bumps the reset epoch; returns the deadline it replaced.
    /// See "Reset by the right's holder" in the module docs for why no `RESETTING` window is
    /// needed and why the CAS is.
    #[inline]
    pub(crate) fn reset_held(&self, generation: u32, deadline_ns: u64) -> Result<u64, TimerError> {
        let mut s = self.checked(generation)?;
        let old = self.deadline();
        loop {
            match s.phase() {
                Phase::Pending => {
                    self.deadline.store(deadline_ns, Ordering::Relaxed);
                    // Release: the deadline store travels with the new epoch to whoever next
                    // reads-from the state word (a remote resetter's begin CAS reads the old
                    // deadline it compares with). Acquire on failure: a remote reset's state.
                    match self.state.compare_exchange(
                        s.0,
                        s.next_epoch().0,
                        Ordering::Release,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => return Ok(old),
                        Err(actual) => s = Snapshot(actual),
                    }
                }
                Phase::Resetting if s.has(CANCEL_REQ) => return Err(TimerError::AlreadyCancelled),
                Phase::Resetting => {
                    // A remote reset is in its two-step window: it never needs the right, so
                    // waiting for it while holding the right cannot deadlock.
                    spin_loop();
                    s = self.snapshot();
                }
                _ => return Err(s.finished_error()),
            }
            if s.generation() != generation {
                return Err(TimerError::Stale);
            }
        }
    }

    /// Ends a reset begun by [`begin_reset`](Self::begin_reset): stores the new deadline and
    /// leaves `RESETTING` with one CAS that honours `CANCEL_REQ` and `REFILE`. With `queue`,
    /// an entry that needs the owner's attention gets `QUEUED` (the caller pushes it).
    pub(crate) fn finish_reset(&self, deadline_ns: u64, earlier: bool, queue: bool) -> ResetEnd {
        self.deadline.store(deadline_ns, Ordering::Relaxed);
        // Only this thread leaves RESETTING; others only add CANCEL_REQ / REFILE / clear QUEUED.
        let mut s = Snapshot(self.state.load(Ordering::Relaxed));
        loop {
            debug_assert_eq!(s.phase(), Phase::Resetting, "only the resetter leaves RESETTING");
            let cancelled = s.has(CANCEL_REQ);
            let needs_refile = !cancelled && (earlier || s.has(REFILE));
            let wants_owner = cancelled || needs_refile;
            let must_push = queue && wants_owner && !s.is_queued();
            let phase = if cancelled { Phase::Cancelled } else { Phase::Pending };
            let mut next = s.with_phase(phase).without(CANCEL_REQ | REFILE).next_epoch();
            if must_push {
                next = next.with(QUEUED);
            }
            // Release: publishes the deadline store above to the Acquire of fire / drain.
            match self.state.compare_exchange(s.0, next.0, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => {
                    return ResetEnd {
                        cancelled,
                        was_queued: s.is_queued(),
                        must_push,
                        needs_refile,
                    }
                }
                Err(actual) => s = Snapshot(actual),
            }
        }
    }

    /// Sets `REFILE` on a `RESETTING` entry. Returns false if the entry left `RESETTING`
    /// meanwhile (the caller re-reads the state).
    pub(crate) fn request_refile(&self) -> bool {
        let mut s = Snapshot(self.state.load(Ordering::Relaxed));
        while s.phase() == Phase::Resetting {
            let next = s.with(REFILE);
            // Relaxed: the resetter's CAS reads this flag; no data travels with it.
            match self.state.compare_exchange(s.0, next.0, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(actual) => s = Snapshot(actual),
            }
        }
        false
    }

    /// For the expiry-right holder: fires the entry if it is pending with a deadline
    /// `<= bound_ns`.
    pub(crate) fn try_fire(&self, bound_ns: u64) -> FireAttempt<T> {
        let mut s = self.snapshot();
        loop {
            match s.phase() {
                Phase::Pending => {
                    let deadline = self.deadline();
                    if deadline > bound_ns {
                        return FireAttempt::Later(deadline);
                    }
                    let next = s.with_phase(Phase::Firing);
                    // Acquire: pairs with the arm's Release (payload) and a reset's Release.
                    match self.state.compare_exchange(
                        s.0,
                        next.0,
                        Ordering::Acquire,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => {
                            // SAFETY: winning PENDING -> FIRING gives this thread the payload:
                            // cancel and reset can no longer succeed, and the slot is reclaimed
                            // only after the FIRED store below, by the expiry-right holder.
                            let payload = self.payload.with_mut(|p| unsafe { (*p).take() });
                            // Release: a later reclaimer / stale handle sees FIRED.
                            self.state.store(next.with_phase(Phase::Fired).0, Ordering::Release);
                            return FireAttempt::Fired { payload, queued: next.is_queued() };
                        }
                        Err(actual) => s = Snapshot(actual),
                    }
                }
                Phase::Resetting => {
                    if self.request_refile() {
                        return FireAttempt::Resetting;
                    }
                    s = self.snapshot();
                }
                Phase::Cancelled => return FireAttempt::Cancelled { queued: s.is_queued() },
                Phase::Fired | Phase::Firing => {
                    return FireAttempt::AlreadyFired { queued: s.is_queued() }
                }
                Phase::Free => return FireAttempt::Cancelled { queued: false },
            }
        }
    }

    /// The drain's first step: clears `QUEUED` and returns the state before.
    pub(crate) fn take_queued(&self) -> Snapshot {
        // AcqRel: Acquire pairs with the Release of the CAS that set QUEUED (payload, deadline);
        // Release orders this clear before our later handling for a resetter that reads it.
        Snapshot(self.state.fetch_and(!QUEUED, Ordering::AcqRel))
    }

    /// Where the reclaimer of this finished occupancy puts the slot: nowhere if its
    /// generation is spent ([`LAST_GENERATION`]), the shared free list if it was armed
    /// through the inbox, else the owner's choice. Called by the reclaimer (the expiry-right
    /// holder) on a finished entry, whose generation and `INBOX_ARMED` flag no other thread
    /// can change (only an arm writes them, and the slot is armed again only after this
    /// reclaim hands it out).
    #[inline]
    pub(crate) fn reuse(&self) -> Reuse {
        // Relaxed: the reclaimer already read the finished state with Acquire; the bits read
        // here were written by the arm before it, by the thread that made that state visible.
        Snapshot(self.state.load(Ordering::Relaxed)).reuse()
    }

    /// Test hook: gives a finished (or never armed) slot the generation `generation`, as if it
    /// had been reused that many times, so tests reach the generation's edge directly.
    #[cfg(test)]
    pub(crate) fn age_for_test(&self, generation: u32) {
        let s = Snapshot(self.state.load(Ordering::Relaxed));
        debug_assert!(matches!(s.phase(), Phase::Free | Phase::Fired | Phase::Cancelled));
        let phase = if s.phase() == Phase::Free { Phase::Cancelled } else { s.phase() };
        let aged = Snapshot(u64::from(generation) << 32).with_phase(phase);
        self.state.store(aged.0, Ordering::Relaxed);
    }

    /// Takes the payload of a finished entry being reclaimed.
    ///
    /// Only the expiry-right holder calls this, once per occupancy, on an entry that is
    /// `CANCELLED` or `FIRED`, unlinked and not `QUEUED`.
    #[inline]
    pub(crate) fn take_payload_for_reclaim(&self) -> Option<T> {
        if cfg!(debug_assertions) {
            let s = Snapshot(self.state.load(Ordering::Relaxed));
            let finished = matches!(s.phase(), Phase::Cancelled | Phase::Fired | Phase::Free);
            assert!(finished && !s.is_queued(), "reclaiming a live or queued entry: {s:?}");
        }
        // SAFETY: the entry is finished (CANCELLED / FIRED) so no canceller, resetter or firer
        // touches the payload any more; the caller holds the expiry right and reclaims this
        // occupancy exactly once, before the slot goes back on the free list.
        self.payload.with_mut(|p| unsafe { (*p).take() })
    }
}
