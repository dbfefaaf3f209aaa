//! The EMF documents against the CloudWatch Embedded Metric Format specification: shape
//! (`_aws.Timestamp`, `_aws.CloudWatchMetrics` directives of Namespace, Dimensions and Metrics),
//! target members (a number or an array of numbers for each metric, a string for each
//! dimension), and limits (100 metrics a document, 100 values a metric, the document size), with
//! splitting exact: nothing lost, nothing duplicated, properties in every document.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use saas_core::{TenantContext, Tier};
use saas_metrics::{
    Error, MAX_DIMENSIONS, MAX_DOCUMENT_BYTES, MAX_METRICS_PER_DOCUMENT, MAX_VALUES_PER_METRIC,
    MemorySink, MetricGroup, Metrics, MetricsBuilder, Sink, Unit, emf_documents,
};
use serde_json::{Map, Value, json};

use common::Buffer;

/// CloudWatch's units, as the EMF `Unit` member may name them.
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// One metric as a document declares it.
#[derive(Debug, Clone, PartialEq)]
struct Declared {
    name: String,
    unit: Option<String>,
    resolution: Option<u64>,
    values: Vec<f64>,
}

/// A document checked against the specification.
#[derive(Debug)]
struct Doc {
    root: Map<String, Value>,
    timestamp: u64,
    namespace: String,
    dimensions: Vec<String>,
    metrics: Vec<Declared>,
}

fn keys(object: &Map<String, Value>) -> Vec<&str> {
    object.keys().map(String::as_str).collect()
}

/// Checks one document (without its newline) against the EMF specification and this crate's
/// size bound; panics with the rule it breaks.
fn check(bytes: &[u8]) -> Doc {
    assert!(
        bytes.len() <= MAX_DOCUMENT_BYTES,
        "document of {} bytes, over {MAX_DOCUMENT_BYTES}",
        bytes.len()
    );
    assert!(!bytes.contains(&b'\n'), "a document is one line");
    // The LogEvent message MUST be a valid JSON object with no data before or after it.
    let root: Value = serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)));
    let Value::Object(root) = root else {
        panic!("the root is not an object")
    };
    // `_aws` (MUST) is an object of CloudWatchMetrics and Timestamp (both MUST) and nothing
    // else this crate does not write.
    let aws = root["_aws"].as_object().expect("_aws is an object");
    let mut aws_keys = keys(aws);
    aws_keys.sort_unstable();
    assert_eq!(aws_keys, ["CloudWatchMetrics", "Timestamp"]);
    let timestamp = aws["Timestamp"]
        .as_u64()
        .expect("Timestamp is a whole number of milliseconds");
    assert!(
        timestamp > 1_500_000_000_000,
        "Timestamp {timestamp} is not in milliseconds"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics is an array");
    assert_eq!(directives.len(), 1, "one MetricDirective a document");
    let directive = directives[0].as_object().expect("a MetricDirective object");
    // A MetricDirective MUST NOT contain other members.
    let mut directive_keys = keys(directive);
    directive_keys.sort_unstable();
    assert_eq!(directive_keys, ["Dimensions", "Metrics", "Namespace"]);
    let namespace = directive["Namespace"]
        .as_str()
        .expect("Namespace is a string")
        .to_owned();
    assert!(!namespace.is_empty() && namespace.len() <= 255);

    let sets = directive["Dimensions"]
        .as_array()
        .expect("Dimensions is an array of DimensionSets");
    assert_eq!(sets.len(), 1, "one DimensionSet");
    let set = sets[0].as_array().expect("a DimensionSet is an array");
    assert!(
        set.len() <= MAX_DIMENSIONS,
        "a DimensionSet MUST NOT hold more than 30 keys: {}",
        set.len()
    );
    let mut dimensions = Vec::new();
    for key in set {
        let key = key.as_str().expect("a dimension key is a string");
        // Each key MUST be a target member, and a dimension's value a string.
        let value = root
            .get(key)
            .unwrap_or_else(|| panic!("dimension {key:?} has no member"));
        assert!(value.is_string(), "dimension {key:?} is {value}");
        assert!(!dimensions.contains(&key.to_owned()), "{key:?} twice");
        dimensions.push(key.to_owned());
    }

    let definitions = directive["Metrics"]
        .as_array()
        .expect("Metrics is an array");
    assert!(!definitions.is_empty(), "a directive declares metrics");
    assert!(
        definitions.len() <= MAX_METRICS_PER_DOCUMENT,
        "Metrics MUST NOT hold more than 100 definitions: {}",
        definitions.len()
    );
    let mut metrics = Vec::new();
    for definition in definitions {
        let definition = definition.as_object().expect("a MetricDefinition object");
        for key in definition.keys() {
            assert!(
                ["Name", "Unit", "StorageResolution"].contains(&key.as_str()),
                "MetricDefinition member {key:?}"
            );
        }
        let name = definition["Name"].as_str().expect("Name is a string");
        assert!(!name.is_empty());
        let unit = definition.get("Unit").map(|u| {
            let u = u.as_str().expect("Unit is a string");
            assert!(UNITS.contains(&u), "unit {u:?}");
            u.to_owned()
        });
        let resolution = definition.get("StorageResolution").map(|r| {
            let r = r.as_u64().expect("StorageResolution is an integer");
            assert!(r == 1 || r == 60, "StorageResolution {r}");
            r
        });
        assert!(
            !dimensions.contains(&name.to_owned()),
            "{name:?} is a dimension"
        );
        assert!(
            metrics.iter().all(|m: &Declared| m.name != name),
            "{name:?} declared twice"
        );
        // The target member: a number, or an array of at most 100 numbers.
        let member = root
            .get(name)
            .unwrap_or_else(|| panic!("metric {name:?} has no member"));
        let values = match member {
            Value::Number(n) => vec![n.as_f64().unwrap()],
            Value::Array(items) => {
                assert!(!items.is_empty(), "{name:?}: empty array");
                assert!(
                    items.len() <= MAX_VALUES_PER_METRIC,
                    "{name:?}: {} values, over 100",
                    items.len()
                );
                items
                    .iter()
                    .map(|v| v.as_f64().unwrap_or_else(|| panic!("{name:?}: {v}")))
                    .collect()
            }
            other => panic!("metric {name:?} is {other}"),
        };
        metrics.push(Declared {
            name: name.to_owned(),
            unit,
            resolution,
            values,
        });
    }
    Doc {
        root,
        timestamp,
        namespace,
        dimensions,
        metrics,
    }
}

fn ctx(tenant: &str) -> TenantContext {
    TenantContext::builder(tenant).tier(Tier::Standard).build()
}

fn builder() -> MetricsBuilder {
    Metrics::builder("Acme/Todo Service")
        .unwrap()
        .service("todo")
        .unwrap()
}

/// The checked documents of every group flushed to `sink`, per group.
fn docs(sink: &MemorySink) -> Vec<Vec<Doc>> {
    sink.groups()
        .iter()
        .map(|g| emf_documents(g).unwrap().iter().map(|d| check(d)).collect())
        .collect()
}

/// Every (metric, value) pair of `docs`, in order.
fn pairs(docs: &[Doc]) -> Vec<(String, f64)> {
    docs.iter()
        .flat_map(|d| d.metrics.iter())
        .flat_map(|m| m.values.iter().map(|v| (m.name.clone(), *v)))
        .collect()
}

/// Every (metric, value) pair recorded in `group`, in order.
fn recorded(group: &MetricGroup) -> Vec<(String, f64)> {
    group
        .metrics()
        .iter()
        .flat_map(|m| m.values().iter().map(|v| (m.name().to_owned(), *v)))
        .collect()
}

fn sorted(mut pairs: Vec<(String, f64)>) -> Vec<(String, f64)> {
    pairs.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    pairs
}

/// The same (metric, value) pairs in any order: none lost, none twice. Values are compared to
/// 1e-15 relative, serde_json's default float parsing being best effort in the last bit (the
/// exact text is checked in `values_keep_their_exact_value_through_json`).
fn assert_same(written: Vec<(String, f64)>, recorded: Vec<(String, f64)>) {
    let (written, recorded) = (sorted(written), sorted(recorded));
    assert_eq!(
        written.len(),
        recorded.len(),
        "as many values written as recorded"
    );
    for (i, (w, r)) in written.iter().zip(&recorded).enumerate() {
        let close = (w.1 - r.1).abs() <= r.1.abs() * 1e-15;
        assert!(
            w.0 == r.0 && close,
            "pair {i}: written {:.20}… = {}, recorded {:.20}… = {}",
            w.0,
            w.1,
            r.0,
            r.1
        );
    }
}

#[tokio::test]
async fn a_flush_is_documents_of_the_specified_shape() {
    let sink = MemorySink::new();
    let metrics = builder().sink(sink.clone()).build();
    let m = metrics.for_tenant(&ctx("tenant-a"));
    let at = SystemTime::now() - Duration::from_secs(600);
    m.dimension("operation", "create_todo").unwrap();
    m.count("TodosCreated", 2.0).unwrap();
    m.count("TodosCreated", 1.0).unwrap();
    m.gauge("Payload", 512.0, Unit::Bytes).unwrap();
    m.gauge("Payload", 0.1, Unit::Bytes).unwrap();
    m.metric("Hot").high_resolution().gauge(-1e-300).unwrap();
    m.metric("Routed")
        .dimension("route", "/todos")
        .timestamp(at)
        .count(4.0)
        .unwrap();
    m.property("list_id", "L-42").unwrap();
    m.property("attrs", json!({"a": [1, 2], "b": null, "c": true}))
        .unwrap();
    m.record_request().unwrap();
    m.flush().await.unwrap();

    let groups = sink.groups();
    let all = docs(&sink);
    assert_eq!(all.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1, 1]);
    let app = &all[0][0];
    assert_eq!(app.namespace, "Acme/Todo Service");
    assert_eq!(app.dimensions, ["service", "tier", "operation"]);
    assert_eq!(app.root["service"], "todo");
    assert_eq!(app.root["tier"], "Standard");
    assert_eq!(app.root["operation"], "create_todo");
    assert_eq!(app.root["tenant_id"], "tenant-a");
    assert_eq!(app.root["list_id"], "L-42");
    assert_eq!(
        app.root["attrs"],
        json!({"a": [1, 2], "b": null, "c": true})
    );
    assert_eq!(
        app.metrics,
        [
            Declared {
                name: "TodosCreated".into(),
                unit: Some("Count".into()),
                resolution: None,
                values: vec![3.0],
            },
            Declared {
                name: "Payload".into(),
                unit: Some("Bytes".into()),
                resolution: None,
                values: vec![512.0, 0.1],
            },
            Declared {
                name: "Hot".into(),
                unit: Some("None".into()),
                resolution: Some(1),
                values: vec![-1e-300],
            },
        ]
    );
    // A single value is a number, several an array.
    assert!(app.root["TodosCreated"].is_number());
    assert!(app.root["Payload"].is_array());
    let ms = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    assert_eq!(app.timestamp, ms(groups[0].timestamp()));

    let routed = &all[1][0];
    assert_eq!(routed.dimensions, ["service", "tier", "operation", "route"]);
    assert_eq!(routed.timestamp, ms(at));
    assert_eq!(routed.root["list_id"], "L-42");

    let consumption = &all[2][0];
    assert_eq!(consumption.dimensions, ["service", "tenant_id"]);
    assert_eq!(consumption.root["tenant_id"], "tenant-a");
    assert_eq!(consumption.root["tier"], "Standard");
    assert_eq!(consumption.metrics[0].name, "TenantRequests");
}

#[tokio::test]
async fn tenant_id_is_a_property_unless_asked_to_be_a_dimension() {
    for tenant_dimension in [false, true] {
        let sink = MemorySink::new();
        let metrics = builder()
            .tenant_dimension(tenant_dimension)
            .sink(sink.clone())
            .build();
        let m = metrics.for_tenant(&ctx("tenant-a"));
        m.count("Hits", 1.0).unwrap();
        m.flush().await.unwrap();
        let all = docs(&sink);
        let doc = &all[0][0];
        assert_eq!(doc.root["tenant_id"], "tenant-a");
        let expected: &[&str] = if tenant_dimension {
            &["service", "tier", "tenant_id"]
        } else {
            &["service", "tier"]
        };
        assert_eq!(
            doc.dimensions, expected,
            "tenant_dimension({tenant_dimension})"
        );
    }
}

/// Records `metrics` counters (one value each) and returns the checked documents of the one
/// group.
async fn counters(metrics_count: usize) -> (Vec<Doc>, Vec<(String, f64)>) {
    let sink = MemorySink::new();
    let metrics = builder().sink(sink.clone()).build();
    let m = metrics.for_tenant(&ctx("tenant-a"));
    for i in 0..metrics_count {
        m.count(&format!("M{i:03}"), i as f64).unwrap();
    }
    m.flush().await.unwrap();
    let groups = sink.groups();
    assert_eq!(groups.len(), 1);
    (docs(&sink).remove(0), recorded(&groups[0]))
}

#[tokio::test]
async fn documents_split_at_exactly_100_metrics() {
    for (count, expected) in [
        (1, vec![1]),
        (99, vec![99]),
        (100, vec![100]),
        (101, vec![100, 1]),
        (250, vec![100, 100, 50]),
    ] {
        let (docs, recorded) = counters(count).await;
        let sizes: Vec<usize> = docs.iter().map(|d| d.metrics.len()).collect();
        assert_eq!(sizes, expected, "{count} metrics");
        assert_eq!(
            pairs(&docs),
            recorded,
            "{count} metrics: none lost or twice"
        );
        for d in &docs {
            assert_eq!(d.root["tenant_id"], "tenant-a");
        }
    }
}

#[tokio::test]
async fn documents_split_at_exactly_100_values_a_metric() {
    for (count, expected) in [
        (100, vec![100]),
        (101, vec![100, 1]),
        (250, vec![100, 100, 50]),
        (300, vec![100, 100, 100]),
    ] {
        let sink = MemorySink::new();
        let metrics = builder().sink(sink.clone()).build();
        let m = metrics.for_tenant(&ctx("tenant-a"));
        for i in 0..count {
            m.gauge("Latency", f64::from(i) + 0.5, Unit::Milliseconds)
                .unwrap();
        }
        m.property("request_id", "r-1").unwrap();
        m.flush().await.unwrap();
        let docs = docs(&sink).remove(0);
        let sizes: Vec<usize> = docs.iter().map(|d| d.metrics[0].values.len()).collect();
        assert_eq!(sizes, expected, "{count} values");
        let values: Vec<f64> = docs
            .iter()
            .flat_map(|d| d.metrics[0].values.clone())
            .collect();
        let want: Vec<f64> = (0..count).map(|i| f64::from(i) + 0.5).collect();
        assert_eq!(values, want, "{count} values: in order, none lost or twice");
        for d in &docs {
            assert_eq!(d.metrics[0].unit.as_deref(), Some("Milliseconds"));
            assert_eq!(d.root["request_id"], "r-1");
            assert_eq!(d.root["tenant_id"], "tenant-a");
            assert_eq!(d.dimensions, ["service", "tier"]);
        }
    }
}

#[tokio::test]
async fn many_metrics_with_many_values_split_without_loss() {
    let sink = MemorySink::new();
    let metrics = builder().sink(sink.clone()).build();
    let m = metrics.for_tenant(&ctx("tenant-a"));
    for i in 0..250 {
        m.gauge("Big", f64::from(i), Unit::Count).unwrap();
    }
    for i in 0..150 {
        m.count(&format!("C{i}"), 1.0).unwrap();
    }
    for i in 0..120 {
        m.gauge("Mid", f64::from(i), Unit::None).unwrap();
    }
    m.flush().await.unwrap();
    let group = &sink.groups()[0];
    let docs = docs(&sink).remove(0);
    assert_same(pairs(&docs), recorded(group));
    assert_eq!(pairs(&docs).len(), 250 + 150 + 120);
    // Round one: 152 metrics in 100 + 52; then Big and Mid; then Big.
    let sizes: Vec<usize> = docs.iter().map(|d| d.metrics.len()).collect();
    assert_eq!(sizes, [100, 52, 2, 1]);
}

/// Dimension names and values of the longest allowed, made of `"` so that JSON escaping
/// doubles them.
fn long_dimension(i: usize) -> (String, String) {
    let tag = format!("{i:02}");
    let name = format!("{tag}{}", "\"".repeat(255 - tag.len()));
    let value = format!("{tag}{}", "\\".repeat(1024 - tag.len()));
    (name, value)
}

#[tokio::test]
async fn no_document_is_over_the_limit_with_the_largest_dimensions_and_properties() {
    let sink = MemorySink::new();
    let metrics = Metrics::builder(&"N".repeat(255))
        .unwrap()
        .tier_dimension(false)
        .max_values(20_000)
        .sink(sink.clone())
        .build();
    let m = metrics.for_tenant(&ctx(&"t".repeat(64)));
    for i in 0..30 {
        let (name, value) = long_dimension(i);
        m.dimension(&name, &value).unwrap();
    }
    // Properties up to what is taken: the next byte is refused, with a typed error.
    let mut taken = 0;
    for i in 0.. {
        match m.property(&format!("p{i}"), "\"".repeat(1000)) {
            Ok(()) => taken += 1,
            Err(Error::PropertyTooLarge { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(taken >= 15, "only {taken} properties of ~2 KB taken");
    // 150 metrics with names of 255 three-byte characters and 100 long values each.
    let value = |i: u32, j: u32| -1.234_567_890_123_456_7e-300 * f64::from(i * 100 + j + 1);
    let names: Vec<String> = (0..150)
        .map(|i| format!("{i:03}{}", "✓".repeat(252)))
        .collect();
    for (i, name) in (0u32..).zip(&names) {
        for j in 0..100 {
            m.gauge(name, value(i, j), Unit::None).unwrap();
        }
    }
    m.flush().await.unwrap();

    let group = &sink.groups()[0];
    let docs = docs(&sink).remove(0);
    assert!(
        docs.len() > 2,
        "split by size too: {} documents",
        docs.len()
    );
    for d in &docs {
        assert_eq!(d.dimensions.len(), 30);
        for i in 0..30 {
            let (name, value) = long_dimension(i);
            assert_eq!(d.root[&name], value.as_str());
        }
        for i in 0..taken {
            assert_eq!(d.root[&format!("p{i}")], "\"".repeat(1000).as_str());
        }
        assert_eq!(d.root["tenant_id"], "t".repeat(64).as_str());
    }
    assert_same(pairs(&docs), recorded(group));

    // Written by the EMF sink: the same documents, one a line.
    let out = Buffer::default();
    let written = Metrics::builder(&"N".repeat(255))
        .unwrap()
        .max_values(20_000)
        .sink(Sink::emf_writer(out.clone()))
        .build();
    let w = written.for_tenant(&ctx("tenant-a"));
    w.property("blob", "x".repeat(25_000)).unwrap();
    for name in &names {
        for j in 0..100 {
            w.gauge(name, f64::from(j) + 0.25, Unit::None).unwrap();
        }
    }
    w.flush().await.unwrap();
    let text = out.text();
    let lines: Vec<&str> = text.lines().collect();
    assert!(text.ends_with('\n'));
    assert!(lines.len() > 1);
    let mut values = 0;
    for line in &lines {
        let d = check(line.as_bytes());
        assert_eq!(d.root["blob"].as_str().map(str::len), Some(25_000));
        values += d.metrics.iter().map(|m| m.values.len()).sum::<usize>();
    }
    assert_eq!(values, 150 * 100);
}

#[tokio::test]
async fn a_property_too_large_for_any_document_is_refused_when_set() {
    let sink = MemorySink::new();
    let metrics = builder().sink(sink.clone()).build();
    let m = metrics.for_tenant(&ctx("tenant-a"));
    let refused = m.property("blob", "x".repeat(MAX_DOCUMENT_BYTES));
    assert!(
        matches!(&refused, Err(Error::PropertyTooLarge { key, .. }) if key == "blob"),
        "{refused:?}"
    );
    m.count("Hits", 1.0).unwrap();
    m.flush().await.unwrap();
    let all = docs(&sink);
    assert!(!all[0][0].root.contains_key("blob"));
    assert_eq!(all[0][0].root["Hits"], 1);
}

#[tokio::test]
async fn values_keep_their_exact_value_through_json() {
    let sink = MemorySink::new();
    let metrics = builder().sink(sink.clone()).build();
    let m = metrics.for_tenant(&ctx("tenant-a"));
    let values = [
        0.0,
        -0.0,
        0.1,
        1.0 / 3.0,
        -7.0,
        9.0e15,
        -9.0e15 + 1.0,
        1e16,
        f64::MIN_POSITIVE,
        5e-324,
        2f64.powi(360),
        -(2f64.powi(360)),
        123_456_789.125,
    ];
    for v in values {
        m.gauge("Exact", v, Unit::None).unwrap();
    }
    m.flush().await.unwrap();
    let lines = sink.emf_lines().unwrap();
    assert_eq!(lines.len(), 1);
    let doc = check(lines[0].as_bytes());
    assert_eq!(doc.metrics[0].values.len(), values.len());
    // Read the numbers as written with Rust's exact parser (serde_json's default float parsing
    // is not guaranteed to round-trip).
    let start = lines[0].find("\"Exact\":[").unwrap() + "\"Exact\":[".len();
    let end = start + lines[0][start..].find(']').unwrap();
    let got: Vec<f64> = lines[0][start..end]
        .split(',')
        .map(|t| t.parse::<f64>().unwrap_or_else(|e| panic!("{t:?}: {e}")))
        .collect();
    assert_eq!(got.len(), values.len());
    for (g, v) in got.iter().zip(values) {
        // -0.0 is written as 0: the same value to CloudWatch.
        assert!(
            g.to_bits() == v.to_bits() || (*g == 0.0 && v == 0.0),
            "{v:e} came back as {g:e}"
        );
    }
}

#[tokio::test]
async fn the_emf_sink_writes_each_document_on_its_own_line() {
    let out = Buffer::default();
    let memory = MemorySink::new();
    let written = builder().sink(Sink::emf_writer(out.clone())).build();
    let kept = builder().sink(memory.clone()).build();
    let at = SystemTime::now() - Duration::from_secs(60);
    for metrics in [&written, &kept] {
        let m = metrics.for_tenant(&ctx("tenant-a"));
        for i in 0..130 {
            m.metric(&format!("M{i}")).timestamp(at).count(1.0).unwrap();
        }
        m.metric("Routed")
            .dimension("route", "/")
            .timestamp(at)
            .gauge(1.0)
            .unwrap();
        m.flush().await.unwrap();
    }
    let text = out.text();
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    assert_eq!(lines, memory.emf_lines().unwrap());
    assert_eq!(lines.len(), 3);
    let mut per_metric: BTreeMap<String, usize> = BTreeMap::new();
    for line in &lines {
        for m in check(line.as_bytes()).metrics {
            *per_metric.entry(m.name).or_default() += 1;
        }
    }
    assert_eq!(per_metric.len(), 131);
    assert!(per_metric.values().all(|n| *n == 1));
}
