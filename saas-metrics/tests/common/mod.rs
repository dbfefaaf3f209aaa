//! Helpers shared by the integration tests: a log capture, a shared EMF buffer, the moto endpoints.
#![allow(dead_code, clippy::unwrap_used)]

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

/// Collects the events logged while a future runs (`fut.with_subscriber(capture.clone())`), one
/// line each: level, then the fields as `name=value`.
#[derive(Clone, Default)]
pub(crate) struct Capture(Arc<Mutex<Vec<String>>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
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
    /// The lines logged at `level` ("WARN", "ERROR", ...) that contain `text`.
    pub(crate) fn find(&self, level: &str, text: &str) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with(level) && l.contains(text))
            .cloned()
            .collect()
    }
}

/// A shared buffer to write EMF lines into, which takes at most `chunk` bytes a `write` call (0:
/// everything) and yields between calls, so that writes not serialised by the sink would
/// interleave.
#[derive(Clone, Default)]
pub(crate) struct Buffer {
    bytes: Arc<Mutex<Vec<u8>>>,
    chunk: usize,
}

impl Buffer {
    /// A buffer taking at most `chunk` bytes a call.
    pub(crate) fn chunked(chunk: usize) -> Self {
        Buffer {
            bytes: Arc::default(),
            chunk,
        }
    }

    /// What was written.
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.bytes.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = if self.chunk == 0 {
            buf.len()
        } else {
            buf.len().min(self.chunk)
        };
        self.bytes.lock().unwrap().extend_from_slice(&buf[..n]);
        if self.chunk != 0 {
            std::thread::yield_now();
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The CloudWatch endpoint of the test command's CBOR proxy in front of moto: `None` (the test
/// skips) without it, a failure when `SAAS_REQUIRE_MOTO` says it must be there.
pub(crate) fn cloudwatch_endpoint() -> Option<String> {
    match std::env::var("SAAS_TEST_CLOUDWATCH_ENDPOINT") {
        Ok(e) if !e.trim().is_empty() => Some(e.trim().trim_end_matches('/').to_owned()),
        _ => {
            assert!(
                std::env::var_os("SAAS_REQUIRE_MOTO").is_none(),
                "SAAS_REQUIRE_MOTO is set but SAAS_TEST_CLOUDWATCH_ENDPOINT is not: run scripts/test"
            );
            eprintln!("skipping: SAAS_TEST_CLOUDWATCH_ENDPOINT is not set");
            None
        }
    }
}

/// A CloudWatch client for `endpoint` (moto) that tries once and gives up quickly.
pub(crate) fn cloudwatch_client(endpoint: &str) -> aws_sdk_cloudwatch::Client {
    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudwatch::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_cloudwatch::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .retry_config(
            aws_sdk_cloudwatch::config::retry::RetryConfig::standard().with_max_attempts(1),
        )
        .timeout_config(
            aws_sdk_cloudwatch::config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_millis(500))
                .operation_timeout(std::time::Duration::from_secs(10))
                .build(),
        )
        .build();
    aws_sdk_cloudwatch::Client::from_conf(config)
}
