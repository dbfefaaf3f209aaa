//! DynamoDB's rules, applied locally: conditions on a stored item, update actions, and what an
//! item may hold.

use std::cmp::Ordering;

use serde_dynamo::AttributeValue;

use super::codec::MAX_DEPTH;
use super::number::Decimal;
use crate::error::Error;
use crate::expr::{CmpOp, Cond, UpdateAction};
use crate::item::{Item, PK, SK};

/// Refuses a condition DynamoDB would refuse before reading anything: a construction error, an
/// operand that is not a number where a number is given, or an ordering on a type that has none.
pub(super) fn check_condition(cond: &Cond) -> Result<(), Error> {
    match cond {
        Cond::Invalid(msg) => Err(Error::InvalidRequest(msg.clone())),
        Cond::Compare(_, op, value) => {
            check_value(value, 0).map_err(Error::InvalidRequest)?;
            let ordered = matches!(
                value,
                AttributeValue::N(_) | AttributeValue::S(_) | AttributeValue::B(_)
            );
            if !ordered && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                return Err(Error::invalid_request(format!(
                    "operator {} takes a number, string or binary operand",
                    op.symbol()
                )));
            }
            Ok(())
        }
        Cond::And(all) | Cond::Or(all) => all.iter().try_for_each(check_condition),
        Cond::Not(inner) => check_condition(inner),
        Cond::Exists(_) | Cond::NotExists(_) | Cond::BeginsWith(..) => Ok(()),
    }
}

/// Whether `cond` holds on `item` (an absent item is an empty one). Call [`check_condition`]
/// first: an unchecked `Invalid` node does not hold.
pub(super) fn holds(cond: &Cond, item: &Item) -> bool {
    match cond {
        Cond::Compare(name, op, operand) => match item.get(name) {
            None => *op == CmpOp::Ne,
            Some(value) => match op {
                CmpOp::Eq => equal(value, operand),
                CmpOp::Ne => !equal(value, operand),
                CmpOp::Lt => order(value, operand) == Some(Ordering::Less),
                CmpOp::Le => order(value, operand).is_some_and(Ordering::is_le),
                CmpOp::Gt => order(value, operand) == Some(Ordering::Greater),
                CmpOp::Ge => order(value, operand).is_some_and(Ordering::is_ge),
            },
        },
        Cond::Exists(name) => item.contains_key(name),
        Cond::NotExists(name) => !item.contains_key(name),
        Cond::BeginsWith(name, prefix) => {
            matches!(item.get(name), Some(AttributeValue::S(s)) if s.starts_with(prefix.as_str()))
        }
        Cond::And(all) => all.iter().all(|c| holds(c, item)),
        Cond::Or(any) => any.iter().any(|c| holds(c, item)),
        Cond::Not(inner) => !holds(inner, item),
        Cond::Invalid(_) => false,
    }
}

/// DynamoDB's `<`: numbers numerically, strings and binaries byte-wise, nothing else.
fn order(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    match (a, b) {
        (AttributeValue::N(x), AttributeValue::N(y)) => {
            Some(Decimal::parse(x)?.cmp(&Decimal::parse(y)?))
        }
        (AttributeValue::S(x), AttributeValue::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (AttributeValue::B(x), AttributeValue::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// DynamoDB's `=`: same type and same value, numbers numerically, sets in any order.
fn equal(a: &AttributeValue, b: &AttributeValue) -> bool {
    use AttributeValue as V;
    match (a, b) {
        (V::N(x), V::N(y)) => numbers_equal(x, y),
        (V::S(x), V::S(y)) => x == y,
        (V::B(x), V::B(y)) => x == y,
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::Null(_), V::Null(_)) => true,
        (V::L(x), V::L(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b)),
        (V::M(x), V::M(y)) => {
            x.len() == y.len() && x.iter().all(|(k, a)| y.get(k).is_some_and(|b| equal(a, b)))
        }
        (V::Ss(x), V::Ss(y)) => same_set(x, y),
        (V::Bs(x), V::Bs(y)) => same_set(x, y),
        (V::Ns(x), V::Ns(y)) => {
            let parse = |ns: &[String]| {
                ns.iter()
                    .map(|n| Decimal::parse(n))
                    .collect::<Option<Vec<_>>>()
            };
            match (parse(x), parse(y)) {
                (Some(x), Some(y)) => same_set(&x, &y),
                _ => same_set(x, y),
            }
        }
        _ => false,
    }
}

fn numbers_equal(x: &str, y: &str) -> bool {
    match (Decimal::parse(x), Decimal::parse(y)) {
        (Some(x), Some(y)) => x == y,
        _ => x == y,
    }
}

fn same_set<T: Ord + Clone>(x: &[T], y: &[T]) -> bool {
    let sorted = |s: &[T]| {
        let mut v = s.to_vec();
        v.sort_unstable();
        v.dedup();
        v
    };
    sorted(x) == sorted(y)
}

/// Applies update actions to `item`, as `UpdateItem` does. The key attributes cannot be changed,
/// nor one attribute twice; `Add` takes a number and adds it to a number (0 when missing).
pub(super) fn apply(item: &mut Item, actions: &[UpdateAction]) -> Result<(), Error> {
    for (i, action) in actions.iter().enumerate() {
        let name = action.name();
        if name == PK || name == SK {
            return Err(Error::invalid_request(
                "an update cannot change a key attribute",
            ));
        }
        if actions
            .get(..i)
            .is_some_and(|before| before.iter().any(|a| a.name() == name))
        {
            return Err(Error::invalid_request(format!(
                "attribute {name:?} is changed twice in one update"
            )));
        }
        match action {
            UpdateAction::Set(name, value) => {
                item.insert(name.clone(), value.clone());
            }
            UpdateAction::Remove(name) => {
                item.remove(name);
            }
            UpdateAction::Add(name, by) => {
                let sum = add(item.get(name), by)?;
                item.insert(name.clone(), AttributeValue::N(sum));
            }
        }
    }
    Ok(())
}

/// `current + by`, exactly.
fn add(current: Option<&AttributeValue>, by: &AttributeValue) -> Result<String, Error> {
    let AttributeValue::N(by) = by else {
        return Err(Error::invalid_request("ADD takes a number"));
    };
    let by = Decimal::parse(by).ok_or_else(|| Error::invalid_request("ADD takes a number"))?;
    let current = match current {
        None => Decimal::parse("0"),
        Some(AttributeValue::N(n)) => Decimal::parse(n),
        Some(_) => None,
    }
    .ok_or_else(|| Error::invalid_request("ADD applies to a number attribute"))?;
    current
        .checked_add(&by)
        .filter(Decimal::is_storable)
        .map(|sum| sum.to_string())
        .ok_or_else(|| Error::invalid_request("number out of DynamoDB's range or precision"))
}

/// Refuses an item DynamoDB would refuse for its content: numbers it cannot store, empty or
/// repeated sets, containers nested deeper than 32 levels. (Keys and size are checked apart.)
pub(super) fn check_item(item: &Item) -> Result<(), Error> {
    item.values()
        .try_for_each(|v| check_value(v, 0))
        .map_err(Error::InvalidItem)
}

fn check_value(value: &AttributeValue, depth: usize) -> Result<(), String> {
    use AttributeValue as V;
    let number = |n: &str| match Decimal::parse(n) {
        Some(d) if d.is_storable() => Ok(()),
        Some(_) => Err("number out of DynamoDB's range or precision (38 digits)".to_owned()),
        None => Err("a number attribute is not a number".to_owned()),
    };
    let nested = || {
        if depth >= MAX_DEPTH {
            Err(format!("containers nested deeper than {MAX_DEPTH} levels"))
        } else {
            Ok(depth + 1)
        }
    };
    match value {
        V::N(n) => number(n),
        V::S(_) | V::B(_) | V::Bool(_) | V::Null(_) => Ok(()),
        V::L(l) => {
            let depth = nested()?;
            l.iter().try_for_each(|v| check_value(v, depth))
        }
        V::M(m) => {
            let depth = nested()?;
            m.values().try_for_each(|v| check_value(v, depth))
        }
        V::Ss(ss) => check_set(ss),
        V::Bs(bs) => check_set(bs),
        V::Ns(ns) => {
            ns.iter().try_for_each(|n| number(n))?;
            let parsed: Vec<Decimal> = ns.iter().filter_map(|n| Decimal::parse(n)).collect();
            check_set(&parsed)
        }
    }
}

fn check_set<T: Ord>(set: &[T]) -> Result<(), String> {
    if set.is_empty() {
        return Err("a set is empty".to_owned());
    }
    let mut sorted: Vec<&T> = set.iter().collect();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w.first() == w.get(1)) {
        return Err("a set holds a value twice".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> AttributeValue {
        AttributeValue::N(s.to_owned())
    }

    fn s(s: &str) -> AttributeValue {
        AttributeValue::S(s.to_owned())
    }

    fn item(attrs: &[(&str, AttributeValue)]) -> Item {
        attrs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn cmp(name: &str, op: CmpOp, v: AttributeValue) -> Cond {
        Cond::Compare(name.to_owned(), op, v)
    }

    #[test]
    fn numbers_compare_numerically() {
        let it = item(&[
            ("a", n("10")),
            ("b", n("-1")),
            ("c", n("1e3")),
            ("d", n("1E-2")),
        ]);
        assert!(holds(&cmp("a", CmpOp::Gt, n("9")), &it));
        assert!(!holds(&cmp("a", CmpOp::Lt, n("9")), &it));
        assert!(holds(&cmp("b", CmpOp::Lt, n("0.5")), &it));
        assert!(holds(&cmp("b", CmpOp::Le, n("-1.0")), &it));
        assert!(holds(&cmp("c", CmpOp::Eq, n("1000")), &it));
        assert!(!holds(&cmp("c", CmpOp::Ne, n("1000")), &it));
        assert!(holds(&cmp("c", CmpOp::Ge, n("1000")), &it));
        assert!(holds(&cmp("d", CmpOp::Eq, n("0.01")), &it));
        assert!(holds(&cmp("d", CmpOp::Gt, n("-0.5")), &it));
    }

    #[test]
    fn strings_and_binaries_compare_bytewise() {
        let it = item(&[
            ("s", s("b")),
            ("u", s("é")),
            ("bin", AttributeValue::B(vec![1, 200])),
        ]);
        assert!(holds(&cmp("s", CmpOp::Gt, s("a")), &it));
        assert!(holds(&cmp("s", CmpOp::Lt, s("ba")), &it));
        assert!(holds(&cmp("s", CmpOp::Lt, s("B")).not_(), &it));
        assert!(holds(&cmp("u", CmpOp::Gt, s("z")), &it));
        assert!(holds(
            &cmp("bin", CmpOp::Gt, AttributeValue::B(vec![1, 199, 255])),
            &it
        ));
    }

    trait Negate {
        fn not_(self) -> Cond;
    }

    impl Negate for Cond {
        fn not_(self) -> Cond {
            Cond::Not(Box::new(self))
        }
    }

    #[test]
    fn other_types_and_missing_attributes() {
        let it = item(&[("s", s("10")), ("n", n("10"))]);
        // Different types: never <, >, =; always <>.
        for op in [CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge, CmpOp::Eq] {
            assert!(!holds(&cmp("s", op, n("10")), &it), "{op:?}");
            assert!(!holds(&cmp("n", op, s("10")), &it), "{op:?}");
            assert!(!holds(&cmp("missing", op, n("1")), &it), "{op:?}");
        }
        assert!(holds(&cmp("s", CmpOp::Ne, n("10")), &it));
        assert!(holds(&cmp("missing", CmpOp::Ne, n("1")), &it));
        assert!(holds(&cmp("missing", CmpOp::Ne, n("1")), &Item::new()));
    }

    #[test]
    fn deep_equality_with_sets_in_any_order() {
        let mut m = Item::new();
        m.insert("x".into(), n("1.0"));
        let it = item(&[
            ("ss", AttributeValue::Ss(vec!["a".into(), "b".into()])),
            ("ns", AttributeValue::Ns(vec!["1".into(), "20".into()])),
            ("bs", AttributeValue::Bs(vec![vec![2], vec![1]])),
            ("l", AttributeValue::L(vec![s("a"), n("2")])),
            ("m", AttributeValue::M(m.clone())),
            ("t", AttributeValue::Bool(true)),
            ("z", AttributeValue::Null(true)),
        ]);
        let eq = |name: &str, v: AttributeValue| holds(&cmp(name, CmpOp::Eq, v), &it);
        assert!(eq("ss", AttributeValue::Ss(vec!["b".into(), "a".into()])));
        assert!(!eq("ss", AttributeValue::Ss(vec!["a".into()])));
        assert!(eq(
            "ns",
            AttributeValue::Ns(vec!["2e1".into(), "1.00".into()])
        ));
        assert!(eq("bs", AttributeValue::Bs(vec![vec![1], vec![2]])));
        assert!(eq("l", AttributeValue::L(vec![s("a"), n("2.0")])));
        assert!(!eq("l", AttributeValue::L(vec![n("2"), s("a")])));
        let mut m1 = Item::new();
        m1.insert("x".into(), n("1"));
        assert!(eq("m", AttributeValue::M(m1.clone())));
        m1.insert("y".into(), n("1"));
        assert!(!eq("m", AttributeValue::M(m1)));
        assert!(eq("t", AttributeValue::Bool(true)));
        assert!(!eq("t", AttributeValue::Bool(false)));
        assert!(eq("z", AttributeValue::Null(true)));
        assert!(!eq("ss", AttributeValue::L(vec![s("a"), s("b")])));
    }

    #[test]
    fn exists_begins_with_and_logic() {
        let it = item(&[("s", s("tmp-1")), ("n", n("5"))]);
        let yes = Cond::Exists("s".into());
        let no = Cond::Exists("x".into());
        assert!(holds(&yes, &it));
        assert!(!holds(&no, &it));
        assert!(holds(&Cond::NotExists("x".into()), &it));
        assert!(!holds(&Cond::NotExists("s".into()), &it));
        assert!(holds(&Cond::NotExists("s".into()), &Item::new()));
        assert!(holds(&Cond::BeginsWith("s".into(), "tmp-".into()), &it));
        assert!(holds(&Cond::BeginsWith("s".into(), String::new()), &it));
        assert!(!holds(&Cond::BeginsWith("s".into(), "tmp-2".into()), &it));
        assert!(!holds(&Cond::BeginsWith("n".into(), "5".into()), &it));
        assert!(!holds(&Cond::BeginsWith("x".into(), String::new()), &it));
        assert!(holds(&Cond::And(vec![yes.clone(), yes.clone()]), &it));
        assert!(!holds(&Cond::And(vec![yes.clone(), no.clone()]), &it));
        assert!(holds(&Cond::Or(vec![no.clone(), yes.clone()]), &it));
        assert!(!holds(&Cond::Or(vec![no.clone(), no.clone()]), &it));
        assert!(holds(&no.clone().not_(), &it));
        assert!(!holds(&yes.not_(), &it));
    }

    #[test]
    fn invalid_conditions_are_refused() {
        assert!(matches!(
            check_condition(&Cond::And(vec![
                Cond::Exists("a".into()),
                Cond::Invalid("bad".into())
            ])),
            Err(Error::InvalidRequest(_))
        ));
        assert!(check_condition(&cmp("a", CmpOp::Lt, AttributeValue::Bool(true))).is_err());
        assert!(check_condition(&cmp("a", CmpOp::Eq, n("x1"))).is_err());
        assert!(check_condition(&cmp("a", CmpOp::Eq, AttributeValue::Bool(true))).is_ok());
        assert!(check_condition(&cmp("a", CmpOp::Ge, s("x"))).is_ok());
    }

    #[test]
    fn updates_set_remove_and_add() {
        let mut it = item(&[
            ("_pk", s("p")),
            ("_sk", s("s")),
            ("a", n("1")),
            ("gone", s("x")),
        ]);
        apply(
            &mut it,
            &[
                UpdateAction::Set("b".into(), s("new")),
                UpdateAction::Remove("gone".into()),
                UpdateAction::Add("a".into(), n("41")),
                UpdateAction::Add("fresh".into(), n("-2.5")),
            ],
        )
        .unwrap();
        assert_eq!(it.get("a"), Some(&n("42")));
        assert_eq!(it.get("fresh"), Some(&n("-2.5")));
        assert_eq!(it.get("b"), Some(&s("new")));
        assert!(!it.contains_key("gone"));
        let big = "9".repeat(37);
        let mut counter = item(&[("c", n(&big))]);
        apply(&mut counter, &[UpdateAction::Add("c".into(), n("1"))]).unwrap();
        assert_eq!(counter.get("c"), Some(&n(&format!("1{}", "0".repeat(37)))));
        for bad in [
            vec![UpdateAction::Add("b".into(), n("1"))],
            vec![UpdateAction::Add("a".into(), s("1"))],
            vec![UpdateAction::Set("_pk".into(), s("q"))],
            vec![UpdateAction::Remove("_sk".into())],
            vec![
                UpdateAction::Remove("a".into()),
                UpdateAction::Remove("a".into()),
            ],
        ] {
            let err = apply(&mut it.clone(), &bad).unwrap_err();
            assert!(matches!(err, Error::InvalidRequest(_)), "{bad:?}: {err}");
        }
        // 38 nines + 1 is 1E+38 (one digit); + 0.1 would need 39 digits.
        let mut full = item(&[("c", n(&"9".repeat(38)))]);
        apply(&mut full, &[UpdateAction::Add("c".into(), n("1"))]).unwrap();
        assert_eq!(full.get("c"), Some(&n(&format!("1{}", "0".repeat(38)))));
        let mut full = item(&[("c", n(&"9".repeat(38)))]);
        assert!(apply(&mut full, &[UpdateAction::Add("c".into(), n("0.1"))]).is_err());
    }

    #[test]
    fn item_content_follows_dynamodb() {
        assert!(
            check_item(&item(&[
                ("n", n("1e125")),
                ("ss", AttributeValue::Ss(vec!["a".into()]))
            ]))
            .is_ok()
        );
        for bad in [
            n("abc"),
            n("1e126"),
            n(&"1".repeat(39)),
            AttributeValue::Ss(vec![]),
            AttributeValue::Ss(vec!["a".into(), "a".into()]),
            AttributeValue::Ns(vec!["1".into(), "1.0".into()]),
            AttributeValue::L(vec![n("x")]),
        ] {
            assert!(
                matches!(
                    check_item(&item(&[("a", bad.clone())])),
                    Err(Error::InvalidItem(_))
                ),
                "{bad:?}"
            );
        }
        let mut deep = AttributeValue::Bool(true);
        for _ in 0..MAX_DEPTH {
            deep = AttributeValue::L(vec![deep]);
        }
        assert!(check_item(&item(&[("a", deep.clone())])).is_ok());
        let deeper = AttributeValue::M(std::iter::once(("x".to_owned(), deep)).collect());
        assert!(check_item(&item(&[("a", deeper)])).is_err());
    }
}
