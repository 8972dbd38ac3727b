//! The shared core of one shard and its protocol: the expiry right, the inbox, and the
//! published next deadline.
//!
//! # Who may touch what
//!
//! - **Entries** (state word, deadline, payload) follow the state machine of
//!   [`crate::entry`]: any thread may cancel or reset with CASes on the state word; pages never
//!   free while the shard lives, so a stale handle only ever fails a CAS.
//! - **The wheel** (levels, links, due heap, overflow, the private list of spare slots) is
//!   touched only by the holder of the shard's **expiry right**, `expiry: AtomicBool`.
//!   It is taken with a *try*-acquire (`compare_exchange(false, true, Acquire)`) and released
//!   with a `Release` store; nobody ever waits for it. Its owner takes it for each insert,
//!   cancel, reset or expiry step (one uncontended CAS and one store: the owner's insert path
//!   stays a few nanoseconds), or once for a batch of them (a
//!   [`TimerSession`](crate::TimerSession)); a **stealer** takes it for each timer it fires.
//!   Holding it is proven by a `Right` value (not `Send`, released on drop); the wheel is
//!   reached only through `held_wheel(&mut Right)`, so at most one `&mut Wheel` exists per
//!   hold.
//! - **The inbox** is an intrusive Treiber stack of slab indices linked through `Entry::next`:
//!   push = one CAS on `inbox`, drain = one `swap(NIL)` by the right's holder. An index is in
//!   the inbox at most once: pushing requires having set the entry's `QUEUED` flag in the same
//!   CAS that decided the operation, and only the drain clears it. The drain reads the whole
//!   chain before absorbing anything (absorbing may reuse `next` for the free list), and
//!   reverses it, so inserts from one thread are admitted (and get their `seq`) in order.
//!
//! # Operations
//!
//! - *Slots*: the right's holder takes a slot from its private spare list, else from the
//!   slab's shared free list (a tagged Treiber stack, see [`crate::slab`]), else grows the slab
//!   by a chunk of 32 (one CAS). Anyone else pops the shared free list; if it is empty, it
//!   try-acquires the right and takes a spare (after draining the inbox, which reclaims
//!   remotely cancelled slots); only if that fails too does it grow the slab by one and set
//!   the slab's `starved` hint.
//! - *Reclaim*: only the right's holder reclaims a slot, once per occupancy (at a cancel under
//!   the right, at a fire, or when the drain meets a remotely cancelled entry), and sends it
//!   back to where the kind of inserter that armed it looks for slots. A slot armed through
//!   the inbox (a remote insert: the entry's `INBOX_ARMED` flag, [`crate::entry`]) goes to the
//!   shared free list. A slot the holder armed goes to the private spares (no CAS), unless it
//!   came through the inbox (a remote cancel) or the `starved` hint was set (one slot per
//!   hint): then to the shared list too. A slot whose generation is spent goes nowhere.
//! - *Why the slab stays bounded*: it grows in two places only. The holder grows it when both
//!   free lists are empty, that is when every slot is occupied. A remote inserter grows it
//!   when the shared list is empty, so every slot is occupied or a private spare. And the
//!   spares never outnumber the peak of holder-armed occupancies plus one chunk: they are
//!   filled only by reclaims of holder-armed slots, and the holder takes from them before it
//!   pops the shared list or grows. So the slab holds at most about twice the peak number of
//!   occupied slots, plus 33, plus one per remote inserter between its pop and its arm. A
//!   slot is occupied by a pending timer, or by a finished one waiting for the holder: a
//!   remote cancel until the next drain. In steady state that is within a small factor of the
//!   peak of pending timers, however long the traffic runs (tests:
//!   `tests/slot_reuse.rs`, `*_keep_constant_memory`; model:
//!   `loom-tests/tests/timers_slot_reuse.rs`). While a thread holding the right is
//!   descheduled, the others' insert + cancel churn keeps finding no free slot (the cancels
//!   wait for the drain), so the slab grows by the churn of that stall and reuses it
//!   afterwards: it grows with the longest stall, not with traffic. Sending a remote insert's
//!   fired slot to the spares instead (which only the holder's own inserts use) would let a
//!   thread inserting while the owner fires grow the slab without bound.
//! - *Insert* by the right's holder: take a slot, arm it, admit it (give it the next `seq`)
//!   and file it; before that, drain the inbox if it is non-empty (one load when empty), so
//!   inserts ordered by happens-before get `seq`s in that order. By anyone else (or by the
//!   owner when a stealer holds the right): arm it with `QUEUED` and push it; the holder
//!   admits it at its next drain.
//! - *Cancel*: one CAS `PENDING -> CANCELLED`. With the right, the owner unlinks and reclaims at
//!   once; otherwise the CAS also sets `QUEUED` (if it was clear) and the index is pushed, so the
//!   right's holder unlinks and reclaims it at its next drain.
//! - *Reset*: by the right's holder, store the deadline and one CAS that bumps the entry's
//!   epoch (`crate::entry`, "Reset by the right's holder"); by anyone else, `PENDING ->
//!   RESETTING`, store the deadline, one CAS back to `PENDING`. A later deadline needs nothing
//!   more (the entry is re-filed lazily when its old slot or heap item comes up); an earlier
//!   one is re-filed at once by the holder, or pushed on the inbox.
//! - *Expire*: the holder drains the inbox, then pops the next due timer from the wheel
//!   (`PENDING -> FIRING -> FIRED`, payload moved out), releases the right, and only then calls
//!   the fire callback: callbacks run outside the right, so they may insert, cancel and reset
//!   on the same shard (and a timer they insert that is already due fires in the same pass,
//!   in `(deadline, seq)` order).
//! - *Expiry pass* ([`crate::pass`]): as *Expire*, but the right is taken once and kept while
//!   the callbacks run; an operation of a callback on the same shard (same thread) borrows it
//!   (`Shared::try_right` checks a thread-local record of the pass) instead of taking it, so
//!   it files, cancels or resets at once with no read-modify-write on the right. No
//!   `HeldWheel` of the pass lives while a callback runs, so there is still one `&mut Wheel`
//!   at a time. A session cannot borrow it (`try_right_exclusive`): a lent right must not
//!   outlive the operation.
//!
//! # The published next deadline
//!
//! `next_deadline: AtomicU64` (`u64::MAX` = none) is a lower bound of every pending deadline,
//! so a worker that parks until it never oversleeps. Only *raising* it needs the argument
//! below: a pass that leaves it as it is (an expiry pass, which removes timers and admits
//! inserts that lower it themselves) keeps it a lower bound, if a stale one. It is lowered (a load, then `fetch_min`
//! only if the new deadline is earlier) by every insert or earlier reset (whose return value tells a remote caller whether to unpark the
//! owner: [`Wake`]), and replaced with an exact value by the right's holder after
//! an expiry pass. The replacement could hide a remote insert that the holder's drain missed;
//! this is excluded Dekker-style: the remote side does *push; `fence(SeqCst)`; read
//! `next_deadline` (then `fetch_min` if earlier)*, the holder *store; `fence(SeqCst)`; load
//! `inbox`* and drains again if it is non-empty. By the two SeqCst fences, in any interleaving
//! either the holder's load sees the push (and files the timer), or the remote read sees the
//! holder's store, so it lowers the new value and reports [`Wake::Owner`](crate::Wake) if its
//! timer is earlier (model: `loom-tests/tests/timers_inbox.rs`, which fails without the
//! fences).
//!
//! # Timer stealing
//!
//! An idle thread that sees a shard's published deadline `<= now` may call
//! [`RemoteShard::steal_expired`](crate::RemoteShard::steal_expired): it try-acquires the
//! right, fires due timers one at a time exactly as the owner would, and gives up at once if
//! the right is taken. Meanwhile the owner's inserts, cancels and resets never block: finding
//! the right taken, they go through the inbox path. Each fire is still one `PENDING -> FIRING`
//! CAS, so a timer fires once whoever expires it (model: `loom-tests/tests/timers_steal.rs`).

use crate::entry::{Cancelled, Entry, Phase, NIL};
use crate::error::TimerError;
use crate::key::{TimerKey, Wake};
use crate::slab::Slab;
use crate::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use crate::sync::{dekker_fence, MutPtr, UnsafeCell};
use crate::wheel::Wheel;
use crate::TimerConfig;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

/// Slots the owner claims from the slab at once when it must grow (one CAS per chunk).
#[cfg(not(loom))]
const OWNER_GROW_CHUNK: u32 = 32;
/// Under loom: one at a time, so models with a few timers stay small (no logic change).
#[cfg(loom)]
const OWNER_GROW_CHUNK: u32 = 1;

/// `next_deadline` value meaning "no pending timer".
const NONE_PENDING: u64 = u64::MAX;

/// The state one shard shares between its owner, remote handles and stealers.
///
/// Aligned to 128 bytes (two cache lines, the prefetch pair) so two shards' hot words never
/// share a line: each owner CASes its own `expiry` on every operation.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct Shared<T> {
    pub(crate) id: u32,
    pub(crate) slab: Slab<T>,
    expiry: AtomicBool,
    wheel: UnsafeCell<Wheel>,
    inbox: AtomicU32,
    next_deadline: AtomicU64,
}

// SAFETY: the wheel (the only `!Sync` field) is touched only by the holder of the expiry right,
// one thread at a time (`held_wheel`); payloads of type `T` are moved between threads (armed on
// one, fired or dropped on another) but never shared by reference, so `T: Send` suffices.
unsafe impl<T: Send> Sync for Shared<T> {}
// SAFETY: as above; moving the shard moves its payloads, which are `Send`.
unsafe impl<T: Send> Send for Shared<T> {}

/// Proof that the current thread holds a shard's expiry right; releases it on drop (so a
/// panicking payload `Drop` cannot wedge the shard). A pass's right lent to one operation of
/// a callback (`lent`, [`crate::pass`]) is handed back to the pass on drop instead. Not
/// `Send`: the right is released by the thread that took it.
#[derive(Debug)]
pub(crate) struct Right<'a> {
    flag: &'a AtomicBool,
    lent: bool,
    _not_send: PhantomData<*const ()>,
}

impl Drop for Right<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.lent {
            crate::pass::give_back(self.flag);
        } else {
            // Release: pairs with the Acquire of the next try-acquire; the wheel travels with
            // it.
            self.flag.store(false, Ordering::Release);
        }
    }
}

/// Exclusive access to a shard's wheel while its expiry right is held ([`Shared::held_wheel`]).
pub(crate) struct HeldWheel<'r> {
    wheel: &'r mut Wheel,
    /// Keeps loom's record of the access open as long as `wheel` is usable.
    _access: MutPtr<Wheel>,
}

impl Deref for HeldWheel<'_> {
    type Target = Wheel;

    #[inline(always)]
    fn deref(&self) -> &Wheel {
        self.wheel
    }
}

impl DerefMut for HeldWheel<'_> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Wheel {
        self.wheel
    }
}

impl<T> Shared<T> {
    pub(crate) fn new(id: u32, config: TimerConfig) -> Self {
        Shared {
            id,
            slab: Slab::new(),
            expiry: AtomicBool::new(false),
            wheel: UnsafeCell::new(Wheel::new(config.tick_shift(), config.levels())),
            inbox: AtomicU32::new(NIL),
            next_deadline: AtomicU64::new(NONE_PENDING),
        }
    }

    /// Takes the expiry right if it is free (one uncontended CAS); `None` if another thread
    /// holds it. Nobody ever waits for the right. For a hold that may outlive the caller's
    /// frame (a [`TimerSession`](crate::TimerSession)); one operation uses
    /// [`try_right`](Self::try_right).
    #[inline(always)]
    pub(crate) fn try_right_exclusive(&self) -> Option<Right<'_>> {
        // Acquire: pairs with the Release in `Right::drop` of the previous holder.
        self.expiry
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| Right { flag: &self.expiry, lent: false, _not_send: PhantomData })
    }

    /// The right for one operation that drops it before returning: taken if it is free, or
    /// lent by the expiry pass this thread is running on this shard (its callback is the
    /// caller, [`crate::pass`]); `None` if another thread holds it. A plain load first, so an
    /// operation inside a pass costs no read-modify-write.
    #[inline(always)]
    pub(crate) fn try_right(&self) -> Option<Right<'_>> {
        if self.expiry.load(Ordering::Relaxed) {
            return self.lent_right();
        }
        self.try_right_exclusive()
    }

    /// The right lent by this thread's expiry pass on this shard, if it runs one.
    #[cold]
    fn lent_right(&self) -> Option<Right<'_>> {
        // `then`, not `then_some`: a `Right` built and dropped on refusal would "give back" a
        // right this thread never borrowed (loom found it: `timers_pass.rs`).
        crate::pass::borrow(&self.expiry).then(|| Right {
            flag: &self.expiry,
            lent: true,
            _not_send: PhantomData,
        })
    }

    /// The expiry right's flag (a pass records which shard it holds by its address).
    pub(crate) fn expiry_flag(&self) -> &AtomicBool {
        &self.expiry
    }

    /// The wheel, for as long as `right` (proof that this thread holds the expiry right) is
    /// borrowed: at most one [`HeldWheel`] per hold of the right exists at a time.
    #[inline(always)]
    pub(crate) fn held_wheel<'r>(&'r self, right: &'r mut Right<'_>) -> HeldWheel<'r> {
        debug_assert!(std::ptr::eq(right.flag, &self.expiry), "the right of another shard");
        let access = self.wheel.get_mut();
        // SAFETY: `right` proves that this thread holds this shard's expiry right, which gives
        // exclusive access to the wheel until it drops; the `&mut Right` borrow for `'r` means
        // no second `HeldWheel` of this hold exists while this one lives.
        let wheel = unsafe { &mut *(access.deref() as *mut Wheel) };
        HeldWheel { wheel, _access: access }
    }

    /// Runs `f` with the wheel if the expiry right is free; `None` if another thread holds it.
    #[inline]
    pub(crate) fn with_wheel<R>(&self, f: impl FnOnce(&mut Wheel) -> R) -> Option<R> {
        let mut right = self.try_right()?;
        let mut wheel = self.held_wheel(&mut right);
        Some(f(&mut wheel))
    }

    /// The entry a key names, after the shard check.
    #[inline(always)]
    pub(crate) fn entry(&self, key: TimerKey) -> Result<&Entry<T>, TimerError> {
        if key.shard != self.id {
            return Err(TimerError::WrongShard);
        }
        self.slab.get(key.index).ok_or(TimerError::Stale)
    }

    #[inline(always)]
    pub(crate) fn key(&self, index: u32, generation: u32) -> TimerKey {
        TimerKey { shard: self.id, index, generation }
    }

    /// The published next deadline (a lower bound of every pending deadline).
    pub(crate) fn published(&self) -> Option<u64> {
        let d = self.next_deadline.load(Ordering::Acquire);
        (d != NONE_PENDING).then_some(d)
    }

    /// Lowers the published deadline; true if `deadline` is earlier than what was published.
    /// A plain load first: most new timers are later than the earliest one, and then no
    /// read-modify-write is needed (the Dekker argument in the module doc only needs the
    /// *read* of `next_deadline` after the fence; `fetch_min` keeps concurrent lowerings).
    #[inline]
    pub(crate) fn lower_published(&self, deadline: u64) -> bool {
        if deadline >= self.next_deadline.load(Ordering::Acquire) {
            return false;
        }
        // AcqRel: a read-modify-write, ordered by the SeqCst fences around it (module doc).
        deadline < self.next_deadline.fetch_min(deadline, Ordering::AcqRel)
    }

    // ----- inbox -----

    fn push_inbox(&self, index: u32, entry: &Entry<T>) {
        let mut head = self.inbox.load(Ordering::Relaxed);
        loop {
            entry.next.store(head, Ordering::Relaxed);
            // Release: pairs with the drain's Acquire swap (the link and the entry's arm).
            match self.inbox.compare_exchange_weak(
                head,
                index,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => head = actual,
            }
        }
    }

    /// Pushes `index`, then lowers the published deadline (the Dekker pair of `publish`).
    fn push_and_announce(&self, index: u32, entry: &Entry<T>, deadline: u64) -> Wake {
        self.push_inbox(index, entry);
        dekker_fence();
        Wake::from_earlier(self.lower_published(deadline))
    }

    /// Admits everything in the inbox into the wheel (right held): one load when it is empty.
    #[inline(always)]
    pub(crate) fn drain_inbox(&self, wheel: &mut Wheel) {
        if self.inbox.load(Ordering::Relaxed) != NIL {
            self.drain_inbox_slow(wheel);
        }
    }

    #[cold]
    #[inline(never)]
    fn drain_inbox_slow(&self, wheel: &mut Wheel) {
        // Acquire: pairs with the Release CAS of every push (release sequence of the head).
        let mut index = self.inbox.swap(NIL, Ordering::Acquire);
        let mut batch = std::mem::take(&mut wheel.scratch);
        while let Some(entry) = self.slab.get(index) {
            batch.push(index);
            index = entry.next.load(Ordering::Relaxed);
        }
        for &index in batch.iter().rev() {
            self.absorb(wheel, index);
        }
        batch.clear();
        wheel.scratch = batch;
    }

    /// Handles one drained index according to its state.
    fn absorb(&self, wheel: &mut Wheel, index: u32) {
        let Some(entry) = self.slab.get(index) else { return };
        let mut s = entry.take_queued();
        let mut queued = false; // we just cleared QUEUED
        loop {
            match s.phase() {
                Phase::Pending => {
                    wheel.admit(index);
                    wheel.unlink(index);
                    return wheel.file(index, entry.deadline());
                }
                Phase::Resetting => {
                    wheel.admit(index);
                    wheel.unlink(index);
                    if entry.request_refile() {
                        return;
                    }
                }
                Phase::Cancelled | Phase::Fired if !queued => {
                    drop(wheel.reclaim_to(&self.slab, index, true));
                    return;
                }
                _ => return, // queued again: the next drain handles it
            }
            s = entry.snapshot();
            queued = s.is_queued();
        }
    }

    /// Replaces the published deadline with the wheel's exact earliest one (right held), and
    /// drains again if a push raced with it. Returns what it published.
    pub(crate) fn publish(&self, wheel: &mut Wheel) -> Option<u64> {
        loop {
            self.drain_inbox(wheel);
            let next = wheel.earliest(&self.slab);
            self.next_deadline.store(next.unwrap_or(NONE_PENDING), Ordering::Release);
            dekker_fence();
            if self.inbox.load(Ordering::Relaxed) == NIL {
                return next;
            }
        }
    }

    // ----- slots -----

    /// A free slot for a thread without the right: the shared free list, else (if the right is
    /// free) a private spare or a slot the inbox drain reclaims, else a new one.
    fn alloc_remote(&self) -> Result<u32, TimerError> {
        if let Some(index) = self.slab.pop_free() {
            return Ok(index);
        }
        // With the right, the private spares (and slots the drain reclaims) are ours to take.
        let spare = self.with_wheel(|wheel| {
            self.drain_inbox(wheel);
            wheel.take_spare().or_else(|| self.slab.pop_free())
        });
        if let Some(Some(index)) = spare {
            return Ok(index);
        }
        self.slab.mark_starved();
        self.slab.grow(1).map(|fresh| fresh.start)
    }

    // ----- operations -----

    /// Insert by the owner: through the expiry right if it is free, else through the inbox.
    #[inline(always)]
    pub(crate) fn insert_owner(
        &self,
        deadline: u64,
        payload: T,
    ) -> Result<(TimerKey, Wake), TimerError> {
        match self.try_right() {
            Some(mut right) => {
                let (index, generation) = self.insert_held(&mut right, deadline, payload)?;
                drop(right);
                let wake = Wake::from_earlier(self.lower_published(deadline));
                Ok((self.key(index, generation), wake))
            }
            None => self.insert_remote(deadline, payload),
        }
    }

    /// Insert by the right's holder: take a slot, arm it, admit and file it (no RMW once the
    /// slab has grown). Returns `(index, generation)` (the caller builds the key: plain
    /// scalars keep the key out of memory on the hot path) and lowers the published deadline.
    #[inline(always)]
    pub(crate) fn insert_held(
        &self,
        right: &mut Right<'_>,
        deadline: u64,
        payload: T,
    ) -> Result<(u32, u32), TimerError> {
        let mut wheel = self.held_wheel(right);
        self.drain_inbox(&mut wheel);
        let index = match wheel.take_spare() {
            Some(index) => index,
            None => self.alloc_held(&mut wheel)?,
        };
        let entry = self.slab.get(index).ok_or(TimerError::Stale)?;
        let generation = entry.arm(deadline, payload, false);
        wheel.admit(index);
        wheel.file(index, deadline);
        Ok((index, generation))
    }

    /// A slot for the right's holder when its spares are empty: the shared free list, else a
    /// chunk of fresh slots.
    #[cold]
    fn alloc_held(&self, wheel: &mut Wheel) -> Result<u32, TimerError> {
        if let Some(index) = self.slab.pop_free() {
            return Ok(index);
        }
        let fresh = self.slab.grow(OWNER_GROW_CHUNK)?;
        wheel.add_spares(fresh.start + 1..fresh.end);
        Ok(fresh.start)
    }

    /// Insert through the inbox.
    pub(crate) fn insert_remote(
        &self,
        deadline: u64,
        payload: T,
    ) -> Result<(TimerKey, Wake), TimerError> {
        let index = self.alloc_remote()?;
        let entry = self.slab.get(index).ok_or(TimerError::Stale)?;
        let generation = entry.arm(deadline, payload, true);
        let wake = self.push_and_announce(index, entry, deadline);
        Ok((self.key(index, generation), wake))
    }

    /// Cancel; with the right the entry is unlinked and reclaimed at once, without it the index
    /// goes to the inbox. The cancelled payload is dropped after the right is released.
    #[inline(always)]
    pub(crate) fn cancel(&self, key: TimerKey, try_owner: bool) -> Result<(), TimerError> {
        let entry = self.entry(key)?;
        if try_owner {
            if let Some(mut right) = self.try_right() {
                let dropped = self.cancel_held(&mut right, key, entry);
                drop(right);
                return dropped.map(drop);
            }
        }
        if let Cancelled::Now { must_push: true, .. } = entry.cancel(key.generation, true)? {
            self.push_inbox(key.index, entry);
        }
        Ok(())
    }

    /// Cancel by the right's holder (one CAS on the entry): unlinks and reclaims at once, and
    /// returns the payload for the caller to drop (after the wheel access ends).
    #[inline(always)]
    pub(crate) fn cancel_held(
        &self,
        right: &mut Right<'_>,
        key: TimerKey,
        entry: &Entry<T>,
    ) -> Result<Option<T>, TimerError> {
        let outcome = entry.cancel(key.generation, false)?;
        let mut wheel = self.held_wheel(right);
        Ok(match outcome {
            Cancelled::Now { was_queued: false, reuse, .. } => {
                wheel.reclaim_entry(&self.slab, key.index, entry, reuse)
            }
            Cancelled::Now { was_queued: true, .. } => {
                wheel.unlink(key.index);
                None
            }
            Cancelled::Requested => None,
        })
    }

    /// Reset to `deadline`. Returns whether the owner should be woken (remote path only).
    pub(crate) fn reset(
        &self,
        key: TimerKey,
        deadline: u64,
        try_owner: bool,
    ) -> Result<Wake, TimerError> {
        let entry = self.entry(key)?;
        #[cfg(loom)]
        if try_owner && crate::sync::reset_without_right() {
            // The broken variant of a `should_panic` loom model (`loom_api`): the held path's
            // store without the right.
            entry.reset_held(key.generation, deadline)?;
            return Ok(Wake::NotNeeded);
        }
        if try_owner {
            if let Some(mut right) = self.try_right() {
                let earlier = self.reset_held(&mut right, key, entry, deadline);
                drop(right);
                if earlier? {
                    let _ = self.lower_published(deadline);
                }
                return Ok(Wake::NotNeeded);
            }
        }
        let old = entry.begin_reset(key.generation)?;
        let end = entry.finish_reset(deadline, deadline < old, true);
        if end.cancelled {
            if end.must_push {
                self.push_inbox(key.index, entry);
            }
            return Ok(Wake::NotNeeded);
        }
        if !end.needs_refile {
            return Ok(Wake::NotNeeded);
        }
        if end.must_push {
            return Ok(self.push_and_announce(key.index, entry, deadline));
        }
        dekker_fence();
        Ok(Wake::from_earlier(self.lower_published(deadline)))
    }

    /// Reset by the right's holder: one store and one CAS on the entry
    /// ([`Entry::reset_held`]); an earlier deadline is re-filed at once. Returns whether the
    /// deadline moved earlier (the caller lowers the published deadline).
    #[inline]
    pub(crate) fn reset_held(
        &self,
        right: &mut Right<'_>,
        key: TimerKey,
        entry: &Entry<T>,
        deadline: u64,
    ) -> Result<bool, TimerError> {
        let old = entry.reset_held(key.generation, deadline)?;
        let earlier = deadline < old;
        if earlier {
            let mut wheel = self.held_wheel(right);
            if wheel.is_filed(key.index) {
                wheel.unlink(key.index);
                wheel.file(key.index, deadline);
            }
        }
        Ok(earlier)
    }

    /// The pending deadline of a key.
    pub(crate) fn deadline_of(&self, key: TimerKey) -> Result<u64, TimerError> {
        let entry = self.entry(key)?;
        let s = entry.snapshot();
        if s.generation() != key.generation {
            return Err(TimerError::Stale);
        }
        match s.phase() {
            Phase::Pending | Phase::Resetting => Ok(entry.deadline()),
            Phase::Cancelled => Err(TimerError::AlreadyCancelled),
            Phase::Firing | Phase::Fired => Err(TimerError::AlreadyFired),
            Phase::Free => Err(TimerError::Stale),
        }
    }

    /// Fires up to `max` due timers, one per hold of the right, calling `f` outside it.
    /// `None` if the right was busy before anything fired.
    pub(crate) fn expire(
        &self,
        now: u64,
        max: usize,
        f: &mut dyn FnMut(T),
    ) -> Option<(usize, Option<u64>)> {
        let mut fired = 0;
        loop {
            if fired >= max {
                let next = self.with_wheel(|wheel| self.publish(wheel)).unwrap_or(self.published());
                return Some((fired, next));
            }
            let step = self.with_wheel(|wheel| {
                self.drain_inbox(wheel);
                match wheel.pop_due(&self.slab, now) {
                    Some(payload) => Ok(payload),
                    None => Err(self.publish(wheel)),
                }
            });
            match step {
                None if fired == 0 => return None,
                None => return Some((fired, self.published())),
                Some(Err(next)) => return Some((fired, next)),
                Some(Ok(payload)) => {
                    fired += 1;
                    if let Some(payload) = payload {
                        f(payload);
                    }
                }
            }
        }
    }

    /// The exact earliest pending deadline (right needed), after draining the inbox.
    pub(crate) fn earliest(&self) -> Option<Option<u64>> {
        self.with_wheel(|wheel| self.publish(wheel))
    }

    /// Deadlines of all pending timers, sorted (a scan of the slab: for tests and tooling).
    pub(crate) fn pending_deadlines(&self) -> Vec<u64> {
        let mut out: Vec<u64> = (0..self.slab.len())
            .filter_map(|i| self.slab.get(i))
            .filter(|e| matches!(e.snapshot().phase(), Phase::Pending | Phase::Resetting))
            .map(Entry::deadline)
            .collect();
        out.sort_unstable();
        out
    }

    /// Wheel statistics for tests: (slab slots handed out, due-heap items, wheel empty).
    pub(crate) fn stats(&self) -> Option<(u32, usize, bool)> {
        self.with_wheel(|wheel| {
            self.drain_inbox(wheel);
            (self.slab.len(), wheel.due_len(), wheel.is_empty())
        })
    }
}
