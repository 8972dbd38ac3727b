//! [`QueueStream`]: a [`DeferredQueue`](crate::DeferredQueue)'s values as a `Stream`.
//!
//! Under the queue's one lock, a receiver that finds no pending value records its task's
//! waker in `State::streams` (oldest first; one entry per receiver, updated in place), and a
//! `put` that finds no waiting `get` Deferred pushes the value to `pending` and takes the
//! oldest recorded waker, which it wakes after releasing the lock. Checking `pending` and
//! recording the waker happen in one critical section, and so do pushing the value and
//! taking the waker: a value is never pushed unseen by a receiver that then sleeps (no lost
//! wake-up). A receiver that takes a value leaves the waiting list, and a woken receiver that
//! is dropped instead of polled wakes the next one if values are still pending, so a value
//! never waits while another receiver sleeps. A value given back to the queue (a withdrawn
//! getter's) wakes a receiver as a `put` does.
//!
//! Receivers come after waiting `get` Deferreds: they take only pending values, never a
//! value a getter is waiting for. A receiver does not count as a getter for the queue's
//! `size` limit (`size = Some(0)` still refuses a `put` when only receivers wait).

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::queue::Shared;

/// The receivers waiting for a value: `(receiver id, its task's waker)`, oldest first.
#[derive(Default)]
pub(crate) struct StreamWaiters {
    waiting: VecDeque<(u64, Waker)>,
    next_id: u64,
}

impl StreamWaiters {
    /// Records (or refreshes) receiver `id`'s waker.
    fn register(&mut self, id: u64, waker: &Waker) {
        match self.waiting.iter_mut().find(|(i, _)| *i == id) {
            Some((_, w)) if w.will_wake(waker) => {}
            Some((_, w)) => w.clone_from(waker),
            None => self.waiting.push_back((id, waker.clone())),
        }
    }

    /// The oldest waiting receiver's waker, removed (to be woken after the unlock).
    pub(crate) fn take_oldest(&mut self) -> Option<Waker> {
        self.waiting.pop_front().map(|(_, w)| w)
    }

    /// Forgets receiver `id` (it was dropped).
    fn remove(&mut self, id: u64) -> Option<Waker> {
        let at = self.waiting.iter().position(|(i, _)| *i == id)?;
        self.waiting.remove(at).map(|(_, w)| w)
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// A receiver of a [`DeferredQueue`](crate::DeferredQueue)'s values ([`DeferredQueue::stream`](
/// crate::DeferredQueue::stream)): a [`futures_core::Stream`] that never ends, and
/// [`recv`](Self::recv) for `async` code without `StreamExt`.
///
/// Dropping a receiver that waits (a `select!` took another branch) loses nothing: values stay
/// pending for the next receiver or `get`.
pub struct QueueStream<T> {
    shared: Shared<T>,
    id: u64,
}

impl<T> QueueStream<T> {
    pub(crate) fn new(shared: Shared<T>) -> Self {
        let id = shared.lock().streams.new_id();
        QueueStream { shared, id }
    }

    /// The next value: pending ones at once, else the next `put` that no `get` waits for.
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv { stream: self }
    }

    fn poll_value(&self, cx: &mut Context<'_>) -> Poll<T> {
        let mut s = self.shared.lock();
        if let Some(value) = s.pending.pop_front() {
            // No longer waiting: a later `put` must wake a receiver that is.
            let stale = s.streams.remove(self.id);
            drop(s);
            drop(stale);
            return Poll::Ready(value);
        }
        s.streams.register(self.id, cx.waker());
        Poll::Pending
    }
}

impl<T> futures_core::Stream for QueueStream<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.poll_value(cx).map(Some)
    }
}

impl<T> Drop for QueueStream<T> {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        let mine = s.streams.remove(self.id);
        // Woken for a value it will now never take: pass the wake-up on.
        let next = match mine {
            None if !s.pending.is_empty() => s.streams.take_oldest(),
            _ => None,
        };
        drop(s);
        drop(mine);
        if let Some(waker) = next {
            waker.wake();
        }
    }
}

impl<T> fmt::Debug for QueueStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueStream").field("id", &self.id).finish()
    }
}

/// The future of [`QueueStream::recv`].
#[must_use = "a future does nothing unless polled"]
#[derive(Debug)]
pub struct Recv<'a, T> {
    stream: &'a mut QueueStream<T>,
}

impl<T> Future for Recv<'_, T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.stream.poll_value(cx)
    }
}
