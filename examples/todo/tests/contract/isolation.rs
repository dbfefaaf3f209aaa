//! No request of one list's members can read, change or learn the existence of another list's
//! data: two owners with shared and unshared lists, every endpoint tried with ids that exist
//! elsewhere, revocation and role changes on the next request, unverified emails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

/// ann owns `a` (shared with carol, editor) and `a2` (unshared); bob owns `b` (shared with
/// carol, viewer). Each list has two todos.
struct World {
    svc: Svc,
    ann: Api,
    bob: Api,
    carol: Api,
    a: String,
    a2: String,
    b: String,
    /// The todos of each list, by list id.
    todos: Vec<(String, Vec<Value>)>,
}

impl World {
    async fn new(t: Target) -> World {
        let svc = t.start().await;
        let ann = svc.user("ann@example.com").await;
        let bob = svc.user("bob@example.com").await;
        let carol = svc.user("carol@example.com").await;
        let a = ann.new_list("ann's shared").await;
        let a2 = ann.new_list("ann's private").await;
        let b = bob.new_list("bob's").await;
        ann.share(&a, "carol@example.com", "editor").await;
        bob.share(&b, "carol@example.com", "viewer").await;
        let mut todos = Vec::new();
        for (owner, list) in [(&ann, &a), (&ann, &a2), (&bob, &b)] {
            let mut ts = Vec::new();
            for i in 0..2 {
                ts.push(owner.create_todo(list, &format!("{list} {i}")).await);
            }
            todos.push((list.clone(), ts));
        }
        World {
            svc,
            ann,
            bob,
            carol,
            a,
            a2,
            b,
            todos,
        }
    }

    fn todos_of(&self, list: &str) -> &[Value] {
        &self.todos.iter().find(|(l, _)| l == list).unwrap().1
    }

    fn todo_id(&self, list: &str) -> String {
        id(&self.todos_of(list)[0])
    }

    /// Every list is exactly as it was made: name, todos (versions included), members.
    async fn assert_untouched(&self) {
        let owners = [
            (&self.ann, &self.a),
            (&self.ann, &self.a2),
            (&self.bob, &self.b),
        ];
        let names = ["ann's shared", "ann's private", "bob's"];
        for ((owner, list), name) in owners.into_iter().zip(names) {
            let l = owner
                .get(&format!("/lists/{list}"))
                .await
                .expect(StatusCode::OK);
            assert_eq!(l["name"], name);
            let (todos, _) = owner.all_todos(list, 50).await;
            assert_eq!(todos, self.todos_of(list), "the todos of {name}");
        }
        let members = |list: &str| format!("/lists/{list}/members");
        let m = |v: Value| {
            items(&v)
                .iter()
                .map(|m| format!("{}={}", m["email"].as_str().unwrap(), m["role"]))
                .collect::<BTreeSet<_>>()
        };
        let expect = |pairs: &[&str]| pairs.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(
            m(self.ann.get(&members(&self.a)).await.expect(StatusCode::OK)),
            expect(&["ann@example.com=\"owner\"", "carol@example.com=\"editor\""])
        );
        assert_eq!(
            m(self
                .ann
                .get(&members(&self.a2))
                .await
                .expect(StatusCode::OK)),
            expect(&["ann@example.com=\"owner\""])
        );
        assert_eq!(
            m(self.bob.get(&members(&self.b)).await.expect(StatusCode::OK)),
            expect(&["bob@example.com=\"owner\"", "carol@example.com=\"viewer\""])
        );
    }
}

/// Every list endpoint of `list`, with `todo` as the todo id and `email` as the member.
fn list_endpoints(list: &str, todo: &str, email: &str) -> Vec<(Method, String, Option<Value>)> {
    let l = format!("/lists/{list}");
    let t = format!("{l}/todos/{todo}");
    vec![
        (Method::GET, l.clone(), None),
        (Method::PATCH, l.clone(), Some(json!({"name": "taken"}))),
        (Method::DELETE, l.clone(), None),
        (Method::GET, format!("{l}/todos"), None),
        (Method::GET, format!("{l}/todos?limit=1"), None),
        (
            Method::POST,
            format!("{l}/todos"),
            Some(json!({"title": "planted"})),
        ),
        (Method::GET, t.clone(), None),
        (Method::PATCH, t.clone(), Some(json!({"title": "taken"}))),
        (Method::DELETE, t, None),
        (Method::GET, format!("{l}/members"), None),
        (
            Method::PUT,
            format!("{l}/members/{email}"),
            Some(json!({"role": "editor"})),
        ),
        (Method::DELETE, format!("{l}/members/{email}"), None),
    ]
}

async fn call(api: &Api, method: &Method, path: &str, body: &Option<Value>) -> Resp {
    let mut r = api.req(method.clone(), path);
    if let Some(b) = body {
        r = r.json(b);
    }
    send(r).await
}

async fn a_non_member_learns_nothing_about_a_list(t: Target) {
    let w = World::new(t).await;
    let mut answers = BTreeSet::new();
    let missing_list = "l00000000000000000000".to_owned();
    // bob and carol against ann's private list, with its own todo id, another list's todo id,
    // and their own email; the same for lists that do not exist.
    for api in [&w.bob, &w.carol] {
        for list in [&w.a2, &missing_list, &"nope".to_owned(), &"x".repeat(300)] {
            for todo in [w.todo_id(&w.a2), w.todo_id(&w.b), "t0".into()] {
                for email in [api.email.as_str(), "ann@example.com"] {
                    for (method, path, body) in list_endpoints(list, &todo, email) {
                        let r = call(api, &method, &path, &body).await;
                        r.not_found();
                        answers.insert((r.text, r.headers.get("content-type").cloned()));
                    }
                }
            }
        }
    }
    assert_eq!(answers.len(), 1, "a member of nothing tells: {answers:?}");
    // Nor do their own list indexes show it.
    for api in [&w.bob, &w.carol] {
        assert!(!api.my_lists().await.iter().any(|(l, _)| *l == w.a2));
    }
    w.assert_untouched().await;
}

async fn todo_ids_of_another_list_are_unknown_here(t: Target) {
    let w = World::new(t).await;
    // (caller, the list path they are a member of, a todo id from a list that is not it)
    let cases = [
        (&w.ann, &w.a2, w.todo_id(&w.a)), // the owner of both
        (&w.ann, &w.a, w.todo_id(&w.a2)),
        (&w.ann, &w.a, w.todo_id(&w.b)),
        (&w.bob, &w.b, w.todo_id(&w.a)),
        (&w.bob, &w.b, w.todo_id(&w.a2)),
        (&w.carol, &w.a, w.todo_id(&w.b)), // editor here, viewer there
        (&w.carol, &w.a, w.todo_id(&w.a2)),
    ];
    let mut answers = BTreeSet::new();
    for (api, list, foreign) in cases {
        let t = format!("/lists/{list}/todos/{foreign}");
        for r in [
            api.get(&t).await,
            api.patch(&t, &json!({"title": "taken", "done": true}))
                .await,
            send(
                api.req(Method::PATCH, &t)
                    .header("if-match", "1")
                    .json(&json!({"done": true})),
            )
            .await,
            api.delete(&t).await,
        ] {
            r.not_found();
            answers.insert(r.text);
        }
        // Indistinguishable from a todo that does not exist anywhere.
        let r = api.get(&format!("/lists/{list}/todos/{foreign}0")).await;
        r.not_found();
        answers.insert(r.text);
        // And the list's pages hold only its own todos.
        let (own, _) = api.all_todos(list, 50).await;
        assert!(own.iter().all(|t| id(t) != foreign));
    }
    assert_eq!(answers.len(), 1, "{answers:?}");
    // carol is a viewer of b: even a todo of b under b's path is not hers to change.
    let t = format!("/lists/{}/todos/{}", w.b, w.todo_id(&w.b));
    w.carol.patch(&t, &json!({"done": true})).await.forbidden();
    w.assert_untouched().await;
}

async fn members_and_cursors_of_another_list_do_not_carry_over(t: Target) {
    let w = World::new(t).await;
    // carol is a member of a, not of a2: removing her there is a 404 and keeps her in a.
    w.ann
        .delete(&format!("/lists/{}/members/carol@example.com", w.a2))
        .await
        .not_found();
    // bob's share of b with carol does not reach ann's lists.
    w.carol
        .post(&format!("/lists/{}/todos", w.b), &json!({"title": "no"}))
        .await
        .forbidden();
    // A cursor of a, used on a2 by their owner, and on b by bob and carol.
    let cursor = w
        .ann
        .get(&format!("/lists/{}/todos?limit=1", w.a))
        .await
        .expect(StatusCode::OK)["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    for (api, list) in [(&w.ann, &w.a2), (&w.bob, &w.b), (&w.carol, &w.b)] {
        api.get(&format!("/lists/{list}/todos?cursor={}", enc(&cursor)))
            .await
            .bad_request();
    }
    // And bob, who is not a member of a, cannot use it there either.
    w.bob
        .get(&format!("/lists/{}/todos?cursor={}", w.a, enc(&cursor)))
        .await
        .not_found();
    w.assert_untouched().await;
}

async fn get_lists_shows_exactly_the_callers_lists(t: Target) {
    let w = World::new(t).await;
    let set = |pairs: &[(&String, &str)]| {
        pairs
            .iter()
            .map(|(l, r)| ((*l).clone(), (*r).to_owned()))
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        w.ann.my_lists().await,
        set(&[(&w.a, "owner"), (&w.a2, "owner")])
    );
    assert_eq!(w.bob.my_lists().await, set(&[(&w.b, "owner")]));
    assert_eq!(
        w.carol.my_lists().await,
        set(&[(&w.a, "editor"), (&w.b, "viewer")])
    );
    // The same user with another spelling of the email.
    let ann_caps = w.svc.user("ANN@Example.com").await;
    assert_eq!(ann_caps.my_lists().await, w.ann.my_lists().await);
    ann_caps
        .get(&format!("/lists/{}", w.a2))
        .await
        .expect(StatusCode::OK);
}

async fn removing_a_member_or_changing_a_role_takes_effect_on_the_next_request(t: Target) {
    let w = World::new(t).await;
    let b = &w.b;
    let todos = format!("/lists/{b}/todos");
    // carol, a viewer of b: reads, may not write.
    w.carol.get(&todos).await.expect(StatusCode::OK);
    w.carol
        .post(&todos, &json!({"title": "x"}))
        .await
        .forbidden();
    // viewer -> editor: her very next request may write.
    w.bob.share(b, "carol@example.com", "editor").await;
    let made = w.carol.create_todo(b, "by carol").await;
    assert_eq!(made["created_by"], "carol@example.com");
    assert!(
        w.carol
            .my_lists()
            .await
            .contains(&(b.clone(), "editor".into()))
    );
    // editor -> viewer: her next write is refused.
    w.bob.share(b, "carol@example.com", "viewer").await;
    w.carol
        .patch(&format!("{todos}/{}", id(&made)), &json!({"done": true}))
        .await
        .forbidden();
    assert_eq!(
        w.carol
            .get(&format!("/lists/{b}"))
            .await
            .expect(StatusCode::OK)["role"],
        "viewer"
    );
    // Removed: her next request is a 404, as for someone who never was a member, with the same
    // token she used a moment ago.
    w.bob
        .delete(&format!("/lists/{b}/members/carol@example.com"))
        .await
        .no_content();
    for (method, path, body) in list_endpoints(b, &id(&made), "carol@example.com") {
        call(&w.carol, &method, &path, &body).await.not_found();
    }
    assert!(!w.carol.my_lists().await.iter().any(|(l, _)| l == b));
    // Her other list is still hers.
    w.carol.create_todo(&w.a, "still an editor of a").await;
    // Shared again: back.
    w.bob.share(b, "carol@example.com", "viewer").await;
    w.carol.get(&todos).await.expect(StatusCode::OK);
    // Nothing she tried while removed happened.
    let (now, _) = w.bob.all_todos(b, 50).await;
    let mut want = w.todos_of(b).to_vec();
    want.push(made);
    assert_eq!(now, want);
}

async fn an_unverified_email_matches_no_membership(t: Target) {
    let w = World::new(t).await;
    let verified = sign_as(&w.svc, &dev_claims(&w.svc, "carol@example.com"));
    let mut claims = dev_claims(&w.svc, "carol@example.com");
    claims["email_verified"] = json!(false);
    let unverified = sign_as(&w.svc, &claims);
    let mut claims = dev_claims(&w.svc, "carol@example.com");
    claims.as_object_mut().unwrap().remove("email_verified");
    let unstated = sign_as(&w.svc, &claims);
    let mut claims = dev_claims(&w.svc, "ann@example.com");
    claims["email_verified"] = json!("false");
    let owner_string = sign_as(&w.svc, &claims);

    // The same signature, issuer and claims work when the email is verified.
    let ok = w.svc.with_token(&verified);
    ok.get(&format!("/lists/{}", w.a))
        .await
        .expect(StatusCode::OK);
    ok.get(&format!("/lists/{}/todos", w.b))
        .await
        .expect(StatusCode::OK);

    for (token, lists) in [
        (&unverified, [&w.a, &w.b]),
        (&unstated, [&w.a, &w.b]),
        (&owner_string, [&w.a, &w.a2]),
    ] {
        let api = w.svc.with_token(token);
        for list in lists {
            for (method, path, body) in list_endpoints(list, &w.todo_id(list), "bob@example.com") {
                call(&api, &method, &path, &body).await.not_found();
            }
        }
        // GET /lists shows none of them.
        let r = api.get("/lists").await;
        if r.status == StatusCode::OK {
            assert!(items(&r.json()).is_empty(), "{}", r.text);
        } else {
            r.forbidden();
        }
    }
    w.assert_untouched().await;
}

on_every_target!(
    a_non_member_learns_nothing_about_a_list,
    todo_ids_of_another_list_are_unknown_here,
    members_and_cursors_of_another_list_do_not_carry_over,
    get_lists_shows_exactly_the_callers_lists,
    removing_a_member_or_changing_a_role_takes_effect_on_the_next_request,
    an_unverified_email_matches_no_membership,
);
