//! The file store's journal: a redo log in front of redb, so that a durable write costs one
//! small sequential write and one `fdatasync`, not a copy-on-write commit of every page it
//! touched.
//!
//! redb makes a commit durable by writing every B-tree page the commit changed (a new copy of
//! each, leaf to root, plus its allocator's records) and then the header, with an `fsync`. A
//! batch of small writes spread over a table touches one leaf per partition it writes to, so a
//! durable commit of 27 creates writes about 80 scattered 4 KB pages: on the development disk
//! that costs about 3 ms, where one small write and `fdatasync` costs 0.12 ms.
//!
//! So the writer commits each batch to redb without making it durable ([`Durability::None`]:
//! visible to readers, kept in redb's memory and the file's page cache), and makes it durable
//! here instead: what the batch changed (the bytes each key now holds, the keys removed, the
//! tables created or deleted) is appended as one record and synced *before* the redb commit, so
//! no reader ever sees a write that is not yet durable. Every [`CHECKPOINT_INTERVAL`] (or every
//! [`CHECKPOINT_BYTES`] of records) a checkpoint commits redb durably, which persists every
//! commit since the last one, and the journal starts over. The checkpoint writes back at once
//! what redb changed since the last one (under load, about 20 MB a second here) and holds the
//! writer meanwhile; every 5 s rather than every second, the writes it holds up fell from about
//! 2% to well under 1% of them and the p99 latency of 256 concurrent creates from 75-78 ms to
//! 42 ms (docs/performance-todo.md).
//!
//! Which records belong to redb's durable state is told by a generation number: a checkpoint
//! stores `generation + 1` in redb in the same durable commit, and every record carries the
//! generation it was written under. After a crash, opening the store finds redb at its last
//! checkpoint (generation `g`) and replays, in order, the records of generation `g` from the
//! start of the file, stopping at the first one that is torn (its checksum fails), out of
//! sequence or of another generation (left over from before the checkpoint: the journal is
//! overwritten in place, so that its syncs do not have to update the file's size). A record
//! holds the values written, not the requests, so replaying one that redb already holds
//! changes nothing. The replay and the next generation are committed durably together before
//! the store accepts writes. A new store's first generation is random, so that a journal left
//! beside the path by a store deleted without it is never taken for this one's.
//!
//! A failed journal write or sync, a failed checkpoint, or a redb commit that fails after its
//! record was synced leaves what is on disk unknown: the journal is then failed for good, and
//! every later write is answered `Unavailable` until the store is opened again (which replays
//! what did reach the disk). A sync that failed is not retried: after a failed `fsync` the
//! kernel may have dropped the pages it could not write.
//!
//! Record layout (little-endian): `len: u32`, `crc32: u32` of everything after it, `generation:
//! u64`, `sequence: u64`, then `len` bytes of changes, each a tag byte and its fields, strings
//! and values length-prefixed (`u32`; table names `u16`).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use redb::{Database, Durability, ReadableDatabase, TableDefinition, TableError};

use super::db::{Db, Tables};
use crate::error::{Error, Result};

/// Where the journal's generation is kept in redb: `"generation"` → the generation of the
/// records that are not in redb's durable state yet.
const META: TableDefinition<&str, u64> = TableDefinition::new("saas-data/journal");
const GENERATION: &str = "generation";

/// A checkpoint is due once the records since the last one reach this many bytes.
pub(super) const CHECKPOINT_BYTES: u64 = 64 << 20;
/// A checkpoint is due this long after the last one, if anything was written since: what a
/// crash leaves to replay when the store is opened again.
pub(super) const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(5);

const HEADER: usize = 24;
/// No record is larger: a batch is bounded (`writer::MAX_BATCH_BYTES`, one request beyond it at
/// most, a request's items at most 100 of 400 KB), so a larger length is damage.
const MAX_RECORD: usize = 256 << 20;

/// A batch's buffer is kept for the next one up to this size.
const KEPT_BUFFER: usize = 8 << 20;

const PUT: u8 = 1;
const REMOVE: u8 = 2;
const CREATE_TABLE: u8 = 3;
const DELETE_TABLE: u8 = 4;

/// The journal's file beside the store's: `data.redb` → `data.redb-journal`.
pub(super) fn path_for(store: &Path) -> PathBuf {
    let mut name = store.file_name().unwrap_or_default().to_owned();
    name.push("-journal");
    store.with_file_name(name)
}

/// When checkpoints are due.
#[derive(Debug, Clone, Copy)]
pub(super) struct Checkpoints {
    /// Bytes of records since the last checkpoint.
    pub(super) bytes: u64,
    /// Time since the last checkpoint.
    pub(super) interval: Duration,
}

impl Default for Checkpoints {
    fn default() -> Self {
        Checkpoints {
            bytes: CHECKPOINT_BYTES,
            interval: CHECKPOINT_INTERVAL,
        }
    }
}

/// What one batch changed, encoded as a record's body, after room for the record's header (so
/// that the record is written from one buffer, reused from batch to batch).
#[derive(Debug)]
pub(super) struct Changes {
    bytes: Vec<u8>,
}

impl Default for Changes {
    fn default() -> Self {
        Changes {
            bytes: vec![0; HEADER],
        }
    }
}

impl Changes {
    /// Nothing changed.
    pub(super) fn is_empty(&self) -> bool {
        self.bytes.len() == HEADER
    }

    /// The record's body.
    fn body(&self) -> &[u8] {
        self.bytes.get(HEADER..).unwrap_or_default()
    }

    /// Forgets every change, keeping the buffer.
    fn clear(&mut self) {
        self.bytes.truncate(HEADER);
    }

    /// `table`'s item at `(pk, sk)` now holds `value`.
    pub(super) fn put(&mut self, table: &str, pk: &str, sk: &str, value: &[u8]) {
        self.bytes.push(PUT);
        self.name(table);
        self.field(pk.as_bytes());
        self.field(sk.as_bytes());
        self.field(value);
    }

    /// `table`'s item at `(pk, sk)` is gone.
    pub(super) fn remove(&mut self, table: &str, pk: &str, sk: &str) {
        self.bytes.push(REMOVE);
        self.name(table);
        self.field(pk.as_bytes());
        self.field(sk.as_bytes());
    }

    /// `table` was created (or already existed).
    pub(super) fn create_table(&mut self, table: &str) {
        self.bytes.push(CREATE_TABLE);
        self.name(table);
    }

    /// `table` and its items are gone.
    pub(super) fn delete_table(&mut self, table: &str) {
        self.bytes.push(DELETE_TABLE);
        self.name(table);
    }

    fn name(&mut self, table: &str) {
        // Table names are checked (at most 255 bytes) before a create is queued.
        let len = u16::try_from(table.len()).unwrap_or(u16::MAX);
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes
            .extend_from_slice(&table.as_bytes()[..usize::from(len)]);
    }

    fn field(&mut self, value: &[u8]) {
        // Items are at most 400 KB and keys 2 KB: the length fits.
        let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes.extend_from_slice(value);
    }
}

/// One change read back from a record.
#[derive(Debug, PartialEq, Eq)]
enum Change<'a> {
    Put {
        table: &'a str,
        pk: &'a str,
        sk: &'a str,
        value: &'a [u8],
    },
    Remove {
        table: &'a str,
        pk: &'a str,
        sk: &'a str,
    },
    CreateTable(&'a str),
    DeleteTable(&'a str),
}

/// Reads the changes of a record's body, in order.
struct Decoder<'a> {
    rest: &'a [u8],
}

impl<'a> Decoder<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.rest.len() < n {
            return Err(damaged("a change runs past its record"));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn str(&mut self, len: usize) -> Result<&'a str> {
        std::str::from_utf8(self.take(len)?).map_err(|_| damaged("a key is not UTF-8"))
    }

    fn len16(&mut self) -> Result<usize> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_le_bytes([b[0], b[1]])))
    }

    fn len32(&mut self) -> Result<usize> {
        let b = self.take(4)?;
        usize::try_from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .map_err(|_| damaged("a length does not fit"))
    }

    fn next(&mut self) -> Option<Result<Change<'a>>> {
        let (&tag, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(self.change(tag))
    }

    fn change(&mut self, tag: u8) -> Result<Change<'a>> {
        let len = self.len16()?;
        let table = self.str(len)?;
        match tag {
            PUT | REMOVE => {
                let len = self.len32()?;
                let pk = self.str(len)?;
                let len = self.len32()?;
                let sk = self.str(len)?;
                if tag == REMOVE {
                    return Ok(Change::Remove { table, pk, sk });
                }
                let len = self.len32()?;
                let value = self.take(len)?;
                Ok(Change::Put {
                    table,
                    pk,
                    sk,
                    value,
                })
            }
            CREATE_TABLE => Ok(Change::CreateTable(table)),
            DELETE_TABLE => Ok(Change::DeleteTable(table)),
            _ => Err(damaged("a change of an unknown kind")),
        }
    }
}

fn damaged(why: &str) -> Error {
    Error::Unavailable(format!("the store's journal is damaged: {why}").into())
}

fn io_error(what: &str, e: &io::Error) -> String {
    format!("cannot {what} the store's journal: {e}")
}

/// A record's header and checksum over `body`.
fn header(generation: u64, sequence: u64, body: &[u8]) -> [u8; HEADER] {
    let mut header = [0; HEADER];
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    header[0..4].copy_from_slice(&len.to_le_bytes());
    header[8..16].copy_from_slice(&generation.to_le_bytes());
    header[16..24].copy_from_slice(&sequence.to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header[8..]);
    crc.update(body);
    header[4..8].copy_from_slice(&crc.finalize().to_le_bytes());
    header
}

/// The bodies of the records of `generation` at the start of `file`, in sequence, up to the
/// first that is torn, out of sequence or of another generation.
fn read_records(file: &mut File, generation: u64) -> io::Result<Vec<Vec<u8>>> {
    let mut records = Vec::new();
    let mut reader = io::BufReader::new(&mut *file);
    reader.seek(SeekFrom::Start(0))?;
    loop {
        let mut head = [0u8; HEADER];
        if !read_full(&mut reader, &mut head)? {
            break;
        }
        let field = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&head[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if field(8) != generation || field(16) != records.len() as u64 || len > MAX_RECORD {
            break;
        }
        let mut body = vec![0u8; len];
        if !read_full(&mut reader, &mut body)? {
            break;
        }
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&head[8..]);
        hasher.update(&body);
        if hasher.finalize() != crc {
            break;
        }
        records.push(body);
    }
    Ok(records)
}

/// Fills `buf`; `false` at the end of the file, even part-way.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    match reader.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// The journal of an open file store, owned by its writer thread.
#[derive(Debug)]
pub(super) struct Journal {
    file: File,
    /// The generation of the records being written: redb's durable state is the one before them.
    generation: u64,
    /// The next record's sequence number in its generation.
    sequence: u64,
    /// Where the next record goes.
    offset: u64,
    last_checkpoint: Instant,
    checkpoints: Checkpoints,
    /// Why the journal cannot take writes any more.
    failed: Option<String>,
    /// The last batch's buffer, for the next one.
    spare: Option<Changes>,
}

impl Journal {
    /// Opens (or creates) the journal at `path` for `db`, replays into `db` the records that
    /// its durable state does not hold yet, and makes them durable: `(journal, records
    /// replayed)`.
    ///
    /// # Errors
    ///
    /// `Unavailable` when the file cannot be read or written, a record that passes its checksum
    /// cannot be decoded or applied, or redb fails.
    pub(super) fn open(
        db: &Database,
        path: &Path,
        checkpoints: Checkpoints,
    ) -> Result<(Journal, usize)> {
        let unavailable = |what: &str, e: io::Error| Error::Unavailable(io_error(what, &e).into());
        let stored = {
            let txn = db.begin_read().db()?;
            match txn.open_table(META) {
                Err(TableError::TableDoesNotExist(_)) => None,
                meta => meta.db()?.get(GENERATION).db()?.map(|g| g.value()),
            }
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| unavailable("open", e))?;
        let (generation, records) = match stored {
            Some(generation) => {
                let records =
                    read_records(&mut file, generation).map_err(|e| unavailable("read", e))?;
                (generation, records)
            }
            None => {
                // A new store (or one from before the journal): a journal beside it belongs to
                // another store, and the generations start from a random one, so that no record
                // left by that store can pass for one of this store's.
                let generation = first_generation();
                let txn = db.begin_write().db()?;
                txn.open_table(META)
                    .db()?
                    .insert(GENERATION, generation)
                    .db()?;
                txn.commit().db()?;
                (generation, Vec::new())
            }
        };
        let mut journal = Journal {
            file,
            generation,
            sequence: 0,
            offset: 0,
            last_checkpoint: Instant::now(),
            checkpoints,
            failed: None,
            spare: None,
        };
        if !records.is_empty() {
            let txn = db.begin_write().db()?;
            {
                let mut tables = Tables::new(&txn);
                for record in &records {
                    replay(&mut tables, record)?;
                }
            }
            txn.open_table(META)
                .db()?
                .insert(GENERATION, generation + 1)
                .db()?;
            txn.commit().db()?;
            journal.generation += 1;
        }
        Ok((journal, records.len()))
    }

    /// Why the journal takes no more writes, if it does not.
    pub(super) fn failed(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Fails the journal for good: nothing more is written until the store is opened again.
    pub(super) fn fail(&mut self, why: String) {
        tracing::error!(error = %why, "the store's journal takes no more writes");
        self.failed.get_or_insert(why);
    }

    /// The durability of the redb commits the journal covers.
    pub(super) fn durability() -> Durability {
        Durability::None
    }

    /// A buffer for the next batch's changes (the last one's, cleared).
    pub(super) fn take_changes(&mut self) -> Changes {
        let mut changes = self.spare.take().unwrap_or_default();
        changes.clear();
        changes
    }

    /// Keeps `changes`'s buffer for the next batch, unless a large batch made it large.
    pub(super) fn give_back(&mut self, changes: Changes) {
        if changes.bytes.capacity() <= KEPT_BUFFER {
            self.spare = Some(changes);
        }
    }

    /// Appends `changes` as one record and syncs it: once this returns, they survive a crash.
    /// On an error the journal is failed.
    pub(super) fn append(&mut self, changes: &mut Changes) -> std::result::Result<(), String> {
        if let Some(why) = &self.failed {
            return Err(why.clone());
        }
        let header = header(self.generation, self.sequence, changes.body());
        changes.bytes[..HEADER].copy_from_slice(&header);
        let written = self
            .file
            .seek(SeekFrom::Start(self.offset))
            .and_then(|_| self.file.write_all(&changes.bytes))
            .map_err(|e| io_error("write", &e))
            .and_then(|()| self.file.sync_data().map_err(|e| io_error("sync", &e)));
        match written {
            Ok(()) => {
                self.offset += changes.bytes.len() as u64;
                self.sequence += 1;
                Ok(())
            }
            Err(why) => {
                self.fail(why.clone());
                Err(why)
            }
        }
    }

    /// Whether a checkpoint is due.
    pub(super) fn due(&self) -> bool {
        self.failed.is_none()
            && self.offset > 0
            && (self.offset >= self.checkpoints.bytes
                || self.last_checkpoint.elapsed() >= self.checkpoints.interval)
    }

    /// Commits redb durably (with everything committed since the last checkpoint) under the
    /// next generation, and starts the journal over. On an error the journal is failed.
    /// `true` when it checkpointed (there was something to, and it succeeded).
    pub(super) fn checkpoint(&mut self, db: &Database) -> bool {
        if self.failed.is_some() || self.offset == 0 {
            return false;
        }
        let next = self.generation + 1;
        let committed = db.begin_write().db().and_then(|txn| {
            txn.open_table(META).db()?.insert(GENERATION, next).db()?;
            txn.commit().db()
        });
        match committed {
            Ok(()) => {
                self.generation = next;
                self.sequence = 0;
                self.offset = 0;
                self.last_checkpoint = Instant::now();
                true
            }
            Err(e) => {
                self.fail(format!("a checkpoint failed: {e}"));
                false
            }
        }
    }
}

/// A new store's first generation: random, so that a journal left beside the file by another
/// store (one deleted without its journal) has no record of it.
fn first_generation() -> u64 {
    let mut bytes = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // No system randomness: the clock still sets it apart from an earlier store's.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos as u64).to_le_bytes();
    }
    // Half the range: the generations that follow have room to count up.
    u64::from_le_bytes(bytes) >> 1
}

/// Applies one record's changes to the replay's transaction.
///
/// redb's durable state is the one the records were written on, unless redb made later commits
/// durable itself (when it is closed after the journal failed): then the first records are
/// applied again on a state that holds them, which changes nothing (they hold the values
/// written, and the later records set the later ones again), except that a table the state no
/// longer has (deleted by a later record) cannot take their items: those are skipped, as the
/// deletion would remove them anyway. On the state the records were written on, a write to a
/// missing table is never recorded (it is refused).
fn replay(tables: &mut Tables<'_>, record: &[u8]) -> Result<()> {
    let mut changes = Decoder { rest: record };
    while let Some(change) = changes.next() {
        match change? {
            Change::Put {
                table,
                pk,
                sk,
                value,
            } => {
                if tables.exists(table)? {
                    tables.items(table)?.insert((pk, sk), value).db()?;
                }
            }
            Change::Remove { table, pk, sk } => {
                if tables.exists(table)? {
                    tables.items(table)?.remove((pk, sk)).db()?;
                }
            }
            Change::CreateTable(table) => tables.create_table(table).map_err(torn)?,
            Change::DeleteTable(table) => tables.delete_table(table).map_err(torn)?,
        }
    }
    Ok(())
}

fn torn(failed: super::db::Failed<Error>) -> Error {
    match failed {
        super::db::Failed::Refused(e) | super::db::Failed::Torn(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes() -> Changes {
        let mut changes = Changes::default();
        changes.create_table("app-data");
        changes.put("app-data", "TENANT#a", "todo#1", b"\x00\x01value");
        changes.remove("app-data", "TENANT#a", "todo#0");
        changes.delete_table("old-table");
        changes
    }

    #[test]
    fn changes_read_back_as_written() {
        let changes = changes();
        let mut decoder = Decoder {
            rest: changes.body(),
        };
        let read: Vec<_> = std::iter::from_fn(|| decoder.next())
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(
            read,
            vec![
                Change::CreateTable("app-data"),
                Change::Put {
                    table: "app-data",
                    pk: "TENANT#a",
                    sk: "todo#1",
                    value: b"\x00\x01value",
                },
                Change::Remove {
                    table: "app-data",
                    pk: "TENANT#a",
                    sk: "todo#0",
                },
                Change::DeleteTable("old-table"),
            ]
        );
    }

    #[test]
    fn a_change_cut_short_is_damage() {
        let changes = changes();
        for cut in 1..changes.body().len() {
            let mut decoder = Decoder {
                rest: &changes.body()[..cut],
            };
            let read: Result<Vec<_>> = std::iter::from_fn(|| decoder.next()).collect();
            // Cut between changes, what is there reads back; else the cut change is an error.
            if let Ok(read) = read {
                assert!(read.len() < 4, "cut at {cut}");
            }
        }
    }

    fn journal_file(records: &[(u64, u64, &[u8])]) -> (tempfile::TempDir, File) {
        let dir = tempfile::tempdir().unwrap();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("journal"))
            .unwrap();
        for (generation, sequence, body) in records {
            file.write_all(&header(*generation, *sequence, body))
                .unwrap();
            file.write_all(body).unwrap();
        }
        (dir, file)
    }

    #[test]
    fn records_are_read_in_sequence_of_their_generation() {
        let (_dir, mut file) = journal_file(&[(7, 0, b"a"), (7, 1, b"bb"), (7, 2, b"")]);
        assert_eq!(
            read_records(&mut file, 7).unwrap(),
            vec![b"a".to_vec(), b"bb".to_vec(), Vec::new()]
        );
        assert!(read_records(&mut file, 8).unwrap().is_empty());
    }

    #[test]
    fn reading_stops_at_a_stale_generation_or_a_gap_in_sequence() {
        // A pass of generation 8 overwrote the start of generation 7's records.
        let (_dir, mut file) = journal_file(&[(8, 0, b"new"), (7, 1, b"old"), (7, 2, b"old")]);
        assert_eq!(read_records(&mut file, 8).unwrap(), vec![b"new".to_vec()]);
        let (_dir, mut file) = journal_file(&[(8, 0, b"a"), (8, 2, b"c")]);
        assert_eq!(read_records(&mut file, 8).unwrap(), vec![b"a".to_vec()]);
    }

    #[test]
    fn reading_stops_at_a_torn_record() {
        let (_dir, mut file) = journal_file(&[(1, 0, b"kept"), (1, 1, b"torn record")]);
        let len = file.metadata().unwrap().len();
        // Cut anywhere in the second record: only the first is read.
        for cut in (HEADER as u64 + 4)..len {
            file.set_len(cut).unwrap();
            let read = read_records(&mut file, 1).unwrap();
            assert_eq!(read, vec![b"kept".to_vec()], "cut at {cut}");
        }
        // A flipped byte in a body fails its checksum.
        let (_dir, mut file) = journal_file(&[(1, 0, b"kept"), (1, 1, b"flipped")]);
        file.seek(SeekFrom::End(-2)).unwrap();
        file.write_all(b"X").unwrap();
        assert_eq!(read_records(&mut file, 1).unwrap(), vec![b"kept".to_vec()]);
    }

    #[test]
    fn the_journal_sits_beside_the_store() {
        assert_eq!(
            path_for(Path::new("/var/data/todo.redb")),
            PathBuf::from("/var/data/todo.redb-journal")
        );
    }
}
