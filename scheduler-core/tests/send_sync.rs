//! Which public types cross threads, exactly as they are today: both the positive and the
//! negative answers are asserted, so a type that gains or loses `Send`/`Sync` fails here.
//! (The time-API types are in `time_send_sync.rs`.)

use scheduler_core::{
    Builder, DelayedCall, DetJoinHandle, DeterministicRuntime, Handle, JoinError, JoinHandle,
    LoopingCall, Priority, Runtime, RuntimeMetrics, Scope, SpawnError, Stalled, TryCurrentError,
    WorkerMetrics, YieldNow,
};
use std::cell::Cell;
use std::marker::PhantomData;
use std::rc::Rc;

/// `Probe::<T>(PhantomData).is_send()` is true exactly when `T: Send`: the inherent method
/// exists only for `T: Send`, and method resolution falls back to the trait's `false`
/// otherwise (the types are concrete, so this is decided at compile time).
struct Probe<T: ?Sized>(PhantomData<T>);

trait NotSend {
    fn is_send(&self) -> bool {
        false
    }
}
impl<T: ?Sized> NotSend for Probe<T> {}

impl<T: ?Sized + Send> Probe<T> {
    fn is_send(&self) -> bool {
        true
    }
}

/// The same for `Sync`.
struct SyncProbe<T: ?Sized>(PhantomData<T>);

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

/// `(Send, Sync)` of a type.
macro_rules! send_sync {
    ($t:ty) => {
        (Probe::<$t>(PhantomData).is_send(), SyncProbe::<$t>(PhantomData).is_sync())
    };
}

/// Compile-time check of the positive answers (the probe above could silently say false).
fn send_sync<T: Send + Sync>() {}

#[test]
fn the_probe_tells_both_answers() {
    assert_eq!(send_sync!(u32), (true, true));
    assert_eq!(send_sync!(Cell<u32>), (true, false));
    assert_eq!(send_sync!(Rc<u32>), (false, false));
    assert_eq!(send_sync!(std::sync::MutexGuard<'static, u32>), (false, true));
}

#[test]
fn runtime_handles_are_send_and_sync() {
    send_sync::<Handle>();
    send_sync::<Runtime>();
    send_sync::<Builder>();
    assert_eq!(send_sync!(Handle), (true, true));
    assert_eq!(send_sync!(Runtime), (true, true));
    assert_eq!(send_sync!(Builder), (true, true));
}

#[test]
fn join_handles_follow_their_output() {
    send_sync::<JoinHandle<u32>>();
    // `&JoinHandle` gives no access to the output, so a `Send` but `!Sync` output is fine.
    send_sync::<JoinHandle<Cell<u32>>>();
    assert_eq!(send_sync!(JoinHandle<u32>), (true, true));
    assert_eq!(send_sync!(JoinHandle<Cell<u32>>), (true, true));
    assert_eq!(send_sync!(JoinHandle<Rc<u32>>), (false, false));
}

#[test]
fn errors() {
    // The panic payload is `Box<dyn Any + Send>`, wrapped so that `JoinError` is `Sync` too
    // (it is never shared by reference): `?` reaches `Box<dyn Error + Send + Sync>`.
    send_sync::<JoinError>();
    assert_eq!(send_sync!(JoinError), (true, true));
    send_sync::<SpawnError>();
    send_sync::<TryCurrentError>();
    send_sync::<Stalled>();
    assert_eq!(send_sync!(SpawnError), (true, true));
    assert_eq!(send_sync!(TryCurrentError), (true, true));
    assert_eq!(send_sync!(Stalled), (true, true));
}

#[test]
fn values_and_futures() {
    send_sync::<Priority>();
    send_sync::<RuntimeMetrics>();
    send_sync::<WorkerMetrics>();
    send_sync::<YieldNow>();
    send_sync::<Scope<'static>>();
    send_sync::<DelayedCall>();
    send_sync::<LoopingCall>();
    assert_eq!(send_sync!(Priority), (true, true));
    assert_eq!(send_sync!(RuntimeMetrics), (true, true));
    assert_eq!(send_sync!(WorkerMetrics), (true, true));
    assert_eq!(send_sync!(YieldNow), (true, true));
    assert_eq!(send_sync!(Scope<'static>), (true, true));
    assert_eq!(send_sync!(DelayedCall), (true, true));
    assert_eq!(send_sync!(LoopingCall), (true, true));
}

/// The deterministic runtime and its handles hold `Rc`s: they stay on their thread.
#[test]
fn deterministic_runtime_types_stay_on_their_thread() {
    assert_eq!(send_sync!(DeterministicRuntime), (false, false));
    assert_eq!(send_sync!(DetJoinHandle<u32>), (false, false));
}

#[test]
fn abort_and_enter_handles() {
    // An AbortHandle touches only the task's state word: shared by any threads.
    assert_eq!(send_sync!(scheduler_core::AbortHandle), (true, true));
    // An EnterGuard must be dropped on the thread that made it.
    assert_eq!(send_sync!(scheduler_core::EnterGuard<'static>), (false, false));
}

/// `join_context`'s `FnContext` describes the thread it was handed on (rayon's is `!Send`
/// too); the global runtime's build error crosses threads like `io::Error`.
#[test]
fn fork_join_context_and_global_error() {
    assert_eq!(send_sync!(scheduler_core::FnContext), (false, false));
    assert_eq!(send_sync!(scheduler_core::BuildGlobalError), (true, true));
}
