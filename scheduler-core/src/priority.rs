//! Priority classes and the rule that keeps lower classes from starving.
//!
//! Every task carries a [`Priority`] fixed at spawn. Each worker keeps one FIFO queue per
//! class and the global injector has one queue per class; a worker looking for work walks the
//! classes from `High` to `Low`, in its own queues, then the injector, then (when stealing)
//! other workers' queues, so a class is preferred wherever its tasks wait.
//!
//! **Bounded share** ([`LOWER_CLASS_EVERY`] = K = 8): after a worker has run K task polls in a row
//! of one class, its next pick starts one class lower (if that class has work). So while
//! `High` work is saturated, the lower classes together still get at least 1 task in every
//! K + 1 = 9 a worker runs, and while `High` and `Normal` are both saturated, `Low` gets at
//! least 1 in every (K + 1)² = 81. Nothing starves; a `High` task waits behind at most one
//! lower-class task per worker (plus the poll that is running). Within a class the order is
//! FIFO per queue; the periodic injector-first check (every 61 ticks) may run a newer
//! injector task before older ones already moved to the worker's deque.

/// The priority class of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum Priority {
    /// Runs before `Normal` and `Low` work.
    High = 0,
    /// The default class.
    #[default]
    Normal = 1,
    /// Runs when no higher class has work, and at a bounded share otherwise.
    Low = 2,
}

/// Number of classes (the length of per-class queue arrays).
pub(crate) const CLASSES: usize = 3;

/// After this many consecutive tasks of one class, one task of a lower class goes first.
pub(crate) const LOWER_CLASS_EVERY: u32 = 8;

impl Priority {
    /// All classes, highest first.
    pub const ALL: [Priority; 3] = [Priority::High, Priority::Normal, Priority::Low];

    /// Index into per-class arrays (High = 0).
    #[inline]
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Per-worker bookkeeping of the bounded-share rule.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ClassPicker {
    /// Consecutive picks of class 0 (High) and class 1 (Normal).
    streak: [u32; 2],
}

impl ClassPicker {
    /// The class order for the next pick: normally High, Normal, Low; after K consecutive
    /// picks of a class, that class moves behind the lower ones for one pick.
    #[inline]
    pub(crate) fn order(&self) -> [usize; CLASSES] {
        if self.streak[0] >= LOWER_CLASS_EVERY {
            if self.streak[1] >= LOWER_CLASS_EVERY {
                [2, 1, 0]
            } else {
                [1, 2, 0]
            }
        } else if self.streak[1] >= LOWER_CLASS_EVERY {
            [0, 2, 1]
        } else {
            [0, 1, 2]
        }
    }

    /// Records that a task of class `class` was picked.
    #[inline]
    pub(crate) fn picked(&mut self, class: usize) {
        match class {
            0 => self.streak[0] += 1,
            1 => {
                self.streak[0] = 0;
                self.streak[1] += 1;
            }
            _ => self.streak = [0, 0],
        }
    }
}
