//! Unit tests of the manager: validation with typed errors, nothing recorded on an error,
//! aggregation, bounds and the empty-flush policy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use saas_core::{TenantContext, Tier};
use tracing::instrument::WithSubscriber;

use super::*;
use crate::error::NameKind;
use crate::sink::memory::MemorySink;
use crate::{MAX_AGE, MAX_AHEAD};

fn ctx(tenant: &str) -> TenantContext {
    TenantContext::builder(tenant).tier(Tier::Premium).build()
}

/// A configuration that fails an empty flush, so that `flush()` returning [`Error::Empty`]
/// proves nothing was recorded.
fn strict(sink: &MemorySink) -> Metrics {
    Metrics::builder("Test")
        .unwrap()
        .service("todo")
        .unwrap()
        .on_empty(OnEmpty::Error)
        .sink(sink.clone())
        .build()
}

async fn assert_nothing_recorded(m: &TenantMetrics, sink: &MemorySink) {
    let flushed = m.flush().await;
    assert!(matches!(flushed, Err(Error::Empty)), "{flushed:?}");
    assert!(sink.groups().is_empty(), "{:?}", sink.groups());
}

fn invalid_name(result: Result<()>, expected: NameKind, expected_reason: &str) {
    match result {
        Err(Error::InvalidName { kind, reason, .. }) => {
            assert_eq!(kind, expected);
            assert_eq!(reason, expected_reason);
        }
        other => panic!("expected InvalidName({expected:?}), got {other:?}"),
    }
}

/// Collects the messages of the events logged while a future runs.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = format!("{} ", event.metadata().level());
        event.record(&mut Fields(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

impl Capture {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn names_of_0_and_256_characters_are_refused_255_taken() {
    let sink = MemorySink::new();
    let metrics = strict(&sink);
    let m = metrics.for_tenant(&ctx("tenant-a"));
    let long = "n".repeat(256);

    invalid_name(m.count("", 1.0), NameKind::Metric, "empty");
    invalid_name(m.count(&long, 1.0), NameKind::Metric, "too long");
    invalid_name(
        m.gauge(&long, 1.0, Unit::Bytes),
        NameKind::Metric,
        "too long",
    );
    invalid_name(
        m.timing(&long, Duration::from_millis(1)),
        NameKind::Metric,
        "too long",
    );
    invalid_name(m.dimension("", "v"), NameKind::Dimension, "empty");
    invalid_name(m.dimension(&long, "v"), NameKind::Dimension, "too long");
    invalid_name(m.dimension("route", ""), NameKind::DimensionValue, "empty");
    invalid_name(
        m.dimension("route", &"v".repeat(1025)),
        NameKind::DimensionValue,
        "too long",
    );
    invalid_name(
        m.metric("Hits").dimension(&long, "v").count(1.0),
        NameKind::Dimension,
        "too long",
    );
    invalid_name(
        m.metric("Hits").dimension("route", "").count(1.0),
        NameKind::DimensionValue,
        "empty",
    );
    invalid_name(m.property("", 1), NameKind::Property, "empty");
    invalid_name(m.property(&long, 1), NameKind::Property, "too long");
    invalid_name(m.count("_aws", 1.0), NameKind::Metric, "reserved by EMF");
    invalid_name(m.property("_aws", 1), NameKind::Property, "reserved by EMF");
    assert!(matches!(
        Metrics::builder(""),
        Err(Error::InvalidName {
            kind: NameKind::Namespace,
            ..
        })
    ));
    assert!(matches!(
        Metrics::builder(&long),
        Err(Error::InvalidName {
            kind: NameKind::Namespace,
            ..
        })
    ));
    assert!(matches!(
        Metrics::builder("Test").unwrap().service(""),
        Err(Error::InvalidName {
            kind: NameKind::DimensionValue,
            ..
        })
    ));
    assert_nothing_recorded(&m, &sink).await;

    // The longest allowed of each is taken.
    let name = "m".repeat(255);
    m.dimension(&"d".repeat(255), &"v".repeat(1024)).unwrap();
    m.property(&"p".repeat(255), "x").unwrap();
    m.count(&name, 1.0).unwrap();
    m.flush().await.unwrap();
    let group = &sink.groups()[0];
    assert_eq!(group.metric(&name).unwrap().values(), [1.0]);
    assert_eq!(
        group.dimension(&"d".repeat(255)),
        Some("v".repeat(1024).as_str())
    );
    assert!(group.properties().contains_key(&"p".repeat(255)));
}

#[tokio::test]
async fn units_must_agree_and_timings_take_time_units_only() {
    let sink = MemorySink::new();
    let metrics = strict(&sink);
    let m = metrics.for_tenant(&ctx("tenant-a"));

    for unit in [Unit::Bytes, Unit::Count, Unit::None, Unit::Percent] {
        let refused = m
            .metric("Latency")
            .unit(unit)
            .timing(Duration::from_secs(1));
        assert!(
            matches!(&refused, Err(Error::Conflict { metric, second, .. })
                if metric == "Latency" && second == unit.as_str()),
            "{unit}: {refused:?}"
        );
    }
    assert_nothing_recorded(&m, &sink).await;

    m.gauge("Size", 1.0, Unit::Bytes).unwrap();
    let refused = m.gauge("Size", 2.0, Unit::Kilobytes);
    assert!(
        matches!(&refused, Err(Error::Conflict { metric, first, second })
            if metric == "Size" && first.contains("Bytes") && second.contains("Kilobytes")),
        "{refused:?}"
    );
    // A counter and a gauge of one name, or two resolutions, conflict too.
    assert!(matches!(
        m.metric("Size").unit(Unit::Bytes).count(1.0),
        Err(Error::Conflict { .. })
    ));
    assert!(matches!(
        m.metric("Size")
            .unit(Unit::Bytes)
            .high_resolution()
            .gauge(3.0),
        Err(Error::Conflict { .. })
    ));
    m.metric("Elapsed")
        .unit(Unit::Seconds)
        .timing(Duration::from_millis(1500))
        .unwrap();
    m.metric("Elapsed")
        .unit(Unit::Microseconds)
        .timing(Duration::from_millis(1))
        .unwrap_err();
    m.metric("Tiny")
        .unit(Unit::Microseconds)
        .timing(Duration::from_millis(2))
        .unwrap();
    m.timing("Default", Duration::from_millis(250)).unwrap();
    m.flush().await.unwrap();

    let group = &sink.groups()[0];
    let size = group.metric("Size").unwrap();
    assert_eq!((size.unit(), size.values()), (Unit::Bytes, &[1.0][..]));
    let elapsed = group.metric("Elapsed").unwrap();
    assert_eq!(
        (elapsed.unit(), elapsed.values()),
        (Unit::Seconds, &[1.5][..])
    );
    let tiny = group.metric("Tiny").unwrap();
    assert_eq!(
        (tiny.unit(), tiny.values()),
        (Unit::Microseconds, &[2000.0][..])
    );
    let default = group.metric("Default").unwrap();
    assert_eq!(
        (default.unit(), default.values()),
        (Unit::Milliseconds, &[250.0][..])
    );
    assert_eq!(group.metrics().len(), 4);
}

#[tokio::test]
async fn nan_infinite_and_huge_values_are_refused() {
    let sink = MemorySink::new();
    let metrics = strict(&sink);
    let m = metrics.for_tenant(&ctx("tenant-a"));
    let beyond = 2f64.powi(361);
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, beyond, -beyond] {
        for result in [
            m.count("Hits", bad),
            m.gauge("Load", bad, Unit::Percent),
            m.metric("Load")
                .unit(Unit::Percent)
                .high_resolution()
                .gauge(bad),
            m.record_capacity(bad, 1.0),
            m.record_capacity(1.0, bad),
        ] {
            match result {
                Err(Error::InvalidValue { value, .. }) => {
                    assert!(value.is_nan() == bad.is_nan() && (bad.is_nan() || value == bad));
                }
                other => panic!("{bad}: expected InvalidValue, got {other:?}"),
            }
        }
    }
    // record_capacity validates both before recording either.
    assert_nothing_recorded(&m, &sink).await;

    // A sum that would leave the range is refused and the sum so far kept.
    let limit = 2f64.powi(360);
    m.count("Big", limit).unwrap();
    assert!(matches!(
        m.count("Big", limit),
        Err(Error::InvalidValue { .. })
    ));
    m.flush().await.unwrap();
    assert_eq!(sink.values("Big", "tenant-a"), [limit]);
}

#[tokio::test]
async fn at_most_30_dimensions_per_metric_counting_every_source() {
    let sink = MemorySink::new();
    // service + tier: 2 dimensions of the crate's.
    let metrics = strict(&sink);
    let m = metrics.for_tenant(&ctx("tenant-a"));
    for i in 0..28 {
        m.dimension(&format!("d{i}"), "v").unwrap();
    }
    let refused = m.dimension("d28", "v");
    assert!(
        matches!(
            refused,
            Err(Error::TooManyDimensions { count: 31, max: 30 })
        ),
        "{refused:?}"
    );
    // Replacing one keeps the count.
    m.dimension("d0", "w").unwrap();
    // A metric's own dimension on top of 30 is refused; one replacing an invocation dimension
    // is not one more.
    assert!(matches!(
        m.metric("Hits").dimension("route", "/").count(1.0),
        Err(Error::TooManyDimensions { count: 31, .. })
    ));
    m.metric("Hits").dimension("d1", "own").count(1.0).unwrap();
    m.count("Plain", 1.0).unwrap();
    m.flush().await.unwrap();
    let groups = sink.groups();
    assert_eq!(groups.len(), 2, "{groups:?}");
    for g in &groups {
        assert_eq!(g.dimensions().len(), 30, "{:?}", g.dimensions());
        assert_eq!(g.dimension("d0"), Some("w"));
        assert_eq!(g.dimension("d28"), None);
    }
    let hits = groups.iter().find(|g| g.metric("Hits").is_some()).unwrap();
    assert_eq!(hits.dimension("d1"), Some("own"));
}

#[tokio::test]
async fn invocation_dimensions_count_with_the_pending_metrics_own() {
    let sink = MemorySink::new();
    let metrics = strict(&sink);
    let m = metrics.for_tenant(&ctx("tenant-a"));
    // 2 + 18 = 20 dimensions on Routed; 10 invocation dimensions more make 30, an 11th is one
    // too many for Routed even though a plain metric would still take it.
    let mut routed = m.metric("Routed");
    for i in 0..18 {
        routed = routed.dimension(&format!("own{i}"), "v");
    }
    routed.count(1.0).unwrap();
    for i in 0..10 {
        m.dimension(&format!("inv{i}"), "v").unwrap();
    }
    assert!(matches!(
        m.dimension("inv10", "v"),
        Err(Error::TooManyDimensions { count: 31, .. })
    ));
    m.flush().await.unwrap();
    let group = &sink.groups()[0];
    assert_eq!(group.dimensions().len(), 30);
    assert_eq!(group.dimension("inv10"), None);
}

#[tokio::test]
async fn consumption_metrics_count_only_their_own_dimensions() {
    let sink = MemorySink::new();
    // The application's metrics: service only; consumption: service and tenant_id.
    let metrics = Metrics::builder("Test")
        .unwrap()
        .service("todo")
        .unwrap()
        .tier_dimension(false)
        .sink(sink.clone())
        .build();
    let m = metrics.for_tenant(&ctx("tenant-a"));
    for i in 0..29 {
        m.dimension(&format!("d{i}"), "v").unwrap();
    }
    m.count("Hits", 1.0).unwrap();
    m.record_request().unwrap();
    m.flush().await.unwrap();
    let groups = sink.groups();
    let consumption = groups
        .iter()
        .find(|g| g.metric(consumption::REQUESTS).is_some())
        .unwrap();
    assert_eq!(
        consumption.dimensions(),
        [
            ("service".to_owned(), "todo".to_owned()),
            ("tenant_id".to_owned(), "tenant-a".to_owned())
        ]
    );
    let app = groups.iter().find(|g| g.metric("Hits").is_some()).unwrap();
    assert_eq!(app.dimensions().len(), 30);
}

#[tokio::test]
async fn timestamps_from_14_days_back_to_2_hours_ahead() {
    let sink = MemorySink::new();
    let metrics = strict(&sink);
    let m = metrics.for_tenant(&ctx("tenant-a"));
    let now = SystemTime::now();
    let minute = Duration::from_secs(60);
    for (at, what) in [
        (now - MAX_AGE - minute, "more than 14 days ago"),
        (now + MAX_AHEAD + minute, "more than 2 hours in the future"),
    ] {
        let refused = m.metric("Late").timestamp(at).count(1.0);
        assert!(
            matches!(refused, Err(Error::TimestampOutOfRange(w)) if w == what),
            "{refused:?}"
        );
        let refused = m.metric("Late").timestamp(at).gauge(1.0);
        assert!(matches!(refused, Err(Error::TimestampOutOfRange(_))));
    }
    assert_nothing_recorded(&m, &sink).await;

    let back = now - MAX_AGE + minute;
    let ahead = now + MAX_AHEAD - minute;
    m.metric("Late").timestamp(back).count(1.0).unwrap();
    m.metric("Early").timestamp(ahead).count(2.0).unwrap();
    m.count("Now", 3.0).unwrap();
    m.flush().await.unwrap();
    let groups = sink.groups();
    assert_eq!(groups.len(), 3);
    let at = |name: &str| groups.iter().find(|g| g.metric(name).is_some()).unwrap();
    assert_eq!(at("Late").timestamp(), back);
    assert_eq!(at("Early").timestamp(), ahead);
    let stamped = at("Now").timestamp();
    assert!(stamped >= now && stamped <= SystemTime::now());
}

#[tokio::test]
async fn empty_flush_skips_warns_or_fails_as_configured() {
    let run = |policy: OnEmpty| async move {
        let sink = MemorySink::new();
        let metrics = Metrics::builder("Test")
            .unwrap()
            .on_empty(policy)
            .sink(sink.clone())
            .build();
        let m = metrics.for_tenant(&ctx("tenant-a"));
        let capture = Capture::default();
        let result = m.flush().with_subscriber(capture.clone()).await;
        // Recorded then flushed: the next flush is empty again.
        m.count("Hits", 1.0).unwrap();
        m.flush().await.unwrap();
        let again = m.flush().await;
        let warned = capture
            .lines()
            .iter()
            .filter(|l| l.starts_with("WARN") && l.contains("no metrics to flush"))
            .count();
        (result, again, warned, sink.groups().len())
    };
    let (result, again, warned, groups) = run(OnEmpty::Skip).await;
    assert!(result.is_ok() && again.is_ok());
    assert_eq!((warned, groups), (0, 1));

    let (result, again, warned, groups) = run(OnEmpty::Warn).await;
    assert!(result.is_ok() && again.is_ok());
    assert_eq!((warned, groups), (1, 1));
    assert_eq!(OnEmpty::default(), OnEmpty::Warn);

    let (result, again, warned, groups) = run(OnEmpty::Error).await;
    assert!(matches!(result, Err(Error::Empty)), "{result:?}");
    assert!(matches!(again, Err(Error::Empty)), "{again:?}");
    assert_eq!((warned, groups), (0, 1));
}

fn assert_conflict(result: Result<()>, name: &str) {
    assert!(
        matches!(&result, Err(Error::Conflict { metric, .. }) if metric == name),
        "{name}: {result:?}"
    );
}

#[tokio::test]
async fn a_name_is_a_metric_a_dimension_or_a_property_never_two() {
    let sink = MemorySink::new();
    let metrics = strict(&sink);
    let m = metrics.for_tenant(&ctx("tenant-a"));
    m.count("Hits", 1.0).unwrap();
    m.dimension("operation", "list").unwrap();
    m.property("list_id", "L-1").unwrap();
    m.metric("Routed")
        .dimension("route", "/a")
        .count(1.0)
        .unwrap();

    assert_conflict(m.dimension("Hits", "x"), "Hits");
    assert_conflict(m.property("Hits", "x"), "Hits");
    assert_conflict(m.count("operation", 1.0), "operation");
    assert_conflict(m.property("operation", "x"), "operation");
    assert_conflict(m.count("list_id", 1.0), "list_id");
    assert_conflict(m.dimension("list_id", "x"), "list_id");
    assert_conflict(
        m.metric("Other").dimension("list_id", "x").count(1.0),
        "list_id",
    );
    assert_conflict(
        m.metric("route").dimension("route", "x").count(1.0),
        "route",
    );
    assert_conflict(m.property("route", "x"), "route");
    // The crate's own members are never the handler's: no other tenant, tier or service.
    for builtin in ["tenant_id", "tier", "service"] {
        assert_conflict(m.dimension(builtin, "tenant-b"), builtin);
        assert_conflict(
            m.metric("Forged").dimension(builtin, "tenant-b").count(1.0),
            builtin,
        );
        assert_conflict(m.property(builtin, "tenant-b"), builtin);
        assert_conflict(m.count(builtin, 1.0), builtin);
    }
    m.flush().await.unwrap();

    let groups = sink.groups();
    assert_eq!(groups.len(), 2, "{groups:?}");
    for g in &groups {
        assert_eq!(g.tenant_id(), Some("tenant-a"));
        assert_eq!(g.properties()["tenant_id"], "tenant-a");
        assert_eq!(g.dimension("tier"), Some("Premium"));
        assert_eq!(g.dimension("service"), Some("todo"));
        assert_eq!(g.dimension("tenant_id"), None);
        assert_eq!(g.dimension("operation"), Some("list"));
        assert_eq!(g.properties()["list_id"], "L-1");
        assert!(g.metric("Forged").is_none() && g.metric("Other").is_none());
    }
    let names: Vec<Vec<&str>> = groups
        .iter()
        .map(|g| g.metrics().iter().map(MetricData::name).collect())
        .collect();
    assert_eq!(names, [vec!["Hits"], vec!["Routed"]]);
}

#[tokio::test]
async fn counters_are_summed_gauges_and_timings_keep_every_value() {
    let sink = MemorySink::new();
    let metrics = strict(&sink);
    let m = metrics.for_tenant(&ctx("tenant-a"));
    for v in [1.0, 2.5, 3.0] {
        m.count("Hits", v).unwrap();
        m.gauge("Load", v * 10.0, Unit::Percent).unwrap();
        m.timing("Latency", Duration::from_micros((v * 1000.0) as u64))
            .unwrap();
    }
    m.gauge("Load", 25.0, Unit::Percent).unwrap();
    m.record_request().unwrap();
    m.record_request().unwrap();
    m.record_compute(Duration::from_millis(20)).unwrap();
    m.record_compute(Duration::from_millis(30)).unwrap();
    m.record_capacity(0.5, 0.0).unwrap();
    m.record_capacity(1.5, 2.0).unwrap();
    m.record_storage(100).unwrap();
    m.record_storage(200).unwrap();
    m.flush().await.unwrap();

    assert_eq!(sink.values("Hits", "tenant-a"), [6.5]);
    assert_eq!(sink.values("Load", "tenant-a"), [10.0, 25.0, 30.0, 25.0]);
    assert_eq!(sink.values("Latency", "tenant-a"), [1.0, 2.5, 3.0]);
    assert_eq!(sink.values(consumption::REQUESTS, "tenant-a"), [2.0]);
    assert_eq!(sink.values(consumption::COMPUTE_TIME, "tenant-a"), [50.0]);
    assert_eq!(sink.values(consumption::READ_CAPACITY, "tenant-a"), [2.0]);
    assert_eq!(sink.values(consumption::WRITE_CAPACITY, "tenant-a"), [2.0]);
    assert_eq!(
        sink.values(consumption::STORAGE, "tenant-a"),
        [100.0, 200.0]
    );
    let group = sink
        .groups()
        .into_iter()
        .find(|g| g.metric("Hits").is_some())
        .unwrap();
    assert_eq!(group.metric("Hits").unwrap().unit(), Unit::Count);
    assert_eq!(group.metric("Latency").unwrap().unit(), Unit::Milliseconds);
}

#[tokio::test]
async fn max_values_bounds_an_invocation_and_a_flush_resets_it() {
    let sink = MemorySink::new();
    let metrics = Metrics::builder("Test")
        .unwrap()
        .max_values(3)
        .sink(sink.clone())
        .build();
    let m = metrics.for_tenant(&ctx("tenant-a"));
    m.count("Hits", 1.0).unwrap();
    m.gauge("Load", 1.0, Unit::Percent).unwrap();
    m.gauge("Load", 2.0, Unit::Percent).unwrap();
    assert!(matches!(
        m.gauge("Load", 3.0, Unit::Percent),
        Err(Error::TooManyValues(3))
    ));
    assert!(matches!(
        m.count("Other", 1.0),
        Err(Error::TooManyValues(3))
    ));
    // A metric that would open a group of its own is refused before the group exists.
    assert!(matches!(
        m.metric("Routed").dimension("route", "/").count(1.0),
        Err(Error::TooManyValues(3))
    ));
    assert!(matches!(m.record_request(), Err(Error::TooManyValues(3))));
    // A counter already held takes more without another value.
    m.count("Hits", 4.0).unwrap();
    m.flush().await.unwrap();

    let groups = sink.groups();
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(sink.values("Hits", "tenant-a"), [5.0]);
    assert_eq!(sink.values("Load", "tenant-a"), [1.0, 2.0]);
    assert!(groups[0].metric("Other").is_none());

    for v in [1.0, 2.0, 3.0] {
        m.gauge("Load", v, Unit::Percent).unwrap();
    }
    m.flush().await.unwrap();
    assert_eq!(sink.values("Load", "tenant-a"), [1.0, 2.0, 1.0, 2.0, 3.0]);
    assert_eq!(DEFAULT_MAX_VALUES, 10_000);
}

#[tokio::test]
async fn properties_too_large_for_a_document_are_refused_when_set() {
    let sink = MemorySink::new();
    let metrics = strict(&sink);
    let m = metrics.for_tenant(&ctx("tenant-a"));
    let refused = m.property("blob", "x".repeat(MAX_PROPERTIES_BYTES));
    assert!(
        matches!(&refused, Err(Error::PropertyTooLarge { key, max, .. })
            if key == "blob" && *max == MAX_PROPERTIES_BYTES),
        "{refused:?}"
    );
    assert_nothing_recorded(&m, &sink).await;

    // Together: the one that crosses the bound is refused; replacing one frees its share.
    let third = "y".repeat(MAX_PROPERTIES_BYTES / 3);
    m.property("a", &third).unwrap();
    m.property("b", &third).unwrap();
    assert!(matches!(
        m.property("c", &third),
        Err(Error::PropertyTooLarge { .. })
    ));
    m.property("b", "small").unwrap();
    m.property("c", &third).unwrap();
    m.count("Hits", 1.0).unwrap();
    m.flush().await.unwrap();
    let group = &sink.groups()[0];
    assert_eq!(group.properties()["b"], "small");
    assert_eq!(group.properties()["c"], third.as_str());
    // And the document is written.
    let docs = crate::sink::emf::documents(group).unwrap();
    assert_eq!(docs.len(), 1);
}

#[tokio::test]
async fn invocations_of_one_configuration_share_nothing() {
    let sink = MemorySink::new();
    let metrics = strict(&sink);
    let a = metrics.for_tenant(&ctx("tenant-a"));
    let b = metrics.for_tenant(&TenantContext::builder("tenant-b").build());
    a.dimension("operation", "create").unwrap();
    a.property("list_id", "L-1").unwrap();
    a.count("Hits", 1.0).unwrap();
    b.count("Hits", 2.0).unwrap();
    // Names taken in one invocation are free in another.
    b.count("list_id", 1.0).unwrap();
    b.flush().await.unwrap();
    a.flush().await.unwrap();

    let b_groups = sink.tenant_groups("tenant-b");
    assert_eq!(b_groups.len(), 1);
    assert_eq!(b_groups[0].dimension("operation"), None);
    assert_eq!(b_groups[0].dimension("tier"), Some("Basic"));
    assert!(!b_groups[0].properties().contains_key("list_id"));
    assert_eq!(sink.sum("Hits", "tenant-a"), 1.0);
    assert_eq!(sink.sum("Hits", "tenant-b"), 2.0);
    assert_eq!(
        sink.tenant_groups("tenant-a")[0].dimension("tier"),
        Some("Premium")
    );
}

#[tokio::test]
async fn tenant_and_tier_dimensions_follow_the_configuration() {
    let sink = MemorySink::new();
    let metrics = Metrics::builder("Test")
        .unwrap()
        .tenant_dimension(true)
        .tier_dimension(false)
        .consumption_tenant_dimension(false)
        .sink(sink.clone())
        .build();
    let m = metrics.for_tenant(&ctx("tenant-a"));
    m.count("Hits", 1.0).unwrap();
    m.record_request().unwrap();
    m.flush().await.unwrap();
    let groups = sink.groups();
    assert_eq!(
        groups[0].dimensions(),
        [("tenant_id".to_owned(), "tenant-a".to_owned())]
    );
    assert!(groups[1].dimensions().is_empty());
    assert_eq!(groups[1].tenant_id(), Some("tenant-a"));
}
