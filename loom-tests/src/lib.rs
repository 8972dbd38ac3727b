//! loom models of the lock-free protocols of the scheduler crates.
//!
//! The models live in `tests/`, one file per protocol; `README.md` is the index. Under plain
//! `cargo test` each model body runs once as an ordinary test (see [`model`]); under
//! `RUSTFLAGS="--cfg loom"` it runs through `loom::model` and explores interleavings.

/// Runs `f` under `loom::model` when built with `--cfg loom`, and once directly otherwise, so
/// every scenario is also an ordinary test in `cargo test --workspace`.
pub fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    #[cfg(loom)]
    loom::model(f);
    #[cfg(not(loom))]
    f();
}
