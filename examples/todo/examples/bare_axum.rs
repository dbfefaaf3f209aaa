//! The floor `scripts/bench-load` measures the todo service against: a bare axum server answering
//! `GET /lists/{list}/todos` with a fixed JSON page, on the same axum, tokio and hyper as the
//! `todo` binary (this package's own dependencies and features), served the same way
//! (`axum::serve` on a `TcpListener`, the multi-thread runtime of `#[tokio::main]` and the
//! mimalloc allocator, as `src/bin/todo.rs`). No token is checked, no store is read, nothing is
//! metered: what is left is the HTTP stack.
//!
//! The page has the shape and size of the service's `?limit=50` page of a list of 200 todos
//! (`{"items":[todo x 50],"next_cursor"}`, ids, times and emails of the same lengths), built and
//! serialized once at start; every answer is a clone of those bytes.
//!
//! ```sh
//! cargo run --release -p todo-example --example bare_axum   # 127.0.0.1:3001 (PORT)
//! ```
//!
//! It prints `bare axum on http://127.0.0.1:PORT (N bytes per page)` once listening
//! (`PORT=0` picks a free port).
#![allow(clippy::print_stdout)]

use axum::Router;
use axum::extract::Path;
use axum::response::IntoResponse;
use axum::routing::get;
use bytes::Bytes;
use http::header;
use serde_json::{Value, json};

/// The allocator of the `todo` binary, so that only the service's own work differs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Todos in the page, as in the service's `limit=50`.
const PAGE: usize = 50;

/// A page shaped like the service's: todo ids `t` + 12 + 8 + 20 hex digits, RFC 3339 times with
/// microseconds, a creator's email, and a cursor of the length the service's are.
fn page() -> Value {
    let items: Vec<Value> = (0..PAGE)
        .map(|i| {
            json!({
                "id": format!("t{:012x}{:08x}{:020x}", 0x019a_0000_0000_u64 + i as u64, i, i),
                "title": format!("seed todo {i:03} of list 00"),
                "done": false,
                "version": 1,
                "created_at": "2026-12-02T01:50:00.123456Z",
                "updated_at": "2026-12-02T01:50:00.123456Z",
                "created_by": "user00@example.com",
            })
        })
        .collect();
    json!({ "items": items, "next_cursor": "c".repeat(160) })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let body = Bytes::from(serde_json::to_vec(&page())?);
    let size = body.len();
    let router = Router::new().route(
        "/lists/{list}/todos",
        get(move |Path(_list): Path<String>| {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body).into_response() }
        }),
    );
    let port = std::env::var("PORT").unwrap_or_else(|_| "3001".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!(
        "bare axum on http://{} ({size} bytes per page)",
        listener.local_addr()?
    );
    axum::serve(listener, router).await?;
    Ok(())
}
