//! An in-memory sink for tests: what was flushed, per tenant, as groups or as EMF lines.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{BoxFuture, RawSink, Sink};
use crate::error::Result;
use crate::group::MetricGroup;

/// Keeps every flushed group in memory. Clone it into [`crate::MetricsBuilder::sink`] and keep a
/// clone to assert on.
///
/// ```
/// use saas_metrics::{Metrics, MemorySink};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), saas_metrics::Error> {
/// let sink = MemorySink::new();
/// let metrics = Metrics::builder("Test")?.sink(sink.clone()).build();
/// let m = metrics.for_tenant(&saas_core::TenantContext::builder("tenant-a").build());
/// m.count("Hits", 2.0)?;
/// m.flush().await?;
/// assert_eq!(sink.sum("Hits", "tenant-a"), 2.0);
/// assert_eq!(sink.sum("Hits", "tenant-b"), 0.0);
/// assert!(sink.emf_lines()?[0].contains("\"Hits\":2"));
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct MemorySink(Arc<Mutex<Vec<MetricGroup>>>);

impl fmt::Debug for MemorySink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySink")
            .field("groups", &self.lock().len())
            .finish()
    }
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<MetricGroup>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every group flushed so far, in order.
    pub fn groups(&self) -> Vec<MetricGroup> {
        self.lock().clone()
    }

    /// The groups of tenant `tenant`.
    pub fn tenant_groups(&self, tenant: &str) -> Vec<MetricGroup> {
        self.lock()
            .iter()
            .filter(|g| g.tenant_id() == Some(tenant))
            .cloned()
            .collect()
    }

    /// Every value of metric `name` flushed for `tenant`, in order.
    pub fn values(&self, name: &str, tenant: &str) -> Vec<f64> {
        self.tenant_groups(tenant)
            .iter()
            .filter_map(|g| g.metric(name))
            .flat_map(|m| m.values().to_vec())
            .collect()
    }

    /// The sum of metric `name` over everything flushed for `tenant` (0 if none).
    pub fn sum(&self, name: &str, tenant: &str) -> f64 {
        self.values(name, tenant).iter().sum()
    }

    /// The EMF lines the EMF sink would have written for what was flushed.
    pub fn emf_lines(&self) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        for group in self.lock().iter() {
            for doc in super::emf::documents(group)? {
                lines.push(String::from_utf8_lossy(&doc).into_owned());
            }
        }
        Ok(lines)
    }

    /// Forgets everything flushed so far.
    pub fn clear(&self) {
        self.lock().clear();
    }
}

impl RawSink for MemorySink {
    fn publish(&self, groups: Vec<MetricGroup>) -> BoxFuture<'_, Result<()>> {
        self.lock().extend(groups);
        Box::pin(std::future::ready(Ok(())))
    }
}

impl From<MemorySink> for Sink {
    fn from(sink: MemorySink) -> Sink {
        Sink(Arc::new(sink))
    }
}
