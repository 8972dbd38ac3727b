//! Nothing starves: a task that yields forever, one that re-spawns itself forever, and two
//! tasks ping-ponging through the LIFO slot do not stop other tasks on the same worker.

use scheduler_core::{yield_now, Handle, Runtime};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

fn one_worker() -> Runtime {
    Runtime::builder().worker_threads(1).build().unwrap()
}

#[test]
fn a_task_yielding_forever_does_not_starve_others() {
    let rt = one_worker();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let spinner = rt.spawn(async move {
        while !s.load(Ordering::Relaxed) {
            yield_now().await;
        }
    });
    let others: Vec<_> = (0..100).map(|i| rt.spawn(async move { i })).collect();
    for (i, h) in others.into_iter().enumerate() {
        assert_eq!(rt.block_on(h).unwrap(), i);
    }
    stop.store(true, Ordering::Relaxed);
    rt.block_on(spinner).unwrap();
}

fn respawn(stop: Arc<AtomicBool>) {
    if !stop.load(Ordering::Relaxed) {
        drop(Handle::current().spawn(async move { respawn(stop) }));
    }
}

#[test]
fn a_task_respawning_itself_forever_does_not_starve_others() {
    let rt = one_worker();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    drop(rt.spawn(async move { respawn(s) }));
    // Spawned from outside (injector) and from inside (local queue).
    let outside = rt.spawn(async { 1 });
    let inside = rt.spawn(async { Handle::current().spawn(async { 2 }).await.unwrap() });
    assert_eq!(rt.block_on(outside).unwrap(), 1);
    assert_eq!(rt.block_on(inside).unwrap(), 2);
    stop.store(true, Ordering::Relaxed);
}

/// Two tasks that wake each other forever (each wake lands in the LIFO slot).
struct PingPong {
    me: usize,
    shared: Arc<Mutex<(usize, [Option<Waker>; 2])>>,
    stop: Arc<AtomicBool>,
}

impl Future for PingPong {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.stop.load(Ordering::Relaxed) {
            if let Some(w) = self.shared.lock().unwrap().1[1 - self.me].take() {
                w.wake();
            }
            return Poll::Ready(());
        }
        let mut g = self.shared.lock().unwrap();
        if g.0 == self.me {
            g.0 = 1 - self.me;
            if let Some(w) = g.1[1 - self.me].take() {
                w.wake();
            }
        }
        g.1[self.me] = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[test]
fn ping_pong_through_the_lifo_slot_does_not_starve_others() {
    let rt = one_worker();
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Mutex::new((0usize, [None, None])));
    let s2 = stop.clone();
    let sh = shared.clone();
    let outcome = rt.spawn(async move {
        let h = Handle::current();
        let a = h.spawn(PingPong { me: 0, shared: sh.clone(), stop: s2.clone() });
        let b = h.spawn(PingPong { me: 1, shared: sh, stop: s2 });
        // Local tasks queued behind the ping-pong pair.
        let locals: Vec<_> = (0..50).map(|i| h.spawn(async move { i })).collect();
        let mut sum = 0;
        for jh in locals {
            sum += jh.await.unwrap();
        }
        (sum, a, b)
    });
    let (sum, a, b) = rt.block_on(outcome).unwrap();
    assert_eq!(sum, (0..50).sum::<i32>());
    stop.store(true, Ordering::Relaxed);
    // Wake both so they see `stop`.
    for w in shared.lock().unwrap().1.iter_mut().filter_map(Option::take) {
        w.wake();
    }
    rt.block_on(a).unwrap();
    rt.block_on(b).unwrap();
}
