//! Real API Gateway event shapes (REST and HTTP API, Cognito/JWT and Lambda authorizers) through
//! the extractors, the `lambda_http` conversion and the layer, plus the authorizer responses.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use std::convert::Infallible;

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::{Context as LambdaContext, RequestExt};
use saas_core::{
    ClaimMapping, ContextSource, RequireTenantLayer, Role, TenantContext, TenantRejection,
    TenantResolver, Tier, authorizer_response, extract,
};
use serde_json::{Value, json};
use tower::{Layer, ServiceExt, service_fn};

const V1_COGNITO_A: &str = include_str!("fixtures/apigw_v1/cognito_authorizer_tenant_a.json");
const V1_LAMBDA_B: &str = include_str!("fixtures/apigw_v1/lambda_authorizer_tenant_b.json");
const V1_NONE: &str = include_str!("fixtures/apigw_v1/no_authorizer.json");
const V2_JWT_A: &str = include_str!("fixtures/apigw_v2/jwt_authorizer_tenant_a.json");
const V2_LAMBDA_B: &str = include_str!("fixtures/apigw_v2/lambda_authorizer_tenant_b.json");
const V2_NONE: &str = include_str!("fixtures/apigw_v2/no_authorizer.json");

const SUB_A: &str = "7d8f3a2e-1111-4c2b-9a5e-aaaaaaaaaaaa";
const SUB_B: &str = "5c1e9b7a-2222-4d3c-8b6f-bbbbbbbbbbbb";

fn v1(json: &str) -> ApiGatewayProxyRequest {
    serde_json::from_str(json).expect("REST fixture parses")
}

fn v2(json: &str) -> ApiGatewayV2httpRequest {
    serde_json::from_str(json).expect("HTTP API fixture parses")
}

/// The same event with one value replaced (a JSON pointer into the fixture).
fn edited(json: &str, pointer: &str, value: Value) -> String {
    let mut doc: Value = serde_json::from_str(json).unwrap();
    *doc.pointer_mut(pointer).expect("pointer exists") = value;
    doc.to_string()
}

struct Expected {
    tenant: &'static str,
    role: Role,
    tier: Tier,
    sub: &'static str,
    email: &'static str,
    email_verified: bool,
    groups: &'static [&'static str],
    source: ContextSource,
}

const TENANT_A_COGNITO: Expected = Expected {
    tenant: "tenant-a",
    role: Role::TenantAdmin,
    tier: Tier::Premium,
    sub: SUB_A,
    email: "ann@tenant-a.example.com",
    email_verified: true,
    groups: &["admins", "ops"],
    source: ContextSource::ApiGatewayCognito,
};

const TENANT_B_LAMBDA: Expected = Expected {
    tenant: "tenant-b",
    role: Role::TenantUser,
    tier: Tier::Basic,
    sub: SUB_B,
    email: "bob@tenant-b.example.com",
    email_verified: false,
    groups: &["readers", "writers"],
    source: ContextSource::ApiGatewayLambdaAuthorizer,
};

const TENANT_A_JWT: Expected = Expected {
    source: ContextSource::ApiGatewayJwt,
    ..TENANT_A_COGNITO
};

const TENANT_B_LAMBDA_V2: Expected = Expected {
    email_verified: true,
    ..TENANT_B_LAMBDA
};

#[track_caller]
fn check(ctx: &TenantContext, want: &Expected) {
    assert_eq!(ctx.tenant_id(), want.tenant);
    assert_eq!(ctx.role(), want.role);
    assert_eq!(ctx.tier(), want.tier);
    assert_eq!(ctx.subject(), Some(want.sub));
    let user = ctx.user().expect("a user");
    assert_eq!(user.email.as_deref(), Some(want.email));
    assert_eq!(user.email_verified, want.email_verified);
    assert_eq!(
        user.verified_email(),
        want.email_verified.then_some(want.email)
    );
    assert_eq!(ctx.groups(), want.groups);
    assert_eq!(ctx.source(), want.source);
}

// ---------------------------------------------------------------- parsing and round trips

#[test]
fn fixtures_round_trip_through_aws_lambda_events() {
    for json in [V1_COGNITO_A, V1_LAMBDA_B, V1_NONE] {
        let event = v1(json);
        let text = serde_json::to_string(&event).unwrap();
        let again: ApiGatewayProxyRequest = serde_json::from_str(&text).unwrap();
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            serde_json::to_value(&again).unwrap()
        );
        assert_eq!(
            extract::from_apigw_v1(&event, &ClaimMapping::default())
                .map(|c| format!("{c:?}"))
                .ok(),
            extract::from_apigw_v1(&again, &ClaimMapping::default())
                .map(|c| format!("{c:?}"))
                .ok(),
        );
    }
    for json in [V2_JWT_A, V2_LAMBDA_B, V2_NONE] {
        let event = v2(json);
        let text = serde_json::to_string(&event).unwrap();
        let again: ApiGatewayV2httpRequest = serde_json::from_str(&text).unwrap();
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            serde_json::to_value(&again).unwrap()
        );
        assert_eq!(
            extract::from_apigw_v2(&event, &ClaimMapping::default())
                .map(|c| format!("{c:?}"))
                .ok(),
            extract::from_apigw_v2(&again, &ClaimMapping::default())
                .map(|c| format!("{c:?}"))
                .ok(),
        );
    }
}

#[test]
fn fixtures_carry_the_real_shapes() {
    let a = v1(V1_COGNITO_A);
    assert_eq!(
        a.request_context.account_id.as_deref(),
        Some("123456789012")
    );
    assert_eq!(
        a.request_context.authorizer.fields["claims"]["cognito:groups"],
        "admins,ops"
    );
    let b = v1(V1_LAMBDA_B);
    assert_eq!(
        b.request_context.authorizer.fields["integrationLatency"],
        42
    );
    assert_eq!(b.request_context.authorizer.fields["principalId"], SUB_B);
    let c = v2(V2_JWT_A);
    let jwt = c
        .request_context
        .authorizer
        .as_ref()
        .unwrap()
        .jwt
        .as_ref()
        .unwrap();
    assert_eq!(jwt.claims["cognito:groups"], "[admins ops]");
    assert_eq!(
        jwt.scopes.as_deref(),
        Some(&["lists/read".to_owned(), "lists/write".to_owned()][..])
    );
    let d = v2(V2_LAMBDA_B);
    let lambda = d
        .request_context
        .authorizer
        .as_ref()
        .unwrap()
        .fields
        .clone();
    assert_eq!(lambda["email_verified"], true);
    assert!(v2(V2_NONE).request_context.authorizer.is_none());
}

// ---------------------------------------------------------------- extractors

#[test]
fn rest_cognito_authorizer() {
    let ctx = extract::from_apigw_v1(&v1(V1_COGNITO_A), &ClaimMapping::default()).unwrap();
    check(&ctx, &TENANT_A_COGNITO);
    assert_eq!(ctx.user().unwrap().username.as_deref(), Some("ann"));
}

#[test]
fn rest_lambda_authorizer() {
    let ctx = extract::from_apigw_v1(&v1(V1_LAMBDA_B), &ClaimMapping::default()).unwrap();
    check(&ctx, &TENANT_B_LAMBDA);
}

#[test]
fn http_api_jwt_authorizer() {
    let ctx = extract::from_apigw_v2(&v2(V2_JWT_A), &ClaimMapping::default()).unwrap();
    check(&ctx, &TENANT_A_JWT);
    assert_eq!(ctx.scopes(), ["lists/read", "lists/write"]);
    assert!(ctx.has_scope("lists/write"));
    assert!(ctx.in_group("ops"));
}

#[test]
fn http_api_lambda_authorizer() {
    let ctx = extract::from_apigw_v2(&v2(V2_LAMBDA_B), &ClaimMapping::default()).unwrap();
    check(&ctx, &TENANT_B_LAMBDA_V2);
    assert_eq!(ctx.user().unwrap().username.as_deref(), Some("bob"));
    assert!(ctx.expires_at().is_some());
}

#[test]
fn no_authorizer_is_missing_credentials() {
    let e = extract::from_apigw_v1(&v1(V1_NONE), &ClaimMapping::default()).unwrap_err();
    assert!(matches!(e, TenantRejection::MissingCredentials), "{e:?}");
    assert_eq!(e.status(), 401);
    let e = extract::from_apigw_v2(&v2(V2_NONE), &ClaimMapping::default()).unwrap_err();
    assert!(matches!(e, TenantRejection::MissingCredentials), "{e:?}");
    assert_eq!(e.status(), 401);
    // The stock fixture's Lambda authorizer context names no user or tenant.
    let stock = r#"{"principalId": "admin", "clientId": 1, "clientName": "Exata"}"#;
    let event = edited(
        V1_NONE,
        "/requestContext",
        json!({"httpMethod": "GET", "authorizer": serde_json::from_str::<Value>(stock).unwrap()}),
    );
    let e = extract::from_apigw_v1(&v1(&event), &ClaimMapping::default()).unwrap_err();
    assert!(matches!(e, TenantRejection::MissingCredentials), "{e:?}");
}

#[test]
fn unknown_tier_is_invalid_claims() {
    let cases = [
        (
            edited(
                V1_COGNITO_A,
                "/requestContext/authorizer/claims/custom:tenantTier",
                json!("Gold"),
            ),
            true,
        ),
        (
            edited(
                V1_LAMBDA_B,
                "/requestContext/authorizer/tenantTier",
                json!("Gold"),
            ),
            true,
        ),
        (
            edited(
                V2_JWT_A,
                "/requestContext/authorizer/jwt/claims/custom:tenantTier",
                json!("Gold"),
            ),
            false,
        ),
        (
            edited(
                V2_LAMBDA_B,
                "/requestContext/authorizer/lambda/tenantTier",
                json!("Gold"),
            ),
            false,
        ),
    ];
    for (event, rest) in cases {
        let e = if rest {
            extract::from_apigw_v1(&v1(&event), &ClaimMapping::default()).unwrap_err()
        } else {
            extract::from_apigw_v2(&v2(&event), &ClaimMapping::default()).unwrap_err()
        };
        assert!(matches!(e, TenantRejection::InvalidClaims(_)), "{e:?}");
        assert_eq!(e.status(), 403);
        let body = e.to_response().into_body();
        assert!(!body.contains("Gold"), "the body echoes a claim: {body}");
    }
}

#[test]
fn tenant_id_with_hash_is_forbidden() {
    let cases = [
        (
            edited(
                V1_COGNITO_A,
                "/requestContext/authorizer/claims/custom:tenantId",
                json!("tenant-a#x"),
            ),
            true,
        ),
        (
            edited(
                V1_LAMBDA_B,
                "/requestContext/authorizer/tenantId",
                json!("tenant-b#x"),
            ),
            true,
        ),
        (
            edited(
                V2_JWT_A,
                "/requestContext/authorizer/jwt/claims/custom:tenantId",
                json!("tenant-a#x"),
            ),
            false,
        ),
        (
            edited(
                V2_LAMBDA_B,
                "/requestContext/authorizer/lambda/tenantId",
                json!("tenant-b#x"),
            ),
            false,
        ),
    ];
    for (event, rest) in cases {
        let e = if rest {
            extract::from_apigw_v1(&v1(&event), &ClaimMapping::default()).unwrap_err()
        } else {
            extract::from_apigw_v2(&v2(&event), &ClaimMapping::default()).unwrap_err()
        };
        assert!(matches!(e, TenantRejection::InvalidClaims(_)), "{e:?}");
        assert_eq!(e.status(), 403);
        assert!(!e.to_response().into_body().contains("#x"));
    }
}

// ---------------------------------------------------------------- lambda_http and the layer

fn resolver() -> TenantResolver {
    TenantResolver::builder()
        .api_gateway_authorizer()
        .build()
        .unwrap()
}

/// Runs `request` through the layer; the handler answers with the context it saw (as JSON) or
/// "none".
async fn through_layer(request: lambda_http::Request) -> (u16, String, Option<TenantContext>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None::<TenantContext>));
    let handler_seen = seen.clone();
    let service =
        RequireTenantLayer::new(resolver()).layer(service_fn(move |req: lambda_http::Request| {
            let seen = handler_seen.clone();
            async move {
                let ctx = req.extensions().get::<TenantContext>().cloned();
                let body = ctx
                    .as_ref()
                    .map_or("none".to_owned(), |c| c.tenant_id().to_string());
                *seen.lock().unwrap() = ctx;
                Ok::<_, Infallible>(http::Response::new(body))
            }
        }));
    let response = service.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body();
    let ctx = seen.lock().unwrap().clone();
    (status, body, ctx)
}

#[tokio::test]
async fn lambda_request_conversion_through_the_layer() {
    let cases: [(LambdaRequest, &Expected); 4] = [
        (
            LambdaRequest::ApiGatewayV1(v1(V1_COGNITO_A)),
            &TENANT_A_COGNITO,
        ),
        (
            LambdaRequest::ApiGatewayV1(v1(V1_LAMBDA_B)),
            &TENANT_B_LAMBDA,
        ),
        (LambdaRequest::ApiGatewayV2(v2(V2_JWT_A)), &TENANT_A_JWT),
        (
            LambdaRequest::ApiGatewayV2(v2(V2_LAMBDA_B)),
            &TENANT_B_LAMBDA_V2,
        ),
    ];
    for (event, want) in cases {
        let request = lambda_http::Request::from(event);
        assert!(request.extensions().get::<RequestContext>().is_some());
        let (status, body, ctx) = through_layer(request).await;
        assert_eq!(status, 200);
        assert_eq!(body, want.tenant);
        check(&ctx.expect("handler saw a context"), want);
    }
}

#[tokio::test]
async fn request_context_extension_through_the_layer() {
    let rest = v1(V1_COGNITO_A).request_context;
    let request = http::Request::get("/lists/list-1")
        .body(lambda_http::Body::Empty)
        .unwrap()
        .with_request_context(RequestContext::ApiGatewayV1(rest));
    let (status, _, ctx) = through_layer(request).await;
    assert_eq!(status, 200);
    check(&ctx.unwrap(), &TENANT_A_COGNITO);

    let http_api = v2(V2_LAMBDA_B).request_context;
    let request = http::Request::post("/lists/list-2")
        .body(lambda_http::Body::Empty)
        .unwrap()
        .with_request_context(RequestContext::ApiGatewayV2(http_api));
    let (status, _, ctx) = through_layer(request).await;
    assert_eq!(status, 200);
    check(&ctx.unwrap(), &TENANT_B_LAMBDA_V2);
}

#[tokio::test]
async fn bad_events_through_the_layer() {
    for event in [
        LambdaRequest::ApiGatewayV1(v1(V1_NONE)),
        LambdaRequest::ApiGatewayV2(v2(V2_NONE)),
    ] {
        let (status, body, ctx) = through_layer(lambda_http::Request::from(event)).await;
        assert_eq!(status, 401);
        assert!(body.contains("\"unauthenticated\""), "{body}");
        assert!(ctx.is_none());
    }
    // No request context at all (not an API Gateway invocation).
    let bare = http::Request::get("/")
        .body(lambda_http::Body::Empty)
        .unwrap();
    assert_eq!(through_layer(bare).await.0, 401);

    let gold = edited(
        V1_COGNITO_A,
        "/requestContext/authorizer/claims/custom:tenantTier",
        json!("Gold"),
    );
    let (status, body, ctx) = through_layer(LambdaRequest::ApiGatewayV1(v1(&gold)).into()).await;
    assert_eq!(status, 403);
    assert!(body.contains("\"forbidden\""), "{body}");
    assert!(ctx.is_none());

    let hash = edited(
        V2_JWT_A,
        "/requestContext/authorizer/jwt/claims/custom:tenantId",
        json!("tenant-a#b"),
    );
    let (status, _, ctx) = through_layer(LambdaRequest::ApiGatewayV2(v2(&hash)).into()).await;
    assert_eq!(status, 403);
    assert!(ctx.is_none());
}

fn lambda_context(tenant: Option<&str>) -> LambdaContext {
    let mut ctx = LambdaContext::default();
    ctx.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".into();
    ctx.tenant_id = tenant.map(str::to_owned);
    ctx
}

#[tokio::test]
async fn lambda_tenant_id_must_agree_with_the_claims() {
    // Disagrees: 403 TenantMismatch, handler not reached.
    let request = lambda_http::Request::from(LambdaRequest::ApiGatewayV1(v1(V1_COGNITO_A)))
        .with_lambda_context(lambda_context(Some("tenant-b")));
    let (status, body, ctx) = through_layer(request).await;
    assert_eq!(status, 403);
    assert!(body.contains("\"forbidden\""));
    assert!(ctx.is_none());

    // Agrees: the claims' context.
    let request = lambda_http::Request::from(LambdaRequest::ApiGatewayV2(v2(V2_LAMBDA_B)))
        .with_lambda_context(lambda_context(Some("tenant-b")));
    let (status, _, ctx) = through_layer(request).await;
    assert_eq!(status, 200);
    check(&ctx.unwrap(), &TENANT_B_LAMBDA_V2);

    // Lambda names no tenant: the claims decide.
    let request = lambda_http::Request::from(LambdaRequest::ApiGatewayV2(v2(V2_JWT_A)))
        .with_lambda_context(lambda_context(None));
    let (status, _, ctx) = through_layer(request).await;
    assert_eq!(status, 200);
    check(&ctx.unwrap(), &TENANT_A_JWT);

    // The same check as a function.
    let ctx = extract::from_apigw_v1(&v1(V1_COGNITO_A), &ClaimMapping::default()).unwrap();
    let e = extract::check_lambda_tenant(&ctx, &lambda_context(Some("tenant-b"))).unwrap_err();
    assert!(matches!(e, TenantRejection::TenantMismatch), "{e:?}");
    assert_eq!(e.status(), 403);
    extract::check_lambda_tenant(&ctx, &lambda_context(Some("tenant-a"))).unwrap();
    extract::check_lambda_tenant(&ctx, &lambda_context(None)).unwrap();
}

// ---------------------------------------------------------------- authorizer responses

const METHOD_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/lists/list-1";

fn tenant_b_context() -> TenantContext {
    extract::from_apigw_v1(&v1(V1_LAMBDA_B), &ClaimMapping::default()).unwrap()
}

#[test]
fn rest_allow_has_api_gateways_shape() {
    let ctx = extract::from_apigw_v1(&v1(V1_COGNITO_A), &ClaimMapping::default()).unwrap();
    let json = serde_json::to_value(authorizer_response::rest_allow(&ctx, METHOD_ARN)).unwrap();
    assert_eq!(json["principalId"], SUB_A);
    let statement = &json["policyDocument"]["Statement"][0];
    assert_eq!(json["policyDocument"]["Version"], "2012-10-17");
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Action"], json!(["execute-api:Invoke"]));
    assert_eq!(
        statement["Resource"],
        json!(["arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*"])
    );
    let context = json["context"].as_object().unwrap();
    assert_eq!(context["tenantId"], "tenant-a");
    assert_eq!(context["userRole"], "TenantAdmin");
    assert_eq!(context["tenantTier"], "Premium");
    assert_eq!(context["sub"], SUB_A);
    assert_eq!(context["email_verified"], "true");
    assert_eq!(context["groups"], "admins ops");
    // REST API contexts hold only strings, numbers and booleans.
    for (key, value) in context {
        assert!(
            value.is_string() || value.is_number() || value.is_boolean(),
            "{key}: {value}"
        );
    }
}

#[test]
fn rest_deny_has_api_gateways_shape() {
    let json =
        serde_json::to_value(authorizer_response::rest_deny("anonymous", METHOD_ARN)).unwrap();
    assert_eq!(json["principalId"], "anonymous");
    let statement = &json["policyDocument"]["Statement"][0];
    assert_eq!(statement["Effect"], "Deny");
    assert_eq!(statement["Action"], json!(["execute-api:Invoke"]));
    assert_eq!(statement["Resource"], json!([METHOD_ARN]));
    assert!(
        json["context"]
            .as_object()
            .is_none_or(serde_json::Map::is_empty)
    );
    assert_eq!(authorizer_response::UNAUTHORIZED, "Unauthorized");
}

#[test]
fn http_simple_responses_have_api_gateways_shape() {
    let json = serde_json::to_value(authorizer_response::http_allow(&tenant_b_context())).unwrap();
    assert_eq!(json["isAuthorized"], true);
    assert_eq!(json["context"]["tenantId"], "tenant-b");
    assert_eq!(json["context"]["userRole"], "TenantUser");
    let json = serde_json::to_value(authorizer_response::http_deny()).unwrap();
    assert_eq!(json["isAuthorized"], false);
    assert!(
        json["context"]
            .as_object()
            .is_none_or(serde_json::Map::is_empty)
    );
}

#[tokio::test]
async fn rest_allow_context_round_trips_through_a_rest_event() {
    for original in [
        extract::from_apigw_v1(&v1(V1_COGNITO_A), &ClaimMapping::default()).unwrap(),
        tenant_b_context(),
        extract::from_apigw_v2(&v2(V2_LAMBDA_B), &ClaimMapping::default()).unwrap(),
    ] {
        let response = authorizer_response::rest_allow(&original, METHOD_ARN);
        let json = serde_json::to_value(&response).unwrap();
        // API Gateway flattens the context into requestContext.authorizer, next to principalId.
        let mut authorizer = json["context"].as_object().unwrap().clone();
        authorizer.insert("principalId".into(), json["principalId"].clone());
        authorizer.insert("integrationLatency".into(), json!(7));
        let event = edited(
            V1_LAMBDA_B,
            "/requestContext/authorizer",
            Value::Object(authorizer),
        );
        let back = extract::from_apigw_v1(&v1(&event), &ClaimMapping::default()).unwrap();
        assert_eq!(back.tenant_id(), original.tenant_id());
        assert_eq!(back.role(), original.role());
        assert_eq!(back.tier(), original.tier());
        assert_eq!(back.user(), original.user());
        assert_eq!(back.groups(), original.groups());
        assert_eq!(back.scopes(), original.scopes());
        assert_eq!(back.source(), ContextSource::ApiGatewayLambdaAuthorizer);

        // And through the layer as a lambda_http request.
        let (status, _, ctx) = through_layer(LambdaRequest::ApiGatewayV1(v1(&event)).into()).await;
        assert_eq!(status, 200);
        let ctx = ctx.unwrap();
        assert_eq!(ctx.tenant_id(), original.tenant_id());
        assert_eq!(ctx.user(), original.user());

        // The HTTP API simple response's context, as authorizer.lambda.
        let simple = serde_json::to_value(authorizer_response::http_allow(&original)).unwrap();
        let event = edited(
            V2_LAMBDA_B,
            "/requestContext/authorizer/lambda",
            simple["context"].clone(),
        );
        let back = extract::from_apigw_v2(&v2(&event), &ClaimMapping::default()).unwrap();
        assert_eq!(back.tenant_id(), original.tenant_id());
        assert_eq!(back.role(), original.role());
        assert_eq!(back.tier(), original.tier());
        assert_eq!(back.user(), original.user());
        assert_eq!(back.groups(), original.groups());
    }
}
