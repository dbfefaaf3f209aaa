//! An item as a backend read it: attributes (DynamoDB), or the embedded store's encoded bytes,
//! which are checked for their owner and turned into the application's type without building
//! an attribute map.

use serde::de::DeserializeOwned;

#[cfg(feature = "embedded")]
use crate::backend::embedded::{DeError, EncodedItem, from_encoded};
use crate::error::Result;
use crate::item::{self, Item, Record};
use crate::key::Namespace;
#[cfg(feature = "embedded")]
use crate::{error::Error, key::Key};

/// A physical item read from a table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StoredItem {
    /// Decoded attributes.
    #[cfg_attr(not(feature = "dynamodb"), allow(dead_code))] // Built by the DynamoDB backend.
    Attributes(Item),
    /// The embedded store's encoding.
    #[cfg(feature = "embedded")]
    Encoded(EncodedItem),
}

impl From<Item> for StoredItem {
    fn from(item: Item) -> Self {
        StoredItem::Attributes(item)
    }
}

impl StoredItem {
    /// Whether it belongs to `ns` (see [`item::owned_by`]).
    pub(crate) fn owned_by(&self, ns: &Namespace) -> bool {
        match self {
            StoredItem::Attributes(item) => item::owned_by(item, ns),
            #[cfg(feature = "embedded")]
            StoredItem::Encoded(item) => item.is_owned_by(ns.owner()),
        }
    }

    /// The `_sk` attribute.
    pub(crate) fn sort(&self) -> Option<&str> {
        match self {
            StoredItem::Attributes(item) => item::sort_of(item),
            #[cfg(feature = "embedded")]
            StoredItem::Encoded(item) => item.sort(),
        }
    }

    /// Every attribute.
    pub(crate) fn into_attributes(self) -> Result<Item> {
        match self {
            StoredItem::Attributes(item) => Ok(item),
            #[cfg(feature = "embedded")]
            StoredItem::Encoded(item) => item.to_item().map_err(|e| Error::Internal(Box::new(e))),
        }
    }

    /// Reads it back as a record of `partition` in `ns`, as [`item::decode`] does: `Ok(None)`
    /// when it is not `ns`'s.
    pub(crate) fn into_record<T: DeserializeOwned>(
        self,
        ns: &Namespace,
        partition: &str,
    ) -> Result<Option<Record<T>>> {
        match self {
            StoredItem::Attributes(item) => item::decode(ns, partition, item),
            #[cfg(feature = "embedded")]
            StoredItem::Encoded(item) => {
                if !item.is_owned_by(ns.owner()) {
                    item::foreign_item_skipped();
                    return Ok(None);
                }
                let version = item
                    .version()
                    .ok_or_else(|| Error::internal("stored item has no valid _version"))?;
                let sort = item
                    .sort()
                    .ok_or_else(|| Error::internal("stored item has no string _sk"))?;
                let key = Key::new(partition, sort)?;
                let value = from_encoded(&item).map_err(|e| match e {
                    DeError::Corrupt(e) => Error::Internal(Box::new(e)),
                    e @ DeError::Mismatch(_) => {
                        Error::InvalidItem(format!("cannot deserialize item: {e}"))
                    }
                })?;
                Ok(Some(Record::new(key, version, value)))
            }
        }
    }
}
