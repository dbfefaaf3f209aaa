//! An HTTP proxy on 127.0.0.1 in front of the CloudWatch endpoint (the CBOR proxy before moto)
//! that holds every request for a set delay before forwarding it, or refuses it with a 503:
//! CloudWatch made slow, or unreachable, on demand.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// What the proxy does with the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Forwards each request after this long.
    Delay(Duration),
    /// Answers 503 at once.
    Refuse,
}

struct Shared {
    upstream: SocketAddr,
    mode: Mutex<Mode>,
    forwarded: AtomicUsize,
    arrivals: Mutex<Vec<Instant>>,
}

/// The proxy; serves until the test's runtime ends.
#[derive(Clone)]
pub(crate) struct DelayProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl DelayProxy {
    /// A proxy to `upstream` (`http://127.0.0.1:PORT`) delaying every request by `delay`.
    pub(crate) async fn start(upstream: &str, delay: Duration) -> DelayProxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .parse()
            .expect("the CloudWatch endpoint is http://127.0.0.1:PORT");
        let shared = Arc::new(Shared {
            upstream,
            mode: Mutex::new(Mode::Delay(delay)),
            forwarded: AtomicUsize::new(0),
            arrivals: Mutex::default(),
        });
        let app = Router::new().fallback(forward).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        DelayProxy { addr, shared }
    }

    /// Its endpoint, `http://127.0.0.1:PORT`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    /// When each request arrived, refused or not.
    pub(crate) fn arrivals(&self) -> Vec<Instant> {
        self.shared.arrivals.lock().unwrap().clone()
    }

    /// Requests forwarded (answered by the upstream) so far.
    pub(crate) fn forwarded(&self) -> usize {
        self.shared.forwarded.load(Ordering::SeqCst)
    }
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    shared.arrivals.lock().unwrap().push(Instant::now());
    let mode = *shared.mode.lock().unwrap();
    let delay = match mode {
        Mode::Refuse => {
            return (StatusCode::SERVICE_UNAVAILABLE, "refused by the test proxy").into_response();
        }
        Mode::Delay(delay) => delay,
    };
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    tokio::time::sleep(delay).await;
    let stream = match tokio::net::TcpStream::connect(shared.upstream).await {
        Ok(stream) => stream,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let (mut sender, connection) =
        match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
            Ok(pair) => pair,
            Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
        };
    tokio::spawn(connection);
    let upstream_request = hyper::Request::from_parts(parts, Full::new(body));
    match sender.send_request(upstream_request).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            shared.forwarded.fetch_add(1, Ordering::SeqCst);
            Response::from_parts(parts, Body::from(body))
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
