//! A fan-out server loop: requests arrive on a queue, each is handled by its own task in a
//! priority class and under a deadline, and the replies are gathered at the end.
//!
//! `cargo run -p scheduler-core --example fan_out`
//!
//! What it shows:
//! - A `DeferredQueue` as the server's inbox: a client thread `put`s requests; the server
//!   task awaits `get()` (a Deferred) in a loop until it receives the end marker (`None`).
//! - One task per request, spawned with `spawn_with(priority, ...)`: health checks run
//!   `High`, queries `Normal`, reports `Low`, so a burst of slow reports never delays a
//!   health check.
//! - A timeout per request (`Handle::timeout`): a handler still working when its deadline
//!   passes is dropped and the request answered "timed out"; the server goes on.
//! - Gathering: every `JoinHandle` becomes a Deferred (`into_deferred`), and
//!   `gather_results` fires with all replies in request order once every handler is done.

use scheduler_core::{Handle, Priority, Runtime};
use scheduler_deferred::{gather_results, Deferred, DeferredQueue};
use std::time::{Duration, Instant};

/// What a client asks for: a kind (which sets the priority) and how long the work takes.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Health,
    Query,
    Report,
}

#[derive(Debug, Clone, Copy)]
struct Request {
    id: u32,
    kind: Kind,
    work: Duration,
}

const DEADLINE: Duration = Duration::from_millis(50);

/// Handles one request: the "work" is a timer sleep (standing for I/O), under a deadline.
async fn handle_request(handle: Handle, req: Request, received: Instant) -> String {
    let work = async {
        handle.sleep(req.work).await;
        format!("{:?} #{} done", req.kind, req.id)
    };
    match handle.timeout(DEADLINE, work).await {
        Ok(reply) => format!("{reply} after {} ms", received.elapsed().as_millis()),
        Err(_elapsed) => format!("{:?} #{} timed out after {DEADLINE:?}", req.kind, req.id),
    }
}

/// The server loop: one task per request until the end marker, then all replies.
async fn serve(handle: Handle, inbox: DeferredQueue<Option<Request>>) -> Vec<String> {
    let mut replies: Vec<Deferred<String>> = Vec::new();
    loop {
        let next = inbox.get().expect("an unbounded queue accepts every getter");
        let Ok(Some(req)) = next.await else { break }; // None: the client is done
        let priority = match req.kind {
            Kind::Health => Priority::High,
            Kind::Query => Priority::Normal,
            Kind::Report => Priority::Low,
        };
        let task = handle.spawn_with(priority, handle_request(handle.clone(), req, Instant::now()));
        replies.push(task.into_deferred());
    }
    // All replies, in request order (a handler that panicked would fail the whole gather).
    gather_results(replies, true).await.unwrap_or_else(|failure| vec![format!("{failure:?}")])
}

fn main() {
    let rt = Runtime::builder().worker_threads(2).build().expect("runtime");
    let inbox = DeferredQueue::new();
    let server = rt.spawn(serve(rt.handle().clone(), inbox.clone()));

    // A client on another thread: twelve requests; the 80 ms reports miss the 50 ms deadline.
    let client = std::thread::spawn(move || {
        let works = [(Kind::Report, 30), (Kind::Health, 1), (Kind::Query, 10), (Kind::Report, 80)];
        for (i, &(kind, ms)) in works.iter().cycle().take(12).enumerate() {
            let work = Duration::from_millis(ms);
            inbox.put(Some(Request { id: i as u32, kind, work })).expect("unbounded");
            std::thread::sleep(Duration::from_millis(2));
        }
        inbox.put(None).expect("unbounded");
    });

    client.join().expect("client thread");
    let replies = rt.block_on(server).expect("the server task");
    for reply in &replies {
        println!("{reply}");
    }
    let timed_out = replies.iter().filter(|r| r.contains("timed out")).count();
    println!("{} replies, {timed_out} timed out", replies.len());
}
