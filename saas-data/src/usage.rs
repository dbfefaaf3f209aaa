//! Consumed capacity: what every operation cost, reported with its tenant.

use std::fmt;
use std::sync::{Arc, Mutex};

use saas_core::TenantId;

/// Read and write capacity units, as DynamoDB reports them in `ConsumedCapacity`.
///
/// The embedded backend computes them with DynamoDB's rules (reads: 4 KB units, halved for
/// eventually consistent reads; writes: 1 KB units; transactions: twice), so local figures match
/// what the same calls cost on DynamoDB.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Capacity {
    /// Read capacity units.
    pub read_units: f64,
    /// Write capacity units.
    pub write_units: f64,
}

impl Capacity {
    /// `read` RCUs and `write` WCUs.
    pub fn new(read_units: f64, write_units: f64) -> Self {
        Self {
            read_units,
            write_units,
        }
    }

    /// Whether nothing was consumed.
    pub fn is_zero(&self) -> bool {
        self.read_units == 0.0 && self.write_units == 0.0
    }
}

impl std::ops::Add for Capacity {
    type Output = Capacity;
    fn add(self, rhs: Capacity) -> Capacity {
        Capacity::new(
            self.read_units + rhs.read_units,
            self.write_units + rhs.write_units,
        )
    }
}

impl std::ops::AddAssign for Capacity {
    fn add_assign(&mut self, rhs: Capacity) {
        *self = *self + rhs;
    }
}

/// Which kind of operation consumed capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// A single-item read.
    Get,
    /// A single-item write (create, upsert, replace).
    Put,
    /// A partial update.
    Update,
    /// A single-item delete.
    Delete,
    /// A query page.
    Query,
    /// A batch read.
    BatchGet,
    /// A batch write (puts and deletes).
    BatchWrite,
    /// A transactional write.
    Transaction,
}

impl Operation {
    /// A short lowercase name (`"get"`, `"batch_write"`, ...), fit for a metric dimension.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Get => "get",
            Operation::Put => "put",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Query => "query",
            Operation::BatchGet => "batch_get",
            Operation::BatchWrite => "batch_write",
            Operation::Transaction => "transaction",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One operation's consumption, handed to the [`UsageHook`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Usage<'a> {
    /// The tenant the capacity is charged to; `None` for system items.
    pub tenant: Option<&'a TenantId>,
    /// What was done.
    pub operation: Operation,
    /// The physical table.
    pub table: &'a str,
    /// What it consumed.
    pub capacity: Capacity,
}

/// Receives the capacity every operation consumed, with its tenant: the seam through which
/// `saas-metrics` (or anything else) meters DynamoDB per tenant without this crate depending on
/// it. Called on the task that ran the operation, after it completed; keep it cheap.
///
/// Any `Fn(&Usage) + Send + Sync` closure is a hook.
pub trait UsageHook: Send + Sync + 'static {
    /// Records one operation's consumption.
    fn record(&self, usage: &Usage<'_>);
}

impl<F> UsageHook for F
where
    F: Fn(&Usage<'_>) + Send + Sync + 'static,
{
    fn record(&self, usage: &Usage<'_>) {
        self(usage)
    }
}

/// A running total of capacity, shared by clones of a handle.
#[derive(Clone, Default)]
pub(crate) struct Totals(Arc<Mutex<Capacity>>);

impl Totals {
    pub(crate) fn add(&self, capacity: Capacity) {
        if let Ok(mut total) = self.0.lock() {
            *total += capacity;
        }
    }

    pub(crate) fn get(&self) -> Capacity {
        self.0.lock().map(|t| *t).unwrap_or_default()
    }
}

/// Read units for `bytes` read, DynamoDB's way (4 KB units, at least one; halved when eventually
/// consistent).
#[cfg_attr(not(feature = "embedded"), allow(dead_code))] // DynamoDB reports its own.
pub(crate) fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.div_ceil(4096).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

/// Write units for an item of `bytes` (1 KB units, at least one).
pub(crate) fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_dynamodb() {
        assert_eq!(read_units(0, true), 1.0);
        assert_eq!(read_units(4096, true), 1.0);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(read_units(4097, false), 1.0);
        assert_eq!(write_units(1), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(write_units(400 * 1024), 400.0);
    }

    #[test]
    fn closures_are_hooks() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let hook = move |u: &Usage<'_>| sink.lock().unwrap().push(u.operation);
        let tenant = TenantId::new("a").unwrap();
        hook.record(&Usage {
            tenant: Some(&tenant),
            operation: Operation::Get,
            table: "t",
            capacity: Capacity::new(0.5, 0.0),
        });
        assert_eq!(*seen.lock().unwrap(), vec![Operation::Get]);
    }
}
