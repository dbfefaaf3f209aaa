//! Group commit: one writer thread applies every write request queued while the previous commit
//! was in flight in one redb write transaction, commits it once, then answers each request.
//!
//! A durable commit costs one `fsync`, whatever it holds (on a file, the batch's [`journal`]
//! record: see there why not redb's own), and redb runs one write transaction at a time.
//! Committing each write on its own caps durable writes at the disk's `fsync` rate; committing
//! together the writes that queued up during the last commit lets them share it, so
//! the more writers wait, the more each commit carries, and no writer waits longer than the
//! commit in flight plus its own.
//!
//! Each request keeps its own result. Its work ([`Job::apply`]) reads and decides everything
//! before it writes (see `ops`), so a refused request (a failed condition, an invalid update, a
//! missing table) writes nothing and the others of the batch go on; later requests see what
//! earlier ones wrote (queue order). A failure while writing ([`Failed::Torn`]: storage) rolls the
//! whole batch back, as does a failed commit: then every request of the batch is answered
//! `Unavailable` and none as written. Answers go out only after the commit returned, that is once
//! it is durable.
//!
//! Bounded: a commit takes at most [`MAX_BATCH`] requests or about [`MAX_BATCH_BYTES`] of items
//! (a larger request commits alone), and at most [`QUEUE`] requests wait for the writer; beyond
//! that callers wait to enqueue (backpressure). The thread sleeps in the queue when there is
//! nothing to write. When the store is dropped the queue closes: the writer answers what was
//! queued, then stops, and the drop waits for it (so the file is free when the drop returns).
//!
//! [`journal`]: super::journal

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use redb::Database;
use tokio::sync::{mpsc, oneshot};

use super::db::{Applied, Db, Failed, Tables};
use super::journal::{Changes, Journal};
use super::versions::{Touched, Versions};
use crate::error::{Error, Result};

/// At most this many requests go into one commit.
pub(super) const MAX_BATCH: usize = 256;
/// A commit takes requests until their items reach about this many bytes.
pub(super) const MAX_BATCH_BYTES: usize = 4 << 20;
/// At most this many requests wait for the writer; callers beyond them wait to enqueue.
pub(super) const QUEUE: usize = 2 * MAX_BATCH;

/// What became of a request in its batch's transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// It succeeded (it may have written).
    Done,
    /// It was refused and wrote nothing.
    Refused,
    /// It failed while writing: the transaction must be rolled back.
    Torn,
}

/// A write request waiting for its commit.
pub(super) trait Job: Send {
    /// About how many bytes it writes, for the batch's budget.
    fn bytes(&self) -> usize;
    /// What it writes to, for the change counters.
    fn touched(&self) -> &Touched;
    /// Applies the request to the batch's transaction, keeping its own result.
    fn apply(&mut self, tables: &mut Tables<'_>) -> Step;
    /// Answers the caller: with its own result when the batch committed (`lost` is `None`),
    /// else `Unavailable` with `lost` as the reason (or its own error, if it broke the batch).
    fn answer(self: Box<Self>, lost: Option<&str>);
}

/// A request as queued: its work, then its result, and where the answer goes.
pub(super) struct Request<T, E, F> {
    work: Option<F>,
    bytes: usize,
    touched: Touched,
    result: Option<std::result::Result<T, E>>,
    torn: bool,
    reply: oneshot::Sender<std::result::Result<T, E>>,
}

/// A request and the receiver of its answer.
pub(super) fn request<T, E, F>(
    bytes: usize,
    touched: Touched,
    work: F,
) -> (
    Request<T, E, F>,
    oneshot::Receiver<std::result::Result<T, E>>,
) {
    let (reply, answer) = oneshot::channel();
    let request = Request {
        work: Some(work),
        bytes,
        touched,
        result: None,
        torn: false,
        reply,
    };
    (request, answer)
}

impl<T, E, F> Job for Request<T, E, F>
where
    T: Send,
    E: From<Error> + Send,
    F: FnOnce(&mut Tables<'_>) -> Applied<T, E> + Send,
{
    fn bytes(&self) -> usize {
        self.bytes
    }

    fn touched(&self) -> &Touched {
        &self.touched
    }

    fn apply(&mut self, tables: &mut Tables<'_>) -> Step {
        let Some(work) = self.work.take() else {
            return Step::Refused;
        };
        let (result, step) = match work(tables) {
            Ok(value) => (Ok(value), Step::Done),
            Err(Failed::Refused(e)) => (Err(e), Step::Refused),
            Err(Failed::Torn(e)) => {
                self.torn = true;
                (Err(E::from(e)), Step::Torn)
            }
        };
        self.result = Some(result);
        step
    }

    fn answer(self: Box<Self>, lost: Option<&str>) {
        let Request {
            result,
            torn,
            reply,
            ..
        } = *self;
        let result = match (lost, result) {
            (None, Some(result)) => result,
            (Some(_), Some(Err(e))) if torn => Err(e),
            (Some(why), _) => Err(E::from(Error::Unavailable(why.to_owned().into()))),
            (None, None) => Err(E::from(Error::internal("a queued write was not applied"))),
        };
        // A caller that has gone (its future dropped) is not told; its write stands or not as
        // the commit went, as for a DynamoDB request whose caller stopped waiting.
        let _ = reply.send(result);
    }
}

/// Commits and the requests they carried, since the store was opened.
#[derive(Debug, Default)]
pub(super) struct Stats {
    commits: AtomicU64,
    requests: AtomicU64,
    checkpoints: AtomicU64,
}

impl Stats {
    /// `(durable commits, requests they carried)`.
    #[cfg(test)]
    pub(super) fn get(&self) -> (u64, u64) {
        (
            self.commits.load(Ordering::Relaxed),
            self.requests.load(Ordering::Relaxed),
        )
    }

    /// Checkpoints made while the store was open (the one at its close not counted).
    #[cfg(test)]
    pub(super) fn checkpoints(&self) -> u64 {
        self.checkpoints.load(Ordering::Relaxed)
    }
}

/// Applies `batch` (in order) in one write transaction, commits it once, then answers each
/// request; `batch` is empty afterwards. A batch in which nothing succeeded is rolled back
/// rather than committed: there is nothing to make durable.
///
/// With a `journal` (a file store), the transaction is committed to redb without being made
/// durable, after what it changed has been appended to the journal and synced; without one (in
/// memory), the commit itself is the durable step.
///
/// Once a commit has returned (even with an error: what it left is not known), the change
/// counters of everything the batch touched are bumped, before any request is answered, so a
/// reader that learns of a write can never see the counters from before it.
pub(super) fn commit(
    db: &Database,
    batch: &mut Vec<Box<dyn Job>>,
    stats: &Stats,
    versions: &Versions,
    journal: Option<&mut Journal>,
) {
    let lost = match transact(db, batch, versions, journal) {
        Ok(false) => None,
        Ok(true) => {
            stats.commits.fetch_add(1, Ordering::Relaxed);
            stats
                .requests
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            None
        }
        Err(why) => Some(why),
    };
    for job in batch.drain(..) {
        job.answer(lost.as_deref());
    }
}

/// The transaction of [`commit`]: `Ok(true)` when it committed, `Ok(false)` when there was
/// nothing to commit, or why every request of the batch is lost.
fn transact(
    db: &Database,
    batch: &mut [Box<dyn Job>],
    versions: &Versions,
    mut journal: Option<&mut Journal>,
) -> std::result::Result<bool, String> {
    if let Some(why) = journal.as_deref().and_then(Journal::failed) {
        return Err(why.to_owned());
    }
    let mut txn = db
        .begin_write()
        .db()
        .map_err(|e| format!("cannot begin a write: {e}"))?;
    if journal.is_some() {
        txn.set_durability(Journal::durability())
            .map_err(|e| format!("cannot begin a write: {e}"))?;
    }
    let changes = journal.as_deref_mut().map(Journal::take_changes);
    let (wrote, torn, changes) = apply_all(&txn, batch, changes);
    let appended = match (journal.as_deref_mut(), changes) {
        (Some(journal), Some(mut changes)) => {
            let appended = if torn || !wrote || changes.is_empty() {
                Ok(())
            } else {
                journal.append(&mut changes)
            };
            journal.give_back(changes);
            appended
        }
        _ => Ok(()),
    };
    if torn || !wrote || appended.is_err() {
        // Nothing of it is kept; a failed rollback changes nothing for the callers.
        let _ = txn.abort();
        return match appended {
            Err(why) => Err(why),
            Ok(()) if torn => Err("rolled back: a write committed with it failed".to_owned()),
            Ok(()) => Ok(false),
        };
    }
    let committed = txn.commit().db();
    for job in batch.iter() {
        versions.bump(job.touched());
    }
    committed.map(|()| true).map_err(|e| {
        tracing::error!(error = %e, requests = batch.len(), "commit failed");
        let why = format!("commit failed: {e}");
        if let Some(journal) = journal {
            // The journal holds the batch, redb does not: the store is out of step with its
            // journal until it is opened again.
            journal.fail(why.clone());
        }
        why
    })
}

/// Applies each job of `batch` in order, its tables open for all of them, until one leaves the
/// transaction torn: `(anything written, torn, what changed)`, what changed recorded in
/// `changes` if given (journaled). The tables are closed when it returns, before the
/// transaction is committed or rolled back.
fn apply_all(
    txn: &redb::WriteTransaction,
    batch: &mut [Box<dyn Job>],
    changes: Option<Changes>,
) -> (bool, bool, Option<Changes>) {
    let mut tables = match changes {
        Some(changes) => Tables::journaled(txn, changes),
        None => Tables::new(txn),
    };
    let mut wrote = false;
    let mut torn = false;
    for job in batch.iter_mut() {
        match job.apply(&mut tables) {
            Step::Done => wrote = true,
            Step::Refused => {}
            Step::Torn => {
                torn = true;
                break;
            }
        }
    }
    (wrote, torn, tables.into_changes())
}

/// The file store's writer: a thread draining the queue into commits.
pub(super) struct Writer {
    queue: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread on `db` and its `journal`.
    pub(super) fn start(
        db: Arc<Database>,
        journal: Journal,
        stats: Arc<Stats>,
        versions: Arc<Versions>,
    ) -> Result<Writer> {
        let (queue, requests) = mpsc::channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("saas-data-writer".into())
            .spawn(move || write_all(&db, journal, requests, &stats, &versions))
            .map_err(|e| Error::Unavailable(Box::new(e)))?;
        Ok(Writer {
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    /// Queues `job`, waiting while the queue is full.
    pub(super) async fn send(&self, job: Box<dyn Job>) -> Result<()> {
        let queue = self.queue.as_ref().ok_or_else(stopped)?;
        queue.send(job).await.map_err(|_| stopped())
    }
}

fn stopped() -> Error {
    Error::Unavailable("the store's writer has stopped".into())
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue lets the writer answer what is queued, then return.
        drop(self.queue.take());
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
            && thread.join().is_err()
        {
            tracing::error!("the store's writer thread panicked");
        }
    }
}

/// The writer thread: waits (asleep) for a request, takes it with every request queued behind
/// it up to the batch's bounds, commits them, checkpoints when one is due, and again, until the
/// queue is closed and empty; then checkpoints what is left, so that a store closed cleanly
/// has nothing to replay.
fn write_all(
    db: &Database,
    mut journal: Journal,
    mut requests: mpsc::Receiver<Box<dyn Job>>,
    stats: &Stats,
    versions: &Versions,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = requests.blocking_recv() {
        let mut bytes = first.bytes();
        batch.push(first);
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            let Ok(job) = requests.try_recv() else { break };
            bytes = bytes.saturating_add(job.bytes());
            batch.push(job);
        }
        commit(db, &mut batch, stats, versions, Some(&mut journal));
        if journal.due() && journal.checkpoint(db) {
            stats.checkpoints.fetch_add(1, Ordering::Relaxed);
        }
    }
    journal.checkpoint(db);
}
