//! Items, keys and consumed capacity between the SDK's types and the crate's.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue as SdkValue, ConsumedCapacity};
use serde_dynamo::AttributeValue;

use crate::backend::PhysKey;
use crate::error::Error;
use crate::item::{Item, PK, SK};
use crate::usage::Capacity;

/// An SDK item.
pub(super) type SdkItem = HashMap<String, SdkValue>;

/// The crate's item as the SDK's.
pub(super) fn to_sdk_item(item: Item) -> SdkItem {
    item.into_iter().map(|(n, v)| (n, v.into())).collect()
}

/// The SDK's item as the crate's. A value of a type this SDK version does not know is an
/// internal error (serde_dynamo's own conversion would panic on it).
pub(super) fn from_sdk_item(item: SdkItem) -> Result<Item, Error> {
    item.into_iter()
        .map(|(n, v)| Ok((n, from_sdk_value(v)?)))
        .collect()
}

fn from_sdk_value(value: SdkValue) -> Result<AttributeValue, Error> {
    Ok(match value {
        SdkValue::S(s) => AttributeValue::S(s),
        SdkValue::N(n) => AttributeValue::N(n),
        SdkValue::B(b) => AttributeValue::B(b.into_inner()),
        SdkValue::Bool(b) => AttributeValue::Bool(b),
        SdkValue::Null(n) => AttributeValue::Null(n),
        SdkValue::Ss(ss) => AttributeValue::Ss(ss),
        SdkValue::Ns(ns) => AttributeValue::Ns(ns),
        SdkValue::Bs(bs) => AttributeValue::Bs(bs.into_iter().map(|b| b.into_inner()).collect()),
        SdkValue::L(l) => AttributeValue::L(
            l.into_iter()
                .map(from_sdk_value)
                .collect::<Result<_, _>>()?,
        ),
        SdkValue::M(m) => AttributeValue::M(from_sdk_item(m)?),
        _ => {
            return Err(Error::internal(
                "DynamoDB returned an unknown attribute type",
            ));
        }
    })
}

/// A primary key as the SDK's key map.
pub(super) fn to_sdk_key(key: &PhysKey) -> SdkItem {
    HashMap::from([
        (PK.to_owned(), SdkValue::S(key.pk.clone())),
        (SK.to_owned(), SdkValue::S(key.sk.clone())),
    ])
}

/// The primary key of an SDK item or key map.
pub(super) fn from_sdk_key(key: &SdkItem) -> Result<PhysKey, Error> {
    match (key.get(PK), key.get(SK)) {
        (Some(SdkValue::S(pk)), Some(SdkValue::S(sk))) => Ok(PhysKey {
            pk: pk.clone(),
            sk: sk.clone(),
        }),
        _ => Err(Error::internal(
            "DynamoDB returned a key without string _pk and _sk",
        )),
    }
}

/// The `_pk` of an item, if it has a string one.
pub(super) fn pk_of(item: &Item) -> Option<&str> {
    match item.get(PK) {
        Some(AttributeValue::S(pk)) => Some(pk),
        _ => None,
    }
}

/// Whom DynamoDB's plain `CapacityUnits` are charged to when it does not split them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Charge {
    Read,
    Write,
}

/// One `ConsumedCapacity` as read and write units: the split figures when DynamoDB gives them,
/// else `CapacityUnits` charged as `charge`; zeros when absent.
pub(super) fn capacity(consumed: Option<&ConsumedCapacity>, charge: Charge) -> Capacity {
    let Some(c) = consumed else {
        return Capacity::default();
    };
    match (c.read_capacity_units, c.write_capacity_units) {
        (None, None) => {
            let units = c.capacity_units.unwrap_or(0.0);
            match charge {
                Charge::Read => Capacity::new(units, 0.0),
                Charge::Write => Capacity::new(0.0, units),
            }
        }
        (read, write) => Capacity::new(read.unwrap_or(0.0), write.unwrap_or(0.0)),
    }
}

/// The sum of a batch call's `ConsumedCapacity` list.
pub(super) fn total(consumed: &[ConsumedCapacity], charge: Charge) -> Capacity {
    consumed.iter().fold(Capacity::default(), |sum, c| {
        sum + capacity(Some(c), charge)
    })
}

/// One capacity per action of a transaction on `tables` (one entry per action): DynamoDB
/// reports totals per table, spread evenly over that table's actions. A table the actions do
/// not name is charged to the first action, so nothing is lost.
pub(super) fn per_action(consumed: &[ConsumedCapacity], tables: &[&str]) -> Vec<Capacity> {
    let mut out = vec![Capacity::default(); tables.len()];
    for c in consumed {
        let total = capacity(Some(c), Charge::Write);
        let name = c.table_name.as_deref().unwrap_or_default();
        let mine: Vec<usize> = (0..tables.len()).filter(|&i| tables[i] == name).collect();
        if mine.is_empty() {
            if let Some(first) = out.first_mut() {
                *first += total;
            }
            continue;
        }
        let share = 1.0 / mine.len() as f64;
        for i in mine {
            out[i] += Capacity::new(total.read_units * share, total.write_units * share);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_attribute_type_round_trips() {
        let item: Item = HashMap::from([
            ("s".to_owned(), AttributeValue::S("ü ✓".into())),
            ("n".to_owned(), AttributeValue::N("-1.5e3".into())),
            ("b".to_owned(), AttributeValue::B(vec![0, 255])),
            ("t".to_owned(), AttributeValue::Bool(true)),
            ("z".to_owned(), AttributeValue::Null(true)),
            (
                "ss".to_owned(),
                AttributeValue::Ss(vec!["a".into(), "b".into()]),
            ),
            (
                "ns".to_owned(),
                AttributeValue::Ns(vec!["1".into(), "2".into()]),
            ),
            ("bs".to_owned(), AttributeValue::Bs(vec![vec![1], vec![2]])),
            (
                "l".to_owned(),
                AttributeValue::L(vec![
                    AttributeValue::N("1".into()),
                    AttributeValue::S("x".into()),
                ]),
            ),
            (
                "m".to_owned(),
                AttributeValue::M(HashMap::from([(
                    "inner".to_owned(),
                    AttributeValue::L(vec![AttributeValue::Bool(false)]),
                )])),
            ),
        ]);
        assert_eq!(from_sdk_item(to_sdk_item(item.clone())).unwrap(), item);
    }

    #[test]
    fn keys() {
        let key = PhysKey {
            pk: "t#p".into(),
            sk: "s".into(),
        };
        assert_eq!(from_sdk_key(&to_sdk_key(&key)).unwrap(), key);
        assert!(from_sdk_key(&HashMap::new()).is_err());
    }

    fn consumed(table: &str, units: f64) -> ConsumedCapacity {
        ConsumedCapacity::builder()
            .table_name(table)
            .capacity_units(units)
            .build()
    }

    #[test]
    fn capacities() {
        assert_eq!(capacity(None, Charge::Read), Capacity::default());
        let c = consumed("t", 2.0);
        assert_eq!(capacity(Some(&c), Charge::Read), Capacity::new(2.0, 0.0));
        assert_eq!(capacity(Some(&c), Charge::Write), Capacity::new(0.0, 2.0));
        let split = ConsumedCapacity::builder()
            .capacity_units(3.0)
            .read_capacity_units(1.0)
            .write_capacity_units(2.0)
            .build();
        assert_eq!(
            capacity(Some(&split), Charge::Read),
            Capacity::new(1.0, 2.0)
        );
        assert_eq!(
            total(&[consumed("a", 1.0), consumed("b", 0.5)], Charge::Read),
            Capacity::new(1.5, 0.0)
        );
    }

    #[test]
    fn transaction_capacity_is_spread_per_table() {
        let out = per_action(
            &[consumed("a", 6.0), consumed("b", 2.0)],
            &["a", "b", "a", "a"],
        );
        assert_eq!(
            out,
            vec![
                Capacity::new(0.0, 2.0),
                Capacity::new(0.0, 2.0),
                Capacity::new(0.0, 2.0),
                Capacity::new(0.0, 2.0)
            ]
        );
        let out = per_action(&[consumed("elsewhere", 1.0)], &["a", "b"]);
        assert_eq!(out, vec![Capacity::new(0.0, 1.0), Capacity::default()]);
        assert_eq!(per_action(&[], &["a"]), vec![Capacity::default()]);
    }
}
