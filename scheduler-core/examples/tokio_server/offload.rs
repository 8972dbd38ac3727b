//! The server and load generator of `examples/tokio_server` (also compiled into the
//! `server_offload` workload of `schedbench`, through a `#[path]` module, so both measure the
//! same code).
//!
//! A tokio TCP server on 127.0.0.1 (an ephemeral port) speaks a line protocol: `E <text>` is a
//! light request (echoed), `H <seed>` a heavy one (a fixed CPU job, run by the caller's
//! [`Offload`]). A closed-loop load generator opens `conns` connections, sends `requests`
//! requests in all, one in five heavy, and records each request's latency.

#![allow(dead_code, unreachable_pub)] // each includer uses its own part

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Runs the heavy job `cpu_job(seed, rounds)` somewhere and yields its result.
pub type Offload = Arc<dyn Fn(u64, u64) -> Pin<Box<dyn Future<Output = u64> + Send>> + Send + Sync>;

/// The heavy request's CPU job: `rounds` rounds of a multiply-xorshift mix.
pub fn cpu_job(seed: u64, rounds: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
    }
    std::hint::black_box(x)
}

/// Rounds of `cpu_job` that take about `target` on this machine.
pub fn calibrate(target: Duration) -> u64 {
    let mut rounds = 1_000u64;
    loop {
        let t = Instant::now();
        cpu_job(1, rounds);
        let took = t.elapsed();
        if took >= Duration::from_millis(20) {
            let per_round = took.as_secs_f64() / rounds as f64;
            return ((target.as_secs_f64() / per_round) as u64).max(1);
        }
        rounds *= 2;
    }
}

/// Figures of one load run.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Requests answered.
    pub requests: usize,
    /// Wall time of the load.
    pub elapsed: Duration,
    /// Light requests' latencies in microseconds, sorted.
    pub light_us: Vec<u32>,
    /// Heavy requests' latencies in microseconds, sorted.
    pub heavy_us: Vec<u32>,
}

impl LoadReport {
    /// Requests per second.
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// The `p` quantile (0..=1) of sorted microseconds.
pub fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn serve(offload: Offload, rounds: u64, sock: TcpStream) -> std::io::Result<()> {
    sock.set_nodelay(true)?; // one small reply per request: no Nagle delay
    let (read, mut write) = sock.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Some(line) = lines.next_line().await? {
        let mut reply = match line.split_once(' ') {
            Some(("E", text)) => text.to_owned(),
            Some(("H", seed)) => offload(seed.parse().unwrap_or(1), rounds).await.to_string(),
            _ => "ERR".to_owned(),
        };
        reply.push('\n');
        write.write_all(reply.as_bytes()).await?;
    }
    Ok(())
}

/// One connection of the load generator: requests `first..first + count`, each answer awaited
/// before the next request. Returns the light and heavy latencies (microseconds).
async fn client(addr: std::net::SocketAddr, first: usize, count: usize) -> (Vec<u32>, Vec<u32>) {
    let sock = TcpStream::connect(addr).await.expect("connect to the server");
    sock.set_nodelay(true).expect("TCP_NODELAY");
    let (read, mut write) = sock.into_split();
    let mut lines = BufReader::new(read).lines();
    let (mut light, mut heavy) = (Vec::new(), Vec::new());
    for i in first..first + count {
        let is_heavy = i % 5 == 0;
        let request = if is_heavy { format!("H {i}\n") } else { format!("E ping-{i}\n") };
        let t = Instant::now();
        write.write_all(request.as_bytes()).await.expect("send");
        let reply = lines.next_line().await.expect("receive").expect("an answer per request");
        let us = u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX);
        if is_heavy {
            heavy.push(us);
        } else {
            assert_eq!(reply, format!("ping-{i}"), "the echo");
            light.push(us);
        }
    }
    (light, heavy)
}

/// Serves `requests` requests over `conns` connections on `tokio_rt` (its worker threads are
/// the server's), heavy ones through `offload` with jobs of `rounds` rounds.
pub fn run_load(
    tokio_rt: &tokio::runtime::Runtime,
    offload: Offload,
    rounds: u64,
    requests: usize,
    conns: usize,
) -> LoadReport {
    let conns = conns.max(1);
    tokio_rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(serve(offload.clone(), rounds, sock));
            }
        });
        let started = Instant::now();
        let per_conn = requests.div_ceil(conns);
        let clients: Vec<_> = (0..conns)
            .map(|c| {
                let first = c * per_conn;
                let count = per_conn.min(requests.saturating_sub(first));
                tokio::spawn(client(addr, first, count))
            })
            .collect();
        let (mut light, mut heavy) = (Vec::new(), Vec::new());
        for c in clients {
            let (l, h) = c.await.expect("a client task");
            light.extend(l);
            heavy.extend(h);
        }
        let elapsed = started.elapsed();
        server.abort();
        light.sort_unstable();
        heavy.sort_unstable();
        LoadReport {
            requests: light.len() + heavy.len(),
            elapsed,
            light_us: light,
            heavy_us: heavy,
        }
    })
}
