//! The stored form of an item: a compact binary encoding of its attributes.
//!
//! A format byte, then the attribute count and each attribute as its name and its value. Lengths
//! and counts are LEB128 varints; strings are UTF-8; a value is a tag byte and its content. Numbers
//! are kept as their strings, verbatim. Decoding checks everything and never trusts a length, so
//! corrupt bytes are an error, never a panic or a huge allocation.

use std::collections::HashMap;
use std::fmt;

use serde_dynamo::AttributeValue;

use crate::item::Item;

/// The first byte of every stored item.
pub(super) const FORMAT: u8 = 1;
/// How deep containers may nest (DynamoDB's limit is 32).
pub(super) const MAX_DEPTH: usize = 32;

pub(super) const TAG_N: u8 = 0;
pub(super) const TAG_S: u8 = 1;
pub(super) const TAG_FALSE: u8 = 2;
pub(super) const TAG_TRUE: u8 = 3;
pub(super) const TAG_B: u8 = 4;
pub(super) const TAG_NULL_FALSE: u8 = 5;
pub(super) const TAG_NULL_TRUE: u8 = 6;
pub(super) const TAG_M: u8 = 7;
pub(super) const TAG_L: u8 = 8;
pub(super) const TAG_SS: u8 = 9;
pub(super) const TAG_NS: u8 = 10;
pub(super) const TAG_BS: u8 = 11;

/// Stored bytes that are not an encoded item.
#[derive(Debug)]
pub(crate) struct CorruptItem(pub(super) &'static str);

impl fmt::Display for CorruptItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stored item is corrupt: {}", self.0)
    }
}

impl std::error::Error for CorruptItem {}

/// Encodes an item.
pub(super) fn encode(item: &Item) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(FORMAT);
    put_map(&mut out, item);
    out
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    let mut n = n as u64;
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

fn put_map(out: &mut Vec<u8>, map: &HashMap<String, AttributeValue>) {
    put_len(out, map.len());
    for (name, value) in map {
        put_bytes(out, name.as_bytes());
        put_value(out, value);
    }
}

fn put_value(out: &mut Vec<u8>, value: &AttributeValue) {
    match value {
        AttributeValue::N(n) => {
            out.push(TAG_N);
            put_bytes(out, n.as_bytes());
        }
        AttributeValue::S(s) => {
            out.push(TAG_S);
            put_bytes(out, s.as_bytes());
        }
        AttributeValue::Bool(b) => out.push(if *b { TAG_TRUE } else { TAG_FALSE }),
        AttributeValue::B(b) => {
            out.push(TAG_B);
            put_bytes(out, b);
        }
        AttributeValue::Null(b) => out.push(if *b { TAG_NULL_TRUE } else { TAG_NULL_FALSE }),
        AttributeValue::M(m) => {
            out.push(TAG_M);
            put_map(out, m);
        }
        AttributeValue::L(l) => {
            out.push(TAG_L);
            put_len(out, l.len());
            for v in l {
                put_value(out, v);
            }
        }
        AttributeValue::Ss(ss) | AttributeValue::Ns(ss) => {
            out.push(if matches!(value, AttributeValue::Ss(_)) {
                TAG_SS
            } else {
                TAG_NS
            });
            put_len(out, ss.len());
            for s in ss {
                put_bytes(out, s.as_bytes());
            }
        }
        AttributeValue::Bs(bs) => {
            out.push(TAG_BS);
            put_len(out, bs.len());
            for b in bs {
                put_bytes(out, b);
            }
        }
    }
}

/// The depth of the values inside a container at `depth`: an error past [`MAX_DEPTH`].
pub(super) fn nested(depth: usize) -> Result<usize, CorruptItem> {
    if depth >= MAX_DEPTH {
        Err(CorruptItem("nested too deep"))
    } else {
        Ok(depth + 1)
    }
}

/// Decodes an item written by [`encode`].
pub(super) fn decode(bytes: &[u8]) -> Result<Item, CorruptItem> {
    let mut r = Reader(bytes);
    if r.byte()? != FORMAT {
        return Err(CorruptItem("unknown format"));
    }
    let item = r.map(0)?;
    if !r.0.is_empty() {
        return Err(CorruptItem("trailing bytes"));
    }
    Ok(item)
}

/// Reads the encoding, checking every length against what is left.
pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl<'a> Reader<'a> {
    #[inline]
    pub(super) fn byte(&mut self) -> Result<u8, CorruptItem> {
        let (&b, rest) = self.0.split_first().ok_or(CorruptItem("truncated"))?;
        self.0 = rest;
        Ok(b)
    }

    /// A length or count: every element takes at least one byte, so it cannot exceed what is
    /// left.
    #[inline]
    pub(super) fn len(&mut self) -> Result<usize, CorruptItem> {
        // One byte: every length under 128 (most names and strings, every small count).
        if let Some((&b, rest)) = self.0.split_first()
            && b & 0x80 == 0
        {
            self.0 = rest;
            let n = usize::from(b);
            return if n <= rest.len() {
                Ok(n)
            } else {
                Err(CorruptItem("length past the end"))
            };
        }
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f)
                .checked_shl(shift)
                .filter(|v| v >> shift == u64::from(b & 0x7f))
                .ok_or(CorruptItem("length overflows"))?;
            if b & 0x80 == 0 {
                return usize::try_from(n)
                    .ok()
                    .filter(|&n| n <= self.0.len())
                    .ok_or(CorruptItem("length past the end"));
            }
        }
        Err(CorruptItem("length overflows"))
    }

    #[inline]
    pub(super) fn bytes(&mut self) -> Result<&'a [u8], CorruptItem> {
        let len = self.len()?;
        let (bytes, rest) = self
            .0
            .split_at_checked(len)
            .ok_or(CorruptItem("truncated"))?;
        self.0 = rest;
        Ok(bytes)
    }

    /// A string, borrowed from the encoding.
    #[inline]
    pub(super) fn str(&mut self) -> Result<&'a str, CorruptItem> {
        std::str::from_utf8(self.bytes()?).map_err(|_| CorruptItem("invalid UTF-8"))
    }

    fn string(&mut self) -> Result<String, CorruptItem> {
        self.str().map(str::to_owned)
    }

    fn strings(&mut self) -> Result<Vec<String>, CorruptItem> {
        let count = self.len()?;
        (0..count).map(|_| self.string()).collect()
    }

    fn map(&mut self, depth: usize) -> Result<HashMap<String, AttributeValue>, CorruptItem> {
        let count = self.len()?;
        let mut map = HashMap::with_capacity(count);
        for _ in 0..count {
            let name = self.string()?;
            let value = self.value(depth)?;
            if map.insert(name, value).is_some() {
                return Err(CorruptItem("repeated attribute name"));
            }
        }
        Ok(map)
    }

    /// A value at `depth` containers deep.
    fn value(&mut self, depth: usize) -> Result<AttributeValue, CorruptItem> {
        let tag = self.byte()?;
        let nested = || nested(depth);
        Ok(match tag {
            TAG_N => AttributeValue::N(self.string()?),
            TAG_S => AttributeValue::S(self.string()?),
            TAG_FALSE => AttributeValue::Bool(false),
            TAG_TRUE => AttributeValue::Bool(true),
            TAG_B => AttributeValue::B(self.bytes()?.to_vec()),
            TAG_NULL_FALSE => AttributeValue::Null(false),
            TAG_NULL_TRUE => AttributeValue::Null(true),
            TAG_M => AttributeValue::M(self.map(nested()?)?),
            TAG_L => {
                let depth = nested()?;
                let count = self.len()?;
                AttributeValue::L(
                    (0..count)
                        .map(|_| self.value(depth))
                        .collect::<Result<_, _>>()?,
                )
            }
            TAG_SS => AttributeValue::Ss(self.strings()?),
            TAG_NS => AttributeValue::Ns(self.strings()?),
            TAG_BS => {
                let count = self.len()?;
                AttributeValue::Bs(
                    (0..count)
                        .map(|_| self.bytes().map(<[u8]>::to_vec))
                        .collect::<Result<_, _>>()?,
                )
            }
            _ => return Err(CorruptItem("unknown value tag")),
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn every_variant() -> Item {
        let mut inner = HashMap::new();
        inner.insert("n".to_owned(), AttributeValue::N("-0.00100".into()));
        inner.insert("empty".to_owned(), AttributeValue::M(HashMap::new()));
        let mut item = Item::new();
        for (name, value) in [
            ("_pk", AttributeValue::S("p ✓".into())),
            ("_sk", AttributeValue::S(String::new())),
            ("n", AttributeValue::N("1E+3".into())),
            (
                "big",
                AttributeValue::N("-123456789012345678901234567890.12345678".into()),
            ),
            ("t", AttributeValue::Bool(true)),
            ("f", AttributeValue::Bool(false)),
            ("b", AttributeValue::B(vec![0, 255, 128])),
            ("eb", AttributeValue::B(Vec::new())),
            ("null", AttributeValue::Null(true)),
            ("null_false", AttributeValue::Null(false)),
            ("m", AttributeValue::M(inner)),
            (
                "l",
                AttributeValue::L(vec![
                    AttributeValue::S("x".into()),
                    AttributeValue::L(vec![]),
                    AttributeValue::N("7".into()),
                ]),
            ),
            ("ss", AttributeValue::Ss(vec!["b".into(), "a".into()])),
            ("ns", AttributeValue::Ns(vec!["10".into(), "1.50".into()])),
            ("bs", AttributeValue::Bs(vec![vec![1], vec![], vec![2, 3]])),
            ("ünïcode ✓", AttributeValue::S("x".repeat(300))),
        ] {
            item.insert(name.to_owned(), value);
        }
        item
    }

    #[test]
    fn round_trips_every_variant_exactly() {
        let item = every_variant();
        let bytes = encode(&item);
        assert_eq!(decode(&bytes).unwrap(), item);
        assert_eq!(decode(&encode(&Item::new())).unwrap(), Item::new());
    }

    #[test]
    fn corrupt_bytes_are_errors() {
        let bytes = encode(&every_variant());
        // Every truncation, and every single-byte change, decodes to an error or to some item,
        // never a panic.
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "truncated at {len}");
        }
        for at in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[at] ^= flip;
                let _ = decode(&b);
            }
        }
        assert!(decode(&[]).is_err());
        assert!(decode(&[9, 0]).is_err());
        // A count far past the end, an overlong varint, trailing bytes, a bad tag, bad UTF-8.
        assert!(decode(&[FORMAT, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
        assert!(
            decode(&[
                FORMAT, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ])
            .is_err()
        );
        assert!(decode(&[FORMAT, 0, 0]).is_err());
        assert!(decode(&[FORMAT, 1, 1, b'a', 42]).is_err());
        assert!(decode(&[FORMAT, 1, 1, 0xff, TAG_TRUE]).is_err());
        assert!(decode(&[FORMAT, 2, 1, b'a', TAG_TRUE, 1, b'a', TAG_TRUE]).is_err());
        // Nesting past DynamoDB's depth.
        let mut deep = vec![FORMAT, 1, 1, b'a'];
        deep.extend(std::iter::repeat_n([TAG_L, 1], 40).flatten());
        deep.push(TAG_TRUE);
        assert!(decode(&deep).is_err());
    }
}
