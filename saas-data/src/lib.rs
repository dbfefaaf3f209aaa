//! Tenant data partitioning over DynamoDB (pool, silo, tier-based mixes) with an embedded backend.
//!
//! Not built yet: this crate holds no API until its issue (#3) lands. It is a workspace member
//! now so that the workspace layout, lints and CI cover it from the start.
