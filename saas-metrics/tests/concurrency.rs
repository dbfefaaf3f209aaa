//! 1,000 concurrent invocations of 50 tenants through `InvocationMetricsLayer` on a
//! multi-threaded runtime, each counting from its handler and from tasks it spawns: every
//! tenant's figures come out exact, in groups of that tenant only, both in a `MemorySink` and as
//! EMF lines written to one shared writer (whole lines, never interleaved).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::convert::Infallible;

use http::{Request, Response};
use saas_core::TenantContext;
use saas_metrics::layer::InvocationMetricsLayer;
use saas_metrics::{MemorySink, Metrics, Sink, TenantMetrics, Unit, consumption};
use serde_json::Value;
use tower::{Layer, ServiceExt, service_fn};

use common::Buffer;

const TENANTS: usize = 50;
const INVOCATIONS: usize = 1000;

fn tenant(i: usize) -> String {
    format!("tenant-{:02}", i % TENANTS)
}

/// How many things tenant `t`'s invocations count each: 1 to 50.
fn things(t: usize) -> usize {
    t % TENANTS + 1
}

/// Counts `things` for the invocation: every other one from a spawned task of its own, the rest
/// in the handler, and records the invocation's number as a gauge.
async fn handler(req: Request<String>) -> Result<Response<String>, Infallible> {
    let m = req.extensions().get::<TenantMetrics>().cloned().unwrap();
    let seq: usize = req.uri().path().trim_start_matches('/').parse().unwrap();
    let own = format!("Things_{}", m.tenant_id());
    let mut tasks = Vec::new();
    for k in 0..things(seq) {
        if k % 2 == 0 {
            m.count("Things", 1.0).unwrap();
            m.count(&own, 1.0).unwrap();
            tokio::task::yield_now().await;
        } else {
            let m = m.clone();
            let own = own.clone();
            tasks.push(tokio::spawn(async move {
                tokio::task::yield_now().await;
                m.count("Things", 1.0).unwrap();
                m.count(&own, 1.0).unwrap();
            }));
        }
    }
    m.gauge("Seq", seq as f64, Unit::None).unwrap();
    for task in tasks {
        task.await.unwrap();
    }
    Ok(Response::new(m.tenant_id().to_owned()))
}

/// Runs the invocations at once through one layer over `metrics`.
async fn run(metrics: Metrics) {
    let app = InvocationMetricsLayer::new(metrics).layer(service_fn(handler));
    let mut calls = Vec::new();
    for i in 0..INVOCATIONS {
        let mut req = Request::builder()
            .uri(format!("/{i}"))
            .body(String::new())
            .unwrap();
        req.extensions_mut()
            .insert(TenantContext::builder(&tenant(i)).build());
        let app = app.clone();
        calls.push(tokio::spawn(async move {
            let response = app.oneshot(req).await.unwrap();
            assert_eq!(response.body(), &tenant(i));
        }));
    }
    for call in calls {
        call.await.unwrap();
    }
}

/// What each tenant should have: invocations, things, the invocation numbers.
fn expected() -> BTreeMap<String, (f64, f64, Vec<f64>)> {
    let mut want: BTreeMap<String, (f64, f64, Vec<f64>)> = BTreeMap::new();
    for i in 0..INVOCATIONS {
        let entry = want.entry(tenant(i)).or_default();
        entry.0 += 1.0;
        entry.1 += things(i) as f64;
        entry.2.push(i as f64);
    }
    assert_eq!(want.len(), TENANTS);
    want
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_invocations_keep_every_tenants_figures_exact_and_apart() {
    let sink = MemorySink::new();
    let metrics = Metrics::builder("Test")
        .unwrap()
        .service("todo")
        .unwrap()
        .sink(sink.clone())
        .build();
    run(metrics).await;

    let groups = sink.groups();
    // One application group and one consumption group per invocation.
    assert_eq!(groups.len(), 2 * INVOCATIONS);
    for g in &groups {
        let t = g.tenant_id().unwrap();
        assert_eq!(g.properties()["tenant_id"], t);
        for m in g.metrics() {
            if let Some(owner) = m.name().strip_prefix("Things_") {
                assert_eq!(owner, t, "{}'s metric in a group of {t}", m.name());
            }
        }
        if let Some(dim) = g.dimension("tenant_id") {
            assert_eq!(dim, t);
        }
    }
    for (t, (invocations, things, mut seqs)) in expected() {
        assert_eq!(sink.sum("Invocations", &t), invocations, "{t}");
        assert_eq!(sink.sum(consumption::REQUESTS, &t), invocations, "{t}");
        assert_eq!(sink.sum("Things", &t), things, "{t}");
        assert_eq!(sink.sum(&format!("Things_{t}"), &t), things, "{t}");
        let mut got = sink.values("Seq", &t);
        got.sort_by(f64::total_cmp);
        seqs.sort_by(f64::total_cmp);
        assert_eq!(got, seqs, "{t}: each invocation's own value, once");
        assert_eq!(sink.values(consumption::COMPUTE_TIME, &t).len(), seqs.len());
    }
    let cold: f64 = groups
        .iter()
        .filter_map(|g| g.metric("ColdStart"))
        .map(|m| m.sum())
        .sum();
    assert_eq!(cold, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_flushes_write_whole_emf_lines_to_one_writer() {
    // The writer takes 7 bytes a call and yields: unserialised writes would interleave.
    let out = Buffer::chunked(7);
    let metrics = Metrics::builder("Test")
        .unwrap()
        .service("todo")
        .unwrap()
        .sink(Sink::emf_writer(out.clone()))
        .build();
    run(metrics).await;

    let text = out.text();
    assert!(text.ends_with('\n'));
    let mut sums: BTreeMap<String, (f64, f64, f64, Vec<f64>)> = BTreeMap::new();
    let mut lines = 0;
    for line in text.lines() {
        lines += 1;
        let doc: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line {lines} is not one JSON document ({e}): {line}"));
        let t = doc["tenant_id"].as_str().unwrap().to_owned();
        assert!(doc["_aws"]["CloudWatchMetrics"].is_array());
        let entry = sums.entry(t.clone()).or_default();
        let number = |name: &str| doc.get(name).map_or(0.0, |v| v.as_f64().unwrap());
        entry.0 += number("Invocations");
        entry.1 += number("Things");
        entry.2 += number(consumption::REQUESTS);
        match doc.get("Seq") {
            Some(Value::Array(values)) => panic!("one Seq per invocation: {values:?}"),
            Some(v) => entry.3.push(v.as_f64().unwrap()),
            None => {}
        }
        for key in doc.as_object().unwrap().keys() {
            if let Some(owner) = key.strip_prefix("Things_") {
                assert_eq!(owner, t, "{key} in a line of {t}");
                assert_eq!(number(key), number("Things"));
            }
        }
    }
    assert_eq!(lines, 2 * INVOCATIONS);
    let want = expected();
    assert_eq!(sums.len(), want.len());
    for (t, (invocations, things, mut seqs)) in want {
        let (got_invocations, got_things, got_requests, mut got_seqs) = sums.remove(&t).unwrap();
        assert_eq!(got_invocations, invocations, "{t}");
        assert_eq!(got_requests, invocations, "{t}");
        assert_eq!(got_things, things, "{t}");
        got_seqs.sort_by(f64::total_cmp);
        seqs.sort_by(f64::total_cmp);
        assert_eq!(got_seqs, seqs, "{t}");
    }
}
