//! A stored item read back without building its attribute map.
//!
//! A query reads dozens of items per page and keeps most of them only long enough to check
//! their owner and turn them into the application's type. [`EncodedItem`] keeps the stored bytes
//! as they are: reading one walks the encoding once, checking its structure as
//! [`codec::decode`](super::codec::decode) does (lengths, tags, depth, repeated names) and
//! noting where the crate's own attributes are and the item's size as DynamoDB counts it. The
//! value is then deserialized straight from the bytes ([`super::deserializer`]), with no
//! [`AttributeValue`](serde_dynamo::AttributeValue) in between. Text is checked for UTF-8 where
//! it is read (by the deserializer, or as the owner and sort key), once, not in the walk.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

use super::codec::{
    self, CorruptItem, FORMAT, Reader, TAG_B, TAG_BS, TAG_FALSE, TAG_L, TAG_M, TAG_N, TAG_NS,
    TAG_NULL_FALSE, TAG_NULL_TRUE, TAG_S, TAG_SS, TAG_TRUE,
};
use crate::item::{Item, SK, TENANT, VERSION, is_reserved_name, number_size_of};

/// A stored item, checked, with its key, owner and version attributes located.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct EncodedItem {
    bytes: Box<[u8]>,
    /// The `_sk` string, when it is one.
    sort: Option<Range<usize>>,
    /// The `_tenant` string, when it is one.
    tenant: Option<Range<usize>>,
    /// The `_version` number, when it is a whole number.
    version: Option<u64>,
    /// The item's size, as [`item_size`](crate::item::item_size) counts it.
    size: usize,
    /// How many top-level attributes are not reserved.
    attributes: usize,
}

impl fmt::Debug for EncodedItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncodedItem")
            .field("sort", &self.sort())
            .field("owner", &self.owner())
            .field("version", &self.version)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl EncodedItem {
    /// Checks `bytes` (an item written by [`codec::encode`]) and keeps a copy.
    pub(super) fn read(bytes: &[u8]) -> Result<EncodedItem, CorruptItem> {
        let mut r = Reader(bytes);
        if r.byte()? != FORMAT {
            return Err(CorruptItem("unknown format"));
        }
        let offset = |r: &Reader<'_>| bytes.len() - r.0.len();
        let (mut sort, mut tenant, mut version) = (None, None, None);
        let (mut size, mut attributes) = (0, 0);
        let mut names = Names::default();
        for _ in 0..r.len()? {
            let name = r.bytes()?;
            names.insert(name)?;
            let tag = r.byte()?;
            let start = offset(&r);
            let value_size = walk_value(&mut r, tag, 0)?;
            size += name.len() + value_size;
            if tag == TAG_S && name == SK.as_bytes() {
                sort = Some(string_span(bytes, start, offset(&r))?);
            } else if tag == TAG_S && name == TENANT.as_bytes() {
                tenant = Some(string_span(bytes, start, offset(&r))?);
            } else if tag == TAG_N && name == VERSION.as_bytes() {
                version = number_at(bytes, start)?.parse().ok();
            }
            if !is_reserved_name(name) {
                attributes += 1;
            }
        }
        if !r.0.is_empty() {
            return Err(CorruptItem("trailing bytes"));
        }
        Ok(EncodedItem {
            bytes: bytes.into(),
            sort,
            tenant,
            version,
            size,
            attributes,
        })
    }

    /// The `_sk` attribute, if it is a (UTF-8) string.
    pub(crate) fn sort(&self) -> Option<&str> {
        self.str_at(self.sort.as_ref())
    }

    /// The `_tenant` attribute, if it is a (UTF-8) string.
    pub(crate) fn owner(&self) -> Option<&str> {
        self.str_at(self.tenant.as_ref())
    }

    /// Whether the `_tenant` attribute is the string `owner`: the bytes compared, with no
    /// UTF-8 check (equal to a `str`'s bytes, they are valid UTF-8).
    pub(crate) fn is_owned_by(&self, owner: &str) -> bool {
        self.tenant
            .as_ref()
            .and_then(|span| self.bytes.get(span.clone()))
            .is_some_and(|bytes| bytes == owner.as_bytes())
    }

    /// The `_version` attribute, if it is a whole number.
    pub(crate) fn version(&self) -> Option<u64> {
        self.version
    }

    /// The size DynamoDB counts: attribute names plus values.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// How many top-level attributes are the application's (not reserved).
    pub(super) fn attributes(&self) -> usize {
        self.attributes
    }

    /// The encoding, after its format byte.
    pub(super) fn body(&self) -> &[u8] {
        self.bytes.get(1..).unwrap_or_default()
    }

    /// Every attribute, decoded.
    pub(crate) fn to_item(&self) -> Result<Item, CorruptItem> {
        codec::decode(&self.bytes)
    }

    fn str_at(&self, span: Option<&Range<usize>>) -> Option<&str> {
        let bytes = self.bytes.get(span?.clone())?;
        std::str::from_utf8(bytes).ok()
    }
}

/// The span of the string whose encoding (length, then UTF-8) is `bytes[start..end]`.
fn string_span(bytes: &[u8], start: usize, end: usize) -> Result<Range<usize>, CorruptItem> {
    let encoded = bytes.get(start..end).ok_or(CorruptItem("truncated"))?;
    let mut r = Reader(encoded);
    let text = r.bytes()?;
    Ok(end - text.len()..end)
}

/// The number encoded at `bytes[start..]`.
fn number_at(bytes: &[u8], start: usize) -> Result<&str, CorruptItem> {
    Reader(bytes.get(start..).ok_or(CorruptItem("truncated"))?).str()
}

/// Names seen in one map: repeated names are corrupt, as in [`codec::decode`]. Small maps (the
/// usual case) need no allocation.
#[derive(Default)]
struct Names<'a> {
    few: [&'a [u8]; 16],
    count: usize,
    many: Option<HashSet<&'a [u8]>>,
}

impl<'a> Names<'a> {
    fn insert(&mut self, name: &'a [u8]) -> Result<(), CorruptItem> {
        let repeated = match &mut self.many {
            Some(many) => !many.insert(name),
            None if self.count < self.few.len() => {
                let seen = self.few.get(..self.count).unwrap_or_default();
                let repeated = seen.contains(&name);
                if let Some(slot) = self.few.get_mut(self.count) {
                    *slot = name;
                }
                self.count += 1;
                repeated
            }
            None => {
                let mut many: HashSet<&[u8]> = self.few.iter().copied().collect();
                let repeated = !many.insert(name);
                self.many = Some(many);
                repeated
            }
        };
        if repeated {
            Err(CorruptItem("repeated attribute name"))
        } else {
            Ok(())
        }
    }
}

/// Checks the structure of the value of tag `tag` at `depth` containers deep (not its text's
/// UTF-8) and moves past it; returns its size as [`value_size`](crate::item::value_size) counts
/// it.
fn walk_value(r: &mut Reader<'_>, tag: u8, depth: usize) -> Result<usize, CorruptItem> {
    let nested = || codec::nested(depth);
    Ok(match tag {
        TAG_N => number_size_of(r.bytes()?),
        TAG_S => r.bytes()?.len(),
        TAG_B => r.bytes()?.len(),
        TAG_FALSE | TAG_TRUE | TAG_NULL_FALSE | TAG_NULL_TRUE => 1,
        TAG_M => {
            let depth = nested()?;
            let mut names = Names::default();
            let mut size = 3;
            for _ in 0..r.len()? {
                let name = r.bytes()?;
                names.insert(name)?;
                let tag = r.byte()?;
                size += 1 + name.len() + walk_value(r, tag, depth)?;
            }
            size
        }
        TAG_L => {
            let depth = nested()?;
            let mut size = 3;
            for _ in 0..r.len()? {
                let tag = r.byte()?;
                size += 1 + walk_value(r, tag, depth)?;
            }
            size
        }
        TAG_SS => {
            let mut size = 0;
            for _ in 0..r.len()? {
                size += r.bytes()?.len();
            }
            size
        }
        TAG_NS => {
            let mut size = 0;
            for _ in 0..r.len()? {
                size += number_size_of(r.bytes()?);
            }
            size
        }
        TAG_BS => {
            let mut size = 0;
            for _ in 0..r.len()? {
                size += r.bytes()?.len();
            }
            size
        }
        _ => return Err(CorruptItem("unknown value tag")),
    })
}

/// Moves past a value that [`EncodedItem::read`] has checked.
pub(super) fn skip_value(r: &mut Reader<'_>, tag: u8) -> Result<(), CorruptItem> {
    // The depth was checked when the item was read.
    walk_value(r, tag, 0).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::item_size;
    use serde_dynamo::AttributeValue;

    #[test]
    fn reads_what_decode_reads() {
        let mut item = codec::tests::every_variant();
        item.insert(SK.into(), AttributeValue::S("todo/ü1".into()));
        item.insert(TENANT.into(), AttributeValue::S("list-1".into()));
        item.insert(VERSION.into(), AttributeValue::N("42".into()));
        let bytes = codec::encode(&item);
        let encoded = EncodedItem::read(&bytes).unwrap();
        assert_eq!(encoded.sort(), Some("todo/ü1"));
        assert_eq!(encoded.owner(), Some("list-1"));
        assert!(encoded.is_owned_by("list-1"));
        assert!(
            !encoded.is_owned_by("list-10")
                && !encoded.is_owned_by("list-")
                && !encoded.is_owned_by("")
        );
        assert_eq!(encoded.version(), Some(42));
        assert_eq!(encoded.size(), item_size(&item));
        // Every attribute of every_variant but its `_pk` and `_sk` is the application's.
        assert_eq!(encoded.attributes(), item.len() - 4);
        assert_eq!(encoded.to_item().unwrap(), item);
    }

    #[test]
    fn reserved_attributes_of_another_type_are_absent() {
        let mut item = Item::new();
        item.insert(SK.into(), AttributeValue::N("1".into()));
        item.insert(TENANT.into(), AttributeValue::L(vec![]));
        item.insert(VERSION.into(), AttributeValue::N("1.5".into()));
        let encoded = EncodedItem::read(&codec::encode(&item)).unwrap();
        assert_eq!(
            (encoded.sort(), encoded.owner(), encoded.version()),
            (None, None, None)
        );
    }

    #[test]
    fn corrupt_bytes_are_errors_when_decode_says_so() {
        let bytes = codec::encode(&codec::tests::every_variant());
        for len in 0..bytes.len() {
            assert!(
                EncodedItem::read(&bytes[..len]).is_err(),
                "truncated at {len}"
            );
        }
        for at in 0..bytes.len() {
            for flip in [0x01, 0x02, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[at] ^= flip;
                let read = EncodedItem::read(&b);
                match codec::decode(&b) {
                    Ok(item) => {
                        let read = read.unwrap_or_else(|e| panic!("{at} ^ {flip:#x}: {e}"));
                        assert_eq!(read.size(), item_size(&item), "{at} ^ {flip:#x}");
                    }
                    // Text is checked where it is read, not in the walk.
                    Err(CorruptItem("invalid UTF-8")) => {
                        if let Ok(read) = read {
                            assert!(read.to_item().is_err(), "{at} ^ {flip:#x}");
                        }
                    }
                    Err(_) => assert!(read.is_err(), "{at} ^ {flip:#x}"),
                }
            }
        }
        let mut deep = vec![FORMAT, 1, 1, b'a'];
        deep.extend(std::iter::repeat_n([TAG_L, 1], 40).flatten());
        deep.push(TAG_TRUE);
        assert!(EncodedItem::read(&deep).is_err());
    }

    #[test]
    fn repeated_names_in_large_maps_are_corrupt() {
        // 20 attributes (past the inline set), the last one repeating the first.
        let mut bytes = vec![FORMAT, 20];
        for i in 0..20u8 {
            let name = if i == 19 { b'a' } else { b'a' + i };
            bytes.extend([1, name, TAG_TRUE]);
        }
        assert!(codec::decode(&bytes).is_err());
        assert!(EncodedItem::read(&bytes).is_err());
        *bytes.iter_mut().rev().nth(1).unwrap() = b'z';
        assert!(EncodedItem::read(&bytes).is_ok());
    }
}
