//! What the service stores, and how it answers.
//!
//! Every list is a tenant: its items sit in the list's own key space (`saas-data` pool model),
//! reachable only through a scope for that list. The one cross-list item is each user's index of
//! their lists, kept as system data.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use http::header;
use saas_core::{Role, TenantId, Tier};
use saas_data::{Key, KeyError};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// A member's role in a list, as the contract spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ListRole {
    /// Created the list: everything, including sharing and deleting it.
    Owner,
    /// Reads and writes todos.
    Editor,
    /// Reads.
    Viewer,
}

impl ListRole {
    /// The saas-core role the membership lookup grants.
    pub(crate) fn role(self) -> Role {
        match self {
            ListRole::Owner => Role::TenantAdmin,
            ListRole::Editor => Role::TenantUser,
            ListRole::Viewer => Role::TenantViewer,
        }
    }

    /// Back from the verified context's role.
    pub(crate) fn from_role(role: Role) -> ListRole {
        match role {
            Role::SystemAdmin | Role::TenantAdmin => ListRole::Owner,
            Role::TenantUser => ListRole::Editor,
            Role::TenantViewer => ListRole::Viewer,
        }
    }
}

/// The claim that carries a user's tier (a Cognito custom attribute only an administrator
/// sets): it places the lists they create.
pub(crate) const TIER_CLAIM: &str = "custom:tier";

/// The list itself: `meta` in the list's key space.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ListRecord {
    /// Its name.
    pub(crate) name: String,
    /// RFC 3339 UTC.
    pub(crate) created_at: String,
    /// The owner's email.
    pub(crate) owner: String,
}

/// A member: `member/{email}` in the list's key space.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MemberRecord {
    /// The verified email it matches.
    pub(crate) email: String,
    /// The role.
    pub(crate) role: ListRole,
    /// The list's tier, decided by its owner's tier at creation (records written before tiers
    /// were kept are basic).
    #[serde(default = "basic")]
    pub(crate) tier: Tier,
}

fn basic() -> Tier {
    Tier::Basic
}

/// One of a user's lists: `user#{email}/{list}` in the system key space.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct IndexRecord {
    /// The user's role there.
    pub(crate) role: ListRole,
}

/// A todo: `todo/{id}` in the list's key space; ids sort by creation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TodoRecord {
    /// Its title.
    pub(crate) title: String,
    /// Whether it is done.
    pub(crate) done: bool,
    /// RFC 3339 UTC.
    pub(crate) created_at: String,
    /// RFC 3339 UTC.
    pub(crate) updated_at: String,
    /// The creator's email.
    pub(crate) created_by: String,
}

/// A list as answered.
#[derive(Debug, Serialize)]
pub(crate) struct ListView {
    /// The list id (its tenant id).
    pub(crate) id: String,
    /// Its name.
    pub(crate) name: String,
    /// The caller's role.
    pub(crate) role: ListRole,
    /// RFC 3339 UTC.
    pub(crate) created_at: String,
}

/// A page as answered: its items, and the cursor of the next page (`null` on the last).
#[derive(Debug, Serialize)]
pub(crate) struct PageView<T> {
    /// The page's items.
    pub(crate) items: Vec<T>,
    /// Where the next page starts.
    pub(crate) next_cursor: Option<String>,
}

/// About the size of one item of a page as JSON: a todo is some 230 bytes.
const ITEM_BYTES_HINT: usize = 256;

/// The page as `application/json`, serialized into one buffer sized for its items at the start
/// (axum's `Json` starts at 128 bytes and copies the page into each larger buffer as it grows).
impl<T: Serialize> IntoResponse for PageView<T> {
    fn into_response(self) -> Response {
        match self.to_json() {
            Ok(body) => json_response(body),
            Err(e) => e.into_response(),
        }
    }
}

impl<T: Serialize> PageView<T> {
    /// The page as JSON, in one buffer sized for its items at the start.
    pub(crate) fn to_json(&self) -> Result<Bytes, ApiError> {
        let mut body = BytesMut::with_capacity(ITEM_BYTES_HINT * (self.items.len() + 1)).writer();
        serde_json::to_writer(&mut body, self).map_err(|e| {
            tracing::error!(error = %e, "a page could not be serialized");
            ApiError::Internal
        })?;
        Ok(body.into_inner().freeze())
    }
}

/// `body`, JSON already, as a 200 `application/json` answer.
pub(crate) fn json_response(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A todo as answered.
#[derive(Debug, Serialize)]
pub(crate) struct TodoView {
    /// Its id.
    pub(crate) id: String,
    /// Its title.
    pub(crate) title: String,
    /// Whether it is done.
    pub(crate) done: bool,
    /// Its version: 1 when created, + 1 on each change.
    pub(crate) version: u64,
    /// RFC 3339 UTC.
    pub(crate) created_at: String,
    /// RFC 3339 UTC.
    pub(crate) updated_at: String,
    /// The creator's email.
    pub(crate) created_by: String,
}

impl TodoView {
    /// The view of `record` stored under `id` at `version`.
    pub(crate) fn new(id: &str, version: u64, record: TodoRecord) -> TodoView {
        TodoView {
            id: id.to_owned(),
            title: record.title,
            done: record.done,
            version,
            created_at: record.created_at,
            updated_at: record.updated_at,
            created_by: record.created_by,
        }
    }
}

/// The list's own record.
pub(crate) fn meta_key() -> Result<Key, ApiError> {
    key("meta", "list")
}

/// The partition of a list's member records.
pub(crate) const MEMBER: &str = "member";

/// A member's record.
pub(crate) fn member_key(email: &str) -> Result<Key, ApiError> {
    key(MEMBER, email)
}

/// A todo's record.
pub(crate) fn todo_key(id: &str) -> Result<Key, ApiError> {
    key("todo", id)
}

/// The partition of `email`'s list index (system data).
pub(crate) fn index_partition(email: &str) -> String {
    format!("user#{email}")
}

/// `email`'s index entry for `list`.
pub(crate) fn index_key(email: &str, list: &TenantId) -> Result<Key, ApiError> {
    key(&index_partition(email), list.as_str())
}

fn key(partition: &str, sort: &str) -> Result<Key, ApiError> {
    Key::new(partition, sort).map_err(|e: KeyError| {
        tracing::debug!(error = %e, "key refused");
        ApiError::NotFound
    })
}

/// Now, RFC 3339 UTC.
pub(crate) fn now() -> String {
    DateTime::from(SystemTime::now())
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

/// The sequence that orders ids made within one millisecond (not tenant state: a counter).
static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// A new random id: `prefix` and 20 random hex digits, after a time part and a sequence when
/// `sortable` (so that ids sort by creation). Valid as a tenant id.
pub(crate) fn new_id(prefix: &str, sortable: bool) -> Result<String, ApiError> {
    let mut random = [0u8; 10];
    getrandom::fill(&mut random).map_err(|_| ApiError::Internal)?;
    let mut id = String::with_capacity(40);
    id.push_str(prefix);
    if sortable {
        let ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        // Ids made in the same millisecond by this process still sort in the order made.
        let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        push_hex(&mut id, u64::try_from(ms).unwrap_or(u64::MAX), 12);
        push_hex(&mut id, u64::from(seq), 8);
    }
    for b in random {
        push_hex(&mut id, u64::from(b), 2);
    }
    Ok(id)
}

/// Appends the low `digits` hex digits of `value`, lowercase, zero-padded.
fn push_hex(out: &mut String, value: u64, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        let nibble = (value >> (4 * i)) & 0xf;
        out.push(char::from(HEX[nibble as usize]));
    }
}

/// An email as memberships match it: trimmed, lowercased, plausible.
pub(crate) fn normalize_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let plausible = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if plausible {
        Ok(email)
    } else {
        Err(ApiError::InvalidRequest("not an email address"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_tenant_ids_and_sortable_ones_sort_by_time() {
        let a = new_id("t", true).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id("t", true).unwrap();
        assert!(a < b);
        // Many within one millisecond, still in order.
        let many: Vec<String> = (0..1000).map(|_| new_id("t", true).unwrap()).collect();
        assert!(many.windows(2).all(|w| w[0] < w[1]));
        assert!(TenantId::new(&new_id("l", false).unwrap()).is_ok());
        assert_eq!(new_id("l", false).unwrap().len(), 21);
        assert_eq!(new_id("t", true).unwrap().len(), 41);
    }

    #[test]
    fn push_hex_writes_what_format_writes() {
        for (value, digits) in [(0u64, 2), (0xab, 2), (0x018c_3a5b_2f01, 12), (u64::MAX, 8)] {
            let mut out = String::new();
            push_hex(&mut out, value, digits);
            let mask = (1u64 << (4 * digits)) - 1;
            let width = digits as usize;
            assert_eq!(out, format!("{:0width$x}", value & mask));
        }
    }

    #[test]
    fn emails_are_normalized_or_refused() {
        assert_eq!(
            normalize_email(" Ann@Example.COM ").unwrap(),
            "ann@example.com"
        );
        for bad in ["", "ann", "@x", "ann@", "a b@x", "a@b@c"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
