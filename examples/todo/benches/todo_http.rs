//! The whole stack over HTTP on the embedded store: authenticated `POST /lists/{list}/todos` and
//! `GET /lists/{list}/todos?limit=50` (a list of 200 todos) against the local server started
//! in-process on a temp dir, through a keep-alive reqwest client with a real development token.
//! Each request goes through hyper, the tenant layer (RS256 verification, the membership
//! lookup), saas-metrics' layer (an EMF line to `metrics.emf`), the quota and metering
//! middleware, the handler and the store (a create is a durable redb commit of the todo and its
//! event, then the event's delivery and the consumer's activity item, as locally configured).
//!
//! First one timed pass per case with 1 and 16 concurrent clients, recording every request's
//! time: req/s (requests / wall time), p50 and p99; then criterion's per-op estimate with one
//! client (requests back to back on a runtime worker, as in the timed pass); then the create
//! pass with one client again, on the store as it has grown.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// Todos on the list that is read.
const LIST_SIZE: usize = 200;
/// The page read.
const LIMIT: usize = 50;
/// How long each timed pass runs, after a warm-up of a second.
const PASS: Duration = Duration::from_secs(5);
const CLIENTS: [usize; 2] = [1, 16];

#[derive(Clone)]
struct Target {
    http: Client,
    token: Arc<str>,
    /// Where creates go (it grows).
    create_url: Arc<str>,
    /// The list of `LIST_SIZE` todos, first page of `LIMIT`.
    list_url: Arc<str>,
}

#[derive(Clone, Copy, Debug)]
enum Case {
    Create,
    List,
}

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::Create => "create_todo",
            Case::List => "list_todos_50_of_200",
        }
    }
}

static TITLE: AtomicU64 = AtomicU64::new(0);

impl Target {
    /// One request of `case`, its answer checked.
    async fn one(&self, case: Case) {
        match case {
            Case::Create => {
                let n = TITLE.fetch_add(1, Ordering::Relaxed);
                let r = self
                    .http
                    .post(&*self.create_url)
                    .bearer_auth(&*self.token)
                    .json(&json!({"title": format!("bench todo {n}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::CREATED);
                let _ = r.bytes().await.unwrap();
            }
            Case::List => {
                let r = self
                    .http
                    .get(&*self.list_url)
                    .bearer_auth(&*self.token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                let body = r.bytes().await.unwrap();
                assert!(body.len() > LIMIT * 100, "a page of {LIMIT} todos");
            }
        }
    }
}

async fn set_up(url: &str) -> Target {
    let http = Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let token: Value = http
        .post(format!("{url}/dev/token"))
        .json(&json!({"email": "bench@example.com"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["id_token"].as_str().unwrap().to_owned();
    let mut lists = Vec::new();
    for name in ["created", "read"] {
        let list: Value = http
            .post(format!("{url}/lists"))
            .bearer_auth(&token)
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        lists.push(list["id"].as_str().unwrap().to_owned());
    }
    for i in 0..LIST_SIZE {
        let r = http
            .post(format!("{url}/lists/{}/todos", lists[1]))
            .bearer_auth(&token)
            .json(&json!({"title": format!("todo number {i} with a title of typical length")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let target = Target {
        http,
        token: token.into(),
        create_url: format!("{url}/lists/{}/todos", lists[0]).into(),
        list_url: format!("{url}/lists/{}/todos?limit={LIMIT}", lists[1]).into(),
    };
    // The page is full and has a next one.
    let page: Value = target
        .http
        .get(&*target.list_url)
        .bearer_auth(&*target.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), LIMIT);
    assert!(page["next_cursor"].is_string());
    target
}

/// `clients` tasks sending `case` back to back for `PASS`: every request's time, and the wall
/// time.
async fn pass(target: &Target, case: Case, clients: usize) -> (Vec<Duration>, Duration) {
    let until = Instant::now() + PASS;
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let target = target.clone();
            tokio::spawn(async move {
                let mut samples = Vec::with_capacity(20_000);
                while Instant::now() < until {
                    let t = Instant::now();
                    target.one(case).await;
                    samples.push(t.elapsed());
                }
                samples
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (all, started.elapsed())
}

fn report(label: &str, mut samples: Vec<Duration>, total: Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "{label:<52} {:>6.0} req/s   p50 {:>8.3} ms   p99 {:>8.3} ms   ({} requests in {:.2} s)",
        samples.len() as f64 / total.as_secs_f64(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples.len(),
        total.as_secs_f64()
    );
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = rt
        .block_on(todo::Server::start(
            todo::Config::local(dir.path()),
            "127.0.0.1:0",
        ))
        .unwrap();
    let target = rt.block_on(set_up(&server.url()));

    println!(
        "\ntodo service over HTTP, embedded store, {:.0} s per pass:",
        PASS.as_secs_f64()
    );
    for case in [Case::Create, Case::List] {
        for clients in CLIENTS {
            rt.block_on(async {
                // Warm-up: connections open, caches filled.
                let warm = Instant::now();
                while warm.elapsed() < Duration::from_secs(1) {
                    futures_util::future::join_all((0..clients).map(|_| target.one(case))).await;
                }
                let (samples, total) = pass(&target, case, clients).await;
                report(
                    &format!("{}, {clients} client(s)", case.name()),
                    samples,
                    total,
                );
            });
        }
    }
    println!();

    let mut group = c.benchmark_group("todo_http");
    for case in [Case::Create, Case::List] {
        // On a runtime worker, as in the timed passes (a `block_on` from this thread per
        // request would add a cross-thread hand-off to every one).
        group.bench_function(case.name(), |b| {
            b.iter_custom(|iters| {
                let target = target.clone();
                rt.block_on(rt.spawn(async move {
                    let started = Instant::now();
                    for _ in 0..iters {
                        target.one(case).await;
                    }
                    started.elapsed()
                }))
                .unwrap()
            })
        });
    }
    group.finish();

    // The create pass again, on the store as it is now: creates slow down as it grows.
    rt.block_on(async {
        let before = TITLE.load(Ordering::Relaxed);
        let (samples, total) = pass(&target, Case::Create, 1).await;
        report(
            &format!("create_todo, 1 client(s), again after {before} creates"),
            samples,
            total,
        );
    });
    rt.block_on(server.stop());
}

criterion_group! {
    name = todo_http;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(4));
    targets = benches
}
criterion_main!(todo_http);
