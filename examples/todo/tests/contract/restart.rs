//! Data survives a restart on the same data directory (and table); so do the cursors and the
//! signing key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

/// Everything `api` can see: its lists, and for each its view, todos and members.
async fn snapshot(api: &Api) -> Value {
    let index = api.get("/lists").await.expect(StatusCode::OK);
    let mut lists = Vec::new();
    let mut ids: Vec<String> = items(&index).iter().map(id).collect();
    ids.sort();
    for list in ids {
        let view = api
            .get(&format!("/lists/{list}"))
            .await
            .expect(StatusCode::OK);
        let (todos, _) = api.all_todos(&list, 100).await;
        let mut members = api
            .get(&format!("/lists/{list}/members"))
            .await
            .expect(StatusCode::OK)["items"]
            .as_array()
            .unwrap()
            .clone();
        members.sort_by_key(|m| m["email"].as_str().unwrap().to_owned());
        lists.push(json!({"view": view, "todos": todos, "members": members}));
    }
    let mut index_items = items(&index).clone();
    index_items.sort_by_key(id);
    json!({"index": index_items, "lists": lists})
}

async fn a_restart_on_the_same_data_directory_keeps_everything(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let bob = svc.user("bob@example.com").await;
    let a = ann.new_list("ann's").await;
    let b = bob.new_list("bob's").await;
    ann.share(&a, "bob@example.com", "editor").await;
    bob.share(&b, "ann@example.com", "viewer").await;
    let mut last = Value::Null;
    for i in 0..5 {
        last = ann.create_todo(&a, &format!("todo {i}")).await;
    }
    bob.create_todo(&a, "bob's todo in ann's list").await;
    bob.create_todo(&b, "bob's own").await;
    let t = format!("/lists/{a}/todos/{}", id(&last));
    for change in [json!({"done": true}), json!({"title": "renamed"})] {
        ann.patch(&t, &change).await.expect(StatusCode::OK);
    }
    let gone = ann.create_todo(&a, "deleted").await;
    ann.delete(&format!("/lists/{a}/todos/{}", id(&gone)))
        .await
        .no_content();

    let before_ann = snapshot(&ann).await;
    let before_bob = snapshot(&bob).await;
    let page1 = ann
        .get(&format!("/lists/{a}/todos?limit=2"))
        .await
        .expect(StatusCode::OK);
    let cursor = page1["next_cursor"].as_str().unwrap().to_owned();
    let page2 = ann
        .get(&format!("/lists/{a}/todos?limit=2&cursor={}", enc(&cursor)))
        .await
        .expect(StatusCode::OK);
    let jwks = svc
        .anonymous()
        .get("/.well-known/jwks.json")
        .await
        .expect(StatusCode::OK);

    // Stop it, and start another on the same directory (and, on DynamoDB, the same table).
    let old_url = svc.url.clone();
    let table = svc.table.clone();
    drop((ann, bob));
    let svc = svc.restart().await;
    assert_eq!(svc.table, table);
    assert!(
        client()
            .get(format!("{old_url}/health"))
            .send()
            .await
            .is_err()
            || svc.url == old_url,
        "the old server still answers"
    );

    // The development issuer's `iss` is the server's URL: fresh tokens from the new one.
    let ann = svc.user("ann@example.com").await;
    let bob = svc.user("bob@example.com").await;
    assert_eq!(snapshot(&ann).await, before_ann);
    assert_eq!(snapshot(&bob).await, before_bob);
    assert_eq!(
        ann.get(&format!("/lists/{a}/todos?limit=2&cursor={}", enc(&cursor)))
            .await
            .expect(StatusCode::OK),
        page2,
        "a cursor from before the restart"
    );
    // The same signing key.
    assert_eq!(
        svc.anonymous()
            .get("/.well-known/jwks.json")
            .await
            .expect(StatusCode::OK),
        jwks
    );
    // Versions go on from where they were; roles still apply.
    let patched = ann
        .patch(&t, &json!({"done": false}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(patched["version"], last["version"].as_u64().unwrap() + 3);
    ann.post(&format!("/lists/{b}/todos"), &json!({"title": "no"}))
        .await
        .forbidden();
    ann.get(&format!("/lists/{}/todos/{}", a, id(&gone)))
        .await
        .not_found();
    // And a new list still gets an id of its own.
    let c = ann.new_list("after").await;
    assert!(c != a && c != b);

    // On DynamoDB, all of it was in the table: the data directory holds no store.
    if let Some(table) = &svc.table {
        assert!(!svc.dir.path().join("store.redb").exists());
        let endpoint = moto_endpoint().unwrap();
        let scan = dynamo_client(&endpoint)
            .scan()
            .table_name(table)
            .send()
            .await
            .unwrap();
        assert!(scan.count() > 10, "{} items in {table}", scan.count());
    }
}

on_every_target!(a_restart_on_the_same_data_directory_keeps_everything,);
