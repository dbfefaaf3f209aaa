//! Pagination cursors: opaque, bound to the tenant and the query, authenticated with HMAC-SHA256.
//!
//! A cursor holds only sort keys the caller has already seen (one position per write shard),
//! never a partition key. Its MAC covers the owner (tenant id or system), the query's fingerprint
//! and the positions, under the store's cursor key: a cursor edited, or used by another tenant or
//! with another query, fails the check and is [`Error::InvalidCursor`].

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Error, Result};

const VERSION: u8 = 1;
const MAC_LEN: usize = 16;
/// Cursors longer than this are refused before decoding (100 shards of 1 KB sort keys fit).
const MAX_CURSOR_LEN: usize = 192 * 1024;
const DOMAIN: &[u8] = b"saas-data/cursor/v1";
/// The key used when the application sets none: cursors still bind tenant and query, but a
/// tenant who knows this crate could forge a cursor into its own data. Set
/// [`DataStoreBuilder::cursor_key`](crate::DataStoreBuilder::cursor_key) to rule that out.
const DEFAULT_KEY: &[u8] = b"saas-data default cursor key: set DataStoreBuilder::cursor_key";

/// Where a query stands in one shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Position {
    /// Nothing read yet.
    Start,
    /// Continue after this sort key.
    After(String),
    /// Nothing more in this shard.
    Done,
}

/// Signs and checks cursors.
#[derive(Clone)]
pub(crate) struct CursorCodec {
    key: hmac::Key,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(..)")
    }
}

impl Default for CursorCodec {
    fn default() -> Self {
        Self::new(DEFAULT_KEY)
    }
}

impl CursorCodec {
    pub(crate) fn new(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    fn mac(&self, owner: &str, fingerprint: &[u8], payload: &[u8]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(DOMAIN);
        ctx.update(&(owner.len() as u32).to_be_bytes());
        ctx.update(owner.as_bytes());
        ctx.update(&(fingerprint.len() as u32).to_be_bytes());
        ctx.update(fingerprint);
        ctx.update(payload);
        ctx.sign()
    }

    /// The cursor for `positions` of a query with `fingerprint`, run by `owner`.
    pub(crate) fn encode(&self, owner: &str, fingerprint: &[u8], positions: &[Position]) -> String {
        let mut payload = Vec::with_capacity(8 + positions.len() * 24);
        payload.push(VERSION);
        payload.extend_from_slice(&(positions.len() as u16).to_be_bytes());
        for position in positions {
            match position {
                Position::Start => payload.push(0),
                Position::After(sort) => {
                    payload.push(1);
                    payload.extend_from_slice(&(sort.len() as u16).to_be_bytes());
                    payload.extend_from_slice(sort.as_bytes());
                }
                Position::Done => payload.push(2),
            }
        }
        let tag = self.mac(owner, fingerprint, &payload);
        payload.extend_from_slice(&tag.as_ref()[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(payload)
    }

    /// The positions in `cursor`, if it was made by [`CursorCodec::encode`] for this owner and
    /// query with `shards` positions.
    pub(crate) fn decode(
        &self,
        owner: &str,
        fingerprint: &[u8],
        cursor: &str,
        shards: usize,
    ) -> Result<Vec<Position>> {
        if cursor.is_empty() || cursor.len() > MAX_CURSOR_LEN {
            return Err(Error::InvalidCursor);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| Error::InvalidCursor)?;
        if raw.len() < 3 + MAC_LEN {
            return Err(Error::InvalidCursor);
        }
        let (payload, tag) = raw.split_at(raw.len() - MAC_LEN);
        let expected = self.mac(owner, fingerprint, payload);
        // Constant-time comparison of the truncated tag.
        if aws_lc_rs::constant_time::verify_slices_are_equal(&expected.as_ref()[..MAC_LEN], tag)
            .is_err()
        {
            return Err(Error::InvalidCursor);
        }
        parse_payload(payload, shards).ok_or(Error::InvalidCursor)
    }
}

fn parse_payload(payload: &[u8], shards: usize) -> Option<Vec<Position>> {
    let (&version, rest) = payload.split_first()?;
    if version != VERSION {
        return None;
    }
    let count = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
    if count != shards {
        return None;
    }
    let mut rest = &rest[2..];
    let mut positions = Vec::with_capacity(count);
    for _ in 0..count {
        let (&tag, tail) = rest.split_first()?;
        rest = tail;
        positions.push(match tag {
            0 => Position::Start,
            1 => {
                let len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
                let bytes = rest.get(2..2 + len)?;
                rest = &rest[2 + len..];
                Position::After(String::from_utf8(bytes.to_vec()).ok()?)
            }
            2 => Position::Done,
            _ => return None,
        });
    }
    rest.is_empty().then_some(positions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions() -> Vec<Position> {
        vec![Position::After("TODO#0042 ü".into())]
    }

    #[test]
    fn round_trip() {
        let codec = CursorCodec::new(b"secret");
        let c = codec.encode("tenant-a", b"q1", &positions());
        assert_eq!(codec.decode("tenant-a", b"q1", &c, 1).unwrap(), positions());
        let many = vec![Position::Start, Position::After("x".into()), Position::Done];
        let c = codec.encode("tenant-a", b"q1", &many);
        assert_eq!(codec.decode("tenant-a", b"q1", &c, 3).unwrap(), many);
    }

    #[test]
    fn bound_to_owner_query_key_and_shards() {
        let codec = CursorCodec::new(b"secret");
        let c = codec.encode("tenant-a", b"q1", &positions());
        for (owner, fp, shards) in [
            ("tenant-b", &b"q1"[..], 1),
            ("tenant-a", b"q2", 1),
            ("tenant-a", b"q1", 2),
        ] {
            assert!(matches!(
                codec.decode(owner, fp, &c, shards),
                Err(Error::InvalidCursor)
            ));
        }
        let other_key = CursorCodec::new(b"other");
        assert!(other_key.decode("tenant-a", b"q1", &c, 1).is_err());
    }

    #[test]
    fn every_edit_is_refused() {
        let codec = CursorCodec::default();
        let c = codec.encode("t", b"q", &positions());
        let raw = URL_SAFE_NO_PAD.decode(&c).unwrap();
        for i in 0..raw.len() {
            for bit in [1u8, 0x80] {
                let mut edited = raw.clone();
                edited[i] ^= bit;
                let edited = URL_SAFE_NO_PAD.encode(edited);
                assert!(codec.decode("t", b"q", &edited, 1).is_err(), "byte {i}");
            }
        }
        for bad in ["", "!!!", "AAAA", &"A".repeat(200_000), &c[..c.len() - 1]] {
            assert!(codec.decode("t", b"q", bad, 1).is_err(), "{bad:.20}");
        }
    }
}
