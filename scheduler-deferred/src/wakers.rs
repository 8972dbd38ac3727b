//! [`Wakers`]: the tasks awaiting one chain, one entry per awaiting handle.
//!
//! Several tasks may `.await` clones of one Deferred at once; each must be woken when the
//! result comes to rest (the first to poll then takes it, the others get `ResultTaken`). So a
//! chain keeps one waker per *handle* that is waiting: the handle carries a key (see
//! [`Deferred`](crate::Deferred)'s `waiter` field), given by [`Wakers::register`] on its first
//! pending poll. A later poll through the same handle replaces its waker (the handle may have
//! moved to another task; `will_wake` skips the clone when it did not), a handle dropped while
//! waiting removes its entry ([`Wakers::remove`]), and firing takes them all
//! ([`Wakers::take`]). The set therefore holds one entry per handle waiting now, never more.
//!
//! The first entry is inline, so the usual single awaiter costs no allocation. All of it is
//! under the chain's lock; the wakers taken out are woken or dropped after the lock is released
//! (a waker's `wake` or drop may run arbitrary code).

use std::task::Waker;

use crate::driver::wake_from_here;

/// A handle's key in its chain's [`Wakers`]; `0` is "none".
pub(crate) type WaiterKey = u32;

/// The wakers of the handles awaiting a chain (see the module doc).
#[derive(Default)]
pub(crate) struct Wakers {
    first: Option<(WaiterKey, Waker)>,
    /// The second and later awaiting handles, boxed: a chain rarely has them, and every
    /// chain's state carries this field (one word to initialise and test, not three).
    #[allow(clippy::box_collection)]
    more: Option<Box<Vec<(WaiterKey, Waker)>>>,
    /// The last key given; keys start at 1 and wrap past 0.
    last_key: WaiterKey,
}

/// Wakers taken out of a [`Wakers`], to wake after the lock is released.
#[must_use = "taken wakers are woken with `wake_all` or dropped"]
pub(crate) struct Taken {
    first: Option<Waker>,
    #[allow(clippy::box_collection)] // moved out of `Wakers::more` as it is
    more: Option<Box<Vec<(WaiterKey, Waker)>>>,
}

impl Taken {
    /// Wakes every taken waker.
    /// Wakes every taken waker, as one of this crate's own wake sites (a `from_future`
    /// driver may poll inside it: see `driver.rs`).
    #[inline]
    pub(crate) fn wake_all(self) {
        if let Some(waker) = self.first {
            wake_from_here(waker);
        }
        if let Some(more) = self.more {
            wake_more(*more);
        }
    }
}

#[cold]
fn wake_more(more: Vec<(WaiterKey, Waker)>) {
    for (_, waker) in more {
        wake_from_here(waker);
    }
}

impl Wakers {
    /// True when no handle waits.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none() && self.more.is_none()
    }

    /// Records `waker` for the handle with `key` (giving the handle a key if it has none);
    /// returns the waker it replaces, to drop after the lock is released.
    #[inline]
    pub(crate) fn register(&mut self, key: &mut WaiterKey, waker: &Waker) -> Option<Waker> {
        if *key == 0 && self.first.is_none() {
            *key = self.new_key();
            self.first = Some((*key, waker.clone())); // the usual single awaiter
            return None;
        }
        self.register_more(key, waker)
    }

    #[cold]
    fn register_more(&mut self, key: &mut WaiterKey, waker: &Waker) -> Option<Waker> {
        if *key == 0 {
            *key = self.new_key();
        } else if let Some(slot) = self.find(*key) {
            if slot.will_wake(waker) {
                return None;
            }
            return Some(std::mem::replace(slot, waker.clone()));
        }
        let entry = (*key, waker.clone());
        match self.first {
            None => self.first = Some(entry),
            Some(_) => self.more.get_or_insert_with(Box::default).push(entry),
        }
        None
    }

    /// Removes the entry of the handle with `key`, if any.
    pub(crate) fn remove(&mut self, key: WaiterKey) -> Option<Waker> {
        if self.first.as_ref().is_some_and(|(k, _)| *k == key) {
            let (_, waker) = self.first.take()?;
            self.first = self.more.as_mut().and_then(|more| more.pop());
            self.drop_empty_more();
            return Some(waker);
        }
        let more = self.more.as_mut()?;
        let at = more.iter().position(|(k, _)| *k == key)?;
        let (_, waker) = more.swap_remove(at);
        self.drop_empty_more();
        Some(waker)
    }

    /// Takes every waker out (the chain's result came to rest); `None` if no handle waits.
    #[inline]
    pub(crate) fn take(&mut self) -> Option<Taken> {
        if self.is_empty() {
            return None;
        }
        self.take_all()
    }

    #[cold]
    fn take_all(&mut self) -> Option<Taken> {
        let first = self.first.take().map(|(_, waker)| waker);
        Some(Taken { first, more: self.more.take() })
    }

    fn find(&mut self, key: WaiterKey) -> Option<&mut Waker> {
        match &mut self.first {
            Some((k, waker)) if *k == key => Some(waker),
            _ => self.more.as_mut()?.iter_mut().find(|(k, _)| *k == key).map(|(_, waker)| waker),
        }
    }

    /// Keeps `more` `None` when it holds nothing (so `is_empty` stays two loads).
    fn drop_empty_more(&mut self) {
        if self.more.as_ref().is_some_and(|more| more.is_empty()) {
            self.more = None;
        }
    }

    fn new_key(&mut self) -> WaiterKey {
        self.last_key = self.last_key.wrapping_add(1).max(1);
        self.last_key
    }
}
