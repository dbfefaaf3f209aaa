//! CloudWatch's rules for namespaces, names, dimensions and values.

use std::time::{Duration, SystemTime};

use crate::error::{Error, NameKind, Result};
use crate::sink::json;

/// The most dimensions in one dimension set.
pub const MAX_DIMENSIONS: usize = 30;
/// The longest namespace, metric name, dimension name or property key.
pub const MAX_NAME_LEN: usize = 255;
/// The longest dimension value.
pub const MAX_DIMENSION_VALUE_LEN: usize = 1024;
/// How far back a timestamp may be.
pub const MAX_AGE: Duration = Duration::from_secs(14 * 24 * 3600);
/// How far ahead a timestamp may be.
pub const MAX_AHEAD: Duration = Duration::from_secs(2 * 3600);

/// The key EMF reserves for its metadata.
const RESERVED: &str = "_aws";

fn check_len(kind: NameKind, value: &str, max: usize) -> Result<()> {
    // The common case at a glance: printable ASCII (so no control character, and one character
    // a byte), not only spaces (the only whitespace left), within `max` bytes.
    let bytes = value.as_bytes();
    if bytes.len() <= max && is_printable_ascii(bytes) && bytes.iter().any(|&b| b != b' ') {
        return Ok(());
    }
    if value.is_empty() {
        return Err(Error::invalid(kind, value, "empty"));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(kind, value, "too long"));
    }
    if value.trim().is_empty() {
        return Err(Error::invalid(kind, value, "only whitespace"));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(kind, value, "control character"));
    }
    Ok(())
}

/// Whether every byte is printable ASCII, `' '` to `'~'`: eight at a time, then one by one.
fn is_printable_ascii(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let (words, rest) = bytes.as_chunks::<8>();
    words.iter().all(|w| {
        let w = u64::from_le_bytes(*w);
        // A byte below 0x20 (exact as a whole: a borrow only marks a byte above one that is),
        // or one of 0x7f and above (0x7f + 1 reaches the high bit; 0x80 and above have it).
        let below_space = w.wrapping_sub(ONES * 0x20) & !w;
        let delete_or_above = ((w & !HIGH) + ONES) | w;
        (below_space | delete_or_above) & HIGH == 0
    }) && rest.iter().all(|b| (b' '..=b'~').contains(b))
}

/// 1-255 of `0-9 A-Z a-z . - _ / # :` and space, not starting with `:` nor `AWS/` (reserved for
/// AWS services).
pub(crate) fn namespace(value: &str) -> Result<()> {
    check_len(NameKind::Namespace, value, MAX_NAME_LEN)?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c);
    if !value.chars().all(allowed) {
        return Err(Error::invalid(
            NameKind::Namespace,
            value,
            "only 0-9 A-Z a-z . - _ / # : and space",
        ));
    }
    if value.starts_with(':') {
        return Err(Error::invalid(
            NameKind::Namespace,
            value,
            "starts with ':'",
        ));
    }
    if value.starts_with("AWS/") {
        return Err(Error::invalid(
            NameKind::Namespace,
            value,
            "AWS/ is reserved for AWS services",
        ));
    }
    Ok(())
}

/// 1-255 characters, not only whitespace, no control characters, not `_aws`.
pub(crate) fn metric(value: &str) -> Result<()> {
    check_len(NameKind::Metric, value, MAX_NAME_LEN)?;
    if value == RESERVED {
        return Err(Error::invalid(NameKind::Metric, value, "reserved by EMF"));
    }
    Ok(())
}

/// [`metric`], and whether the name is plain ASCII, which JSON takes as it is
/// ([`json::is_plain_ascii`]): most names, checked here in one pass.
#[inline(always)]
pub(crate) fn metric_is_plain(value: &str) -> Result<bool> {
    let plain = json::is_plain_ascii(value.as_bytes());
    if plain && value.len() <= MAX_NAME_LEN && value.bytes().any(|b| b != b' ') && value != RESERVED
    {
        return Ok(true);
    }
    metric(value).map(|()| plain)
}

/// 1-255 ASCII characters, not only whitespace, not starting with `:`, not `_aws`.
pub(crate) fn dimension_name(value: &str) -> Result<()> {
    check_len(NameKind::Dimension, value, MAX_NAME_LEN)?;
    if !value.is_ascii() {
        return Err(Error::invalid(NameKind::Dimension, value, "not ASCII"));
    }
    if value.starts_with(':') {
        return Err(Error::invalid(
            NameKind::Dimension,
            value,
            "starts with ':'",
        ));
    }
    if value == RESERVED {
        return Err(Error::invalid(
            NameKind::Dimension,
            value,
            "reserved by EMF",
        ));
    }
    Ok(())
}

/// 1-1024 ASCII characters, not only whitespace.
pub(crate) fn dimension_value(value: &str) -> Result<()> {
    check_len(NameKind::DimensionValue, value, MAX_DIMENSION_VALUE_LEN)?;
    if !value.is_ascii() {
        return Err(Error::invalid(NameKind::DimensionValue, value, "not ASCII"));
    }
    Ok(())
}

/// 1-255 characters, no control characters, not `_aws`.
pub(crate) fn property(value: &str) -> Result<()> {
    check_len(NameKind::Property, value, MAX_NAME_LEN)?;
    if value == RESERVED {
        return Err(Error::invalid(NameKind::Property, value, "reserved by EMF"));
    }
    Ok(())
}

/// Finite and within ±2^360 (CloudWatch refuses the rest).
#[inline]
pub(crate) fn value(metric: &str, value: f64) -> Result<()> {
    // 2^360 as an f64 (exact: a power of two).
    const LIMIT: f64 = 2.348_542_582_773_833_2e108;
    if value.is_finite() && value.abs() <= LIMIT {
        Ok(())
    } else {
        Err(invalid_value(metric, value))
    }
}

#[cold]
fn invalid_value(metric: &str, value: f64) -> Error {
    Error::InvalidValue {
        metric: metric.to_owned(),
        value,
    }
}

/// Within 14 days back and 2 hours ahead of `now`.
pub(crate) fn timestamp(at: SystemTime, now: SystemTime) -> Result<()> {
    match now.duration_since(at) {
        Ok(age) if age > MAX_AGE => Err(Error::TimestampOutOfRange("more than 14 days ago")),
        Ok(_) => Ok(()),
        Err(ahead) if ahead.duration() > MAX_AHEAD => Err(Error::TimestampOutOfRange(
            "more than 2 hours in the future",
        )),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_ascii_is_found_eight_bytes_at_a_time() {
        for b in 0u8..=255 {
            for at in 0..9 {
                let mut bytes = *b"abcdefghi";
                bytes[at] = b;
                assert_eq!(
                    is_printable_ascii(&bytes),
                    (0x20..=0x7e).contains(&b),
                    "{b:#x} at {at}"
                );
            }
        }
        assert!(is_printable_ascii(b""));
        assert!(!is_printable_ascii("caf\u{e9}s and more".as_bytes()));
    }

    proptest::proptest! {
        #[test]
        fn printable_ascii_agrees_with_the_plain_check(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            proptest::prop_assert_eq!(
                is_printable_ascii(&bytes),
                bytes.iter().all(|b| (b' '..=b'~').contains(b))
            );
        }

        #[test]
        fn the_fast_path_changes_no_verdict(s in "[ -~]{0,300}|\\PC{0,20}") {
            // What the checks said before the fast path.
            let slow = |max: usize| {
                !s.is_empty()
                    && s.chars().count() <= max
                    && !s.trim().is_empty()
                    && !s.chars().any(char::is_control)
            };
            proptest::prop_assert_eq!(metric(&s).is_ok(), slow(MAX_NAME_LEN) && s != "_aws");
            proptest::prop_assert_eq!(
                metric_is_plain(&s).ok(),
                metric(&s).ok().map(|()| s.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\'))
            );
            proptest::prop_assert_eq!(
                dimension_value(&s).is_ok(),
                slow(MAX_DIMENSION_VALUE_LEN) && s.is_ascii()
            );
        }
    }

    #[test]
    fn namespaces() {
        for ok in ["TodoApp", "Acme/Todo Service", "a.b-c_d#e:f"] {
            namespace(ok).unwrap();
        }
        for bad in [
            "",
            " ",
            ":x",
            "AWS/Lambda",
            "naïve",
            "a\tb",
            &"n".repeat(256),
        ] {
            assert!(namespace(bad).is_err(), "{bad:?}");
        }
        namespace(&"n".repeat(255)).unwrap();
    }

    #[test]
    fn metric_names() {
        metric("Requests").unwrap();
        metric("Latency p99 ✓").unwrap();
        metric(&"m".repeat(255)).unwrap();
        for bad in ["", "  ", "_aws", "a\nb", &"m".repeat(256)] {
            assert!(metric(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dimensions() {
        dimension_name("service").unwrap();
        for bad in ["", " ", ":x", "é", "_aws", &"d".repeat(256)] {
            assert!(dimension_name(bad).is_err(), "{bad:?}");
        }
        dimension_value(&"v".repeat(1024)).unwrap();
        for bad in ["", " ", "é", &"v".repeat(1025)] {
            assert!(dimension_value(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn values() {
        for ok in [0.0, -1.5, 1e108, -2e108, f64::MIN_POSITIVE] {
            value("m", ok).unwrap();
        }
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e109, -3e108] {
            assert!(value("m", bad).is_err(), "{bad}");
        }
        assert_eq!(2.348_542_582_773_833_2e108, 2f64.powi(360));
    }

    #[test]
    fn timestamps() {
        let now = SystemTime::now();
        timestamp(now, now).unwrap();
        timestamp(now - MAX_AGE + Duration::from_secs(1), now).unwrap();
        timestamp(now + MAX_AHEAD - Duration::from_secs(1), now).unwrap();
        assert!(timestamp(now - MAX_AGE - Duration::from_secs(1), now).is_err());
        assert!(timestamp(now + MAX_AHEAD + Duration::from_secs(1), now).is_err());
    }
}
