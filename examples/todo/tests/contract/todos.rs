//! `/lists/{list}/todos` and `/lists/{list}/todos/{todo}`: shapes, bounds, versions and
//! `If-Match`, paging and its cursors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

async fn a_todo_is_created_read_changed_and_deleted(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let list = ann.new_list("l").await;
    let todos = format!("/lists/{list}/todos");
    assert_eq!(
        ann.get(&todos).await.expect(StatusCode::OK),
        json!({"items": [], "next_cursor": null})
    );

    let created = ann.create_todo(&list, "milk").await;
    assert_eq!(created["title"], "milk");
    assert_eq!(created["done"], false);
    assert_eq!(created["created_by"], "ann@example.com");
    assert_eq!(created["created_at"], created["updated_at"]);
    let v0 = created["version"].as_u64().unwrap();
    let t = format!("{todos}/{}", id(&created));
    assert_eq!(ann.get(&t).await.expect(StatusCode::OK), created);
    assert_eq!(
        ann.get(&todos).await.expect(StatusCode::OK),
        json!({"items": [created], "next_cursor": null})
    );

    // Each PATCH: version + 1, updated_at moves on, the rest stays.
    let mut last = created.clone();
    let changes = [
        (json!({"title": "oat milk"}), "oat milk", false),
        (json!({"done": true}), "oat milk", true),
        (
            json!({"title": "soy milk", "done": false}),
            "soy milk",
            false,
        ),
        (json!({"done": false}), "soy milk", false),
    ];
    for (n, (change, title, done)) in changes.into_iter().enumerate() {
        let patched = ann.patch(&t, &change).await.expect(StatusCode::OK);
        assert_todo(&patched);
        assert_eq!(patched["version"], v0 + n as u64 + 1, "{patched}");
        assert_eq!(patched["title"], title);
        assert_eq!(patched["done"], done);
        for same in ["id", "created_at", "created_by"] {
            assert_eq!(patched[same], created[same]);
        }
        assert!(
            rfc3339_utc(patched["updated_at"].as_str().unwrap())
                >= rfc3339_utc(last["updated_at"].as_str().unwrap())
        );
        assert_eq!(ann.get(&t).await.expect(StatusCode::OK), patched);
        last = patched;
    }

    ann.delete(&t).await.no_content();
    ann.get(&t).await.not_found();
    ann.patch(&t, &json!({"done": true})).await.not_found();
    ann.delete(&t).await.not_found();
    assert_eq!(
        ann.get(&todos).await.expect(StatusCode::OK),
        json!({"items": [], "next_cursor": null})
    );
}

async fn unknown_todos_are_not_found_all_alike(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let list = ann.new_list("l").await;
    let real = id(&ann.create_todo(&list, "real").await);
    // A deleted one, and ids that never were.
    let gone = id(&ann.create_todo(&list, "gone").await);
    ann.delete(&format!("/lists/{list}/todos/{gone}"))
        .await
        .no_content();
    let mut bodies = BTreeSet::new();
    for todo in [
        gone.clone(),
        format!("{real}0"),
        "t0000000000000000000000000000000000000".into(),
        "nope".into(),
        "x".repeat(300),
        "%2F..%2Fmeta".into(),
        "..".into(),
    ] {
        let t = format!("/lists/{list}/todos/{todo}");
        for r in [
            ann.get(&t).await,
            ann.patch(&t, &json!({"done": true})).await,
            send(
                ann.req(Method::PATCH, &t)
                    .header("if-match", "1")
                    .json(&json!({"done": true})),
            )
            .await,
            ann.delete(&t).await,
        ] {
            r.not_found();
            bodies.insert(r.text);
        }
    }
    assert_eq!(bodies.len(), 1, "one answer for all: {bodies:?}");
    let (all, _) = ann.all_todos(&list, 50).await;
    assert_eq!(all.len(), 1, "a PATCH of an unknown todo made one: {all:?}");
    assert_eq!(id(&all[0]), real);
}

async fn titles_are_1_to_500_characters(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let list = ann.new_list("l").await;
    let keep = ann.create_todo(&list, "keep").await;
    let t = format!("/lists/{list}/todos/{}", id(&keep));
    let mut version = keep["version"].as_u64().unwrap();
    for ok in [
        "a".to_owned(),
        "a".repeat(500),
        "ü".repeat(500),
        "😀".repeat(500),
        "漢字".repeat(250),
    ] {
        assert_eq!(ann.create_todo(&list, &ok).await["title"], ok.as_str());
        let patched = ann
            .patch(&t, &json!({ "title": ok }))
            .await
            .expect(StatusCode::OK);
        assert_eq!(patched["title"], ok.as_str());
        version = patched["version"].as_u64().unwrap();
    }
    let (before, _) = ann.all_todos(&list, 100).await;
    for bad in [
        String::new(),
        "a".repeat(501),
        "ü".repeat(501),
        "😀".repeat(501),
        "a".repeat(20_000),
    ] {
        ann.post(&format!("/lists/{list}/todos"), &json!({ "title": bad }))
            .await
            .bad_request();
        ann.patch(&t, &json!({ "title": bad, "done": true }))
            .await
            .bad_request();
    }
    let (after, _) = ann.all_todos(&list, 100).await;
    assert_eq!(after, before, "a refused title changed nothing");
    let now = ann.get(&t).await.expect(StatusCode::OK);
    assert_eq!(now["version"], version);
    assert_eq!(now["done"], false);
}

async fn patch_if(api: &Api, path: &str, version: &str, body: &Value) -> Resp {
    send(
        api.req(Method::PATCH, path)
            .header("if-match", version)
            .json(body),
    )
    .await
}

async fn if_match_makes_a_patch_conditional_on_the_version(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let list = ann.new_list("l").await;
    let todo = ann.create_todo(&list, "a").await;
    let t = format!("/lists/{list}/todos/{}", id(&todo));
    let v1 = todo["version"].as_u64().unwrap();

    let ok = patch_if(&ann, &t, &v1.to_string(), &json!({"title": "b"}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(ok["version"], v1 + 1);
    assert_eq!(ok["title"], "b");

    // The old version, a future one, zero: refused, nothing changes.
    for stale in [v1, v1 + 2, v1 + 100, 0] {
        patch_if(&ann, &t, &stale.to_string(), &json!({"title": "lost"}))
            .await
            .error(StatusCode::PRECONDITION_FAILED, "precondition_failed");
    }
    assert_eq!(ann.get(&t).await.expect(StatusCode::OK), ok);

    // The current one again works, and so does a PATCH without If-Match.
    let ok2 = patch_if(&ann, &t, &(v1 + 1).to_string(), &json!({"done": true}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        (ok2["version"].clone(), ok2["done"].clone()),
        (json!(v1 + 2), json!(true))
    );
    let ok3 = ann
        .patch(&t, &json!({"title": "c"}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(ok3["version"], v1 + 3);
    // Two writers with the same version: the second is refused.
    let editor = svc.user("ed@example.com").await;
    ann.share(&list, "ed@example.com", "editor").await;
    let v = (v1 + 3).to_string();
    patch_if(&ann, &t, &v, &json!({"title": "ann's"}))
        .await
        .expect(StatusCode::OK);
    patch_if(&editor, &t, &v, &json!({"title": "ed's"}))
        .await
        .error(StatusCode::PRECONDITION_FAILED, "precondition_failed");
    assert_eq!(ann.get(&t).await.expect(StatusCode::OK)["title"], "ann's");
}

async fn paging_120_todos_by_50_gives_each_once_oldest_first(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let list = ann.new_list("long").await;
    let mut created = Vec::new();
    for i in 0..120 {
        created.push(ann.create_todo(&list, &format!("todo {i}")).await);
    }
    let (all, sizes) = ann.all_todos(&list, 50).await;
    assert_eq!(sizes, [50, 50, 20]);
    assert_eq!(all, created, "each todo once, oldest first");
    let times: Vec<f64> = all
        .iter()
        .map(|t| rfc3339_utc(t["created_at"].as_str().unwrap()))
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));

    let (all100, sizes100) = ann.all_todos(&list, 100).await;
    assert_eq!(sizes100, [100, 20]);
    assert_eq!(all100, created);
    let (all7, sizes7) = ann.all_todos(&list, 7).await;
    assert_eq!(sizes7.iter().sum::<usize>(), 120);
    assert!(sizes7[..sizes7.len() - 1].iter().all(|s| *s == 7));
    assert_eq!(all7, created);

    // The default limit is 50.
    let first = ann
        .get(&format!("/lists/{list}/todos"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(items(&first).len(), 50);
    assert!(first["next_cursor"].is_string());
    assert_eq!(items(&first)[..], created[..50]);
    // A changed todo keeps its place.
    let middle = format!("/lists/{list}/todos/{}", id(&created[60]));
    ann.patch(&middle, &json!({"done": true}))
        .await
        .expect(StatusCode::OK);
    let (again, _) = ann.all_todos(&list, 50).await;
    let ids = |v: &[Value]| v.iter().map(id).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&created));
}

async fn limit_must_be_1_to_100(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let list = ann.new_list("l").await;
    ann.create_todo(&list, "a").await;
    for bad in [
        "0",
        "101",
        "abc",
        "-1",
        "1.5",
        "",
        "1e2",
        "99999999999999999999",
    ] {
        ann.get(&format!("/lists/{list}/todos?limit={bad}"))
            .await
            .bad_request();
    }
    for ok in ["1", "100", "50"] {
        let page = ann
            .get(&format!("/lists/{list}/todos?limit={ok}"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(items(&page).len(), 1);
    }
}

/// The cursor after the first todo of `list` (which has at least two).
async fn cursor_of(api: &Api, list: &str) -> String {
    let page = api
        .get(&format!("/lists/{list}/todos?limit=1"))
        .await
        .expect(StatusCode::OK);
    page["next_cursor"].as_str().expect("a cursor").to_owned()
}

async fn a_cursor_is_good_only_for_its_own_list_and_unedited(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let a = ann.new_list("a").await;
    let b = ann.new_list("b").await;
    for list in [&a, &b] {
        for i in 0..3 {
            ann.create_todo(list, &format!("{i}")).await;
        }
    }
    let cursor = cursor_of(&ann, &a).await;
    // Its own list takes it.
    let next = ann
        .get(&format!("/lists/{a}/todos?limit=1&cursor={}", enc(&cursor)))
        .await
        .expect(StatusCode::OK);
    assert_eq!(items(&next)[0]["title"], "1");

    // Another list of the same owner does not.
    ann.get(&format!("/lists/{b}/todos?cursor={}", enc(&cursor)))
        .await
        .bad_request();
    // Nor another service's (another data directory) for a list of the same shape.
    let other = t.start().await;
    let other_ann = other.user("ann@example.com").await;
    let o = other_ann.new_list("o").await;
    for i in 0..3 {
        other_ann.create_todo(&o, &format!("{i}")).await;
    }
    let foreign = cursor_of(&other_ann, &o).await;
    ann.get(&format!("/lists/{a}/todos?cursor={}", enc(&foreign)))
        .await
        .bad_request();
    // Nor the GET /lists cursor.
    let lists = ann.get("/lists?limit=1").await.expect(StatusCode::OK);
    if let Some(index_cursor) = lists["next_cursor"].as_str() {
        ann.get(&format!("/lists/{a}/todos?cursor={}", enc(index_cursor)))
            .await
            .bad_request();
    }

    // Any edit of it is refused.
    let mut edited = vec![
        format!("{cursor}A"),
        cursor[..cursor.len() - 1].to_owned(),
        cursor[1..].to_owned(),
        cursor.chars().rev().collect(),
        "garbage".to_owned(),
        "AAAA".to_owned(),
    ];
    let chars: Vec<char> = cursor.chars().collect();
    for at in [0, chars.len() / 3, chars.len() / 2, chars.len() - 2] {
        let mut c = chars.clone();
        c[at] = if c[at] == 'A' { 'B' } else { 'A' };
        edited.push(c.into_iter().collect());
    }
    for bad in edited {
        assert_ne!(bad, cursor);
        ann.get(&format!("/lists/{a}/todos?cursor={}", enc(&bad)))
            .await
            .bad_request();
    }
}

/// Pages are read again after every kind of write (the embedded store answers a page it has
/// already built while nothing changed): each read shows every write acknowledged before it, to
/// every member, and never another list's todos; a member removed after a cached read is refused.
async fn a_page_read_again_shows_every_write_acknowledged_before_it(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let bob = svc.user("bob@example.com").await;
    let list = ann.new_list("cached").await;
    let other = ann.new_list("other").await;
    ann.share(&list, "bob@example.com", "viewer").await;
    let elsewhere = ann.create_todo(&other, "elsewhere").await;
    let todos = format!("/lists/{list}/todos");
    let page = |v: Value| -> Vec<Value> { v["items"].as_array().unwrap().clone() };
    let both_see = |want: Vec<Value>| {
        let (ann, bob, todos) = (&ann, &bob, &todos);
        async move {
            for _ in 0..2 {
                for api in [ann, bob] {
                    let got = page(api.get(todos).await.expect(StatusCode::OK));
                    assert_eq!(got, want);
                }
            }
        }
    };
    both_see(vec![]).await;

    let a = ann.create_todo(&list, "a").await;
    both_see(vec![a.clone()]).await;
    let b = ann.create_todo(&list, "b").await;
    let mut want = vec![a.clone(), b.clone()];
    want.sort_by(|x, y| x["id"].as_str().cmp(&y["id"].as_str()));
    both_see(want.clone()).await;

    // A page of one, and the next by its cursor, after a write.
    let first = ann
        .get(&format!("{todos}?limit=1"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(page(first.clone()), want[..1]);
    let a_path = format!("{todos}/{}", id(&a));
    let patched = ann
        .patch(&a_path, &json!({"title": "a2"}))
        .await
        .expect(StatusCode::OK);
    let want: Vec<Value> = want
        .into_iter()
        .map(|t| {
            if t["id"] == patched["id"] {
                patched.clone()
            } else {
                t
            }
        })
        .collect();
    both_see(want.clone()).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let next = ann
        .get(&format!("{todos}?limit=1&cursor={cursor}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(page(next), want[1..]);

    ann.delete(&a_path).await.no_content();
    let want: Vec<Value> = want.into_iter().filter(|t| t["id"] != a["id"]).collect();
    both_see(want).await;

    // The other list's page holds its own todo only.
    assert_eq!(
        page(
            ann.get(&format!("/lists/{other}/todos"))
                .await
                .expect(StatusCode::OK)
        ),
        vec![elsewhere]
    );
    // Removed after reading the page: refused, though the page has not changed.
    ann.delete(&format!("/lists/{list}/members/bob@example.com"))
        .await
        .no_content();
    bob.get(&todos).await.not_found();
}

on_every_target!(
    a_todo_is_created_read_changed_and_deleted,
    a_page_read_again_shows_every_write_acknowledged_before_it,
    unknown_todos_are_not_found_all_alike,
    titles_are_1_to_500_characters,
    if_match_makes_a_patch_conditional_on_the_version,
    paging_120_todos_by_50_gives_each_once_oldest_first,
    limit_must_be_1_to_100,
    a_cursor_is_good_only_for_its_own_list_and_unedited,
);
