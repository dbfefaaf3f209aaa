//! The todo service's HTTP contract (`../shared/todo-api.md`), black-box over real HTTP: a
//! service on `127.0.0.1` with its own data directory and development issuer, called with
//! reqwest. Every case runs on each target (`common::Target`): `embedded::*`, a `todo::Server`
//! in this process on the embedded store, and `dynamodb::*`, the `todo` binary as a subprocess
//! with `TODO_STORE=dynamodb` on moto, a table of its own (skipped without
//! `SAAS_TEST_MOTO_ENDPOINT`, a failure if `SAAS_REQUIRE_MOTO` is set without it). This file: the
//! public endpoints, `/me`, and the request rules that every body endpoint shares; the rest is
//! in `contract/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "contract/auth.rs"]
mod auth;
mod common;
#[path = "contract/isolation.rs"]
mod isolation;
#[path = "contract/lists.rs"]
mod lists;
#[path = "contract/restart.rs"]
mod restart;
#[path = "contract/todos.rs"]
mod todos;

use common::*;
use reqwest::{Method, StatusCode};
use saas_core::dev_issuer::DevIssuer;
use serde_json::{Value, json};

async fn health_answers_anyone(t: Target) {
    let svc = t.start().await;
    for api in [svc.anonymous(), svc.with_token("garbage")] {
        let body = api.get("/health").await.expect(StatusCode::OK);
        assert_eq!(body, json!({"status": "ok"}));
    }
}

async fn unknown_routes_are_not_found_errors(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    for path in ["/nope", "/lists/x/nope", "/dev", "/.well-known/other"] {
        ann.get(path).await.not_found();
        svc.anonymous().get(path).await.not_found();
    }
}

async fn dev_token_mints_a_verified_token_for_the_email(t: Target) {
    let svc = t.start().await;
    let r = svc
        .anonymous()
        .post("/dev/token", &json!({"email": "Ann@Example.COM"}))
        .await;
    let body = r.expect(StatusCode::OK);
    assert_keys(&body, &["id_token"]);
    let token = body["id_token"].as_str().unwrap();
    let claims = claims(token);
    assert_eq!(claims["iss"], svc.url);
    assert_eq!(claims["email"], "ann@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(
        claims["sub"],
        DevIssuer::subject("ann@example.com").unwrap().as_str()
    );
    assert_eq!(jwt_header(token)["alg"], "RS256");

    // It signs in, and the sub is derived from the email.
    let me = svc
        .with_token(token)
        .get("/me")
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        me,
        json!({"sub": claims["sub"], "email": "ann@example.com"})
    );
    let again = claims_of(&svc.token("ann@example.com").await);
    assert_eq!(again["sub"], claims["sub"]);
    let bob = claims_of(&svc.token("bob@example.com").await);
    assert_ne!(bob["sub"], claims["sub"]);
}

fn claims_of(token: &str) -> Value {
    claims(token)
}

async fn dev_token_refuses_bad_requests(t: Target) {
    let svc = t.start().await;
    let api = svc.anonymous();
    for body in [
        json!({}),
        json!({"email": 5}),
        json!({"email": null}),
        json!({"email": "ann@example.com", "admin": true}),
        json!({"email": "not an email"}),
        json!({"email": ""}),
        json!(["ann@example.com"]),
    ] {
        let message = api.post("/dev/token", &body).await.bad_request();
        assert!(!message.contains("ann@example.com"), "echoes input");
    }
    for text in ["{", "", "{\"email\":\"a@b\"", "null"] {
        api.raw(Method::POST, "/dev/token", Some("application/json"), text)
            .await
            .bad_request();
    }
    api.raw(
        Method::POST,
        "/dev/token",
        Some("text/plain"),
        r#"{"email":"a@b.c"}"#,
    )
    .await
    .error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    api.raw(Method::POST, "/dev/token", None, r#"{"email":"a@b.c"}"#)
        .await
        .error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let big = format!(r#"{{"email":"{}@b.c"}}"#, "a".repeat(70_000));
    api.raw(Method::POST, "/dev/token", Some("application/json"), big)
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}

async fn jwks_publishes_the_public_key_only(t: Target) {
    let svc = t.start().await;
    let r = svc.anonymous().get("/.well-known/jwks.json").await;
    let jwks = r.expect(StatusCode::OK);
    assert_keys(&jwks, &["keys"]);
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kty"], "RSA");
    assert!(key["n"].as_str().is_some_and(|n| n.len() > 300));
    assert!(key["e"].is_string());
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(key.get(private).is_none(), "the JWKS leaks {private}");
    }
    // The key that signs the tokens.
    let token = svc.token("ann@example.com").await;
    assert_eq!(jwt_header(&token)["kid"], key["kid"]);
    // Another data directory, another key.
    let other = t.start().await;
    let other_jwks = other
        .anonymous()
        .get("/.well-known/jwks.json")
        .await
        .expect(StatusCode::OK);
    assert_ne!(other_jwks["keys"][0]["kid"], key["kid"]);
}

async fn me_is_the_verified_caller(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let me = ann.get("/me").await.expect(StatusCode::OK);
    assert_keys(&me, &["sub", "email"]);
    assert_eq!(me["email"], "ann@example.com");
    assert_eq!(
        me["sub"],
        claims(ann.token.as_deref().unwrap())["sub"],
        "the token's sub"
    );
    let bob = svc.user("bob@example.com").await;
    let bob_me = bob.get("/me").await.expect(StatusCode::OK);
    assert_eq!(bob_me["email"], "bob@example.com");
    assert_ne!(bob_me["sub"], me["sub"]);
    svc.anonymous().get("/me").await.unauthenticated();
}

/// The body endpoints and, for each, a valid body and its bodies that are JSON but wrong.
struct BodyCase {
    method: Method,
    path: String,
    valid: Value,
    wrong: Vec<Value>,
}

fn body_endpoints(list: &str, todo: &str) -> Vec<BodyCase> {
    vec![
        BodyCase {
            method: Method::POST,
            path: "/lists".into(),
            valid: json!({"name": "n"}),
            wrong: vec![
                json!({}),
                json!({"name": 5}),
                json!({"name": null}),
                json!({"name": ["n"]}),
                json!({"name": "n", "owner": "bob@example.com"}),
                json!({"title": "n"}),
                json!("n"),
                json!(null),
                json!(["n"]),
            ],
        },
        BodyCase {
            method: Method::PATCH,
            path: format!("/lists/{list}"),
            valid: json!({"name": "n"}),
            wrong: vec![
                json!({}),
                json!({"name": true}),
                json!({"name": "n", "id": "x"}),
                json!([]),
                json!(["n"]),
            ],
        },
        BodyCase {
            method: Method::POST,
            path: format!("/lists/{list}/todos"),
            valid: json!({"title": "t"}),
            wrong: vec![
                json!({}),
                json!({"title": 1}),
                json!({"title": "t", "done": true}),
                json!({"title": "t", "created_by": "x@y.z"}),
                json!({"name": "t"}),
                json!(["t"]),
            ],
        },
        BodyCase {
            method: Method::PATCH,
            path: format!("/lists/{list}/todos/{todo}"),
            valid: json!({"done": true}),
            wrong: vec![
                json!({"done": "yes"}),
                json!({"done": 1}),
                json!({"title": 5}),
                json!({"title": "t", "version": 9}),
                json!({"id": "x"}),
                json!(true),
                json!(["t", true]),
                json!([null, true]),
            ],
        },
        BodyCase {
            method: Method::PUT,
            path: format!("/lists/{list}/members/bob@example.com"),
            valid: json!({"role": "viewer"}),
            wrong: vec![
                json!({}),
                json!({"role": "owner"}),
                json!({"role": "admin"}),
                json!({"role": "Editor"}),
                json!({"role": ""}),
                json!({"role": 1}),
                json!({"role": "editor", "email": "bob@example.com"}),
                json!(["viewer"]),
            ],
        },
    ]
}

async fn bodies_must_be_json_of_the_right_shape_and_size(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let list = ann.new_list("keep").await;
    let todo = id(&ann.create_todo(&list, "keep").await);

    for case in body_endpoints(&list, &todo) {
        let (m, p) = (case.method.clone(), case.path.as_str());
        let valid = case.valid.to_string();
        for wrong in &case.wrong {
            let message = ann
                .raw(m.clone(), p, Some("application/json"), wrong.to_string())
                .await
                .bad_request();
            assert!(!message.contains("bob@example.com") && !message.contains("x@y.z"));
        }
        for malformed in ["{", "", "{\"name\":", "{'name':'n'}", "nul", "\u{0}"] {
            ann.raw(m.clone(), p, Some("application/json"), malformed)
                .await
                .bad_request();
        }
        for ct in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("application/jsonx"),
            Some("text/json"),
            None,
        ] {
            ann.raw(m.clone(), p, ct, valid.clone())
                .await
                .error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        }
        // Over 64 KiB, even if valid JSON.
        let big = json_of_len(&case.valid, 64 * 1024 + 1);
        ann.raw(m.clone(), p, Some("application/json"), big)
            .await
            .error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
        let huge = json_of_len(&case.valid, 1024 * 1024);
        ann.raw(m.clone(), p, Some("application/json"), huge)
            .await
            .error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    }

    // Nothing was changed by a refused body.
    let l = ann
        .get(&format!("/lists/{list}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(l["name"], "keep");
    let (todos, _) = ann.all_todos(&list, 100).await;
    assert_eq!(todos.len(), 1);
    assert_eq!(
        (todos[0]["title"].clone(), todos[0]["version"].clone()),
        (json!("keep"), json!(1))
    );
    assert_eq!(ann.my_lists().await.len(), 1);
    let members = ann
        .get(&format!("/lists/{list}/members"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(items(&members).len(), 1);

    // The parameters of application/json are fine.
    for ct in ["application/json; charset=utf-8", "Application/JSON"] {
        ann.raw(Method::POST, "/lists", Some(ct), r#"{"name":"ok"}"#)
            .await
            .expect(StatusCode::CREATED);
    }
}

async fn a_body_of_exactly_64_kib_is_taken(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let list = ann.new_list("keep").await;
    let todo = id(&ann.create_todo(&list, "keep").await);
    for case in body_endpoints(&list, &todo) {
        let body = json_of_len(&case.valid, 64 * 1024);
        assert_eq!(body.len(), 65_536);
        let r = ann
            .raw(
                case.method.clone(),
                &case.path,
                Some("application/json"),
                body,
            )
            .await;
        assert!(
            r.status.is_success(),
            "{}: {} {}",
            case.path,
            r.status,
            r.text
        );
    }
    assert_eq!(
        ann.get(&format!("/lists/{list}"))
            .await
            .expect(StatusCode::OK)["name"],
        "n"
    );
}

/// `valid` padded with whitespace to exactly `len` bytes: still valid JSON, still `valid`.
fn json_of_len(valid: &Value, len: usize) -> String {
    let text = valid.to_string();
    assert!(text.len() <= len);
    // Whitespace after the value is valid JSON; a padded string value would make it too long.
    let (head, tail) = text.split_at(text.len() - 1);
    assert_eq!(tail, "}");
    format!("{head}{}{tail}", " ".repeat(len - text.len()))
}

async fn error_messages_never_echo_the_request(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let secret = "S3CR3T-marker";
    let list = ann.new_list("x").await;
    let messages = [
        ann.post("/lists", &json!({ "name": secret.repeat(20) }))
            .await
            .bad_request(),
        ann.post("/lists", &json!({ secret: "x" }))
            .await
            .bad_request(),
        ann.raw(
            Method::POST,
            "/lists",
            Some("application/json"),
            format!("{{\"{secret}"),
        )
        .await
        .bad_request(),
        ann.get(&format!("/lists/{list}/todos?limit={secret}"))
            .await
            .bad_request(),
        ann.get(&format!("/lists/{list}/todos?cursor={secret}"))
            .await
            .bad_request(),
        ann.get(&format!("/lists/{list}/todos/{secret}"))
            .await
            .error(StatusCode::NOT_FOUND, "not_found"),
        ann.get(&format!("/lists/{secret}"))
            .await
            .error(StatusCode::NOT_FOUND, "not_found"),
        svc.with_token(secret)
            .get("/me")
            .await
            .error(StatusCode::UNAUTHORIZED, "unauthenticated"),
    ];
    for m in messages {
        assert!(!m.contains(secret), "{m}");
    }
}

on_every_target!(
    health_answers_anyone,
    unknown_routes_are_not_found_errors,
    dev_token_mints_a_verified_token_for_the_email,
    dev_token_refuses_bad_requests,
    jwks_publishes_the_public_key_only,
    me_is_the_verified_caller,
    bodies_must_be_json_of_the_right_shape_and_size,
    a_body_of_exactly_64_kib_is_taken,
    error_messages_never_echo_the_request,
);
