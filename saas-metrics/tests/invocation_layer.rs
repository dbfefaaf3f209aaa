//! `InvocationMetricsLayer`: what it records for each request (invocations, cold start, client
//! and server errors, duration, consumption per tenant), that it flushes whatever the handler
//! returns, that a failed flush leaves the response alone, and what it does without a tenant.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use saas_core::TenantContext;
use saas_metrics::layer::InvocationMetricsLayer;
use saas_metrics::{MemorySink, MetricGroup, Metrics, Sink, TenantMetrics, Unit, consumption};
use tower::{Layer, Service, ServiceExt, service_fn};
use tracing::instrument::WithSubscriber;

use common::Capture;

/// The handler's own error.
#[derive(Debug)]
struct Failed;

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the handler failed")
    }
}

impl std::error::Error for Failed {}

/// What the handler does, by path: `/status/<code>` answers that status, `/fail` fails,
/// `/sleep/<ms>` sleeps first. It counts `Handled` (1) when it finds its `TenantMetrics`.
async fn handler(req: Request<String>) -> Result<Response<String>, Failed> {
    let path = req.uri().path().to_owned();
    let metrics = req.extensions().get::<TenantMetrics>().cloned();
    if let Some(m) = &metrics {
        m.count("Handled", 1.0).unwrap();
    }
    let tenant = metrics
        .as_ref()
        .map_or("none", |m| m.tenant_id())
        .to_owned();
    let mut parts = path.trim_start_matches('/').split('/');
    match (parts.next(), parts.next()) {
        (Some("fail"), _) => Err(Failed),
        (Some("status"), Some(code)) => Ok(Response::builder()
            .status(code.parse::<u16>().unwrap())
            .body(format!("{tenant} {code}"))
            .unwrap()),
        (Some("sleep"), Some(ms)) => {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
            Ok(Response::new(format!("{tenant} slept")))
        }
        _ => Ok(Response::new(format!("{tenant} ok"))),
    }
}

fn request(tenant: Option<&str>, path: &str) -> Request<String> {
    let mut req = Request::builder().uri(path).body(String::new()).unwrap();
    if let Some(t) = tenant {
        req.extensions_mut()
            .insert(TenantContext::builder(t).build());
    }
    req
}

fn metrics(sink: &MemorySink) -> Metrics {
    Metrics::builder("Test")
        .unwrap()
        .service("todo")
        .unwrap()
        .sink(sink.clone())
        .build()
}

fn application(groups: &[MetricGroup]) -> &MetricGroup {
    let app: Vec<_> = groups
        .iter()
        .filter(|g| g.metric("Invocations").is_some())
        .collect();
    assert_eq!(app.len(), 1, "{groups:?}");
    app[0]
}

fn consumption_group(groups: &[MetricGroup]) -> &MetricGroup {
    let found: Vec<_> = groups
        .iter()
        .filter(|g| g.metric(consumption::REQUESTS).is_some())
        .collect();
    assert_eq!(found.len(), 1, "{groups:?}");
    found[0]
}

fn has(group: &MetricGroup, name: &str) -> bool {
    group.metric(name).is_some_and(|m| m.values() == [1.0])
}

#[tokio::test]
async fn each_request_is_counted_with_its_errors_and_only_the_first_as_cold() {
    let sink = MemorySink::new();
    let layer = InvocationMetricsLayer::new(metrics(&sink));
    let mut app = layer.layer(service_fn(handler));
    // (path, status or None for the handler's error, ClientErrors, ServerErrors)
    let cases = [
        ("/status/200", Some(200), false, false),
        ("/status/404", Some(404), true, false),
        ("/status/499", Some(499), true, false),
        ("/status/302", Some(302), false, false),
        ("/status/500", Some(500), false, true),
        ("/status/503", Some(503), false, true),
        ("/fail", None, false, true),
        ("/status/400", Some(400), true, false),
    ];
    for (i, (path, status, client, server)) in cases.into_iter().enumerate() {
        let tenant = if i % 2 == 0 { "tenant-a" } else { "tenant-b" };
        let result = app
            .ready()
            .await
            .unwrap()
            .call(request(Some(tenant), path))
            .await;
        match status {
            Some(code) => {
                let response = result.unwrap();
                assert_eq!(response.status().as_u16(), code, "{path}");
                assert_eq!(response.body(), &format!("{tenant} {code}"));
            }
            None => assert!(matches!(result, Err(Failed)), "{path}: {result:?}"),
        }
        // Flushed when the request is done, error or not.
        let groups = sink.groups();
        assert_eq!(groups.len(), 2, "{path}: {groups:?}");
        for g in &groups {
            assert_eq!(g.tenant_id(), Some(tenant), "{path}");
        }
        let app_group = application(&groups);
        assert!(has(app_group, "Invocations"), "{path}");
        assert!(has(app_group, "Handled"), "{path}");
        assert_eq!(has(app_group, "ColdStart"), i == 0, "{path}: ColdStart");
        assert_eq!(
            has(app_group, "ClientErrors"),
            client,
            "{path}: ClientErrors"
        );
        assert_eq!(
            has(app_group, "ServerErrors"),
            server,
            "{path}: ServerErrors"
        );
        for absent in ["ColdStart", "ClientErrors", "ServerErrors"] {
            if let Some(m) = app_group.metric(absent) {
                assert_eq!(m.values(), [1.0], "{path}: {absent}");
            }
        }
        assert_eq!(app_group.dimension("service"), Some("todo"));
        assert_eq!(app_group.dimension("tier"), Some("Basic"));
        assert_eq!(app_group.dimension("tenant_id"), None);
        let used = consumption_group(&groups);
        assert_eq!(used.metric(consumption::REQUESTS).unwrap().values(), [1.0]);
        assert_eq!(
            used.dimensions(),
            [
                ("service".to_owned(), "todo".to_owned()),
                ("tenant_id".to_owned(), tenant.to_owned())
            ]
        );
        sink.clear();
    }
}

#[tokio::test]
async fn duration_and_compute_time_are_the_handlers_wall_time() {
    let sink = MemorySink::new();
    let mut app = InvocationMetricsLayer::new(metrics(&sink)).layer(service_fn(handler));
    let response = app
        .ready()
        .await
        .unwrap()
        .call(request(Some("tenant-a"), "/sleep/60"))
        .await
        .unwrap();
    assert_eq!(response.body(), "tenant-a slept");
    let groups = sink.groups();
    let duration = application(&groups).metric("Duration").unwrap();
    assert_eq!(duration.unit(), Unit::Milliseconds);
    assert_eq!(duration.values().len(), 1);
    let ms = duration.values()[0];
    assert!((60.0..10_000.0).contains(&ms), "Duration {ms}");
    let compute = consumption_group(&groups)
        .metric(consumption::COMPUTE_TIME)
        .unwrap();
    assert_eq!(compute.unit(), Unit::Milliseconds);
    // One clock for both.
    assert_eq!(compute.values(), [ms]);
    assert_eq!(sink.sum(consumption::REQUESTS, "tenant-a"), 1.0);
}

#[tokio::test]
async fn clones_of_a_layer_share_one_cold_start() {
    let sink = MemorySink::new();
    let layer = InvocationMetricsLayer::new(metrics(&sink));
    let mut first = layer.clone().layer(service_fn(handler));
    let mut second = layer.layer(service_fn(handler));
    first
        .ready()
        .await
        .unwrap()
        .call(request(Some("tenant-a"), "/"))
        .await
        .unwrap();
    second
        .ready()
        .await
        .unwrap()
        .call(request(Some("tenant-a"), "/"))
        .await
        .unwrap();
    first
        .ready()
        .await
        .unwrap()
        .call(request(Some("tenant-a"), "/"))
        .await
        .unwrap();
    assert_eq!(sink.sum("Invocations", "tenant-a"), 3.0);
    assert_eq!(sink.values("ColdStart", "tenant-a"), [1.0]);
    assert!(has(&sink.groups()[0], "ColdStart"));
}

#[tokio::test]
async fn a_request_without_a_tenant_is_served_unmetered_and_logged() {
    let sink = MemorySink::new();
    let mut app = InvocationMetricsLayer::new(metrics(&sink)).layer(service_fn(handler));
    let capture = Capture::default();
    // The layer logs when it is called, before its future runs: all of it under the capture.
    let response = async { app.ready().await?.call(request(None, "/status/201")).await }
        .with_subscriber(capture.clone())
        .await
        .unwrap();
    // The handler ran without metrics: no tenant was made up for it.
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.body(), "none 201");
    assert!(sink.groups().is_empty(), "{:?}", sink.groups());
    assert_eq!(capture.find("ERROR", "no TenantContext").len(), 1);

    // The next request with a tenant is metered as usual (and is the cold start: the first
    // request metered).
    app.ready()
        .await
        .unwrap()
        .call(request(Some("tenant-a"), "/"))
        .await
        .unwrap();
    assert_eq!(sink.groups().len(), 2);
    assert!(
        sink.groups()
            .iter()
            .all(|g| g.tenant_id() == Some("tenant-a"))
    );
}

#[tokio::test]
async fn the_operation_names_a_dimension_and_a_bad_one_loses_nothing_else() {
    let sink = MemorySink::new();
    let layer =
        InvocationMetricsLayer::new(metrics(&sink)).operation(|parts| match parts.uri.path() {
            "/todos" => Some("list_todos".to_owned()),
            "/bad" => Some("naïve".to_owned()),
            _ => None,
        });
    let mut app = layer.layer(service_fn(handler));
    for path in ["/todos", "/other"] {
        app.ready()
            .await
            .unwrap()
            .call(request(Some("tenant-a"), path))
            .await
            .unwrap();
        let groups = sink.groups();
        let expected = (path == "/todos").then_some("list_todos");
        assert_eq!(application(&groups).dimension("operation"), expected);
        // Consumption stays per tenant, not per operation.
        assert_eq!(consumption_group(&groups).dimension("operation"), None);
        sink.clear();
    }

    let capture = Capture::default();
    app.ready()
        .await
        .unwrap()
        .call(request(Some("tenant-a"), "/bad"))
        .with_subscriber(capture.clone())
        .await
        .unwrap();
    let groups = sink.groups();
    let app_group = application(&groups);
    assert_eq!(app_group.dimension("operation"), None);
    assert!(has(app_group, "Invocations") && has(app_group, "Handled"));
    assert!(app_group.metric("Duration").is_some());
    assert_eq!(sink.sum(consumption::REQUESTS, "tenant-a"), 1.0);
    assert_eq!(
        capture
            .find("WARN", "invocation metrics not recorded")
            .len(),
        1
    );
}

#[tokio::test]
async fn a_name_the_handler_took_costs_only_that_metric() {
    let sink = MemorySink::new();
    let taken = service_fn(|req: Request<String>| async move {
        let m = req.extensions().get::<TenantMetrics>().cloned().unwrap();
        m.property("Invocations", "mine").unwrap();
        Ok::<_, Infallible>(Response::new(String::new()))
    });
    let mut app = InvocationMetricsLayer::new(metrics(&sink)).layer(taken);
    app.ready()
        .await
        .unwrap()
        .call(request(Some("tenant-a"), "/"))
        .await
        .unwrap();
    assert_eq!(sink.sum("Invocations", "tenant-a"), 0.0);
    assert_eq!(sink.sum("ColdStart", "tenant-a"), 1.0);
    assert_eq!(sink.sum(consumption::REQUESTS, "tenant-a"), 1.0);
    assert_eq!(sink.values(consumption::COMPUTE_TIME, "tenant-a").len(), 1);
}

/// A writer that always fails, for a sink that cannot publish.
struct Broken(Arc<AtomicUsize>);

impl std::io::Write for Broken {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(std::io::Error::other("disk full"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Err(std::io::Error::other("disk full"))
    }
}

#[tokio::test]
async fn a_failed_flush_is_logged_and_the_response_goes_out_unchanged() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let metrics = Metrics::builder("Test")
        .unwrap()
        .sink(Sink::emf_writer(Broken(attempts.clone())))
        .build();
    let mut app = InvocationMetricsLayer::new(metrics).layer(service_fn(handler));
    let capture = Capture::default();
    let response = app
        .ready()
        .await
        .unwrap()
        .call(request(Some("tenant-a"), "/status/418"))
        .with_subscriber(capture.clone())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
    assert_eq!(response.body(), "tenant-a 418");
    assert!(attempts.load(Ordering::SeqCst) > 0, "the sink was tried");
    let logged = capture.find("WARN", "metrics flush failed");
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].contains("disk full"), "{logged:?}");

    let failed = app
        .ready()
        .await
        .unwrap()
        .call(request(Some("tenant-a"), "/fail"))
        .await;
    assert!(matches!(failed, Err(Failed)));
}
