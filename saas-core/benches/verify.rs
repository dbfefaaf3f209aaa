//! Verify + context with a warm JWKS beside a bare `jsonwebtoken::decode` of the same token: cold
//! (a verifier with its token caches off, so every iteration checks the signature), first use
//! (cache on, every token new to it: the cold path plus hashing, a missed lookup and an insert),
//! and repeated (the same token again and again, answered from the warm token cache); the SHA-256
//! of the token that keys the cache; and context from an API Gateway authorizer (no signature).
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode};
use saas_core::jwt::{Issuer, JwtVerifier};
use saas_core::test_util::{TEST_AUDIENCE, TestIssuer};
use saas_core::{ClaimMapping, TenantResolver, extract};

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let issuer = rt.block_on(TestIssuer::start()).unwrap();
    let token = issuer
        .token()
        .tenant("tenant-a")
        .role("TenantAdmin")
        .tier("Premium")
        .claim("cognito:groups", serde_json::json!(["admins"]))
        .sign();
    // Offline JWKS: the same keys, no network in the loop.
    let builder = || {
        JwtVerifier::builder().issuer(
            Issuer::oidc(issuer.iss())
                .jwks(issuer.jwks_json())
                .audience(TEST_AUDIENCE),
        )
    };
    let cold = builder()
        .token_cache_ttl(Duration::ZERO)
        .rejection_cache_ttl(Duration::ZERO)
        .build()
        .unwrap();
    let cold = TenantResolver::builder().bearer(cold).build().unwrap();
    let cached = builder().build().unwrap();
    // Cache on, but every token is new to it: 512 tokens in turn through room for one.
    let uncached = builder().token_cache_capacity(1).build().unwrap();
    let first_use = TenantResolver::builder()
        .bearer(uncached.clone())
        .build()
        .unwrap();
    let fresh: Vec<String> = (0..512)
        .map(|i| {
            issuer
                .token()
                .tenant("tenant-a")
                .role("TenantAdmin")
                .tier("Premium")
                .claim("cognito:groups", serde_json::json!(["admins"]))
                .claim("jti", format!("{i:04}"))
                .sign()
        })
        .collect();
    let repeat = TenantResolver::builder()
        .bearer(cached.clone())
        .build()
        .unwrap();

    let jwks: JwkSet = serde_json::from_str(&issuer.jwks_json()).unwrap();
    let key = DecodingKey::from_jwk(&jwks.keys[0]).unwrap();
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[issuer.iss()]);
    validation.set_audience(&[TEST_AUDIENCE]);

    let mut group = c.benchmark_group("jwt");
    group.bench_function("jsonwebtoken_decode_bare", |b| {
        b.iter(|| {
            decode::<serde_json::Map<String, serde_json::Value>>(
                black_box(&token),
                &key,
                &validation,
            )
            .unwrap()
        })
    });
    group.bench_function("saas_core_verify_and_context", |b| {
        b.iter(|| {
            cold.context_from_token(black_box(&token))
                .now_or_never()
                .expect("a warm JWKS never waits")
                .unwrap()
        })
    });
    group.bench_function("saas_core_first_verify_and_context", |b| {
        let mut next = fresh.iter().cycle();
        b.iter(|| {
            first_use
                .context_from_token(black_box(next.next().unwrap()))
                .now_or_never()
                .expect("a warm JWKS never waits")
                .unwrap()
        })
    });
    group.bench_function("saas_core_repeat_verify_and_context", |b| {
        b.iter(|| {
            repeat
                .context_from_token(black_box(&token))
                .now_or_never()
                .expect("a warm cache never waits")
                .unwrap()
        })
    });
    group.bench_function("saas_core_repeat_verify", |b| {
        b.iter(|| {
            cached
                .verify(black_box(&token))
                .now_or_never()
                .expect("a warm cache never waits")
                .unwrap()
        })
    });
    group.bench_function("sha256_of_token", |b| {
        b.iter(|| {
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, black_box(token.as_bytes()))
        })
    });
    group.finish();
    let stats = cached.stats();
    assert_eq!(stats.signature_checks, 1, "the repeat cases hit the cache");
    // The cache's admission keeps about one token of the 512 resident, which then hits once a
    // round: well under 1% of the first-use iterations.
    let first = uncached.stats();
    assert!(
        first.cache_hits * 100 < first.signature_checks,
        "first uses almost never hit: {first:?}"
    );
    assert_eq!(
        cold.context_from_token(&token)
            .now_or_never()
            .map(|r| r.is_ok()),
        Some(true)
    );
    eprintln!(
        "token: {} bytes; repeat verifier: {stats:?}; first-use verifier: {first:?}",
        token.len()
    );

    let event: aws_lambda_events::apigw::ApiGatewayV2httpRequest = serde_json::from_str(
        r#"{"version":"2.0","routeKey":"GET /lists","rawPath":"/lists",
            "requestContext":{"http":{"method":"GET"},"authorizer":{"jwt":{"claims":{
              "sub":"u-1","email":"ann@example.com","email_verified":"true","cognito:username":"ann",
              "custom:tenantId":"tenant-a","custom:userRole":"TenantUser","custom:tenantTier":"Basic",
              "cognito:groups":"[admins ops]","exp":"1900000000","iss":"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X"
            },"scopes":null}}}}"#,
    )
    .unwrap();
    let mapping = ClaimMapping::default();
    c.bench_function("authorizer/apigw_v2_jwt_context", |b| {
        b.iter(|| extract::from_apigw_v2(black_box(&event), &mapping).unwrap())
    });
}

criterion_group!(verify, benches);
criterion_main!(verify);
