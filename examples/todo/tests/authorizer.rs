//! The Lambda authorizer on HTTP API authorizer events: a verified token is allowed with the
//! caller's identity (never a list) as context; anything else is denied. Behind it, the service
//! reads that context from API Gateway's request and still authorises each list by membership.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime};

use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

const AUTHORIZER_EVENT: &str = include_str!("fixtures/apigw_v2_authorizer_request.json");
const REQUEST_EVENT: &str = include_str!("fixtures/apigw_v2_request.json");

fn authorizer_event(
    authorization: Option<&str>,
) -> aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request {
    let mut event: Value = serde_json::from_str(AUTHORIZER_EVENT).unwrap();
    match authorization {
        Some(value) => {
            event["headers"]["authorization"] = value.into();
            event["identitySource"] = json!([value]);
        }
        None => {
            event["headers"]
                .as_object_mut()
                .unwrap()
                .remove("authorization");
            event["identitySource"] = json!([]);
        }
    }
    serde_json::from_value(event).unwrap()
}

/// An HTTP API request event for `method path`, carrying a Lambda authorizer's context and no
/// token (API Gateway passes the context, not the header, to the function in this test).
fn request_event(method: &str, path: &str, context: &Value, body: Option<&Value>) -> String {
    let mut event: Value = serde_json::from_str(REQUEST_EVENT).unwrap();
    event["rawPath"] = path.into();
    event["requestContext"]["http"]["method"] = method.into();
    event["requestContext"]["http"]["path"] = path.into();
    event["requestContext"]["authorizer"] = json!({"lambda": context});
    if let Some(body) = body {
        event["headers"]["content-type"] = "application/json".into();
        event["body"] = body.to_string().into();
    }
    event.to_string()
}

async fn call(router: &axum::Router, event: &str) -> (u16, Value) {
    let request = lambda_http::request::from_str(event).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn verified_callers_are_allowed_as_themselves_and_lists_are_still_checked() {
    let dir = tempfile::tempdir().unwrap();
    let config = todo::Config::local(dir.path());
    let url = "http://todo.test";
    let app = todo::build(&config, url).await.unwrap();
    let (verifier, dev) = todo::verifier(&config, url).unwrap();
    let dev = dev.unwrap();
    let authorizer = todo::authorizer::Authorizer::new(verifier).unwrap();

    let ann = dev.mint("ann@example.com").unwrap();
    let allowed = authorizer
        .authorize(&authorizer_event(Some(&format!("Bearer {ann}"))))
        .await;
    assert!(allowed.is_authorized);
    let ann_context = allowed.context.clone();
    assert_eq!(ann_context["email"], "ann@example.com");
    assert_eq!(ann_context["email_verified"], "true");
    assert_eq!(
        ann_context["sub"],
        saas_core::dev_issuer::DevIssuer::subject("ann@example.com").unwrap()
    );
    assert!(ann_context.get("tenantId").is_none(), "{ann_context}");

    // Denied: no token, garbage, another scheme, an expired token.
    let expired = dev
        .token("ann@example.com")
        .issued_at(SystemTime::now() - Duration::from_secs(7200))
        .sign()
        .unwrap();
    for header in [
        None,
        Some("Bearer nonsense".to_owned()),
        Some(format!("Basic {ann}")),
        Some(format!("Bearer {expired}")),
    ] {
        let answer = authorizer
            .authorize(&authorizer_event(header.as_deref()))
            .await;
        assert!(!answer.is_authorized, "{header:?}");
        assert_eq!(answer.context, json!({}));
    }

    // Behind it: the context is the caller; each list is still authorised by membership.
    let (status, list) = call(
        &app.router,
        &request_event(
            "POST",
            "/lists",
            &ann_context,
            Some(&json!({"name": "behind the authorizer"})),
        ),
    )
    .await;
    assert_eq!(status, 201, "{list}");
    let id = list["id"].as_str().unwrap();
    let (status, _) = call(
        &app.router,
        &request_event("GET", &format!("/lists/{id}"), &ann_context, None),
    )
    .await;
    assert_eq!(status, 200);
    let bob = dev.mint("bob@example.com").unwrap();
    let bob_context = authorizer
        .authorize(&authorizer_event(Some(&format!("Bearer {bob}"))))
        .await
        .context;
    let (status, body) = call(
        &app.router,
        &request_event("GET", &format!("/lists/{id}"), &bob_context, None),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn the_callers_tier_passes_through_the_authorizer_and_places_their_lists() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = todo::Config::local(dir.path());
    config.silo = Some(todo::SiloConfig {
        registry_table: "todo-registry".into(),
        prefix: "todo-list-".into(),
    });
    let url = "http://todo.test";
    let app = todo::build(&config, url).await.unwrap();
    let (verifier, dev) = todo::verifier(&config, url).unwrap();
    let dev = dev.unwrap();
    let authorizer = todo::authorizer::Authorizer::new(verifier).unwrap();

    let mut lists = Vec::new();
    for (email, tier) in [
        ("pam@example.com", Some("premium")),
        ("bea@example.com", None),
    ] {
        let mut token = dev.token(email);
        if let Some(tier) = tier {
            token = token.claim("custom:tier", tier);
        }
        let token = token.sign().unwrap();
        let allowed = authorizer
            .authorize(&authorizer_event(Some(&format!("Bearer {token}"))))
            .await;
        assert!(allowed.is_authorized);
        assert_eq!(
            allowed.context.get("custom:tier").and_then(Value::as_str),
            tier
        );
        let (status, list) = call(
            &app.router,
            &request_event(
                "POST",
                "/lists",
                &allowed.context,
                Some(&json!({"name": "placed by tier"})),
            ),
        )
        .await;
        assert_eq!(status, 201, "{list}");
        lists.push(list["id"].as_str().unwrap().to_owned());
    }
    app.shutdown().await;

    let store = todo::open_store(&config).await.unwrap();
    let registry = store.system("test: placements").registry();
    let placement = |record: Option<saas_data::TenantRecord>| record.unwrap().placement;
    let premium = registry.get(&lists[0].parse().unwrap()).await.unwrap();
    assert_eq!(placement(premium), saas_data::Placement::Silo);
    let basic = registry.get(&lists[1].parse().unwrap()).await.unwrap();
    assert_eq!(placement(basic), saas_data::Placement::Pool);
}
