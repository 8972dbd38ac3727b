//! Idle workers really idle: with nothing to do and only a far timer pending, no worker wakes
//! (they park until the real next deadline, not on a fixed poll); a new nearer timer wakes at
//! most the workers it needs, and its call still runs on time.

use scheduler_core::Runtime;
use std::sync::mpsc;
use std::time::Duration;

fn total_parks(rt: &Runtime) -> u64 {
    rt.metrics().workers.iter().map(|w| w.parks).sum()
}

#[test]
fn idle_workers_do_not_wake_while_nothing_is_due() {
    let rt = Runtime::builder().worker_threads(4).build().unwrap();
    let _far = rt.handle().call_later(Duration::from_secs(3600), || {});
    std::thread::sleep(Duration::from_millis(300)); // every worker parks (counted before it blocks)
    let before = total_parks(&rt);
    // Longer than the one-second poll the workers used to wake on.
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(total_parks(&rt), before, "an idle worker woke with nothing due");
}

#[test]
fn a_nearer_timer_still_fires_on_idle_workers() {
    let rt = Runtime::builder().worker_threads(4).build().unwrap();
    let _far = rt.handle().call_later(Duration::from_secs(3600), || {});
    std::thread::sleep(Duration::from_millis(100));
    let (tx, rx) = mpsc::channel();
    let _near = rt.handle().call_later(Duration::from_millis(20), move || {
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(10)).expect("the near call ran");
}

#[test]
fn the_last_awake_worker_parks_after_its_short_spin() {
    // The last awake worker yields a little before it parks (it waits for work from
    // outside); it must still park, and stay parked.
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let before: Vec<(u64, u64)> = rt.metrics().workers.iter().map(|w| (w.polls, w.parks)).collect();
    rt.block_on(rt.spawn_fn(|| ())).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let after = rt.metrics();
    let ran = after.workers.iter().zip(&before).find(|(w, b)| w.polls > b.0).expect("one ran it");
    assert!(ran.0.parks > ran.1 .1, "the worker that ran the task parked again");
    let parks = total_parks(&rt);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(total_parks(&rt), parks, "and nobody woke since");
}
