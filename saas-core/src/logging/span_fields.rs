//! A span's fields as one JSON object, written as they are recorded.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::FormattedFields;
use tracing_subscriber::fmt::format::Writer;

/// Formats a span's fields as a JSON object (`{"tenant.id":"a","n":3}`): what the JSON event
/// formatter reads back into each line's `span` and `spans`.
///
/// tracing-subscriber's own `JsonFields` gathers the fields into a map of `serde_json::Value`s
/// and serializes it through an `io::Write` adaptor, and parses and writes the object again for
/// each field recorded later. This writes each field once, straight into the span's buffer. The
/// request span that [`RequireTenantLayer`](crate::RequireTenantLayer) opens for every request
/// is where it counts (docs/performance-todo.md, "The request span").
///
/// The same values as `JsonFields`: strings, 64-bit numbers and booleans as themselves, a
/// non-finite float as `null`, bytes as an array of numbers, anything else (128-bit numbers
/// included) as its `Debug` text; a raw identifier's `r#` is dropped. A field recorded again is
/// written again; the reader keeps the last.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct JsonSpanFields;

impl<'writer> FormatFields<'writer> for JsonSpanFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        writer.write_char('{')?;
        let mut members = Members::new(&mut writer, true);
        fields.record(&mut members);
        members.result?;
        writer.write_char('}')
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        // An object this type wrote: reopen it, add the members, close it again.
        if !current.fields.ends_with('}') {
            current.fields.clear();
            return self.format_fields(current.as_writer(), fields);
        }
        current.fields.pop();
        let first = current.fields == "{";
        let mut members = Members::new(&mut current.fields, first);
        fields.record(&mut members);
        let result = members.result;
        current.fields.push('}');
        result
    }
}

/// Writes `"name":value` members, comma-separated.
struct Members<'a> {
    out: &'a mut dyn Write,
    first: bool,
    result: fmt::Result,
}

impl<'a> Members<'a> {
    fn new(out: &'a mut dyn Write, first: bool) -> Self {
        Members {
            out,
            first,
            result: Ok(()),
        }
    }

    /// Writes the member's name and colon, then the value with `value`; the first error stops
    /// the rest.
    fn member(&mut self, field: &Field, value: impl FnOnce(&mut dyn Write) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = self.write_member(field, value);
            self.first = false;
        }
    }

    fn write_member(
        &mut self,
        field: &Field,
        value: impl FnOnce(&mut dyn Write) -> fmt::Result,
    ) -> fmt::Result {
        let name = field.name();
        let name = name.strip_prefix("r#").unwrap_or(name);
        if !self.first {
            self.out.write_char(',')?;
        }
        self.out.write_char('"')?;
        Escaped(&mut *self.out).write_str(name)?;
        self.out.write_str("\":")?;
        value(&mut *self.out)
    }
}

impl Visit for Members<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |out| {
            out.write_char('"')?;
            Escaped(&mut *out).write_str(value)?;
            out.write_char('"')
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |out| {
            out.write_char('"')?;
            write!(Escaped(&mut *out), "{value:?}")?;
            out.write_char('"')
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |out| {
            out.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.member(field, |out| {
            if value.is_finite() {
                // Rust's `Display` of a finite float is a valid JSON number (no exponent).
                write!(out, "{value}")
            } else {
                out.write_str("null")
            }
        });
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        self.member(field, |out| {
            out.write_char('[')?;
            for (i, byte) in value.iter().enumerate() {
                if i > 0 {
                    out.write_char(',')?;
                }
                write!(out, "{byte}")?;
            }
            out.write_char(']')
        });
    }
}

/// Writes what it is given as the inside of a JSON string.
struct Escaped<'a>(&'a mut dyn Write);

impl Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut start = 0;
        for (i, byte) in s.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x00..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&s[start..i])?;
            if escape.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            start = i + 1;
        }
        self.0.write_str(&s[start..])
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};
    use tracing_subscriber::layer::SubscriberExt;

    use super::super::json_layer_to;

    /// Collects what the layer writes.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The lines logged by `body` through `json_layer`'s formatting, parsed.
    fn logged(body: impl FnOnce()) -> Vec<Value> {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::registry().with(json_layer_to(move || writer.clone()));
        tracing::subscriber::with_default(subscriber, body);
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }

    #[test]
    fn every_kind_of_value_is_kept_and_text_is_escaped() {
        let awkward = "a \"quoted\" \\ path\nnext\tline\r\u{1}\u{1f} é ☃ 𝄞";
        let lines = logged(|| {
            let span = tracing::info_span!(
                "request",
                text = awkward,
                signed = -42_i64,
                unsigned = u64::MAX,
                wide = i128::MIN,
                yes = true,
                no = false,
                ratio = 0.25_f64,
                huge = 1e300_f64,
                nan = f64::NAN,
                debug = ?Some("x\"y"),
                display = %"shown as \"is\"",
                r#type = "raw",
                bytes = &b"\x00\xff"[..],
            );
            let _entered = span.enter();
            tracing::info!("inside");
        });
        assert_eq!(lines.len(), 1);
        let span = &lines[0]["spans"][0];
        assert_eq!(span["name"], "request");
        assert_eq!(span["text"], awkward);
        assert_eq!(span["signed"], -42);
        assert_eq!(span["unsigned"], u64::MAX);
        // Beyond 64 bits, as text (what a JSON reader keeps exactly).
        assert_eq!(span["wide"], i128::MIN.to_string());
        assert_eq!(span["yes"], true);
        assert_eq!(span["no"], false);
        assert_eq!(span["ratio"], 0.25);
        assert_eq!(span["huge"], 1e300);
        assert_eq!(span["nan"], Value::Null);
        assert_eq!(span["debug"], "Some(\"x\\\"y\")");
        assert_eq!(span["display"], "shown as \"is\"");
        assert_eq!(span["type"], "raw");
        assert_eq!(span["bytes"], json!([0, 255]));
    }

    #[test]
    fn fields_recorded_later_join_the_object_and_the_last_value_wins() {
        let lines = logged(|| {
            let empty = tracing::info_span!(
                "empty",
                later = tracing::field::Empty,
                again = tracing::field::Empty
            );
            empty.record("later", "first");
            empty.record("again", 1_u64);
            empty.record("again", 2_u64);
            let _outer = empty.enter();
            let inner = tracing::info_span!("inner", kept = "k", later = tracing::field::Empty);
            inner.record("later", "x\"");
            let _inner = inner.enter();
            tracing::info!("inside");
        });
        let spans = lines[0]["spans"].as_array().unwrap();
        assert_eq!(
            spans[0],
            json!({"name": "empty", "later": "first", "again": 2})
        );
        assert_eq!(
            spans[1],
            json!({"name": "inner", "kept": "k", "later": "x\""})
        );
    }
}
