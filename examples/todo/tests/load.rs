//! Load: 20 users on 50 lists, 10,000 mixed requests concurrently against the local server (64
//! in flight, multi-thread runtime): every answer is the one expected for its request (including
//! the expected refusals: a viewer's write 403, a non-member's request 404, a stale `If-Match`
//! 412, a missing token 401), and every list's `GET /lists/{list}/usage` counts exactly the
//! requests sent to it that passed the tenant layer (a non-member's 404 and a 401 are not the
//! list's; a member's 403 or 404 is).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const USERS: usize = 20;
const LISTS: usize = 50;
const REQUESTS: usize = 10_000;
const IN_FLIGHT: usize = 64;
/// Todos created before the load on every list, never changed during it: targets of reads and
/// of refused writes, and enough for a first page of `PAGE` to have a next one.
const SEEDS: usize = 10;
const PAGE: usize = 5;
/// Members of every list: the owner, two editors, two viewers.
const MEMBERS: usize = 5;

fn email(user: usize) -> String {
    format!("user{user:02}@example.com")
}

/// Who is what on list `l`: the owner, editors and viewers are neighbours of `l % USERS`; the
/// other 15 users are not members.
fn role_of(l: usize, user: usize) -> Option<&'static str> {
    match (user + USERS - l % USERS) % USERS {
        0 => Some("owner"),
        1 | 2 => Some("editor"),
        3 | 4 => Some("viewer"),
        _ => None,
    }
}

fn member(l: usize, k: usize) -> usize {
    (l + k) % USERS
}

/// A small deterministic generator (xorshift64*), so a failing mix can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One operation: a request, or a short sequence of one caller's requests on one list.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A writer creates a todo: 201.
    Create,
    /// A member reads the first page (`limit=PAGE`, full, with a cursor) and the next: 200, 200.
    Page,
    /// A member reads a seed todo: 200.
    GetSeed,
    /// A member lists the members: 200, five of them.
    Members,
    /// A writer creates a todo (201), patches it without `If-Match` (200, version 2), with the
    /// current `If-Match` (200, version 3), with a stale one (412), deletes it (204), and reads
    /// it again (404: a member's, so the list's).
    EditChain,
    /// A viewer creates, patches or deletes: 403.
    ViewerWrite(u8),
    /// A non-member reads or writes the list: 404, not the list's.
    Stranger(u8),
    /// No token: 401, not the list's.
    Anonymous,
}

impl Kind {
    fn requests(self) -> usize {
        match self {
            Kind::Page => 2,
            Kind::EditChain => 6,
            _ => 1,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Op {
    kind: Kind,
    list: usize,
    user: usize,
}

/// The mix: exactly `REQUESTS` requests.
fn plan(rng: &mut Rng) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut total = 0;
    while total < REQUESTS {
        let list = rng.below(LISTS);
        let writer = member(list, rng.below(3)); // owner or an editor
        let any_member = member(list, rng.below(MEMBERS));
        let viewer = member(list, 3 + rng.below(2));
        let stranger = member(list, MEMBERS + rng.below(USERS - MEMBERS));
        let roll = rng.below(100);
        let (kind, user) = match roll {
            0..=24 => (Kind::Create, writer),
            25..=36 => (Kind::Page, any_member),
            37..=54 => (Kind::GetSeed, any_member),
            55..=62 => (Kind::Members, any_member),
            63..=72 => (Kind::EditChain, writer),
            73..=82 => (Kind::ViewerWrite(rng.below(3) as u8), viewer),
            83..=96 => (Kind::Stranger(rng.below(5) as u8), stranger),
            _ => (Kind::Anonymous, stranger),
        };
        // The last few requests of the budget are single ones, so the total is exact.
        let kind = if total + kind.requests() > REQUESTS {
            Kind::GetSeed
        } else {
            kind
        };
        let user = if matches!(kind, Kind::GetSeed) && role_of(list, user).is_none() {
            any_member
        } else {
            user
        };
        total += kind.requests();
        ops.push(Op { kind, list, user });
    }
    assert_eq!(total, REQUESTS);
    ops
}

/// One request: what is sent and the status it must get.
struct Req {
    method: Method,
    path: String,
    if_match: Option<&'static str>,
    body: Option<Value>,
    expected: StatusCode,
}

impl Req {
    fn new(method: Method, path: impl Into<String>, expected: StatusCode) -> Req {
        Req {
            method,
            path: path.into(),
            if_match: None,
            body: None,
            expected,
        }
    }

    fn body(mut self, body: Value) -> Req {
        self.body = Some(body);
        self
    }

    fn if_match(mut self, version: &'static str) -> Req {
        self.if_match = Some(version);
        self
    }
}

/// What the run shares: the server's address, the callers' tokens, the lists and their seeds,
/// and what was sent.
struct World {
    http: Client,
    url: String,
    tokens: Vec<String>,
    lists: Vec<String>,
    seeds: Vec<Vec<String>>,
    /// Requests sent to each list that pass the tenant layer (a member's).
    metered: Vec<AtomicU64>,
    sent: AtomicU64,
    statuses: Mutex<BTreeMap<u16, u64>>,
    failures: Mutex<Vec<String>>,
}

impl World {
    /// Sends `req` as `user` (no token when `None`) and checks the status: the answer's body
    /// when it is the expected one. The request is counted against `list` when the caller is
    /// one of its members.
    async fn send(&self, list: usize, user: Option<usize>, req: Req) -> Option<Value> {
        let Req {
            method,
            path,
            if_match,
            body,
            expected,
        } = req;
        let mut r = self
            .http
            .request(method.clone(), format!("{}{path}", self.url));
        if let Some(u) = user {
            r = r.bearer_auth(&self.tokens[u]);
        }
        if let Some(v) = if_match {
            r = r.header("if-match", v);
        }
        if let Some(body) = body {
            r = r.json(&body);
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        if user.is_some_and(|u| role_of(list, u).is_some()) {
            self.metered[list].fetch_add(1, Ordering::Relaxed);
        }
        let answer = match r.send().await {
            Ok(a) => a,
            Err(e) => {
                self.fail(format!("{method} {path} as {user:?}: {e}"));
                return None;
            }
        };
        let status = answer.status();
        *self
            .statuses
            .lock()
            .unwrap()
            .entry(status.as_u16())
            .or_default() += 1;
        let body = answer.json::<Value>().await.unwrap_or(Value::Null);
        if status == expected {
            Some(body)
        } else {
            self.fail(format!(
                "{method} {path} as {user:?}: {status}, expected {expected}: {body}"
            ));
            None
        }
    }

    fn fail(&self, what: String) {
        self.failures.lock().unwrap().push(what);
    }

    async fn run(&self, op: Op, rng: u64) {
        let Op {
            kind,
            list: l,
            user,
        } = op;
        let list = &self.lists[l];
        let seed = &self.seeds[l][(rng % SEEDS as u64) as usize];
        let u = Some(user);
        let todos = format!("/lists/{list}/todos");
        let seed_path = format!("{todos}/{seed}");
        match kind {
            Kind::Create => {
                let req = Req::new(Method::POST, &todos, StatusCode::CREATED)
                    .body(json!({"title": format!("load {rng}")}));
                if let Some(t) = self.send(l, u, req).await
                    && t["version"] != 1
                {
                    self.fail(format!("created {t}"));
                }
            }
            Kind::Page => {
                let req = Req::new(Method::GET, format!("{todos}?limit={PAGE}"), StatusCode::OK);
                let Some(first) = self.send(l, u, req).await else {
                    return;
                };
                let items = first["items"].as_array().map_or(0, Vec::len);
                let Some(cursor) = first["next_cursor"].as_str().filter(|_| items == PAGE) else {
                    self.fail(format!("first page of {list}: {first}"));
                    return;
                };
                let req = Req::new(
                    Method::GET,
                    format!("{todos}?limit={PAGE}&cursor={cursor}"),
                    StatusCode::OK,
                );
                if let Some(next) = self.send(l, u, req).await {
                    let n = next["items"].as_array().map_or(0, Vec::len);
                    if n == 0 || n > PAGE || next["items"][0]["id"] == first["items"][0]["id"] {
                        self.fail(format!("second page of {list}: {next}"));
                    }
                }
            }
            Kind::GetSeed => {
                let req = Req::new(Method::GET, &seed_path, StatusCode::OK);
                if let Some(t) = self.send(l, u, req).await
                    && (t["id"] != seed.as_str() || t["version"] != 1)
                {
                    self.fail(format!("seed {seed}: {t}"));
                }
            }
            Kind::Members => {
                let req = Req::new(
                    Method::GET,
                    format!("/lists/{list}/members"),
                    StatusCode::OK,
                );
                if let Some(m) = self.send(l, u, req).await
                    && m["items"].as_array().map_or(0, Vec::len) != MEMBERS
                {
                    self.fail(format!("members of {list}: {m}"));
                }
            }
            Kind::EditChain => {
                let req = Req::new(Method::POST, &todos, StatusCode::CREATED)
                    .body(json!({"title": "to edit"}));
                let Some(t) = self.send(l, u, req).await else {
                    return;
                };
                let path = format!("{todos}/{}", t["id"].as_str().unwrap_or("?"));
                // Each step with the version its answer must carry.
                let steps = [
                    (
                        Req::new(Method::PATCH, &path, StatusCode::OK).body(json!({"done": true})),
                        Some(2),
                    ),
                    (
                        Req::new(Method::PATCH, &path, StatusCode::OK)
                            .if_match("2")
                            .body(json!({"title": "edited"})),
                        Some(3),
                    ),
                    (
                        Req::new(Method::PATCH, &path, StatusCode::PRECONDITION_FAILED)
                            .if_match("2")
                            .body(json!({"done": false})),
                        None,
                    ),
                    (
                        Req::new(Method::DELETE, &path, StatusCode::NO_CONTENT),
                        None,
                    ),
                    (Req::new(Method::GET, &path, StatusCode::NOT_FOUND), None),
                ];
                for (req, version) in steps {
                    let Some(answer) = self.send(l, u, req).await else {
                        return;
                    };
                    if let Some(v) = version
                        && answer["version"] != v
                    {
                        self.fail(format!("{path}: {answer}, expected version {v}"));
                    }
                }
            }
            Kind::ViewerWrite(which) => {
                let req = match which {
                    0 => Req::new(Method::POST, &todos, StatusCode::FORBIDDEN)
                        .body(json!({"title": "no"})),
                    1 => Req::new(Method::PATCH, &seed_path, StatusCode::FORBIDDEN)
                        .body(json!({"done": true})),
                    _ => Req::new(Method::DELETE, &seed_path, StatusCode::FORBIDDEN),
                };
                self.send(l, u, req).await;
            }
            Kind::Stranger(which) => {
                let req = match which {
                    0 => Req::new(Method::GET, format!("/lists/{list}"), StatusCode::NOT_FOUND),
                    1 => Req::new(Method::GET, &todos, StatusCode::NOT_FOUND),
                    2 => Req::new(Method::POST, &todos, StatusCode::NOT_FOUND)
                        .body(json!({"title": "no"})),
                    3 => Req::new(Method::GET, &seed_path, StatusCode::NOT_FOUND),
                    _ => Req::new(Method::PATCH, &seed_path, StatusCode::NOT_FOUND)
                        .body(json!({"done": true})),
                };
                self.send(l, u, req).await;
            }
            Kind::Anonymous => {
                let req = Req::new(Method::GET, &todos, StatusCode::UNAUTHORIZED);
                self.send(l, None, req).await;
            }
        }
    }
}

async fn token(http: &Client, url: &str, user: usize) -> String {
    let answer: Value = http
        .post(format!("{url}/dev/token"))
        .json(&json!({"email": email(user)}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["id_token"].as_str().unwrap().to_owned()
}

/// List `l`, shared with its editors and viewers, with its seed todos. Every request after
/// `POST /lists` is the owner's, so the list's.
async fn set_up_list(
    http: &Client,
    url: &str,
    tokens: &[String],
    l: usize,
) -> (String, Vec<String>, u64) {
    let owner = &tokens[member(l, 0)];
    let list: Value = http
        .post(format!("{url}/lists"))
        .bearer_auth(owner)
        .json(&json!({"name": format!("list {l}")}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = list["id"].as_str().unwrap().to_owned();
    let mut metered = 0;
    for k in 1..MEMBERS {
        let role = role_of(l, member(l, k)).unwrap();
        let r = http
            .put(format!("{url}/lists/{id}/members/{}", email(member(l, k))))
            .bearer_auth(owner)
            .json(&json!({"role": role}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        metered += 1;
    }
    let mut seeds = Vec::new();
    for i in 0..SEEDS {
        let todo: Value = http
            .post(format!("{url}/lists/{id}/todos"))
            .bearer_auth(owner)
            .json(&json!({"title": format!("seed {i}")}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        seeds.push(todo["id"].as_str().unwrap().to_owned());
        metered += 1;
    }
    (id, seeds, metered)
}

#[tokio::test(flavor = "multi_thread")]
async fn many_users_on_many_lists_get_the_expected_answers_and_exact_usage() {
    let dir = tempfile::tempdir().unwrap();
    let server = todo::Server::start(todo::Config::local(dir.path()), "127.0.0.1:0")
        .await
        .unwrap();
    let url = server.url();
    let http = Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();

    let set_up = Instant::now();
    let mut tokens = Vec::new();
    for user in 0..USERS {
        tokens.push(token(&http, &url, user).await);
    }
    let lists =
        futures_util::future::join_all((0..LISTS).map(|l| set_up_list(&http, &url, &tokens, l)))
            .await;
    let set_up = set_up.elapsed();
    let mut ids = Vec::new();
    let mut seeds = Vec::new();
    let mut metered = Vec::new();
    for (id, s, m) in lists {
        ids.push(id);
        seeds.push(s);
        metered.push(AtomicU64::new(m));
    }

    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let ops = Arc::new(plan(&mut rng));
    let world = Arc::new(World {
        http,
        url,
        tokens,
        lists: ids,
        seeds,
        metered,
        sent: AtomicU64::new(0),
        statuses: Mutex::default(),
        failures: Mutex::default(),
    });

    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|w| {
            let (world, ops, next) = (world.clone(), ops.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(op) = ops.get(i) else { break };
                    world
                        .run(*op, (i as u64).wrapping_mul(0x9e37_79b9) ^ w as u64)
                        .await;
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started.elapsed();
    let sent = world.sent.load(Ordering::Relaxed);
    let statuses = world.statuses.lock().unwrap().clone();
    println!(
        "set-up {set_up:.1?}; {sent} requests in {elapsed:.1?} ({:.0}/s, {IN_FLIGHT} in flight): {statuses:?}",
        sent as f64 / elapsed.as_secs_f64()
    );
    let failures = world.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} unexpected answers, the first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    assert_eq!(sent, REQUESTS as u64);
    assert_eq!(statuses.values().sum::<u64>(), REQUESTS as u64);
    for expected in [200, 201, 204, 401, 403, 404, 412] {
        assert!(
            statuses.contains_key(&expected),
            "no {expected} in {statuses:?}"
        );
    }

    // Each list's usage, read by its owner: exactly the members' requests (the usage reads are
    // metered after they answer, so the second read sees the first).
    let http = &world.http;
    let mut mismatches = Vec::new();
    let mut counted = [0u64; 2];
    for round in 0..2u64 {
        for (l, list) in world.lists.iter().enumerate() {
            let usage: Value = http
                .get(format!("{}/lists/{list}/usage", world.url))
                .bearer_auth(&world.tokens[member(l, 0)])
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap()
                .json()
                .await
                .unwrap();
            let expected = world.metered[l].load(Ordering::Relaxed) + round;
            counted[round as usize] += usage["requests"].as_u64().unwrap_or(0);
            if usage["requests"] != expected {
                mismatches.push(format!(
                    "list {l} read {round}: {usage}, expected {expected} requests"
                ));
            }
            // Every list had writes (its members and seeds at least).
            assert!(usage["write_units"].as_f64().unwrap() > 0.0, "{usage}");
            assert!(usage["read_units"].as_f64().unwrap() > 0.0, "{usage}");
        }
    }
    let metered: u64 = world
        .metered
        .iter()
        .map(|m| m.load(Ordering::Relaxed))
        .sum();
    assert!(
        mismatches.is_empty(),
        "{} of {LISTS} lists' usage differs (all lists: {counted:?} counted, {metered} sent): {mismatches:#?}",
        mismatches.len() / 2
    );
    server.stop().await;
}
