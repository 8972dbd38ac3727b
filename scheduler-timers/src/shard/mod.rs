//! The shared core of one shard and who may touch what: the expiry right, the entries and
//! the wheel. Its parts live in the child modules:
//!
//! - [`inbox`]: the inbox (other threads' operations, drained by the right's holder) and the
//!   published next deadline (the Dekker pair between a remote insert and the holder);
//! - [`slots`]: where slots come from and go back to, and why the slab stays bounded;
//! - [`ops`]: the operations (insert, cancel, reset, expire) on both paths.
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
//! - **The inbox**: any thread pushes, only the right's holder drains ([`inbox`]).
//!
//! # Timer stealing
//!
//! An idle thread that sees a shard's published deadline `<= now` may call
//! [`RemoteShard::steal_expired`](crate::RemoteShard::steal_expired): it try-acquires the
//! right, fires due timers one at a time exactly as the owner would, and gives up at once if
//! the right is taken. Meanwhile the owner's inserts, cancels and resets never block: finding
//! the right taken, they go through the inbox path. Each fire is still one `PENDING -> FIRING`
//! CAS, so a timer fires once whoever expires it (model: `loom-tests/tests/timers_steal.rs`).

pub(crate) mod inbox;
pub(crate) mod ops;
pub(crate) mod slots;

pub(crate) use ops::Route;

use crate::entry::{Entry, NIL};
use crate::error::{ShardBusy, TimerError};
use crate::key::TimerKey;
use crate::slab::Slab;
use crate::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use crate::sync::{MutPtr, UnsafeCell};
use crate::wheel::Wheel;
use crate::TimerConfig;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

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

    /// Runs `f` with the wheel if the expiry right is free; [`ShardBusy`] if another thread
    /// holds it.
    #[inline]
    pub(crate) fn with_wheel<R>(&self, f: impl FnOnce(&mut Wheel) -> R) -> Result<R, ShardBusy> {
        let mut right = self.try_right().ok_or(ShardBusy)?;
        let mut wheel = self.held_wheel(&mut right);
        Ok(f(&mut wheel))
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
}
