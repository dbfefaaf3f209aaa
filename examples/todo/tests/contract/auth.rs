//! Authentication: every protected endpoint refuses a missing or failing token (401 with
//! `WWW-Authenticate: Bearer`); with an issuer configured there is no development sign-in, and an
//! unreachable JWKS is a 503.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime};

use reqwest::{Method, StatusCode};
use saas_core::dev_issuer::DevIssuer;
use serde_json::{Value, json};
use todo::IdentityConfig;

use crate::common::*;
/// Every protected endpoint, with real ids, and a body where one is needed.
fn protected_endpoints(list: &str, todo: &str) -> Vec<(Method, String, Option<Value>)> {
    let l = format!("/lists/{list}");
    let t = format!("{l}/todos/{todo}");
    vec![
        (Method::GET, "/me".into(), None),
        (Method::GET, "/lists".into(), None),
        (Method::POST, "/lists".into(), Some(json!({"name": "n"}))),
        (Method::GET, l.clone(), None),
        (Method::PATCH, l.clone(), Some(json!({"name": "n"}))),
        (Method::DELETE, l.clone(), None),
        (Method::GET, format!("{l}/todos"), None),
        (
            Method::POST,
            format!("{l}/todos"),
            Some(json!({"title": "t"})),
        ),
        (Method::GET, t.clone(), None),
        (Method::PATCH, t.clone(), Some(json!({"done": true}))),
        (Method::DELETE, t, None),
        (Method::GET, format!("{l}/members"), None),
        (
            Method::PUT,
            format!("{l}/members/bob@example.com"),
            Some(json!({"role": "editor"})),
        ),
        (Method::DELETE, format!("{l}/members/bob@example.com"), None),
    ]
}

async fn call(api: &Api, method: &Method, path: &str, body: &Option<Value>) -> Resp {
    let mut r = api.req(method.clone(), path);
    if let Some(b) = body {
        r = r.json(b);
    }
    send(r).await
}

async fn every_protected_endpoint_needs_a_valid_token(t: Target) {
    let svc = t.start().await;
    let ann = svc.user("ann@example.com").await;
    let list = ann.new_list("groceries").await;
    let todo = id(&ann.create_todo(&list, "milk").await);
    ann.share(&list, "bob@example.com", "viewer").await;

    // Tokens that fail verification, each for a different reason.
    let issued = DevIssuer::open(svc.dir.path(), svc.url.clone()).unwrap();
    let expired = issued
        .token("ann@example.com")
        .issued_at(SystemTime::now() - Duration::from_secs(7200))
        .sign()
        .unwrap();
    let other = t.start().await; // another data directory: another dev issuer
    let other_server_token = other.token("ann@example.com").await;
    let other_key_same_iss = DevIssuer::open(other.dir.path(), svc.url.clone())
        .unwrap()
        .mint("ann@example.com")
        .unwrap();
    let wrong_iss = DevIssuer::open(svc.dir.path(), "http://127.0.0.1:1")
        .unwrap()
        .mint("ann@example.com")
        .unwrap();
    let wrong_aud = DevIssuer::builder(svc.dir.path(), svc.url.clone())
        .audience("someone-else")
        .open()
        .unwrap()
        .mint("ann@example.com")
        .unwrap();
    let good = ann.token.clone().unwrap();
    let (head, rest) = good.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let mut forged_claims = claims(&good);
    forged_claims["email"] = json!("mallory@example.com");
    let forged = format!(
        "{head}.{}.{signature}",
        base64_url(&forged_claims.to_string())
    );
    let unsigned = format!("{head}.{payload}.");
    let alg_none = format!("{}.{payload}.", base64_url(r#"{"alg":"none","typ":"JWT"}"#));
    let bad_tokens = [
        "garbage".to_owned(),
        "a.b.c".to_owned(),
        expired,
        other_server_token.clone(),
        other_key_same_iss,
        wrong_iss,
        wrong_aud,
        forged,
        unsigned,
        alg_none,
    ];

    for (method, path, body) in protected_endpoints(&list, &todo) {
        call(&svc.anonymous(), &method, &path, &body)
            .await
            .unauthenticated();
        for token in &bad_tokens {
            call(&svc.with_token(token), &method, &path, &body)
                .await
                .unauthenticated();
        }
        // Not a bearer token.
        let mut r = svc
            .anonymous()
            .req(method.clone(), &path)
            .header("authorization", format!("Basic {good}"));
        if let Some(b) = &body {
            r = r.json(b);
        }
        send(r).await.unauthenticated();
    }

    // Nothing changed, and the tokens that failed here are good where they come from.
    let l = ann
        .get(&format!("/lists/{list}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(l["name"], "groceries");
    let t = ann
        .get(&format!("/lists/{list}/todos/{todo}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        (t["done"].clone(), t["version"].clone()),
        (json!(false), json!(1))
    );
    assert_eq!(ann.my_lists().await.len(), 1);
    other
        .with_token(&other_server_token)
        .get("/me")
        .await
        .expect(StatusCode::OK);
}

fn base64_url(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

/// A service on `t` that trusts `issuer` (its JWKS at `jwks_url`) instead of being its own
/// issuer.
async fn trusting(t: Target, issuer: &str, jwks_url: &str) -> Svc {
    t.start_with(IdentityConfig::Issuer {
        issuer: issuer.to_owned(),
        jwks_url: jwks_url.to_owned(),
        audiences: vec![saas_core::dev_issuer::DEFAULT_AUDIENCE.to_owned()],
    })
    .await
}

async fn with_an_issuer_configured_there_is_no_dev_sign_in(t: Target) {
    // The issuer: a development service, whose tokens and JWKS are real.
    let idp = t.start().await;
    let server = trusting(t, &idp.url, &format!("{}/.well-known/jwks.json", idp.url)).await;
    let svc = server.anonymous();
    svc.post("/dev/token", &json!({"email": "ann@example.com"}))
        .await
        .not_found();
    svc.get("/.well-known/jwks.json").await.not_found();
    assert_eq!(
        svc.get("/health").await.expect(StatusCode::OK),
        json!({"status": "ok"})
    );
    // The issuer's tokens work; its own kind of token from anyone else does not.
    let ann = Api {
        token: Some(idp.token("ann@example.com").await),
        email: "ann@example.com".into(),
        ..svc.clone()
    };
    assert_eq!(
        ann.get("/me").await.expect(StatusCode::OK)["email"],
        "ann@example.com"
    );
    let list = ann.new_list("on a real issuer").await;
    ann.create_todo(&list, "t").await;
    let other = t.start().await;
    let stranger = Api {
        token: Some(other.token("ann@example.com").await),
        ..svc.clone()
    };
    stranger.get("/me").await.unauthenticated();
    stranger
        .get(&format!("/lists/{list}"))
        .await
        .unauthenticated();
}

async fn an_unreachable_jwks_is_unavailable_with_retry_after(t: Target) {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let iss = format!("http://{closed}");
    let server = trusting(t, &iss, &format!("{iss}/.well-known/jwks.json")).await;
    let key_dir = tempfile::tempdir().unwrap();
    let token = DevIssuer::open(key_dir.path(), iss.clone())
        .unwrap()
        .mint("ann@example.com")
        .unwrap();
    let api = server.with_token(&token);
    for path in ["/me", "/lists", "/lists/l00000000000000000000/todos"] {
        let r = api.get(path).await;
        r.error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
        assert!(
            r.headers.get("retry-after").is_some(),
            "503 without Retry-After"
        );
    }
}

on_every_target!(
    every_protected_endpoint_needs_a_valid_token,
    with_an_issuer_configured_there_is_no_dev_sign_in,
    an_unreachable_jwks_is_unavailable_with_retry_after,
);
