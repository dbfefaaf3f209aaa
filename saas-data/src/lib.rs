//! Tenant data partitioning over DynamoDB: pool, silo and tier-based mixes, with an embedded
//! backend of the same semantics.
#![cfg_attr(docsrs, feature(doc_cfg))]
// Temporary while the crate is assembled (issue #3).
#![allow(dead_code)]

mod backend;
#[cfg(feature = "tenant-credentials")]
pub mod credentials;
mod cursor;
mod error;
mod expr;
#[cfg(feature = "test-util")]
pub mod isolation;
mod item;
pub mod key;
mod query;
mod registry;
mod scope;
mod silo;
mod store;
mod transaction;
pub mod usage;

#[doc(inline)]
pub use backend::Backend;
#[doc(inline)]
pub use error::{BoxError, Error, Result};
#[doc(inline)]
pub use expr::{Condition, MAX_ATTRIBUTE_NAME_LEN, Update};
#[doc(inline)]
pub use item::{MAX_ITEM_SIZE, RESERVED_ATTRIBUTES, Record};
#[doc(inline)]
pub use key::{Key, KeyError};
#[doc(inline)]
pub use query::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, Query};
#[doc(inline)]
pub use registry::{Onboard, Placement, Registry, TenantRecord, TenantStatus, TierPolicy};
#[doc(inline)]
pub use scope::{DataScope, Delete, Get, Put, UpdateItem};
#[doc(inline)]
pub use silo::{Provisioner, TableNames};
#[doc(inline)]
pub use store::{DataStore, DataStoreBuilder, SystemAccess};
#[doc(inline)]
pub use transaction::Transaction;
#[doc(inline)]
pub use usage::{Capacity, Operation, Usage, UsageHook};
