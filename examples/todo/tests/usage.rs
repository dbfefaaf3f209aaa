//! Every request is metered under its list: `GET /lists/{list}/usage` counts the requests of all
//! its members and the capacity they consumed, nothing of other lists; the figures are stored
//! and survive a restart; the EMF lines carry the list as the tenant.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::{Client, StatusCode};

mod common;
use common::{call, dev_token as token};
use serde_json::json;

#[tokio::test]
async fn usage_counts_each_lists_own_requests_and_capacity_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = todo::Server::start(todo::Config::local(dir.path()), "127.0.0.1:0")
        .await
        .unwrap();
    let url = server.url();
    let c = Client::new();
    let ann = token(&c, &url, "ann@example.com").await;
    let bob = token(&c, &url, "bob@example.com").await;

    let (_, a) = call(
        c.post(format!("{url}/lists"))
            .bearer_auth(&ann)
            .json(&json!({"name": "a"})),
    )
    .await;
    let (_, b) = call(
        c.post(format!("{url}/lists"))
            .bearer_auth(&ann)
            .json(&json!({"name": "b"})),
    )
    .await;
    let (a, b) = (
        a["id"].as_str().unwrap().to_owned(),
        b["id"].as_str().unwrap().to_owned(),
    );

    // List a: ann shares it (1), creates 5 todos (5), reads them (1); bob, an editor, creates
    // 3 (3) and is refused a member change (1, a 403 still counts). 11 requests.
    let (s, _) = call(
        c.put(format!("{url}/lists/{a}/members/bob@example.com"))
            .bearer_auth(&ann)
            .json(&json!({"role": "editor"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK.as_u16());
    for i in 0..5 {
        let (s, _) = call(
            c.post(format!("{url}/lists/{a}/todos"))
                .bearer_auth(&ann)
                .json(&json!({"title": format!("a{i}")})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED.as_u16());
    }
    call(c.get(format!("{url}/lists/{a}/todos")).bearer_auth(&ann)).await;
    for i in 0..3 {
        let (s, _) = call(
            c.post(format!("{url}/lists/{a}/todos"))
                .bearer_auth(&bob)
                .json(&json!({"title": format!("b{i}")})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED.as_u16());
    }
    let (s, _) = call(
        c.put(format!("{url}/lists/{a}/members/eve@example.com"))
            .bearer_auth(&bob)
            .json(&json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN.as_u16());
    // List b: one read.
    call(c.get(format!("{url}/lists/{b}")).bearer_auth(&ann)).await;
    // Not a member of b: refused before anything is metered under b.
    let (s, _) = call(c.get(format!("{url}/lists/{b}")).bearer_auth(&bob)).await;
    assert_eq!(s, StatusCode::NOT_FOUND.as_u16());

    let (s, usage_a) = call(c.get(format!("{url}/lists/{a}/usage")).bearer_auth(&ann)).await;
    assert_eq!(s, StatusCode::OK.as_u16());
    assert_eq!(usage_a["requests"], 11, "{usage_a}");
    // Eight todos and a member written (1 WCU each at least); the handlers' reads (the
    // membership lookup before them is the service's, not charged to the list).
    assert!(usage_a["write_units"].as_f64().unwrap() >= 9.0, "{usage_a}");
    assert!(usage_a["read_units"].as_f64().unwrap() > 0.0, "{usage_a}");
    assert!(usage_a["compute_ms"].as_f64().unwrap() > 0.0, "{usage_a}");
    let (_, usage_b) = call(c.get(format!("{url}/lists/{b}/usage")).bearer_auth(&ann)).await;
    assert_eq!(usage_b["requests"], 1, "{usage_b}");
    assert_eq!(usage_b["write_units"].as_f64().unwrap(), 0.0, "{usage_b}");
    // Only the owner reads usage.
    let (s, _) = call(c.get(format!("{url}/lists/{a}/usage")).bearer_auth(&bob)).await;
    assert_eq!(s, StatusCode::FORBIDDEN.as_u16());

    // The EMF lines name the list as the tenant.
    server.stop().await;
    let emf = std::fs::read_to_string(dir.path().join("metrics.emf")).unwrap();
    let of_a = emf
        .lines()
        .filter(|l| l.contains(&format!("\"tenant_id\":\"{a}\"")) && l.contains("TenantRequests"))
        .count();
    assert!(of_a >= 11, "{of_a} EMF lines of list a");

    // After a restart: the same figures (plus the usage reads made since).
    let server = todo::Server::start(todo::Config::local(dir.path()), "127.0.0.1:0")
        .await
        .unwrap();
    let url = server.url();
    let ann = token(&c, &url, "ann@example.com").await;
    let (_, again) = call(c.get(format!("{url}/lists/{a}/usage")).bearer_auth(&ann)).await;
    // The first usage read (1) and bob's refused one (1) were metered after it answered.
    assert_eq!(again["requests"], 13, "{again}");
    assert!(again["write_units"].as_f64().unwrap() >= usage_a["write_units"].as_f64().unwrap());
    server.stop().await;
}
