//! Conditions and partial updates on an item's own (top-level) attributes, evaluated the same way
//! by every backend.

use serde::Serialize;
use serde_dynamo::AttributeValue;

use crate::error::{Error, Result};
use crate::item::is_reserved;

/// The longest attribute name accepted in a condition or update, in bytes.
pub const MAX_ATTRIBUTE_NAME_LEN: usize = 255;

/// A condition on an item's attributes, for conditional writes.
///
/// Attribute names are top-level names of the application's item; the crate's reserved names
/// (`_pk`, `_tenant`, `_version`, ...) cannot be named (versions have their own methods).
/// A bad name or a value that cannot be serialized makes the write fail with
/// [`Error::InvalidRequest`], before anything is sent.
///
/// Comparisons follow DynamoDB: numbers compare as numbers, strings and binaries byte-wise,
/// values of different types are never `<`, `>` or `=`; `ne` holds when the attribute is missing.
///
/// ```
/// use saas_data::Condition;
///
/// let open_and_unassigned = Condition::eq("status", "open").and(Condition::not_exists("assignee"));
/// let small = Condition::lt("size", &10).or(Condition::begins_with("name", "tmp-"));
/// # let _ = (open_and_unassigned, small);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Condition(pub(crate) Cond);

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// The condition tree. Crate code may name reserved attributes; public constructors may not.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    Compare(String, CmpOp, AttributeValue),
    Exists(String),
    NotExists(String),
    BeginsWith(String, String),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    /// A public constructor got a bad name or value: the write fails with `InvalidRequest`.
    Invalid(String),
}

fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("attribute name is empty".into());
    }
    if name.len() > MAX_ATTRIBUTE_NAME_LEN {
        return Err(format!(
            "attribute name is longer than {MAX_ATTRIBUTE_NAME_LEN} bytes"
        ));
    }
    if is_reserved(name) {
        return Err(format!("attribute name {name:?} is reserved by saas-data"));
    }
    Ok(())
}

fn to_value<V: Serialize + ?Sized>(value: &V) -> std::result::Result<AttributeValue, String> {
    serde_dynamo::to_attribute_value(value).map_err(|e| format!("cannot serialize value: {e}"))
}

impl Condition {
    fn compare<V: Serialize + ?Sized>(name: &str, op: CmpOp, value: &V) -> Self {
        let cond = check_name(name)
            .and_then(|()| to_value(value))
            .map_or_else(Cond::Invalid, |v| Cond::Compare(name.to_owned(), op, v));
        Self(cond)
    }

    /// `name = value`.
    pub fn eq<V: Serialize + ?Sized>(name: &str, value: &V) -> Self {
        Self::compare(name, CmpOp::Eq, value)
    }

    /// `name <> value` (also true when the attribute is missing).
    pub fn ne<V: Serialize + ?Sized>(name: &str, value: &V) -> Self {
        Self::compare(name, CmpOp::Ne, value)
    }

    /// `name < value`.
    pub fn lt<V: Serialize + ?Sized>(name: &str, value: &V) -> Self {
        Self::compare(name, CmpOp::Lt, value)
    }

    /// `name <= value`.
    pub fn le<V: Serialize + ?Sized>(name: &str, value: &V) -> Self {
        Self::compare(name, CmpOp::Le, value)
    }

    /// `name > value`.
    pub fn gt<V: Serialize + ?Sized>(name: &str, value: &V) -> Self {
        Self::compare(name, CmpOp::Gt, value)
    }

    /// `name >= value`.
    pub fn ge<V: Serialize + ?Sized>(name: &str, value: &V) -> Self {
        Self::compare(name, CmpOp::Ge, value)
    }

    /// The attribute is present.
    pub fn exists(name: &str) -> Self {
        Self(check_name(name).map_or_else(Cond::Invalid, |()| Cond::Exists(name.to_owned())))
    }

    /// The attribute is absent.
    pub fn not_exists(name: &str) -> Self {
        Self(check_name(name).map_or_else(Cond::Invalid, |()| Cond::NotExists(name.to_owned())))
    }

    /// The string attribute starts with `prefix`.
    pub fn begins_with(name: &str, prefix: &str) -> Self {
        Self(check_name(name).map_or_else(Cond::Invalid, |()| {
            Cond::BeginsWith(name.to_owned(), prefix.to_owned())
        }))
    }

    /// Both hold.
    #[must_use]
    pub fn and(self, other: Condition) -> Self {
        Self(match self.0 {
            Cond::And(mut all) => {
                all.push(other.0);
                Cond::And(all)
            }
            first => Cond::And(vec![first, other.0]),
        })
    }

    /// Either holds.
    #[must_use]
    pub fn or(self, other: Condition) -> Self {
        Self(match self.0 {
            Cond::Or(mut any) => {
                any.push(other.0);
                Cond::Or(any)
            }
            first => Cond::Or(vec![first, other.0]),
        })
    }

    /// The condition does not hold.
    #[allow(clippy::should_implement_trait)]
    #[must_use]
    pub fn not(self) -> Self {
        Self(Cond::Not(Box::new(self.0)))
    }
}

impl Cond {
    /// The first construction error in the tree.
    pub(crate) fn check(&self) -> Result<()> {
        match self {
            Cond::Invalid(msg) => Err(Error::InvalidRequest(msg.clone())),
            Cond::And(all) | Cond::Or(all) => all.iter().try_for_each(Cond::check),
            Cond::Not(inner) => inner.check(),
            _ => Ok(()),
        }
    }

    /// `a AND b`, flattening.
    pub(crate) fn and(a: Cond, b: Cond) -> Cond {
        match a {
            Cond::And(mut all) => {
                all.push(b);
                Cond::And(all)
            }
            a => Cond::And(vec![a, b]),
        }
    }
}

/// A partial update: attributes to set, remove or add to. The item's version goes up by one.
///
/// ```
/// use saas_data::Update;
///
/// let update = Update::new().set("title", "Buy milk").set("done", &true).remove("note").add("edits", 1);
/// # let _ = update;
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Update {
    pub(crate) actions: Vec<UpdateAction>,
    pub(crate) invalid: Option<String>,
}

/// One change of an [`Update`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum UpdateAction {
    Set(String, AttributeValue),
    Remove(String),
    /// Adds a number (the attribute counts as 0 when missing).
    Add(String, AttributeValue),
}

impl UpdateAction {
    pub(crate) fn name(&self) -> &str {
        match self {
            UpdateAction::Set(n, _) | UpdateAction::Remove(n) | UpdateAction::Add(n, _) => n,
        }
    }
}

impl Update {
    /// An empty update (an error if executed as it is).
    pub fn new() -> Self {
        Self::default()
    }

    fn push(
        mut self,
        name: &str,
        action: impl FnOnce() -> std::result::Result<UpdateAction, String>,
    ) -> Self {
        if self.invalid.is_some() {
            return self;
        }
        let result = check_name(name).and_then(|()| action());
        match result {
            Ok(action) if self.actions.iter().any(|a| a.name() == action.name()) => {
                self.invalid = Some(format!("attribute {name:?} is changed twice in one update"));
            }
            Ok(action) => self.actions.push(action),
            Err(msg) => self.invalid = Some(msg),
        }
        self
    }

    /// Sets `name` to `value`.
    #[must_use]
    pub fn set<V: Serialize + ?Sized>(self, name: &str, value: &V) -> Self {
        self.push(name, || {
            to_value(value).map(|v| UpdateAction::Set(name.to_owned(), v))
        })
    }

    /// Removes `name`.
    #[must_use]
    pub fn remove(self, name: &str) -> Self {
        self.push(name, || Ok(UpdateAction::Remove(name.to_owned())))
    }

    /// Adds `by` to the number `name` (0 when missing).
    #[must_use]
    pub fn add(self, name: &str, by: i64) -> Self {
        self.push(name, || {
            Ok(UpdateAction::Add(
                name.to_owned(),
                AttributeValue::N(by.to_string()),
            ))
        })
    }

    /// Whether nothing is changed.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    pub(crate) fn check(&self) -> Result<()> {
        if let Some(msg) = &self.invalid {
            return Err(Error::InvalidRequest(msg.clone()));
        }
        if self.actions.is_empty() {
            return Err(Error::invalid_request("update changes nothing"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_bad_names_are_deferred_errors() {
        assert!(Condition::eq("_tenant", "b").0.check().is_err());
        assert!(Condition::exists("").0.check().is_err());
        assert!(
            Condition::eq("a", "x")
                .and(Condition::exists("_version"))
                .0
                .check()
                .is_err()
        );
        assert!(
            Condition::eq("a", &1)
                .or(Condition::exists("b"))
                .0
                .check()
                .is_ok()
        );
        assert!(Update::new().set("_pk", "x").check().is_err());
        assert!(Update::new().check().is_err());
        assert!(Update::new().set("a", "x").remove("a").check().is_err());
        assert!(Update::new().set("a", "x").add("b", 2).check().is_ok());
    }

    #[test]
    fn and_or_flatten() {
        let c = Condition::exists("a")
            .and(Condition::exists("b"))
            .and(Condition::exists("c"));
        assert!(matches!(&c.0, Cond::And(v) if v.len() == 3));
    }
}
