//! Queries: one partition of one tenant, by sort key, one page at a time.

use crate::error::{Error, Result};
use crate::item::Record;
use crate::key::{validate_partition, validate_sort};

/// The most items one page can hold.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// The page size when none is given.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// Which sort keys a query selects (byte-wise UTF-8 order, as DynamoDB sorts strings).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum SortCondition {
    All,
    Eq(String),
    BeginsWith(String),
    Between(String, String),
    Lt(String),
    Le(String),
    Gt(String),
    Ge(String),
}

impl SortCondition {
    /// Whether `sk` is selected.
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))] // DynamoDB selects itself.
    pub(crate) fn matches(&self, sk: &str) -> bool {
        match self {
            SortCondition::All => true,
            SortCondition::Eq(v) => sk == v,
            SortCondition::BeginsWith(p) => sk.starts_with(p.as_str()),
            SortCondition::Between(lo, hi) => lo.as_str() <= sk && sk <= hi.as_str(),
            SortCondition::Lt(v) => sk < v.as_str(),
            SortCondition::Le(v) => sk <= v.as_str(),
            SortCondition::Gt(v) => sk > v.as_str(),
            SortCondition::Ge(v) => sk >= v.as_str(),
        }
    }

    fn tag_and_values(&self) -> (u8, [&str; 2]) {
        match self {
            SortCondition::All => (0, ["", ""]),
            SortCondition::Eq(v) => (1, [v, ""]),
            SortCondition::BeginsWith(v) => (2, [v, ""]),
            SortCondition::Between(a, b) => (3, [a, b]),
            SortCondition::Lt(v) => (4, [v, ""]),
            SortCondition::Le(v) => (5, [v, ""]),
            SortCondition::Gt(v) => (6, [v, ""]),
            SortCondition::Ge(v) => (7, [v, ""]),
        }
    }

    fn validate(&self) -> Result<()> {
        let (_, values) = self.tag_and_values();
        match self {
            SortCondition::All => Ok(()),
            SortCondition::BeginsWith(p) if p.is_empty() => Ok(()),
            SortCondition::Between(a, b) => {
                validate_sort(a)?;
                validate_sort(b)?;
                if a > b {
                    return Err(Error::invalid_request(
                        "sort key range has its lower bound above its upper bound",
                    ));
                }
                Ok(())
            }
            _ => Ok(validate_sort(values[0])?),
        }
    }
}

/// A query over one partition of the caller's tenant, by sort key.
///
/// Results come in sort key order (byte-wise), ascending unless [`Query::descending`]; at most
/// [`Query::limit`] items a page (default [`DEFAULT_PAGE_SIZE`], at most [`MAX_PAGE_SIZE`]), and a
/// [`Page::next_cursor`] exactly when more items follow. The cursor is opaque, bound to the tenant
/// and to this query (partition, sort condition, order): given to another tenant, another query,
/// or edited, it is [`Error::InvalidCursor`]. The limit may change from page to page.
///
/// ```
/// use saas_data::Query;
///
/// let first = Query::partition("todos").sort_prefix("TODO#").limit(50);
/// let newest = Query::partition("todos").descending().limit(10);
/// let march = Query::partition("events").sort_between("2026-03-01", "2026-03-31~");
/// # let _ = (first, newest, march);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub(crate) partition: String,
    pub(crate) sort: SortCondition,
    pub(crate) descending: bool,
    pub(crate) limit: u32,
    pub(crate) cursor: Option<String>,
    pub(crate) consistent: bool,
}

impl Query {
    /// Every item of `partition`.
    pub fn partition(partition: impl Into<String>) -> Self {
        Self {
            partition: partition.into(),
            sort: SortCondition::All,
            descending: false,
            limit: DEFAULT_PAGE_SIZE,
            cursor: None,
            consistent: false,
        }
    }

    fn sort(mut self, sort: SortCondition) -> Self {
        self.sort = sort;
        self
    }

    /// Only the item whose sort key is `sort`.
    #[must_use]
    pub fn sort_eq(self, sort: impl Into<String>) -> Self {
        self.sort(SortCondition::Eq(sort.into()))
    }

    /// Only sort keys that start with `prefix`.
    #[must_use]
    pub fn sort_prefix(self, prefix: impl Into<String>) -> Self {
        self.sort(SortCondition::BeginsWith(prefix.into()))
    }

    /// Sort keys from `low` to `high`, both included.
    #[must_use]
    pub fn sort_between(self, low: impl Into<String>, high: impl Into<String>) -> Self {
        self.sort(SortCondition::Between(low.into(), high.into()))
    }

    /// Sort keys below `sort`.
    #[must_use]
    pub fn sort_lt(self, sort: impl Into<String>) -> Self {
        self.sort(SortCondition::Lt(sort.into()))
    }

    /// Sort keys up to `sort`, included.
    #[must_use]
    pub fn sort_le(self, sort: impl Into<String>) -> Self {
        self.sort(SortCondition::Le(sort.into()))
    }

    /// Sort keys above `sort`.
    #[must_use]
    pub fn sort_gt(self, sort: impl Into<String>) -> Self {
        self.sort(SortCondition::Gt(sort.into()))
    }

    /// Sort keys from `sort` on, included.
    #[must_use]
    pub fn sort_ge(self, sort: impl Into<String>) -> Self {
        self.sort(SortCondition::Ge(sort.into()))
    }

    /// Highest sort key first.
    #[must_use]
    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }

    /// At most `limit` items in the page (1 to [`MAX_PAGE_SIZE`]).
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// Continue after the page that returned `cursor` ([`Page::next_cursor`]).
    #[must_use]
    pub fn after(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// Strongly consistent reads (twice the read capacity).
    #[must_use]
    pub fn consistent(mut self) -> Self {
        self.consistent = true;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        validate_partition(&self.partition)?;
        self.sort.validate()?;
        if self.limit == 0 || self.limit > MAX_PAGE_SIZE {
            return Err(Error::invalid_request(format!(
                "query limit must be 1 to {MAX_PAGE_SIZE}"
            )));
        }
        Ok(())
    }

    /// What a cursor of this query is bound to: partition, sort condition and order (not the
    /// limit, not the consistency).
    pub(crate) fn fingerprint(&self) -> Vec<u8> {
        let (tag, values) = self.sort.tag_and_values();
        let mut out =
            Vec::with_capacity(16 + self.partition.len() + values[0].len() + values[1].len());
        for part in [self.partition.as_str(), values[0], values[1]] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out.push(tag);
        out.push(u8::from(self.descending));
        out
    }
}

/// One page of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, in the query's order.
    pub items: Vec<Record<T>>,
    /// Where the next page starts, if more items follow.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(Query::partition("p").validate().is_ok());
        assert!(Query::partition("").validate().is_err());
        assert!(Query::partition("p").limit(0).validate().is_err());
        assert!(Query::partition("p").limit(1001).validate().is_err());
        assert!(Query::partition("p").limit(1000).validate().is_ok());
        assert!(Query::partition("p").sort_eq("").validate().is_err());
        assert!(Query::partition("p").sort_prefix("").validate().is_ok());
        assert!(
            Query::partition("p")
                .sort_between("b", "a")
                .validate()
                .is_err()
        );
    }

    #[test]
    fn fingerprints_differ_by_query_not_limit() {
        let a = Query::partition("p").sort_prefix("x");
        assert_eq!(
            a.fingerprint(),
            a.clone().limit(5).consistent().fingerprint()
        );
        assert_ne!(a.fingerprint(), a.clone().descending().fingerprint());
        assert_ne!(
            a.fingerprint(),
            Query::partition("p").sort_ge("x").fingerprint()
        );
        assert_ne!(a.fingerprint(), Query::partition("px").fingerprint());
        // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
        assert_ne!(
            Query::partition("ab").sort_prefix("c").fingerprint(),
            Query::partition("a").sort_prefix("bc").fingerprint()
        );
    }

    #[test]
    fn sort_matching_is_bytewise() {
        assert!(SortCondition::BeginsWith("é".into()).matches("été"));
        assert!(SortCondition::Lt("Z".into()).matches("A"));
        assert!(!SortCondition::Lt("Z".into()).matches("a"));
        assert!(SortCondition::Between("a".into(), "c".into()).matches("c"));
    }
}
