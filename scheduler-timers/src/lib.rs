//! A lock-free, sharded, hierarchical timer wheel with a system clock and a manual clock.

mod sync;
