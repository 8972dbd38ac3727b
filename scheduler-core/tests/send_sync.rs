//! The public types are `Send`/`Sync` where users need them to be.

use scheduler_core::{Handle, JoinError, JoinHandle, Priority, Runtime, RuntimeMetrics};

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}

#[test]
fn public_types_are_thread_safe() {
    send_sync::<Handle>();
    send_sync::<Runtime>();
    send_sync::<JoinHandle<u32>>();
    send::<JoinError>();
    send_sync::<Priority>();
    send_sync::<RuntimeMetrics>();
}
