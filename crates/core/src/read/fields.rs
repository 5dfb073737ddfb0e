//! The entry members the classifier reads, where the scanner found them, and
//! how an entry is built from those places once its end is known.

use std::borrow::Cow;

use super::swar::copy_plain;
use super::{Entry, Item, ReadError, first_line, malformed_entry};
use crate::time::{Millis, parse_iso8601, parse_to_iso_string};

/// The entry members the classifier reads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Text,
    Time,
    Objects,
    Agent,
    Other,
}

impl Field {
    pub(super) fn of(key: &[u8]) -> Field {
        match key {
            b"text" => Field::Text,
            b"time" => Field::Time,
            b"objects" => Field::Objects,
            b"agentResourceId" => Field::Agent,
            _ => Field::Other,
        }
    }
}

/// Where a member's value sits, relative to the entry start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) from: usize,
    pub(super) to: usize,
    pub(super) string: bool,
    pub(super) escaped: bool,
}

#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fields {
    text: Option<Span>,
    time: Option<Span>,
    objects: Option<Span>,
    agent: Option<Span>,
    duplicate: bool,
}

impl Span {
    /// A value that is not a string: a nested array or object, or a scalar.
    pub(super) fn unquoted(from: usize, to: usize) -> Span {
        Span {
            from,
            to,
            string: false,
            escaped: false,
        }
    }
}

impl Fields {
    /// Where the `objects` value is, when it is an array or an object.
    pub(super) fn objects_span(&self) -> Option<(usize, usize)> {
        self.objects.filter(|s| !s.string).map(|s| (s.from, s.to))
    }

    /// The same fields with every position passed through `f`.
    pub(super) fn map(&self, f: impl Fn(usize) -> usize) -> Fields {
        let m = |s: Option<Span>| {
            s.map(|s| Span {
                from: f(s.from),
                to: f(s.to),
                ..s
            })
        };
        Fields {
            text: m(self.text),
            time: m(self.time),
            objects: m(self.objects),
            agent: m(self.agent),
            duplicate: self.duplicate,
        }
    }

    /// The string values among these (`text`, `time`, `agentResourceId`),
    /// as (opening quote, closing quote + 1); `(0, 0)` where there is none.
    pub(super) fn string_spans(&self) -> [(usize, usize); 3] {
        [self.text, self.time, self.agent].map(|s| match s {
            Some(s) if s.string => (s.from, s.to),
            _ => (0, 0),
        })
    }

    pub(super) fn set(&mut self, field: Field, span: Span) {
        let slot = match field {
            Field::Text => &mut self.text,
            Field::Time => &mut self.time,
            Field::Objects => &mut self.objects,
            Field::Agent => &mut self.agent,
            Field::Other => return,
        };
        if slot.is_some() {
            self.duplicate = true;
        }
        *slot = Some(span);
    }
}

/// The decoded string value of `span`, or why there is none.
fn string_value<'a>(
    bytes: &'a [u8],
    span: Span,
    index: u64,
    offset: u64,
) -> Result<Option<Cow<'a, str>>, ReadError> {
    if !span.string {
        return Ok(None);
    }
    let quoted = &bytes[span.from..span.to];
    if span.escaped {
        if let Some(s) = unescape_common(&quoted[1..quoted.len() - 1]) {
            return Ok(Some(Cow::Owned(s)));
        }
        return match serde_json::from_slice::<String>(quoted) {
            Ok(s) => Ok(Some(Cow::Owned(s))),
            Err(e) => Err(malformed_entry(index, offset, &first_line(&e.to_string()))),
        };
    }
    match std::str::from_utf8(&quoted[1..quoted.len() - 1]) {
        Ok(s) => Ok(Some(Cow::Borrowed(s))),
        Err(_) => Err(malformed_entry(
            index,
            offset,
            "a string is not valid UTF-8",
        )),
    }
}

/// A string member's value, found and checked by the reader, decoded when
/// asked for.
#[derive(Clone, Copy, Debug)]
pub struct RawString<'a> {
    /// With its quotes.
    quoted: &'a [u8],
    escaped: bool,
}

impl<'a> RawString<'a> {
    /// The decoded string (`None` only if it was never checked: the reader
    /// refuses the log at an invalid one).
    pub fn decode(&self) -> Option<Cow<'a, str>> {
        let span = Span {
            from: 0,
            to: self.quoted.len(),
            string: true,
            escaped: self.escaped,
        };
        string_value(self.quoted, span, 0, 0).ok().flatten()
    }
}

/// Decodes the body of a JSON string whose escapes are all of the
/// one-character kind (`\"`, `\\`, `\/`, `\n`, `\r`, `\t`, `\b`, `\f`): the
/// JSON that metrics and report lines carry in their text. Anything else
/// (`\u` escapes, a raw control character, invalid UTF-8, a bad escape) is
/// `None`, and left to `serde_json`, whose decoding is the reference and
/// whose error messages the document carries; for the rest both give the
/// same string.
fn unescape_common(body: &[u8]) -> Option<String> {
    // Room for the last whole word `copy_plain` appends before cutting it.
    let mut out = Vec::with_capacity(body.len() + 8);
    let mut i = 0;
    loop {
        let at = copy_plain(body, i, &mut out);
        if at == body.len() {
            break;
        }
        if body[at] != b'\\' {
            return None;
        }
        out.push(match body.get(at + 1)? {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'b' => 0x08,
            b'f' => 0x0c,
            _ => return None,
        });
        i = at + 2;
    }
    String::from_utf8(out).ok()
}

pub(super) fn build_entry<'a>(
    bytes: &'a [u8],
    f: &Fields,
    index: u64,
    offset: u64,
    repeats: Option<u64>,
) -> Result<Item<'a>, ReadError> {
    let invalid = |message: &str| {
        Ok(Item::Invalid {
            index,
            offset,
            message: message.into(),
        })
    };
    if f.duplicate {
        return invalid("a member (`text`, `time`, `objects` or `agentResourceId`) appears twice");
    }
    let text = match f.text {
        Some(span) => string_value(bytes, span, index, offset)?,
        None => None,
    };
    let Some(text) = text else {
        return invalid("no `text` string");
    };
    let time = match f.time {
        // The form nearly every entry has, read from the bytes: ASCII, so
        // nothing to decode or check.
        Some(span) if span.string && !span.escaped && span.to - span.from == 26 => {
            match parse_to_iso_string(&bytes[span.from + 1..span.to - 1]) {
                Some(ms) => Some(ms),
                None => string_value(bytes, span, index, offset)?.and_then(|t| parse_time_str(&t)),
            }
        }
        Some(span) if span.string => {
            string_value(bytes, span, index, offset)?.and_then(|t| parse_time_str(&t))
        }
        Some(span) => std::str::from_utf8(&bytes[span.from..span.to])
            .ok()
            .and_then(|n| n.parse::<f64>().ok())
            .and_then(epoch_ms),
        None => None,
    };
    let Some(time) = time else {
        return invalid("no `time` (an ISO-8601 string or epoch milliseconds)");
    };
    let objects = f
        .objects
        .map(|span| &bytes[span.from..span.to])
        .filter(|raw| *raw != b"null");
    let agent = match f.agent {
        Some(span) if span.string => {
            // Checked here, decoded only when asked for (the pipeline keeps
            // the first one). A repeat's is its template's but for digits,
            // so as valid: no second look.
            if repeats.is_none() {
                string_value(bytes, span, index, offset)?;
            }
            Some(RawString {
                quoted: &bytes[span.from..span.to],
                escaped: span.escaped,
            })
        }
        _ => None,
    };
    Ok(Item::Entry(Entry {
        index,
        time,
        text,
        objects,
        agent,
        repeats,
    }))
}

fn parse_time_str(s: &str) -> Option<Millis> {
    parse_iso8601(s).or_else(|| s.parse::<f64>().ok().and_then(epoch_ms))
}

fn epoch_ms(n: f64) -> Option<Millis> {
    // Years 1970..=9999 only: anything else is not a plausible log time.
    (n.is_finite() && (0.0..253_402_300_800_000.0).contains(&n)).then_some(n as Millis)
}

#[cfg(test)]
mod tests {
    use super::unescape_common;

    /// Wherever the quick decoder answers, it agrees with `serde_json`.
    #[test]
    fn the_quick_decoder_agrees_with_serde_json() {
        let cases: [&[u8]; 12] = [
            br#"sendSoftphoneMetrics success[{\"a\":1,\"b\":\"x\"}]"#,
            br#"a\\b\/c\nd\re\tf\bg\fh"#,
            br#"\"\""#,
            b"plain",
            "caf\u{e9} \\\"q\\\"".as_bytes(),
            br#"\u00e9"#,
            br#"bad \x escape"#,
            br#"ends in \"#,
            b"raw \x01 control",
            b"raw \n newline",
            b"\xff\xfe invalid \\n",
            br#"\ud83d\ude00"#,
        ];
        for (n, body) in cases.into_iter().enumerate() {
            let mut quoted = b"\"".to_vec();
            quoted.extend_from_slice(body);
            quoted.push(b'"');
            let reference = serde_json::from_slice::<String>(&quoted).ok();
            let quick = unescape_common(body);
            // The first five are the common kind; the rest go to serde_json.
            assert_eq!(quick.is_some(), n < 5, "{body:?}");
            if quick.is_some() {
                assert_eq!(quick, reference, "{body:?}");
            }
        }
        assert_eq!(unescape_common(br#"x\"y\\z"#).as_deref(), Some("x\"y\\z"));
        // Bodies of every length up to 40 made of plain bytes, escapes (the
        // common ones, `\u`, bad ones, cut), raw control bytes and UTF-8
        // (whole and cut), in positions either side of the eight-byte
        // words: wherever the quick decoder answers, it is serde_json's
        // answer, and it answers for every body of only common escapes.
        let pieces: [&[u8]; 12] = [
            b"a",
            b"json",
            br#"\""#,
            br#"\\"#,
            br#"\n"#,
            br#"\/"#,
            br#"\u0041"#,
            br#"\x"#,
            b"\x01",
            "\u{e9}".as_bytes(),
            b"\xc3",
            b"\\",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let (mut answered, mut refused) = (0, 0);
        for _ in 0..20_000 {
            let mut body = Vec::new();
            while body.len() < (seed % 41) as usize {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                body.extend_from_slice(pieces[(seed % 12) as usize]);
            }
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            // Only what the reader hands over: no quote left unescaped.
            let mut k = 0;
            while k < body.len() && body[k] != b'"' {
                k += if body[k] == b'\\' { 2 } else { 1 };
            }
            if k < body.len() {
                continue;
            }
            let mut quoted = b"\"".to_vec();
            quoted.extend_from_slice(&body);
            quoted.push(b'"');
            let reference = serde_json::from_slice::<String>(&quoted).ok();
            match unescape_common(&body) {
                Some(quick) => {
                    answered += 1;
                    assert_eq!(Some(quick), reference, "{body:?}");
                }
                None => {
                    refused += 1;
                    let common = !body.windows(2).any(|w| w == br#"\u"#) && reference.is_some();
                    assert!(!common, "{body:?}");
                }
            }
        }
        assert!(answered > 2_000 && refused > 2_000, "{answered} {refused}");
        assert_eq!(unescape_common(br#"\u0041"#), None);
        assert_eq!(unescape_common(b"a\x01"), None);
        assert_eq!(unescape_common(br#"a\q"#), None);
    }
}
