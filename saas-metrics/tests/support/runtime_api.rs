//! A Lambda Runtime API and Extensions API on 127.0.0.1, with Lambda's ordering, for a function
//! process pointed at it with `AWS_LAMBDA_RUNTIME_API`.
//!
//! Paths and headers are the ones `lambda_runtime` 1.5 and `lambda-extension` 1.1 use
//! (`requests.rs` in each):
//!
//! - `GET /2018-06-01/runtime/invocation/next`: the next invocation, with
//!   `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`,
//!   `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id`;
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error`,
//!   `POST /2018-06-01/runtime/init/error`;
//! - `POST /2020-01-01/extension/register` (`Lambda-Extension-Name`, `{"events": [...]}`), answered
//!   with `Lambda-Extension-Identifier`; only during init (before the runtime's first `/next`),
//!   and `SHUTDOWN` refused as Lambda refuses it to internal extensions (every extension here is
//!   internal: nothing runs from `/opt/extensions`);
//! - `GET /2020-01-01/extension/event/next` (`Lambda-Extension-Identifier`): `INVOKE` events as
//!   Lambda writes them; `POST /2020-01-01/extension/{init,exit}/error`.
//!
//! [`RuntimeApi::invoke`] dispatches an invocation the way Lambda does: only once the runtime is
//! waiting in `/next` and every registered extension in `/event/next`; then to the runtime and,
//! as an `INVOKE` event, to every extension registered for it at the same moment. The
//! invocation is complete (the environment could be frozen) once its response is posted, the
//! runtime is back in `/next` and every extension back in `/event/next`. Shutdown is the test's:
//! Lambda sends `SIGTERM` to a function whose extensions are all internal, `SIGKILL` 500 ms later.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};

const TRACE_ID: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
pub(crate) const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:metrics-test";

/// What the runtime posted for an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `/response`, with the body.
    Response(String),
    /// `/error`, with the body.
    Error(String),
}

/// One invocation as the platform saw it.
#[derive(Debug)]
pub(crate) struct Invoked {
    pub(crate) request_id: String,
    pub(crate) outcome: Outcome,
    /// From handing the event out (the `/next` answer) to receiving the response: what the
    /// caller waits.
    pub(crate) response_after: Duration,
    /// When the response was received (before it was acknowledged).
    pub(crate) responded_at: Instant,
    /// From handing the event out until the runtime and every extension asked for the next one.
    pub(crate) complete_after: Duration,
}

/// A registration, as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Registration {
    pub(crate) name: String,
    pub(crate) events: Vec<String>,
    pub(crate) accepted: bool,
}

struct Extension {
    id: String,
    invoke: bool,
    waiting: Option<oneshot::Sender<Value>>,
}

#[derive(Default)]
struct Platform {
    runtime_called_next: bool,
    runtime_waiting: Option<oneshot::Sender<(String, u64, Value)>>,
    extensions: Vec<Extension>,
    registrations: Vec<Registration>,
    in_flight: HashMap<String, oneshot::Sender<(Instant, Outcome)>>,
    errors: Vec<String>,
    next_id: u64,
}

impl Platform {
    fn runtime_ready(&self) -> bool {
        self.runtime_waiting
            .as_ref()
            .is_some_and(|w| !w.is_closed())
    }

    fn extensions_ready(&self) -> bool {
        self.extensions
            .iter()
            .all(|e| e.waiting.as_ref().is_some_and(|w| !w.is_closed()))
    }
}

#[derive(Default)]
struct Shared {
    state: Mutex<Platform>,
    changed: Notify,
}

impl Shared {
    fn update<T>(&self, f: impl FnOnce(&mut Platform) -> T) -> T {
        let out = f(&mut self.state.lock().unwrap());
        self.changed.notify_waiters();
        out
    }

    /// Until `ready` holds, at most `timeout`.
    async fn wait_until(&self, timeout: Duration, what: &str, ready: impl Fn(&Platform) -> bool) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if ready(&self.state.lock().unwrap()) {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!("Runtime API emulator: {what} within {timeout:?}");
            }
        }
    }
}

/// The emulator; serves until dropped with the test's runtime.
#[derive(Clone)]
pub(crate) struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl RuntimeApi {
    pub(crate) async fn start() -> RuntimeApi {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(invocation_response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(invocation_error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .route("/2020-01-01/extension/register", post(register))
            .route("/2020-01-01/extension/event/next", get(next_event))
            .route("/2020-01-01/extension/{kind}/error", post(extension_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        RuntimeApi { addr, shared }
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`: host and port, as Lambda sets it.
    pub(crate) fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// Until init is over: the runtime waits in its first `/next` and every extension in
    /// `/event/next`.
    pub(crate) async fn wait_for_init(&self, timeout: Duration) {
        self.shared
            .wait_until(timeout, "init to end", |s| {
                s.runtime_ready() && s.extensions_ready()
            })
            .await;
    }

    /// Registrations asked for so far.
    pub(crate) fn registrations(&self) -> Vec<Registration> {
        self.shared.state.lock().unwrap().registrations.clone()
    }

    /// Init errors, invocation-less errors and extension errors posted so far.
    pub(crate) fn errors(&self) -> Vec<String> {
        self.shared.state.lock().unwrap().errors.clone()
    }

    /// Dispatches one invocation of `payload` (deadline `timeout` ahead) and returns once it is
    /// complete.
    pub(crate) async fn invoke(&self, payload: Value, timeout: Duration) -> Invoked {
        let wait = Duration::from_secs(30);
        self.shared
            .wait_until(
                wait,
                "the runtime and every extension to ask for the next event",
                |s| s.runtime_ready() && s.extensions_ready(),
            )
            .await;
        let deadline_ms = (SystemTime::now() + timeout)
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let (respond, response) = oneshot::channel();
        let (request_id, dispatched) = self.shared.update(|s| {
            s.next_id += 1;
            let request_id = format!("req-{:04}-{}", s.next_id, std::process::id());
            s.in_flight.insert(request_id.clone(), respond);
            let event = json!({
                "eventType": "INVOKE",
                "deadlineMs": deadline_ms,
                "requestId": request_id,
                "invokedFunctionArn": FUNCTION_ARN,
                "tracing": {
                    "type": "X-Amzn-Trace-Id",
                    "value": TRACE_ID,
                },
            });
            let dispatched = Instant::now();
            for e in s.extensions.iter_mut().filter(|e| e.invoke) {
                let _ = e.waiting.take().unwrap().send(event.clone());
            }
            let runtime = s.runtime_waiting.take().unwrap();
            let _ = runtime.send((request_id.clone(), deadline_ms, payload));
            (request_id, dispatched)
        });
        let (responded_at, outcome) =
            tokio::time::timeout(timeout + Duration::from_secs(5), response)
                .await
                .unwrap_or_else(|_| panic!("no response to {request_id}"))
                .unwrap();
        let response_after = responded_at - dispatched;
        self.shared
            .wait_until(wait, "the invocation to complete", |s| {
                s.runtime_ready() && s.extensions_ready()
            })
            .await;
        Invoked {
            request_id,
            outcome,
            response_after,
            responded_at,
            complete_after: dispatched.elapsed(),
        }
    }
}

fn error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let body = json!({ "errorType": error_type, "errorMessage": message }).to_string();
    (status, [("content-type", "application/json")], body).into_response()
}

async fn next_invocation(State(shared): State<Arc<Shared>>) -> Response {
    let (tx, rx) = oneshot::channel();
    shared.update(|s| {
        s.runtime_called_next = true;
        s.runtime_waiting = Some(tx);
    });
    match rx.await {
        Ok((request_id, deadline_ms, payload)) => (
            StatusCode::OK,
            [
                ("content-type", "application/json".to_owned()),
                ("lambda-runtime-aws-request-id", request_id),
                ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
                (
                    "lambda-runtime-invoked-function-arn",
                    FUNCTION_ARN.to_owned(),
                ),
                ("lambda-runtime-trace-id", TRACE_ID.to_owned()),
            ],
            payload.to_string(),
        )
            .into_response(),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Emulator.Gone",
            "shutting down",
        ),
    }
}

fn posted(shared: &Shared, id: &str, outcome: Outcome) -> Response {
    let at = Instant::now();
    match shared.update(|s| s.in_flight.remove(id)) {
        Some(respond) => {
            let _ = respond.send((at, outcome));
            (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
        }
        None => error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "no invocation in flight with this id",
        ),
    }
}

async fn invocation_response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    posted(
        &shared,
        &id,
        Outcome::Response(String::from_utf8_lossy(&body).into()),
    )
}

async fn invocation_error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    posted(
        &shared,
        &id,
        Outcome::Error(String::from_utf8_lossy(&body).into()),
    )
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let message = format!("init error: {}", String::from_utf8_lossy(&body));
    shared.update(|s| s.errors.push(message));
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
}

async fn register(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(name) = headers
        .get("lambda-extension-name")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return error(
            StatusCode::FORBIDDEN,
            "Extension.MissingName",
            "no extension name",
        );
    };
    let events: Vec<String> = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| serde_json::from_value(v["events"].clone()).ok())
        .unwrap_or_default();
    shared.update(|s| {
        let refused = if s.runtime_called_next {
            Some((
                "Extension.InvalidState",
                "registration after init".to_owned(),
            ))
        } else if events.iter().any(|e| e == "SHUTDOWN") {
            Some((
                "Extension.InvalidEventType",
                "ShutdownEventNotSupportedForInternalExtension".to_owned(),
            ))
        } else if let Some(e) = events.iter().find(|e| *e != "INVOKE") {
            Some((
                "Extension.InvalidEventType",
                format!("{e}: ErrorInvalidEventType"),
            ))
        } else if s.registrations.iter().any(|r| r.accepted && r.name == name) {
            Some((
                "Extension.AlreadyRegistered",
                "already registered".to_owned(),
            ))
        } else {
            None
        };
        s.registrations.push(Registration {
            name: name.clone(),
            events: events.clone(),
            accepted: refused.is_none(),
        });
        if let Some((kind, message)) = refused {
            return error(StatusCode::FORBIDDEN, kind, &message);
        }
        let id = format!("ext-{}-{}", s.extensions.len() + 1, std::process::id());
        s.extensions.push(Extension {
            id: id.clone(),
            invoke: events.iter().any(|e| e == "INVOKE"),
            waiting: None,
        });
        let body = json!({
            "functionName": "metrics-test",
            "functionVersion": "$LATEST",
            "handler": "bootstrap",
            "accountId": "123456789012",
        });
        (
            StatusCode::OK,
            [
                ("content-type", "application/json".to_owned()),
                ("lambda-extension-identifier", id),
            ],
            body.to_string(),
        )
            .into_response()
    })
}

async fn next_event(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let id = headers
        .get("lambda-extension-identifier")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (tx, rx) = oneshot::channel();
    let known = shared.update(|s| match s.extensions.iter_mut().find(|e| e.id == id) {
        Some(e) => {
            e.waiting = Some(tx);
            true
        }
        None => false,
    });
    if !known {
        return error(
            StatusCode::FORBIDDEN,
            "Extension.UnknownExtensionIdentifier",
            &id,
        );
    }
    match rx.await {
        Ok(event) => (
            StatusCode::OK,
            [
                ("content-type", "application/json".to_owned()),
                ("lambda-extension-event-identifier", format!("evt-{id}")),
            ],
            event.to_string(),
        )
            .into_response(),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Emulator.Gone",
            "shutting down",
        ),
    }
}

async fn extension_error(
    State(shared): State<Arc<Shared>>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error_type = headers
        .get("lambda-extension-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let message = format!(
        "extension {kind} error {error_type}: {}",
        String::from_utf8_lossy(&body)
    );
    shared.update(|s| s.errors.push(message));
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
}
