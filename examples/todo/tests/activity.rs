//! Changes flow out as events and come back as the list's activity feed: newest first, every
//! kind, the actor, only the list's own, readable by any member and by nobody else.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use reqwest::Client;

mod common;
use common::{call, dev_token as token};
use serde_json::{Value, json};

/// The feed once it holds `n` items (it may lag a little).
async fn feed(c: &Client, url: &str, list: &str, token: &str, n: usize) -> Vec<Value> {
    for _ in 0..50 {
        let (status, body) = call(
            c.get(format!("{url}/lists/{list}/activity"))
                .bearer_auth(token),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let items = body["items"].as_array().unwrap().clone();
        if items.len() >= n {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the feed of {list} never reached {n} items");
}

#[tokio::test]
async fn every_change_reaches_the_feed_of_its_own_list() {
    let dir = tempfile::tempdir().unwrap();
    let server = todo::Server::start(todo::Config::local(dir.path()), "127.0.0.1:0")
        .await
        .unwrap();
    let (url, c) = (server.url(), Client::new());
    let ann = token(&c, &url, "ann@example.com").await;
    let bob = token(&c, &url, "bob@example.com").await;
    let eve = token(&c, &url, "eve@example.com").await;
    let (_, list) = call(
        c.post(format!("{url}/lists"))
            .bearer_auth(&ann)
            .json(&json!({"name": "a"})),
    )
    .await;
    let (_, other) = call(
        c.post(format!("{url}/lists"))
            .bearer_auth(&ann)
            .json(&json!({"name": "b"})),
    )
    .await;
    let (list, other) = (
        list["id"].as_str().unwrap().to_owned(),
        other["id"].as_str().unwrap().to_owned(),
    );

    let (s, _) = call(
        c.put(format!("{url}/lists/{list}/members/bob@example.com"))
            .bearer_auth(&ann)
            .json(&json!({"role": "editor"})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, todo) = call(
        c.post(format!("{url}/lists/{list}/todos"))
            .bearer_auth(&bob)
            .json(&json!({"title": "milk"})),
    )
    .await;
    assert_eq!(s, 201);
    let id = todo["id"].as_str().unwrap().to_owned();
    let (s, _) = call(
        c.patch(format!("{url}/lists/{list}/todos/{id}"))
            .bearer_auth(&ann)
            .json(&json!({"title": "oat milk"})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, done) = call(
        c.patch(format!("{url}/lists/{list}/todos/{id}"))
            .bearer_auth(&bob)
            .header("if-match", "2")
            .json(&json!({"done": true})),
    )
    .await;
    assert_eq!(s, 200, "{done}");
    assert_eq!(done["version"], 3);
    // A refused change writes no event.
    let (s, _) = call(
        c.patch(format!("{url}/lists/{list}/todos/{id}"))
            .bearer_auth(&bob)
            .header("if-match", "1")
            .json(&json!({"done": false})),
    )
    .await;
    assert_eq!(s, 412);
    let (s, _) = call(
        c.delete(format!("{url}/lists/{list}/todos/{id}"))
            .bearer_auth(&bob),
    )
    .await;
    assert_eq!(s, 204);
    let (s, _) = call(
        c.delete(format!("{url}/lists/{list}/members/bob@example.com"))
            .bearer_auth(&ann),
    )
    .await;
    assert_eq!(s, 204);
    // Something in the other list.
    call(
        c.post(format!("{url}/lists/{other}/todos"))
            .bearer_auth(&ann)
            .json(&json!({"title": "elsewhere"})),
    )
    .await;

    let items = feed(&c, &url, &list, &ann, 6).await;
    let kinds: Vec<&str> = items.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "member.removed",
            "todo.deleted",
            "todo.completed",
            "todo.updated",
            "todo.created",
            "member.added"
        ]
    );
    let actors: Vec<&str> = items.iter().map(|i| i["actor"].as_str().unwrap()).collect();
    assert_eq!(
        actors,
        [
            "ann@example.com",
            "bob@example.com",
            "bob@example.com",
            "ann@example.com",
            "bob@example.com",
            "ann@example.com"
        ]
    );
    assert!(items[1..5].iter().all(|i| i["todo"] == id.as_str()));
    assert_eq!(items[0]["member"], "bob@example.com");
    assert!(
        items
            .windows(2)
            .all(|w| w[0]["at"].as_str() >= w[1]["at"].as_str())
    );
    // Only this list's: nothing of the other.
    assert!(
        items
            .iter()
            .all(|i| i["todo"] != Value::Null || i["member"] != Value::Null)
    );
    let other_items = feed(&c, &url, &other, &ann, 1).await;
    assert_eq!(other_items.len(), 1);
    assert_eq!(other_items[0]["type"], "todo.created");

    // Bob was removed: the feed is no longer his to read; Eve never could.
    for t in [&bob, &eve] {
        let (s, body) = call(c.get(format!("{url}/lists/{list}/activity")).bearer_auth(t)).await;
        assert_eq!(s, 404, "{body}");
    }

    // Events pending when the server stops are delivered on the way out.
    call(
        c.post(format!("{url}/lists/{other}/todos"))
            .bearer_auth(&ann)
            .json(&json!({"title": "last"})),
    )
    .await;
    server.stop().await;
    let server = todo::Server::start(todo::Config::local(dir.path()), "127.0.0.1:0")
        .await
        .unwrap();
    let url = server.url();
    let ann = token(&c, &url, "ann@example.com").await;
    let (s, body) = call(
        c.get(format!("{url}/lists/{other}/activity"))
            .bearer_auth(&ann),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 2, "{body}");
    server.stop().await;
}
