//! The crate's error: one enum, every case typed, nothing that echoes a partition key.

use std::error::Error as StdError;

/// A boxed underlying error (SDK, storage engine, serializer).
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// `Result<T, saas_data::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong with a data operation.
///
/// Every case a caller can cause has its own variant and its own HTTP status
/// ([`Error::http_status`]): `NotFound` is also the answer for another tenant's item, so the two
/// cannot be told apart. Messages never contain partition keys or item bodies.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No such item for this tenant (including an item that belongs to another tenant).
    #[error("item not found")]
    NotFound,
    /// A create-only put found an item already there.
    #[error("item already exists")]
    AlreadyExists,
    /// A caller's condition did not hold; nothing was written.
    #[error("condition not met")]
    ConditionFailed,
    /// The item's version is not the one the caller expected; nothing was written.
    #[error("version conflict: expected {expected}, found {}", found_text(*.actual))]
    VersionConflict {
        /// The version the caller expected.
        expected: u64,
        /// The version stored, if the backend reported it.
        actual: Option<u64>,
    },
    /// A pagination cursor that was edited, or that belongs to another tenant or query.
    #[error("invalid cursor")]
    InvalidCursor,
    /// A key that cannot be stored (empty, too long).
    #[error("invalid key: {0}")]
    InvalidKey(#[from] crate::key::KeyError),
    /// An item that cannot be stored or read back as the requested type, or that uses a reserved
    /// attribute name.
    #[error("invalid item: {0}")]
    InvalidItem(String),
    /// A request outside the crate's or DynamoDB's limits (a query limit of 0, 101 actions in
    /// one transaction, an empty update, ...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The item is larger than DynamoDB's 400 KB limit.
    #[error("item too large (limit {limit} bytes)")]
    ItemTooLarge {
        /// The item's size as DynamoDB counts it, when known before sending.
        size: Option<usize>,
        /// The limit, [`crate::MAX_ITEM_SIZE`].
        limit: usize,
    },
    /// A transaction was cancelled because one of its actions failed; nothing was written.
    #[error("transaction cancelled by action {index}: {cause}")]
    TransactionCanceled {
        /// The position of the failing action in the transaction.
        index: usize,
        /// Why it failed (`NotFound`, `AlreadyExists`, `VersionConflict`, `ConditionFailed`).
        cause: Box<Error>,
    },
    /// The tenant has no placement: not in the registry, or not active there, or its own table
    /// would be the store's pool or control table.
    #[error("tenant is not provisioned: {0}")]
    TenantNotProvisioned(&'static str),
    /// DynamoDB kept throttling after the SDK's retries.
    #[error("throttled")]
    Throttled(#[source] BoxError),
    /// The store cannot be reached or is not ready (network, missing table, closed file).
    #[error("store unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug or an unexpected answer from the store.
    #[error("internal store error")]
    Internal(#[source] BoxError),
}

fn found_text(actual: Option<u64>) -> String {
    actual.map_or_else(|| "unknown".to_owned(), |v| v.to_string())
}

impl Error {
    /// The HTTP status this error maps to in an API: 404, 409, 412, 400, 413, 403, 429/503, 500.
    ///
    /// `Throttled` is 503 (the store is overloaded, not the caller over its own quota); a
    /// `TransactionCanceled` maps like its cause.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::NotFound => 404,
            Error::AlreadyExists | Error::ConditionFailed => 409,
            Error::VersionConflict { .. } => 412,
            Error::InvalidCursor
            | Error::InvalidKey(_)
            | Error::InvalidItem(_)
            | Error::InvalidRequest(_) => 400,
            Error::ItemTooLarge { .. } => 413,
            Error::TransactionCanceled { cause, .. } => cause.http_status(),
            Error::TenantNotProvisioned(_) => 403,
            Error::Throttled(_) | Error::Unavailable(_) => 503,
            Error::Internal(_) => 500,
        }
    }

    /// The cause for a cancelled transaction, the error itself otherwise.
    pub fn root(&self) -> &Error {
        match self {
            Error::TransactionCanceled { cause, .. } => cause.root(),
            other => other,
        }
    }

    /// `NotFound`, directly or as a transaction's cause.
    pub fn is_not_found(&self) -> bool {
        matches!(self.root(), Error::NotFound)
    }

    /// `AlreadyExists`, `ConditionFailed` or `VersionConflict`, directly or as a transaction's
    /// cause: the write contradicts the current state.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self.root(),
            Error::AlreadyExists | Error::ConditionFailed | Error::VersionConflict { .. }
        )
    }

    /// Whether retrying the same request later may succeed (`Throttled`, `Unavailable`).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Throttled(_) | Error::Unavailable(_))
    }

    pub(crate) fn internal(msg: impl Into<String>) -> Self {
        Error::Internal(msg.into().into())
    }

    pub(crate) fn invalid_request(msg: impl Into<String>) -> Self {
        Error::InvalidRequest(msg.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_send_sync_and_small() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
        assert!(std::mem::size_of::<Error>() <= 32);
    }

    #[test]
    fn statuses() {
        assert_eq!(Error::NotFound.http_status(), 404);
        assert_eq!(Error::InvalidCursor.http_status(), 400);
        let tx = Error::TransactionCanceled {
            index: 2,
            cause: Box::new(Error::VersionConflict {
                expected: 3,
                actual: Some(4),
            }),
        };
        assert_eq!(tx.http_status(), 412);
        assert!(tx.is_conflict());
        assert!(!tx.is_not_found());
        assert_eq!(
            tx.to_string(),
            "transaction cancelled by action 2: version conflict: expected 3, found 4"
        );
    }
}
