//! Deferreds with Twisted's callback-chain semantics, thread-safe and awaitable.

mod sync;
