//! Lock, semaphore and queue hand-offs run in a loop, not by recursion per waiter: a million
//! waiters, each of which releases (or puts) again from its own callback, complete on an
//! 8 MiB stack, in FIFO order (issue 10, item 4). Before, each `release()` / `put()` fired the
//! next waiter inline, that waiter released again inline, and the stack overflowed after a few
//! thousand.

#![allow(clippy::let_underscore_future)] // see twisted_test_defer.rs

use std::sync::{Arc, Mutex};

use scheduler_deferred::{Deferred, DeferredLock, DeferredQueue, DeferredSemaphore};

const N: usize = 1_000_000;

/// Runs `f` on a thread with an 8 MiB stack.
fn on_8_mib_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new().stack_size(8 << 20).spawn(f).unwrap().join().unwrap();
}

fn log() -> Arc<Mutex<Vec<usize>>> {
    Arc::new(Mutex::new(Vec::with_capacity(N)))
}

fn assert_fifo(log: &Mutex<Vec<usize>>, n: usize) {
    let log = log.lock().unwrap();
    assert_eq!(log.len(), n);
    assert!(log.iter().copied().eq(0..n), "waiters ran out of order");
}

#[test]
fn a_million_lock_runs_queued_behind_a_holder_complete_in_order() {
    on_8_mib_stack(|| {
        let lock = DeferredLock::new();
        let held = lock.acquire();
        assert!(held.is_called());
        let ran = log();
        for i in 0..N {
            let ran = ran.clone();
            let _ = lock.run(move || {
                ran.lock().unwrap().push(i);
                Deferred::succeed(())
            });
        }
        lock.release().unwrap();
        assert_fifo(&ran, N);
        assert!(!lock.is_locked());
    });
}

#[test]
fn eight_threads_of_lock_runs_complete_in_per_thread_order() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 20_000;
    let lock = DeferredLock::new();
    let ran = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (lock, ran) = (lock.clone(), ran.clone());
            std::thread::Builder::new()
                .stack_size(8 << 20)
                .spawn(move || {
                    for i in 0..PER_THREAD {
                        let ran = ran.clone();
                        let _ = lock.run(move || {
                            ran.lock().unwrap().push((t, i));
                            Deferred::succeed(())
                        });
                    }
                })
                .unwrap()
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let ran = ran.lock().unwrap();
    assert_eq!(ran.len(), THREADS * PER_THREAD);
    for t in 0..THREADS {
        let mine = ran.iter().filter(|(who, _)| *who == t).map(|(_, i)| *i);
        assert!(mine.eq(0..PER_THREAD), "thread {t}'s runs out of order");
    }
    assert!(!lock.is_locked());
}

#[test]
fn a_million_semaphore_acquirers_releasing_in_their_callbacks_complete_in_order() {
    on_8_mib_stack(|| {
        let sem = DeferredSemaphore::new(1).unwrap();
        let held = sem.acquire();
        assert!(held.is_called());
        let ran = log();
        for i in 0..N {
            let (sem2, ran) = (sem.clone(), ran.clone());
            let _ = sem.acquire().add_callback(move |()| {
                ran.lock().unwrap().push(i);
                sem2.release().unwrap();
            });
        }
        assert_eq!(sem.waiting(), N);
        sem.release().unwrap();
        assert_fifo(&ran, N);
        assert_eq!(sem.available(), 1);
    });
}

#[test]
fn a_million_getters_each_putting_the_next_value_complete_in_order() {
    on_8_mib_stack(|| {
        let q = DeferredQueue::<usize>::new();
        let got = log();
        for _ in 0..N {
            let (q2, got) = (q.clone(), got.clone());
            let _ = q.get().unwrap().add_callback(move |v| {
                got.lock().unwrap().push(v);
                q2.put(v + 1).unwrap();
            });
        }
        assert_eq!(q.waiting(), N);
        q.put(0).unwrap();
        assert_fifo(&got, N);
        assert_eq!(q.waiting(), 0);
        assert_eq!(q.pending(), 1); // the last getter's put
        assert_eq!(q.get().unwrap().take_result().unwrap().unwrap(), N);
    });
}
