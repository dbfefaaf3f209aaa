//! CloudWatch Embedded Metric Format: documents, split at EMF's limits, written whole.

use std::fmt;
use std::io::Write;
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use super::{BoxFuture, RawSink};
use crate::error::{Error, Result};
use crate::group::{MetricData, MetricGroup};
use crate::unit::Resolution;

/// The most metrics in one document (EMF's limit).
pub const MAX_METRICS_PER_DOCUMENT: usize = 100;
/// The most values of one metric in one document (EMF's limit).
pub const MAX_VALUES_PER_METRIC: usize = 100;
/// The largest document written: under CloudWatch Logs' 256 KB event limit (262,144 bytes less
/// 26 bytes of event overhead), with room to spare.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1000;

/// One metric's rendered pieces for one document.
struct Piece {
    definition: Vec<u8>,
    member: Vec<u8>,
}

fn json_str(out: &mut Vec<u8>, s: &str) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn json_f64(out: &mut Vec<u8>, v: f64) {
    // Values are finite (validated when recorded); integers print without a fraction.
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = serde_json::to_writer(&mut *out, &v);
    }
}

/// `{"Name":..,"Unit":..[,"StorageResolution":1]}`.
fn write_definition(out: &mut Vec<u8>, metric: &MetricData) {
    out.extend_from_slice(b"{\"Name\":");
    json_str(out, &metric.name);
    out.extend_from_slice(b",\"Unit\":");
    json_str(out, metric.unit.as_str());
    if metric.resolution == Resolution::High {
        out.extend_from_slice(b",\"StorageResolution\":1");
    }
    out.push(b'}');
}

/// `,"name":value` or `,"name":[v,..]`.
fn write_member(out: &mut Vec<u8>, name: &str, values: &[f64]) {
    out.push(b',');
    json_str(out, name);
    out.push(b':');
    if let [one] = values {
        json_f64(out, *one);
    } else {
        out.push(b'[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_f64(out, *v);
        }
        out.push(b']');
    }
}

/// The EMF documents of `group`, each a JSON object (no newline), none over
/// [`MAX_DOCUMENT_BYTES`], at most 100 metrics each and 100 values per metric.
pub fn documents(group: &MetricGroup) -> Result<Vec<Vec<u8>>> {
    let ms = group
        .timestamp
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    // `{"_aws":{"Timestamp":..,"CloudWatchMetrics":[{"Namespace":..,"Dimensions":[[..]],"Metrics":[`
    let mut head = Vec::with_capacity(256);
    let _ = write!(
        head,
        "{{\"_aws\":{{\"Timestamp\":{ms},\"CloudWatchMetrics\":[{{\"Namespace\":"
    );
    json_str(&mut head, &group.namespace);
    head.extend_from_slice(b",\"Dimensions\":[[");
    for (i, (name, _)) in group.dimensions.iter().enumerate() {
        if i > 0 {
            head.push(b',');
        }
        json_str(&mut head, name);
    }
    head.extend_from_slice(b"]],\"Metrics\":[");
    // `]}]}` then the members: dimension values, properties, metric values; then `}`.
    let mut members = Vec::with_capacity(256);
    members.extend_from_slice(b"]}]}");
    for (name, value) in &group.dimensions {
        members.push(b',');
        json_str(&mut members, name);
        members.push(b':');
        json_str(&mut members, value);
    }
    for (key, value) in group.properties.iter() {
        if group.dimensions.iter().any(|(n, _)| n == key) {
            continue;
        }
        members.push(b',');
        json_str(&mut members, key);
        members.push(b':');
        serde_json::to_writer(&mut members, value).map_err(|e| Error::Sink(Box::new(e)))?;
    }
    let base = head.len() + members.len() + 1;
    if base > MAX_DOCUMENT_BYTES / 2 {
        return Err(Error::PropertyTooLarge {
            key: "(all properties and dimensions)".into(),
            size: base,
            max: MAX_DOCUMENT_BYTES / 2,
        });
    }

    // The common case, one document: written straight into one buffer.
    let fits_one = group.metrics.len() <= MAX_METRICS_PER_DOCUMENT
        && group
            .metrics
            .iter()
            .all(|m| m.values.len() <= MAX_VALUES_PER_METRIC)
        && base
            + group
                .metrics
                .iter()
                // A name escapes to at most 6 bytes a byte (\u00XX); a value takes at most 25.
                .map(|m| 12 * m.name.len() + 64 + 26 * m.values.len())
                .sum::<usize>()
            <= MAX_DOCUMENT_BYTES;
    if fits_one {
        if group.metrics.is_empty() {
            return Ok(Vec::new());
        }
        let mut doc = Vec::with_capacity(base + 64 * group.metrics.len());
        doc.extend_from_slice(&head);
        for (i, metric) in group.metrics.iter().enumerate() {
            if i > 0 {
                doc.push(b',');
            }
            write_definition(&mut doc, metric);
        }
        doc.extend_from_slice(&members);
        for metric in &group.metrics {
            write_member(&mut doc, &metric.name, &metric.values);
        }
        doc.push(b'}');
        return Ok(vec![doc]);
    }

    let rounds = group
        .metrics
        .iter()
        .map(|m| m.values.len().div_ceil(MAX_VALUES_PER_METRIC))
        .max()
        .unwrap_or(0);
    let mut docs = Vec::new();
    for round in 0..rounds {
        let mut pieces = Vec::new();
        for metric in &group.metrics {
            let Some(chunk) = metric
                .values
                .chunks(MAX_VALUES_PER_METRIC)
                .nth(round)
                .filter(|c| !c.is_empty())
            else {
                continue;
            };
            let mut definition = Vec::with_capacity(64);
            write_definition(&mut definition, metric);
            let mut member = Vec::with_capacity(32);
            write_member(&mut member, &metric.name, chunk);
            pieces.push(Piece { definition, member });
        }
        // Pack greedily: at most 100 metrics and MAX_DOCUMENT_BYTES per document.
        let mut start = 0;
        while start < pieces.len() {
            let mut size = base;
            let mut end = start;
            while end < pieces.len() && end - start < MAX_METRICS_PER_DOCUMENT {
                let p = &pieces[end];
                let add = p.definition.len() + p.member.len() + usize::from(end > start);
                if end > start && size + add > MAX_DOCUMENT_BYTES {
                    break;
                }
                size += add;
                end += 1;
            }
            let mut doc = Vec::with_capacity(size);
            doc.extend_from_slice(&head);
            for (i, p) in pieces[start..end].iter().enumerate() {
                if i > 0 {
                    doc.push(b',');
                }
                doc.extend_from_slice(&p.definition);
            }
            doc.extend_from_slice(&members);
            for p in &pieces[start..end] {
                doc.extend_from_slice(&p.member);
            }
            doc.push(b'}');
            docs.push(doc);
            start = end;
        }
    }
    Ok(docs)
}

/// Writes EMF documents, one per line, each with a single `write_all` under a lock so that
/// concurrent invocations never interleave.
pub(crate) struct EmfWriter {
    out: Mutex<Box<dyn Write + Send>>,
    stdout: bool,
}

impl fmt::Debug for EmfWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.stdout {
            "Sink::emf_stdout"
        } else {
            "Sink::emf_writer"
        })
    }
}

impl EmfWriter {
    pub(crate) fn stdout() -> Self {
        EmfWriter {
            out: Mutex::new(Box::new(std::io::stdout())),
            stdout: true,
        }
    }

    pub(crate) fn new(writer: impl Write + Send + 'static) -> Self {
        EmfWriter {
            out: Mutex::new(Box::new(writer)),
            stdout: false,
        }
    }

    fn write(&self, groups: &[MetricGroup]) -> Result<()> {
        let mut lines = Vec::new();
        for group in groups {
            for mut doc in documents(group)? {
                doc.push(b'\n');
                lines.push(doc);
            }
        }
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        for line in &lines {
            out.write_all(line).map_err(|e| Error::Sink(Box::new(e)))?;
        }
        out.flush().map_err(|e| Error::Sink(Box::new(e)))
    }
}

impl RawSink for EmfWriter {
    fn publish(&self, groups: Vec<MetricGroup>) -> BoxFuture<'_, Result<()>> {
        let result = self.write(&groups);
        Box::pin(std::future::ready(result))
    }
}
