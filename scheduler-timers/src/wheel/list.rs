//! Intrusive doubly linked lists of entry indices, threaded through the wheel's [`Link`]s.
//!
//! Each slab index has one `Link` (owned by the wheel, touched only by the expiry-right
//! holder). `list` says where the entry is filed: a slot, the overflow list, the due heap,
//! or nowhere. Lists are FIFO: entries of one slot come out in the order they were filed.
//! A link's `prev` is meaningful only while its entry is not the head of its list (see
//! [`List::remove`]).

use crate::entry::NIL;

/// Filed nowhere.
pub(crate) const LIST_NONE: u32 = u32::MAX;
/// Has a live item in the due heap (see `Link::stamp`).
pub(crate) const LIST_DUE: u32 = u32::MAX - 1;
/// In the overflow list.
pub(crate) const LIST_OVERFLOW: u32 = u32::MAX - 2;
/// `Link::seq` of an occupant not admitted yet (set again when the slot is reclaimed).
pub(crate) const SEQ_UNASSIGNED: u64 = u64::MAX;

/// The wheel's private half of a timer entry (24 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) prev: u32,
    pub(crate) next: u32,
    /// `level * 64 + slot`, or one of the `LIST_*` values.
    pub(crate) list: u32,
    /// Bumped whenever the entry leaves the due heap or its slot is reclaimed, so heap items
    /// with an older stamp are recognised as stale (lazy deletion from the heap).
    pub(crate) stamp: u32,
    /// Insertion order within the shard: ties on the deadline fire in `seq` order;
    /// `SEQ_UNASSIGNED` until the occupant is admitted.
    pub(crate) seq: u64,
}

impl Default for Link {
    fn default() -> Self {
        Link { prev: NIL, next: NIL, list: LIST_NONE, stamp: 0, seq: SEQ_UNASSIGNED }
    }
}

/// Head and tail of one list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct List {
    pub(crate) head: u32,
    pub(crate) tail: u32,
}

impl List {
    pub(crate) const EMPTY: List = List { head: NIL, tail: NIL };

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head == NIL
    }

    /// Appends `index` (which must be filed nowhere) and marks it as in list `id`.
    #[inline]
    pub(crate) fn push_back(&mut self, links: &mut [Link], index: u32, id: u32) {
        let link = &mut links[index as usize];
        link.prev = self.tail;
        link.next = NIL;
        link.list = id;
        if self.tail == NIL {
            self.head = index;
        } else {
            links[self.tail as usize].next = index;
        }
        self.tail = index;
    }

    /// Removes `index`, which must be in this list, and marks it as filed nowhere.
    ///
    /// Removing the head does not write its successor's `prev` (left stale): `prev` is only
    /// read for an entry that is not the head, and an entry that became the head stays the
    /// head until it leaves (entries are only ever appended). So the common removal, of the
    /// oldest entry of a slot (timers cancelled in the order they were armed), touches no
    /// other entry's link: no cache miss on a successor filed far ahead.
    #[inline]
    pub(crate) fn remove(&mut self, links: &mut [Link], index: u32) {
        let Link { prev, next, .. } = links[index as usize];
        if self.head == index {
            self.head = next;
            if next == NIL {
                self.tail = NIL;
            }
        } else {
            // Not the head: `prev` is valid.
            links[prev as usize].next = next;
            if next == NIL {
                self.tail = prev;
            } else {
                links[next as usize].prev = prev;
            }
        }
        let link = &mut links[index as usize];
        link.prev = NIL;
        link.next = NIL;
        link.list = LIST_NONE;
    }

    /// Empties the list and returns its first index; follow `Link::next` for the rest (the
    /// links stay intact until each entry is re-filed).
    pub(crate) fn take(&mut self) -> u32 {
        let head = self.head;
        *self = List::EMPTY;
        head
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn order(list: &List, links: &[Link]) -> Vec<u32> {
        let mut out = Vec::new();
        let mut at = list.head;
        while at != NIL {
            out.push(at);
            at = links[at as usize].next;
        }
        out
    }

    #[test]
    fn removals_at_head_middle_and_tail_keep_fifo_order_with_stale_head_prev() {
        let mut links = vec![Link::default(); 8];
        let mut list = List::EMPTY;
        for i in 0..6 {
            list.push_back(&mut links, i, 7);
        }
        list.remove(&mut links, 0); // head: 1's prev is left stale
        list.remove(&mut links, 1); // the new head
        assert_eq!(order(&list, &links), [2, 3, 4, 5]);
        list.remove(&mut links, 3); // middle: 4's prev becomes 2
        list.remove(&mut links, 5); // tail: the tail becomes 4
        assert_eq!((order(&list, &links), list.tail), (vec![2, 4], 4));
        list.push_back(&mut links, 6, 7);
        list.remove(&mut links, 4); // middle again, through the updated prev
        assert_eq!((order(&list, &links), list.tail), (vec![2, 6], 6));
        list.remove(&mut links, 6); // tail, whose prev (2) is the head
        list.remove(&mut links, 2); // head and tail
        assert!(list.is_empty() && list.tail == NIL);
        list.push_back(&mut links, 3, 7);
        assert_eq!((order(&list, &links), list.head, list.tail), (vec![3], 3, 3));
        assert_eq!(links[0], Link { list: LIST_NONE, ..Link::default() });
    }
}
