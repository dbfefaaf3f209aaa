//! The redb side: tables, transactions, stored items, and how redb's errors are classified.

use std::collections::HashMap;

use redb::{
    Database, ReadableDatabase, ReadableTable, TableDefinition, TableError, WriteTransaction,
};

use super::codec;
use super::journal::Changes;
use crate::backend::{BackendError, PhysKey, TableState};
use crate::error::{Error, Result};
use crate::item::Item;

/// Lists the tables that exist: name → nothing.
const TABLES: TableDefinition<&str, ()> = TableDefinition::new("saas-data/tables");

/// A table's items: `(_pk, _sk)` → encoded item.
pub(super) type ItemKey = (&'static str, &'static str);
pub(super) type ItemValue = &'static [u8];

/// The redb table holding DynamoDB table `name`'s items.
pub(super) fn items_table_name(name: &str) -> String {
    format!("t/{name}")
}

/// Classifies redb's errors: storage and I/O failures are `Unavailable`, the rest `Internal`.
pub(super) trait Db<T> {
    fn db(self) -> Result<T>;
}

impl<T, E: Into<redb::Error>> Db<T> for std::result::Result<T, E> {
    fn db(self) -> Result<T> {
        self.map_err(|e| {
            let e = e.into();
            match e {
                redb::Error::Io(_)
                | redb::Error::Backend(_)
                | redb::Error::Corrupted(_)
                | redb::Error::PreviousIo
                | redb::Error::DatabaseClosed
                | redb::Error::DatabaseAlreadyOpen
                | redb::Error::LockProtocolMismatch
                | redb::Error::UpgradeRequired(_)
                | redb::Error::RepairAborted
                | redb::Error::Unsupported => Error::Unavailable(Box::new(e)),
                e => Error::Internal(Box::new(e)),
            }
        })
    }
}

fn table_not_found(table: &str) -> Error {
    Error::Unavailable(format!("table not found: {table}").into())
}

/// Why a write request applied to a shared write transaction failed.
#[derive(Debug)]
pub(super) enum Failed<E> {
    /// Refused before anything was written (a condition, an invalid update, a missing table, a
    /// read that failed): the transaction holds nothing of the request, the others go on.
    Refused(E),
    /// Failed while writing: the transaction may hold part of the request and is rolled back.
    Torn(Error),
}

impl<E: From<Error>> From<Error> for Failed<E> {
    fn from(e: Error) -> Self {
        Failed::Refused(e.into())
    }
}

impl From<BackendError> for Failed<BackendError> {
    fn from(e: BackendError) -> Self {
        Failed::Refused(e)
    }
}

/// A request's result inside a shared write transaction.
pub(super) type Applied<T, E = BackendError> = std::result::Result<T, Failed<E>>;

/// Marks a write step's failure as one that leaves the transaction torn.
pub(super) trait Torn<T> {
    fn torn<E>(self) -> Applied<T, E>;
}

impl<T> Torn<T> for Result<T> {
    fn torn<E>(self) -> Applied<T, E> {
        self.map_err(Failed::Torn)
    }
}

/// A write transaction with its tables open for the whole batch of requests applied in it.
///
/// Opening a redb table looks it up in the transaction's table tree and closing it writes its
/// root back; a batch of group commit holds many requests on few tables, so each table is opened
/// once, on first use, and closed when the batch is done. Which tables exist (the metadata table)
/// is read once per table too. Only [`create_table`](Tables::create_table) and
/// [`delete_table`](Tables::delete_table) change either, and they keep both in step.
pub(super) struct Tables<'t> {
    txn: &'t WriteTransaction,
    /// Table name → whether it exists, as read (or changed) in this transaction.
    exists: HashMap<String, bool>,
    /// The items tables opened so far, by table name.
    open: HashMap<String, redb::Table<'t, ItemKey, ItemValue>>,
    /// What the batch changed, for the journal; `None` when it is not journaled (in memory, and
    /// the journal's own replay).
    changes: Option<Changes>,
}

impl<'t> Tables<'t> {
    /// Nothing open yet.
    pub(super) fn new(txn: &'t WriteTransaction) -> Self {
        Tables {
            txn,
            exists: HashMap::new(),
            open: HashMap::new(),
            changes: None,
        }
    }

    /// Nothing open yet; every change is also recorded in `changes`, for the journal.
    pub(super) fn journaled(txn: &'t WriteTransaction, changes: Changes) -> Self {
        Tables {
            changes: Some(changes),
            ..Tables::new(txn)
        }
    }

    /// What was changed through these tables, if they were [`journaled`](Tables::journaled).
    pub(super) fn into_changes(self) -> Option<Changes> {
        self.changes
    }

    /// Stores `bytes` (an item encoded with [`codec`]) at `key` in `table`.
    pub(super) fn store(&mut self, table: &str, key: &PhysKey, bytes: &[u8]) -> Result<()> {
        self.items(table)?
            .insert((key.pk.as_str(), key.sk.as_str()), bytes)
            .db()?;
        if let Some(changes) = &mut self.changes {
            changes.put(table, &key.pk, &key.sk, bytes);
        }
        Ok(())
    }

    /// Removes the item at `key` from `table`.
    pub(super) fn remove(&mut self, table: &str, key: &PhysKey) -> Result<()> {
        self.items(table)?
            .remove((key.pk.as_str(), key.sk.as_str()))
            .db()?;
        if let Some(changes) = &mut self.changes {
            changes.remove(table, &key.pk, &key.sk);
        }
        Ok(())
    }

    /// Whether `table` exists.
    pub(super) fn exists(&mut self, table: &str) -> Result<bool> {
        Ok(match self.exists.get(table) {
            Some(exists) => *exists,
            None => {
                let exists = self.txn.open_table(TABLES).db()?.get(table).db()?.is_some();
                self.exists.insert(table.to_owned(), exists);
                exists
            }
        })
    }

    /// An error if `table` does not exist.
    pub(super) fn ensure(&mut self, table: &str) -> Result<()> {
        if self.exists(table)? {
            Ok(())
        } else {
            Err(table_not_found(table))
        }
    }

    /// `table`'s items, for reading and writing (an error if the table does not exist).
    pub(super) fn items(
        &mut self,
        table: &str,
    ) -> Result<&mut redb::Table<'t, ItemKey, ItemValue>> {
        self.ensure(table)?;
        if !self.open.contains_key(table) {
            let opened = self
                .txn
                .open_table(TableDefinition::new(&items_table_name(table)))
                .db()?;
            self.open.insert(table.to_owned(), opened);
        }
        self.open
            .get_mut(table)
            .ok_or_else(|| Error::internal("an opened table is not open"))
    }

    /// `CreateTable`: the table is active at once; creating an existing table changes nothing.
    pub(super) fn create_table(&mut self, table: &str) -> Applied<(), Error> {
        self.txn
            .open_table(TABLES)
            .db()
            .torn()?
            .insert(table, ())
            .db()
            .torn()?;
        self.exists.insert(table.to_owned(), true);
        if !self.open.contains_key(table) {
            let opened = self
                .txn
                .open_table(TableDefinition::new(&items_table_name(table)))
                .db()
                .torn()?;
            self.open.insert(table.to_owned(), opened);
        }
        if let Some(changes) = &mut self.changes {
            changes.create_table(table);
        }
        Ok(())
    }

    /// `DeleteTable`: the table and its items are gone at once; a missing table is no error.
    pub(super) fn delete_table(&mut self, table: &str) -> Applied<(), Error> {
        self.txn
            .open_table(TABLES)
            .db()
            .torn()?
            .remove(table)
            .db()
            .torn()?;
        self.exists.insert(table.to_owned(), false);
        // redb deletes only a table that is not open.
        drop(self.open.remove(table));
        self.txn
            .delete_table(TableDefinition::<ItemKey, ItemValue>::new(
                &items_table_name(table),
            ))
            .db()
            .torn()?;
        if let Some(changes) = &mut self.changes {
            changes.delete_table(table);
        }
        Ok(())
    }
}

/// A table's items, for reading (an error if the table does not exist).
pub(super) fn read_items(
    txn: &redb::ReadTransaction,
    table: &str,
) -> Result<redb::ReadOnlyTable<ItemKey, ItemValue>> {
    match txn.open_table(TableDefinition::new(&items_table_name(table))) {
        Err(TableError::TableDoesNotExist(_)) => Err(table_not_found(table)),
        other => other.db(),
    }
}

pub(super) fn decode(bytes: &[u8]) -> Result<Item> {
    codec::decode(bytes).map_err(|e| Error::Internal(Box::new(e)))
}

/// The stored item at `key`.
pub(super) fn load(
    table: &impl ReadableTable<ItemKey, ItemValue>,
    key: &PhysKey,
) -> Result<Option<Item>> {
    match table.get((key.pk.as_str(), key.sk.as_str())).db()? {
        Some(value) => decode(value.value()).map(Some),
        None => Ok(None),
    }
}

/// Refuses a table name DynamoDB refuses: 3 to 255 of `a-z A-Z 0-9 _ - .`.
fn check_table_name(table: &str) -> Result<()> {
    let valid = (3..=255).contains(&table.len())
        && table
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_request(
            "a table name is 3 to 255 characters of a-z, A-Z, 0-9, '_', '-' and '.'",
        ))
    }
}

/// `CreateTable`, checked before it is queued: the name.
pub(super) fn check_create_table(table: &str) -> Result<()> {
    check_table_name(table)
}

/// `Active` or `Missing`: tables never linger in between.
pub(super) fn table_state(db: &Database, table: &str) -> Result<TableState> {
    let txn = db.begin_read().db()?;
    let exists = match txn.open_table(TABLES) {
        Err(TableError::TableDoesNotExist(_)) => false,
        tables => tables.db()?.get(table).db()?.is_some(),
    };
    Ok(if exists {
        TableState::Active
    } else {
        TableState::Missing
    })
}
