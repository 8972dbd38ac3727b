//! [`Spawn`]: the hook through which a runtime runs the polls of `Deferred::from_future`
//! futures as its own tasks (this crate knows no executor; scheduler-core installs one).
//!
//! A runtime calls [`set_thread_spawner`] on each of its threads (workers, and threads inside
//! its `enter()` guard). A `from_future` made on such a thread keeps that spawner and hands it
//! every later poll of its future as a [`PollTask`]; the spawner must run the task soon, on a
//! thread of its own, and never inside [`Spawn::spawn`] itself (which may be called from inside
//! a `Waker::wake`). Without a spawner the polls follow the rules in `driver.rs`.

use std::cell::RefCell;
use std::fmt;

// Configuration, not protocol state: std's `Arc`, which users make their spawners with.
use std::sync::Arc;

/// A runtime's way to run a `from_future` poll (see [`set_thread_spawner`]).
///
/// # Examples
///
/// A spawner that runs each poll on a new thread (a real runtime queues it on a worker):
///
/// ```
/// use scheduler_deferred::{set_thread_spawner, Deferred, Failure, PollTask, Spawn};
/// use std::sync::Arc;
///
/// struct NewThread;
/// impl Spawn for NewThread {
///     fn spawn(&self, task: PollTask) {
///         std::thread::spawn(move || task.run());
///     }
/// }
///
/// set_thread_spawner(Some(Arc::new(NewThread)));
/// let awaited = Deferred::<u8>::new();
/// let inner = awaited.clone();
/// let d = Deferred::from_future(async move { Ok::<_, Failure>(inner.await? + 1) });
/// set_thread_spawner(None);
/// awaited.callback(1).unwrap(); // the poll that completes `d` runs on a new thread
/// # while !d.has_result() { std::thread::yield_now() }
/// assert_eq!(d.take_result().unwrap().unwrap(), 2);
/// ```
pub trait Spawn: Send + Sync {
    /// Runs `task` soon, on another thread or a later turn of a worker; never inline (this
    /// may be called from inside a `Waker::wake`, under the waking code's locks).
    fn spawn(&self, task: PollTask);
}

impl fmt::Debug for dyn Spawn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Spawn")
    }
}

/// One poll of a `Deferred::from_future` future, handed to a [`Spawn`]; [`run`](PollTask::run)
/// it once. Dropping it unrun drops that poll: the future then waits for its next wake-up.
#[must_use = "a PollTask does nothing unless run"]
pub struct PollTask(pub(crate) Box<dyn FnOnce() + Send>);

impl PollTask {
    /// Polls the future (and, if it was woken meanwhile, again) on this thread.
    pub fn run(self) {
        (self.0)();
    }
}

impl fmt::Debug for PollTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PollTask")
    }
}

/// The spawner [`set_thread_spawner`] stores.
pub type Spawner = Arc<dyn Spawn>;

crate::sync::thread_local_const! {
    static SPAWNER: RefCell<Option<Spawner>> = RefCell::new(None);
}

/// Installs `spawner` as this thread's (`None` removes it) and returns the previous one. A
/// `Deferred::from_future` made on this thread afterwards runs its later polls through it.
pub fn set_thread_spawner(spawner: Option<Spawner>) -> Option<Spawner> {
    SPAWNER.try_with(|slot| slot.replace(spawner)).ok().flatten()
}

/// This thread's spawner, if one is installed.
pub fn thread_spawner() -> Option<Spawner> {
    SPAWNER.try_with(|slot| slot.borrow().clone()).ok().flatten()
}
