//! Per-tenant metrics for AWS Lambda (CloudWatch EMF, PutMetricData, consumption per tenant).
//!
//! Not built yet: this crate holds no API until its issue (#4) lands. It is a workspace member
//! now so that the workspace layout, lints and CI cover it from the start.
