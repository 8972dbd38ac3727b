//! A multi-threaded work-stealing executor and the Runtime that ties the scheduler crates together.

mod sync;
