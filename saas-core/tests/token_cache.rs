//! The verifier's token cache: what a hit checks again, what it never carries over from another
//! verifier, how it forgets (TTL, `exp`, a dropped `kid`), and how many signature checks
//! concurrent and hostile traffic costs. Signature checks are counted with
//! `JwtVerifier::stats`; time is a `ManualClock`, never a sleep.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use http::StatusCode;
use saas_core::jwt::{JwtError, JwtVerifier};
use saas_core::test_util::{ManualClock, TestIssuer};
use saas_core::{ClaimMapping, RequireTenantLayer, TenantContext, TenantRejection, TenantResolver};
use serde_json::json;
use tower::{Layer, Service, ServiceExt, service_fn};

async fn start() -> TestIssuer {
    TestIssuer::start().await.expect("test issuer starts")
}

fn resolver(verifier: &JwtVerifier) -> TenantResolver {
    TenantResolver::builder()
        .bearer(verifier.clone())
        .build()
        .unwrap()
}

/// A token whose `iat` and `exp` (an hour on) are read from `clock`, not from the system.
fn token_at(issuer: &TestIssuer, clock: &ManualClock) -> saas_core::test_util::TokenBuilder {
    let now = epoch_secs(clock.now());
    issuer.token().claim("iat", now).claim("exp", now + 3600)
}

fn epoch_secs(t: SystemTime) -> i64 {
    i64::try_from(t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

/// `token`'s header and payload with the signature of `other`: well-formed, known `kid`, and a
/// signature that does not verify.
fn forge(token: &str, other: &str) -> String {
    let (message, _) = token.rsplit_once('.').unwrap();
    let (_, signature) = other.rsplit_once('.').unwrap();
    format!("{message}.{signature}")
}

#[tokio::test]
async fn a_cached_token_past_its_exp_is_401() {
    let issuer = start().await;
    let clock = ManualClock::new();
    let verifier = issuer
        .verifier_builder()
        .clock(clock.clone())
        .build()
        .unwrap();
    let resolver = resolver(&verifier);
    let exp = epoch_secs(clock.now()) + 60;
    let token = token_at(&issuer, &clock)
        .tenant("tenant-a")
        .claim("exp", exp)
        .sign();

    resolver.context_from_token(&token).await.expect("fresh");
    resolver.context_from_token(&token).await.expect("cached");
    assert_eq!(verifier.stats().signature_checks, 1);
    assert_eq!(verifier.stats().cache_hits, 1);

    clock.advance(Duration::from_secs(59));
    resolver
        .context_from_token(&token)
        .await
        .expect("a second before exp");
    clock.advance(Duration::from_secs(1));
    let err = resolver.context_from_token(&token).await.unwrap_err();
    assert!(
        matches!(err, TenantRejection::InvalidToken(JwtError::Expired)),
        "{err:?}"
    );
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
    // Refused from the entry (no new signature check), which is then gone.
    let stats = verifier.stats();
    assert_eq!(stats.signature_checks, 1);
    assert_eq!(stats.cached_tokens, 0);
    assert_eq!(
        verifier.verify(&token).await.unwrap_err(),
        JwtError::Expired
    );
}

#[tokio::test]
async fn the_layer_answers_401_once_a_cached_token_expires() {
    let issuer = start().await;
    let clock = ManualClock::new();
    let verifier = issuer
        .verifier_builder()
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut app = RequireTenantLayer::new(resolver(&verifier)).layer(service_fn(
        |req: http::Request<String>| async move {
            let tenant = req
                .extensions()
                .get::<TenantContext>()
                .map(|c| c.tenant_id().to_string())
                .unwrap_or_default();
            Ok::<_, std::convert::Infallible>(http::Response::new(tenant))
        },
    ));
    let exp = epoch_secs(clock.now()) + 30;
    let token = token_at(&issuer, &clock)
        .tenant("tenant-a")
        .claim("exp", exp)
        .sign();
    let request = || {
        http::Request::get("/")
            .header("authorization", format!("Bearer {token}"))
            .body(String::new())
            .unwrap()
    };
    for _ in 0..2 {
        let response = app.ready().await.unwrap().call(request()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.body(), "tenant-a");
    }
    clock.advance(Duration::from_secs(31));
    let response = app.ready().await.unwrap().call(request()).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(verifier.stats().signature_checks, 1);
}

#[tokio::test]
async fn hits_apply_the_leeway_and_nbf() {
    let issuer = start().await;
    let clock = ManualClock::new();
    let verifier = issuer
        .verifier_builder()
        .leeway(Duration::from_secs(30))
        .clock(clock.clone())
        .build()
        .unwrap();
    let start_time = clock.now();
    let token = token_at(&issuer, &clock)
        .tenant("tenant-a")
        .claim("exp", epoch_secs(start_time) + 60)
        .claim("nbf", json!(epoch_secs(start_time) - 10))
        .sign();
    verifier.verify(&token).await.expect("valid now");

    clock.advance(Duration::from_secs(80));
    verifier
        .verify(&token)
        .await
        .expect("20 s past exp, within the 30 s leeway");
    // Back to before nbf - leeway: refused, from the cache.
    clock.set(start_time - Duration::from_secs(45));
    assert_eq!(
        verifier.verify(&token).await.unwrap_err(),
        JwtError::NotYetValid
    );
    clock.set(start_time + Duration::from_secs(90));
    assert_eq!(
        verifier.verify(&token).await.unwrap_err(),
        JwtError::Expired
    );
    assert_eq!(verifier.stats().signature_checks, 1);
}

#[tokio::test]
async fn an_entry_lives_no_longer_than_the_ttl() {
    let issuer = start().await;
    let clock = ManualClock::new();
    let verifier = issuer
        .verifier_builder()
        .token_cache_ttl(Duration::from_secs(120))
        .clock(clock.clone())
        .build()
        .unwrap();
    let token = token_at(&issuer, &clock).tenant("tenant-a").sign();
    verifier.verify(&token).await.unwrap();
    clock.advance(Duration::from_secs(119));
    verifier.verify(&token).await.unwrap();
    assert_eq!(verifier.stats().signature_checks, 1, "within the TTL");
    clock.advance(Duration::from_secs(1));
    verifier.verify(&token).await.unwrap();
    assert_eq!(verifier.stats().signature_checks, 2, "past the TTL");
    verifier.verify(&token).await.unwrap();
    assert_eq!(verifier.stats().signature_checks, 2, "cached again");
}

#[tokio::test]
async fn a_zero_ttl_turns_the_cache_off() {
    let issuer = start().await;
    let verifier = issuer
        .verifier_builder()
        .token_cache_ttl(Duration::ZERO)
        .rejection_cache_ttl(Duration::ZERO)
        .build()
        .unwrap();
    let token = issuer.token().tenant("tenant-a").sign();
    let forged = forge(&token, &issuer.token().tenant("tenant-b").sign());
    for _ in 0..3 {
        verifier.verify(&token).await.unwrap();
        assert_eq!(
            verifier.verify(&forged).await.unwrap_err(),
            JwtError::BadSignature
        );
    }
    let stats = verifier.stats();
    assert_eq!(stats.signature_checks, 6);
    assert_eq!((stats.cache_hits, stats.rejection_cache_hits), (0, 0));
    assert_eq!((stats.cached_tokens, stats.cached_rejections), (0, 0));
}

#[tokio::test]
async fn another_verifier_never_accepts_from_this_ones_cache() {
    let issuer = start().await;
    let a = issuer.verifier_builder().build().unwrap();
    let b = JwtVerifier::builder()
        .issuer(
            saas_core::jwt::Issuer::oidc(issuer.iss())
                .jwks_url(issuer.jwks_url())
                .audience("other-client"),
        )
        .build()
        .unwrap();
    let for_a = issuer.token().tenant("tenant-a").sign();
    a.verify(&for_a).await.expect("A's audience");
    a.verify(&for_a).await.expect("A's audience, cached");
    assert_eq!(a.stats().cache_hits, 1);
    for _ in 0..2 {
        assert_eq!(b.verify(&for_a).await.unwrap_err(), JwtError::WrongAudience);
    }
    assert_eq!(b.stats().cache_hits, 0);

    let for_b = issuer
        .token()
        .tenant("tenant-b")
        .claim("aud", "other-client")
        .sign();
    b.verify(&for_b).await.expect("B's audience");
    assert_eq!(a.verify(&for_b).await.unwrap_err(), JwtError::WrongAudience);

    // Clones are the same configuration and share the cache.
    let a2 = a.clone();
    a2.verify(&for_a).await.unwrap();
    assert_eq!(a.stats().signature_checks, 2, "for_a once, for_b once");
    assert_eq!(a.stats().cache_hits, 2);
}

#[tokio::test]
async fn a_dropped_kid_evicts_what_it_verified() {
    let issuer = start().await;
    let old = issuer.token().tenant("tenant-a").sign(); // key-1
    issuer.rotate(); // key-2 signs from now on; both are published
    let kept = issuer.token().tenant("tenant-b").sign();
    let verifier = issuer
        .verifier_builder()
        .jwks_cooldown(Duration::ZERO)
        .build()
        .unwrap();
    verifier.prewarm().await.unwrap();
    verifier.verify(&old).await.expect("key-1");
    verifier.verify(&kept).await.expect("key-2");
    assert_eq!(verifier.stats().cached_tokens, 2);

    // The issuer rotates: key-3 comes in, key-1 goes out. A key-3 token is an unknown kid,
    // which refreshes the JWKS.
    issuer.rotate();
    issuer.retire_oldest();
    let new = issuer.token().tenant("tenant-c").sign();
    verifier.verify(&new).await.expect("key-3 after a refresh");
    assert_eq!(issuer.fetches(), 2);
    let stats = verifier.stats();
    assert_eq!(stats.signature_checks, 3);
    assert_eq!(stats.cached_tokens, 2, "the key-1 entry was purged");

    assert_eq!(
        verifier.verify(&old).await.unwrap_err(),
        JwtError::UnknownKid
    );
    verifier
        .verify(&kept)
        .await
        .expect("key-2 is still published");
    assert_eq!(
        verifier.stats().signature_checks,
        3,
        "key-2's token is still answered from the cache"
    );
}

#[tokio::test]
async fn prewarm_purges_dropped_kids() {
    let issuer = start().await;
    let old = issuer.token().tenant("tenant-a").sign();
    let verifier = issuer
        .verifier_builder()
        .jwks_cooldown(Duration::ZERO)
        .build()
        .unwrap();
    verifier.verify(&old).await.unwrap();
    issuer.rotate();
    issuer.retire_oldest();
    verifier.prewarm().await.unwrap();
    assert_eq!(verifier.stats().cached_tokens, 0, "prewarm purges too");
    assert_eq!(
        verifier.clone().verify(&old).await.unwrap_err(),
        JwtError::UnknownKid
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_verifications_of_50_tokens_check_50_signatures() {
    // No prewarm: the first verification of each token waits for the JWKS fetch, so the others
    // really arrive while it is in flight.
    let issuer = start().await;
    let verifier = issuer.verifier_builder().build().unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(1000));
    let tokens: Vec<Arc<str>> = (0..50)
        .map(|i| issuer.token().tenant(&format!("tenant-{i}")).sign().into())
        .collect();
    let resolver = resolver(&verifier);
    let tasks: Vec<_> = (0..1000)
        .map(|n| {
            let token = tokens[n % 50].clone();
            let resolver = resolver.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let ctx = resolver.context_from_token(&token).await.unwrap();
                assert_eq!(ctx.tenant_id().as_str(), format!("tenant-{}", n % 50));
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let stats = verifier.stats();
    assert_eq!(issuer.fetches(), 1);
    assert_eq!(stats.signature_checks, 50);
    assert_eq!(stats.cache_hits, 950);
    assert_eq!(stats.cached_tokens, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_one_forged_token_checks_one_signature() {
    // No prewarm, as above: the first check waits for the JWKS while the flood arrives.
    let issuer = start().await;
    let verifier = issuer.verifier_builder().build().unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(1000));
    let forged: Arc<str> = forge(
        &issuer.token().tenant("tenant-a").sign(),
        &issuer.token().tenant("tenant-b").sign(),
    )
    .into();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let verifier = verifier.clone();
            let forged = forged.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                verifier.verify(&forged).await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap_err(), JwtError::BadSignature);
    }
    let stats = verifier.stats();
    assert_eq!(stats.signature_checks, 1);
    assert_eq!(stats.rejection_cache_hits, 999);
    assert_eq!((stats.cached_tokens, stats.cached_rejections), (0, 1));
}

#[tokio::test]
async fn a_remembered_rejection_expires() {
    let issuer = start().await;
    let clock = ManualClock::new();
    let verifier = issuer
        .verifier_builder()
        .clock(clock.clone())
        .build()
        .unwrap();
    let forged = forge(
        &issuer.token().tenant("tenant-a").sign(),
        &issuer.token().tenant("tenant-b").sign(),
    );
    for _ in 0..2 {
        assert_eq!(
            verifier.verify(&forged).await.unwrap_err(),
            JwtError::BadSignature
        );
    }
    assert_eq!(verifier.stats().signature_checks, 1);
    clock.advance(Duration::from_secs(10)); // the default rejection TTL
    assert_eq!(
        verifier.verify(&forged).await.unwrap_err(),
        JwtError::BadSignature
    );
    assert_eq!(verifier.stats().signature_checks, 2);
}

#[tokio::test]
async fn distinct_forged_tokens_cannot_evict_accepted_ones() {
    let issuer = start().await;
    let verifier = issuer
        .verifier_builder()
        .token_cache_capacity(100)
        .rejection_cache_capacity(20)
        .build()
        .unwrap();
    let good: Vec<String> = (0..10)
        .map(|i| issuer.token().tenant(&format!("tenant-{i}")).sign())
        .collect();
    for token in &good {
        verifier.verify(token).await.unwrap();
    }
    let donor = issuer.token().sign();
    for i in 0..300 {
        let forged = forge(
            &issuer.token().tenant(&format!("forged-{i}")).sign(),
            &donor,
        );
        assert_eq!(
            verifier.verify(&forged).await.unwrap_err(),
            JwtError::BadSignature
        );
    }
    let stats = verifier.stats();
    assert_eq!(
        stats.signature_checks, 310,
        "each distinct forgery costs one"
    );
    assert!(
        stats.cached_rejections <= 20,
        "the rejection cache is bounded: {}",
        stats.cached_rejections
    );
    for token in &good {
        verifier.verify(token).await.unwrap();
    }
    assert_eq!(
        verifier.stats().signature_checks,
        310,
        "every accepted token is still cached"
    );
}

#[tokio::test]
async fn the_token_cache_is_bounded() {
    let issuer = start().await;
    let verifier = issuer
        .verifier_builder()
        .token_cache_capacity(32)
        .build()
        .unwrap();
    for i in 0..200 {
        verifier
            .verify(&issuer.token().tenant(&format!("tenant-{i}")).sign())
            .await
            .unwrap();
    }
    let cached = verifier.stats().cached_tokens;
    assert!(cached > 0 && cached <= 32, "{cached} cached");
}

#[tokio::test]
async fn claim_refusals_are_remembered_but_not_yet_valid_is_not() {
    let issuer = start().await;
    let clock = ManualClock::new();
    let verifier = issuer
        .verifier_builder()
        .clock(clock.clone())
        .build()
        .unwrap();
    let wrong_audience = token_at(&issuer, &clock)
        .tenant("tenant-a")
        .claim("aud", "other-client")
        .sign();
    for _ in 0..3 {
        assert_eq!(
            verifier.verify(&wrong_audience).await.unwrap_err(),
            JwtError::WrongAudience
        );
    }
    assert_eq!(verifier.stats().signature_checks, 1);

    let early = token_at(&issuer, &clock)
        .tenant("tenant-a")
        .claim("nbf", json!(epoch_secs(clock.now()) + 5))
        .sign();
    for _ in 0..2 {
        assert_eq!(
            verifier.verify(&early).await.unwrap_err(),
            JwtError::NotYetValid
        );
    }
    assert_eq!(verifier.stats().signature_checks, 3, "not remembered");
    clock.advance(Duration::from_secs(5));
    verifier.verify(&early).await.expect("valid from nbf on");
}

#[tokio::test]
async fn the_custom_check_runs_on_every_hit() {
    let issuer = start().await;
    let blocked = Arc::new(AtomicBool::new(false));
    let flag = blocked.clone();
    let verifier = issuer
        .verifier_builder()
        .check(move |_| {
            if flag.load(Ordering::SeqCst) {
                Err("blocked".into())
            } else {
                Ok(())
            }
        })
        .build()
        .unwrap();
    let token = issuer.token().tenant("tenant-a").sign();
    verifier.verify(&token).await.unwrap();
    blocked.store(true, Ordering::SeqCst);
    assert_eq!(
        verifier.verify(&token).await.unwrap_err(),
        JwtError::Refused("blocked".into())
    );
    blocked.store(false, Ordering::SeqCst);
    verifier.verify(&token).await.unwrap();
    assert_eq!(verifier.stats().signature_checks, 1);
    assert_eq!(verifier.stats().cache_hits, 2);
}

#[tokio::test]
async fn a_hit_returns_the_context_a_full_verify_would() {
    let issuer = start().await;
    let cold = resolver(
        &issuer
            .verifier_builder()
            .token_cache_ttl(Duration::ZERO)
            .build()
            .unwrap(),
    );
    let verifier = issuer.verifier_builder().build().unwrap();
    let warm = resolver(&verifier);
    let token = issuer
        .token()
        .tenant("tenant-a")
        .role("TenantAdmin")
        .tier("Premium")
        .claim("cognito:groups", json!(["admins", "ops"]))
        .claim("scope", "todo/read todo/write")
        .sign();
    let full = cold.context_from_token(&token).await.unwrap();
    warm.context_from_token(&token).await.unwrap();
    let hit = warm.context_from_token(&token).await.unwrap();
    assert_eq!(verifier.stats().cache_hits, 1);
    assert_eq!(hit.tenant_id(), full.tenant_id());
    assert_eq!(hit.role(), full.role());
    assert_eq!(hit.tier(), full.tier());
    assert_eq!(hit.user(), full.user());
    assert_eq!(hit.groups(), full.groups());
    assert_eq!(hit.scopes(), full.scopes());
    assert_eq!(hit.expires_at(), full.expires_at());
    assert_eq!(hit.source(), full.source());
    assert_eq!(hit.claims().as_map(), full.claims().as_map());
}

#[tokio::test]
async fn resolvers_with_other_mappings_share_a_verifier_safely() {
    let issuer = start().await;
    let verifier = issuer.verifier_builder().build().unwrap();
    let by_tenant = resolver(&verifier);
    let by_org = TenantResolver::builder()
        .claim_mapping(ClaimMapping::default().tenant_claim("custom:orgId"))
        .bearer(verifier.clone())
        .build()
        .unwrap();
    let token = issuer
        .token()
        .tenant("tenant-a")
        .claim("custom:orgId", "org-b")
        .sign();
    for _ in 0..2 {
        let a = by_tenant.context_from_token(&token).await.unwrap();
        let b = by_org.context_from_token(&token).await.unwrap();
        assert_eq!(a.tenant_id().as_str(), "tenant-a");
        assert_eq!(b.tenant_id().as_str(), "org-b");
    }
    let without_org = issuer.token().tenant("tenant-a").sign();
    by_tenant.context_from_token(&without_org).await.unwrap();
    let err = by_org.context_from_token(&without_org).await.unwrap_err();
    assert_eq!(err.status(), StatusCode::FORBIDDEN, "{err:?}");
    assert_eq!(verifier.stats().signature_checks, 2);
}
