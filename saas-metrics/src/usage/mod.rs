//! What each tenant costs: a period's consumption per tenant, read back from EMF lines or from
//! CloudWatch, and a bill apportioned across tenants by their share of each resource.
//!
//! The figures are the [`crate::consumption`] metrics that [`crate::TenantMetrics`]'s
//! `record_*` methods and the [`crate::layer`] write. Reading them:
//!
//! - [`EmfReader`]: lines of EMF documents (a CloudWatch Logs export, a local run's stdout), with
//!   anything that is not an EMF document skipped and counted;
//! - [`read_cloudwatch`]: CloudWatch GetMetricData over the consumption metrics, which carry
//!   `tenant_id` as a dimension by default.
//!
//! Then [`Bill::apportion`] splits each line of a bill across tenants in proportion to their
//! share of that resource, in whole cents, so the shares add up to the bill exactly; the
//! [`CostReport`] renders as a table, CSV, JSON or an SVG bar chart. The `saas-usage` command
//! does all of it from the shell.
//!
//! ```
//! use saas_metrics::usage::{Bill, EmfReader, Period, Resource};
//!
//! # fn main() -> Result<(), saas_metrics::usage::UsageError> {
//! let lines = r#"{"_aws":{"Timestamp":1762000000000,"CloudWatchMetrics":[{"Namespace":"TodoApp","Dimensions":[["service","tenant_id"]],"Metrics":[{"Name":"TenantRequests","Unit":"Count"},{"Name":"TenantComputeTime","Unit":"Milliseconds"}]}]},"service":"todo","tenant_id":"tenant-a","TenantRequests":3,"TenantComputeTime":30}
//! {"_aws":{"Timestamp":1762000000000,"CloudWatchMetrics":[{"Namespace":"TodoApp","Dimensions":[["service","tenant_id"]],"Metrics":[{"Name":"TenantRequests","Unit":"Count"},{"Name":"TenantComputeTime","Unit":"Milliseconds"}]}]},"service":"todo","tenant_id":"tenant-b","TenantRequests":1,"TenantComputeTime":10}
//! START RequestId: 8f5a... Version: $LATEST
//! "#;
//! let usage = EmfReader::new().namespace("TodoApp").read(lines.as_bytes())?;
//! assert_eq!(usage.tenants().len(), 2);
//! assert_eq!(usage.stats().skipped, 1);
//!
//! let bill = Bill::new().line(Resource::Compute, "40.00".parse()?);
//! let report = bill.apportion(&usage);
//! assert_eq!(report.tenant("tenant-a").map(|t| t.total().to_string()), Some("30.00".into()));
//! assert_eq!(report.tenant("tenant-b").map(|t| t.total().to_string()), Some("10.00".into()));
//! assert_eq!(report.total(), report.bill_total());
//! # Ok(()) }
//! ```

mod bill;
mod chart;
mod cloudwatch;
mod emf;
mod period;
mod render;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

pub use bill::{Bill, CostReport, Money, TenantCost};
pub use cloudwatch::read_cloudwatch;
pub use emf::{EmfReader, ReadStats};
pub use period::Period;
pub use render::Format;

use crate::consumption;

/// A resource a tenant consumes, and a line of a bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resource {
    /// Requests served ([`consumption::REQUESTS`]): e.g. API Gateway's bill.
    Requests,
    /// Compute time ([`consumption::COMPUTE_TIME`]): e.g. Lambda's bill.
    Compute,
    /// DynamoDB read capacity units ([`consumption::READ_CAPACITY`]).
    DynamodbRead,
    /// DynamoDB write capacity units ([`consumption::WRITE_CAPACITY`]).
    DynamodbWrite,
    /// Bytes stored, the mean of the period's samples ([`consumption::STORAGE`]).
    Storage,
    /// Costs no single figure explains (support, shared infrastructure): split in proportion to
    /// each tenant's share of the other lines of the bill, or of requests if the bill has no
    /// other line.
    Shared,
}

impl Resource {
    /// The metered resources, in report order ([`Resource::Shared`] is not metered).
    pub const METERED: [Resource; 5] = [
        Resource::Requests,
        Resource::Compute,
        Resource::DynamodbRead,
        Resource::DynamodbWrite,
        Resource::Storage,
    ];

    /// Every resource a bill can name, in report order.
    pub const ALL: [Resource; 6] = [
        Resource::Requests,
        Resource::Compute,
        Resource::DynamodbRead,
        Resource::DynamodbWrite,
        Resource::Storage,
        Resource::Shared,
    ];

    /// Its name in a bill (`compute=1200.00`) and in CSV and JSON: `requests`, `compute`,
    /// `dynamodb-read`, `dynamodb-write`, `storage`, `shared`.
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Requests => "requests",
            Resource::Compute => "compute",
            Resource::DynamodbRead => "dynamodb-read",
            Resource::DynamodbWrite => "dynamodb-write",
            Resource::Storage => "storage",
            Resource::Shared => "shared",
        }
    }

    /// The consumption metric that measures it (none for [`Resource::Shared`]).
    pub fn metric(self) -> Option<&'static str> {
        match self {
            Resource::Requests => Some(consumption::REQUESTS),
            Resource::Compute => Some(consumption::COMPUTE_TIME),
            Resource::DynamodbRead => Some(consumption::READ_CAPACITY),
            Resource::DynamodbWrite => Some(consumption::WRITE_CAPACITY),
            Resource::Storage => Some(consumption::STORAGE),
            Resource::Shared => None,
        }
    }

    fn from_metric(name: &str) -> Option<Resource> {
        Resource::METERED
            .into_iter()
            .find(|r| r.metric() == Some(name))
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Resource {
    type Err = UsageError;

    fn from_str(s: &str) -> Result<Self, UsageError> {
        Resource::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UsageError::UnknownResource(s.chars().take(64).collect()))
    }
}

/// One tenant's consumption over a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TenantUsage {
    /// Requests served.
    pub requests: f64,
    /// Compute time, in milliseconds.
    pub compute_ms: f64,
    /// DynamoDB read capacity units.
    pub read_units: f64,
    /// DynamoDB write capacity units.
    pub write_units: f64,
    /// Bytes stored: the mean of the period's samples (0 when none were recorded).
    pub storage_bytes: f64,
    #[serde(skip)]
    storage_sum: f64,
    #[serde(skip)]
    storage_samples: f64,
}

impl TenantUsage {
    /// The figure for `resource` (0 for [`Resource::Shared`]).
    pub fn get(&self, resource: Resource) -> f64 {
        match resource {
            Resource::Requests => self.requests,
            Resource::Compute => self.compute_ms,
            Resource::DynamodbRead => self.read_units,
            Resource::DynamodbWrite => self.write_units,
            Resource::Storage => self.storage_bytes,
            Resource::Shared => 0.0,
        }
    }

    /// Adds `sum` over `samples` values of `resource`: summed figures add up; storage keeps the
    /// mean of its samples.
    fn add(&mut self, resource: Resource, sum: f64, samples: f64) {
        match resource {
            Resource::Requests => self.requests += sum,
            Resource::Compute => self.compute_ms += sum,
            Resource::DynamodbRead => self.read_units += sum,
            Resource::DynamodbWrite => self.write_units += sum,
            Resource::Storage => {
                self.storage_sum += sum;
                self.storage_samples += samples;
                if self.storage_samples > 0.0 {
                    self.storage_bytes = self.storage_sum / self.storage_samples;
                }
            }
            Resource::Shared => {}
        }
    }
}

/// A period's consumption, per tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Usage {
    period: Period,
    tenants: BTreeMap<String, TenantUsage>,
    #[serde(skip)]
    stats: ReadStats,
}

impl Usage {
    /// An empty usage for `period`, to fill with [`Usage::record`].
    pub fn new(period: Period) -> Usage {
        Usage {
            period,
            ..Usage::default()
        }
    }

    /// Adds `sum` over `samples` values of `resource` to `tenant`'s figures (for usage read from
    /// elsewhere; the readers of this module use it). Non-finite or negative figures are ignored.
    pub fn record(&mut self, tenant: &str, resource: Resource, sum: f64, samples: f64) {
        if !(sum.is_finite() && samples.is_finite() && sum >= 0.0 && samples >= 0.0) {
            return;
        }
        self.tenants
            .entry(tenant.to_owned())
            .or_default()
            .add(resource, sum, samples);
    }

    /// The period the figures cover.
    pub fn period(&self) -> Period {
        self.period
    }

    /// Each tenant's figures, by tenant id.
    pub fn tenants(&self) -> &BTreeMap<String, TenantUsage> {
        &self.tenants
    }

    /// One tenant's figures.
    pub fn tenant(&self, id: &str) -> Option<&TenantUsage> {
        self.tenants.get(id)
    }

    /// The total of `resource` over every tenant.
    pub fn total(&self, resource: Resource) -> f64 {
        self.tenants.values().map(|t| t.get(resource)).sum()
    }

    /// What reading found: lines read, documents used, lines skipped.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }
}

/// What can go wrong reading usage, parsing a bill or writing a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// The input could not be read, or the output written.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A line that looks like an EMF document is not one, and reading is strict.
    #[error("line {line}: {reason}")]
    Malformed {
        /// The line number, from 1.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The input holds consumption metrics of several namespaces and none was chosen.
    #[error("consumption metrics of several namespaces ({0}); choose one")]
    AmbiguousNamespace(String),
    /// A bill line names no known resource.
    #[error(
        "unknown resource {0:?}: one of requests, compute, dynamodb-read, dynamodb-write, storage, shared"
    )]
    UnknownResource(String),
    /// An amount of money that is not a non-negative decimal with at most two decimals.
    #[error("invalid amount {0:?}: a non-negative decimal with at most 2 decimals, like 1234.56")]
    InvalidAmount(String),
    /// A currency that is not an ISO 4217 code (three capital letters).
    #[error("invalid currency {0:?}: an ISO 4217 code like USD")]
    InvalidCurrency(String),
    /// A bill line given twice.
    #[error("the bill names {0} twice")]
    DuplicateLine(Resource),
    /// A date or period that cannot be read, or ends before it starts.
    #[error("invalid period: {0}")]
    InvalidPeriod(String),
    /// A chart was asked for a report with nothing to show.
    #[error("nothing to chart: {0}")]
    NothingToChart(&'static str),
    /// CloudWatch refused or could not be reached.
    #[error("CloudWatch {operation}: {source}")]
    CloudWatch {
        /// The operation that failed.
        operation: &'static str,
        /// What the SDK said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_round_trip_through_their_names() {
        for r in Resource::ALL {
            assert_eq!(r.as_str().parse::<Resource>().ok(), Some(r));
        }
        assert!(matches!(
            "dynamodb".parse::<Resource>(),
            Err(UsageError::UnknownResource(_))
        ));
    }

    #[test]
    fn storage_is_the_mean_of_its_samples_and_the_rest_add_up() {
        let mut usage = Usage::default();
        usage.record("a", Resource::Storage, 100.0, 1.0);
        usage.record("a", Resource::Storage, 500.0, 3.0);
        usage.record("a", Resource::Requests, 2.0, 2.0);
        usage.record("a", Resource::Requests, 3.0, 3.0);
        usage.record("a", Resource::Requests, f64::NAN, 1.0);
        usage.record("a", Resource::Compute, -1.0, 1.0);
        let a = usage.tenant("a").cloned().unwrap_or_default();
        assert_eq!(a.storage_bytes, 150.0);
        assert_eq!(a.requests, 5.0);
        assert_eq!(a.compute_ms, 0.0);
        assert_eq!(usage.total(Resource::Requests), 5.0);
    }
}
