//! The EMF writer on groups made directly (so with names no manager would take: control
//! characters, any Unicode): every document parses, keeps every name and value exactly, and
//! keeps to EMF's limits; the sink's buffer keeps nothing between flushes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;
use crate::group::MetricData;

/// Characters that JSON escapes or that trip naive writers, and some that need nothing.
const TRICKY: &[char] = &[
    '"', '\\', '/', '\u{0}', '\u{1}', '\u{8}', '\t', '\n', '\u{c}', '\r', '\u{1f}', '\u{7f}',
    '\u{2028}', '\u{2029}', '\u{feff}', 'a', 'Z', ' ', 'é', '✓', '𝄞',
];

/// Any Unicode text (Rust strings cannot hold an unpaired surrogate), often of [`TRICKY`].
fn text(max: usize) -> impl Strategy<Value = String> {
    let c = prop_oneof![3 => prop::sample::select(TRICKY), 1 => any::<char>()];
    prop::collection::vec(c, 0..=max).prop_map(String::from_iter)
}

/// Any finite value, with the edge cases often.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>().prop_filter("finite", |v| v.is_finite()),
        2 => any::<i64>().prop_map(|i| i as f64),
        1 => (-1000i32..1000).prop_map(f64::from),
        1 => prop::sample::select(vec![
            0.0,
            -0.0,
            5e-324,
            -5e-324,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            9.0e15,
            -9.0e15,
            8_999_999_999_999_999.0,
            1e16,
            0.1,
            1.0 / 3.0,
        ]),
    ]
}

fn values() -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        8 => prop::collection::vec(value(), 1..=4),
        1 => prop::collection::vec(value(), 95..=230),
    ]
}

/// A property value: strings, numbers, and small arrays and objects of them.
fn property_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        4 => text(12).prop_map(Value::String),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
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

prop_compose! {
    /// A group as a flush makes one, but with names of any text. Prefixes of fixed width
    /// keep every name apart, as the manager does.
    fn group()(
        namespace in text(20),
        ms in 1_500_000_000_000u64..4_000_000_000_000,
        dimensions in prop::collection::vec(text(24), 0..=30),
        properties in prop::collection::vec((text(16), property_value()), 0..6),
        metrics in prop::collection::vec(
            (text(40), prop::sample::select(Unit::ALL), any::<bool>(), values()),
            1..=130,
        ),
        long_names in any::<bool>(),
    ) -> MetricGroup {
        let mut map = Map::new();
        map.insert("tenant_id".into(), "tenant-a".into());
        for (i, (key, v)) in properties.into_iter().enumerate() {
            map.insert(format!("p{i:02}{key}"), v);
        }
        MetricGroup {
            namespace: namespace.into(),
            timestamp: UNIX_EPOCH + Duration::from_millis(ms),
            dimensions: dimensions
                .into_iter()
                .enumerate()
                .map(|(i, v)| (format!("d{i:02}{v}"), v))
                .collect(),
            metrics: metrics
                .into_iter()
                .enumerate()
                .map(|(i, (name, unit, high, values))| MetricData {
                    // Long names of control characters (6 bytes each once escaped) make
                    // documents split by size.
                    name: if long_names {
                        format!("m{i:03}{}", "\u{1}".repeat(250))
                    } else {
                        format!("m{i:03}{name}")
                    },
                    unit,
                    resolution: if high { Resolution::High } else { Resolution::Standard },
                    values,
                })
                .collect(),
            properties: Arc::new(map),
        }
    }
}

fn same_value(written: f64, recorded: f64) -> bool {
    // -0.0 is written as 0: the same value to CloudWatch.
    written.to_bits() == recorded.to_bits() || (written == 0.0 && recorded == 0.0)
}

/// Checks `docs` against `group`: each parses and keeps to the limits, and together they hold
/// every value of every metric once, in order, with the group's dimensions and properties.
fn check(group: &MetricGroup, docs: &[Vec<u8>]) -> std::result::Result<(), TestCaseError> {
    let mut seen: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut documents_of: BTreeMap<&str, usize> = BTreeMap::new();
    let ms = group
        .timestamp
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    prop_assert!(!docs.is_empty());
    for doc in docs {
        prop_assert!(doc.len() <= MAX_DOCUMENT_BYTES, "{} bytes", doc.len());
        prop_assert!(!doc.contains(&b'\n'));
        let root: Map<String, Value> = serde_json::from_slice(doc).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {}", String::from_utf8_lossy(doc));
        });
        let directive = &root["_aws"]["CloudWatchMetrics"][0];
        prop_assert_eq!(root["_aws"]["Timestamp"].as_u64(), Some(ms));
        prop_assert_eq!(directive["Namespace"].as_str(), Some(&*group.namespace));
        let names: Vec<&str> = group.dimensions.iter().map(|(n, _)| n.as_str()).collect();
        prop_assert_eq!(&directive["Dimensions"], &json!([names]));
        for (name, value) in &group.dimensions {
            prop_assert_eq!(root[name].as_str(), Some(value.as_str()));
        }
        for (key, value) in group.properties.iter() {
            prop_assert_eq!(&root[key], value);
        }
        let definitions = directive["Metrics"].as_array().unwrap();
        prop_assert!(!definitions.is_empty() && definitions.len() <= MAX_METRICS_PER_DOCUMENT);
        // Nothing but the directive, the dimensions, the properties and the metrics.
        prop_assert_eq!(
            root.len(),
            1 + group.dimensions.len() + group.properties.len() + definitions.len()
        );
        for definition in definitions {
            let name = definition["Name"].as_str().unwrap();
            let metric = group.metric(name).expect("a metric of the group");
            prop_assert_eq!(definition["Unit"].as_str(), Some(metric.unit.as_str()));
            let resolution = definition.get("StorageResolution").map(|r| r.as_u64());
            let expected = (metric.resolution == Resolution::High).then_some(Some(1));
            prop_assert_eq!(resolution, expected);
            let written: Vec<f64> = match &root[name] {
                Value::Array(items) => items.iter().map(|v| v.as_f64().unwrap()).collect(),
                one => vec![one.as_f64().unwrap()],
            };
            prop_assert!(!written.is_empty() && written.len() <= MAX_VALUES_PER_METRIC);
            seen.entry(&metric.name).or_default().extend(written);
            *documents_of.entry(&metric.name).or_default() += 1;
        }
    }
    prop_assert_eq!(seen.len(), group.metrics.len());
    for metric in &group.metrics {
        let written = &seen[metric.name.as_str()];
        prop_assert_eq!(written.len(), metric.values.len(), "{:?}", metric.name);
        for (w, r) in written.iter().zip(&metric.values) {
            prop_assert!(
                same_value(*w, *r),
                "{:?}: {:e} written as {:e}",
                metric.name,
                r,
                w
            );
        }
        // In as few documents as its values need.
        prop_assert_eq!(
            documents_of[metric.name.as_str()],
            metric.values.len().div_ceil(MAX_VALUES_PER_METRIC)
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn documents_of_any_group_parse_and_keep_every_value(group in group()) {
        let docs = documents(&group).unwrap();
        check(&group, &docs)?;
        // The EMF sink writes the same documents, one a line.
        let out = Shared::default();
        let sink = EmfWriter::new(out.clone());
        sink.write_with(|buffer, ends| write_documents(buffer, ends, &group, true)).unwrap();
        let text = out.take();
        let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
        prop_assert_eq!(lines.last(), Some(&&b""[..]));
        prop_assert_eq!(&lines[..lines.len() - 1], &docs.iter().map(Vec::as_slice).collect::<Vec<_>>()[..]);
    }
}

#[test]
fn long_names_split_documents_by_size_and_values_by_hundreds() {
    let metric = |i: usize, values: usize| MetricData {
        name: format!("m{i}{}", "\u{1}".repeat(250)),
        unit: Unit::Count,
        resolution: Resolution::Standard,
        values: (0..values).map(|v| v as f64 + 0.5).collect(),
    };
    let group = MetricGroup {
        namespace: "Test".into(),
        timestamp: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        dimensions: vec![("service".into(), "todo".into())],
        metrics: (0..100)
            .map(|i| metric(i, 1))
            .chain([metric(100, 250)])
            .collect(),
        properties: Arc::new(Map::new()),
    };
    let docs = documents(&group).unwrap();
    // 101 metrics of ~3 KB each: at most ~80 a document; the long one's values go 100 a round.
    assert!(docs.len() >= 4, "{} documents", docs.len());
    check(&group, &docs).unwrap();
}

/// A writer into a shared buffer.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Shared {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn simple(tenant: &str, property: &str) -> MetricGroup {
    let mut map = Map::new();
    map.insert("tenant_id".into(), tenant.into());
    map.insert("note".into(), property.into());
    MetricGroup {
        namespace: "Test".into(),
        timestamp: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        dimensions: vec![("service".into(), "todo".into())],
        metrics: vec![MetricData {
            name: "Hits".into(),
            unit: Unit::Count,
            resolution: Resolution::Standard,
            values: vec![1.0],
        }],
        properties: Arc::new(map),
    }
}

#[test]
fn the_sink_buffer_holds_nothing_between_flushes() {
    let out = Shared::default();
    let sink = EmfWriter::new(out.clone());
    let big = simple("tenant-a", &"a".repeat(100_000));
    let small = simple("tenant-b", "b");
    for group in [&big, &small] {
        sink.write_with(|buffer, ends| write_documents(buffer, ends, group, true))
            .unwrap();
        let inner = sink.inner.lock().unwrap();
        assert!(inner.buffer.is_empty() && inner.ends.is_empty());
        assert!(inner.buffer.capacity() <= KEPT_CAPACITY);
    }
    let text = String::from_utf8(out.take()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    let second: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(second["tenant_id"], "tenant-b");
    assert_eq!(second["note"], "b");
    assert!(!lines[1].contains("tenant-a") && !lines[1].contains("aaaa"));
    assert_eq!(lines[1].as_bytes(), documents(&small).unwrap()[0]);
}

/// Counts the writes it is given.
#[derive(Clone, Default)]
struct Writes(Arc<Mutex<Vec<Vec<u8>>>>);

impl io::Write for Writes {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().push(buf.to_vec());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_flush_of_several_documents_is_one_write_of_whole_lines() {
    let out = Writes::default();
    let sink = EmfWriter::new(out.clone());
    let (a, b) = (simple("tenant-a", "a"), simple("tenant-b", "b"));
    sink.write_with(|buffer, ends| {
        write_documents(buffer, ends, &a, true)?;
        write_documents(buffer, ends, &b, true)
    })
    .unwrap();
    let writes = std::mem::take(&mut *out.0.lock().unwrap());
    assert_eq!(writes.len(), 1, "one write for the flush");
    let expected = [
        documents(&a).unwrap()[0].clone(),
        b"\n".to_vec(),
        documents(&b).unwrap()[0].clone(),
        b"\n".to_vec(),
    ]
    .concat();
    assert_eq!(writes[0], expected);
    // A flush with nothing to write writes nothing.
    sink.write_with(|_, _| Ok(())).unwrap();
    assert!(out.0.lock().unwrap().is_empty());
}

#[test]
fn a_flush_that_cannot_be_written_writes_nothing() {
    let out = Shared::default();
    let sink = EmfWriter::new(out.clone());
    let good = simple("tenant-a", "x");
    // Properties that leave no room for metrics in any document.
    let too_large = simple("tenant-a", &"x".repeat(MAX_DOCUMENT_BYTES / 2));
    let refused = sink.write_with(|buffer, ends| {
        write_documents(buffer, ends, &good, true)?;
        write_documents(buffer, ends, &too_large, true)
    });
    assert!(
        matches!(refused, Err(Error::PropertyTooLarge { .. })),
        "{refused:?}"
    );
    assert!(out.take().is_empty());
    assert!(matches!(
        documents(&too_large),
        Err(Error::PropertyTooLarge { .. })
    ));
    // The next flush is whole.
    sink.write_with(|buffer, ends| write_documents(buffer, ends, &good, true))
        .unwrap();
    let text = out.take();
    assert_eq!(
        text,
        [documents(&good).unwrap()[0].clone(), b"\n".to_vec()].concat()
    );
}

#[test]
fn a_group_without_metrics_has_no_document() {
    let mut group = simple("tenant-a", "x");
    group.metrics.clear();
    assert!(documents(&group).unwrap().is_empty());
}
