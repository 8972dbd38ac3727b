//! The public types cross threads: `Deferred<T>` is `Send + Sync` for every `T: Send`.

use std::cell::Cell;

use scheduler_deferred::*;

fn send_sync<T: Send + Sync>() {}

#[test]
fn public_types_are_send_and_sync() {
    send_sync::<Deferred<u8>>();
    send_sync::<Deferred<Cell<u8>>>(); // `T: Send` suffices, `T: Sync` is not needed
    send_sync::<Failure>();
    send_sync::<DeferredList<Cell<u8>>>();
    send_sync::<DeferredQueue<Cell<u8>>>();
    send_sync::<DeferredLock>();
    send_sync::<DeferredSemaphore>();
    send_sync::<FirstError>();
    send_sync::<ListResult<u8>>();
}
