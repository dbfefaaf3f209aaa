//! Integration tests for the JWT verifier against a local issuer serving a real JWKS over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use saas_core::jwt::{Issuer, JwtError, JwtVerifier, TokenUse};
use saas_core::test_util::{TEST_AUDIENCE, TestIssuer};
use saas_core::{ClaimError, TenantRejection, TenantResolver};
use serde_json::{Value, json};

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Replaces one part (0 header, 1 payload, 2 signature) of a compact token.
fn replace_part(token: &str, index: usize, new: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    parts[index] = new;
    parts.join(".")
}

async fn start() -> TestIssuer {
    TestIssuer::start().await.expect("test issuer starts")
}

fn hs256_token(issuer: &TestIssuer) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("key-1".into());
    let claims = json!({
        "iss": issuer.iss(),
        "sub": "user-1",
        "aud": TEST_AUDIENCE,
        "token_use": "id",
        "iat": now(),
        "exp": now() + 3600,
        "custom:tenantId": "tenant-a",
        "custom:userRole": "TenantUser",
        "custom:tenantTier": "Basic",
    });
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&issuer.public_key_der()),
    )
    .expect("HS256 encoding")
}

fn assert_rejected(name: &str, got: Result<saas_core::Claims, JwtError>, expected: &JwtError) {
    let err = match got {
        Ok(claims) => panic!("{name}: accepted, claims {claims:?}"),
        Err(err) => err,
    };
    assert_eq!(
        err.kind(),
        expected.kind(),
        "{name}: got {err:?}, expected {expected:?}"
    );
    if !matches!(expected, JwtError::Malformed(_)) {
        assert_eq!(&err, expected, "{name}");
    }
    assert_eq!(err.status(), expected.status(), "{name}: status");
}

#[tokio::test]
async fn bad_token_table() {
    let issuer = start().await;
    let verifier = issuer.verifier_builder().build().unwrap();
    verifier.prewarm().await.unwrap();

    let valid = issuer.token().tenant("tenant-a").sign();
    verifier
        .verify(&valid)
        .await
        .expect("the untouched token verifies");
    let parts: Vec<&str> = valid.split('.').collect();

    let none_header = b64(r#"{"alg":"none","kid":"key-1","typ":"JWT"}"#);
    let alg_none_empty = format!("{none_header}.{}.", parts[1]);
    let alg_none_garbage = format!("{none_header}.{}.Z2FyYmFnZQ", parts[1]);

    let mut payload = decode_part(parts[1]);
    payload["custom:tenantId"] = json!("tenant-b");
    let tampered_payload = replace_part(&valid, 1, &b64(payload.to_string()));

    let mut header = decode_part(parts[0]);
    header["x-extra"] = json!("added");
    let tampered_header = replace_part(&valid, 0, &b64(header.to_string()));

    let not_object = replace_part(&valid, 1, &b64("[1,2,3]"));
    let huge = issuer
        .token()
        .tenant("tenant-a")
        .claim("pad", "x".repeat(100 * 1024))
        .sign();
    assert!(huge.len() > 100 * 1024);

    let rows: Vec<(&str, String, JwtError)> = vec![
        (
            "alg none, empty signature",
            alg_none_empty,
            JwtError::UnsupportedAlgorithm("none".into()),
        ),
        (
            "alg none, garbage signature",
            alg_none_garbage,
            JwtError::UnsupportedAlgorithm("none".into()),
        ),
        (
            "HS256 with the public key as secret",
            hs256_token(&issuer),
            JwtError::UnsupportedAlgorithm("HS256".into()),
        ),
        ("tampered payload", tampered_payload, JwtError::BadSignature),
        ("tampered header", tampered_header, JwtError::BadSignature),
        (
            "expired",
            issuer.token().tenant("tenant-a").expires_in(-10).sign(),
            JwtError::Expired,
        ),
        (
            "nbf in the future",
            issuer
                .token()
                .tenant("tenant-a")
                .claim("nbf", now() + 600)
                .sign(),
            JwtError::NotYetValid,
        ),
        (
            "iat in the future",
            issuer
                .token()
                .tenant("tenant-a")
                .claim("iat", now() + 600)
                .sign(),
            JwtError::NotYetValid,
        ),
        (
            "wrong issuer",
            issuer
                .token()
                .tenant("tenant-a")
                .claim("iss", "https://evil.example.com")
                .sign(),
            JwtError::WrongIssuer,
        ),
        (
            "wrong audience",
            issuer
                .token()
                .tenant("tenant-a")
                .claim("aud", "other-client")
                .sign(),
            JwtError::WrongAudience,
        ),
        (
            "unknown kid",
            issuer
                .token()
                .tenant("tenant-a")
                .header("kid", "key-404")
                .sign(),
            JwtError::UnknownKid,
        ),
        (
            "missing exp",
            issuer.token().tenant("tenant-a").without("exp").sign(),
            JwtError::MissingClaim("exp"),
        ),
        (
            "garbage base64",
            "!!!.@@@.###".into(),
            JwtError::Malformed("any"),
        ),
        (
            "payload not an object",
            not_object,
            JwtError::Malformed("any"),
        ),
        (
            "100 KB token",
            huge,
            JwtError::TooLarge { limit: 16 * 1024 },
        ),
    ];
    for (name, token, expected) in &rows {
        assert_rejected(name, verifier.verify(token).await, expected);
    }
    for (_, _, expected) in &rows {
        assert_eq!(expected.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn token_use_is_enforced() {
    let issuer = start().await;
    let id_only = JwtVerifier::builder()
        .issuer(
            Issuer::oidc(issuer.iss())
                .jwks_url(issuer.jwks_url())
                .audience(TEST_AUDIENCE)
                .token_use(TokenUse::Id),
        )
        .build()
        .unwrap();
    let access_only = JwtVerifier::builder()
        .issuer(
            Issuer::oidc(issuer.iss())
                .jwks_url(issuer.jwks_url())
                .audience(TEST_AUDIENCE)
                .token_use(TokenUse::Access),
        )
        .build()
        .unwrap();
    let access = issuer
        .token()
        .tenant("tenant-a")
        .claim("token_use", "access")
        .claim("client_id", TEST_AUDIENCE)
        .without("aud")
        .sign();
    let id = issuer.token().tenant("tenant-a").sign();

    assert_rejected(
        "access token where ID required",
        id_only.verify(&access).await,
        &JwtError::WrongTokenUse,
    );
    assert_rejected(
        "ID token where access required",
        access_only.verify(&id).await,
        &JwtError::WrongTokenUse,
    );
    id_only
        .verify(&id)
        .await
        .expect("ID token for the ID verifier");
    access_only
        .verify(&access)
        .await
        .expect("access token for the access verifier");
}

fn resolver(verifier: JwtVerifier) -> TenantResolver {
    TenantResolver::builder().bearer(verifier).build().unwrap()
}

#[tokio::test]
async fn claim_level_errors() {
    let issuer = start().await;
    let resolver = resolver(issuer.verifier_builder().build().unwrap());

    let ctx = resolver
        .context_from_token(&issuer.token().tenant("tenant-a").sign())
        .await
        .expect("valid token makes a context");
    assert_eq!(ctx.tenant_id().as_str(), "tenant-a");

    let check = |name: &str,
                 got: Result<saas_core::TenantContext, TenantRejection>,
                 ok: fn(&ClaimError) -> bool| {
        let err = got.expect_err(name);
        assert_eq!(err.status(), StatusCode::FORBIDDEN, "{name}: {err:?}");
        match &err {
            TenantRejection::InvalidClaims(claim) => assert!(ok(claim), "{name}: {claim:?}"),
            other => panic!("{name}: expected InvalidClaims, got {other:?}"),
        }
    };

    check(
        "missing tenant",
        resolver.context_from_token(&issuer.token().sign()).await,
        |e| matches!(e, ClaimError::Missing(_)),
    );
    check(
        "tenant with '#'",
        resolver
            .context_from_token(&issuer.token().tenant("tenant#a").sign())
            .await,
        |e| matches!(e, ClaimError::InvalidTenantId { .. }),
    );
    check(
        "65-char tenant",
        resolver
            .context_from_token(&issuer.token().tenant(&"t".repeat(65)).sign())
            .await,
        |e| matches!(e, ClaimError::InvalidTenantId { .. }),
    );
    check(
        "unknown role",
        resolver
            .context_from_token(&issuer.token().tenant("tenant-a").role("Overlord").sign())
            .await,
        |e| matches!(e, ClaimError::UnknownRole { .. }),
    );
    check(
        "unknown tier",
        resolver
            .context_from_token(&issuer.token().tenant("tenant-a").tier("Diamond").sign())
            .await,
        |e| matches!(e, ClaimError::UnknownTier { .. }),
    );
    // A 64-char tenant is still fine: the limit is exactly at 64.
    let ctx = resolver
        .context_from_token(&issuer.token().tenant(&"t".repeat(64)).sign())
        .await
        .expect("64-char tenant");
    assert_eq!(ctx.tenant_id().as_str().len(), 64);
    // Token errors pass through with their own status.
    let err = resolver
        .context_from_token(&issuer.token().tenant("tenant-a").expires_in(-10).sign())
        .await
        .unwrap_err();
    assert!(
        matches!(err, TenantRejection::InvalidToken(JwtError::Expired)),
        "{err:?}"
    );
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn ec_keys_and_algorithm_mismatch() {
    let issuer = start().await;
    let kid = issuer.rotate_ec("ES256");
    let verifier = issuer.verifier_builder().build().unwrap();
    let token = issuer.token().tenant("tenant-a").sign();
    assert_eq!(
        decode_part(token.split('.').next().unwrap())["kid"],
        json!(kid)
    );
    assert_eq!(
        decode_part(token.split('.').next().unwrap())["alg"],
        json!("ES256")
    );
    let claims = verifier.verify(&token).await.expect("ES256 verifies");
    assert_eq!(claims.string("custom:tenantId"), Some("tenant-a"));

    let rs_on_ec = issuer
        .token()
        .tenant("tenant-a")
        .header("alg", "RS256")
        .sign();
    assert_rejected(
        "RS256 header on an EC key",
        verifier.verify(&rs_on_ec).await,
        &JwtError::AlgorithmMismatch,
    );
}

#[tokio::test]
async fn leeway_tolerates_small_skew() {
    let issuer = start().await;
    let strict = issuer.verifier_builder().build().unwrap();
    let lenient = issuer
        .verifier_builder()
        .leeway(Duration::from_secs(30))
        .build()
        .unwrap();
    let token = issuer.token().tenant("tenant-a").expires_in(-5).sign();
    assert_rejected(
        "expired without leeway",
        strict.verify(&token).await,
        &JwtError::Expired,
    );
    lenient.verify(&token).await.expect("within leeway");
    let long_expired = issuer.token().tenant("tenant-a").expires_in(-120).sign();
    assert_rejected(
        "expired beyond leeway",
        lenient.verify(&long_expired).await,
        &JwtError::Expired,
    );
    let early = issuer
        .token()
        .tenant("tenant-a")
        .claim("nbf", now() + 10)
        .sign();
    lenient.verify(&early).await.expect("nbf within leeway");
}

#[tokio::test]
async fn groups_scopes_and_custom_check() {
    let issuer = start().await;
    let by_group = issuer
        .verifier_builder()
        .require_any_group(["admins", "ops"])
        .build()
        .unwrap();
    let no_group = issuer.token().tenant("tenant-a").sign();
    let other_group = issuer
        .token()
        .tenant("tenant-a")
        .claim("cognito:groups", json!(["users"]))
        .sign();
    let admin = issuer
        .token()
        .tenant("tenant-a")
        .claim("cognito:groups", json!(["users", "ops"]))
        .sign();
    for (name, t) in [("no group", &no_group), ("other group", &other_group)] {
        let err = by_group.verify(t).await.unwrap_err();
        assert_eq!(err, JwtError::MissingGroup, "{name}");
        assert_eq!(err.status(), StatusCode::FORBIDDEN);
    }
    by_group.verify(&admin).await.expect("in a required group");

    let by_scope = issuer
        .verifier_builder()
        .require_any_scope(["todo/write"])
        .build()
        .unwrap();
    let read_only = issuer
        .token()
        .tenant("tenant-a")
        .claim("scope", "todo/read openid")
        .sign();
    let writer = issuer
        .token()
        .tenant("tenant-a")
        .claim("scope", "todo/read todo/write")
        .sign();
    let scp_writer = issuer
        .token()
        .tenant("tenant-a")
        .claim("scp", json!(["todo/write"]))
        .sign();
    let err = by_scope.verify(&read_only).await.unwrap_err();
    assert_eq!(err, JwtError::MissingScope);
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    let err = by_scope.verify(&no_group).await.unwrap_err();
    assert_eq!(err, JwtError::MissingScope);
    by_scope.verify(&writer).await.expect("has the scope");
    by_scope
        .verify(&scp_writer)
        .await
        .expect("has the scope in scp");

    let checked = issuer
        .verifier_builder()
        .check(|claims| {
            if claims.string("sub") == Some("blocked-user") {
                Err("user is blocked".into())
            } else {
                Ok(())
            }
        })
        .build()
        .unwrap();
    let err = checked
        .verify(
            &issuer
                .token()
                .tenant("tenant-a")
                .subject("blocked-user")
                .sign(),
        )
        .await
        .unwrap_err();
    assert_eq!(err, JwtError::Refused("user is blocked".into()));
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
    checked
        .verify(&issuer.token().tenant("tenant-a").sign())
        .await
        .expect("not blocked");
}

#[tokio::test]
async fn rotation_fetches_exactly_once() {
    let issuer = start().await;
    let verifier = issuer.verifier_builder().build().unwrap();
    verifier.prewarm().await.unwrap();
    let before = issuer.fetches();
    assert_eq!(before, 1);
    verifier
        .verify(&issuer.token().tenant("tenant-a").sign())
        .await
        .unwrap();
    assert_eq!(issuer.fetches(), before, "cached key needs no fetch");

    let kid = issuer.rotate();
    let token = issuer.token().tenant("tenant-a").sign();
    assert_eq!(
        decode_part(token.split('.').next().unwrap())["kid"],
        json!(kid)
    );
    verifier.verify(&token).await.expect("new kid verifies");
    assert_eq!(issuer.fetches(), before + 1);
    verifier.verify(&token).await.expect("again, from cache");
    assert_eq!(issuer.fetches(), before + 1);
}

async fn spawn_unknown_kids(issuer: &TestIssuer, verifier: &JwtVerifier, n: usize) {
    // Every token signed first (seconds of RSA in a debug build, longer than the JWKS cooldown
    // on a loaded machine), then all verified at once.
    let tokens: Vec<String> = (0..n)
        .map(|i| {
            issuer
                .token()
                .tenant("tenant-a")
                .header("kid", format!("ghost-{i}"))
                .sign()
        })
        .collect();
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let verifier = verifier.clone();
            tokio::spawn(async move { verifier.verify(&token).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap_err(), JwtError::UnknownKid);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_kid_storm_after_a_miss_is_rate_limited() {
    let issuer = start().await;
    let verifier = issuer.verifier_builder().build().unwrap();
    verifier.prewarm().await.unwrap();
    let warm = issuer.fetches();

    let miss = issuer
        .token()
        .tenant("tenant-a")
        .header("kid", "ghost")
        .sign();
    assert_eq!(
        verifier.verify(&miss).await.unwrap_err(),
        JwtError::UnknownKid
    );
    assert_eq!(issuer.fetches(), warm + 1, "the first miss refreshes once");

    spawn_unknown_kids(&issuer, &verifier, 1000).await;
    assert!(
        issuer.fetches() <= warm + 2,
        "1000 misses fetched {} times",
        issuer.fetches() - warm - 1
    );
    // Within the default 10 s cooldown nothing more is fetched at all.
    assert_eq!(issuer.fetches(), warm + 1);
    // Valid tokens keep verifying from the cache meanwhile.
    verifier
        .verify(&issuer.token().tenant("tenant-a").sign())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_misses_merge_into_one_fetch() {
    let issuer = start().await;
    let verifier = issuer.verifier_builder().build().unwrap();
    verifier.prewarm().await.unwrap();
    let warm = issuer.fetches();
    spawn_unknown_kids(&issuer, &verifier, 1000).await;
    assert!(
        issuer.fetches() <= warm + 1,
        "1000 concurrent misses fetched {} times",
        issuer.fetches() - warm
    );
}

#[tokio::test]
async fn issuer_down_with_keys_cached() {
    let issuer = start().await;
    let verifier = issuer.verifier_builder().build().unwrap();
    verifier.prewarm().await.unwrap();
    issuer.set_available(false);
    verifier
        .verify(&issuer.token().tenant("tenant-a").sign())
        .await
        .expect("cached keys still verify");
    // An unknown kid while down: the fetch fails, and that is reported as unavailability.
    let err = verifier
        .verify(
            &issuer
                .token()
                .tenant("tenant-a")
                .header("kid", "ghost")
                .sign(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, JwtError::JwksUnavailable(_) | JwtError::UnknownKid),
        "{err:?}"
    );
    // Cached keys keep working after that failed refresh.
    verifier
        .verify(&issuer.token().tenant("tenant-a").sign())
        .await
        .expect("cached keys still verify after a failed refresh");
}

#[tokio::test]
async fn issuer_down_at_cold_start_then_recovers() {
    let issuer = start().await;
    let verifier = issuer
        .verifier_builder()
        .jwks_cooldown(Duration::from_millis(100))
        .build()
        .unwrap();
    issuer.set_available(false);
    let token = issuer.token().tenant("tenant-a").sign();
    let err = verifier.verify(&token).await.unwrap_err();
    assert!(matches!(err, JwtError::JwksUnavailable(_)), "{err:?}");
    assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        verifier.prewarm().await.is_err(),
        "prewarm fails while down"
    );

    issuer.set_available(true);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let claims = verifier
        .verify(&token)
        .await
        .expect("recovers after cooldown");
    assert_eq!(claims.string("custom:tenantId"), Some("tenant-a"));
}

#[tokio::test]
async fn cold_start_down_through_the_resolver_is_503() {
    let issuer = start().await;
    let resolver = resolver(issuer.verifier_builder().build().unwrap());
    issuer.set_available(false);
    let err = resolver
        .context_from_token(&issuer.token().tenant("tenant-a").sign())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TenantRejection::InvalidToken(JwtError::JwksUnavailable(_))
        ),
        "{err:?}"
    );
    assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn retired_key_stops_verifying() {
    let issuer = start().await;
    let verifier = issuer
        .verifier_builder()
        .jwks_cooldown(Duration::from_millis(50))
        .build()
        .unwrap();
    verifier.prewarm().await.unwrap();
    let old = issuer.token().tenant("tenant-a");
    let old_token = old.sign();
    verifier
        .verify(&old_token)
        .await
        .expect("old key verifies before retirement");

    issuer.rotate();
    issuer.retire_oldest();
    let miss = issuer
        .token()
        .tenant("tenant-a")
        .header("kid", "ghost")
        .sign();
    assert_eq!(
        verifier.verify(&miss).await.unwrap_err(),
        JwtError::UnknownKid
    );
    // The refresh brought in the new key and dropped the old one.
    verifier
        .verify(&issuer.token().tenant("tenant-a").sign())
        .await
        .expect("new key verifies");
    assert_rejected(
        "token signed by the retired key",
        verifier.verify(&old_token).await,
        &JwtError::UnknownKid,
    );
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_rejected(
        "retired key, after the cooldown too",
        verifier.verify(&old_token).await,
        &JwtError::UnknownKid,
    );
}

#[tokio::test]
async fn several_issuers_at_once() {
    let a = start().await;
    let b = start().await;
    let verifier = JwtVerifier::builder()
        .issuer(a.issuer_config())
        .issuer(b.issuer_config())
        .build()
        .unwrap();
    assert_eq!(verifier.issuers().count(), 2);
    let ca = verifier
        .verify(&a.token().tenant("tenant-a").sign())
        .await
        .expect("A's token");
    assert_eq!(ca.string("iss"), Some(a.iss()));
    let cb = verifier
        .verify(&b.token().tenant("tenant-b").sign())
        .await
        .expect("B's token");
    assert_eq!(cb.string("iss"), Some(b.iss()));

    // Both issuers call their first key key-1: the kid is found in B's set, the signature fails.
    let forged = a.token().tenant("tenant-a").claim("iss", b.iss()).sign();
    assert_rejected(
        "A's key claiming to be B",
        verifier.verify(&forged).await,
        &JwtError::BadSignature,
    );
    let forged_new_kid = {
        a.rotate();
        a.token().tenant("tenant-a").claim("iss", b.iss()).sign()
    };
    assert_rejected(
        "A's rotated key claiming to be B",
        verifier.verify(&forged_new_kid).await,
        &JwtError::UnknownKid,
    );
}

#[tokio::test]
async fn offline_jwks_needs_no_fetch() {
    let issuer = start().await;
    let verifier = JwtVerifier::builder()
        .issuer(
            Issuer::oidc(issuer.iss())
                .jwks(issuer.jwks_json())
                .audience(TEST_AUDIENCE),
        )
        .build()
        .unwrap();
    verifier.prewarm().await.unwrap();
    let claims = verifier
        .verify(&issuer.token().tenant("tenant-a").sign())
        .await
        .expect("offline JWKS verifies");
    assert_eq!(claims.string("custom:tenantId"), Some("tenant-a"));
    assert_rejected(
        "unknown kid offline",
        verifier
            .verify(
                &issuer
                    .token()
                    .tenant("tenant-a")
                    .header("kid", "ghost")
                    .sign(),
            )
            .await,
        &JwtError::UnknownKid,
    );
    assert_eq!(issuer.fetches(), 0);
}
