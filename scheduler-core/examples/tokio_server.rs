//! A tokio TCP server that offloads its CPU-heavy requests to this crate's runtime, with a
//! built-in, bounded load generator:
//!
//! ```sh
//! cargo run --release -p scheduler-core --example tokio_server -- --requests 20000 --conns 32
//! ```
//!
//! The line protocol: `E <text>` is a light request (the server echoes `<text>`), `H <seed>` a
//! heavy one (a fixed CPU job of about 250 us, calibrated at start, run on our pool; the
//! server answers with its result). The load generator opens `--conns` connections to the
//! server on 127.0.0.1 (an ephemeral port), sends `--requests` requests in all, one in five
//! heavy, each connection waiting for each answer (a closed loop), and stops by itself. It
//! prints the throughput and the light and heavy latency percentiles. `--mode inline` runs the
//! heavy job on the tokio worker instead and `--mode blocking` on tokio's `spawn_blocking`, to
//! compare.

use scheduler_core::{Priority, Runtime};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ours,
    Inline,
    Blocking,
}

#[derive(Debug, Clone, Copy)]
struct Options {
    requests: usize,
    conns: usize,
    mode: Mode,
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options { requests: 20_000, conns: 32, mode: Mode::Ours };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--requests" => {
                opts.requests = value()?.parse().map_err(|e| format!("--requests: {e}"))?
            }
            "--conns" => opts.conns = value()?.parse().map_err(|e| format!("--conns: {e}"))?,
            "--mode" => {
                opts.mode = match value()?.as_str() {
                    "ours" => Mode::Ours,
                    "inline" => Mode::Inline,
                    "blocking" => Mode::Blocking,
                    other => {
                        return Err(format!("--mode: ours, inline or blocking, not {other:?}"))
                    }
                }
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if opts.requests == 0 || opts.conns == 0 {
        return Err("--requests and --conns must be at least 1".into());
    }
    Ok(opts)
}

/// The heavy request's CPU job: `rounds` rounds of a multiply-xorshift mix.
fn cpu_job(seed: u64, rounds: u64) -> u64 {
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
fn calibrate(target: Duration) -> u64 {
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

/// What the server shares with its connection handlers.
struct Server {
    pool: scheduler_core::Handle,
    rounds: u64,
    mode: Mode,
}

impl Server {
    async fn heavy(&self, seed: u64) -> u64 {
        let rounds = self.rounds;
        match self.mode {
            Mode::Ours => self
                .pool
                .spawn_fn_with(Priority::Normal, move || cpu_job(seed, rounds))
                .await
                .expect("the job does not panic"),
            Mode::Inline => cpu_job(seed, rounds),
            Mode::Blocking => tokio::task::spawn_blocking(move || cpu_job(seed, rounds))
                .await
                .expect("the job does not panic"),
        }
    }

    async fn serve(self: Arc<Self>, sock: TcpStream) -> std::io::Result<()> {
        sock.set_nodelay(true)?; // one small reply per request: no Nagle delay
        let (read, mut write) = sock.into_split();
        let mut lines = BufReader::new(read).lines();
        while let Some(line) = lines.next_line().await? {
            let mut reply = match line.split_once(' ') {
                Some(("E", text)) => text.to_owned(),
                Some(("H", seed)) => self.heavy(seed.parse().unwrap_or(1)).await.to_string(),
                _ => "ERR".to_owned(),
            };
            reply.push('\n');
            write.write_all(reply.as_bytes()).await?;
        }
        Ok(())
    }
}

/// One connection of the load generator: its share of the requests, answers awaited in turn.
/// Returns the latencies (microseconds) of its light and heavy requests.
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

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("tokio_server: {e}");
            std::process::exit(2);
        }
    };
    let rounds = calibrate(Duration::from_micros(250));
    let pool = Runtime::builder().build().expect("our runtime");
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let server = Arc::new(Server { pool: pool.handle().clone(), rounds, mode: opts.mode });
    let (light, heavy, elapsed) = tokio_rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(server.clone().serve(sock));
            }
        });
        let started = Instant::now();
        let per_conn = opts.requests.div_ceil(opts.conns);
        let clients: Vec<_> = (0..opts.conns)
            .map(|c| {
                let first = c * per_conn;
                let count = per_conn.min(opts.requests.saturating_sub(first));
                tokio::spawn(client(addr, first, count))
            })
            .collect();
        let (mut light, mut heavy) = (Vec::new(), Vec::new());
        for c in clients {
            let (l, h) = c.await.expect("a client task");
            light.extend(l);
            heavy.extend(h);
        }
        (light, heavy, started.elapsed())
    });
    drop(pool); // ours first, then tokio's (the guide's shutdown order)
    drop(tokio_rt);
    let (mut light, mut heavy) = (light, heavy);
    light.sort_unstable();
    heavy.sort_unstable();
    let total = light.len() + heavy.len();
    assert_eq!(total, opts.requests, "every request answered");
    println!(
        "mode {:?}: {} requests over {} connections in {:.2} s: {:.0} req/s",
        opts.mode,
        total,
        opts.conns,
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  light: p50 {} us, p99 {} us   heavy (~250 us job): p50 {} us, p99 {} us",
        percentile(&light, 0.5),
        percentile(&light, 0.99),
        percentile(&heavy, 0.5),
        percentile(&heavy, 0.99)
    );
}
