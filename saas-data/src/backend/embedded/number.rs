//! DynamoDB numbers: exact decimals, compared and added without going through `f64`.

use std::cmp::Ordering;
use std::fmt;

/// The most significant digits DynamoDB keeps.
pub(super) const MAX_DIGITS: usize = 38;
/// The smallest exponent of a non-zero number, as `0.d… × 10^exp` (1E-130).
const MIN_EXP: i64 = -129;
/// The largest exponent of a number, as `0.d… × 10^exp` (9.99…E+125).
const MAX_EXP: i64 = 126;

/// A decimal number: `±0.d₁d₂…dₙ × 10^exp`, with `d₁` and `dₙ` non-zero (no digits: zero).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Decimal {
    negative: bool,
    /// Significant digits (0-9), without leading or trailing zeros.
    digits: Vec<u8>,
    exp: i64,
}

impl Decimal {
    const ZERO: Decimal = Decimal {
        negative: false,
        digits: Vec::new(),
        exp: 0,
    };

    /// Parses a number as DynamoDB writes them: `[+-]digits[.digits][(e|E)[+-]digits]`, at least
    /// one mantissa digit. `None` for anything else.
    pub(super) fn parse(s: &str) -> Option<Decimal> {
        let bytes = s.as_bytes();
        let (negative, rest) = match bytes.split_first() {
            Some((b'-', rest)) => (true, rest),
            Some((b'+', rest)) => (false, rest),
            _ => (false, bytes),
        };
        let (mantissa, exponent) = match rest.iter().position(|b| matches!(b, b'e' | b'E')) {
            Some(at) => (rest.get(..at)?, Some(rest.get(at + 1..)?)),
            None => (rest, None),
        };
        let (int, frac) = match mantissa.iter().position(|&b| b == b'.') {
            Some(at) => (mantissa.get(..at)?, mantissa.get(at + 1..)?),
            None => (mantissa, &[][..]),
        };
        if int.len() + frac.len() == 0 || !int.iter().chain(frac).all(u8::is_ascii_digit) {
            return None;
        }
        let exp = match exponent {
            Some(e) => parse_exponent(e)?,
            None => 0,
        };
        let point = i64::try_from(int.len()).ok()?;
        let all = int.iter().chain(frac).map(|b| b - b'0');
        Decimal::from_digits(negative, all.collect(), point.checked_add(exp)?)
    }

    /// `±0.digits × 10^exp`, normalized. `None` when the exponent overflows.
    fn from_digits(negative: bool, mut digits: Vec<u8>, exp: i64) -> Option<Decimal> {
        let leading = digits.iter().take_while(|&&d| d == 0).count();
        let exp = exp.checked_sub(i64::try_from(leading).ok()?)?;
        digits.drain(..leading);
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            return Some(Decimal::ZERO);
        }
        Some(Decimal {
            negative,
            digits,
            exp,
        })
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Whether DynamoDB can store it: at most 38 significant digits, 1E-130 ≤ |n| < 1E+126.
    pub(super) fn is_storable(&self) -> bool {
        self.is_zero()
            || (self.digits.len() <= MAX_DIGITS && (MIN_EXP..=MAX_EXP).contains(&self.exp))
    }

    /// The exact sum. `None` when the operands are not storable (so the digits stay few).
    pub(super) fn checked_add(&self, other: &Decimal) -> Option<Decimal> {
        if !self.is_storable() || !other.is_storable() {
            return None;
        }
        if self.is_zero() {
            return Some(other.clone());
        }
        if other.is_zero() {
            return Some(self.clone());
        }
        // Both as integers × 10^low.
        let low = (self.exp - self.len()).min(other.exp - other.len());
        let a = self.scaled(low)?;
        let b = other.scaled(low)?;
        let width = a.len().max(b.len());
        let (a, b) = (pad(a, width), pad(b, width));
        let (negative, digits) = if self.negative == other.negative {
            (self.negative, add_digits(&a, &b))
        } else {
            match a.cmp(&b) {
                Ordering::Equal => return Some(Decimal::ZERO),
                Ordering::Greater => (self.negative, sub_digits(&a, &b)),
                Ordering::Less => (other.negative, sub_digits(&b, &a)),
            }
        };
        let exp = low.checked_add(i64::try_from(digits.len()).ok()?)?;
        Decimal::from_digits(negative, digits, exp)
    }

    fn len(&self) -> i64 {
        // At most 38 digits when storable; a parsed string's length always fits.
        i64::try_from(self.digits.len()).unwrap_or(i64::MAX)
    }

    /// The digits of the integer `self / 10^low` (`low` at most the last digit's exponent).
    fn scaled(&self, low: i64) -> Option<Vec<u8>> {
        let zeros = usize::try_from(self.exp - self.len() - low).ok()?;
        let mut digits = self.digits.clone();
        digits.resize(digits.len() + zeros, 0);
        Some(digits)
    }
}

fn parse_exponent(e: &[u8]) -> Option<i64> {
    let (negative, digits) = match e.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, e),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    Some(if negative { -value } else { value })
}

/// `digits` with leading zeros up to `width`.
fn pad(digits: Vec<u8>, width: usize) -> Vec<u8> {
    let mut padded = vec![0; width.saturating_sub(digits.len())];
    padded.extend(digits);
    padded
}

/// `a + b`, both `width` digits, most significant first.
fn add_digits(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len() + 1);
    let mut carry = 0;
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        let sum = x + y + carry;
        out.push(sum % 10);
        carry = sum / 10;
    }
    if carry > 0 {
        out.push(carry);
    }
    out.reverse();
    out
}

/// `a - b` for `a ≥ b`, both `width` digits, most significant first.
fn sub_digits(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0;
    for (&x, &y) in a.iter().rev().zip(b.iter().rev()) {
        let take = y + borrow;
        if x >= take {
            out.push(x - take);
            borrow = 0;
        } else {
            out.push(x + 10 - take);
            borrow = 1;
        }
    }
    out.reverse();
    out
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let sign = |d: &Decimal| match (d.is_zero(), d.negative) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        };
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
        // Same sign, both normalized: the larger exponent is the larger magnitude, then digits.
        let magnitude = self
            .exp
            .cmp(&other.exp)
            .then_with(|| self.digits.cmp(&other.digits));
        if self.negative {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Plain notation, as DynamoDB returns numbers: `-12.5`, `1000`, `0.001`.
impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let mut s = String::with_capacity(self.digits.len() + 4);
        if self.negative {
            s.push('-');
        }
        let digit = |d: &u8| char::from(b'0' + d);
        if !self.is_storable() {
            // Never written out plainly: the exponent could ask for any number of zeros.
            s.push_str("0.");
            s.extend(self.digits.iter().map(digit));
            return write!(f, "{s}E{}", self.exp);
        }
        let len = self.digits.len();
        match usize::try_from(self.exp) {
            Err(_) | Ok(0) => {
                s.push_str("0.");
                let zeros = usize::try_from(self.exp.unsigned_abs()).unwrap_or(0);
                s.extend(std::iter::repeat_n('0', zeros));
                s.extend(self.digits.iter().map(digit));
            }
            Ok(int) if int >= len => {
                s.extend(self.digits.iter().map(digit));
                s.extend(std::iter::repeat_n('0', int - len));
            }
            Ok(int) => {
                let (whole, frac) = self.digits.split_at(int);
                s.extend(whole.iter().map(digit));
                s.push('.');
                s.extend(frac.iter().map(digit));
            }
        }
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn parses_dynamodb_numbers() {
        for bad in [
            "",
            "-",
            ".",
            "e5",
            "1e",
            "1e+",
            "1.2.3",
            "1,5",
            " 1",
            "0x10",
            "1e99999999999999999999",
            "NaN",
        ] {
            assert!(Decimal::parse(bad).is_none(), "{bad:?}");
        }
        assert_eq!(d("1e3"), d("1000"));
        assert_eq!(d("1E-2"), d("0.01"));
        assert_eq!(d("-0"), d("0"));
        assert_eq!(d("+007.50"), d("7.5"));
        assert_eq!(d(".5"), d("0.5"));
        assert_eq!(d("5."), d("5"));
        assert_eq!(d("0.000"), Decimal::ZERO);
    }

    #[test]
    fn compares_numerically() {
        let ascending = [
            "-1e10",
            "-10",
            "-9",
            "-1",
            "-0.5",
            "-1E-130",
            "0",
            "1E-130",
            "0.01",
            "0.5",
            "1",
            "9",
            "10",
            "10.5",
            "1e3",
            "99999999999999999999999999999999999999",
        ];
        for pair in ascending.windows(2) {
            assert!(d(pair[0]) < d(pair[1]), "{pair:?}");
            assert!(d(pair[1]) > d(pair[0]), "{pair:?}");
        }
        assert_eq!(d("1e3").cmp(&d("1000.000")), Ordering::Equal);
    }

    #[test]
    fn adds_exactly() {
        let sum = |a: &str, b: &str| d(a).checked_add(&d(b)).unwrap().to_string();
        assert_eq!(sum("1", "1"), "2");
        assert_eq!(sum("0", "-5"), "-5");
        assert_eq!(sum("10", "-10"), "0");
        assert_eq!(sum("-3", "1"), "-2");
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("1e3", "1"), "1001");
        assert_eq!(sum("999", "1"), "1000");
        assert_eq!(sum("1", "-0.001"), "0.999");
        assert_eq!(sum("-2.5", "-2.5"), "-5");
        let big = "9".repeat(37);
        assert_eq!(sum(&big, "1"), format!("1{}", "0".repeat(37)));
        assert_eq!(
            sum("12345678901234567890123456789012345678", "-1"),
            "12345678901234567890123456789012345677"
        );
        assert_eq!(
            sum("9223372036854775807", "9223372036854775807"),
            "18446744073709551614"
        );
        // Out of range operands are refused rather than expanded.
        assert!(d("1e200").checked_add(&d("1")).is_none());
        assert!(!d(&"1".repeat(39)).is_storable());
        assert!(d(&"1".repeat(38)).is_storable());
    }

    #[test]
    fn displays_plainly() {
        for (input, shown) in [
            ("1e3", "1000"),
            ("-0.0012300", "-0.00123"),
            ("12.50", "12.5"),
            ("0", "0"),
            ("1E-2", "0.01"),
        ] {
            assert_eq!(d(input).to_string(), shown);
            assert_eq!(d(shown), d(input));
        }
        let huge = d("-1.5e999999999999");
        assert_eq!(huge.to_string(), "-0.15E1000000000000");
        assert_eq!(d(&huge.to_string()), huge);
    }
}
