//! Where flushed metrics go: EMF on stdout (the default), CloudWatch PutMetricData (feature
//! `cloudwatch`), or memory (tests).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::Result;
use crate::group::MetricGroup;

#[cfg(feature = "cloudwatch")]
pub(crate) mod cloudwatch;
pub(crate) mod emf;
pub(crate) mod json;
pub(crate) mod memory;

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a sink does with one flush.
pub(crate) trait RawSink: Send + Sync + fmt::Debug + 'static {
    fn publish(&self, groups: Vec<MetricGroup>) -> BoxFuture<'_, Result<()>>;

    /// The EMF sink, which the manager writes to straight from what it holds, without making
    /// groups; `None` for the others.
    fn as_emf(&self) -> Option<&emf::EmfWriter> {
        None
    }
}

/// A destination for flushed metrics. Cheap to clone; one per function, shared by every
/// invocation.
#[derive(Clone)]
pub struct Sink(pub(crate) Arc<dyn RawSink>);

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Sink {
    /// CloudWatch Embedded Metric Format on stdout, one JSON document per line: Lambda sends
    /// stdout to CloudWatch Logs, which extracts the metrics. No API call, no added latency.
    pub fn emf_stdout() -> Sink {
        Sink(Arc::new(emf::EmfWriter::stdout()))
    }

    /// EMF lines to any writer (a file, a buffer), each document written whole.
    pub fn emf_writer(writer: impl std::io::Write + Send + 'static) -> Sink {
        Sink(Arc::new(emf::EmfWriter::new(writer)))
    }

    pub(crate) async fn publish(&self, groups: Vec<MetricGroup>) -> Result<()> {
        self.0.publish(groups).await
    }

    pub(crate) fn as_emf(&self) -> Option<&emf::EmfWriter> {
        self.0.as_emf()
    }
}
