//! Deferreds used from many threads at once: every callback runs exactly once, each thread's
//! callbacks in the order it added them, and racing fire/cancel has exactly one winner.
//! Behaviour only; the interleavings themselves are explored by the loom models in
//! `loom-tests/tests/deferred_*.rs`.

#![allow(clippy::let_underscore_future)] // see twisted_test_defer.rs

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use scheduler_deferred::{AlreadyCalled, Cancelled, Deferred};

const ROUNDS: usize = 200;

#[test]
fn threads_adding_callbacks_while_another_fires() {
    const THREADS: usize = 3;
    const PER_THREAD: usize = 50;
    for _ in 0..ROUNDS {
        let d = Deferred::<()>::new();
        let ran: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
        let barrier = Arc::new(Barrier::new(THREADS + 1));
        let adders: Vec<_> = (0..THREADS)
            .map(|t| {
                let (d, ran, barrier) = (d.clone(), ran.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    for i in 0..PER_THREAD {
                        let ran = ran.clone();
                        let _ = d.clone().add_callback(move |()| ran.lock().unwrap().push((t, i)));
                    }
                })
            })
            .collect();
        barrier.wait();
        d.callback(()).unwrap();
        adders.into_iter().for_each(|h| h.join().unwrap());
        let ran = ran.lock().unwrap();
        assert_eq!(ran.len(), THREADS * PER_THREAD, "every callback ran exactly once");
        for t in 0..THREADS {
            let mine: Vec<usize> =
                ran.iter().filter(|(who, _)| *who == t).map(|&(_, i)| i).collect();
            assert_eq!(mine, (0..PER_THREAD).collect::<Vec<_>>(), "in the order added");
        }
    }
}

#[test]
fn cancel_racing_fire_has_one_winner() {
    for _ in 0..ROUNDS {
        let d = Deferred::<u8>::new();
        let errbacks = Arc::new(AtomicUsize::new(0));
        let callbacks = Arc::new(AtomicUsize::new(0));
        let (e, c) = (errbacks.clone(), callbacks.clone());
        let tail = d.clone().add_callbacks(
            move |v| {
                c.fetch_add(1, Ordering::SeqCst);
                Ok(v)
            },
            move |f| {
                assert!(f.is::<Cancelled>());
                e.fetch_add(1, Ordering::SeqCst);
                Ok(0)
            },
        );
        let firer = {
            let d = d.clone();
            thread::spawn(move || d.callback(7))
        };
        d.cancel();
        // Without a canceller the fire that loses to cancel is swallowed: never an error.
        assert_eq!(firer.join().unwrap(), Ok(()));
        assert_eq!(callbacks.load(Ordering::SeqCst) + errbacks.load(Ordering::SeqCst), 1);
        assert_eq!(d.callback(1), Err(AlreadyCalled));
        let value = tail.take_result().unwrap().unwrap();
        assert!(value == 7 || value == 0);
    }
}

#[test]
fn chaining_onto_a_deferred_fired_by_another_thread() {
    for _ in 0..ROUNDS {
        let outer = Deferred::<u32>::new();
        let inner = Deferred::<u32>::new();
        let i = inner.clone();
        let tail = outer.clone().add_callback_deferred(move |_| i).add_callback(|n| n + 1);
        let firer = thread::spawn(move || inner.callback(41).unwrap());
        outer.callback(0).unwrap();
        firer.join().unwrap();
        assert_eq!(tail.take_result().unwrap().unwrap(), 42);
    }
}

#[test]
fn pause_and_unpause_from_two_threads() {
    for _ in 0..ROUNDS {
        let d = Deferred::<u32>::new();
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let tail = d.clone().add_callback(move |n| {
            c.fetch_add(1, Ordering::SeqCst);
            n
        });
        d.pause();
        let firer = {
            let d = d.clone();
            thread::spawn(move || d.callback(5).unwrap())
        };
        d.unpause().unwrap();
        firer.join().unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert_eq!(tail.take_result().unwrap().unwrap(), 5);
    }
}
