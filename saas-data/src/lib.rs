//! Tenant data partitioning over DynamoDB: **pool** (one shared table, tenant-keyed), **silo** (a
//! table per tenant) and tier-based **mixes**, with an embedded backend of the same semantics for
//! local runs and tests.
//!
//! No item can be read or written without a tenant: a [`DataStore`] (built once per process)
//! hands out a [`DataScope`] only for a verified [`saas_core::TenantContext`], or through
//! [`DataStore::system`], which names its reason. Keys are placed in the tenant's key space
//! ([`key`]), every item read is checked for the tenant's `_tenant` attribute, pagination cursors
//! are bound to the tenant and the query, and every operation reports its consumed capacity with
//! the tenant ([`UsageHook`]). See `docs/data-models.md` for the layout and the guarantees.
//!
//! ```
//! use saas_core::TenantContext;
//! use saas_data::{Backend, DataStore, Error, Key, Query, Update};
//!
//! #[derive(Debug, serde::Serialize, serde::Deserialize)]
//! struct Todo { title: String, done: bool }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Cold start. On Lambda: Backend::dynamodb(aws_sdk_dynamodb::Client::new(&config)).
//! let store = DataStore::builder(Backend::in_memory()).pool("app-data").build()?;
//! store.provisioner().create_table("app-data").await?; // deployment, not the request path
//!
//! // Per request, from the verified context.
//! # let ctx = TenantContext::builder("tenant-a").build();
//! let data = store.scope(&ctx);
//! let key = Key::new("todos", "T#0001")?;
//! data.put(&key, &Todo { title: "Buy milk".into(), done: false }).create_only().await?;
//! let done = data
//!     .update::<Todo>(&key, Update::new().set("done", &true))
//!     .if_version(1)
//!     .await?;
//! assert_eq!(done.version(), 2);
//!
//! let page = data.query::<Todo>(Query::partition("todos").limit(50)).await?;
//! assert_eq!(page.items.len(), 1);
//! assert!(page.next_cursor.is_none());
//!
//! // Another tenant sees nothing of it, not even that it exists.
//! # let other = TenantContext::builder("tenant-b").build();
//! assert!(matches!(store.scope(&other).get::<Todo>(&key).await, Err(Error::NotFound)));
//! # Ok(()) }
//! ```
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `dynamodb` | yes | [`Backend::dynamodb`] (`aws-sdk-dynamodb`) |
//! | `embedded` | | [`Backend::in_memory`] and [`Backend::open`] (`redb`): DynamoDB's semantics, locally |
//! | `tenant-credentials` | | [`credentials`]: a `dynamodb:LeadingKeys` session policy per tenant, STS credentials cached per tenant |
//! | `test-util` | | [`isolation`]: the isolation test kit for your own entities (implies `embedded`) |
#![cfg_attr(docsrs, feature(doc_cfg))]
// Without a backend feature nothing drives the request types; the crate is then only its types.
#![cfg_attr(not(any(feature = "dynamodb", feature = "embedded")), allow(dead_code))]

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
mod stored;
mod transaction;
mod ttl_cache;
pub mod usage;
mod version;

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
#[doc(inline)]
pub use version::PartitionVersion;
