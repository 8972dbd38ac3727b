//! `Handle::call_soon` (Twisted's `callFromThread`): calls from any thread run one at a time in
//! the order they were made, a panicking call does not stop the next ones, and after shutdown
//! calls are dropped unrun.

use scheduler_core::Runtime;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

#[test]
fn ten_thousand_calls_from_one_thread_run_in_order_one_at_a_time() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let running = Arc::new(AtomicUsize::new(0));
    let overlap = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let h = rt.handle().clone();
    let (s, r, o) = (seen.clone(), running.clone(), overlap.clone());
    std::thread::spawn(move || {
        for i in 0..10_000u32 {
            let (s, r, o, tx) = (s.clone(), r.clone(), o.clone(), tx.clone());
            h.call_soon(move || {
                if r.fetch_add(1, Ordering::SeqCst) != 0 {
                    o.fetch_add(1, Ordering::SeqCst);
                }
                s.lock().unwrap().push(i);
                r.fetch_sub(1, Ordering::SeqCst);
                if i == 9_999 {
                    tx.send(()).unwrap();
                }
            });
        }
    });
    rx.recv_timeout(Duration::from_secs(30)).expect("every call ran");
    assert_eq!(*seen.lock().unwrap(), (0..10_000).collect::<Vec<_>>(), "FIFO");
    assert_eq!(overlap.load(Ordering::SeqCst), 0, "never two calls at once");
}

#[test]
fn a_panicking_call_does_not_stop_the_next() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let (tx, rx) = mpsc::channel();
    rt.handle().call_soon(|| panic!("one bad call"));
    rt.handle().call_soon(move || tx.send(7).unwrap());
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 7);
    assert!(rt.metrics().panics >= 1);
}

#[test]
fn calls_after_shutdown_are_dropped_unrun() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let h = rt.handle().clone();
    drop(rt);
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    h.call_soon(move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}
