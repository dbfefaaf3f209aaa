//! CloudWatch Embedded Metric Format: documents, split at EMF's limits, written whole.
//!
//! A document is written straight into a byte buffer from borrowed data ([`Source`]): the
//! manager's pending metrics when the sink is EMF (no [`MetricGroup`] is made), or a flushed
//! [`MetricGroup`] ([`documents`], the memory sink's `emf_lines`). Both give the same bytes. The
//! EMF sink keeps one buffer, cleared before and after each flush, so that a flush allocates
//! nothing once the buffer has grown to the size of a flush, and no flush's text outlives it.

use std::fmt;
use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::json::{self, Text};
use super::{BoxFuture, RawSink};
use crate::error::{Error, Result};
use crate::group::MetricGroup;
use crate::unit::{Resolution, Unit};

/// The most metrics in one document (EMF's limit).
pub const MAX_METRICS_PER_DOCUMENT: usize = 100;
/// The most values of one metric in one document (EMF's limit).
pub const MAX_VALUES_PER_METRIC: usize = 100;
/// The largest document written: under CloudWatch Logs' 256 KB event limit (262,144 bytes less
/// 26 bytes of event overhead), with room to spare.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1000;

/// The buffer capacity the EMF sink keeps between flushes; a larger one (a flush of many
/// documents) is given back.
const KEPT_CAPACITY: usize = 64 * 1024;

/// One metric of a document, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MetricRef<'a> {
    pub(crate) name: NameText<'a>,
    pub(crate) unit: Unit,
    pub(crate) resolution: Resolution,
    pub(crate) values: &'a [f64],
}

/// A metric's name, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NameText<'a> {
    /// The name itself.
    Raw(&'a str),
    /// The name as a JSON string, quotes included (made once when it was recorded).
    Json(&'a [u8]),
}

/// A property's value, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PropertyRef<'a> {
    /// A string (the tenant id, the tier).
    Text(Text<'a>),
    /// Any JSON value (the handler's).
    Json(&'a Value),
}

/// What the documents of one group are made of, borrowed.
pub(crate) trait Source {
    /// The CloudWatch namespace.
    fn namespace(&self) -> &str;
    /// When the values were taken.
    fn timestamp(&self) -> SystemTime;
    /// Calls `each` with the dimension set, in order: name and value.
    fn dimensions<'a>(&'a self, each: impl FnMut(Text<'a>, Text<'a>));
    /// Calls `each` with the properties by key, in byte order of the keys, without those that
    /// are dimensions.
    fn properties<'a>(&'a self, each: impl FnMut(Text<'a>, PropertyRef<'a>));
    /// The metrics, in the order first recorded.
    fn metrics(&self) -> impl Iterator<Item = MetricRef<'_>> + Clone;
    /// How many metrics [`Source::metrics`] gives.
    fn metric_count(&self) -> usize;
}

impl Source for MetricGroup {
    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn timestamp(&self) -> SystemTime {
        self.timestamp
    }

    fn dimensions<'a>(&'a self, mut each: impl FnMut(Text<'a>, Text<'a>)) {
        for (name, value) in &self.dimensions {
            each(Text::Any(name), Text::Any(value));
        }
    }

    fn properties<'a>(&'a self, mut each: impl FnMut(Text<'a>, PropertyRef<'a>)) {
        // A serde_json map is in key order unless its `preserve_order` feature is on: sorted
        // here, so that the text never depends on it.
        let mut properties: Vec<(&str, &Value)> = self
            .properties
            .iter()
            .filter(|(key, _)| !self.dimensions.iter().any(|(n, _)| n == *key))
            .map(|(key, value)| (key.as_str(), value))
            .collect();
        properties.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (key, value) in properties {
            each(Text::Any(key), PropertyRef::Json(value));
        }
    }

    fn metrics(&self) -> impl Iterator<Item = MetricRef<'_>> + Clone {
        self.metrics.iter().map(|m| MetricRef {
            name: NameText::Raw(&m.name),
            unit: m.unit,
            resolution: m.resolution,
            values: &m.values,
        })
    }

    fn metric_count(&self) -> usize {
        self.metrics.len()
    }
}

/// `{"_aws":{"Timestamp":..,"CloudWatchMetrics":[{"Namespace":..,"Dimensions":[[..]],"Metrics":[`
fn write_head(out: &mut Vec<u8>, group: &impl Source) {
    let ms = group
        .timestamp()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    out.extend_from_slice(b"{\"_aws\":{\"Timestamp\":");
    json::unsigned(out, ms);
    out.extend_from_slice(b",\"CloudWatchMetrics\":[{\"Namespace\":");
    json::string(out, group.namespace());
    out.extend_from_slice(b",\"Dimensions\":[[");
    let mut first = true;
    group.dimensions(|name, _| {
        if !first {
            out.push(b',');
        }
        first = false;
        json::text(out, name);
    });
    out.extend_from_slice(b"]],\"Metrics\":[");
}

/// `]}]}` then the members of the dimensions and the properties (each `,"key":value`).
fn write_members(out: &mut Vec<u8>, group: &impl Source) {
    out.extend_from_slice(b"]}]}");
    group.dimensions(|name, value| {
        out.push(b',');
        json::text(out, name);
        out.push(b':');
        json::text(out, value);
    });
    group.properties(|key, value| {
        out.push(b',');
        json::text(out, key);
        out.push(b':');
        match value {
            PropertyRef::Text(text) => json::text(out, text),
            PropertyRef::Json(v) => json::value(out, v),
        }
    });
}

/// A metric's name as a JSON string.
#[inline(always)]
fn write_name(out: &mut Vec<u8>, name: NameText<'_>) {
    match name {
        NameText::Raw(name) => json::string(out, name),
        NameText::Json(text) => out.extend_from_slice(text),
    }
}

/// `{"Name":..,"Unit":..[,"StorageResolution":1]}`.
#[inline(always)]
fn write_definition(out: &mut Vec<u8>, metric: &MetricRef<'_>) {
    out.extend_from_slice(b"{\"Name\":");
    write_name(out, metric.name);
    let high = metric.resolution == Resolution::High;
    out.extend_from_slice(metric.unit.emf_definition_end(high).as_bytes());
}

/// `,"name":value` or `,"name":[v,..]`.
#[inline(always)]
fn write_member(out: &mut Vec<u8>, name: NameText<'_>, values: &[f64]) {
    out.push(b',');
    write_name(out, name);
    out.push(b':');
    if let [one] = values {
        json::metric_value(out, *one);
    } else {
        out.push(b'[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::metric_value(out, *v);
        }
        out.push(b']');
    }
}

/// The dimensions and properties of every document of a group must leave room for metrics.
fn check_base(base: usize) -> Result<()> {
    if base > MAX_DOCUMENT_BYTES / 2 {
        return Err(Error::PropertyTooLarge {
            key: "(all properties and dimensions)".into(),
            size: base,
            max: MAX_DOCUMENT_BYTES / 2,
        });
    }
    Ok(())
}

/// Appends the EMF documents of `group` to `out`, each a JSON object, followed by `\n` when
/// `newline`, and pushes the end of each (after its newline) to `ends`. None is over
/// [`MAX_DOCUMENT_BYTES`] (newline excluded), none holds more than 100 metrics or 100 values of
/// a metric. On an error, `out` and `ends` are as they were.
pub(crate) fn write_documents(
    out: &mut Vec<u8>,
    ends: &mut Vec<usize>,
    group: &impl Source,
    newline: bool,
) -> Result<()> {
    let count = group.metric_count();
    if count == 0 {
        return Ok(());
    }
    let start = out.len();
    let (values, most) = group.metrics().fold((0, 0), |(values, most), m| {
        (values + m.values.len(), most.max(m.values.len()))
    });
    // The common case, one document: written at once, then measured.
    if count <= MAX_METRICS_PER_DOCUMENT && most <= MAX_VALUES_PER_METRIC {
        // Room for the usual: short names and values (more grows the buffer as needed).
        out.reserve(512 + 64 * count + 24 * values);
        write_head(out, group);
        let head = out.len() - start;
        for (i, metric) in group.metrics().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_definition(out, &metric);
        }
        let definitions_end = out.len();
        write_members(out, group);
        if let Err(e) = check_base(head + (out.len() - definitions_end) + 1) {
            out.truncate(start);
            return Err(e);
        }
        for metric in group.metrics() {
            write_member(out, metric.name, metric.values);
        }
        out.push(b'}');
        if out.len() - start <= MAX_DOCUMENT_BYTES {
            if newline {
                out.push(b'\n');
            }
            ends.push(out.len());
            return Ok(());
        }
        // Too large for one: split below.
        out.truncate(start);
    }
    let documents_before = ends.len();
    let result = write_split(out, ends, group, newline);
    if result.is_err() {
        out.truncate(start);
        ends.truncate(documents_before);
    }
    result
}

/// One metric's rendered pieces for one document.
struct Piece {
    definition: Vec<u8>,
    member: Vec<u8>,
}

/// A group split into several documents: the first 100 values of every metric, packed greedily
/// (at most 100 metrics and [`MAX_DOCUMENT_BYTES`] a document), then the next 100, and so on.
fn write_split(
    out: &mut Vec<u8>,
    ends: &mut Vec<usize>,
    group: &impl Source,
    newline: bool,
) -> Result<()> {
    let mut head = Vec::with_capacity(256);
    write_head(&mut head, group);
    let mut members = Vec::with_capacity(256);
    write_members(&mut members, group);
    let base = head.len() + members.len() + 1;
    check_base(base)?;

    let rounds = group
        .metrics()
        .map(|m| m.values.len().div_ceil(MAX_VALUES_PER_METRIC))
        .max()
        .unwrap_or(0);
    for round in 0..rounds {
        let mut pieces = Vec::new();
        for metric in group.metrics() {
            let Some(chunk) = metric
                .values
                .chunks(MAX_VALUES_PER_METRIC)
                .nth(round)
                .filter(|c| !c.is_empty())
            else {
                continue;
            };
            let mut definition = Vec::with_capacity(64);
            write_definition(&mut definition, &metric);
            let mut member = Vec::with_capacity(32);
            write_member(&mut member, metric.name, chunk);
            pieces.push(Piece { definition, member });
        }
        let mut rest = pieces.as_slice();
        while !rest.is_empty() {
            let mut size = base;
            let mut end = 0;
            for p in rest.iter().take(MAX_METRICS_PER_DOCUMENT) {
                let add = p.definition.len() + p.member.len() + usize::from(end > 0);
                if end > 0 && size + add > MAX_DOCUMENT_BYTES {
                    break;
                }
                size += add;
                end += 1;
            }
            let (document, more) = rest.split_at(end);
            out.reserve(size + 1);
            out.extend_from_slice(&head);
            for (i, p) in document.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(&p.definition);
            }
            out.extend_from_slice(&members);
            for p in document {
                out.extend_from_slice(&p.member);
            }
            out.push(b'}');
            if newline {
                out.push(b'\n');
            }
            ends.push(out.len());
            rest = more;
        }
    }
    Ok(())
}

/// The EMF documents of `group`, each a JSON object (no newline), none over
/// [`MAX_DOCUMENT_BYTES`], at most 100 metrics each and 100 values per metric: what the EMF
/// sink writes for it, one a line.
pub fn documents(group: &MetricGroup) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut ends = Vec::new();
    write_documents(&mut out, &mut ends, group, false)?;
    let mut start = 0;
    Ok(ends
        .iter()
        .map(|&end| {
            let doc = out.get(start..end).unwrap_or_default().to_vec();
            start = end;
            doc
        })
        .collect())
}

/// Writes EMF documents, one per line, a flush's documents with a single `write_all` under a
/// lock so that concurrent invocations never interleave. The documents are made in the sink's
/// own buffer, under the same lock.
pub(crate) struct EmfWriter {
    inner: Mutex<Output>,
    stdout: bool,
}

struct Output {
    writer: Box<dyn Write + Send>,
    /// The documents of the flush being written; empty between flushes.
    buffer: Vec<u8>,
    /// Where each document of `buffer` ends.
    ends: Vec<usize>,
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
        Self::with(Box::new(std::io::stdout()), true)
    }

    pub(crate) fn new(writer: impl Write + Send + 'static) -> Self {
        Self::with(Box::new(writer), false)
    }

    fn with(writer: Box<dyn Write + Send>, stdout: bool) -> Self {
        EmfWriter {
            inner: Mutex::new(Output {
                writer,
                buffer: Vec::new(),
                ends: Vec::new(),
            }),
            stdout,
        }
    }

    /// Makes a flush's documents with `render` (which appends them to the buffer, with their
    /// newlines, and their ends to the list), then writes them all with one `write_all`.
    /// Nothing is written if `render` fails.
    pub(crate) fn write_with(
        &self,
        render: impl FnOnce(&mut Vec<u8>, &mut Vec<usize>) -> Result<()>,
    ) -> Result<()> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Output {
            writer,
            buffer,
            ends,
        } = &mut *inner;
        // A panic in an earlier flush may have left its text.
        buffer.clear();
        ends.clear();
        let result = render(buffer, ends).and_then(|()| {
            // Every document of the flush, each on its own line, in one write: one system call
            // for a file or stdout, however many documents the flush has.
            let end = ends.last().copied().unwrap_or(0);
            if end > 0 {
                writer
                    .write_all(buffer.get(..end).unwrap_or_default())
                    .map_err(|e| Error::Sink(Box::new(e)))?;
            }
            writer.flush().map_err(|e| Error::Sink(Box::new(e)))
        });
        buffer.clear();
        ends.clear();
        if buffer.capacity() > KEPT_CAPACITY {
            buffer.shrink_to(KEPT_CAPACITY);
        }
        result
    }
}

impl RawSink for EmfWriter {
    fn publish(&self, groups: Vec<MetricGroup>) -> BoxFuture<'_, Result<()>> {
        let result = self.write_with(|buffer, ends| {
            groups
                .iter()
                .try_for_each(|group| write_documents(buffer, ends, group, true))
        });
        Box::pin(std::future::ready(result))
    }

    fn as_emf(&self) -> Option<&EmfWriter> {
        Some(self)
    }
}

#[cfg(test)]
#[path = "emf_tests.rs"]
mod tests;
