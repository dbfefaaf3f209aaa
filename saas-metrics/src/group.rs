//! What a flush hands to a sink: groups of metrics that share a namespace, dimensions and a
//! timestamp, with the invocation's properties.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::unit::{Resolution, Unit};

/// One metric's values in a group.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricData {
    pub(crate) name: String,
    pub(crate) unit: Unit,
    pub(crate) resolution: Resolution,
    pub(crate) values: Vec<f64>,
}

impl MetricData {
    /// The metric's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its unit.
    pub fn unit(&self) -> Unit {
        self.unit
    }

    /// Its storage resolution.
    pub fn resolution(&self) -> Resolution {
        self.resolution
    }

    /// Its values, in the order recorded (a counter is one summed value).
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The sum of its values.
    pub fn sum(&self) -> f64 {
        self.values.iter().sum()
    }
}

/// Metrics of one tenant's invocation that share a namespace, a dimension set and a timestamp:
/// one EMF document (or several, split at EMF's limits) or one run of PutMetricData entries.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricGroup {
    pub(crate) namespace: Arc<str>,
    pub(crate) timestamp: SystemTime,
    pub(crate) dimensions: Vec<(String, String)>,
    pub(crate) metrics: Vec<MetricData>,
    pub(crate) properties: Arc<Map<String, Value>>,
}

impl MetricGroup {
    /// The CloudWatch namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// When the values were taken.
    pub fn timestamp(&self) -> SystemTime {
        self.timestamp
    }

    /// The dimension set, in order: name and value.
    pub fn dimensions(&self) -> &[(String, String)] {
        &self.dimensions
    }

    /// The value of dimension `name`, if it is in the set.
    pub fn dimension(&self, name: &str) -> Option<&str> {
        self.dimensions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The metrics, in the order first recorded.
    pub fn metrics(&self) -> &[MetricData] {
        &self.metrics
    }

    /// The metric called `name`, if recorded.
    pub fn metric(&self, name: &str) -> Option<&MetricData> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// The properties: searchable in the logs, not dimensions (the tenant id is one by default).
    pub fn properties(&self) -> &Map<String, Value> {
        &self.properties
    }

    /// The `tenant_id` member (a property, or a dimension when so configured).
    pub fn tenant_id(&self) -> Option<&str> {
        self.dimension(crate::TENANT_ID)
            .or_else(|| self.properties.get(crate::TENANT_ID)?.as_str())
    }
}
