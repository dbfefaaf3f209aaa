//! A small client for the contract tests: a real server on `127.0.0.1`, callers with their
//! tokens, answers with their status, headers and body, and the contract's shapes.
//!
//! Every contract case takes the [`Target`] it runs on, and [`on_every_target!`] runs it on
//! each: the embedded store (a `todo::Server` in this process) and DynamoDB on moto (the `todo`
//! binary as a subprocess, `TODO_STORE=dynamodb`, its own table).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(dead_code)]

use std::collections::{BTreeSet, VecDeque};
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use todo::IdentityConfig;

/// Where a service under test runs and keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A `todo::Server` in this process, on the embedded store in its data directory.
    Embedded,
    /// The `todo` binary as a subprocess with `TODO_STORE=dynamodb`, on moto
    /// (`SAAS_TEST_MOTO_ENDPOINT`), a table of its own.
    Dynamodb,
}

impl Target {
    /// Whether this target can run here. DynamoDB needs moto: without `SAAS_TEST_MOTO_ENDPOINT`
    /// the case is skipped (false), unless `SAAS_REQUIRE_MOTO` is set (a panic).
    pub(crate) fn available(self) -> bool {
        match self {
            Target::Embedded => true,
            Target::Dynamodb => moto_endpoint().is_some(),
        }
    }

    /// A new service on a fresh data directory, as its own development issuer.
    pub(crate) async fn start(self) -> Svc {
        self.start_with(IdentityConfig::Development).await
    }

    /// A new service on a fresh data directory (and, on DynamoDB, a fresh table) that trusts
    /// `identity`.
    pub(crate) async fn start_with(self, identity: IdentityConfig) -> Svc {
        self.start_placed(identity, false).await
    }

    /// A new service, as its own development issuer, in the mixed model: lists of premium and
    /// platinum owners in tables of their own, placed through a registry (on DynamoDB, a fresh
    /// registry table and silo prefix).
    pub(crate) async fn start_with_silos(self) -> Svc {
        self.start_placed(IdentityConfig::Development, true).await
    }

    async fn start_placed(self, identity: IdentityConfig, silos: bool) -> Svc {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = match self {
            Target::Embedded => None,
            Target::Dynamodb => {
                let endpoint = moto_endpoint().expect("moto (check Target::available first)");
                let table = unique_table();
                create_table(&endpoint, &table).await;
                Some(table)
            }
        };
        let silo = silos.then(|| {
            let pool = table.as_deref().unwrap_or(todo::LOCAL_TABLE);
            todo::SiloConfig {
                registry_table: format!("{pool}-registry"),
                prefix: format!("{pool}-list-"),
            }
        });
        if let (Some(silo), Some(endpoint)) = (&silo, table.as_ref().and(moto_endpoint())) {
            create_table(&endpoint, &silo.registry_table).await;
        }
        Svc::launch(self, dir, table, identity, silo).await
    }
}

/// Runs the named cases (`async fn case(t: Target)` in the invoking module) as tests on every
/// target: `embedded::case` and `dynamodb::case`, the latter skipped without moto.
#[allow(unused_macros)] // not every test file runs contract cases
macro_rules! on_every_target {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(crate::common::Target::Embedded).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $case() {
                    if crate::common::Target::Dynamodb.available() {
                        super::$case(crate::common::Target::Dynamodb).await;
                    }
                }
            )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_every_target;

/// The moto endpoint, or `None` when the tests that need it should be skipped; a panic when
/// `SAAS_REQUIRE_MOTO` is set without it.
pub(crate) fn moto_endpoint() -> Option<String> {
    match std::env::var("SAAS_TEST_MOTO_ENDPOINT") {
        Ok(e) if !e.trim().is_empty() => Some(e.trim().trim_end_matches('/').to_owned()),
        _ => {
            assert!(
                std::env::var_os("SAAS_REQUIRE_MOTO").is_none(),
                "SAAS_REQUIRE_MOTO is set but SAAS_TEST_MOTO_ENDPOINT is not: run scripts/test, \
                 which starts moto_server"
            );
            eprintln!("skipping: SAAS_TEST_MOTO_ENDPOINT is not set (scripts/test sets it)");
            None
        }
    }
}

/// `AWS_REGION`, or moto's default.
pub(crate) fn aws_region() -> String {
    std::env::var("AWS_REGION")
        .ok()
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| "us-east-1".into())
}

/// A DynamoDB client for moto at `endpoint`.
pub(crate) fn dynamo_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new(aws_region()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A table name no other test (or earlier run on the same moto) uses.
pub(crate) fn unique_table() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    format!(
        "todo-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The service's pool table, created through saas-data's public API (on AWS, the deployment's
/// business; the service does not create it).
pub(crate) async fn create_table(endpoint: &str, table: &str) {
    let store =
        saas_data::DataStore::builder(saas_data::Backend::dynamodb(dynamo_client(endpoint)))
            .pool(table)
            .build()
            .expect("store");
    store
        .provisioner()
        .create_table(table)
        .await
        .expect("table created");
}

/// A running service: in this process, or the `todo` binary.
pub(crate) enum Handle {
    /// `todo::Server`; it stops when dropped.
    InProcess(todo::Server),
    /// The `todo` binary; it is killed (and reaped) when dropped.
    Process(Child),
    /// Stopped, to be restarted (`Svc::restart`).
    Stopped,
}

impl Handle {
    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        match self {
            Handle::InProcess(server) => server.url(),
            Handle::Process(child) => child.url.clone(),
            Handle::Stopped => String::new(),
        }
    }
}

/// The `todo` binary, running; what it printed is kept (the last lines) and shown if the test
/// fails while it runs.
pub(crate) struct Child {
    process: std::process::Child,
    url: String,
    output: Arc<Mutex<VecDeque<String>>>,
}

/// How many of the binary's last output lines are kept.
const KEPT_LINES: usize = 200;

impl Child {
    /// Starts `todo` with `env` (and none of the `TODO_*` settings of this process), and waits
    /// for it to announce its URL (`todo service on http://...`).
    async fn spawn(env: &[(&str, String)]) -> Child {
        let mut command = Command::new(env!("CARGO_BIN_EXE_todo"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("TODO_") {
                command.env_remove(name);
            }
        }
        command
            .env_remove("AWS_LAMBDA_FUNCTION_NAME")
            .env_remove("AWS_PROFILE")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("PORT", "0")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut process = command.spawn().expect("the todo binary starts");
        let output = Arc::new(Mutex::new(VecDeque::new()));
        let (announce, announced) = tokio::sync::oneshot::channel::<String>();
        let stdout = process.stdout.take().expect("stdout");
        let stderr = process.stderr.take().expect("stderr");
        // Both pipes are drained for as long as the process runs, so it never blocks writing.
        let keep = |output: &Arc<Mutex<VecDeque<String>>>, line: String| {
            let mut kept = output
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if kept.len() == KEPT_LINES {
                kept.pop_front();
            }
            kept.push_back(line);
        };
        {
            let output = output.clone();
            std::thread::spawn(move || {
                let mut announce = Some(announce);
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.strip_prefix("todo service on ")
                        && let Some(tx) = announce.take()
                    {
                        let url = rest.split_whitespace().next().unwrap_or_default();
                        let _ = tx.send(url.to_owned());
                    }
                    keep(&output, line);
                }
            });
        }
        {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    keep(&output, format!("stderr: {line}"));
                }
            });
        }
        let mut child = Child {
            process,
            url: String::new(),
            output,
        };
        match tokio::time::timeout(Duration::from_secs(60), announced).await {
            Ok(Ok(url)) if url.starts_with("http://127.0.0.1:") => {
                child.url = url;
                child
            }
            other => {
                let _ = child.process.kill();
                let status = child.process.wait();
                // Let the readers take the last lines.
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "the todo binary did not announce its URL ({other:?}; {status:?}):\n{}",
                    child.output()
                );
            }
        }
    }

    /// What the binary printed last.
    pub(crate) fn output(&self) -> String {
        let kept = self
            .output
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        if std::thread::panicking() {
            eprintln!(
                "the todo binary at {} printed, last:\n{}",
                self.url,
                self.output()
            );
        }
    }
}

/// A running service with its own data directory (and so its own development issuer, unless
/// it trusts another).
pub(crate) struct Svc {
    pub(crate) server: Handle,
    pub(crate) dir: TempDir,
    pub(crate) url: String,
    pub(crate) http: reqwest::Client,
    pub(crate) target: Target,
    /// The DynamoDB table, on that target.
    pub(crate) table: Option<String>,
    pub(crate) identity: IdentityConfig,
    /// The registry and silo tables, in the mixed model.
    pub(crate) silo: Option<todo::SiloConfig>,
}

impl Svc {
    /// The service on `target`, data directory `dir` and `table` (both reused as they are).
    async fn launch(
        target: Target,
        dir: TempDir,
        table: Option<String>,
        identity: IdentityConfig,
        silo: Option<todo::SiloConfig>,
    ) -> Svc {
        let server = match (target, &table) {
            (Target::Embedded, _) => Handle::InProcess(
                in_process(dir.path(), &identity, silo.as_ref())
                    .await
                    .expect("server starts"),
            ),
            (Target::Dynamodb, Some(table)) => {
                Handle::Process(process(dir.path(), table, &identity, silo.as_ref()).await)
            }
            (Target::Dynamodb, None) => panic!("DynamoDB without a table"),
        };
        let url = server.url();
        Svc {
            server,
            dir,
            url,
            http: client(),
            target,
            table,
            identity,
            silo,
        }
    }

    /// Stops the service (at once: in-process, the server is dropped; the binary is killed) and
    /// starts another on the same data directory and table.
    pub(crate) async fn restart(self) -> Svc {
        let Svc {
            server,
            dir,
            target,
            table,
            identity,
            silo,
            ..
        } = self;
        drop(server);
        if target == Target::Embedded {
            // The dropped server's tasks may hold the store file a moment longer.
            for _ in 0..50 {
                match in_process(dir.path(), &identity, silo.as_ref()).await {
                    Ok(server) => {
                        let url = server.url();
                        return Svc {
                            server: Handle::InProcess(server),
                            dir,
                            url,
                            http: client(),
                            target,
                            table,
                            identity,
                            silo,
                        };
                    }
                    Err(e) => {
                        eprintln!("not yet: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            panic!("the data directory is still held by the stopped server");
        }
        Svc::launch(target, dir, table, identity, silo).await
    }
    /// A caller without a token.
    pub(crate) fn anonymous(&self) -> Api {
        Api {
            url: self.url.clone(),
            http: self.http.clone(),
            token: None,
            email: String::new(),
        }
    }

    /// A caller with this raw `Authorization: Bearer` token.
    pub(crate) fn with_token(&self, token: &str) -> Api {
        Api {
            token: Some(token.to_owned()),
            ..self.anonymous()
        }
    }

    /// A token from `POST /dev/token`.
    pub(crate) async fn token(&self, email: &str) -> String {
        let r = self
            .anonymous()
            .post("/dev/token", &json!({ "email": email }))
            .await;
        let body = r.expect(StatusCode::OK);
        body["id_token"].as_str().expect("id_token").to_owned()
    }

    /// A signed-in caller.
    pub(crate) async fn user(&self, email: &str) -> Api {
        let token = self.token(email).await;
        Api {
            email: email.to_lowercase(),
            ..self.with_token(&token)
        }
    }
}

/// A `todo::Server` in this process on the embedded store in `dir`, trusting `identity`.
async fn in_process(
    dir: &Path,
    identity: &IdentityConfig,
    silo: Option<&todo::SiloConfig>,
) -> Result<todo::Server, todo::StartError> {
    let mut config = todo::Config::local(dir);
    config.identity = identity.clone();
    config.silo = silo.cloned();
    todo::Server::start(config, "127.0.0.1:0").await
}

/// The `todo` binary on DynamoDB (moto), pool table `table`, data directory `dir` (the
/// development key and the cursor secret), trusting `identity`.
async fn process(
    dir: &Path,
    table: &str,
    identity: &IdentityConfig,
    silo: Option<&todo::SiloConfig>,
) -> Child {
    let endpoint = moto_endpoint().expect("moto");
    let var = |name: &str, default: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| default.to_owned())
    };
    let mut env = vec![
        ("TODO_STORE", "dynamodb".to_owned()),
        ("TODO_TABLE", table.to_owned()),
        ("TODO_DATA_DIR", dir.display().to_string()),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", aws_region()),
        ("AWS_ACCESS_KEY_ID", var("AWS_ACCESS_KEY_ID", "testing")),
        (
            "AWS_SECRET_ACCESS_KEY",
            var("AWS_SECRET_ACCESS_KEY", "testing"),
        ),
    ];
    if let IdentityConfig::Issuer {
        issuer,
        jwks_url,
        audiences,
    } = identity
    {
        env.push(("TODO_ISSUER", issuer.clone()));
        env.push(("TODO_JWKS_URL", jwks_url.clone()));
        env.push(("TODO_AUDIENCE", audiences.join(",")));
    }
    if let Some(silo) = silo {
        env.push(("TODO_REGISTRY_TABLE", silo.registry_table.clone()));
        env.push(("TODO_SILO_PREFIX", silo.prefix.clone()));
    }
    Child::spawn(&env).await
}

/// A client that keeps no idle connections, so that a dropped server is really gone.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A caller of one service.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) url: String,
    pub(crate) http: reqwest::Client,
    pub(crate) token: Option<String>,
    /// The caller's email (lowercased), empty for a raw token.
    pub(crate) email: String,
}

impl Api {
    /// A request to `path`, with the caller's token.
    pub(crate) fn req(&self, method: Method, path: &str) -> RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.url));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Resp {
        send(self.req(Method::GET, path)).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Resp {
        send(self.req(Method::DELETE, path)).await
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Resp {
        send(self.req(Method::POST, path).json(body)).await
    }

    pub(crate) async fn patch(&self, path: &str, body: &Value) -> Resp {
        send(self.req(Method::PATCH, path).json(body)).await
    }

    pub(crate) async fn put(&self, path: &str, body: &Value) -> Resp {
        send(self.req(Method::PUT, path).json(body)).await
    }

    /// `method path` with this raw body and content type (none when `None`).
    pub(crate) async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Resp {
        let mut r = self.req(method, path).body(body);
        if let Some(ct) = content_type {
            r = r.header(header::CONTENT_TYPE, ct);
        }
        send(r).await
    }

    /// `POST /lists`: the new list.
    pub(crate) async fn create_list(&self, name: &str) -> Value {
        let list = self
            .post("/lists", &json!({ "name": name }))
            .await
            .expect(StatusCode::CREATED);
        assert_list(&list);
        list
    }

    /// A new list's id.
    pub(crate) async fn new_list(&self, name: &str) -> String {
        id(&self.create_list(name).await)
    }

    /// `POST /lists/{list}/todos`: the new todo.
    pub(crate) async fn create_todo(&self, list: &str, title: &str) -> Value {
        let todo = self
            .post(&format!("/lists/{list}/todos"), &json!({ "title": title }))
            .await
            .expect(StatusCode::CREATED);
        assert_todo(&todo);
        todo
    }

    /// The owner shares `list` with `email` as `role`.
    pub(crate) async fn share(&self, list: &str, email: &str, role: &str) {
        let r = self
            .put(
                &format!("/lists/{list}/members/{email}"),
                &json!({ "role": role }),
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(r, json!({"email": email.to_lowercase(), "role": role}));
    }

    /// `GET /lists`: the ids and roles the caller sees (after checking every item's shape).
    pub(crate) async fn my_lists(&self) -> BTreeSet<(String, String)> {
        let body = self.get("/lists").await.expect(StatusCode::OK);
        assert_keys(&body, &["items", "next_cursor"]);
        assert_eq!(body["next_cursor"], Value::Null, "a few lists fit one page");
        items(&body)
            .iter()
            .map(|l| {
                assert_list(l);
                (id(l), l["role"].as_str().expect("role").to_owned())
            })
            .collect()
    }

    /// Every todo of `list`, following `next_cursor` with `limit`, and the pages' sizes.
    pub(crate) async fn all_todos(&self, list: &str, limit: u32) -> (Vec<Value>, Vec<usize>) {
        let mut todos = Vec::new();
        let mut sizes = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/lists/{list}/todos?limit={limit}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={}", enc(c)));
            }
            let page = self.get(&path).await.expect(StatusCode::OK);
            assert_keys(&page, &["items", "next_cursor"]);
            let page_items = items(&page);
            sizes.push(page_items.len());
            for t in page_items {
                assert_todo(t);
                todos.push(t.clone());
            }
            match &page["next_cursor"] {
                Value::Null => return (todos, sizes),
                Value::String(c) => cursor = Some(c.clone()),
                other => panic!("next_cursor {other}"),
            }
            assert!(sizes.len() < 1000, "paging never ends");
        }
    }
}

/// An answer.
#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
}

pub(crate) async fn send(r: RequestBuilder) -> Resp {
    let r = r.send().await.expect("request sent");
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body read");
    Resp {
        status,
        headers,
        text,
    }
}

impl Resp {
    /// The body as JSON.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {:?}", self.status, self.text))
    }

    /// The JSON body, after checking the status (and that it is declared JSON).
    #[track_caller]
    pub(crate) fn expect(&self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "body: {}", self.text);
        self.assert_json_type();
        self.json()
    }

    /// An empty `204`.
    #[track_caller]
    pub(crate) fn no_content(&self) {
        assert_eq!(self.status, StatusCode::NO_CONTENT, "body: {}", self.text);
        assert!(self.text.is_empty(), "204 with a body: {}", self.text);
    }

    #[track_caller]
    fn assert_json_type(&self) {
        let ct = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            ct.starts_with("application/json"),
            "content-type {ct:?} for {} {}",
            self.status,
            self.text
        );
    }

    /// The contract's error: this status, `{"error":{"code","message"}}` and nothing else; the
    /// message is returned.
    #[track_caller]
    pub(crate) fn error(&self, status: StatusCode, code: &str) -> String {
        let body = self.expect(status);
        assert_keys(&body, &["error"]);
        assert_keys(&body["error"], &["code", "message"]);
        assert_eq!(body["error"]["code"], code, "body: {}", self.text);
        let message = body["error"]["message"].as_str().expect("message");
        assert!(!message.is_empty());
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(
                self.headers
                    .get(header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok()),
                Some("Bearer"),
                "401 without WWW-Authenticate: Bearer"
            );
        }
        message.to_owned()
    }

    #[track_caller]
    pub(crate) fn bad_request(&self) -> String {
        self.error(StatusCode::BAD_REQUEST, "invalid_request")
    }

    #[track_caller]
    pub(crate) fn unauthenticated(&self) {
        self.error(StatusCode::UNAUTHORIZED, "unauthenticated");
    }

    #[track_caller]
    pub(crate) fn forbidden(&self) {
        self.error(StatusCode::FORBIDDEN, "forbidden");
    }

    #[track_caller]
    pub(crate) fn not_found(&self) {
        self.error(StatusCode::NOT_FOUND, "not_found");
    }

    #[track_caller]
    pub(crate) fn conflict(&self) {
        self.error(StatusCode::CONFLICT, "conflict");
    }
}

/// `value` is an object with exactly these keys.
#[track_caller]
pub(crate) fn assert_keys(value: &Value, keys: &[&str]) {
    let got: BTreeSet<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    let want: BTreeSet<&str> = keys.iter().copied().collect();
    assert_eq!(got, want, "keys of {value}");
}

/// A list: `{"id","name","role","created_at"}`.
#[track_caller]
pub(crate) fn assert_list(list: &Value) {
    assert_keys(list, &["id", "name", "role", "created_at"]);
    assert!(!id(list).is_empty());
    assert!(list["name"].is_string());
    assert!(
        ["owner", "editor", "viewer"].contains(&list["role"].as_str().expect("role")),
        "{list}"
    );
    recent(&list["created_at"]);
}

/// A todo: `{"id","title","done","version","created_at","updated_at","created_by"}`.
#[track_caller]
pub(crate) fn assert_todo(todo: &Value) {
    assert_keys(
        todo,
        &[
            "id",
            "title",
            "done",
            "version",
            "created_at",
            "updated_at",
            "created_by",
        ],
    );
    assert!(!id(todo).is_empty());
    assert!(todo["title"].is_string());
    assert!(todo["done"].is_boolean());
    assert!(todo["version"].is_u64(), "{todo}");
    assert!(
        todo["created_by"]
            .as_str()
            .expect("created_by")
            .contains('@')
    );
    let created = recent(&todo["created_at"]);
    let updated = recent(&todo["updated_at"]);
    assert!(created <= updated, "updated before created: {todo}");
}

/// An RFC 3339 UTC time within the last ten minutes (and not in the future): its Unix time.
#[track_caller]
pub(crate) fn recent(time: &Value) -> f64 {
    let t = rfc3339_utc(
        time.as_str()
            .unwrap_or_else(|| panic!("not a time: {time}")),
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    assert!(t <= now + 1.0 && t >= now - 600.0, "{time} is not now");
    t
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+00:00)` as Unix seconds; panics on anything else.
#[track_caller]
pub(crate) fn rfc3339_utc(s: &str) -> f64 {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> i64 {
        let part = s
            .get(range)
            .unwrap_or_else(|| panic!("not RFC 3339: {s:?}"));
        assert!(
            part.bytes().all(|c| c.is_ascii_digit()),
            "not RFC 3339: {s:?}"
        );
        part.parse().expect("digits")
    };
    assert!(b.len() >= 20, "not RFC 3339: {s:?}");
    assert!(
        b[4] == b'-' && b[7] == b'-' && (b[10] == b'T' || b[10] == b't'),
        "not RFC 3339: {s:?}"
    );
    assert!(b[13] == b':' && b[16] == b':', "not RFC 3339: {s:?}");
    let (year, month, day) = (digits(0..4), digits(5..7), digits(8..10));
    let (hour, minute, second) = (digits(11..13), digits(14..16), digits(17..19));
    assert!(
        (1..=12).contains(&month) && (1..=31).contains(&day),
        "{s:?}"
    );
    assert!(hour < 24 && minute < 60 && second < 61, "{s:?}");
    let mut rest = &s[19..];
    let mut fraction = 0.0;
    if let Some(f) = rest.strip_prefix('.') {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        assert!(n > 0, "not RFC 3339: {s:?}");
        fraction = format!("0.{}", &f[..n]).parse().expect("fraction");
        rest = &f[n..];
    }
    assert!(
        rest == "Z" || rest == "z" || rest == "+00:00",
        "not RFC 3339 UTC: {s:?}"
    );
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + hour * 3600 + minute * 60 + second) as f64 + fraction
}

/// `s` percent-encoded for a query string or a path segment.
pub(crate) fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `id` of a list or todo.
#[track_caller]
pub(crate) fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id: {v}"))
        .to_owned()
}

/// The `items` of a page.
#[track_caller]
pub(crate) fn items(v: &Value) -> &Vec<Value> {
    v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {v}"))
}

/// A JWT's claims, unverified.
pub(crate) fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// A JWT's header, unverified.
pub(crate) fn jwt_header(token: &str) -> Value {
    let part = token.split('.').next().expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// Signs `claims` as the service's development issuer would (RS256, its `kid`), with the key in
/// its data directory: for tokens `/dev/token` does not mint.
pub(crate) fn sign_as(svc: &Svc, claims: &Value) -> String {
    let issuer = saas_core::dev_issuer::DevIssuer::open(svc.dir.path(), svc.url.clone())
        .expect("the service's key");
    let pem = std::fs::read_to_string(issuer.key_path()).expect("key file");
    let der: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    let der = STANDARD.decode(der).expect("PEM base64");
    let key = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&der).expect("PKCS#8 RSA key");
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": issuer.kid()});
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0u8; key.public_modulus_len()];
    key.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        message.as_bytes(),
        &mut signature,
    )
    .expect("signed");
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The claims `/dev/token` puts in a token for `email`, issued now.
pub(crate) fn dev_claims(svc: &Svc, email: &str) -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    json!({
        "iss": svc.url,
        "aud": saas_core::dev_issuer::DEFAULT_AUDIENCE,
        "sub": saas_core::dev_issuer::DevIssuer::subject(email).expect("email"),
        "email": email.to_lowercase(),
        "email_verified": true,
        "token_use": "id",
        "iat": now,
        "exp": now + 3600,
    })
}

/// A development token for `email` from the service at `url` (`POST /dev/token`).
pub(crate) async fn dev_token(http: &reqwest::Client, url: &str, email: &str) -> String {
    let (status, body) = call(
        http.post(format!("{url}/dev/token"))
            .json(&json!({ "email": email })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["id_token"].as_str().expect("id_token").to_owned()
}

/// Sends `r`: the status and the JSON body (`null` when there is none).
pub(crate) async fn call(r: RequestBuilder) -> (u16, Value) {
    let r = r.send().await.expect("request sent");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A new list named `name`, created with `token`: its id.
pub(crate) async fn new_list(http: &reqwest::Client, url: &str, token: &str, name: &str) -> String {
    let (status, body) = call(
        http.post(format!("{url}/lists"))
            .bearer_auth(token)
            .json(&json!({ "name": name })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().expect("id").to_owned()
}
