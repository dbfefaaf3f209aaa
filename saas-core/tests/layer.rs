//! The tower layer with bearer tokens from a local issuer: tenant isolation under concurrency,
//! rejections, per-request tenant selection, logging and axum.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use std::convert::Infallible;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use saas_core::test_util::TestIssuer;
use saas_core::{
    Identity, Membership, MembershipError, RequireTenantLayer, Role, TenantContext,
    TenantRejection, TenantResolver, Tier, membership_fn, path_segment,
};
use serde_json::Value;
use tower::{Layer, Service, ServiceExt, service_fn};

type Req = http::Request<String>;

/// The tests of this file run one at a time. `tracing` caches each callsite's interest
/// process-wide: a callsite first hit on another test's thread (no subscriber) while the logging
/// test installs its scoped subscriber can be cached as "never" and vanish from that test's
/// output (a known limit of scoped dispatchers under parallel tests). Serialising removes the
/// race.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
type Res = http::Response<String>;

fn get(uri: &str, token: Option<&str>) -> Req {
    let mut builder = http::Request::get(uri);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(String::new()).unwrap()
}

/// A handler that echoes what the layer gave it: `tenant=<id>;sub=<sub>`, or `identity=<sub>`
/// on routes without a tenant, or `nothing`; it counts its calls.
fn echo(
    calls: Arc<AtomicUsize>,
) -> impl Service<Req, Response = Res, Error = Infallible, Future: Send> + Clone + Send {
    service_fn(move |req: Req| {
        let calls = calls.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            // Let other requests interleave with this one.
            tokio::task::yield_now().await;
            let body = match (
                req.extensions().get::<TenantContext>(),
                req.extensions().get::<Identity>(),
            ) {
                (Some(ctx), _) => format!(
                    "tenant={};sub={};role={};tier={}",
                    ctx.tenant_id(),
                    ctx.subject().unwrap_or("-"),
                    ctx.role(),
                    ctx.tier()
                ),
                (None, Some(identity)) => format!("identity={}", identity.user().sub),
                (None, None) => "nothing".to_owned(),
            };
            tracing::info!(marker = "in-handler", body = %body, "handling");
            Ok::<_, Infallible>(http::Response::new(body))
        }
    })
}

async fn bearer_resolver(issuer: &TestIssuer) -> TenantResolver {
    let verifier = issuer.verifier_builder().build().unwrap();
    TenantResolver::builder().bearer(verifier).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn thousand_concurrent_requests_each_see_their_own_tenant() {
    let _serial = SERIAL.lock().await;
    let issuer = TestIssuer::start().await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let service =
        RequireTenantLayer::new(bearer_resolver(&issuer).await).layer(echo(calls.clone()));

    let tokens: Vec<(String, String)> = (0..50)
        .map(|i| {
            let tenant = format!("tenant-{i:02}");
            let token = issuer
                .token()
                .tenant(&tenant)
                .subject(&format!("user-of-{tenant}"))
                .sign();
            (tenant, token)
        })
        .collect();

    let mut handles = Vec::with_capacity(1000);
    for n in 0..1000 {
        let (tenant, token) = tokens[(n * 7) % tokens.len()].clone();
        let service = service.clone();
        handles.push(tokio::spawn(async move {
            let response = service
                .oneshot(get(&format!("/lists/{n}"), Some(&token)))
                .await
                .unwrap();
            (tenant, response.status(), response.into_body())
        }));
    }
    let mut per_tenant = std::collections::HashMap::<String, usize>::new();
    for handle in handles {
        let (tenant, status, body) = handle.await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body,
            format!("tenant={tenant};sub=user-of-{tenant};role=TenantUser;tier=Basic")
        );
        *per_tenant.entry(tenant).or_default() += 1;
    }
    assert_eq!(per_tenant.len(), 50);
    assert!(per_tenant.values().all(|&n| n == 20));
    assert_eq!(calls.load(Ordering::SeqCst), 1000);
    // The JWKS was fetched once and cached, not per request.
    assert!(issuer.fetches() <= 2, "fetches: {}", issuer.fetches());
}

#[tokio::test]
async fn missing_token_is_401_and_the_handler_never_runs() {
    let _serial = SERIAL.lock().await;
    let issuer = TestIssuer::start().await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let service =
        RequireTenantLayer::new(bearer_resolver(&issuer).await).layer(echo(calls.clone()));

    for request in [
        get("/lists/1", None),
        http::Request::get("/lists/1")
            .header("authorization", "Basic dXNlcjpwYXNz")
            .body(String::new())
            .unwrap(),
    ] {
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = serde_json::from_str(response.body()).unwrap();
        assert_eq!(body["error"]["code"], "unauthenticated");
        assert!(body["error"]["message"].is_string());
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn bad_tokens_are_401_invalid_token() {
    let _serial = SERIAL.lock().await;
    let issuer = TestIssuer::start().await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let service =
        RequireTenantLayer::new(bearer_resolver(&issuer).await).layer(echo(calls.clone()));

    let good = issuer.token().tenant("tenant-a").sign();
    let (head, rest) = good.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let forged_claims = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"sub":"user-1","custom:tenantId":"tenant-b","custom:userRole":"SystemAdmin","custom:tenantTier":"Basic"}"#)
    };
    let tampered = format!("{head}.{forged_claims}.{signature}");
    let expired = issuer.token().tenant("tenant-a").expires_in(-3600).sign();

    for token in ["not-a-jwt", "a.b.c", tampered.as_str(), expired.as_str()] {
        let response = service
            .clone()
            .oneshot(get("/", Some(token)))
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{token}");
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer error="invalid_token""#
        );
        let body: Value = serde_json::from_str(response.body()).unwrap();
        assert_eq!(body["error"]["code"], "unauthenticated");
        assert!(!response.body().contains("tenant-b"));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    // The good token still works.
    let response = service.oneshot(get("/", Some(&good))).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// user-1 is TenantAdmin of tenant-a (Premium); the store is "down" for tenant `broken`.
fn memberships(lookups: Arc<AtomicUsize>) -> impl saas_core::MembershipLookup + 'static {
    membership_fn(move |identity: Identity, tenant: saas_core::TenantId| {
        lookups.fetch_add(1, Ordering::SeqCst);
        async move {
            if tenant == "broken" {
                return Err(MembershipError::new("membership store unreachable"));
            }
            let member = identity.user().sub == "user-1" && tenant == "tenant-a";
            Ok(member.then(|| Membership::new(Role::TenantAdmin, Tier::Premium)))
        }
    })
}

async fn selecting_layer(issuer: &TestIssuer, lookups: Arc<AtomicUsize>) -> RequireTenantLayer {
    let verifier = issuer.verifier_builder().build().unwrap();
    let resolver = TenantResolver::builder()
        .bearer(verifier)
        .select_tenant(path_segment("lists", 1), memberships(lookups))
        .build()
        .unwrap();
    RequireTenantLayer::new(resolver)
}

#[tokio::test]
async fn per_request_tenant_selection() {
    let _serial = SERIAL.lock().await;
    let issuer = TestIssuer::start().await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let lookups = Arc::new(AtomicUsize::new(0));
    let service = selecting_layer(&issuer, lookups.clone())
        .await
        .layer(echo(calls.clone()));
    // The token's own tenant claim and role do not decide: the membership does.
    let token = issuer
        .token()
        .tenant("tenant-z")
        .role("TenantViewer")
        .sign();
    let no_tenant_claim = issuer.token().without("custom:tenantId").sign();

    for token in [&token, &no_tenant_claim] {
        // Member: the membership's role and tier.
        let response = service
            .clone()
            .oneshot(get("/lists/tenant-a/todos", Some(token)))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.body(),
            "tenant=tenant-a;sub=user-1;role=TenantAdmin;tier=Premium"
        );

        // Non-member (including the token's own tenant claim): 403.
        for uri in ["/lists/tenant-b", "/lists/tenant-z/todos"] {
            let before = calls.load(Ordering::SeqCst);
            let response = service
                .clone()
                .oneshot(get(uri, Some(token)))
                .await
                .unwrap();
            assert_eq!(response.status(), 403, "{uri}");
            let body: Value = serde_json::from_str(response.body()).unwrap();
            assert_eq!(body["error"]["code"], "forbidden");
            assert_eq!(calls.load(Ordering::SeqCst), before);
        }

        // A route that names no tenant: the identity only.
        let response = service
            .clone()
            .oneshot(get("/me", Some(token)))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.body(), "identity=user-1");
        let response = service
            .clone()
            .oneshot(get("/lists", Some(token)))
            .await
            .unwrap();
        assert_eq!(response.body(), "identity=user-1");

        // The lookup cannot answer: 503 with Retry-After, never access.
        let before = calls.load(Ordering::SeqCst);
        let response = service
            .clone()
            .oneshot(get("/lists/broken", Some(token)))
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
        assert!(response.headers().contains_key("retry-after"));
        let body: Value = serde_json::from_str(response.body()).unwrap();
        assert_eq!(body["error"]["code"], "unavailable");
        assert_eq!(calls.load(Ordering::SeqCst), before);
    }
    // Without a token, the lookup is never asked.
    let before = lookups.load(Ordering::SeqCst);
    let response = service.oneshot(get("/lists/tenant-a", None)).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(lookups.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn on_rejection_maps_non_members_to_404() {
    let _serial = SERIAL.lock().await;
    let issuer = TestIssuer::start().await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = selecting_layer(&issuer, Arc::new(AtomicUsize::new(0)))
        .await
        .on_rejection(|rejection| match rejection {
            TenantRejection::NotAMember => {
                let mut response = http::Response::new(r#"{"error":{"code":"not_found"}}"#.into());
                *response.status_mut() = http::StatusCode::NOT_FOUND;
                response
            }
            other => other.to_response(),
        });
    let service = layer.layer(echo(calls.clone()));
    let token = issuer.token().sign();

    let response = service
        .clone()
        .oneshot(get("/lists/tenant-b", Some(&token)))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.body().contains("not_found"));
    // Other rejections keep their own response.
    let response = service
        .clone()
        .oneshot(get("/lists/tenant-b", None))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = service
        .clone()
        .oneshot(get("/lists/broken", Some(&token)))
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // Members are unaffected.
    let response = service
        .oneshot(get("/lists/tenant-a", Some(&token)))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------- logging

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn handler_log_lines_carry_the_tenant_of_their_request() {
    let _serial = SERIAL.lock().await;
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();

    let issuer = TestIssuer::start().await.unwrap();
    let service = RequireTenantLayer::new(bearer_resolver(&issuer).await)
        .layer(echo(Arc::new(AtomicUsize::new(0))));
    let a = issuer.token().tenant("tenant-a").subject("ann").sign();
    let b = issuer
        .token()
        .tenant("tenant-b")
        .tier("Premium")
        .subject("bob")
        .sign();

    // Interleave the two tenants' requests on this one thread.
    let (ra, rb) = tokio::join!(
        service.clone().oneshot(get("/", Some(&a))),
        service.clone().oneshot(get("/", Some(&b))),
    );
    assert_eq!(ra.unwrap().status(), 200);
    assert_eq!(rb.unwrap().status(), 200);
    let refused = service.oneshot(get("/", None)).await.unwrap();
    assert_eq!(refused.status(), 401);

    let output = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = output
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let handler_lines: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["marker"] == "in-handler")
        .collect();
    assert_eq!(handler_lines.len(), 2, "{output}");
    for line in handler_lines {
        let body = line["fields"]["body"].as_str().unwrap();
        let (tenant, sub, tier) = if body.starts_with("tenant=tenant-a;") {
            ("tenant-a", "ann", "Basic")
        } else {
            ("tenant-b", "bob", "Premium")
        };
        assert_eq!(line["span"]["name"], "request", "{line}");
        assert_eq!(line["span"]["tenant.id"], tenant, "{line}");
        assert_eq!(line["span"]["tenant.tier"], tier, "{line}");
        assert_eq!(line["span"]["user.sub"], sub, "{line}");
        let request_span = line["spans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "request")
            .unwrap();
        assert_eq!(request_span["tenant.id"], tenant);
    }
    // The refusal is logged inside its request span, with no tenant and no token.
    let refusal = lines
        .iter()
        .find(|l| l["fields"]["rejection"] == "missing_credentials")
        .unwrap_or_else(|| panic!("no refusal line in {output}"));
    assert_eq!(refusal["fields"]["status"], 401);
    assert!(refusal["span"].get("tenant.id").is_none());
    assert!(
        !output.contains(&a) && !output.contains(&b),
        "a token was logged"
    );
}

// ---------------------------------------------------------------- axum

async fn whoami(ctx: TenantContext) -> String {
    format!("{} as {}", ctx.tenant_id(), ctx.role())
}

async fn me(identity: Identity, ctx: Option<TenantContext>) -> String {
    format!(
        "{} {:?}",
        identity.user().sub,
        ctx.map(|c| c.tenant_id().to_string())
    )
}

fn router() -> axum::Router {
    axum::Router::new()
        .route("/whoami", axum::routing::get(whoami))
        .route("/me", axum::routing::get(me))
}

fn axum_get(uri: &str, token: Option<&str>) -> http::Request<axum::body::Body> {
    let mut builder = http::Request::get(uri);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(axum::body::Body::empty()).unwrap()
}

async fn text(response: http::Response<axum::body::Body>) -> String {
    use http_body_util::BodyExt;
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn axum_router_with_the_layer() {
    let _serial = SERIAL.lock().await;
    let issuer = TestIssuer::start().await.unwrap();
    let app = router().layer(RequireTenantLayer::new(bearer_resolver(&issuer).await));
    let token = issuer.token().tenant("tenant-a").role("TenantAdmin").sign();

    let response = app
        .clone()
        .oneshot(axum_get("/whoami", Some(&token)))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(text(response).await, "tenant-a as TenantAdmin");

    let response = app
        .clone()
        .oneshot(axum_get("/me", Some(&token)))
        .await
        .unwrap();
    assert_eq!(text(response).await, r#"user-1 Some("tenant-a")"#);

    let response = app.oneshot(axum_get("/whoami", None)).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let body: Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");
}

#[tokio::test]
async fn axum_router_without_the_layer_is_a_500_not_a_pass() {
    let _serial = SERIAL.lock().await;
    let issuer = TestIssuer::start().await.unwrap();
    let token = issuer.token().tenant("tenant-a").sign();
    for token in [Some(token.as_str()), None] {
        for uri in ["/whoami", "/me"] {
            let response = router().oneshot(axum_get(uri, token)).await.unwrap();
            assert_eq!(response.status(), 500, "{uri}");
            let body: Value = serde_json::from_str(&text(response).await).unwrap();
            assert_eq!(body["error"]["code"], "internal");
        }
    }
    assert_eq!(
        TenantRejection::MissingTenantContext.status(),
        http::StatusCode::INTERNAL_SERVER_ERROR
    );
}
