//! [`Builder`]: configures and starts a [`Runtime`].

use super::shared::{Shared, WorkerRemote};
use super::{Config, Handle, Runtime, StartLatch};
use crate::blocking::BlockingPool;
use crate::idle::{Idle, Parker};
use crate::lifo::LifoSlot;
use crate::metrics::WorkerStats;
use crate::queue::{self, Injector};
use crate::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize};
use crate::sync::{Arc, Mutex};
use crossbeam_utils::CachePadded;
use std::fmt;
use std::io;
use std::time::Duration;

/// One worker's own queues: a deque per priority class and the fork-join deque.
pub(crate) type WorkerLocals = (
    [queue::Local<crate::task::Notified>; crate::priority::CLASSES],
    queue::Local<crate::forkjoin::JobRef>,
);

/// The largest worker count a runtime accepts.
pub const MAX_WORKER_THREADS: usize = 4096;

type Hook = std::sync::Arc<dyn Fn() + Send + Sync + 'static>;

/// Configures a [`Runtime`]; [`Runtime::builder`] makes one.
///
/// # Examples
/// ```
/// use scheduler_core::Runtime;
/// let rt = Runtime::builder().worker_threads(2).thread_name("app").build().unwrap();
/// assert_eq!(rt.block_on(rt.spawn(async { 6 * 7 })).unwrap(), 42);
/// ```
#[must_use = "a Builder does nothing until `build` is called"]
pub struct Builder {
    worker_threads: Option<usize>,
    thread_name: String,
    stack_size: Option<usize>,
    max_blocking_threads: usize,
    blocking_keep_alive: Duration,
    on_thread_start: Option<Hook>,
    on_thread_stop: Option<Hook>,
    wrap_threads: Option<super::ThreadWrapper>,
    /// CPUs the default worker count leaves free ([`Builder::leave_cores`]).
    leave_cores: usize,
    /// The timer wheel's tick ([`Builder::timer_tick`]); `None`: the time driver's default.
    timer_tick: Option<Duration>,
    /// The clock that drives the timers ([`Builder::clock`]); `None`: the system clock.
    pub(crate) clock: Option<crate::time::driver::TimeSource>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("worker_threads", &self.worker_threads)
            .field("thread_name", &self.thread_name)
            .field("stack_size", &self.stack_size)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("blocking_keep_alive", &self.blocking_keep_alive)
            .field("timer_tick", &self.timer_tick)
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Defaults: one worker per available CPU, threads named `scheduler-worker-N`,
    /// the platform's stack size, up to 512 blocking threads kept 10 s when idle.
    pub fn new() -> Builder {
        Builder {
            worker_threads: None,
            thread_name: "scheduler".to_owned(),
            stack_size: None,
            max_blocking_threads: 512,
            blocking_keep_alive: Duration::from_secs(10),
            on_thread_start: None,
            on_thread_stop: None,
            wrap_threads: None,
            leave_cores: 0,
            timer_tick: None,
            clock: None,
        }
    }

    /// Number of worker threads (at least 1, at most [`MAX_WORKER_THREADS`]; `build` reports
    /// other values as an error). The default is one per CPU this process may use
    /// (`std::thread::available_parallelism`, which follows CPU affinity and cgroup quotas).
    pub fn worker_threads(mut self, n: usize) -> Self {
        self.worker_threads = Some(n);
        self.leave_cores = 0;
        self
    }

    /// One worker per available CPU but `k` (at least one worker): the cores left are for
    /// another runtime in the same process. Beside a tokio runtime that serves I/O on `k`
    /// threads, this gives the compute pool the rest, so the two do not oversubscribe the
    /// machine:
    ///
    /// ```
    /// use scheduler_core::Runtime;
    /// let io_threads = 1;
    /// let tokio_rt = tokio::runtime::Builder::new_multi_thread()
    ///     .worker_threads(io_threads)
    ///     .enable_all()
    ///     .build()
    ///     .unwrap();
    /// let compute = Runtime::builder().leave_cores(io_threads).build().unwrap();
    /// let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    /// assert_eq!(compute.handle().worker_threads(), cpus.saturating_sub(io_threads).max(1));
    /// # drop(tokio_rt);
    /// ```
    pub fn leave_cores(mut self, k: usize) -> Self {
        self.worker_threads = None;
        self.leave_cores = k;
        self
    }

    /// Name prefix of the runtime's threads (`<name>-worker-<i>`, `<name>-blocking-<i>`).
    /// A name with a NUL byte makes [`build`](Self::build) fail with `InvalidInput`.
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = name.into();
        self
    }

    /// Stack size in bytes of every thread the runtime starts.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Upper bound of the blocking pool (at least 1).
    pub fn max_blocking_threads(mut self, n: usize) -> Self {
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking thread waits for work before it exits. Any duration is
    /// accepted: one too long for the clock (`Duration::MAX`) means "until shutdown".
    pub fn blocking_keep_alive(mut self, d: Duration) -> Self {
        self.blocking_keep_alive = d;
        self
    }

    /// Runs `f` on every thread the runtime starts, before it takes work.
    ///
    /// [`build`](Self::build) waits until every worker has run it. If it panics on a worker,
    /// `build` shuts the runtime down and returns an error with the panic's message; on a
    /// blocking-pool thread (started later, on demand) the panic is contained, counted in
    /// [`RuntimeMetrics::panics`](crate::RuntimeMetrics::panics), and the thread serves the
    /// pool all the same.
    pub fn on_thread_start(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_thread_start = Some(std::sync::Arc::new(f));
        self
    }

    /// Runs `f` on every runtime thread just before it exits. A panic in it is contained and
    /// counted in [`RuntimeMetrics::panics`](crate::RuntimeMetrics::panics).
    pub fn on_thread_stop(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_thread_stop = Some(std::sync::Arc::new(f));
        self
    }

    /// Runs the whole life of every thread the runtime starts (workers and blocking-pool
    /// threads) inside `f`: `f` receives the thread's body as `run` and must call it once,
    /// typically between setting up and tearing down a context the thread should live in.
    /// With another runtime's context, that runtime's APIs then work inside our tasks, for
    /// instance tokio's timers, `tokio::spawn` and its I/O types:
    ///
    /// ```
    /// use scheduler_core::Runtime;
    /// let tokio_rt = tokio::runtime::Runtime::new().unwrap();
    /// let tokio_handle = tokio_rt.handle().clone();
    /// let rt = Runtime::builder()
    ///     .worker_threads(1)
    ///     .wrap_threads(move |run| {
    ///         let _tokio = tokio_handle.enter(); // dropped when the thread's body returns
    ///         run()
    ///     })
    ///     .build()
    ///     .unwrap();
    /// let jh = rt.spawn(async {
    ///     tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    ///     tokio::spawn(async { 6 * 7 }).await.unwrap()
    /// });
    /// assert_eq!(rt.block_on(jh).unwrap(), 42);
    /// ```
    ///
    /// `on_thread_start` and `on_thread_stop` run inside the wrapper. If `f` panics before
    /// calling `run`, or returns without calling it, on a worker, [`build`](Self::build)
    /// fails with an error naming it; on a blocking-pool thread the body then runs
    /// unwrapped (so its task still runs) and the failure is counted in
    /// [`RuntimeMetrics::panics`](crate::RuntimeMetrics::panics).
    pub fn wrap_threads(mut self, f: impl Fn(&mut dyn FnMut()) + Send + Sync + 'static) -> Self {
        self.wrap_threads = Some(std::sync::Arc::new(f));
        self
    }

    /// The timer wheel's tick: the resolution of timers (`call_later`, `sleep`, `timeout`),
    /// which fire at the first tick at or after their deadline. Rounded to the nearest power
    /// of two nanoseconds; `build()` fails with an `io::Error` (`InvalidInput`) unless
    /// 100 µs <= `tick` <= 1 s. Default: 1 ms.
    ///
    /// # Examples
    /// ```
    /// use scheduler_core::Runtime;
    /// use std::time::Duration;
    /// let rt = Runtime::builder().timer_tick(Duration::from_micros(250)).build().unwrap();
    /// drop(rt);
    /// let err = Runtime::builder().timer_tick(Duration::from_secs(5)).build().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    pub fn timer_tick(mut self, tick: Duration) -> Self {
        self.timer_tick = Some(tick);
        self
    }

    /// Starts the runtime's worker threads.
    ///
    /// # Errors
    /// `InvalidInput` when the worker count is 0 or above [`MAX_WORKER_THREADS`], the thread
    /// name holds a NUL byte, or the timer tick is out of range; the OS error when a thread
    /// cannot be started; `Other` when `on_thread_start` panicked on a worker. In each case
    /// the threads already started are stopped before `build` returns.
    pub fn build(self) -> io::Result<Runtime> {
        let (shared, locals) = self.build_shared()?;
        let workers = locals.len();
        let handle = Handle { shared: shared.clone() };
        let latch = Arc::new(StartLatch::new(workers));
        let mut threads = Vec::with_capacity(workers);
        let mut locals = locals.into_iter().enumerate();
        for (index, (classes, jobs)) in locals.by_ref() {
            let mut b = std::thread::Builder::new()
                .name(format!("{}-worker-{index}", shared.config.thread_name));
            if let Some(size) = shared.config.stack_size {
                b = b.stack_size(size);
            }
            let (h, l) = (handle.clone(), latch.clone());
            match b.spawn(move || crate::worker::run_worker(h, l, index, classes, jobs)) {
                Ok(t) => threads.push(t),
                Err(e) => {
                    shared.begin_shutdown();
                    // The workers that never started exit here (their queues are empty).
                    let unstarted = workers - index;
                    for _ in 0..unstarted {
                        drop(shared.worker_exited());
                    }
                    latch.forget(unstarted);
                    drop(Runtime { handle, threads });
                    return Err(e);
                }
            }
        }
        let runtime = Runtime { handle, threads };
        // Only a start hook or a thread wrapper can fail after the spawns: without either,
        // there is nothing to wait for.
        let config = &runtime.handle.shared.config;
        if config.on_thread_start.is_none() && config.wrap_threads.is_none() {
            return Ok(runtime);
        }
        match latch.wait() {
            Ok(()) => Ok(runtime),
            Err(msg) => {
                drop(runtime); // shuts the started workers down and joins them
                Err(io::Error::other(format!("a worker failed to start: {msg}")))
            }
        }
    }

    /// The runtime's shared state and each worker's local queues, before any thread starts
    /// (the loom models use it without threads: `loom_api::ForeignWakeShutdown`).
    pub(crate) fn build_shared(self) -> io::Result<(Arc<Shared>, Vec<WorkerLocals>)> {
        let workers = self.worker_threads.unwrap_or_else(|| {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            cpus.saturating_sub(self.leave_cores).max(1)
        });
        if self.thread_name.contains('\0') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "thread_name must not contain a NUL byte",
            ));
        }
        if workers == 0 || workers > MAX_WORKER_THREADS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("worker_threads must be in 1..={MAX_WORKER_THREADS}, got {workers}"),
            ));
        }
        let time = crate::time::driver::TimeDriver::new(workers, self.timer_tick, self.clock)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let config = Config {
            thread_name: self.thread_name,
            stack_size: self.stack_size,
            on_thread_start: self.on_thread_start,
            on_thread_stop: self.on_thread_stop,
            wrap_threads: self.wrap_threads,
        };
        let mut locals = Vec::with_capacity(workers);
        let mut remotes = Vec::with_capacity(workers);
        for _ in 0..workers {
            let classes = [queue::new_fifo(), queue::new_fifo(), queue::new_fifo()];
            let jobs = queue::new_lifo();
            remotes.push(WorkerRemote {
                stealers: [classes[0].stealer(), classes[1].stealer(), classes[2].stealer()],
                jobs: jobs.stealer(),
                lifo: LifoSlot::new(),
                class_hint: CachePadded::new(AtomicUsize::new(0)),
                stats: CachePadded::new(WorkerStats::new()),
                nap: Parker::new(),
            });
            locals.push((classes, jobs));
        }
        let shared = Arc::new(Shared {
            workers: remotes.into_boxed_slice(),
            injector: [Injector::new(), Injector::new(), Injector::new()],
            installs: Injector::new(),
            idle: Idle::new(workers),
            owned: super::owned::OwnedTasks::new(workers + 1),
            blocking: BlockingPool::new(self.max_blocking_threads, self.blocking_keep_alive),
            shutdown: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            workers_alive: AtomicUsize::new(workers),
            external_spawned: CachePadded::new(AtomicU64::new(0)),
            external_completed: CachePadded::new(AtomicU64::new(0)),
            keepalive: Mutex::new(None),
            exit_lock: Mutex::new(()),
            exit_cvar: crate::sync::Condvar::new(),
            config,
            time,
            this: AtomicPtr::new(std::ptr::null_mut()),
            soon: Default::default(),
        });
        Shared::set_arc_ptr(&shared);
        *shared.keepalive.lock() = Some(shared.clone());
        Ok((shared, locals))
    }
}
