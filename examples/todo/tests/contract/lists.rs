//! `/lists`, `/lists/{list}` and `/lists/{list}/members`: shapes, bounds, roles, deletion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

async fn a_list_is_created_read_and_renamed_by_its_owner(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    assert_eq!(
        ann.get("/lists").await.expect(StatusCode::OK),
        json!({"items": [], "next_cursor": null})
    );

    let created = ann.create_list("groceries").await;
    assert_eq!(created["name"], "groceries");
    assert_eq!(created["role"], "owner");
    let list = id(&created);

    let got = ann
        .get(&format!("/lists/{list}"))
        .await
        .expect(StatusCode::OK);
    assert_list(&got);
    assert_eq!(got, created);

    let renamed = ann
        .patch(&format!("/lists/{list}"), &json!({"name": "food"}))
        .await
        .expect(StatusCode::OK);
    assert_list(&renamed);
    assert_eq!(
        renamed,
        json!({"id": list, "name": "food", "role": "owner", "created_at": created["created_at"]})
    );
    assert_eq!(
        ann.get(&format!("/lists/{list}"))
            .await
            .expect(StatusCode::OK),
        renamed
    );
    let index = ann.get("/lists").await.expect(StatusCode::OK);
    assert_eq!(index, json!({"items": [renamed], "next_cursor": null}));

    // Each list its own id.
    let other = ann.create_list("groceries").await;
    assert_ne!(id(&other), list);
    assert_eq!(ann.my_lists().await.len(), 2);
}

async fn list_names_are_1_to_200_characters(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let list = ann.new_list("first").await;
    let path = format!("/lists/{list}");
    for ok in [
        "a".to_owned(),
        "a".repeat(200),
        "é".repeat(200),
        "😀".repeat(200),
        "日本".repeat(100),
    ] {
        let created = ann.create_list(&ok).await;
        assert_eq!(created["name"], ok.as_str());
        let renamed = ann
            .patch(&path, &json!({ "name": ok }))
            .await
            .expect(StatusCode::OK);
        assert_eq!(renamed["name"], ok.as_str());
    }
    ann.patch(&path, &json!({"name": "kept"}))
        .await
        .expect(StatusCode::OK);
    let before = ann.my_lists().await;
    for bad in [
        String::new(),
        "a".repeat(201),
        "é".repeat(201),
        "😀".repeat(201),
        "a".repeat(10_000),
    ] {
        ann.post("/lists", &json!({ "name": bad }))
            .await
            .bad_request();
        ann.patch(&path, &json!({ "name": bad }))
            .await
            .bad_request();
    }
    assert_eq!(
        ann.my_lists().await,
        before,
        "no list made by a refused name"
    );
    let l = ann.get(&path).await.expect(StatusCode::OK);
    assert_eq!(l["name"], "kept");
}

async fn get_lists_shows_each_caller_their_lists_with_their_role(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let bob = svc.user("bob@example.com").await;
    let carol = svc.user("carol@example.com").await;
    let a1 = ann.new_list("a1").await;
    let a2 = ann.new_list("a2").await;
    let b1 = bob.new_list("b1").await;
    ann.share(&a1, "bob@example.com", "editor").await;
    ann.share(&a1, "carol@example.com", "viewer").await;
    bob.share(&b1, "carol@example.com", "editor").await;

    let set = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(l, r)| ((*l).to_owned(), (*r).to_owned()))
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(ann.my_lists().await, set(&[(&a1, "owner"), (&a2, "owner")]));
    assert_eq!(
        bob.my_lists().await,
        set(&[(&a1, "editor"), (&b1, "owner")])
    );
    assert_eq!(
        carol.my_lists().await,
        set(&[(&a1, "viewer"), (&b1, "editor")])
    );
    let dave = svc.user("dave@example.com").await;
    assert!(dave.my_lists().await.is_empty());

    // Each shared list as its members see it: the same list, their own role.
    for (api, role) in [(&ann, "owner"), (&bob, "editor"), (&carol, "viewer")] {
        let l = api
            .get(&format!("/lists/{a1}"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(
            (l["name"].clone(), l["role"].clone()),
            (json!("a1"), json!(role))
        );
    }
    // The names in GET /lists follow a rename.
    ann.patch(&format!("/lists/{a1}"), &json!({"name": "renamed"}))
        .await
        .expect(StatusCode::OK);
    let carols = carol.get("/lists").await.expect(StatusCode::OK);
    let shared = items(&carols).iter().find(|l| id(l) == a1).unwrap();
    assert_eq!(shared["name"], "renamed");
}

async fn members_are_listed_shared_changed_and_removed_by_the_owner(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let list = ann.new_list("shared").await;
    let members = format!("/lists/{list}/members");
    let listed = |v: Value| -> Vec<(String, String)> {
        let mut m: Vec<_> = items(&v)
            .iter()
            .map(|m| {
                assert_keys(m, &["email", "role"]);
                (
                    m["email"].as_str().unwrap().to_owned(),
                    m["role"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        m.sort();
        m
    };
    let body = ann.get(&members).await.expect(StatusCode::OK);
    assert_keys(&body, &["items"]);
    assert_eq!(listed(body), [("ann@example.com".into(), "owner".into())]);

    let r = ann
        .put(
            &format!("{members}/Bob@Example.com"),
            &json!({"role": "editor"}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(r, json!({"email": "bob@example.com", "role": "editor"}));
    ann.share(&list, "carol@example.com", "viewer").await;
    let want = |bob: &str| {
        vec![
            ("ann@example.com".to_owned(), "owner".to_owned()),
            ("bob@example.com".to_owned(), bob.to_owned()),
            ("carol@example.com".to_owned(), "viewer".to_owned()),
        ]
    };
    assert_eq!(
        listed(ann.get(&members).await.expect(StatusCode::OK)),
        want("editor")
    );
    // The member sees the same members, and the list with their role.
    let bob = svc.user("bob@example.com").await;
    assert_eq!(
        listed(bob.get(&members).await.expect(StatusCode::OK)),
        want("editor")
    );
    // Changing a role replaces it; putting the same role again is the same answer.
    ann.share(&list, "bob@example.com", "viewer").await;
    ann.share(&list, "bob@example.com", "viewer").await;
    assert_eq!(
        listed(ann.get(&members).await.expect(StatusCode::OK)),
        want("viewer")
    );
    let l = bob
        .get(&format!("/lists/{list}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(l["role"], "viewer");

    // Removing.
    ann.delete(&format!("{members}/BOB@example.com"))
        .await
        .no_content();
    assert_eq!(
        listed(ann.get(&members).await.expect(StatusCode::OK)),
        [
            ("ann@example.com".into(), "owner".into()),
            ("carol@example.com".into(), "viewer".into())
        ]
    );
    ann.delete(&format!("{members}/bob@example.com"))
        .await
        .not_found();
    ann.delete(&format!("{members}/never@example.com"))
        .await
        .not_found();
    ann.delete(&format!("{members}/not-an-email"))
        .await
        .not_found();
}

async fn the_owner_cannot_remove_themselves_or_change_their_own_role(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let list = ann.new_list("mine").await;
    let members = format!("/lists/{list}/members");
    for email in ["ann@example.com", "Ann@Example.com"] {
        for role in ["editor", "viewer"] {
            ann.put(&format!("{members}/{email}"), &json!({ "role": role }))
                .await
                .conflict();
        }
        ann.delete(&format!("{members}/{email}")).await.conflict();
    }
    let body = ann.get(&members).await.expect(StatusCode::OK);
    assert_eq!(
        body,
        json!({"items": [{"email": "ann@example.com", "role": "owner"}]})
    );
    let l = ann
        .get(&format!("/lists/{list}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(l["role"], "owner");
    ann.create_todo(&list, "still the owner").await;
}

async fn put_member_refuses_what_is_not_an_email(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let list = ann.new_list("mine").await;
    for email in ["not-an-email", "a%20b%40c.d", "%40example.com", "ann%40"] {
        ann.put(
            &format!("/lists/{list}/members/{email}"),
            &json!({"role": "viewer"}),
        )
        .await
        .bad_request();
    }
    let body = ann
        .get(&format!("/lists/{list}/members"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(items(&body).len(), 1);
}

async fn roles_limit_what_a_member_may_do(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let ed = svc.user("ed@example.com").await;
    let vi = svc.user("vi@example.com").await;
    let list = ann.new_list("team").await;
    ann.share(&list, "ed@example.com", "editor").await;
    ann.share(&list, "vi@example.com", "viewer").await;
    let todo = ann.create_todo(&list, "by ann").await;
    let t = format!("/lists/{list}/todos/{}", id(&todo));
    let l = format!("/lists/{list}");

    // Owner-only actions, refused to the editor and the viewer.
    for api in [&ed, &vi] {
        api.patch(&l, &json!({"name": "mine now"}))
            .await
            .forbidden();
        api.delete(&l).await.forbidden();
        api.put(
            &format!("{l}/members/mallory@example.com"),
            &json!({"role": "editor"}),
        )
        .await
        .forbidden();
        api.put(
            &format!("{l}/members/{}", api.email),
            &json!({"role": "editor"}),
        )
        .await
        .forbidden();
        api.delete(&format!("{l}/members/ann@example.com"))
            .await
            .forbidden();
        api.delete(&format!("{l}/members/vi@example.com"))
            .await
            .forbidden();
    }
    // Todo writes, refused to the viewer.
    vi.post(&format!("{l}/todos"), &json!({"title": "no"}))
        .await
        .forbidden();
    vi.patch(&t, &json!({"done": true})).await.forbidden();
    vi.delete(&t).await.forbidden();

    // Nothing changed.
    let list_now = ann.get(&l).await.expect(StatusCode::OK);
    assert_eq!(list_now["name"], "team");
    let (todos, _) = ann.all_todos(&list, 50).await;
    assert_eq!(todos, vec![todo.clone()]);
    let members = ann
        .get(&format!("{l}/members"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(items(&members).len(), 3);

    // What each may do.
    for (api, role) in [(&ed, "editor"), (&vi, "viewer")] {
        assert_eq!(api.get(&l).await.expect(StatusCode::OK)["role"], role);
        assert_eq!(api.get(&t).await.expect(StatusCode::OK), todo);
        api.get(&format!("{l}/todos")).await.expect(StatusCode::OK);
        api.get(&format!("{l}/members"))
            .await
            .expect(StatusCode::OK);
    }
    let made = ed.create_todo(&list, "by ed").await;
    assert_eq!(made["created_by"], "ed@example.com");
    let patched = ed
        .patch(&t, &json!({"done": true}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(patched["done"], true);
    ed.delete(&t).await.no_content();
    ed.delete(&format!("{l}/todos/{}", id(&made)))
        .await
        .no_content();
}

async fn deleting_a_list_takes_its_todos_and_members_with_it(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let bob = svc.user("bob@example.com").await;
    let carol = svc.user("carol@example.com").await;
    let list = ann.new_list("doomed").await;
    let kept = ann.new_list("kept").await;
    ann.share(&list, "bob@example.com", "editor").await;
    ann.share(&list, "carol@example.com", "viewer").await;
    ann.share(&kept, "bob@example.com", "viewer").await;
    let mut todo = String::new();
    for i in 0..120 {
        todo = id(&ann.create_todo(&list, &format!("todo {i}")).await);
    }
    let kept_todo = ann.create_todo(&kept, "survives").await;

    ann.delete(&format!("/lists/{list}")).await.no_content();

    let l = format!("/lists/{list}");
    for api in [&ann, &bob, &carol] {
        api.get(&l).await.not_found();
        api.get(&format!("{l}/todos")).await.not_found();
        api.get(&format!("{l}/todos/{todo}")).await.not_found();
        api.get(&format!("{l}/members")).await.not_found();
        api.patch(&l, &json!({"name": "back"})).await.not_found();
        api.post(&format!("{l}/todos"), &json!({"title": "t"}))
            .await
            .not_found();
        api.delete(&l).await.not_found();
        assert!(
            !api.my_lists().await.iter().any(|(id, _)| *id == list),
            "{} still sees the deleted list",
            api.email
        );
    }
    ann.put(
        &format!("{l}/members/bob@example.com"),
        &json!({"role": "editor"}),
    )
    .await
    .not_found();
    // The other list is untouched.
    let set = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(ann.my_lists().await, set(&[(&kept, "owner")]));
    assert_eq!(bob.my_lists().await, set(&[(&kept, "viewer")]));
    let (todos, _) = bob.all_todos(&kept, 50).await;
    assert_eq!(todos, vec![kept_todo]);
}

async fn get_lists_pages_with_limit_and_cursor(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let bob = svc.user("bob@example.com").await;
    let mut mine = std::collections::BTreeSet::new();
    for i in 0..5 {
        mine.insert(ann.new_list(&format!("ann {i}")).await);
    }
    let bobs = bob.new_list("bob's").await;
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut path = "/lists?limit=2".to_owned();
    let mut first_cursor = None;
    loop {
        let page = ann.get(&path).await.expect(StatusCode::OK);
        assert_keys(&page, &["items", "next_cursor"]);
        sizes.push(items(&page).len());
        for l in items(&page) {
            assert_list(l);
            seen.push(id(l));
        }
        match page["next_cursor"].as_str() {
            None => break,
            Some(c) => {
                first_cursor.get_or_insert_with(|| c.to_owned());
                path = format!("/lists?limit=2&cursor={}", enc(c));
            }
        }
        assert!(sizes.len() < 10);
    }
    assert_eq!(sizes.iter().sum::<usize>(), 5, "{sizes:?}");
    assert!(sizes.iter().all(|s| *s <= 2));
    let unique: std::collections::BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), unique.len(), "a list twice");
    assert_eq!(unique, mine);

    for bad in ["0", "101", "abc"] {
        ann.get(&format!("/lists?limit={bad}")).await.bad_request();
    }
    let cursor = first_cursor.unwrap();
    ann.get(&format!("/lists?cursor={}A", enc(&cursor)))
        .await
        .bad_request();
    // ann's cursor shows bob nothing of ann's.
    let r = bob.get(&format!("/lists?cursor={}", enc(&cursor))).await;
    if r.status == StatusCode::OK {
        let page = r.json();
        assert!(items(&page).iter().all(|l| id(l) == bobs), "{page}");
    } else {
        r.bad_request();
    }
}

on_every_target!(
    a_list_is_created_read_and_renamed_by_its_owner,
    list_names_are_1_to_200_characters,
    get_lists_shows_each_caller_their_lists_with_their_role,
    members_are_listed_shared_changed_and_removed_by_the_owner,
    the_owner_cannot_remove_themselves_or_change_their_own_role,
    put_member_refuses_what_is_not_an_email,
    roles_limit_what_a_member_may_do,
    deleting_a_list_takes_its_todos_and_members_with_it,
    get_lists_pages_with_limit_and_cursor,
);
