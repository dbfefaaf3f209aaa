//! What one invocation has recorded and not yet flushed, laid out so that recording and
//! writing an EMF document allocate little: the metrics' names in one buffer, each kept both as
//! it is and as the JSON string a document holds, and one value of each metric inline.

use std::time::SystemTime;

use serde_json::Value;

use crate::sink::json;
use crate::unit::{Resolution, Unit};

/// How repeated values of one metric are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aggregation {
    /// One value, the sum (counters).
    Sum,
    /// Every value (gauges, timings): CloudWatch computes the statistics.
    Each,
}

/// The application's metrics, or the consumption metrics (dimensions of their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupKind {
    Application,
    Consumption,
}

/// The bytes kept for the names of an invocation's metrics when the first is recorded.
const NAMES_CAPACITY: usize = 256;

/// The names of the pending metrics, one after another in one buffer.
#[derive(Debug, Default)]
pub(crate) struct Names(Vec<u8>);

/// Where one name is in [`Names`] (offsets and lengths in bytes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct NameRef {
    /// The JSON string, quotes included.
    json: u32,
    json_len: u32,
    /// The name itself: the bytes between the quotes, unless escaping changed them.
    raw: u32,
    raw_len: u32,
    /// Its first 8 bytes (fewer padded with zeros), to tell most names apart at once.
    prefix: u64,
}

/// The most bytes one name takes in [`Names`]: 255 characters of 4 bytes, escaped to 6 bytes a
/// byte at most, with its quotes, and once more as it is.
const MAX_NAME_BYTES: usize = 255 * 4 * 7 + 2;

/// The first 8 bytes of `name`, or all of them padded with zeros.
#[inline]
pub(crate) fn prefix(name: &[u8]) -> u64 {
    match name.first_chunk::<8>() {
        Some(word) => u64::from_le_bytes(*word),
        None => name
            .iter()
            .rev()
            .fold(0, |acc, &b| (acc << 8) | u64::from(b)),
    }
}

impl Names {
    /// Keeps `name` (a valid metric name, whose [`prefix`] is `prefix`); `plain` if it needs
    /// no escaping ([`json::is_plain_ascii`]). `None` if the buffer is full (4 GiB of names).
    #[inline(always)]
    pub(crate) fn push(&mut self, name: &str, prefix: u64, plain: bool) -> Option<NameRef> {
        let buffer = &mut self.0;
        if buffer.capacity() == 0 {
            *buffer = Vec::with_capacity(NAMES_CAPACITY);
        }
        let start = buffer.len();
        if start > u32::MAX as usize - MAX_NAME_BYTES || name.len() > MAX_NAME_BYTES / 7 {
            return None;
        }
        if plain {
            buffer.push(b'"');
            buffer.extend_from_slice(name.as_bytes());
            buffer.push(b'"');
        } else {
            json::string(buffer, name);
        }
        let end = buffer.len();
        // Escaping only ever lengthens a string.
        let raw = if end - start == name.len() + 2 {
            (start + 1, end - 1)
        } else {
            buffer.extend_from_slice(name.as_bytes());
            (end, buffer.len())
        };
        // Within u32: checked above.
        Some(NameRef {
            json: start as u32,
            json_len: (end - start) as u32,
            raw: raw.0 as u32,
            raw_len: (raw.1 - raw.0) as u32,
            prefix,
        })
    }

    /// The name as a document holds it: a JSON string.
    #[inline]
    pub(crate) fn json(&self, name: &NameRef) -> &[u8] {
        let start = name.json as usize;
        self.0
            .get(start..start + name.json_len as usize)
            .unwrap_or_default()
    }

    /// The name itself.
    #[inline]
    pub(crate) fn raw(&self, name: &NameRef) -> &[u8] {
        let start = name.raw as usize;
        self.0
            .get(start..start + name.raw_len as usize)
            .unwrap_or_default()
    }

    /// The name itself, as text.
    pub(crate) fn text(&self, name: &NameRef) -> &str {
        // Whole names were put in: always UTF-8.
        std::str::from_utf8(self.raw(name)).unwrap_or_default()
    }

    /// Whether `name` (whose [`prefix`] is `prefix`) is the one at `held`.
    #[inline(always)]
    pub(crate) fn is(&self, held: &NameRef, name: &[u8], prefix: u64) -> bool {
        held.raw_len as usize == name.len()
            && held.prefix == prefix
            // Up to 8 bytes, the prefix is the whole name.
            && (name.len() <= 8 || self.raw(held) == name)
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

/// One metric recorded in this invocation.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) name: NameRef,
    pub(crate) unit: Unit,
    pub(crate) resolution: Resolution,
    pub(crate) aggregation: Aggregation,
    pub(crate) values: Values,
}

/// A metric's values: a counter's sum or a gauge's first value inline, more in a `Vec`.
#[derive(Debug)]
pub(crate) enum Values {
    One(f64),
    Many(Vec<f64>),
}

impl Values {
    pub(crate) fn as_slice(&self) -> &[f64] {
        match self {
            Values::One(v) => std::slice::from_ref(v),
            Values::Many(v) => v,
        }
    }

    /// Adds `value` to those kept.
    pub(crate) fn push(&mut self, value: f64) {
        match self {
            Values::One(first) => *self = Values::Many(vec![*first, value]),
            Values::Many(all) => all.push(value),
        }
    }
}

/// The metrics of one group, and when the group was started (groups are flushed in that order).
#[derive(Debug, Default)]
pub(crate) struct List {
    pub(crate) metrics: Vec<Pending>,
    started: u32,
}

/// Metrics with dimensions or a timestamp of their own: those of one kind with the same ones
/// share a document.
#[derive(Debug)]
pub(crate) struct PendingGroup {
    pub(crate) kind: GroupKind,
    pub(crate) extra: Vec<(String, String)>,
    pub(crate) timestamp: Option<SystemTime>,
    pub(crate) list: List,
}

impl PendingGroup {
    /// Whether a metric of `kind` with these dimensions and timestamp belongs here.
    #[inline]
    pub(crate) fn is_for(
        &self,
        kind: GroupKind,
        extra: &[(String, String)],
        timestamp: Option<SystemTime>,
    ) -> bool {
        self.kind == kind && self.timestamp == timestamp && self.extra == extra
    }
}

/// One group of pending metrics, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GroupRef<'a> {
    pub(crate) kind: GroupKind,
    pub(crate) extra: &'a [(String, String)],
    pub(crate) timestamp: Option<SystemTime>,
    pub(crate) metrics: &'a [Pending],
}

/// Everything an invocation holds between flushes.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The application's metrics with no dimension or timestamp of their own: most of them.
    pub(crate) application: List,
    /// The consumption metrics (never with dimensions or timestamps of their own).
    pub(crate) consumption: List,
    /// The other application metrics, a group for each set of own dimensions and timestamp.
    pub(crate) groups: Vec<PendingGroup>,
    /// Groups started since the last flush.
    started: u32,
    /// The names of the pending metrics of every group.
    pub(crate) names: Names,
    /// The invocation's dimensions, in the order set.
    pub(crate) dimensions: Vec<(String, String)>,
    /// The handler's properties, sorted by key; the crate's (`tenant_id`, `tier`) are added
    /// when written.
    pub(crate) properties: Vec<(String, Value)>,
    /// The bytes the handler's properties take in an EMF document.
    pub(crate) properties_bytes: usize,
    /// Values held (a counter is one), against the invocation's bound.
    pub(crate) values: usize,
}

impl State {
    /// Where property `key` is (`Ok`) or would go (`Err`) in [`State::properties`].
    pub(crate) fn property(&self, key: &str) -> Result<usize, usize> {
        self.properties
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    #[inline]
    pub(crate) fn has_property(&self, key: &str) -> bool {
        !self.properties.is_empty() && self.property(key).is_ok()
    }

    /// Whether a pending metric is called `name`.
    pub(crate) fn has_metric(&self, name: &str) -> bool {
        let prefix = prefix(name.as_bytes());
        let held = |list: &List| {
            list.metrics
                .iter()
                .any(|m| self.names.is(&m.name, name.as_bytes(), prefix))
        };
        held(&self.application)
            || held(&self.consumption)
            || self.groups.iter().any(|g| held(&g.list))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.application.metrics.is_empty()
            && self.consumption.metrics.is_empty()
            && self.groups.iter().all(|g| g.list.metrics.is_empty())
    }

    /// The list of the application's or the consumption metrics without dimensions or a
    /// timestamp of their own, with the names and the count of values, started if empty.
    pub(crate) fn plain_list(&mut self, kind: GroupKind) -> (&mut List, &mut Names, &mut usize) {
        let list = match kind {
            GroupKind::Application => &mut self.application,
            GroupKind::Consumption => &mut self.consumption,
        };
        if list.metrics.is_empty() {
            self.started += 1;
            list.started = self.started;
        }
        (list, &mut self.names, &mut self.values)
    }

    /// The list of a group with its own dimensions or timestamp, started (and the group made)
    /// if need be, with the names and the count of values.
    pub(crate) fn group_list(
        &mut self,
        kind: GroupKind,
        extra: Vec<(String, String)>,
        timestamp: Option<SystemTime>,
    ) -> (&mut List, &mut Names, &mut usize) {
        let at = match self
            .groups
            .iter()
            .position(|g| g.is_for(kind, &extra, timestamp))
        {
            Some(at) => at,
            None => {
                self.groups.push(PendingGroup {
                    kind,
                    extra,
                    timestamp,
                    list: List::default(),
                });
                self.groups.len() - 1
            }
        };
        // In bounds: found or just pushed.
        let group = &mut self.groups[at];
        if group.list.metrics.is_empty() {
            self.started += 1;
            group.list.started = self.started;
        }
        (&mut group.list, &mut self.names, &mut self.values)
    }

    /// Calls `each` with every group that holds metrics, in the order they were started,
    /// until one fails.
    pub(crate) fn try_each_group<'a, E>(
        &'a self,
        mut each: impl FnMut(GroupRef<'a>) -> Result<(), E>,
    ) -> Result<(), E> {
        let plain = |kind, list: &'a List| GroupRef {
            kind,
            extra: &[],
            timestamp: None,
            metrics: &list.metrics,
        };
        let mut lists = [
            (&self.application, GroupKind::Application),
            (&self.consumption, GroupKind::Consumption),
        ];
        if lists[1].0.started < lists[0].0.started {
            lists.swap(0, 1);
        }
        let mut groups = self
            .groups
            .iter()
            .filter(|g| !g.list.metrics.is_empty())
            .peekable();
        for (list, kind) in lists {
            if list.metrics.is_empty() {
                continue;
            }
            while let Some(g) = groups.next_if(|g| g.list.started < list.started) {
                each(GroupRef {
                    kind: g.kind,
                    extra: &g.extra,
                    timestamp: g.timestamp,
                    metrics: &g.list.metrics,
                })?;
            }
            each(plain(kind, list))?;
        }
        for g in groups {
            each(GroupRef {
                kind: g.kind,
                extra: &g.extra,
                timestamp: g.timestamp,
                metrics: &g.list.metrics,
            })?;
        }
        Ok(())
    }

    /// Calls `each` with every group that holds metrics, in the order they were started.
    pub(crate) fn each_group<'a>(&'a self, mut each: impl FnMut(GroupRef<'a>)) {
        let Ok(()) = self.try_each_group(|group| {
            each(group);
            Ok::<(), std::convert::Infallible>(())
        });
    }

    /// Forgets the pending metrics (a flush); dimensions and properties stay.
    pub(crate) fn clear_metrics(&mut self) {
        self.application.metrics.clear();
        self.consumption.metrics.clear();
        self.groups.clear();
        self.started = 0;
        self.names.clear();
        self.values = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kept_as_they_are_and_as_json() {
        let mut names = Names::default();
        let held: Vec<(String, NameRef)> = ["Hits", "TodosCreated", "q\"uote\\d", "", "✓✓✓"]
            .iter()
            .map(|n| {
                (
                    n.to_string(),
                    names.push(n, prefix(n.as_bytes()), false).unwrap(),
                )
            })
            .collect();
        for (name, at) in &held {
            assert_eq!(names.text(at), name);
            assert_eq!(
                names.json(at),
                serde_json::to_string(name).unwrap().as_bytes()
            );
            for (other, _) in &held {
                let same = names.is(at, other.as_bytes(), prefix(other.as_bytes()));
                assert_eq!(same, name == other, "{name:?} and {other:?}");
            }
        }
        // Same length, same first 8 bytes, different after.
        let a = names
            .push("TodosCreatedA", prefix(b"TodosCreatedA"), true)
            .unwrap();
        assert!(!names.is(&a, b"TodosCreatedB", prefix(b"TodosCreatedB")));
        assert!(names.is(&a, b"TodosCreatedA", prefix(b"TodosCreatedA")));
        // Shorter names are padded with zeros: the length tells "ab" from "ab\0".
        assert_eq!(prefix(b"ab"), prefix(b"ab\0"));
        let ab = names.push("ab", prefix(b"ab"), true).unwrap();
        assert!(!names.is(&ab, b"ab\0", prefix(b"ab\0")));
    }
}
