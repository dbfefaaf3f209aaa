//! Verify + context with a warm JWKS beside a bare `jsonwebtoken::decode` of the same token, and
//! context from an API Gateway authorizer (no signature).
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

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
    let verifier = JwtVerifier::builder()
        .issuer(
            Issuer::oidc(issuer.iss())
                .jwks(issuer.jwks_json())
                .audience(TEST_AUDIENCE),
        )
        .build()
        .unwrap();
    let resolver = TenantResolver::builder().bearer(verifier).build().unwrap();

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
            resolver
                .context_from_token(black_box(&token))
                .now_or_never()
                .expect("a warm cache never waits")
                .unwrap()
        })
    });
    group.finish();

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
