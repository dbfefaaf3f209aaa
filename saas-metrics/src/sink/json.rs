//! A small JSON writer for EMF documents: strings escaped as JSON requires, integers with
//! `itoa`, other numbers with `zmij` (the shortest text that reads back as the same `f64`, as
//! `ryu` gives; `serde_json`'s own float writer), appended straight to a byte buffer (or only
//! counted, to size a property).
//!
//! The text is what `serde_json` writes for the same values, byte for byte: `"`, `\` and the
//! control characters U+0000 to U+001F are escaped (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`,
//! else `\u00xx`), everything else, U+2028 and U+2029 included, is written as it is (valid JSON).

use serde_json::{Number, Value};

/// Where JSON text goes: a buffer, or [`Len`], which only counts.
pub(crate) trait Out {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
    /// Appends one byte.
    fn byte(&mut self, byte: u8);
}

impl Out for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    #[inline]
    fn byte(&mut self, byte: u8) {
        self.push(byte);
    }
}

/// Counts the bytes that would be written.
#[derive(Debug, Default)]
pub(crate) struct Len(pub(crate) usize);

impl Out for Len {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }

    #[inline]
    fn byte(&mut self, _: u8) {
        self.0 += 1;
    }
}

/// For each byte: 0 if it is written as it is, `u` for `\u00xx`, else the letter after `\`.
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether one of the 8 bytes of `word` is a control character, `"` or `\` (exact: a borrow can
/// only mark a byte above one that does match).
#[inline]
fn word_needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let q = word ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q;
    let s = word ^ (ONES * u64::from(b'\\'));
    let backslash = s.wrapping_sub(ONES) & !s;
    (below_space | quote | backslash) & HIGH != 0
}

/// Whether every byte is printable ASCII (`' '` to `'~'`) other than `"` and `\`: text that is
/// written between quotes as it is, one character a byte, with no control character.
#[inline(always)]
pub(crate) fn is_plain_ascii(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    all_words(
        bytes,
        |w| {
            // 0x7f and above: adding 1 to the low 7 bits reaches the high bit, or it is set.
            let delete_or_above = ((w & !HIGH) + ONES) | w;
            !word_needs_escape(w) && delete_or_above & HIGH == 0
        },
        |b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\',
    )
}

/// Whether `test` holds for every 8-byte word of `bytes`: whole words, then the last 8 bytes
/// (overlapping) for the rest; 4 to 7 bytes as two overlapping halves, each padded with spaces
/// (which pass every test here); fewer one by one with `byte`.
#[inline(always)]
fn all_words(bytes: &[u8], word: impl Fn(u64) -> bool, byte: impl Fn(u8) -> bool) -> bool {
    const SPACES: u64 = 0x2020_2020_0000_0000;
    if let Some(last) = bytes.last_chunk::<8>() {
        let (words, _) = bytes.as_chunks::<8>();
        words.iter().all(|w| word(u64::from_le_bytes(*w))) && word(u64::from_le_bytes(*last))
    } else if let (Some(first), Some(last)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        word(u64::from(u32::from_le_bytes(*first)) | SPACES)
            && word(u64::from(u32::from_le_bytes(*last)) | SPACES)
    } else {
        bytes.iter().all(|&b| byte(b))
    }
}

/// Whether `bytes` can be written between quotes as they are.
#[inline(always)]
fn is_clean(bytes: &[u8]) -> bool {
    all_words(
        bytes,
        |w| !word_needs_escape(w),
        |b| ESCAPE[usize::from(b)] == 0,
    )
}

/// Text for a JSON string.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Text<'a> {
    /// Known to need no escaping (the crate's own names).
    Plain(&'a str),
    /// Any text: escaped as needed.
    Any(&'a str),
}

impl<'a> Text<'a> {
    /// The text itself.
    pub(crate) fn as_str(self) -> &'a str {
        match self {
            Text::Plain(s) | Text::Any(s) => s,
        }
    }
}

/// `text` as a JSON string.
#[inline(always)]
pub(crate) fn text(out: &mut impl Out, text: Text<'_>) {
    match text {
        Text::Plain(s) => {
            out.byte(b'"');
            out.put(s.as_bytes());
            out.byte(b'"');
        }
        Text::Any(s) => string(out, s),
    }
}

/// `s` as a JSON string.
#[inline(always)]
pub(crate) fn string(out: &mut impl Out, s: &str) {
    out.byte(b'"');
    let bytes = s.as_bytes();
    if is_clean(bytes) {
        out.put(bytes);
    } else {
        escaped(out, bytes);
    }
    out.byte(b'"');
}

#[cold]
fn escaped(out: &mut impl Out, bytes: &[u8]) {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape = ESCAPE[usize::from(b)];
        if escape == 0 {
            continue;
        }
        // Only ASCII bytes are escaped, so every run cut here is whole UTF-8.
        out.put(bytes.get(start..i).unwrap_or_default());
        if escape == b'u' {
            out.put(b"\\u00");
            out.byte(HEX[usize::from(b >> 4)]);
            out.byte(HEX[usize::from(b & 0xf)]);
        } else {
            out.byte(b'\\');
            out.byte(escape);
        }
        start = i + 1;
    }
    out.put(bytes.get(start..).unwrap_or_default());
}

/// The largest magnitude written as an integer: every integer below it is exact in an `f64`.
const EXACT_INTEGERS: u64 = 9_000_000_000_000_000;

/// A metric value: an integer without a fraction (so `0.0` and `-0.0` are `0`), any other
/// finite value as the shortest text that reads back as the same `f64`; `null` for a value
/// that is not finite (never recorded: values are checked when recorded).
#[inline(always)]
pub(crate) fn metric_value(out: &mut impl Out, v: f64) {
    let i = v as i64;
    if i as f64 == v && i.unsigned_abs() < EXACT_INTEGERS {
        match u8::try_from(i) {
            // Small counts, the most common, without a buffer.
            Ok(d @ 0..=9) => out.byte(b'0' + d),
            Ok(d @ 10..=99) => out.put(&[b'0' + d / 10, b'0' + d % 10]),
            _ => out.put(itoa::Buffer::new().format(i).as_bytes()),
        }
    } else if v.is_finite() {
        out.put(zmij::Buffer::new().format_finite(v).as_bytes());
    } else {
        out.put(b"null");
    }
}

/// A count or a timestamp.
#[inline]
pub(crate) fn unsigned(out: &mut impl Out, v: u64) {
    out.put(itoa::Buffer::new().format(v).as_bytes());
}

/// A `serde_json` number, as `serde_json` writes it.
fn number(out: &mut impl Out, n: &Number) {
    if let Some(u) = n.as_u64() {
        out.put(itoa::Buffer::new().format(u).as_bytes());
    } else if let Some(i) = n.as_i64() {
        out.put(itoa::Buffer::new().format(i).as_bytes());
    } else {
        match n.as_f64() {
            Some(f) if f.is_finite() => out.put(zmij::Buffer::new().format_finite(f).as_bytes()),
            // Only with serde_json's `arbitrary_precision`: its own text.
            _ => out.put(n.to_string().as_bytes()),
        }
    }
}

/// Any JSON value (a property's).
pub(crate) fn value(out: &mut impl Out, v: &Value) {
    match v {
        Value::Null => out.put(b"null"),
        Value::Bool(true) => out.put(b"true"),
        Value::Bool(false) => out.put(b"false"),
        Value::Number(n) => number(out, n),
        Value::String(s) => string(out, s),
        Value::Array(items) => {
            out.byte(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.byte(b',');
                }
                value(out, item);
            }
            out.byte(b']');
        }
        Value::Object(map) => {
            out.byte(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.byte(b',');
                }
                string(out, key);
                out.byte(b':');
                value(out, item);
            }
            out.byte(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn text(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        write(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_escaped_as_serde_json_does() {
        for s in [
            "",
            "plain",
            "exactly8",
            "quote\" and backslash\\ inside a longer string",
            "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f} \u{7f}",
            "line\u{2028}para\u{2029}",
            "naïve ✓ 𝄞 \"𝄞\"",
            "\\\\\\\\\\\\\\\\\"",
            "12345678\"",
        ] {
            let got = text(|out| string(out, s));
            assert_eq!(got, serde_json::to_string(s).unwrap(), "{s:?}");
            assert_eq!(serde_json::from_str::<String>(&got).unwrap(), s);
            let mut len = Len::default();
            string(&mut len, s);
            assert_eq!(len.0, got.len());
        }
    }

    #[test]
    fn plain_ascii_is_found_in_every_position() {
        for b in 0u8..=255 {
            for at in 0..9 {
                let mut bytes = *b"abcdefghi";
                bytes[at] = b;
                let plain = (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\';
                assert_eq!(is_plain_ascii(&bytes), plain, "{b:#x} at {at}");
                assert_eq!(
                    is_plain_ascii(&bytes[..8]),
                    plain || at == 8,
                    "{b:#x} at {at}"
                );
            }
        }
    }

    #[test]
    fn each_byte_that_needs_escaping_is_found_in_every_position_of_a_word() {
        for b in 0u8..=0x7f {
            for at in 0..8 {
                let mut word = *b"abcdefgh";
                word[at] = b;
                let expected = b < 0x20 || b == b'"' || b == b'\\';
                assert_eq!(
                    word_needs_escape(u64::from_le_bytes(word)),
                    expected,
                    "{b:#x} at {at}"
                );
            }
        }
        // Bytes of multi-byte characters never need escaping.
        assert!(!word_needs_escape(u64::from_le_bytes(
            *"✓✓ab".as_bytes().first_chunk().unwrap()
        )));
    }

    #[test]
    fn metric_values_are_integers_or_shortest_round_trip_text() {
        for (v, expected) in [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (9.0, "9"),
            (10.0, "10"),
            (99.0, "99"),
            (100.0, "100"),
            (255.0, "255"),
            (-7.0, "-7"),
            (0.1, "0.1"),
            (8_999_999_999_999_999.0, "8999999999999999"),
            (1e300, "1e+300"),
            (-8_999_999_999_999_998.0, "-8999999999999998"),
            (9.0e15, "9000000000000000.0"),
            (5e-324, "5e-324"),
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
        ] {
            assert_eq!(text(|out| metric_value(out, v)), expected, "{v:e}");
        }
        // Beyond the exact integers, as serde_json writes them.
        for v in [1e16, -1e16, 2f64.powi(360), 123_456_789.125, f64::MAX] {
            let expected = serde_json::to_string(&v).unwrap();
            assert_eq!(text(|out| metric_value(out, v)), expected, "{v:e}");
        }
    }

    #[test]
    fn values_are_written_as_serde_json_does() {
        let v = json!({
            "a": [1, -2, 1.5, 1e300, u64::MAX, i64::MIN, null, true, false],
            "b": {"nested": "q\"\\\n"},
            "": "",
            "é": [[], {}],
        });
        let got = text(|out| value(out, &v));
        assert_eq!(got, serde_json::to_string(&v).unwrap());
        let mut len = Len::default();
        value(&mut len, &v);
        assert_eq!(len.0, got.len());
    }

    proptest! {
        #[test]
        fn any_string_is_written_as_serde_json_does(s in any::<String>()) {
            let got = text(|out| string(out, &s));
            prop_assert_eq!(&got, &serde_json::to_string(&s).unwrap());
            prop_assert_eq!(serde_json::from_str::<String>(&got).unwrap(), s);
        }

        #[test]
        fn plain_ascii_is_found_exactly(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
            let plain = bytes.iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
            prop_assert_eq!(is_plain_ascii(&bytes), plain);
        }

        #[test]
        fn words_needing_escapes_are_found_exactly(word in any::<u64>()) {
            let plain = word.to_le_bytes().iter().any(|&b| ESCAPE[usize::from(b)] != 0);
            prop_assert_eq!(word_needs_escape(word), plain);
        }

        #[test]
        fn any_finite_value_reads_back_exactly(v in any::<f64>().prop_filter("finite", |v| v.is_finite())) {
            let got = text(|out| metric_value(out, v));
            let back: f64 = got.parse().unwrap();
            prop_assert!(back.to_bits() == v.to_bits() || (back == 0.0 && v == 0.0), "{} -> {}", v, got);
            let parsed: f64 = serde_json::from_str(&got).unwrap();
            prop_assert_eq!(parsed, back);
        }
    }
}
