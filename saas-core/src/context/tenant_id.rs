//! The validated tenant identifier.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest tenant id accepted, in bytes.
pub const MAX_TENANT_ID_LEN: usize = 64;

/// A tenant identifier that is safe to put into storage keys, metric properties and log lines.
///
/// A `TenantId` is 1 to [`MAX_TENANT_ID_LEN`] characters of ASCII letters, digits, `-` and `_`.
/// None of the delimiters that storage keys use (`#`, `/`, `:`, `|`, `.`, whitespace) can appear
/// in it, so no tenant id can be crafted to produce another tenant's partition key. UUIDs,
/// Cognito `sub`s and ULIDs all fit.
///
/// ```
/// use saas_core::TenantId;
///
/// let id: TenantId = "tenant-a".parse()?;
/// assert_eq!(id.as_str(), "tenant-a");
/// assert!("tenant#a".parse::<TenantId>().is_err());
/// assert!("".parse::<TenantId>().is_err());
/// # Ok::<(), saas_core::TenantIdError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(Arc<str>);

/// Why a string is not a valid [`TenantId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TenantIdError {
    /// The string is empty.
    #[error("tenant id is empty")]
    Empty,
    /// The string is longer than [`MAX_TENANT_ID_LEN`] bytes.
    #[error("tenant id is longer than {MAX_TENANT_ID_LEN} characters")]
    TooLong,
    /// The string holds a character outside `[A-Za-z0-9_-]`.
    #[error("tenant id may only hold ASCII letters, digits, '-' and '_'")]
    InvalidCharacter,
}

impl TenantId {
    /// Validates `id` as a tenant id.
    pub fn new(id: &str) -> Result<Self, TenantIdError> {
        Self::validate(id)?;
        Ok(Self(Arc::from(id)))
    }

    /// Checks `id` without allocating.
    pub fn validate(id: &str) -> Result<(), TenantIdError> {
        if id.is_empty() {
            return Err(TenantIdError::Empty);
        }
        if id.len() > MAX_TENANT_ID_LEN {
            return Err(TenantIdError::TooLong);
        }
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(TenantIdError::InvalidCharacter);
        }
        Ok(())
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for TenantId {
    type Err = TenantIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for TenantId {
    type Error = TenantIdError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::validate(&s)?;
        Ok(Self(Arc::from(s)))
    }
}

impl AsRef<str> for TenantId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for TenantId {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for TenantId {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl Serialize for TenantId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TenantId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::try_from(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_safe_ids() {
        for id in [
            "a",
            "tenant-a",
            "TENANT_b",
            "0b1e5c2a-7d3f-4e6a-9c1d-2f3a4b5c6d7e",
            &"x".repeat(64),
        ] {
            assert_eq!(TenantId::new(id).map(|t| t.to_string()), Ok(id.to_string()));
        }
    }

    #[test]
    fn rejects_delimiters_and_oversize() {
        assert_eq!(TenantId::new(""), Err(TenantIdError::Empty));
        assert_eq!(TenantId::new(&"x".repeat(65)), Err(TenantIdError::TooLong));
        for id in [
            "a#b", "a/b", "a:b", "a|b", "a.b", "a b", "a\nb", "a\0b", "é", "a%23", "a\"b",
        ] {
            assert_eq!(
                TenantId::new(id),
                Err(TenantIdError::InvalidCharacter),
                "{id:?}"
            );
        }
    }

    #[test]
    fn serde_validates() {
        let ok: TenantId = serde_json::from_str("\"tenant-a\"").unwrap();
        assert_eq!(ok, "tenant-a");
        assert!(serde_json::from_str::<TenantId>("\"tenant#a\"").is_err());
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"tenant-a\"");
    }
}
