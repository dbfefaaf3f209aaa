//! Reading consumption back from EMF lines: a CloudWatch Logs export, or a local run's stdout.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read};

use serde_json::{Map, Value};

use super::{Period, Resource, Usage, UsageError};
use crate::{SERVICE, TENANT_ID};

/// The longest line read as a document: CloudWatch Logs events are at most 256 KiB, so anything
/// longer is not one of ours (it is skipped without being held in memory).
const MAX_LINE_BYTES: usize = 1 << 20;

/// What an [`EmfReader`] saw, line by line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadStats {
    /// Lines read.
    pub lines: u64,
    /// EMF documents whose consumption figures were counted.
    pub documents: u64,
    /// Lines that are not EMF documents (log text, JSON log lines, blank lines).
    pub skipped: u64,
    /// EMF documents without consumption metrics (the application's own metrics).
    pub other_metrics: u64,
    /// Consumption documents of another namespace or service than the one asked for.
    pub filtered: u64,
    /// Consumption documents outside the period.
    pub out_of_period: u64,
    /// Consumption documents without a valid `tenant_id` (never counted under a guessed tenant).
    pub no_tenant: u64,
    /// Lines that look like EMF documents but are not valid ones (when not strict).
    pub malformed: u64,
}

/// Reads the [`crate::consumption`] figures out of EMF documents, one per line.
///
/// A line may carry a prefix before its document (CloudWatch Logs exports put a timestamp first);
/// lines that hold no EMF document are skipped and counted. A document is counted whole or not
/// at all: one that declares a consumption metric without a valid value, or has no valid
/// `tenant_id`, adds nothing (and with [`EmfReader::strict`] fails the read).
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct EmfReader {
    namespace: Option<String>,
    service: Option<String>,
    period: Period,
    strict: bool,
}

impl EmfReader {
    /// A reader of every namespace (there must then be only one with consumption metrics), every
    /// service and all time.
    pub fn new() -> EmfReader {
        EmfReader::default()
    }

    /// Only documents of CloudWatch namespace `namespace`.
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_owned());
        self
    }

    /// Only documents whose `service` is `service`.
    pub fn service(mut self, service: &str) -> Self {
        self.service = Some(service.to_owned());
        self
    }

    /// Only documents stamped within `period` (`_aws.Timestamp`).
    pub fn period(mut self, period: Period) -> Self {
        self.period = period;
        self
    }

    /// Fails on the first line that looks like an EMF document but is not a valid one, rather
    /// than counting it in [`ReadStats::malformed`].
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Reads one input.
    pub fn read(&self, input: impl BufRead) -> Result<Usage, UsageError> {
        self.read_all([input])
    }

    /// Reads several inputs (several log files of one period) into one usage. Line numbers in
    /// errors count from the start of each input.
    pub fn read_all<R: BufRead>(
        &self,
        inputs: impl IntoIterator<Item = R>,
    ) -> Result<Usage, UsageError> {
        let mut by_namespace: BTreeMap<String, Usage> = BTreeMap::new();
        let mut stats = ReadStats::default();
        let mut buf = Vec::with_capacity(4096);
        for mut input in inputs {
            let mut line_no = 0u64;
            loop {
                buf.clear();
                let read = Read::take(&mut input, MAX_LINE_BYTES as u64 + 1)
                    .read_until(b'\n', &mut buf)?;
                if read == 0 {
                    break;
                }
                line_no += 1;
                stats.lines += 1;
                if buf.len() > MAX_LINE_BYTES && buf.last() != Some(&b'\n') {
                    input.skip_until(b'\n')?;
                    stats.skipped += 1;
                    continue;
                }
                match self.parse_line(&buf) {
                    Line::Skipped => stats.skipped += 1,
                    Line::OtherMetrics => stats.other_metrics += 1,
                    Line::Filtered => stats.filtered += 1,
                    Line::OutOfPeriod => stats.out_of_period += 1,
                    Line::NoTenant => stats.no_tenant += 1,
                    Line::Malformed(reason) => {
                        if self.strict {
                            return Err(UsageError::Malformed {
                                line: line_no,
                                reason,
                            });
                        }
                        stats.malformed += 1;
                    }
                    Line::Figures {
                        namespace,
                        tenant,
                        figures,
                    } => {
                        stats.documents += 1;
                        let usage = by_namespace
                            .entry(namespace)
                            .or_insert_with(|| Usage::new(self.period));
                        for (resource, sum, samples) in figures {
                            usage.record(&tenant, resource, sum, samples);
                        }
                    }
                }
            }
        }
        let mut usage = match self.namespace.as_ref() {
            Some(ns) => by_namespace
                .remove(ns)
                .unwrap_or_else(|| Usage::new(self.period)),
            None if by_namespace.len() > 1 => {
                let names: Vec<&str> = by_namespace.keys().map(String::as_str).collect();
                return Err(UsageError::AmbiguousNamespace(names.join(", ")));
            }
            None => by_namespace
                .pop_first()
                .map(|(_, u)| u)
                .unwrap_or_else(|| Usage::new(self.period)),
        };
        usage.stats = stats;
        Ok(usage)
    }

    fn parse_line(&self, raw: &[u8]) -> Line {
        let Ok(text) = std::str::from_utf8(raw) else {
            return Line::Skipped;
        };
        let Some(start) = text.find('{') else {
            return Line::Skipped;
        };
        let json = text[start..].trim_end();
        let doc: Map<String, Value> = match serde_json::from_str(json) {
            Ok(Value::Object(doc)) => doc,
            Ok(_) => return Line::Skipped,
            // Log text that happens to hold a brace is not ours; a broken document is.
            Err(e) if json.contains("\"_aws\"") => {
                return Line::Malformed(format!("not a JSON document: {e}"));
            }
            Err(_) => return Line::Skipped,
        };
        match self.parse_document(&doc) {
            Ok(line) => line,
            Err(reason) => Line::Malformed(reason),
        }
    }

    fn parse_document(&self, doc: &Map<String, Value>) -> Result<Line, String> {
        let Some(aws) = doc.get("_aws") else {
            return Ok(Line::Skipped);
        };
        let aws = aws.as_object().ok_or("_aws is not an object")?;
        let timestamp = aws
            .get("Timestamp")
            .and_then(Value::as_i64)
            .ok_or("_aws.Timestamp is not an integer of milliseconds")?;
        let directives = aws
            .get("CloudWatchMetrics")
            .and_then(Value::as_array)
            .ok_or("_aws.CloudWatchMetrics is not an array")?;

        // The consumption metrics each namespace declares (a value counts once per document
        // even if several directives name it).
        let mut declared: BTreeMap<&str, BTreeSet<Resource>> = BTreeMap::new();
        for directive in directives {
            let namespace = directive
                .get("Namespace")
                .and_then(Value::as_str)
                .ok_or("a directive without a Namespace")?;
            let metrics = directive
                .get("Metrics")
                .and_then(Value::as_array)
                .ok_or("a directive without Metrics")?;
            for metric in metrics {
                let name = metric
                    .get("Name")
                    .and_then(Value::as_str)
                    .ok_or("a metric definition without a Name")?;
                if let Some(resource) = Resource::from_metric(name) {
                    declared.entry(namespace).or_default().insert(resource);
                }
            }
        }
        if declared.is_empty() {
            return Ok(Line::OtherMetrics);
        }
        if declared.len() > 1 {
            return Err("consumption metrics of several namespaces in one document".into());
        }
        let Some((namespace, resources)) = declared.pop_first() else {
            return Ok(Line::OtherMetrics);
        };
        if self.namespace.as_deref().is_some_and(|ns| ns != namespace) {
            return Ok(Line::Filtered);
        }
        if let Some(service) = &self.service
            && doc.get(SERVICE).and_then(Value::as_str) != Some(service)
        {
            return Ok(Line::Filtered);
        }
        if !self.period.contains_ms(timestamp) {
            return Ok(Line::OutOfPeriod);
        }
        let tenant = match doc.get(TENANT_ID).and_then(Value::as_str) {
            Some(t) if saas_core::TenantId::validate(t).is_ok() => t,
            _ => return Ok(Line::NoTenant),
        };
        let mut figures = Vec::with_capacity(resources.len());
        for resource in resources {
            let Some(name) = resource.metric() else {
                continue;
            };
            let (sum, samples) = match doc.get(name) {
                Some(Value::Number(n)) => (n.as_f64().unwrap_or(f64::NAN), 1.0),
                Some(Value::Array(values)) => values
                    .iter()
                    .try_fold((0.0, 0.0), |(s, c), v| v.as_f64().map(|v| (s + v, c + 1.0)))
                    .ok_or_else(|| format!("{name} holds a value that is not a number"))?,
                _ => return Err(format!("{name} is declared but has no value")),
            };
            if !sum.is_finite() || sum < 0.0 {
                return Err(format!("{name} is not a finite, non-negative figure"));
            }
            figures.push((resource, sum, samples));
        }
        Ok(Line::Figures {
            namespace: namespace.to_owned(),
            tenant: tenant.to_owned(),
            figures,
        })
    }
}

enum Line {
    Skipped,
    OtherMetrics,
    Filtered,
    OutOfPeriod,
    NoTenant,
    Malformed(String),
    Figures {
        namespace: String,
        tenant: String,
        figures: Vec<(Resource, f64, f64)>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(ns: &str, ts: i64, tenant: &str, members: &str, metrics: &[&str]) -> String {
        let defs: Vec<String> = metrics
            .iter()
            .map(|m| format!(r#"{{"Name":"{m}","Unit":"Count"}}"#))
            .collect();
        format!(
            r#"{{"_aws":{{"Timestamp":{ts},"CloudWatchMetrics":[{{"Namespace":"{ns}","Dimensions":[["service","tenant_id"]],"Metrics":[{}]}}]}},"service":"todo","tenant_id":"{tenant}"{members}}}"#,
            defs.join(",")
        )
    }

    #[test]
    fn figures_add_up_per_tenant_and_arrays_count_each_sample() {
        let input = [
            doc(
                "App",
                1000,
                "a",
                r#","TenantRequests":2"#,
                &["TenantRequests"],
            ),
            doc(
                "App",
                2000,
                "a",
                r#","TenantRequests":[1,2,3]"#,
                &["TenantRequests"],
            ),
            doc(
                "App",
                3000,
                "b",
                r#","TenantStorageBytes":[10,30],"TenantRequests":1"#,
                &["TenantStorageBytes", "TenantRequests"],
            ),
            format!(
                "2026-11-03T10:00:00.000Z\t{}",
                doc(
                    "App",
                    4000,
                    "b",
                    r#","TenantStorageBytes":50"#,
                    &["TenantStorageBytes"]
                )
            ),
        ]
        .join("\n");
        let usage = EmfReader::new().read(input.as_bytes()).unwrap();
        assert_eq!(usage.tenant("a").unwrap().requests, 8.0);
        assert_eq!(usage.tenant("b").unwrap().requests, 1.0);
        assert_eq!(usage.tenant("b").unwrap().storage_bytes, 30.0);
        assert_eq!(usage.stats().documents, 4);
    }

    #[test]
    fn what_is_not_a_consumption_document_is_counted_not_used() {
        let input = [
            "START RequestId: 1 Version: $LATEST".to_owned(),
            String::new(),
            r#"{"level":"INFO","message":"hello {there}"}"#.to_owned(),
            "a brace { in text".to_owned(),
            doc("App", 1, "a", r#","Hits":1"#, &["Hits"]),
            doc(
                "Other",
                1,
                "a",
                r#","TenantRequests":1"#,
                &["TenantRequests"],
            ),
            doc(
                "App",
                1,
                "not a tenant!",
                r#","TenantRequests":1"#,
                &["TenantRequests"],
            ),
            doc(
                "App",
                1,
                "a",
                r#","TenantRequests":"1""#,
                &["TenantRequests"],
            ),
            doc("App", 1, "a", "", &["TenantRequests"]),
            r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace""#.to_owned(),
            doc(
                "App",
                1,
                "a",
                r#","TenantRequests":-1"#,
                &["TenantRequests"],
            ),
            doc(
                "App",
                9_000_000_000_000,
                "a",
                r#","TenantRequests":1"#,
                &["TenantRequests"],
            ),
            doc("App", 1, "a", r#","TenantRequests":1"#, &["TenantRequests"]),
        ]
        .join("\n");
        let period = Period::from_millis(None, Some(1_000_000)).unwrap();
        let usage = EmfReader::new()
            .namespace("App")
            .period(period)
            .read(input.as_bytes())
            .unwrap();
        let s = usage.stats();
        assert_eq!(
            (
                s.lines,
                s.skipped,
                s.other_metrics,
                s.filtered,
                s.no_tenant,
                s.malformed,
                s.out_of_period,
                s.documents
            ),
            (13, 4, 1, 1, 1, 4, 1, 1)
        );
        assert_eq!(usage.tenant("a").unwrap().requests, 1.0);
        assert_eq!(usage.tenants().len(), 1);

        let strict = EmfReader::new()
            .namespace("App")
            .strict(true)
            .read(input.as_bytes());
        assert!(
            matches!(strict, Err(UsageError::Malformed { line: 8, .. })),
            "{strict:?}"
        );
    }

    #[test]
    fn several_namespaces_must_be_chosen_between() {
        let input = [
            doc("App", 1, "a", r#","TenantRequests":1"#, &["TenantRequests"]),
            doc(
                "Other",
                1,
                "a",
                r#","TenantRequests":5"#,
                &["TenantRequests"],
            ),
        ]
        .join("\n");
        let err = EmfReader::new().read(input.as_bytes()).unwrap_err();
        assert!(
            matches!(err, UsageError::AmbiguousNamespace(ref n) if n == "App, Other"),
            "{err}"
        );
        let other = EmfReader::new()
            .namespace("Other")
            .read(input.as_bytes())
            .unwrap();
        assert_eq!(other.tenant("a").unwrap().requests, 5.0);
    }

    #[test]
    fn a_service_filter_keeps_that_service_only() {
        let mine = doc("App", 1, "a", r#","TenantRequests":1"#, &["TenantRequests"]);
        let theirs = mine.replace(r#""service":"todo""#, r#""service":"billing""#);
        let input = format!("{mine}\n{theirs}\n");
        let usage = EmfReader::new()
            .service("todo")
            .read(input.as_bytes())
            .unwrap();
        assert_eq!(usage.tenant("a").unwrap().requests, 1.0);
        assert_eq!(usage.stats().filtered, 1);
    }

    #[test]
    fn an_overlong_line_is_skipped_without_losing_the_next() {
        let long = "x".repeat(MAX_LINE_BYTES + 10);
        let good = doc("App", 1, "a", r#","TenantRequests":1"#, &["TenantRequests"]);
        let input = format!("{long}\n{good}\n");
        let usage = EmfReader::new().read(input.as_bytes()).unwrap();
        assert_eq!(usage.stats().lines, 2);
        assert_eq!(usage.stats().skipped, 1);
        assert_eq!(usage.tenant("a").unwrap().requests, 1.0);
    }

    #[test]
    fn several_inputs_read_as_one() {
        let one = doc("App", 1, "a", r#","TenantRequests":1"#, &["TenantRequests"]);
        let two = doc("App", 1, "a", r#","TenantRequests":2"#, &["TenantRequests"]);
        let usage = EmfReader::new()
            .read_all([one.as_bytes(), two.as_bytes()])
            .unwrap();
        assert_eq!(usage.tenant("a").unwrap().requests, 3.0);
    }
}
