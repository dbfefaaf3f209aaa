//! The application's value straight from a stored item's bytes.
//!
//! A serde [`Deserializer`](de::Deserializer) over the embedded encoding that gives exactly what
//! `serde_dynamo::from_item` gives on the decoded attributes (the DynamoDB backend's path), so a
//! type reads the same from both backends; the crate's reserved attributes are skipped. It
//! borrows names and strings from the bytes, and allocates only what the value itself owns.

use std::fmt;

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

use super::codec::{
    CorruptItem, Reader, TAG_B, TAG_BS, TAG_FALSE, TAG_L, TAG_M, TAG_N, TAG_NS, TAG_NULL_FALSE,
    TAG_NULL_TRUE, TAG_S, TAG_SS, TAG_TRUE,
};
use super::encoded::{EncodedItem, skip_value};
use crate::item::is_reserved;

/// Why a stored item is not a `T`.
#[derive(Debug)]
pub(crate) enum DeError {
    /// The bytes are not an encoded item (they were checked when read, so this is a bug).
    Corrupt(CorruptItem),
    /// The attributes do not fit the type.
    Mismatch(String),
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeError::Corrupt(e) => e.fmt(f),
            DeError::Mismatch(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::Mismatch(msg.to_string())
    }
}

impl From<CorruptItem> for DeError {
    fn from(e: CorruptItem) -> Self {
        DeError::Corrupt(e)
    }
}

/// What serde_dynamo says when a value is not of the type asked for.
fn expected(what: &str) -> DeError {
    DeError::Mismatch(format!("Expected {what}"))
}

type Result<T> = std::result::Result<T, DeError>;

/// The item's attributes, but the reserved ones, as a `T`.
pub(crate) fn from_encoded<T: DeserializeOwned>(item: &EncodedItem) -> Result<T> {
    let mut r = Reader(item.body());
    T::deserialize(Value {
        r: &mut r,
        tag: TAG_M,
        top: Some(item.attributes()),
    })
}

/// One value, of tag `tag`, whose content is next in `r`. `top` is set for the item itself:
/// its reserved attributes are skipped, and it has that many others.
struct Value<'de, 'r> {
    r: &'r mut Reader<'de>,
    tag: u8,
    top: Option<usize>,
}

impl<'de, 'r> Value<'de, 'r> {
    fn new(r: &'r mut Reader<'de>, tag: u8) -> Self {
        Value { r, tag, top: None }
    }

    fn number(self) -> Result<Number<'de>> {
        if self.tag == TAG_N {
            Ok(Number(self.r.str()?))
        } else {
            Err(expected("num"))
        }
    }
}

macro_rules! number {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            self.number()?.$method(visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Value<'de, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.tag {
            TAG_N => self.number()?.deserialize_any(visitor),
            TAG_S => self.deserialize_string(visitor),
            TAG_TRUE | TAG_FALSE => self.deserialize_bool(visitor),
            TAG_B => self.deserialize_bytes(visitor),
            TAG_NULL_TRUE | TAG_NULL_FALSE => self.deserialize_unit(visitor),
            TAG_M => self.deserialize_map(visitor),
            _ => self.deserialize_seq(visitor),
        }
    }

    number! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_f32 deserialize_f64
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.tag == TAG_S {
            visitor.visit_borrowed_str(self.r.str()?)
        } else {
            Err(expected("string"))
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_string(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let kind = match self.tag {
            TAG_L => Elements::Values,
            TAG_SS => Elements::Strings,
            TAG_NS => Elements::Numbers,
            TAG_BS => Elements::Bytes,
            _ => return Err(expected("seq")),
        };
        let left = self.r.len()?;
        let mut seq = Seq {
            r: self.r,
            kind,
            left,
        };
        let value = visitor.visit_seq(&mut seq)?;
        seq.skip_rest()?;
        Ok(value)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.tag != TAG_M {
            return Err(expected("map"));
        }
        let left = self.r.len()?;
        let mut map = Map {
            r: self.r,
            left,
            pending: None,
            top: self.top.is_some(),
        };
        let value = visitor.visit_map(&mut map)?;
        map.skip_rest()?;
        Ok(value)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        if self.tag == TAG_L {
            self.deserialize_seq(visitor)
        } else {
            self.deserialize_map(visitor)
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.tag {
            TAG_TRUE => visitor.visit_bool(true),
            TAG_FALSE => visitor.visit_bool(false),
            _ => Err(expected("bool")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.tag != TAG_S {
            return Err(expected("char"));
        }
        let mut chars = self.r.str()?.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(expected("char")),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.tag == TAG_NULL_TRUE {
            visitor.visit_unit()
        } else {
            Err(expected("unit"))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if self.tag == TAG_NULL_TRUE {
            visitor.visit_unit()
        } else {
            Err(expected("unit struct"))
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.tag == TAG_NULL_TRUE {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.tag {
            TAG_S => visitor.visit_enum(str_de(self.r.str()?)),
            TAG_M => {
                let entries = self.r.len()?;
                let single = match self.top {
                    Some(attributes) => attributes == 1,
                    None => entries == 1,
                };
                if !single {
                    return Err(expected("an item with a single key"));
                }
                let top = self.top.is_some();
                loop {
                    let name = self.r.str()?;
                    let tag = self.r.byte()?;
                    if top && is_reserved(name) {
                        skip_value(self.r, tag)?;
                        continue;
                    }
                    return visitor.visit_enum(Enum {
                        name,
                        value: Value::new(self.r, tag),
                    });
                }
            }
            _ => Err(expected("enum")),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.tag == TAG_B {
            visitor.visit_borrowed_bytes(self.r.bytes()?)
        } else {
            Err(expected("binary data"))
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_any(visitor)
    }
}

fn str_de<'de>(s: &'de str) -> StrDeserializer<'de, DeError> {
    s.into_deserializer()
}

/// What a sequence holds.
#[derive(Clone, Copy)]
enum Elements {
    /// A list: values of any tag.
    Values,
    /// A string set.
    Strings,
    /// A number set.
    Numbers,
    /// A binary set.
    Bytes,
}

struct Seq<'de, 'r> {
    r: &'r mut Reader<'de>,
    kind: Elements,
    left: usize,
}

impl Seq<'_, '_> {
    /// Moves past the elements the visitor did not take.
    fn skip_rest(&mut self) -> Result<()> {
        while self.left > 0 {
            self.left -= 1;
            match self.kind {
                Elements::Values => {
                    let tag = self.r.byte()?;
                    skip_value(self.r, tag)?;
                }
                Elements::Strings | Elements::Numbers | Elements::Bytes => {
                    self.r.bytes()?;
                }
            }
        }
        Ok(())
    }
}

impl<'de> de::SeqAccess<'de> for Seq<'de, '_> {
    type Error = DeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        match self.kind {
            Elements::Values => {
                let tag = self.r.byte()?;
                seed.deserialize(Value::new(self.r, tag)).map(Some)
            }
            Elements::Strings => seed.deserialize(str_de(self.r.str()?)).map(Some),
            Elements::Numbers => seed.deserialize(Number(self.r.str()?)).map(Some),
            Elements::Bytes => seed.deserialize(Bytes(self.r.bytes()?)).map(Some),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

struct Map<'de, 'r> {
    r: &'r mut Reader<'de>,
    left: usize,
    /// The tag of the value whose name was just read.
    pending: Option<u8>,
    /// The item itself: its reserved attributes are skipped.
    top: bool,
}

impl Map<'_, '_> {
    /// Moves past the entries the visitor did not take.
    fn skip_rest(&mut self) -> Result<()> {
        if let Some(tag) = self.pending.take() {
            skip_value(self.r, tag)?;
        }
        while self.left > 0 {
            self.left -= 1;
            self.r.bytes()?;
            let tag = self.r.byte()?;
            skip_value(self.r, tag)?;
        }
        Ok(())
    }
}

impl<'de> de::MapAccess<'de> for Map<'de, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if let Some(tag) = self.pending.take() {
            // The visitor asked for the next key without taking the value.
            skip_value(self.r, tag)?;
        }
        while self.left > 0 {
            self.left -= 1;
            let name = self.r.str()?;
            let tag = self.r.byte()?;
            if self.top && is_reserved(name) {
                skip_value(self.r, tag)?;
                continue;
            }
            self.pending = Some(tag);
            return seed.deserialize(Key(name)).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let tag = self.pending.take().ok_or_else(|| {
            <DeError as de::Error>::custom("a map value was asked for before its key")
        })?;
        seed.deserialize(Value::new(self.r, tag))
    }

    fn size_hint(&self) -> Option<usize> {
        (!self.top).then_some(self.left)
    }
}

struct Enum<'de, 'r> {
    name: &'de str,
    value: Value<'de, 'r>,
}

impl<'de, 'r> de::EnumAccess<'de> for Enum<'de, 'r> {
    type Error = DeError;
    type Variant = Value<'de, 'r>;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self::Variant)> {
        let variant = seed.deserialize(str_de(self.name))?;
        Ok((variant, self.value))
    }
}

impl<'de> de::VariantAccess<'de> for Value<'de, '_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<()> {
        // serde_dynamo ignores the value of a unit variant.
        skip_value(self.r, self.tag)?;
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}

/// A number's text, read as the type asked for (serde_dynamo's rules: `any` tries `i64`, then
/// `u64`, then `f64`).
struct Number<'de>(&'de str);

macro_rules! parse {
    ($($method:ident => $visit:ident: $ty:ty,)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            let n: $ty = self.0.parse().map_err(|e| {
                DeError::Mismatch(format!("Failed to parse '{}' as a number: {e}", self.0))
            })?;
            visitor.$visit(n)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Number<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if let Ok(i) = self.0.parse::<i64>() {
            visitor.visit_i64(i)
        } else if let Ok(u) = self.0.parse::<u64>() {
            visitor.visit_u64(u)
        } else {
            self.deserialize_f64(visitor)
        }
    }

    parse! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
    }

    forward_to_deserialize_any! {
        str string seq map bool char unit enum bytes tuple option struct byte_buf identifier
        unit_struct tuple_struct newtype_struct ignored_any
    }
}

/// An element of a binary set.
struct Bytes<'de>(&'de [u8]);

impl<'de> de::Deserializer<'de> for Bytes<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_bytes(self.0)
    }

    forward_to_deserialize_any! {
        i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 str string seq map bool char unit enum bytes tuple
        option struct byte_buf identifier unit_struct tuple_struct newtype_struct ignored_any
    }
}

/// A map's key (an attribute name): a string, or parsed as the number or bool asked for.
struct Key<'de>(&'de str);

macro_rules! key_number {
    ($($method:ident => $visit:ident: $ty:ty,)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            let n: $ty = self.0.parse().map_err(|_| expected("num"))?;
            visitor.$visit(n)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Key<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_enum(str_de(self.0))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            _ => Err(expected("string")),
        }
    }

    key_number! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
    }

    forward_to_deserialize_any! {
        f32 f64 char str string bytes byte_buf option unit unit_struct seq tuple tuple_struct map
        struct identifier ignored_any
    }
}

#[cfg(test)]
#[path = "deserializer_tests.rs"]
mod tests;
