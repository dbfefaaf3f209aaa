//! No acknowledged write is lost when the server is killed: the `todo` binary on the embedded
//! file store takes concurrent create-todo requests (32 in flight), is killed with `SIGKILL` in
//! the middle of them (after some hundreds of `201`s), and is started again on the same data
//! directory: every todo whose `201` arrived is there, with its title, at version 1.
//!
//! `SIGKILL` gives the process no chance to flush or finish anything, so this shows that a `201`
//! leaves only after the commit holding the todo returned (the kernel keeps what was written
//! before the kill), and that the restart replays the store's journal: the writes since its last
//! checkpoint are in the journal only. Surviving a power cut also needs the journal's `fsync`,
//! which the store's own tests and `saas-data/benches/group_commit.rs` are about.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::{Value, json};

/// Requests in flight during the load.
const IN_FLIGHT: usize = 32;
/// Lists the todos are spread over.
const LISTS: usize = 4;
/// The server is killed once this many creates were acknowledged.
const KILL_AFTER: usize = 400;
const EMAIL: &str = "durable@example.com";

/// The `todo` binary on the embedded store in `dir`, once it announced its URL.
struct Server {
    process: std::process::Child,
    url: String,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_todo"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("TODO_") {
                command.env_remove(name);
            }
        }
        let mut process = command
            .env_remove("AWS_LAMBDA_FUNCTION_NAME")
            .env("TODO_DATA_DIR", dir)
            .env("TODO_STORE", "embedded")
            .env("PORT", "0")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the todo binary starts");
        let stdout = process.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        // Drained for as long as the process runs, so it never blocks writing.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("todo service on ") {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_owned());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) if url.starts_with("http://127.0.0.1:") => Server { process, url },
            other => {
                let _ = process.kill();
                panic!("no URL announced: {other:?}, {:?}", process.wait());
            }
        }
    }

    /// `SIGKILL`, and the process reaped (so its file lock is gone).
    fn kill(mut self) {
        self.process.kill().expect("SIGKILL");
        let status = self.process.wait().expect("reaped");
        assert!(!status.success(), "killed, not exited: {status:?}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

async fn token(http: &Client, url: &str) -> String {
    let r = http
        .post(format!("{url}/dev/token"))
        .json(&json!({ "email": EMAIL }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["id_token"].as_str().expect("id_token").to_owned()
}

/// `s` percent-encoded for a query string.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every todo of `list`, paging with the largest page: id → (title, version).
async fn all_todos(
    http: &Client,
    url: &str,
    token: &str,
    list: &str,
) -> HashMap<String, (String, u64)> {
    let mut todos = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{url}/lists/{list}/todos?limit=100");
        if let Some(c) = &cursor {
            path.push_str("&cursor=");
            path.push_str(&encode(c));
        }
        let r = http.get(path).bearer_auth(token);
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 200);
        let page: Value = r.json().await.unwrap();
        for t in page["items"].as_array().expect("items") {
            let id = t["id"].as_str().expect("id").to_owned();
            let title = t["title"].as_str().expect("title").to_owned();
            todos.insert(id, (title, t["version"].as_u64().expect("version")));
        }
        match &page["next_cursor"] {
            Value::String(c) => cursor = Some(c.clone()),
            _ => return todos,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_todos_survive_sigkill_mid_load() {
    let dir = tempfile::tempdir().unwrap();
    let http = Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(IN_FLIGHT)
        .build()
        .unwrap();
    let server = Server::start(dir.path());
    let url = server.url.clone();
    let token = token(&http, &url).await;
    let mut lists = Vec::new();
    for l in 0..LISTS {
        let r = http
            .post(format!("{url}/lists"))
            .bearer_auth(&token)
            .json(&json!({ "name": format!("list {l}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.unwrap();
        lists.push(body["id"].as_str().expect("id").to_owned());
    }
    let lists = Arc::new(lists);

    // The load: IN_FLIGHT workers create todos until the server is gone; each 201 is recorded.
    let acknowledged: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let acked = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|w| {
            let (http, url, token, lists) =
                (http.clone(), url.clone(), token.clone(), lists.clone());
            let (acknowledged, acked, failed, killed) = (
                acknowledged.clone(),
                acked.clone(),
                failed.clone(),
                killed.clone(),
            );
            tokio::spawn(async move {
                for i in 0.. {
                    let list = &lists[(w + i) % LISTS];
                    let title = format!("worker {w} todo {i} ✓");
                    let sent = http
                        .post(format!("{url}/lists/{list}/todos"))
                        .bearer_auth(&token)
                        .json(&json!({ "title": title }))
                        .send()
                        .await;
                    let body = match sent {
                        Ok(r) if r.status() == 201 => r.json::<Value>().await.ok(),
                        Ok(r) => {
                            assert!(
                                killed.load(Ordering::SeqCst),
                                "{} before the kill: {:?}",
                                r.status(),
                                r.text().await
                            );
                            None
                        }
                        Err(e) => {
                            assert!(killed.load(Ordering::SeqCst), "before the kill: {e}");
                            None
                        }
                    };
                    match body {
                        Some(todo) => {
                            let id = todo["id"].as_str().expect("id").to_owned();
                            acknowledged.lock().unwrap().push((list.clone(), id, title));
                            acked.fetch_add(1, Ordering::SeqCst);
                        }
                        None => {
                            // The answer did not arrive (in flight at the kill): not acknowledged.
                            failed.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                    }
                }
            })
        })
        .collect();
    while acked.load(Ordering::SeqCst) < KILL_AFTER {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "only {} creates acknowledged in a minute",
            acked.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    killed.store(true, Ordering::SeqCst);
    let at_kill = acked.load(Ordering::SeqCst);
    let elapsed = started.elapsed();
    server.kill();
    for w in workers {
        w.await.unwrap();
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    let cut = failed.load(Ordering::SeqCst);
    println!(
        "{at_kill} creates acknowledged in {:.2} s ({:.0}/s, {IN_FLIGHT} in flight) before SIGKILL; \
         {} acknowledged in all, {cut} requests cut off by the kill",
        elapsed.as_secs_f64(),
        at_kill as f64 / elapsed.as_secs_f64(),
        acknowledged.len(),
    );
    assert!(acknowledged.len() >= KILL_AFTER);
    assert!(cut > 0, "the kill came while requests were in flight");

    // Started again on the same directory: everything acknowledged is there.
    let server = Server::start(dir.path());
    let url = server.url.clone();
    let token = self::token(&http, &url).await;
    let mut stored = HashMap::new();
    for list in lists.iter() {
        stored.insert(list.clone(), all_todos(&http, &url, &token, list).await);
    }
    let mut lost = Vec::new();
    for (list, id, title) in &acknowledged {
        match stored[list].get(id) {
            Some((t, version)) => {
                assert_eq!((t, *version), (title, 1), "todo {id} of list {list}");
            }
            None => lost.push(id.clone()),
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged todos lost: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
    // Nothing was made up either: at most the requests cut off may have landed besides.
    let total: usize = stored.values().map(HashMap::len).sum();
    assert!(
        (acknowledged.len()..=acknowledged.len() + cut).contains(&total),
        "{total} todos stored for {} acknowledged and {cut} cut off",
        acknowledged.len()
    );
    // And one read by id, through the single-todo route.
    let (list, id, title) = &acknowledged[acknowledged.len() / 2];
    let r = http
        .get(format!("{url}/lists/{list}/todos/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let todo: Value = r.json().await.unwrap();
    assert_eq!(todo["title"].as_str(), Some(title.as_str()));
    drop(server);
}
