//! [`CallbackQueue`]: the FIFO of a chain's pending callbacks, first entry inline.
//!
//! Most Deferreds carry one or two callbacks, so the first entry lives in the queue itself and
//! only the second and later ones go to a `VecDeque` (no allocation for the common case).
//! Invariant: `head` is `None` only when `tail` is empty.

use std::collections::VecDeque;

use crate::chain::Callback;

/// Pending callbacks in chain order.
#[derive(Default)]
pub(crate) struct CallbackQueue {
    head: Option<Callback>,
    tail: VecDeque<Callback>,
}

impl CallbackQueue {
    /// True when no callback is pending.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Pending callbacks.
    pub(crate) fn len(&self) -> usize {
        usize::from(self.head.is_some()) + self.tail.len()
    }

    /// Appends a callback.
    #[inline]
    pub(crate) fn push_back(&mut self, callback: Callback) {
        if self.head.is_none() {
            self.head = Some(callback);
        } else {
            self.tail.push_back(callback);
        }
    }

    /// Removes the first callback.
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<Callback> {
        let first = self.head.take()?;
        self.head = self.tail.pop_front();
        Some(first)
    }

    /// Takes every pending callback, leaving this queue empty (its buffer goes with them).
    #[inline]
    pub(crate) fn take(&mut self) -> CallbackQueue {
        std::mem::take(self)
    }

    /// Puts `front` (callbacks taken earlier and not run) back before the current entries.
    pub(crate) fn prepend(&mut self, mut front: CallbackQueue) {
        if front.is_empty() {
            return;
        }
        let back = std::mem::take(self);
        if let Some(head) = back.head {
            front.tail.push_back(head);
            let mut tail = back.tail;
            front.tail.append(&mut tail);
        }
        *self = front;
    }
}
