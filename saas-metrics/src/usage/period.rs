//! The period a report covers: from a start, inclusive, to an end, exclusive, in UTC.

use std::fmt;

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde::{Serialize, Serializer};

use super::UsageError;

const DAY_MS: i64 = 86_400_000;

/// A half-open span of time, `[from, to)`, in milliseconds since the Unix epoch; either end may
/// be open. [`Period::default`] is all time.
///
/// ```
/// use saas_metrics::usage::Period;
/// # fn main() -> Result<(), saas_metrics::usage::UsageError> {
/// let november = Period::month("2026-11")?;
/// assert_eq!(november, Period::parse(Some("2026-11-01"), Some("2026-12-01T00:00:00Z"))?);
/// assert!(november.contains_ms(1_793_491_200_000));  // 2026-11-01T00:00:00Z
/// assert!(!november.contains_ms(1_796_083_200_000)); // 2026-12-01T00:00:00Z
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Period {
    from_ms: Option<i64>,
    to_ms: Option<i64>,
}

impl Period {
    /// `[from, to)`, each a date (`2026-11-01`, midnight UTC) or an RFC 3339 date-time
    /// (`2026-11-01T12:00:00Z`); `None` leaves that end open.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Period, UsageError> {
        let period = Period {
            from_ms: from.map(instant_ms).transpose()?,
            to_ms: to.map(instant_ms).transpose()?,
        };
        period.check()?;
        Ok(period)
    }

    /// One calendar month, UTC: `2026-11` is `[2026-11-01, 2026-12-01)`.
    pub fn month(month: &str) -> Result<Period, UsageError> {
        let bad = || UsageError::InvalidPeriod(format!("{month:?} is not a month like 2026-11"));
        let (year, mon) = month.split_once('-').ok_or_else(bad)?;
        if year.len() != 4 || mon.len() != 2 {
            return Err(bad());
        }
        let year: u32 = year.parse().map_err(|_| bad())?;
        let mon: u32 = mon.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&mon) {
            return Err(bad());
        }
        let (next_year, next_mon) = if mon == 12 {
            (year + 1, 1)
        } else {
            (year, mon + 1)
        };
        Period::parse(
            Some(&format!("{year:04}-{mon:02}-01")),
            Some(&format!("{next_year:04}-{next_mon:02}-01")),
        )
    }

    /// `[from_ms, to_ms)` in milliseconds since the epoch.
    pub fn from_millis(from_ms: Option<i64>, to_ms: Option<i64>) -> Result<Period, UsageError> {
        let period = Period { from_ms, to_ms };
        period.check()?;
        Ok(period)
    }

    fn check(&self) -> Result<(), UsageError> {
        match (self.from_ms, self.to_ms) {
            (Some(from), Some(to)) if to <= from => Err(UsageError::InvalidPeriod(format!(
                "it ends ({}) before it starts ({})",
                rfc3339(to),
                rfc3339(from)
            ))),
            _ => Ok(()),
        }
    }

    /// The start, inclusive, in milliseconds since the epoch.
    pub fn from_ms(&self) -> Option<i64> {
        self.from_ms
    }

    /// The end, exclusive, in milliseconds since the epoch.
    pub fn to_ms(&self) -> Option<i64> {
        self.to_ms
    }

    /// Whether the instant `ms` (milliseconds since the epoch) falls in the period.
    pub fn contains_ms(&self, ms: i64) -> bool {
        self.from_ms.is_none_or(|from| ms >= from) && self.to_ms.is_none_or(|to| ms < to)
    }
}

impl fmt::Display for Period {
    /// For people: `2026-11-01 to 2026-12-01` (dates where both ends are at midnight UTC, else
    /// date-times), `since ...`, `until ...` or `all time`; the end is exclusive.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dates = [self.from_ms, self.to_ms]
            .iter()
            .flatten()
            .all(|ms| ms.rem_euclid(DAY_MS) == 0);
        let show = |ms: i64| {
            let text = rfc3339(ms);
            match dates {
                true => text.get(..10).unwrap_or(&text).to_owned(),
                false => text,
            }
        };
        match (self.from_ms, self.to_ms) {
            (Some(from), Some(to)) => write!(f, "{} to {}", show(from), show(to)),
            (Some(from), None) => write!(f, "since {}", show(from)),
            (None, Some(to)) => write!(f, "until {}", show(to)),
            (None, None) => f.write_str("all time"),
        }
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Period", 2)?;
        st.serialize_field("from", &self.from_ms.map(rfc3339))?;
        st.serialize_field("to", &self.to_ms.map(rfc3339))?;
        st.end()
    }
}

fn instant_ms(text: &str) -> Result<i64, UsageError> {
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    let at = DateTime::from_str(&full, Format::DateTime).map_err(|_| {
        UsageError::InvalidPeriod(format!(
            "{:?} is not a date (2026-11-01) or an RFC 3339 date-time (2026-11-01T00:00:00Z)",
            text.chars().take(64).collect::<String>()
        ))
    })?;
    at.to_millis()
        .map_err(|_| UsageError::InvalidPeriod(format!("{text:?} is out of range")))
}

pub(super) fn rfc3339(ms: i64) -> String {
    DateTime::from_millis(ms)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_end_where_the_next_begins() {
        let dec = Period::month("2026-12").unwrap();
        assert_eq!(
            dec,
            Period::parse(Some("2026-12-01"), Some("2027-01-01")).unwrap()
        );
        assert_eq!(dec.to_string(), "2026-12-01 to 2027-01-01");
        let noon = Period::parse(Some("2026-12-01T12:00:00Z"), Some("2027-01-01")).unwrap();
        assert_eq!(
            noon.to_string(),
            "2026-12-01T12:00:00Z to 2027-01-01T00:00:00Z"
        );
        assert_eq!(Period::default().to_string(), "all time");
    }

    #[test]
    fn bad_periods_are_typed_errors() {
        for bad in ["2026-13", "2026-1", "26-11", "2026-00", "november", ""] {
            assert!(
                matches!(Period::month(bad), Err(UsageError::InvalidPeriod(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Period::parse(Some("2026-12-01"), Some("2026-11-01")),
            Err(UsageError::InvalidPeriod(_))
        ));
        assert!(matches!(
            Period::parse(Some("2026-11-01"), Some("2026-11-01")),
            Err(UsageError::InvalidPeriod(_))
        ));
        assert!(matches!(
            Period::parse(Some("yesterday"), None),
            Err(UsageError::InvalidPeriod(_))
        ));
    }

    #[test]
    fn open_ends_contain_everything_on_their_side() {
        let from = Period::parse(Some("2026-11-01T12:00:00Z"), None).unwrap();
        assert!(from.contains_ms(i64::MAX));
        assert!(!from.contains_ms(0));
        assert!(Period::default().contains_ms(i64::MIN));
    }
}
