//! DynamoDB expressions rendered from the crate's conditions, updates and sort conditions.
//!
//! Every attribute name becomes a placeholder `#nK` and every value `:vK` (key conditions use
//! `#pk`, `#sk`, `:pk`, `:sk`, `:lo`, `:hi`): no user text is ever part of an expression, so
//! none can change its meaning or hit DynamoDB's reserved words.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue as SdkValue;

use crate::error::Error;
use serde_dynamo::AttributeValue as Av;

use crate::expr::{CmpOp, Cond, UpdateAction};
use crate::item::{PK, SK};
use crate::query::SortCondition;

/// `ExpressionAttributeNames`: placeholder to name.
pub(super) type Names = HashMap<String, String>;
/// `ExpressionAttributeValues`: placeholder to value.
pub(super) type Values = HashMap<String, SdkValue>;

/// The expressions of one write request and the placeholders they share.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Rendered {
    /// `UpdateExpression`.
    pub(super) update: Option<String>,
    /// `ConditionExpression`.
    pub(super) condition: Option<String>,
    /// `ExpressionAttributeNames` (`None` when empty: DynamoDB refuses an empty map).
    pub(super) names: Option<Names>,
    /// `ExpressionAttributeValues` (`None` when empty).
    pub(super) values: Option<Values>,
}

/// Renders an update (if any) and a condition (if any) with one set of placeholders.
pub(super) fn render(
    actions: Option<&[UpdateAction]>,
    condition: Option<&Cond>,
) -> Result<Rendered, Error> {
    let mut p = Placeholders::default();
    let update = actions.map(|a| p.update(a)).transpose()?;
    let condition = condition.map(|c| p.condition(c)).transpose()?;
    let (names, values) = p.into_maps();
    Ok(Rendered {
        update,
        condition,
        names,
        values,
    })
}

/// A query's `KeyConditionExpression` with its names and values.
#[derive(Debug, PartialEq)]
pub(super) struct KeyCondition {
    pub(super) expression: String,
    pub(super) names: Names,
    pub(super) values: Values,
}

/// `_pk = pk` and the sort condition on `_sk` (`All` and an empty prefix select every item).
pub(super) fn key_condition(pk: &str, sort: &SortCondition) -> KeyCondition {
    let mut names = HashMap::from([("#pk".to_owned(), PK.to_owned())]);
    let mut values = HashMap::from([(":pk".to_owned(), SdkValue::S(pk.to_owned()))]);
    let (sort_expr, bounds): (&str, Vec<(&str, &str)>) = match sort {
        SortCondition::All => ("", Vec::new()),
        SortCondition::BeginsWith(p) if p.is_empty() => ("", Vec::new()),
        SortCondition::Eq(v) => ("#sk = :sk", vec![(":sk", v)]),
        SortCondition::BeginsWith(p) => ("begins_with(#sk, :sk)", vec![(":sk", p)]),
        SortCondition::Between(lo, hi) => {
            ("#sk BETWEEN :lo AND :hi", vec![(":lo", lo), (":hi", hi)])
        }
        SortCondition::Lt(v) => ("#sk < :sk", vec![(":sk", v)]),
        SortCondition::Le(v) => ("#sk <= :sk", vec![(":sk", v)]),
        SortCondition::Gt(v) => ("#sk > :sk", vec![(":sk", v)]),
        SortCondition::Ge(v) => ("#sk >= :sk", vec![(":sk", v)]),
    };
    let mut expression = "#pk = :pk".to_owned();
    if !sort_expr.is_empty() {
        expression.push_str(" AND ");
        expression.push_str(sort_expr);
        names.insert("#sk".to_owned(), SK.to_owned());
        for (placeholder, value) in bounds {
            values.insert(placeholder.to_owned(), SdkValue::S(value.to_owned()));
        }
    }
    KeyCondition {
        expression,
        names,
        values,
    }
}

/// Hands out placeholders: one per distinct attribute name, one per value.
#[derive(Debug, Default)]
struct Placeholders {
    names: Vec<String>,
    values: Vec<SdkValue>,
}

impl Placeholders {
    fn name(&mut self, name: &str) -> String {
        let index = match self.names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.names.push(name.to_owned());
                self.names.len() - 1
            }
        };
        format!("#n{index}")
    }

    fn value(&mut self, value: SdkValue) -> String {
        self.values.push(value);
        format!(":v{}", self.values.len() - 1)
    }

    fn into_maps(self) -> (Option<Names>, Option<Values>) {
        let names: Names = self
            .names
            .into_iter()
            .enumerate()
            .map(|(i, n)| (format!("#n{i}"), n))
            .collect();
        let values: Values = self
            .values
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!(":v{i}"), v))
            .collect();
        (
            (!names.is_empty()).then_some(names),
            (!values.is_empty()).then_some(values),
        )
    }

    /// `SET a = :v, ... REMOVE b, ... ADD c :v, ...`, each clause in the actions' order.
    fn update(&mut self, actions: &[UpdateAction]) -> Result<String, Error> {
        if actions.is_empty() {
            return Err(Error::invalid_request("update changes nothing"));
        }
        let (mut set, mut remove, mut add) = (Vec::new(), Vec::new(), Vec::new());
        for action in actions {
            match action {
                UpdateAction::Set(name, value) => {
                    let n = self.name(name);
                    let v = self.value(value.clone().into());
                    set.push(format!("{n} = {v}"));
                }
                UpdateAction::Remove(name) => remove.push(self.name(name)),
                UpdateAction::Add(name, value) => {
                    let n = self.name(name);
                    let v = self.value(value.clone().into());
                    add.push(format!("{n} {v}"));
                }
            }
        }
        let clauses: Vec<String> = [("SET", set), ("REMOVE", remove), ("ADD", add)]
            .into_iter()
            .filter(|(_, parts)| !parts.is_empty())
            .map(|(keyword, parts)| format!("{keyword} {}", parts.join(", ")))
            .collect();
        Ok(clauses.join(" "))
    }

    /// A condition; `AND`/`OR`/`NOT` operands are parenthesised when composite.
    fn condition(&mut self, cond: &Cond) -> Result<String, Error> {
        Ok(match cond {
            Cond::Compare(name, op, value) => {
                let n = self.name(name);
                // DynamoDB's `<`, `<=`, `>`, `>=` are false between different types; saying so
                // with `attribute_type` changes nothing there and keeps stand-ins (moto) from
                // failing on a mixed-type comparison.
                let guard = match (op, value) {
                    (CmpOp::Eq | CmpOp::Ne, _) => None,
                    (_, Av::S(_)) => Some("S"),
                    (_, Av::N(_)) => Some("N"),
                    (_, Av::B(_)) => Some("B"),
                    _ => None,
                };
                let v = self.value(value.clone().into());
                let comparison = format!("{n} {} {v}", op.symbol());
                match guard {
                    Some(kind) => {
                        let t = self.value(SdkValue::S(kind.to_owned()));
                        format!("(attribute_type({n}, {t}) AND {comparison})")
                    }
                    None => comparison,
                }
            }
            Cond::Exists(name) => format!("attribute_exists({})", self.name(name)),
            Cond::NotExists(name) => format!("attribute_not_exists({})", self.name(name)),
            Cond::BeginsWith(name, prefix) => {
                let n = self.name(name);
                let v = self.value(SdkValue::S(prefix.clone()));
                format!("begins_with({n}, {v})")
            }
            // An empty conjunction always holds, an empty disjunction never does.
            Cond::And(all) if all.is_empty() => {
                let n = self.name(PK);
                format!("attribute_exists({n}) OR attribute_not_exists({n})")
            }
            Cond::Or(any) if any.is_empty() => {
                let n = self.name(PK);
                format!("attribute_exists({n}) AND attribute_not_exists({n})")
            }
            Cond::And(all) => self.join(all, " AND ")?,
            Cond::Or(any) => self.join(any, " OR ")?,
            Cond::Not(inner) => format!("NOT ({})", self.condition(inner)?),
            Cond::Invalid(msg) => return Err(Error::InvalidRequest(msg.clone())),
        })
    }

    fn join(&mut self, operands: &[Cond], separator: &str) -> Result<String, Error> {
        let parts = operands
            .iter()
            .map(|c| self.operand(c))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(parts.join(separator))
    }

    fn operand(&mut self, cond: &Cond) -> Result<String, Error> {
        let text = self.condition(cond)?;
        Ok(match cond {
            Cond::And(v) | Cond::Or(v) if v.len() != 1 => format!("({text})"),
            _ => text,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_dynamo::AttributeValue as Av;

    use super::*;
    use crate::expr::CmpOp;

    fn names(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn values(pairs: &[(&str, SdkValue)]) -> Option<HashMap<String, SdkValue>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    fn n(v: &str) -> SdkValue {
        SdkValue::N(v.to_owned())
    }

    fn s(v: &str) -> SdkValue {
        SdkValue::S(v.to_owned())
    }

    #[test]
    fn update_with_condition_shares_placeholders() {
        let actions = [
            UpdateAction::Set("done".into(), Av::Bool(true)),
            UpdateAction::Add("rank".into(), Av::N("5".into())),
            UpdateAction::Remove("note".into()),
            UpdateAction::Set("title".into(), Av::S("x".into())),
            UpdateAction::Add("_version".into(), Av::N("1".into())),
        ];
        let cond = Cond::And(vec![
            Cond::Exists("_pk".into()),
            Cond::Compare("_tenant".into(), CmpOp::Eq, Av::S("a".into())),
            Cond::Compare("_version".into(), CmpOp::Eq, Av::N("2".into())),
        ]);
        let r = render(Some(&actions), Some(&cond)).unwrap();
        assert_eq!(
            r.update.as_deref(),
            Some("SET #n0 = :v0, #n3 = :v2 REMOVE #n2 ADD #n1 :v1, #n4 :v3")
        );
        assert_eq!(
            r.condition.as_deref(),
            Some("attribute_exists(#n5) AND #n6 = :v4 AND #n4 = :v5")
        );
        assert_eq!(
            r.names,
            names(&[
                ("#n0", "done"),
                ("#n1", "rank"),
                ("#n2", "note"),
                ("#n3", "title"),
                ("#n4", "_version"),
                ("#n5", "_pk"),
                ("#n6", "_tenant"),
            ])
        );
        assert_eq!(
            r.values,
            values(&[
                (":v0", SdkValue::Bool(true)),
                (":v1", n("5")),
                (":v2", s("x")),
                (":v3", n("1")),
                (":v4", s("a")),
                (":v5", n("2")),
            ])
        );
    }

    #[test]
    fn every_condition_form() {
        let cases: Vec<(Cond, &str)> = vec![
            (
                Cond::Compare("a".into(), CmpOp::Ne, Av::N("1".into())),
                "#n0 <> :v0",
            ),
            (
                Cond::Compare("a".into(), CmpOp::Lt, Av::N("1".into())),
                "(attribute_type(#n0, :v1) AND #n0 < :v0)",
            ),
            (
                Cond::Compare("a".into(), CmpOp::Le, Av::N("1".into())),
                "(attribute_type(#n0, :v1) AND #n0 <= :v0)",
            ),
            (
                Cond::Compare("a".into(), CmpOp::Gt, Av::N("1".into())),
                "(attribute_type(#n0, :v1) AND #n0 > :v0)",
            ),
            (
                Cond::Compare("a".into(), CmpOp::Ge, Av::N("1".into())),
                "(attribute_type(#n0, :v1) AND #n0 >= :v0)",
            ),
            (Cond::NotExists("a".into()), "attribute_not_exists(#n0)"),
            (
                Cond::BeginsWith("a".into(), "x) OR (1".into()),
                "begins_with(#n0, :v0)",
            ),
            (
                Cond::Not(Box::new(Cond::Exists("a".into()))),
                "NOT (attribute_exists(#n0))",
            ),
            (
                Cond::Or(vec![
                    Cond::NotExists("a".into()),
                    Cond::And(vec![Cond::Exists("b".into()), Cond::Exists("a".into())]),
                ]),
                "attribute_not_exists(#n0) OR (attribute_exists(#n1) AND attribute_exists(#n0))",
            ),
            (
                Cond::Not(Box::new(Cond::Or(vec![
                    Cond::Exists("a".into()),
                    Cond::Exists("b".into()),
                ]))),
                "NOT (attribute_exists(#n0) OR attribute_exists(#n1))",
            ),
            (
                Cond::And(vec![Cond::Or(vec![Cond::Exists("a".into())])]),
                "attribute_exists(#n0)",
            ),
            (
                Cond::And(vec![]),
                "attribute_exists(#n0) OR attribute_not_exists(#n0)",
            ),
            (
                Cond::And(vec![Cond::Exists("a".into()), Cond::Or(vec![])]),
                "attribute_exists(#n0) AND (attribute_exists(#n1) AND attribute_not_exists(#n1))",
            ),
        ];
        for (cond, expected) in cases {
            let r = render(None, Some(&cond)).unwrap();
            assert_eq!(r.condition.as_deref(), Some(expected), "{cond:?}");
            assert_eq!(r.update, None);
        }
    }

    #[test]
    fn user_text_never_reaches_the_expression() {
        let cond = Cond::Compare(
            "size) OR attribute_exists(#x".into(),
            CmpOp::Eq,
            Av::S(":v0 OR true".into()),
        );
        let r = render(None, Some(&cond)).unwrap();
        assert_eq!(r.condition.as_deref(), Some("#n0 = :v0"));
        assert_eq!(r.names, names(&[("#n0", "size) OR attribute_exists(#x")]));
        assert_eq!(r.values, values(&[(":v0", s(":v0 OR true"))]));
    }

    #[test]
    fn empty_maps_are_omitted_and_bad_input_refused() {
        assert_eq!(render(None, None).unwrap(), Rendered::default());
        let r = render(None, Some(&Cond::Exists("a".into()))).unwrap();
        assert!(r.names.is_some() && r.values.is_none());
        assert!(matches!(
            render(Some(&[]), None),
            Err(Error::InvalidRequest(_))
        ));
        let bad = Cond::And(vec![
            Cond::Exists("a".into()),
            Cond::Invalid("bad name".into()),
        ]);
        assert!(matches!(
            render(None, Some(&bad)),
            Err(Error::InvalidRequest(m)) if m == "bad name"
        ));
    }

    #[test]
    fn key_conditions() {
        let cases = [
            (SortCondition::All, "#pk = :pk", vec![]),
            (
                SortCondition::BeginsWith(String::new()),
                "#pk = :pk",
                vec![],
            ),
            (
                SortCondition::Eq("a".into()),
                "#pk = :pk AND #sk = :sk",
                vec![(":sk", "a")],
            ),
            (
                SortCondition::BeginsWith("T#".into()),
                "#pk = :pk AND begins_with(#sk, :sk)",
                vec![(":sk", "T#")],
            ),
            (
                SortCondition::Between("a".into(), "b".into()),
                "#pk = :pk AND #sk BETWEEN :lo AND :hi",
                vec![(":lo", "a"), (":hi", "b")],
            ),
            (
                SortCondition::Lt("a".into()),
                "#pk = :pk AND #sk < :sk",
                vec![(":sk", "a")],
            ),
            (
                SortCondition::Le("a".into()),
                "#pk = :pk AND #sk <= :sk",
                vec![(":sk", "a")],
            ),
            (
                SortCondition::Gt("a".into()),
                "#pk = :pk AND #sk > :sk",
                vec![(":sk", "a")],
            ),
            (
                SortCondition::Ge("a".into()),
                "#pk = :pk AND #sk >= :sk",
                vec![(":sk", "a")],
            ),
        ];
        for (sort, expression, bounds) in cases {
            let kc = key_condition("t#p", &sort);
            assert_eq!(kc.expression, expression);
            let mut expected_names = vec![("#pk", "_pk")];
            let mut expected_values = vec![(":pk", s("t#p"))];
            if !bounds.is_empty() {
                expected_names.push(("#sk", "_sk"));
            }
            expected_values.extend(bounds.into_iter().map(|(k, v)| (k, s(v))));
            assert_eq!(Some(kc.names), names(&expected_names));
            assert_eq!(Some(kc.values), values(&expected_values));
        }
    }
}
