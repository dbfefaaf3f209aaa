//! Lambda hosting: the router driven by API Gateway HTTP API (v2) events, as `lambda_http` turns
//! them into requests, answers exactly as the local server does for the same requests, on the
//! same data: the success and error cases of each kind of route.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

const FIXTURE: &str = include_str!("fixtures/apigw_v2_request.json");

/// The fixture made into `method path?query` with these headers and body.
fn event(method: &str, path_and_query: &str, token: Option<&str>, body: Option<&Value>) -> String {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut event: Value = serde_json::from_str(FIXTURE).unwrap();
    event["rawPath"] = path.into();
    event["rawQueryString"] = query.into();
    event["requestContext"]["http"]["method"] = method.into();
    event["requestContext"]["http"]["path"] = path.into();
    if !query.is_empty() {
        let params: serde_json::Map<String, Value> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), Value::from(v)))
            .collect();
        event["queryStringParameters"] = Value::Object(params);
    }
    let headers = event["headers"].as_object_mut().unwrap();
    if let Some(token) = token {
        headers.insert("authorization".into(), format!("Bearer {token}").into());
    }
    if let Some(body) = body {
        let text = body.to_string();
        headers.insert("content-type".into(), "application/json".into());
        headers.insert("content-length".into(), text.len().to_string().into());
        event["body"] = text.into();
    }
    event.to_string()
}

async fn via_lambda(router: &Router, event: &str) -> (u16, Value) {
    let request = lambda_http::request::from_str(event).expect("a valid HTTP API event");
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn via_http(
    client: &reqwest::Client,
    url: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = client.request(method.parse().unwrap(), format!("{url}{path}"));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(body);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn http_api_events_get_the_local_servers_answers() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = todo::build(&todo::Config::local(dir.path()), &url)
        .await
        .unwrap();
    let router = app.router.clone();
    let served = router.clone();
    let server = tokio::spawn(async move { axum::serve(listener, served).await });
    let client = reqwest::Client::new();

    let (_, ann) = via_http(
        &client,
        &url,
        "POST",
        "/dev/token",
        None,
        Some(&json!({"email": "ann@example.com"})),
    )
    .await;
    let (_, bob) = via_http(
        &client,
        &url,
        "POST",
        "/dev/token",
        None,
        Some(&json!({"email": "bob@example.com"})),
    )
    .await;
    let ann = ann["id_token"].as_str().unwrap().to_owned();
    let bob = bob["id_token"].as_str().unwrap().to_owned();

    // Writes through Lambda events are seen by the local server, and the other way round.
    let (status, list) = via_lambda(
        &router,
        &event(
            "POST",
            "/lists",
            Some(&ann),
            Some(&json!({"name": "via lambda"})),
        ),
    )
    .await;
    assert_eq!(status, 201, "{list}");
    let id = list["id"].as_str().unwrap().to_owned();
    let (status, todo) = via_http(
        &client,
        &url,
        "POST",
        &format!("/lists/{id}/todos"),
        Some(&ann),
        Some(&json!({"title": "over http"})),
    )
    .await;
    assert_eq!(status, 201, "{todo}");

    // The same requests, both ways: the same status and the same body.
    let cases: Vec<(&str, String, Option<&str>, Option<Value>)> = vec![
        ("GET", "/health".into(), None, None),
        ("GET", "/me".into(), Some(&ann), None),
        ("GET", "/lists".into(), Some(&ann), None),
        ("GET", format!("/lists/{id}"), Some(&ann), None),
        (
            "GET",
            format!("/lists/{id}/todos?limit=10"),
            Some(&ann),
            None,
        ),
        (
            "GET",
            format!("/lists/{id}/todos?limit=0"),
            Some(&ann),
            None,
        ),
        (
            "GET",
            format!("/lists/{id}/todos/{}", todo["id"].as_str().unwrap()),
            Some(&ann),
            None,
        ),
        ("GET", format!("/lists/{id}/members"), Some(&ann), None),
        ("GET", format!("/lists/{id}"), None, None),
        ("GET", format!("/lists/{id}"), Some("not-a-token"), None),
        ("GET", format!("/lists/{id}"), Some(&bob), None),
        ("GET", "/lists/no-such-list/todos".into(), Some(&ann), None),
        (
            "POST",
            format!("/lists/{id}/todos"),
            Some(&ann),
            Some(json!({"title": "x", "extra": 1})),
        ),
        (
            "DELETE",
            format!("/lists/{id}/members/ann@example.com"),
            Some(&ann),
            None,
        ),
        ("GET", "/nowhere".into(), None, None),
    ];
    for (method, path, token, body) in &cases {
        let lambda = via_lambda(&router, &event(method, path, *token, body.as_ref())).await;
        let http = via_http(&client, &url, method, path, *token, body.as_ref()).await;
        assert_eq!(lambda, http, "{method} {path}");
    }
    // And they are the contract's answers.
    let statuses: Vec<u16> = {
        let mut out = Vec::new();
        for (method, path, token, body) in &cases {
            out.push(
                via_lambda(&router, &event(method, path, *token, body.as_ref()))
                    .await
                    .0,
            );
        }
        out
    };
    assert_eq!(
        statuses,
        [
            200, 200, 200, 200, 200, 400, 200, 200, 401, 401, 404, 404, 400, 409, 404
        ]
    );
    server.abort();
}
