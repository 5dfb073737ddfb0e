//! A hand-written reader of the common shape of an agent snapshot's
//! `objects` (ccp-log-format.md §3.2): plain strings, integer `skew`,
//! objects where the serde structs expect objects. With the repeat fast
//! path off, `serde_json` parsing every snapshot was ~44 % of the
//! instructions (benches/README.md).
//!
//! It builds the same raw structs `serde_json` would and never decides
//! anything on its own: whenever the input departs from what it reads
//! exactly like `serde_json` (any `\u` escape or escape in a value it keeps,
//! control characters, invalid UTF-8 anywhere, numbers other than short integers
//! where a number is read, exponents or long numbers anywhere, known keys
//! twice, structs written as arrays, deep nesting, arrays past their
//! bound, trailing bytes) it returns `None` and the caller asks
//! `serde_json`, whose answer, error or not, is then the answer.

use std::borrow::Cow;

use super::objects::{
    Bounded, MAX_CONNECTIONS, MAX_OBJECTS, MAX_SAMPLES, MAX_SNAPSHOT_CONTACTS, RawConnection,
    RawContact, RawSample, RawSnapshot, RawState,
};

/// Nesting below a known field that is skipped here; deeper values go to
/// `serde_json` (whose own limit is 128).
const MAX_SKIP_DEPTH: usize = 32;
/// Longest number skipped here; longer ones go to `serde_json`.
const MAX_NUMBER_BYTES: usize = 24;
/// Longest integer read as `skew` here: exactly representable as an f64.
const MAX_INT_DIGITS: usize = 15;

/// 0x0101…01: one in every byte of a word.
const ONES: u64 = u64::MAX / 255;

struct Reader<'a> {
    /// The whole input, checked as UTF-8 once: a string between two `"`
    /// (ASCII, so on character boundaries) is then a `&str` without being
    /// checked again, and no string is left unchecked.
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

/// Reads `objects` as `serde_json::from_slice::<Bounded<SnapshotObject,
/// MAX_OBJECTS>>` would and returns the first snapshot. `None`: not read
/// here (including a well-formed list without a snapshot, left to serde).
pub(super) fn snapshot(objects: &[u8]) -> Option<RawSnapshot<'_>> {
    let s = std::str::from_utf8(objects).ok()?;
    let mut r = Reader {
        s,
        b: s.as_bytes(),
        i: 0,
    };
    r.ws();
    r.eat(b'[')?;
    let mut found = None;
    let mut count = 0;
    r.ws();
    if r.peek()? != b']' {
        loop {
            count += 1;
            if count > MAX_OBJECTS {
                return None;
            }
            r.ws();
            let s = r.snapshot_object()?;
            if found.is_none() {
                found = s;
            }
            r.ws();
            match r.next()? {
                b',' => {}
                b']' => break,
                _ => return None,
            }
        }
    } else {
        r.i += 1;
    }
    r.ws();
    if r.i != r.b.len() {
        return None;
    }
    found
}

/// Reads a `sendSoftphoneMetrics` line's JSON (ccp-log-format.md §3.4) as
/// `serde_json::from_str::<Bounded<RawSample, MAX_SAMPLES>>` would. With
/// the metrics layout's lines, whose numbers change every time, reading them
/// through `serde_json` was a fifth of the instructions. `None`: not read
/// here.
pub(super) fn metrics(json: &str) -> Option<Vec<RawSample<'_>>> {
    let mut r = Reader {
        s: json,
        b: json.as_bytes(),
        i: 0,
    };
    let samples = r.array(MAX_SAMPLES, Reader::sample)?;
    r.ws();
    (r.i == r.b.len()).then_some(samples)
}

/// Powers of ten up to the most digits [`Reader::number`] reads: exact.
const POW10: [f64; MAX_INT_DIGITS + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    /// JSON whitespace (RFC 8259 §2), the only kind `serde_json` skips.
    /// Runs of spaces (a pretty log's indentation) a word at a time.
    fn ws(&mut self) {
        loop {
            match self.peek() {
                Some(b' ') => {
                    let Some(w) = self.word() else {
                        self.i += 1;
                        continue;
                    };
                    let other = w ^ (ONES * u64::from(b' '));
                    if other == 0 {
                        self.i += 8;
                    } else {
                        self.i += other.trailing_zeros() as usize / 8;
                    }
                }
                Some(b'\n' | b'\r' | b'\t') => self.i += 1,
                _ => return,
            }
        }
    }

    /// The eight bytes from the cursor, if there are eight.
    fn word(&self) -> Option<u64> {
        let end = self.i.checked_add(8)?;
        let bytes: [u8; 8] = self.b.get(self.i..end)?.try_into().ok()?;
        Some(u64::from_le_bytes(bytes))
    }

    /// Moves to the first `"`, `\\` or control character (serde_json's own
    /// word-at-a-time test); `None` at the end of the input.
    fn seek_special(&mut self) -> Option<u8> {
        while let Some(w) = self.word() {
            let ctrl = w.wrapping_sub(ONES * 0x20) & !w;
            let q = w ^ (ONES * u64::from(b'"'));
            let quote = q.wrapping_sub(ONES) & !q;
            let bs = w ^ (ONES * u64::from(b'\\'));
            let backslash = bs.wrapping_sub(ONES) & !bs;
            let found = (ctrl | quote | backslash) & (ONES << 7);
            if found != 0 {
                // The lowest flagged byte is a true match (borrows only
                // carry upwards).
                self.i += found.trailing_zeros() as usize / 8;
                return self.peek();
            }
            self.i += 8;
        }
        while let Some(c) = self.peek() {
            if matches!(c, b'"' | b'\\' | 0..=0x1f) {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i.checked_add(word.len())?;
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// `null` (after whitespace) is consumed and gives `true`.
    fn null(&mut self) -> Option<bool> {
        self.ws();
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Some(true);
        }
        Some(false)
    }

    /// A string without escapes or control characters, borrowed.
    #[inline(always)]
    fn plain_str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        if self.seek_special()? != b'"' {
            return None;
        }
        self.i += 1;
        self.s.get(start..self.i - 1)
    }

    /// A key and its colon.
    #[inline(always)]
    fn key(&mut self) -> Option<&'a [u8]> {
        self.ws();
        let k = self.plain_str()?;
        self.ws();
        self.eat(b':')?;
        Some(k.as_bytes())
    }

    /// After a member: `Some(true)` for another, `Some(false)` at `}`.
    fn more(&mut self, close: u8) -> Option<bool> {
        self.ws();
        match self.next()? {
            b',' => Some(true),
            c if c == close => Some(false),
            _ => None,
        }
    }

    /// `{` then members until `}`; `f` reads each member's value.
    fn object(&mut self, mut f: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.ws();
        self.eat(b'{')?;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let k = self.key()?;
            f(self, k)?;
            if !self.more(b'}')? {
                return Some(());
            }
        }
    }

    fn opt_str(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.null()? {
            return Some(None);
        }
        Some(Some(Cow::Borrowed(self.plain_str()?)))
    }

    fn snapshot_object(&mut self) -> Option<Option<RawSnapshot<'a>>> {
        let mut snapshot = None;
        let mut seen = false;
        self.object(|r, k| {
            if k == b"snapshot" {
                if std::mem::replace(&mut seen, true) {
                    return None;
                }
                if !r.null()? {
                    snapshot = Some(r.raw_snapshot()?);
                }
                Some(())
            } else {
                r.skip(0)
            }
        })?;
        Some(snapshot)
    }

    fn raw_snapshot(&mut self) -> Option<RawSnapshot<'a>> {
        let mut s = RawSnapshot {
            state: None,
            skew: None,
            contacts: None,
        };
        let mut seen = [false; 3];
        self.object(|r, k| {
            let field = match k {
                b"state" => 0,
                b"skew" => 1,
                b"contacts" => 2,
                _ => return r.skip(0),
            };
            if std::mem::replace(&mut seen[field], true) {
                return None;
            }
            if r.null()? {
                return Some(());
            }
            match field {
                0 => s.state = Some(r.state()?),
                1 => s.skew = Some(r.int()?),
                _ => {
                    s.contacts = Some(Bounded(r.array(MAX_SNAPSHOT_CONTACTS, Self::contact)?));
                }
            }
            Some(())
        })?;
        Some(s)
    }

    fn state(&mut self) -> Option<RawState<'a>> {
        let mut s = RawState {
            name: None,
            kind: None,
            timestamp: None,
        };
        let mut seen = [false; 3];
        self.object(|r, k| {
            let (field, slot) = match k {
                b"name" => (0, &mut s.name),
                b"type" => (1, &mut s.kind),
                b"timestamp" => (2, &mut s.timestamp),
                _ => return r.skip(0),
            };
            if std::mem::replace(&mut seen[field], true) {
                return None;
            }
            *slot = r.opt_str()?;
            Some(())
        })?;
        Some(s)
    }

    /// An array of at most `max` elements (a longer one goes to serde).
    fn array<T>(
        &mut self,
        max: usize,
        mut f: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Vec<T>> {
        self.ws();
        self.eat(b'[')?;
        let mut items = Vec::new();
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(items);
        }
        loop {
            if items.len() == max {
                return None;
            }
            self.ws();
            items.push(f(self)?);
            if !self.more(b']')? {
                return Some(items);
            }
        }
    }

    fn contact(&mut self) -> Option<RawContact<'a>> {
        let mut id = None;
        let (mut kind, mut state, mut initiation, mut connections) = (None, None, None, None);
        let mut seen = [false; 5];
        self.object(|r, k| {
            let field = match k {
                b"contactId" => 0,
                b"type" => 1,
                b"state" => 2,
                b"initiationMethod" => 3,
                b"connections" => 4,
                _ => return r.skip(0),
            };
            if std::mem::replace(&mut seen[field], true) {
                return None;
            }
            match field {
                // Not an Option: `null` is an error for serde.
                0 => id = Some(Cow::Borrowed(r.plain_str_ws()?)),
                1 => kind = r.opt_str()?,
                3 => initiation = r.opt_str()?,
                _ if r.null()? => {}
                2 => state = Some(r.state()?),
                _ => connections = Some(Bounded(r.array(MAX_CONNECTIONS, Self::connection)?)),
            }
            Some(())
        })?;
        Some(RawContact {
            // Missing: an error for serde.
            contact_id: id?,
            kind,
            state,
            initiation,
            connections,
        })
    }

    fn connection(&mut self) -> Option<RawConnection<'a>> {
        let mut id = None;
        let (mut kind, mut state, mut initial) = (None, None, None);
        let mut seen = [false; 4];
        self.object(|r, k| {
            let field = match k {
                b"connectionId" => 0,
                b"type" => 1,
                b"state" => 2,
                b"initial" => 3,
                _ => return r.skip(0),
            };
            if std::mem::replace(&mut seen[field], true) {
                return None;
            }
            match field {
                0 => id = Some(Cow::Borrowed(r.plain_str_ws()?)),
                1 => kind = r.opt_str()?,
                _ if r.null()? => {}
                2 => state = Some(r.state()?),
                _ => {
                    initial = Some(match r.peek()? {
                        b't' => r.literal(b"true").map(|()| true)?,
                        _ => r.literal(b"false").map(|()| false)?,
                    })
                }
            }
            Some(())
        })?;
        Some(RawConnection {
            connection_id: id?,
            kind,
            state,
            initial,
        })
    }

    fn sample(&mut self) -> Option<RawSample<'a>> {
        let mut s = RawSample {
            timestamp: None,
            rtt: None,
            jitter: None,
            lost: None,
            count: None,
        };
        let mut seen = [false; 5];
        self.object(|r, k| {
            let field = match k {
                b"timestamp" => 0,
                b"roundTripTimeMillis" => 1,
                b"jitterBufferMillis" => 2,
                b"packetsLost" => 3,
                b"packetsCount" => 4,
                _ => return r.skip(0),
            };
            if std::mem::replace(&mut seen[field], true) {
                return None;
            }
            if field == 0 {
                s.timestamp = r.opt_str()?;
                return Some(());
            }
            let v = if r.null()? { None } else { Some(r.number()?) };
            match field {
                1 => s.rtt = v,
                2 => s.jitter = v,
                3 => s.lost = v,
                _ => s.count = v,
            }
            Some(())
        })?;
        Some(s)
    }

    fn plain_str_ws(&mut self) -> Option<&'a str> {
        self.ws();
        self.plain_str()
    }

    /// A short integer (no fraction, exponent, leading zero or `-0`), read
    /// as `serde_json` reads it into an f64: exactly.
    fn int(&mut self) -> Option<f64> {
        let neg = self.peek()? == b'-';
        if neg {
            self.i += 1;
        }
        let start = self.i;
        let mut v: i64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            v = v * 10 + i64::from(c - b'0');
            self.i += 1;
            if self.i - start > MAX_INT_DIGITS {
                return None;
            }
        }
        let digits = self.i - start;
        if digits == 0 || (digits > 1 && self.b[start] == b'0') || (neg && v == 0) {
            return None;
        }
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return None;
        }
        Some(if neg { -v } else { v } as f64)
    }

    /// A number without sign or exponent, of at most [`MAX_INT_DIGITS`]
    /// digits, read as `serde_json` reads it into an f64 (`f64_from_parts`
    /// without `float_roundtrip`): its digits as an integer, divided by a
    /// power of ten. Both are exact, so the one rounding is the division's,
    /// the same in either reader (and the correctly rounded value, which is
    /// what `float_roundtrip` would give).
    fn number(&mut self) -> Option<f64> {
        let start = self.i;
        let mut v: u64 = 0;
        let mut digits = 0;
        let mut fraction = 0;
        let mut read = |r: &mut Self, fraction_part: bool| -> Option<()> {
            while let Some(c @ b'0'..=b'9') = r.peek() {
                v = v * 10 + u64::from(c - b'0');
                r.i += 1;
                digits += 1;
                fraction += usize::from(fraction_part);
                if digits > MAX_INT_DIGITS {
                    return None;
                }
            }
            Some(())
        };
        read(self, false)?;
        let int_digits = self.i - start;
        if int_digits == 0 || (int_digits > 1 && self.b[start] == b'0') {
            return None;
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            read(self, true)?;
            if fraction == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            return None;
        }
        Some(v as f64 / POW10[fraction])
    }

    /// Skips one well-formed value as `serde_json`'s `IgnoredAny` does;
    /// anything it is unsure of gives `None`.
    fn skip(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_SKIP_DEPTH {
            return None;
        }
        self.ws();
        match self.peek()? {
            b'"' => self.skip_str(),
            b'{' => {
                self.i += 1;
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.ws();
                    self.skip_str()?;
                    self.ws();
                    self.eat(b':')?;
                    self.skip(depth + 1)?;
                    if !self.more(b'}')? {
                        return Some(());
                    }
                }
            }
            b'[' => {
                self.i += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.skip(depth + 1)?;
                    if !self.more(b']')? {
                        return Some(());
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => None,
        }
    }

    /// A string whose escapes are single characters (`\u` goes to serde).
    fn skip_str(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            match self.seek_special()? {
                b'"' => break,
                b'\\' => {
                    self.i += 1;
                    match self.next()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
        self.i += 1;
        Some(())
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?`, short; exponents go to serde.
    fn skip_number(&mut self) -> Option<()> {
        let start = self.i;
        if self.peek()? == b'-' {
            self.i += 1;
        }
        let int = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        let digits = self.i - int;
        if digits == 0 || (digits > 1 && self.b[int] == b'0') {
            return None;
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            let frac = self.i;
            while let Some(b'0'..=b'9') = self.peek() {
                self.i += 1;
            }
            if self.i == frac {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            return None;
        }
        (self.i - start <= MAX_NUMBER_BYTES).then_some(())
    }
}
