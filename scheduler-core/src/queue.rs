//! The work queues: a facade over `crossbeam-deque` with a loom-visible stand-in.
//!
//! Outside loom this re-exports crossbeam's Chase–Lev `Worker`/`Stealer` and its lock-free
//! `Injector` under our names. crossbeam-deque uses `core` atomics directly, so loom cannot see
//! it; under `cfg(loom)` the same three types are a `Mutex<VecDeque>` behind the crate's `sync`
//! facade. The models then check *our* protocols around the queues (notify, park, hand-off,
//! shutdown drain), not crossbeam's deque, whose own tests cover it.
//!
//! Invariants both arms keep: only the owner thread pushes to or pops from a [`Local`] queue;
//! any thread may steal through a [`Remote`] or push/steal on an [`Injector`]; an item is handed
//! out at most once.

#[cfg(not(loom))]
mod imp {
    use crossbeam_deque::Steal;

    /// The owner's end of a worker queue (`!Sync`: only the owning worker uses it).
    pub(crate) type Local<T> = crossbeam_deque::Worker<T>;

    /// A thief's end of a worker queue.
    pub(crate) type Remote<T> = crossbeam_deque::Stealer<T>;

    /// The global multi-producer multi-consumer queue.
    pub(crate) type Injector<T> = crossbeam_deque::Injector<T>;

    /// A new owner-side FIFO queue (tasks: yields go to the back, fairness within a worker).
    pub(crate) fn new_fifo<T>() -> Local<T> {
        crossbeam_deque::Worker::new_fifo()
    }

    /// A new owner-side LIFO queue (fork-join jobs: `join` pops its own job back).
    pub(crate) fn new_lifo<T>() -> Local<T> {
        crossbeam_deque::Worker::new_lifo()
    }

    /// Steals one item, retrying while the deque reports contention.
    #[inline]
    pub(crate) fn steal_one<T>(remote: &Remote<T>) -> Option<T> {
        loop {
            match remote.steal() {
                Steal::Success(t) => return Some(t),
                Steal::Empty => return None,
                Steal::Retry => core::hint::spin_loop(),
            }
        }
    }

    /// Moves about half of `remote`'s items into `local` and pops one of them.
    #[inline]
    pub(crate) fn steal_batch<T>(remote: &Remote<T>, local: &Local<T>) -> Option<T> {
        loop {
            match remote.steal_batch_and_pop(local) {
                Steal::Success(t) => return Some(t),
                Steal::Empty => return None,
                Steal::Retry => core::hint::spin_loop(),
            }
        }
    }

    /// Takes one item from the injector.
    #[inline]
    pub(crate) fn inject_steal_one<T>(inj: &Injector<T>) -> Option<T> {
        loop {
            match inj.steal() {
                Steal::Success(t) => return Some(t),
                Steal::Empty => return None,
                Steal::Retry => core::hint::spin_loop(),
            }
        }
    }

    /// Moves a batch from the injector into `local` and pops one of them.
    #[inline]
    pub(crate) fn inject_steal_batch<T>(inj: &Injector<T>, local: &Local<T>) -> Option<T> {
        loop {
            match inj.steal_batch_and_pop(local) {
                Steal::Success(t) => return Some(t),
                Steal::Empty => return None,
                Steal::Retry => core::hint::spin_loop(),
            }
        }
    }
}

#[cfg(loom)]
mod imp {
    use crate::sync::{Arc, Mutex};
    use std::collections::VecDeque;

    /// Loom stand-in for crossbeam's `Worker`: a shared `Mutex<VecDeque>`.
    #[derive(Debug)]
    pub(crate) struct Local<T> {
        items: Arc<Mutex<VecDeque<T>>>,
        lifo: bool,
    }

    /// Loom stand-in for crossbeam's `Stealer`.
    #[derive(Debug)]
    pub(crate) struct Remote<T> {
        items: Arc<Mutex<VecDeque<T>>>,
    }

    impl<T> Clone for Remote<T> {
        fn clone(&self) -> Self {
            Remote { items: self.items.clone() }
        }
    }

    /// Loom stand-in for crossbeam's `Injector`.
    #[derive(Debug)]
    pub(crate) struct Injector<T> {
        items: Mutex<VecDeque<T>>,
    }

    pub(crate) fn new_fifo<T>() -> Local<T> {
        Local { items: Arc::new(Mutex::new(VecDeque::new())), lifo: false }
    }

    pub(crate) fn new_lifo<T>() -> Local<T> {
        Local { items: Arc::new(Mutex::new(VecDeque::new())), lifo: true }
    }

    impl<T> Local<T> {
        pub(crate) fn push(&self, t: T) {
            self.items.lock().push_back(t);
        }
        pub(crate) fn pop(&self) -> Option<T> {
            let mut q = self.items.lock();
            if self.lifo {
                q.pop_back()
            } else {
                q.pop_front()
            }
        }
        pub(crate) fn stealer(&self) -> Remote<T> {
            Remote { items: self.items.clone() }
        }
        pub(crate) fn len(&self) -> usize {
            self.items.lock().len()
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.items.lock().is_empty()
        }
    }

    impl<T> Remote<T> {
        pub(crate) fn len(&self) -> usize {
            self.items.lock().len()
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.items.lock().is_empty()
        }
    }

    impl<T> Default for Injector<T> {
        fn default() -> Self {
            Injector { items: Mutex::new(VecDeque::new()) }
        }
    }

    impl<T> Injector<T> {
        pub(crate) fn new() -> Self {
            Self::default()
        }
        pub(crate) fn push(&self, t: T) {
            self.items.lock().push_back(t);
        }
        pub(crate) fn len(&self) -> usize {
            self.items.lock().len()
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.items.lock().is_empty()
        }
    }

    pub(crate) fn steal_one<T>(remote: &Remote<T>) -> Option<T> {
        remote.items.lock().pop_front()
    }

    pub(crate) fn steal_batch<T>(remote: &Remote<T>, _local: &Local<T>) -> Option<T> {
        steal_one(remote)
    }

    pub(crate) fn inject_steal_one<T>(inj: &Injector<T>) -> Option<T> {
        inj.items.lock().pop_front()
    }

    pub(crate) fn inject_steal_batch<T>(inj: &Injector<T>, _local: &Local<T>) -> Option<T> {
        inject_steal_one(inj)
    }
}

pub(crate) use imp::*;
