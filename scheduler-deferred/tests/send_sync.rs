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

/// `SyncProbe::<T>(PhantomData).is_sync()` is true exactly when `T: Sync`: the inherent method
/// exists only for `T: Sync`, and method resolution falls back to the trait's `false`
/// otherwise (the types are concrete, so this is decided at compile time).
struct SyncProbe<T: ?Sized>(std::marker::PhantomData<T>);

trait NotSync {
    fn is_sync(&self) -> bool {
        false
    }
}
impl<T: ?Sized> NotSync for SyncProbe<T> {}

impl<T: ?Sized + Sync> SyncProbe<T> {
    fn is_sync(&self) -> bool {
        true
    }
}

/// The same for `Send`.
struct SendProbe<T: ?Sized>(std::marker::PhantomData<T>);

trait NotSend {
    fn is_send(&self) -> bool {
        false
    }
}
impl<T: ?Sized> NotSend for SendProbe<T> {}

impl<T: ?Sized + Send> SendProbe<T> {
    fn is_send(&self) -> bool {
        true
    }
}

/// The spin lock's guard (reached through the hidden `__private` module by scheduler-core):
/// `Sync` exactly when the value is `Sync` (sharing a guard shares `&T`), `Send` when the value
/// is `Send`. It was auto-`Sync` for every `T: Send`, so `&SpinGuard<Cell<_>>` raced.
#[test]
fn spin_guard_is_sync_only_for_sync_values() {
    use scheduler_deferred::__private::SpinGuard;
    use std::marker::PhantomData;
    use std::rc::Rc;
    use std::sync::atomic::AtomicU64;

    assert!(!SyncProbe::<SpinGuard<'static, Cell<u64>>>(PhantomData).is_sync());
    assert!(SyncProbe::<SpinGuard<'static, AtomicU64>>(PhantomData).is_sync());
    assert!(SyncProbe::<SpinGuard<'static, u64>>(PhantomData).is_sync());
    assert!(SendProbe::<SpinGuard<'static, Cell<u64>>>(PhantomData).is_send());
    assert!(!SendProbe::<SpinGuard<'static, Rc<u64>>>(PhantomData).is_send());
    assert!(!SyncProbe::<SpinGuard<'static, Rc<u64>>>(PhantomData).is_sync());
}
