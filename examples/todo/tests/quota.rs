//! `TODO_LIST_RPS`: a list over its quota is answered 429 (with `Retry-After`) while other lists
//! and routes that name no list go on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::{Client, StatusCode};

mod common;
use common::{dev_token as token, new_list};
use serde_json::Value;

#[tokio::test]
async fn one_noisy_list_is_limited_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = todo::Config::local(dir.path());
    config.list_rps = Some(2);
    let server = todo::Server::start(config, "127.0.0.1:0").await.unwrap();
    let url = server.url();
    let client = Client::new();
    let ann = token(&client, &url, "ann@example.com").await;
    let noisy = new_list(&client, &url, &ann, "noisy").await;
    let quiet = new_list(&client, &url, &ann, "quiet").await;

    let mut statuses = Vec::new();
    for _ in 0..12 {
        let r = client
            .get(format!("{url}/lists/{noisy}/todos"))
            .bearer_auth(&ann)
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry >= 1);
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "too_many_requests");
        } else {
            statuses.push(r.status());
        }
    }
    // A full bucket lets the first two through; at a refill of 2 a second, 12 quick requests
    // cannot all pass.
    assert!(statuses.len() >= 2 && statuses.len() < 12, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK));

    // The other list, and a route that names no list, are not slowed.
    let r = client
        .get(format!("{url}/lists/{quiet}"))
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = client
        .get(format!("{url}/lists"))
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // The bucket refills.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = client
        .get(format!("{url}/lists/{noisy}/todos"))
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
