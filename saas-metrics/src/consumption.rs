//! What each tenant consumes: the metric names [`crate::TenantMetrics`]'s `record_*` methods use
//! and the `usage` module reads back.
//!
//! They are recorded in their own group, with the dimension set `service`, `tenant_id` (or
//! `service` alone, see [`crate::MetricsBuilder::consumption_tenant_dimension`]), so that
//! CloudWatch can give each tenant's figures without the application's metrics multiplying per
//! tenant.

/// Requests served for the tenant (`Count`, summed).
pub const REQUESTS: &str = "TenantRequests";
/// Compute time spent for the tenant (`Milliseconds`, summed): the handler's wall time.
pub const COMPUTE_TIME: &str = "TenantComputeTime";
/// DynamoDB read capacity units consumed for the tenant (`Count`, summed).
pub const READ_CAPACITY: &str = "TenantReadCapacityUnits";
/// DynamoDB write capacity units consumed for the tenant (`Count`, summed).
pub const WRITE_CAPACITY: &str = "TenantWriteCapacityUnits";
/// Bytes the tenant stores (`Bytes`, a gauge).
pub const STORAGE: &str = "TenantStorageBytes";

/// Every consumption metric.
pub const ALL: [&str; 5] = [
    REQUESTS,
    COMPUTE_TIME,
    READ_CAPACITY,
    WRITE_CAPACITY,
    STORAGE,
];
