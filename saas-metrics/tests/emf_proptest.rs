//! Property test of the EMF output through the public API: arbitrary metric names, values
//! (very large and small, negative zero, integers, many values a metric), dimensions and
//! properties (any Unicode, quotes, backslashes, control characters, U+2028 and U+2029) give
//! documents that parse and keep every value exactly, split at EMF's limits; the EMF sink
//! (written straight from the invocation's state) writes the very lines the memory sink's
//! `emf_lines` makes from the flushed groups; and what is refused (invalid names, non-finite
//! values) is refused the same way by both and written by neither.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use proptest::prelude::*;
use saas_core::{TenantContext, Tier};
use saas_metrics::{
    MAX_DOCUMENT_BYTES, MAX_METRICS_PER_DOCUMENT, MAX_VALUES_PER_METRIC, MemorySink, Metrics, Sink,
    TenantMetrics, Unit,
};
use serde_json::{Map, Value};

use common::Buffer;

/// Characters that JSON escapes or that trip naive writers, and some that need nothing.
const TRICKY: &[char] = &[
    '"', '\\', '/', '\u{0}', '\u{1}', '\u{8}', '\t', '\n', '\u{c}', '\r', '\u{1f}', '\u{7f}',
    '\u{2028}', '\u{2029}', '\u{feff}', 'a', 'Z', '0', ' ', ':', 'é', '✓', '𝄞',
];

/// Any Unicode text (a Rust string has no unpaired surrogate), often of [`TRICKY`].
fn text(max: usize) -> impl Strategy<Value = String> {
    let c = prop_oneof![3 => prop::sample::select(TRICKY), 1 => any::<char>()];
    prop::collection::vec(c, 0..=max).prop_map(String::from_iter)
}

/// A metric name: any Unicode but control characters (refused), now and then one of those.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => text(30).prop_map(|s| s.chars().filter(|c| !c.is_control()).collect()),
        1 => text(30),
    ]
}

/// Printable ASCII (what dimension names and values may hold), `"` and `\` often.
fn ascii(max: usize) -> impl Strategy<Value = String> {
    let c = prop_oneof![
        1 => prop::sample::select(&['"', '\\', ' ', ':', '/'][..]),
        3 => (0x20u8..0x7f).prop_map(char::from),
    ];
    prop::collection::vec(c, 1..=max).prop_map(String::from_iter)
}

/// Any value, finite ones with the edge cases often; some that CloudWatch refuses.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => any::<f64>().prop_filter("finite", |v| v.is_finite()),
        3 => any::<i64>().prop_map(|i| i as f64),
        3 => (-1000i32..1000).prop_map(f64::from),
        2 => prop::sample::select(vec![
            0.0,
            -0.0,
            5e-324,
            -5e-324,
            f64::MIN_POSITIVE,
            9.0e15,
            8_999_999_999_999_999.0,
            1e16,
            2f64.powi(360),
            -(2f64.powi(360)),
            0.1,
        ]),
        1 => prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::MAX]),
    ]
}

/// A property value: text, numbers, and small arrays and objects of them.
fn property_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        4 => text(12).prop_map(Value::String),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_filter("finite", |v| v.is_finite()).prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(text(6), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One thing a handler records.
#[derive(Debug, Clone)]
enum Op {
    Count(usize, f64),
    Gauge(usize, f64, Unit),
    HighResolution(usize, f64),
    Routed(usize, f64, usize),
    Dimension(String, String),
    Property(String, Value),
    Request,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..150usize, value()).prop_map(|(m, v)| Op::Count(m, v)),
        6 => (0..150usize, value(), prop::sample::select(Unit::ALL)).prop_map(|(m, v, u)| Op::Gauge(m, v, u)),
        1 => (0..150usize, value()).prop_map(|(m, v)| Op::HighResolution(m, v)),
        1 => (0..150usize, value(), 0..3usize).prop_map(|(m, v, r)| Op::Routed(m, v, r)),
        1 => (ascii(20), ascii(40)).prop_map(|(n, v)| Op::Dimension(n, v)),
        1 => (text(20), property_value()).prop_map(|(k, v)| Op::Property(k, v)),
        1 => Just(Op::Request),
    ]
}

/// Gauges of many values: a few metrics, up to 250 values each (documents split by values).
fn burst() -> impl Strategy<Value = Vec<Op>> {
    (0..150usize, prop::collection::vec(value(), 90..=250)).prop_map(|(m, vs)| {
        vs.into_iter()
            .map(|v| Op::Gauge(m, v, Unit::Milliseconds))
            .collect()
    })
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    (
        prop::collection::vec(op(), 1..120),
        prop::collection::vec(burst(), 0..3),
    )
        .prop_map(|(mut ops, bursts)| {
            for burst in bursts {
                ops.extend(burst);
            }
            ops
        })
}

/// Applies `op` to `m` with metric names from `names` (prefixed so that a metric, a dimension
/// and a property never share a name, which the crate would refuse).
fn apply(m: &TenantMetrics, names: &[String], op: &Op) -> Result<(), String> {
    let name = |i: usize| format!("m{i:03}{}", names[i % names.len()]);
    let result = match op {
        Op::Count(i, v) => m.count(&name(*i), *v),
        // One unit a metric: the unit is in the name.
        Op::Gauge(i, v, u) => m.gauge(&format!("{}{u}", name(*i)), *v, *u),
        Op::HighResolution(i, v) => m
            .metric(&format!("h{}", name(*i)))
            .high_resolution()
            .gauge(*v),
        Op::Routed(i, v, r) => m
            .metric(&format!("r{}", name(*i)))
            .dimension("route", ["/", "/todos", "/a\"b\\c"][*r])
            .count(*v),
        Op::Dimension(n, v) => m.dimension(&format!("d{n}"), v),
        Op::Property(k, v) => m.property(&format!("p{k}"), v),
        Op::Request => m.record_request(),
    };
    result.map_err(|e| e.to_string())
}

/// Every document of `lines`, parsed, with the limits checked.
fn parse(lines: &[String]) -> Result<Vec<Map<String, Value>>, TestCaseError> {
    let mut docs = Vec::new();
    for line in lines {
        prop_assert!(line.len() <= MAX_DOCUMENT_BYTES, "{} bytes", line.len());
        let doc: Map<String, Value> = serde_json::from_str(line)
            .map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {line}")))?;
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        let definitions = directive["Metrics"].as_array().unwrap();
        prop_assert!(!definitions.is_empty() && definitions.len() <= MAX_METRICS_PER_DOCUMENT);
        for definition in definitions {
            let name = definition["Name"].as_str().unwrap();
            if let Value::Array(values) = &doc[name] {
                prop_assert!(values.len() <= MAX_VALUES_PER_METRIC);
            } else {
                prop_assert!(doc[name].is_number(), "{name:?}: {}", doc[name]);
            }
        }
        for dimension in directive["Dimensions"][0].as_array().unwrap() {
            prop_assert!(doc[dimension.as_str().unwrap()].is_string());
        }
        docs.push(doc);
    }
    Ok(docs)
}

fn same_value(written: f64, recorded: f64) -> bool {
    // -0.0 is written as 0: the same value to CloudWatch.
    written.to_bits() == recorded.to_bits() || (written == 0.0 && recorded == 0.0)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        // A failing case is printed; nothing is written next to this file.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_invocation_gives_parseable_documents_that_keep_every_value(
        names in prop::collection::vec(name(), 1..8),
        ops in ops(),
        tenant_dimension in any::<bool>(),
    ) {
        let out = Buffer::default();
        let memory = MemorySink::new();
        let build = |sink: Sink| {
            Metrics::builder("Acme/Todo Service")
                .unwrap()
                .service("todo \"svc\"")
                .unwrap()
                .tenant_dimension(tenant_dimension)
                .sink(sink)
                .build()
        };
        let written = build(Sink::emf_writer(out.clone()));
        let kept = build(memory.clone().into());
        let ctx = TenantContext::builder("tenant-a").tier(Tier::Premium).build();
        let (w, k) = (written.for_tenant(&ctx), kept.for_tenant(&ctx));
        // What should come out: each metric's values (a counter's sum), by name and route.
        let mut model: BTreeMap<(String, Option<&str>), Vec<f64>> = BTreeMap::new();
        for op in &ops {
            let (a, b) = (apply(&w, &names, op), apply(&k, &names, op));
            prop_assert_eq!(&a, &b, "{:?}", op);
            if a.is_err() {
                continue;
            }
            let name = |i: &usize| format!("m{i:03}{}", names[i % names.len()]);
            match op {
                Op::Count(i, v) => {
                    prop_assert!(v.is_finite(), "{} recorded", v);
                    add(model.entry((name(i), None)).or_default(), *v);
                }
                Op::Gauge(i, v, u) => {
                    prop_assert!(v.is_finite(), "{} recorded", v);
                    model.entry((format!("{}{u}", name(i)), None)).or_default().push(*v);
                }
                Op::HighResolution(i, v) => {
                    model.entry((format!("h{}", name(i)), None)).or_default().push(*v);
                }
                Op::Routed(i, v, r) => {
                    let route = ["/", "/todos", "/a\"b\\c"][*r];
                    add(model.entry((format!("r{}", name(i)), Some(route))).or_default(), *v);
                }
                Op::Request => {
                    add(model.entry(("TenantRequests".into(), None)).or_default(), 1.0);
                }
                Op::Dimension(..) | Op::Property(..) => {}
            }
        }
        // The memory sink's groups hold exactly that.
        let flushed_model = |groups: &[saas_metrics::MetricGroup]| {
            let mut got: BTreeMap<(String, Option<String>), Vec<f64>> = BTreeMap::new();
            for g in groups {
                for m in g.metrics() {
                    let key = (m.name().to_owned(), g.dimension("route").map(str::to_owned));
                    got.entry(key).or_default().extend(m.values());
                }
            }
            got
        };
        let (a, b) = (futures_ready(w.flush()), futures_ready(k.flush()));
        prop_assert_eq!(a.map_err(|e| e.to_string()), b.map_err(|e| e.to_string()));

        let expected: BTreeMap<(String, Option<String>), Vec<f64>> = model
            .into_iter()
            .map(|((n, r), v)| ((n, r.map(str::to_owned)), v))
            .collect();
        let got = flushed_model(&memory.groups());
        prop_assert_eq!(got.len(), expected.len());
        for (key, values) in &expected {
            let flushed = &got[key];
            prop_assert_eq!(flushed.len(), values.len(), "{:?}", key);
            for (f, v) in flushed.iter().zip(values) {
                prop_assert!(f.to_bits() == v.to_bits(), "{:?}: {:e} flushed as {:e}", key, v, f);
            }
        }

        // The EMF sink writes what the memory sink's groups make, line for line (but for the
        // time of each flush).
        let text = out.text();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let kept_lines = memory.emf_lines().unwrap();
        prop_assert_eq!(lines.len(), kept_lines.len());
        for (line, kept) in lines.iter().zip(&kept_lines) {
            prop_assert_eq!(untimed(line), untimed(kept));
        }
        prop_assert!(text.is_empty() || text.ends_with('\n'));

        // Every document parses; together they hold every value recorded, in order, with the
        // group's dimensions and properties.
        let docs = parse(&lines)?;
        let mut written_values: BTreeMap<(usize, String), Vec<f64>> = BTreeMap::new();
        let mut at = 0;
        for (g, group) in memory.groups().iter().enumerate() {
            let count = saas_metrics::emf_documents(group).unwrap().len();
            for doc in &docs[at..at + count] {
                for (name, value) in group.dimensions() {
                    prop_assert_eq!(doc[name].as_str(), Some(value.as_str()));
                }
                for (key, value) in group.properties() {
                    if group.dimension(key).is_none() {
                        prop_assert_eq!(&doc[key], value, "property {:?}", key);
                    }
                }
                prop_assert_eq!(doc["tenant_id"].as_str(), Some("tenant-a"));
                for definition in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap() {
                    let name = definition["Name"].as_str().unwrap().to_owned();
                    let values = match &doc[&name] {
                        Value::Array(items) => items.iter().map(|v| v.as_f64().unwrap()).collect(),
                        one => vec![one.as_f64().unwrap()],
                    };
                    written_values.entry((g, name)).or_default().extend(values);
                }
            }
            at += count;
            for metric in group.metrics() {
                let written = &written_values[&(g, metric.name().to_owned())];
                prop_assert_eq!(written.len(), metric.values().len(), "{:?}", metric.name());
                for (w, r) in written.iter().zip(metric.values()) {
                    prop_assert!(same_value(*w, *r), "{:?}: {:e} written as {:e}", metric.name(), r, w);
                }
            }
        }
        prop_assert_eq!(at, docs.len());
    }
}

/// A counter's sum: its first value as it is, then each added.
fn add(sum: &mut Vec<f64>, v: f64) {
    match sum.first_mut() {
        Some(total) => *total += v,
        None => sum.push(v),
    }
}

/// `line` without the digits of its `_aws.Timestamp`.
fn untimed(line: &str) -> String {
    let key = "{\"_aws\":{\"Timestamp\":";
    let rest = line
        .strip_prefix(key)
        .expect("a document starts with its timestamp");
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    assert!(digits >= 13, "a timestamp in milliseconds: {line}");
    format!("{key}{}", &rest[digits..])
}

/// Polls a future the EMF and memory sinks complete at once.
fn futures_ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the flush did not complete at once"),
    }
}
