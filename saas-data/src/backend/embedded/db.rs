//! The redb side: tables, transactions, stored items, and how redb's errors are classified.

use redb::{
    Database, ReadableDatabase, ReadableTable, TableDefinition, TableError, WriteTransaction,
};

use super::codec;
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

pub(super) fn ensure_table(txn: &WriteTransaction, table: &str) -> Result<()> {
    match txn.open_table(TABLES).db()?.get(table).db()? {
        Some(_) => Ok(()),
        None => Err(table_not_found(table)),
    }
}

/// A table's items, for writing (an error if the table does not exist).
pub(super) fn write_items<'t>(
    txn: &'t WriteTransaction,
    table: &str,
) -> Result<redb::Table<'t, ItemKey, ItemValue>> {
    ensure_table(txn, table)?;
    txn.open_table(TableDefinition::new(&items_table_name(table)))
        .db()
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

pub(super) fn store(
    table: &mut redb::Table<'_, ItemKey, ItemValue>,
    key: &PhysKey,
    item: &Item,
) -> Result<()> {
    let bytes = codec::encode(item);
    table
        .insert((key.pk.as_str(), key.sk.as_str()), bytes.as_slice())
        .db()?;
    Ok(())
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

/// `CreateTable` in `txn`: the table is active at once; creating an existing table changes
/// nothing.
pub(super) fn create_table(txn: &WriteTransaction, table: &str) -> Applied<(), Error> {
    txn.open_table(TABLES)
        .db()
        .torn()?
        .insert(table, ())
        .db()
        .torn()?;
    txn.open_table::<ItemKey, ItemValue>(TableDefinition::new(&items_table_name(table)))
        .db()
        .torn()?;
    Ok(())
}

/// `DeleteTable` in `txn`: the table and its items are gone at once; a missing table is no
/// error.
pub(super) fn delete_table(txn: &WriteTransaction, table: &str) -> Applied<(), Error> {
    txn.open_table(TABLES)
        .db()
        .torn()?
        .remove(table)
        .db()
        .torn()?;
    txn.delete_table(TableDefinition::<ItemKey, ItemValue>::new(
        &items_table_name(table),
    ))
    .db()
    .torn()?;
    Ok(())
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
