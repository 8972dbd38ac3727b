//! `priority_latency`: how long a High task waits behind a stream of Low ones.

use super::*;

const LOW_TASK: Duration = Duration::from_micros(20);
const HIGH_EVERY: Duration = Duration::from_millis(1);

fn latency_sample(mut lat_us: Vec<f64>, elapsed: Duration) -> Sample {
    lat_us.sort_by(f64::total_cmp);
    let pick = |q: f64| lat_us[((lat_us.len() - 1) as f64 * q).round() as usize];
    let latency = Latency { p50_us: pick(0.5), p99_us: pick(0.99), max_us: pick(1.0) };
    Sample { value: latency.p99_us, elapsed, latency: Some(latency) }
}

fn low_loop_ours(h: Handle, stop: Arc<AtomicBool>) {
    if stop.load(Ordering::Relaxed) {
        return;
    }
    spin_for(LOW_TASK);
    let h2 = h.clone();
    drop(h.spawn_fn_with(Priority::Low, move || low_loop_ours(h2, stop)));
}

pub(super) fn priority_latency_ours(cfg: &RunConfig) -> Sample {
    let rt = ours(cfg);
    let stop = Arc::new(AtomicBool::new(false));
    // A backlog of self-respawning Low tasks keeps every worker busy.
    for _ in 0..(cfg.workers * 8) {
        let (h, s) = (rt.handle().clone(), stop.clone());
        drop(rt.spawn_fn_with(Priority::Low, move || low_loop_ours(h, s)));
    }
    std::thread::sleep(Duration::from_millis(5));
    let samples = Arc::new(Mutex::new(Vec::with_capacity(cfg.n as usize)));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(cfg.n as usize);
    for _ in 0..cfg.n {
        let spawned = Instant::now();
        let s = samples.clone();
        handles.push(rt.spawn_fn_with(Priority::High, move || {
            s.lock().unwrap().push(spawned.elapsed().as_secs_f64() * 1e6);
        }));
        std::thread::sleep(HIGH_EVERY);
    }
    for h in handles {
        rt.block_on(h).expect("high task");
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let lat = std::mem::take(&mut *samples.lock().unwrap());
    latency_sample(lat, elapsed)
}

fn low_loop_tokio(h: tokio::runtime::Handle, stop: Arc<AtomicBool>) {
    if stop.load(Ordering::Relaxed) {
        return;
    }
    spin_for(LOW_TASK);
    let h2 = h.clone();
    drop(h.spawn(async move { low_loop_tokio(h2, stop) }));
}

pub(super) fn priority_latency_tokio(cfg: &RunConfig) -> Sample {
    let rt = tokio_rt(cfg);
    let stop = Arc::new(AtomicBool::new(false));
    for _ in 0..(cfg.workers * 8) {
        let (h, s) = (rt.handle().clone(), stop.clone());
        drop(rt.spawn(async move { low_loop_tokio(h, s) }));
    }
    std::thread::sleep(Duration::from_millis(5));
    let samples = Arc::new(Mutex::new(Vec::with_capacity(cfg.n as usize)));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(cfg.n as usize);
    for _ in 0..cfg.n {
        let spawned = Instant::now();
        let s = samples.clone();
        handles.push(rt.spawn(async move {
            s.lock().unwrap().push(spawned.elapsed().as_secs_f64() * 1e6);
        }));
        std::thread::sleep(HIGH_EVERY);
    }
    for h in handles {
        rt.block_on(h).expect("high task");
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let lat = std::mem::take(&mut *samples.lock().unwrap());
    latency_sample(lat, elapsed)
}
