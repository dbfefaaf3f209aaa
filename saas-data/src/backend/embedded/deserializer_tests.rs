//! The direct deserializer against serde_dynamo on the same attributes: the same value, or an
//! error from both.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;

use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_dynamo::AttributeValue;

use super::super::codec;
use super::super::encoded::EncodedItem;
use super::from_encoded;
use crate::item::{Item, PK, SK, TENANT, VERSION};

/// `attributes` stored with the crate's own attributes beside them, read back both ways.
fn both<T: DeserializeOwned>(attributes: &Item) -> (Result<T, String>, Result<T, String>) {
    let mut stored = attributes.clone();
    stored.insert(PK.into(), AttributeValue::S("list#todo".into()));
    stored.insert(SK.into(), AttributeValue::S("t/1".into()));
    stored.insert(TENANT.into(), AttributeValue::S("list".into()));
    stored.insert(VERSION.into(), AttributeValue::N("3".into()));
    stored.insert("_saas_extra".into(), AttributeValue::Null(false));
    let bytes = codec::encode(&stored);
    let encoded = EncodedItem::read(&bytes).unwrap();
    let direct = from_encoded::<T>(&encoded).map_err(|e| e.to_string());
    let dynamo = serde_dynamo::from_item::<_, T>(attributes.clone()).map_err(|e| e.to_string());
    (direct, dynamo)
}

/// `value` through serde_dynamo's serializer, stored, and read back as `T` both ways: equal
/// to each other and to `expected`.
fn round_trip<S: Serialize, T: DeserializeOwned + PartialEq + Debug>(value: &S, expected: &T) {
    let item: Item = serde_dynamo::to_item::<_, serde_dynamo::Item>(value)
        .unwrap()
        .into_inner();
    let (direct, dynamo) = both::<T>(&item);
    assert_eq!(dynamo.as_ref(), Ok(expected), "serde_dynamo");
    assert_eq!(direct.as_ref(), Ok(expected), "direct");
}

/// Both paths refuse `attributes` as a `T`.
fn both_refuse<T: DeserializeOwned + Debug>(attributes: &Item) {
    let (direct, dynamo) = both::<T>(attributes);
    assert!(dynamo.is_err(), "serde_dynamo took it: {dynamo:?}");
    assert!(direct.is_err(), "direct took it: {direct:?}");
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Dot,
    Circle(f64),
    Rect { w: u32, h: u32 },
    Pair(i8, String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Inner {
    label: String,
    weights: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Unit;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Meters(u16);

/// Binary data, as serde's bytes (a DynamoDB `B`).
#[derive(Debug, Clone, PartialEq)]
struct Blob(Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Blob;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Blob, E> {
                Ok(Blob(v.to_vec()))
            }
        }
        d.deserialize_byte_buf(Visit)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Loose {
    Number(i64),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Everything {
    title: String,
    done: bool,
    small: u8,
    negative: i64,
    huge: u64,
    ratio: f64,
    letter: char,
    maybe: Option<String>,
    nothing: Option<u32>,
    tags: Vec<String>,
    counts: HashMap<String, u32>,
    by_number: BTreeMap<u32, String>,
    by_flag: BTreeMap<bool, u8>,
    inner: Inner,
    shapes: Vec<Shape>,
    pair: (u8, String, bool),
    unit: Unit,
    meters: Meters,
    loose: Vec<Loose>,
    blob: Blob,
    #[serde(with = "serde_dynamo::string_set")]
    set: BTreeSet<String>,
    #[serde(with = "serde_dynamo::number_set")]
    numbers: BTreeSet<u64>,
    any: serde_json::Value,
    #[serde(flatten)]
    rest: HashMap<String, serde_json::Value>,
}

fn everything() -> Everything {
    Everything {
        title: "ünïcode \"quoted\" ✓".into(),
        done: true,
        small: 255,
        negative: i64::MIN,
        huge: u64::MAX,
        ratio: -1.5e-300,
        letter: 'ß',
        maybe: Some(String::new()),
        nothing: None,
        tags: vec!["a".into(), String::new(), "c".into()],
        counts: HashMap::from([("x".into(), 1), ("y".into(), 0)]),
        by_number: BTreeMap::from([(7, "seven".into()), (0, "zero".into())]),
        by_flag: BTreeMap::from([(true, 1), (false, 0)]),
        inner: Inner {
            label: "in".into(),
            weights: vec![0.5, -0.25],
        },
        shapes: vec![
            Shape::Dot,
            Shape::Circle(2.5),
            Shape::Rect { w: 3, h: 4 },
            Shape::Pair(-1, "p".into()),
        ],
        pair: (9, "nine".into(), false),
        unit: Unit,
        meters: Meters(1200),
        loose: vec![Loose::Number(-3), Loose::Text("t".into())],
        blob: Blob(vec![0, 255, 7]),
        set: BTreeSet::from(["b".into(), "a".into()]),
        numbers: BTreeSet::from([3, 1, u64::MAX]),
        any: serde_json::json!({"k": [1, -2, 2.5, "s", true, null, {"n": {}}]}),
        rest: HashMap::from([("extra".into(), serde_json::json!("kept"))]),
    }
}

#[test]
fn every_serde_shape_reads_as_serde_dynamo_reads_it() {
    let value = everything();
    round_trip(&value, &value);
    // A struct that takes a subset: the others are skipped, whatever they hold.
    #[derive(Debug, PartialEq, Deserialize)]
    struct Few {
        title: String,
        shapes: Vec<Shape>,
        unit: Unit,
    }
    round_trip(
        &value,
        &Few {
            title: value.title.clone(),
            shapes: value.shapes.clone(),
            unit: Unit,
        },
    );
    // The whole item (but its binary attribute, which JSON has no type for) as a map of JSON
    // values: `deserialize_any` throughout.
    let mut item: Item = serde_dynamo::to_item::<_, serde_dynamo::Item>(&value)
        .unwrap()
        .into_inner();
    item.remove("blob");
    let (direct, dynamo) = both::<HashMap<String, serde_json::Value>>(&item);
    assert_eq!(direct.as_ref().map(HashMap::len), Ok(item.len()));
    assert_eq!(direct, dynamo);
    // A tuple shorter than the list: the rest of the list is skipped.
    #[derive(Debug, PartialEq, Deserialize)]
    struct Short {
        tags: (String,),
        title: String,
    }
    round_trip(
        &value,
        &Short {
            tags: ("a".into(),),
            title: value.title.clone(),
        },
    );
}

#[test]
fn reserved_attributes_never_reach_the_value() {
    #[derive(Debug, PartialEq, Deserialize)]
    struct Sees {
        #[serde(default)]
        _tenant: Option<String>,
        #[serde(default)]
        _sk: Option<String>,
        title: String,
    }
    let mut item = Item::new();
    item.insert("title".into(), AttributeValue::S("t".into()));
    let (direct, _) = both::<Sees>(&item);
    assert_eq!(
        direct,
        Ok(Sees {
            _tenant: None,
            _sk: None,
            title: "t".into()
        })
    );
    // `deny_unknown_fields` does not see them either.
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Strict {
        title: String,
    }
    let (direct, dynamo) = both::<Strict>(&item);
    assert_eq!(direct, Ok(Strict { title: "t".into() }));
    assert_eq!(dynamo, Ok(Strict { title: "t".into() }));
    // An item that is one enum variant once the reserved attributes are skipped.
    let mut variant = Item::new();
    variant.insert("Circle".into(), AttributeValue::N("1.5".into()));
    let (direct, dynamo) = both::<Shape>(&variant);
    assert_eq!(direct, Ok(Shape::Circle(1.5)));
    assert_eq!(dynamo, Ok(Shape::Circle(1.5)));
}

#[test]
fn mismatches_are_errors_on_both_paths() {
    let s = |v: &str| AttributeValue::S(v.into());
    let n = |v: &str| AttributeValue::N(v.into());
    let one = |name: &str, value: AttributeValue| Item::from([(name.to_owned(), value)]);
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Title {
        title: String,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Small {
        small: u8,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Letter {
        letter: char,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Nothing {
        nothing: Option<()>,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Shaped {
        shape: Shape,
    }
    both_refuse::<Title>(&Item::new());
    both_refuse::<Title>(&one("title", n("1")));
    both_refuse::<Title>(&one("title", AttributeValue::Null(true)));
    both_refuse::<Small>(&one("small", n("256")));
    both_refuse::<Small>(&one("small", n("1.5")));
    both_refuse::<Small>(&one("small", s("1")));
    both_refuse::<Letter>(&one("letter", s("ab")));
    both_refuse::<Letter>(&one("letter", s("")));
    both_refuse::<Nothing>(&one("nothing", AttributeValue::Null(false)));
    both_refuse::<Shaped>(&one("shape", s("Square")));
    both_refuse::<Shaped>(&one("shape", AttributeValue::M(HashMap::new())));
    both_refuse::<Shaped>(&one(
        "shape",
        AttributeValue::M(HashMap::from([
            ("Dot".into(), AttributeValue::Null(true)),
            ("Circle".into(), n("1")),
        ])),
    ));
    both_refuse::<Vec<u8>>(&Item::new());
    both_refuse::<String>(&Item::new());
    both_refuse::<serde_json::Value>(&one("x", AttributeValue::Null(false)));
    both_refuse::<serde_json::Value>(&one("x", AttributeValue::B(vec![1])));
    both_refuse::<serde_json::Value>(&one("x", n("not a number")));
}

/// Number texts DynamoDB may hold: integers past 64 bits, decimals, exponents.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (-1.0e12f64..1.0e12).prop_map(|f| f.to_string()),
        "-?[1-9][0-9]{0,37}(\\.[0-9]{1,8})?(E[+-]?[0-9]{1,2})?",
    ]
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z_ü✓ ]{1,12}"
}

fn attribute() -> impl Strategy<Value = AttributeValue> {
    // Binary values are rare: JSON has no type for them, so they make both paths refuse.
    let leaf = prop_oneof![
        4 => ".{0,20}".prop_map(AttributeValue::S),
        4 => number().prop_map(AttributeValue::N),
        4 => any::<bool>().prop_map(AttributeValue::Bool),
        4 => Just(AttributeValue::Null(true)),
        1 => prop::collection::vec(any::<u8>(), 0..8).prop_map(AttributeValue::B),
        4 => prop::collection::btree_set(".{0,6}", 1..4)
            .prop_map(|s| AttributeValue::Ss(s.into_iter().collect())),
        4 => prop::collection::btree_set(number(), 1..4)
            .prop_map(|s| AttributeValue::Ns(s.into_iter().collect())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(AttributeValue::L),
            prop::collection::hash_map(name(), inner, 0..6).prop_map(AttributeValue::M),
        ]
    })
}

proptest! {
    /// Any item, read as a JSON value (every value through `deserialize_any`) and as a map of
    /// JSON values: what serde_dynamo gives, or an error where it gives one.
    #[test]
    fn any_item_reads_as_serde_dynamo_reads_it(
        item in prop::collection::hash_map(name(), attribute(), 0..8)
    ) {
        let item: Item = item.into_iter().filter(|(n, _)| !n.starts_with('_')).collect();
        let (direct, dynamo) = both::<serde_json::Value>(&item);
        prop_assert_eq!(direct.is_ok(), dynamo.is_ok(), "{:?} vs {:?}", direct, dynamo);
        prop_assert_eq!(direct.ok(), dynamo.ok());
        let (direct, dynamo) = both::<BTreeMap<String, serde_json::Value>>(&item);
        prop_assert_eq!(direct.is_ok(), dynamo.is_ok());
        prop_assert_eq!(direct.ok(), dynamo.ok());
    }
}

#[test]
fn invalid_text_is_corrupt_where_it_is_read() {
    use super::super::codec::{FORMAT, TAG_S};
    use super::DeError;
    // One attribute `t`, a string of one byte that is not UTF-8.
    let bytes = [FORMAT, 1, 1, b't', TAG_S, 1, 0xff];
    let item = EncodedItem::read(&bytes).unwrap();
    let read = from_encoded::<HashMap<String, String>>(&item);
    assert!(matches!(read, Err(DeError::Corrupt(_))), "{read:?}");
    assert!(item.to_item().is_err());
    // A field a type ignores is still read (as serde_dynamo reads it), so checked too.
    #[derive(Debug, PartialEq, Deserialize)]
    struct Nothing {}
    assert!(matches!(
        from_encoded::<Nothing>(&item),
        Err(DeError::Corrupt(_))
    ));
}
