//! Transactional writes: up to 100 actions, of one or more scopes of a store, all or nothing.

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;
use serde_dynamo::AttributeValue;

use crate::backend::{BackendError, TRANSACT_MAX, TransactAction};
use crate::error::{Error, Result};
use crate::expr::{Condition, Update, UpdateAction};
use crate::item::{self, Item, VERSION};
use crate::key::{Key, Namespace, shard_of};
use crate::scope::{DataScope, flatten};
use crate::store::{DataStore, Location};
use crate::usage::Operation;

/// Writes that succeed together or not at all (DynamoDB `TransactWriteItems`).
///
/// Actions may come from several scopes of the same store (a tenant's item and a system index
/// entry, say); each stays in its own key space. A failing action cancels the whole transaction
/// with [`Error::TransactionCanceled`], which names the action and why (`AlreadyExists`,
/// `NotFound`, `VersionConflict`, `ConditionFailed`). At most 100 actions, each key once.
///
/// ```
/// # use saas_data::{Backend, DataStore, Key, Update};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> saas_data::Result<()> {
/// # let store = DataStore::builder(Backend::in_memory()).pool("app-data").build()?;
/// # store.provisioner().create_table("app-data").await?;
/// # let ctx = saas_core::TenantContext::builder("tenant-a").build();
/// let data = store.scope(&ctx);
/// let todo = Key::new("todos", "T#1")?;
/// let event = Key::new("outbox", "0001")?;
/// store
///     .transaction()
///     .create(&data, &todo, &serde_json::json!({"title": "Buy milk"}))
///     .create(&data, &event, &serde_json::json!({"type": "todo.created", "todo": "T#1"}))
///     .commit()
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "a transaction does nothing until committed"]
pub struct Transaction {
    store: DataStore,
    actions: Vec<Pending>,
    error: Option<Error>,
}

struct Pending {
    scope: DataScope,
    key: Key,
    op: Op,
    condition: Option<Condition>,
}

enum Op {
    Create(Item),
    Replace(Item, u64),
    Update(Update, Option<u64>),
    Delete(Option<u64>),
    Check,
}

impl Op {
    fn version(&self) -> Option<u64> {
        match self {
            Op::Replace(_, v) => Some(*v),
            Op::Update(_, v) | Op::Delete(v) => *v,
            Op::Create(_) | Op::Check => None,
        }
    }
}

impl fmt::Debug for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("actions", &self.actions.len())
            .finish_non_exhaustive()
    }
}

impl Transaction {
    pub(crate) fn new(store: DataStore) -> Self {
        Self {
            store,
            actions: Vec::new(),
            error: None,
        }
    }

    fn push(mut self, scope: &DataScope, key: &Key, op: Result<Op>) -> Self {
        if self.error.is_some() {
            return self;
        }
        if !self.store.same_store(&scope.store) {
            self.error = Some(Error::invalid_request(
                "a transaction's scopes must come from its own store",
            ));
            return self;
        }
        match op {
            Ok(op) => self.actions.push(Pending {
                scope: scope.clone(),
                key: key.clone(),
                op,
                condition: None,
            }),
            Err(e) => self.error = Some(e),
        }
        self
    }

    /// Creates `item` at `key` (version 1); fails if the tenant has an item there.
    pub fn create<V: Serialize + ?Sized>(self, scope: &DataScope, key: &Key, item: &V) -> Self {
        let op = item::to_attributes(item).map(Op::Create);
        self.push(scope, key, op)
    }

    /// Replaces the item at `key`, which must be at `version` (then `version + 1`).
    pub fn replace<V: Serialize + ?Sized>(
        self,
        scope: &DataScope,
        key: &Key,
        item: &V,
        version: u64,
    ) -> Self {
        let op = item::to_attributes(item).map(|attrs| Op::Replace(attrs, version));
        self.push(scope, key, op)
    }

    /// Updates the existing item at `key` (at `version`, if given).
    pub fn update(
        self,
        scope: &DataScope,
        key: &Key,
        update: Update,
        version: Option<u64>,
    ) -> Self {
        let op = update.check().map(|()| Op::Update(update, version));
        self.push(scope, key, op)
    }

    /// Deletes the existing item at `key` (at `version`, if given).
    pub fn delete(self, scope: &DataScope, key: &Key, version: Option<u64>) -> Self {
        self.push(scope, key, Ok(Op::Delete(version)))
    }

    /// Requires the item at `key` to exist for the scope's tenant and `condition` to hold, without
    /// writing it.
    pub fn check(self, scope: &DataScope, key: &Key, condition: Condition) -> Self {
        self.push(scope, key, Ok(Op::Check)).condition(condition)
    }

    /// Adds `condition` to the action added last.
    pub fn condition(mut self, condition: Condition) -> Self {
        if let Err(e) = condition.0.check() {
            self.error.get_or_insert(e);
            return self;
        }
        match self.actions.last_mut() {
            Some(last) => {
                last.condition = Some(match last.condition.take() {
                    Some(c) => c.and(condition),
                    None => condition,
                });
            }
            None => {
                self.error.get_or_insert(Error::invalid_request(
                    "a transaction condition needs an action before it",
                ));
            }
        }
        self
    }

    /// The number of actions so far.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// Whether there are no actions yet.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Runs the transaction.
    pub async fn commit(self) -> Result<()> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if self.actions.is_empty() || self.actions.len() > TRANSACT_MAX {
            return Err(Error::invalid_request(format!(
                "a transaction has 1 to {TRANSACT_MAX} actions"
            )));
        }
        let mut locations: Vec<(Namespace, Location)> = Vec::new();
        let mut physical = Vec::with_capacity(self.actions.len());
        let mut keys = HashSet::with_capacity(self.actions.len());
        let mut actions = self.actions;
        for pending in &mut actions {
            let location = match locations.iter().find(|(ns, _)| *ns == pending.scope.ns) {
                Some((_, location)) => location.clone(),
                None => {
                    let location = pending.scope.location().await?;
                    locations.push((pending.scope.ns.clone(), location.clone()));
                    location
                }
            };
            let phys = pending.scope.phys_key(&location, &pending.key);
            if !keys.insert((location.table.clone(), phys.clone())) {
                return Err(Error::invalid_request(
                    "a transaction touches the same item twice",
                ));
            }
            physical.push(build(pending, &location, phys)?);
        }

        let tables: Vec<_> = physical.iter().map(|a| a.table().clone()).collect();
        let result = self.store.inner.backend.0.transact_write(physical).await;
        match result {
            Ok(out) => {
                for (i, pending) in actions.iter().enumerate() {
                    let capacity = out.value.get(i).copied().unwrap_or_default();
                    pending
                        .scope
                        .report(Operation::Transaction, &tables[i], capacity);
                }
                Ok(())
            }
            Err(BackendError::TransactionConditionFailed { index, old }) => {
                let Some(pending) = actions.get(index) else {
                    return Err(Error::internal("transaction failure names no action"));
                };
                let scope = &pending.scope;
                let location = scope.location().await?;
                let phys = scope.phys_key(&location, &pending.key);
                let old = scope.old_item(&location, &phys, old).await?;
                let cause = match &pending.op {
                    Op::Create(_) => scope.classify_create(old.as_ref()),
                    op => scope.classify_existing(old.as_ref(), op.version()),
                };
                Err(Error::TransactionCanceled {
                    index,
                    cause: Box::new(cause),
                })
            }
            Err(e) => Err(flatten(e)),
        }
    }
}

/// The backend's action for `pending`. An item to write is moved into it, not copied: what stays
/// in `pending` (its scope, key and kind of write) is what reporting and a cancellation's
/// cause need.
fn build(
    pending: &mut Pending,
    location: &Location,
    phys: crate::backend::PhysKey,
) -> Result<TransactAction> {
    let scope = &pending.scope;
    let table = location.table.clone();
    let extra = pending.condition.as_ref();
    let shard = shard_of(&pending.key, location.shards);
    Ok(match &mut pending.op {
        Op::Create(attrs) => TransactAction::Put {
            table,
            item: item::finish(std::mem::take(attrs), &scope.ns, shard, &pending.key, 1)?,
            condition: Some(scope.absent_condition(extra)),
        },
        Op::Replace(attrs, version) => {
            let next = version.checked_add(1).ok_or(Error::VersionConflict {
                expected: *version,
                actual: None,
            })?;
            TransactAction::Put {
                table,
                item: item::finish(std::mem::take(attrs), &scope.ns, shard, &pending.key, next)?,
                condition: Some(scope.owned_condition(Some(*version), extra)),
            }
        }
        Op::Update(update, version) => {
            let mut actions = std::mem::take(&mut update.actions);
            actions.push(UpdateAction::Add(
                VERSION.to_owned(),
                AttributeValue::N("1".to_owned()),
            ));
            TransactAction::Update {
                table,
                key: phys,
                actions,
                condition: Some(scope.owned_condition(*version, extra)),
            }
        }
        Op::Delete(version) => TransactAction::Delete {
            table,
            key: phys,
            condition: Some(scope.owned_condition(*version, extra)),
        },
        Op::Check => TransactAction::ConditionCheck {
            table,
            key: phys,
            condition: scope.owned_condition(None, extra),
        },
    })
}
