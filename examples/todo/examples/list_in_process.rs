//! list-todos without the network: `GET /lists/{list}/todos?limit=50` (a list of 200 todos)
//! called on the service's router in-process (`tower::ServiceExt::oneshot`), one request at a
//! time on a current-thread runtime, for profiling what the service adds to the HTTP stack.
//!
//! A first server (on 127.0.0.1:0) mints the development token and serves its JWKS; the router
//! measured is a second app on its own data directory that trusts that issuer.
//!
//! ```sh
//! cargo run --release -p todo-example --example list_in_process   # SECONDS=5
//! ```
#![allow(clippy::print_stdout, clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use todo::Config;
use tower::ServiceExt;

/// The allocator of the `todo` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn call(router: &axum::Router, req: Request<Body>) -> (StatusCode, bytes::Bytes) {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    (status, res.into_body().collect().await.unwrap().to_bytes())
}

fn post(uri: &str, token: Option<&str>, body: &Value) -> Request<Body> {
    let mut req = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    req.body(Body::from(body.to_string())).unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // The server's subscriber (`src/bin/todo.rs`): the request span each request opens is part
    // of what the service costs.
    saas_core::logging::init().unwrap();
    let seconds: u64 = std::env::var("SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let issuer_dir = tempfile::tempdir().unwrap();
    let issuer = todo::Server::start(Config::local(issuer_dir.path()), "127.0.0.1:0")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = todo::build(&Config::local(dir.path()), &issuer.url())
        .await
        .unwrap();
    let router = app.router.clone();

    let (status, body) = call(
        &router,
        post("/dev/token", None, &json!({"email": "owner@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let token: Value = serde_json::from_slice(&body).unwrap();
    let token = token["id_token"].as_str().unwrap().to_owned();

    let (status, body) = call(
        &router,
        post("/lists", Some(&token), &json!({"name": "list"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body:?}");
    let list: Value = serde_json::from_slice(&body).unwrap();
    let list = list["id"].as_str().unwrap().to_owned();
    for i in 0..200 {
        let (status, _) = call(
            &router,
            post(
                &format!("/lists/{list}/todos"),
                Some(&token),
                &json!({"title": format!("seed todo {i:03} of list 00")}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let uri = format!("/lists/{list}/todos?limit=50");
    let get = || {
        Request::get(&uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let (status, body) = call(&router, get()).await;
    assert_eq!(status, StatusCode::OK);
    let bytes = body.len();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut n = 0u64;
    while Instant::now() < deadline {
        for _ in 0..100 {
            let (status, _) = call(&router, get()).await;
            assert_eq!(status, StatusCode::OK);
        }
        n += 100;
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("list-todos in process: {us:.2} µs/request ({n} requests, {bytes} B)");
    app.shutdown().await;
    issuer.stop().await;
}
