//! "The same entry again, with new timestamps": two byte strings that are
//! equal except inside runs of ASCII digits and in the value of a
//! `"nextToken"` string member.
//!
//! Agent snapshots make up most of a CCP log and, between state changes,
//! repeat the previous one in exactly this way (their timestamps, `skew` and
//! paging token change). With every other byte equal, the structure is equal
//! too: digit runs cannot open or close anything, and the token is a plain
//! string. The reader uses this to skip rescanning such entries, the
//! recognizer to reuse a parse.

use std::cell::OnceCell;

/// The quotes around the string value of the first `"nextToken"` member,
/// when that value is a plain string (no escapes).
pub fn next_token_quotes(raw: &[u8]) -> Option<(usize, usize)> {
    next_token_quotes_with(raw, &memchr::memmem::Finder::new(TOKEN_KEY))
}

const TOKEN_KEY: &[u8] = b"\"nextToken\"";

/// [`next_token_quotes`] with a searcher built once: building one costs more
/// than searching a small entry, and every entry scanned becomes a template.
fn next_token_quotes_with(
    raw: &[u8],
    finder: &memchr::memmem::Finder<'_>,
) -> Option<(usize, usize)> {
    let key = finder.find(raw)? + TOKEN_KEY.len();
    let open = key + memchr::memchr(b'"', &raw[key..])?;
    if raw[key..open]
        .iter()
        .any(|c| !matches!(c, b':' | b' ' | b'\n' | b'\r' | b'\t'))
    {
        return None;
    }
    let close = open + 1 + memchr::memchr2(b'"', b'\\', &raw[open + 1..])?;
    (raw[close] == b'"').then_some((open, close))
}

/// Whether `new` starts with a repeat of `model` (whose token quotes are
/// `token`). Returns the repeat's length and the realignment marks: pairs of
/// positions (in `model`, in `new`) from which the two run in step again.
pub fn repeat_marks(
    model: &[u8],
    token: Option<(usize, usize)>,
    new: &[u8],
) -> Option<(usize, Vec<(usize, usize)>)> {
    let mut marks = Vec::new();
    repeat_marks_into(model, token, &[], &OnceCell::new(), new, &mut marks).map(|len| (len, marks))
}

/// How many leading bytes `a` and `b` share. Equal runs between two digit
/// runs are a few hundred bytes long in a snapshot: whole blocks are compared
/// first (the library's `memcmp` is vectorised), then the block that differs
/// is narrowed down.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    for block in [256, 32, 8] {
        while i + block <= n && a[i..i + block] == b[i..i + block] {
            i += block;
        }
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// Where the `nextToken` value starting at `new[j]` closes, when it is a
/// plain string (no escapes), as the template's is.
fn token_value_end(new: &[u8], j: usize) -> Option<usize> {
    let end = j + memchr::memchr2(b'"', b'\\', &new[j..])?;
    (new[end] == b'"').then_some(end)
}

/// [`repeat_marks`] into a buffer the caller keeps, so a repeat costs no
/// allocation: `marks` is cleared first. Returns the repeat's length.
///
/// A digit run that changes inside a number (outside strings) must leave a
/// valid JSON number that `serde_json` reads as well as the model's: no
/// leading zero in its integer part, no change in its exponent, not too
/// long (see [`number_runs`], worked out from `model` only when a leading
/// zero appears, and kept in `numbers`). Otherwise the entry is no repeat,
/// and the reader's scan and the parse judge it as the reference path does.
pub fn repeat_marks_into(
    model: &[u8],
    token: Option<(usize, usize)>,
    strings: &[(usize, usize)],
    numbers: &OnceCell<Vec<(usize, NumberPart)>>,
    new: &[u8],
    marks: &mut Vec<(usize, usize)>,
) -> Option<usize> {
    let t = model;
    let (mut i, mut j) = (0, 0);
    marks.clear();
    marks.push((0, 0));
    loop {
        // The next place where the two may legitimately differ.
        let stop = match token {
            Some((open, _)) if i <= open => open + 1,
            _ => t.len(),
        };
        let same = common_prefix(&t[i..stop], &new[j..]);
        i += same;
        j += same;
        if i == t.len() {
            return Some(j);
        }
        if j == new.len() {
            return None;
        }
        if let Some((open, close)) = token
            && i == open + 1
        {
            // Skip the token's value on both sides: a plain string.
            i = close;
            j = token_value_end(new, j)?;
            marks.push((i, j));
            continue;
        }
        // A difference is allowed only inside a digit run both sides are in
        // (the bytes before it matched, so both runs started together).
        let (digit_t, digit_n) = (t[i].is_ascii_digit(), new[j].is_ascii_digit());
        let in_run = i > 0 && t[i - 1].is_ascii_digit();
        if !(digit_t || digit_n) || !(in_run || (digit_t && digit_n)) {
            return None;
        }
        // Where the changed run starts: the digits before the difference
        // are equal on both sides.
        let mut back = 0;
        if in_run {
            back = 1;
            while back < i && t[i - 1 - back].is_ascii_digit() {
                back += 1;
            }
        }
        let (run_t, run_n) = (i - back, j - back);
        while i < t.len() && t[i].is_ascii_digit() {
            i += 1;
        }
        while j < new.len() && new[j].is_ascii_digit() {
            j += 1;
        }
        if j == new.len() && i < t.len() {
            return None;
        }
        let run = &new[run_n..j];
        let before = |k: usize| run_t.checked_sub(k).map_or(b' ', |k| t[k]);
        let exponent = matches!(before(1), b'e' | b'E' | b'+')
            || (before(1) == b'-' && matches!(before(2), b'e' | b'E'));
        if (run[0] == b'0' || run.len() > MAX_CHANGED_RUN || exponent)
            && !changed_run_is_valid(t, run_t, &t[run_t..i], run, strings, numbers)
        {
            return None;
        }
        marks.push((i, j));
    }
}

/// A digit run changed to more digits than this is no repeat: a number that
/// long may be beyond an `f64`'s range, which `serde_json` refuses.
const MAX_CHANGED_RUN: usize = 300;

/// Whether the digit run `was` of `model` at `run_t`, changed into `run`,
/// still makes a JSON number `serde_json` reads as it read the model's
/// (when the run is a number's, not a string's): no exponent changed (a run
/// after `e`, `E` or an exponent's sign: a string's such runs only lose the
/// fast path), no leading zero brought into an integer part, not too long.
#[cold]
fn changed_run_is_valid(
    model: &[u8],
    run_t: usize,
    was: &[u8],
    run: &[u8],
    strings: &[(usize, usize)],
    numbers: &OnceCell<Vec<(usize, NumberPart)>>,
) -> bool {
    let before = |k: usize| run_t.checked_sub(k).map(|k| model[k]);
    if matches!(before(1), Some(b'e' | b'E' | b'+'))
        || (before(1) == Some(b'-') && matches!(before(2), Some(b'e' | b'E')))
        || run.len() > MAX_CHANGED_RUN
    {
        return false;
    }
    let leading_zero = |r: &[u8]| r.len() > 1 && r[0] == b'0';
    // A run that had a leading zero already is a string's or a fraction's
    // (the model was read as valid JSON); so is any run without one.
    if !leading_zero(run) || leading_zero(was) {
        return true;
    }
    // Inside a string the reader found (an entry's `time`): no number.
    if strings.iter().any(|&(from, to)| from < run_t && run_t < to) {
        return true;
    }
    // Fine in a string (a time's "08"); in a number's integer part, not JSON.
    let runs = numbers.get_or_init(|| number_runs(model));
    match runs.binary_search_by_key(&run_t, |&(at, _)| at) {
        Ok(k) => runs[k].1 != NumberPart::Integer,
        Err(_) => true,
    }
}

/// Which part of a JSON number a digit run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberPart {
    Integer,
    Fraction,
    Exponent,
}

/// Where the digit runs of the numbers in `raw` (JSON starting outside a
/// string) begin, in order, and which part of its number each is.
pub fn number_runs(raw: &[u8]) -> Vec<(usize, NumberPart)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        i = next_quote_or_digit(raw, i);
        if i == raw.len() {
            break;
        }
        match raw[i] {
            b'"' => {
                i += 1;
                while let Some(k) = memchr::memchr2(b'"', b'\\', &raw[i.min(raw.len())..]) {
                    i += k;
                    if raw[i] == b'"' {
                        break;
                    }
                    i += 2;
                }
                i += 1;
            }
            b'0'..=b'9' => {
                let part = match i.checked_sub(1).map(|k| raw[k]) {
                    Some(b'.') => NumberPart::Fraction,
                    Some(b'e' | b'E' | b'+') => NumberPart::Exponent,
                    Some(b'-') if i >= 2 && matches!(raw[i - 2], b'e' | b'E') => {
                        NumberPart::Exponent
                    }
                    _ => NumberPart::Integer,
                };
                runs.push((i, part));
                while i < raw.len() && raw[i].is_ascii_digit() {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    runs
}

/// The next `"` or ASCII digit at or after `i` (or `s.len()`), eight bytes
/// at a time: between strings a pretty entry is mostly indentation.
fn next_quote_or_digit(s: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOWS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    while i + 8 <= s.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        let w = u64::from_le_bytes(w);
        // Digits as in `first_digit`; quotes by the exact zero-byte test.
        let x = w ^ (ONES * u64::from(b'0'));
        let digits = !((x & LOWS) + ONES * (0x80 - 10)) & !x & !LOWS;
        let q = w ^ (ONES * u64::from(b'"'));
        let quotes = !((q & LOWS).wrapping_add(LOWS) | q | LOWS);
        let hits = digits | quotes;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + s[i..]
        .iter()
        .position(|&c| c == b'"' || c.is_ascii_digit())
        .unwrap_or(s.len() - i)
}

/// Whether `a` and `b` are wholly the same in this sense.
#[cfg(test)]
pub fn same(a: &[u8], b: &[u8]) -> bool {
    same_outside(a, || &[], b)
}

/// The strings of `raw` (JSON text) whose digits name something: every
/// string holding a digit, keys included, except the values of members
/// whose key ends in `timestamp` (any case: `timestamp`, `startTimestamp`,
/// `timeStamp`, …) and the `nextToken` value. Spans are of the content,
/// between the quotes, in order.
///
/// A snapshot that differs from the previous one only in digit runs reuses
/// its parse ([`same_outside`]): right for its times and numbers (`skew`),
/// which only the first snapshot of a state is read for, wrong for an id
/// (`8e02c7a4-…` and `9e02c7a4-…` are two connections) or a name.
pub fn identity_strings(raw: &[u8]) -> Vec<(usize, usize)> {
    identity_strings_with(raw, next_token_quotes(raw).map(|(open, _)| open))
}

/// [`identity_strings`] with the `nextToken` value's opening quote known.
/// Quotes and digits are found 64 bytes at a time; a value with a backslash
/// is read a byte at a time.
fn identity_strings_with(raw: &[u8], token_open: Option<usize>) -> Vec<(usize, usize)> {
    use crate::read::blocks::{BLOCK, quotes_and_digits};
    let words = raw.len().div_ceil(BLOCK);
    let (mut quotes, mut digits) = (Vec::with_capacity(words), Vec::with_capacity(words));
    let mut chunks = raw.chunks_exact(BLOCK);
    let mut tail = [b' '; BLOCK];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    for block in chunks.by_ref().chain(std::iter::once(&tail[..])) {
        let (q, backslash, d) = quotes_and_digits(block.try_into().expect("a whole block"));
        if backslash != 0 {
            return identity_strings_by_bytes(raw, token_open);
        }
        quotes.push(q);
        digits.push(d);
    }
    // Whether a digit bit is set in `from..to`, a word at a time.
    let any_digit = |from: usize, to: usize| {
        let mut k = from;
        while k < to {
            let w = k / BLOCK;
            let end = to.min((w + 1) * BLOCK);
            let width = end - k;
            let mask = if width == BLOCK {
                !0
            } else {
                (1u64 << width) - 1
            };
            if (digits[w] >> (k % BLOCK)) & mask != 0 {
                return true;
            }
            k = end;
        }
        false
    };
    let mut spans = Vec::new();
    let mut prev: Option<(usize, usize)> = None;
    // Quotes pair up (no backslash): an opening one, then its closing one.
    let mut open = None;
    for (w, &word) in quotes.iter().enumerate() {
        let mut q = word;
        while q != 0 {
            let at = w * BLOCK + q.trailing_zeros() as usize;
            q &= q - 1;
            let Some(o) = open.take() else {
                open = Some(at);
                continue;
            };
            if Some(o) != token_open
                && any_digit(o + 1, at)
                && !prev.is_some_and(|(ko, kc)| is_timestamp_key(raw, ko, kc, o))
            {
                spans.push((o + 1, at));
            }
            prev = Some((o, at));
        }
    }
    spans
}

/// Whether the digit run at `start` of `raw` (valid JSON, as a parsed
/// snapshot is) is, judged from the bytes before it alone, a number that is
/// a member's value (`"skew": -82`) or in the string value of a member whose
/// key ends in `timestamp` (`"timestamp": "2025-…`): what a snapshot's
/// repeats change. `false`: not sure; [`identity_strings`] decides.
///
/// In valid JSON a `"` preceded by a byte other than white space, `:`,
/// `,`, `[`, `{` or `\` closes a string; one preceded by `:` (white space
/// between) opens the value of the key closed just before.
fn is_number_or_timestamp(raw: &[u8], start: usize) -> bool {
    fn back(raw: &[u8], mut k: usize, skip: impl Fn(u8) -> bool) -> usize {
        while k > 0 && skip(raw[k - 1]) {
            k -= 1;
        }
        k
    }
    let ws = |c: u8| matches!(c, b' ' | b'\n' | b'\r' | b'\t');
    // The quote ending at `q` closes a string (see above).
    let closes = |q: usize| {
        q > 0
            && !matches!(
                raw[q - 1],
                b' ' | b'\n' | b'\r' | b'\t' | b':' | b',' | b'[' | b'{' | b'\\'
            )
    };
    // A number: `"key"` `:` `-`? digits.
    let k = if start > 0 && raw[start - 1] == b'-' {
        start - 1
    } else {
        start
    };
    let k = back(raw, k, ws);
    if k > 0 && raw[k - 1] == b':' {
        let q = back(raw, k - 1, ws);
        if q > 0 && raw[q - 1] == b'"' && closes(q - 1) {
            return true;
        }
    }
    // A time: `"…timestamp"` `:` `"` time characters, then the run.
    let k = back(raw, start, |c| {
        matches!(c, b'0'..=b'9' | b':' | b'.' | b'-' | b'+' | b'T' | b'Z')
    });
    if k == 0 || raw[k - 1] != b'"' {
        return false;
    }
    let colon = back(raw, k - 1, ws);
    if colon == 0 || raw[colon - 1] != b':' {
        return false;
    }
    let q = back(raw, colon - 1, ws);
    q >= 10
        && raw[q - 1] == b'"'
        && closes(q - 1)
        && raw[q - 10..q - 1].eq_ignore_ascii_case(b"timestamp")
}

/// Whether the string at `key_open..=key_close` is a key ending in
/// `timestamp` (any case) whose value's opening quote is at `open`.
fn is_timestamp_key(raw: &[u8], key_open: usize, key_close: usize, open: usize) -> bool {
    let gap = &raw[key_close + 1..open];
    gap.contains(&b':')
        && gap
            .iter()
            .all(|c| matches!(c, b':' | b' ' | b'\n' | b'\r' | b'\t'))
        && key_close - key_open > 9
        && raw[key_close - 9..key_close].eq_ignore_ascii_case(b"timestamp")
}

/// [`identity_strings_with`] a byte at a time, escapes and all.
fn identity_strings_by_bytes(raw: &[u8], token_open: Option<usize>) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut prev: Option<(usize, usize)> = None;
    let mut i = 0;
    while let Some(open) = next_quote(raw, i) {
        let mut j = open + 1;
        let close = loop {
            match raw
                .get(j..)
                .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
            {
                Some(k) if raw[j + k] == b'"' => break j + k,
                Some(k) => j += k + 2,
                None => return spans,
            }
        };
        if Some(open) != token_open
            && raw[open + 1..close].iter().any(u8::is_ascii_digit)
            && !prev.is_some_and(|(key_open, key_close)| {
                is_timestamp_key(raw, key_open, key_close, open)
            })
        {
            spans.push((open + 1, close));
        }
        prev = Some((open, close));
        i = close + 1;
    }
    spans
}

fn next_quote(raw: &[u8], from: usize) -> Option<usize> {
    raw.get(from..)
        .and_then(|rest| memchr::memchr(b'"', rest))
        .map(|k| from + k)
}

/// Where the digit run of `t` that ends at `end` starts.
fn run_start(t: &[u8], end: usize) -> usize {
    end - t[..end]
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .count()
}

/// Whether `b` is wholly a repeat of `a` (equal but for digit runs and the
/// `nextToken` value), and no digit run changed inside the spans `identity` gives
/// (see [`identity_strings`], which gives them for `a`; asked for only when
/// a changed run is not plainly a number or a time).
pub fn same_outside<'i>(
    a: &[u8],
    identity: impl FnOnce() -> &'i [(usize, usize)],
    b: &[u8],
) -> bool {
    // A digit run changed inside a `\u` escape could leave an invalid one.
    if memchr::memmem::find(a, b"\\u").is_some() {
        return false;
    }
    let token = next_token_quotes(a);
    let Some((len, marks)) = repeat_marks(a, token, b) else {
        return false;
    };
    let mut identity = Some(identity);
    let mut spans: &[(usize, usize)] = &[];
    len == b.len()
        && marks.iter().skip(1).all(|&(end, _)| {
            if token.is_some_and(|(_, close)| close == end) {
                return true;
            }
            let start = run_start(a, end);
            if is_number_or_timestamp(&a[..end], start) {
                return true;
            }
            if let Some(get) = identity.take() {
                spans = get();
            }
            !spans.iter().any(|&(s, e)| start < e && s < end)
        })
}

/// Where `model` position `p` is in the repeat.
pub fn map_position(p: usize, marks: &[(usize, usize)]) -> usize {
    let (i, j) = marks
        .iter()
        .rev()
        .find(|(i, _)| *i <= p)
        .copied()
        .unwrap_or((0, 0));
    p - i + j
}

/// Entries this large become the template for the next ones of their kind.
/// Small entries repeat too (heartbeats, idle snapshots in a compact log,
/// API lines: equal but for their timestamps), and in a compact or NDJSON
/// log they are most of the entries: scanning each costs several times the
/// comparison. Below this size an entry is too short for either to matter.
pub(crate) const TEMPLATE_MIN_BYTES: usize = 128;
/// Entries from this size on are "large" templates, kept apart from the
/// small ones: the many kinds of small lines (every softphone line of a
/// call shares a kind) must not push out the snapshot's template.
const LARGE_TEMPLATE_BYTES: usize = 1024;
/// How much longer than the template a repeat may be (longer digit runs, a
/// longer token).
pub(crate) const TEMPLATE_SLACK: usize = 256;

/// The last entry of its kind that was scanned in full. Agent snapshots make up
/// most of a log and, between state changes, repeat the previous one except
/// for digits (timestamps, `skew`) and the opaque `nextToken`. Such a repeat
/// is recognized by a byte comparison, much cheaper than a structural scan:
/// with every other byte equal, the structure, the end and the fields are
/// the template's, moved only where a digit run or the token changed length.
/// `F` is where the reader found the entry's members.
pub(crate) struct Template<F> {
    pub(crate) bytes: Vec<u8>,
    pub(crate) fields: F,
    pub(crate) index: u64,
    /// The quotes around the value of the template's `"nextToken"` member.
    token: Option<(usize, usize)>,
    /// Its numbers' digit runs, worked out when first needed.
    numbers: OnceCell<Vec<(usize, NumberPart)>>,
    /// The identity strings ([`identity_strings`]) of its `objects`, in its
    /// own positions, worked out when first needed.
    identity: OnceCell<Vec<(usize, usize)>>,
    /// Strings the reader found in it (`time`, `text`, `agentResourceId`):
    /// where a changed digit run needs no look at the numbers.
    strings: [(usize, usize); 3],
    /// Its digit runs that changed in earlier repeats, in order: where the
    /// next repeat will most likely differ too (see [`Template::matches`]).
    changing: Vec<ChangingRun>,
}

/// A digit run of a template that changed in an earlier repeat, with what
/// [`changed_run_is_valid`] would decide about it worked out once.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ChangingRun {
    from: usize,
    to: usize,
    /// Whether a leading zero may come into it (a string's or a fraction's
    /// digits, or a run that had one already; not a number's integer
    /// part), worked out when first needed: most changes bring none.
    zero_ok: OnceCell<bool>,
    /// An exponent's digits, which may not change at all.
    exponent: bool,
    /// Whether it is a number or in a timestamp (see
    /// [`Template::keeps_identity`]), worked out when first needed.
    plain: OnceCell<bool>,
}

/// At most this many changing runs are remembered per template (a snapshot
/// has about ten); a repeat that differs elsewhere takes the general path.
const MAX_CHANGING_RUNS: usize = 64;

impl<F> Template<F> {
    /// Whether `new` starts with a repeat of the template; see
    /// [`repeat_marks`]. The marks go into `marks`.
    ///
    /// Consecutive repeats of a snapshot differ in the same places (the
    /// times' seconds and milliseconds, `localTimestamp`, `skew`, the
    /// token): the runs that changed before are tried first, the stretches
    /// between them compared whole. That answer is the general one's
    /// whenever it is a repeat (the same bytes are compared, the same runs
    /// judged); anything else, a difference elsewhere included, goes to
    /// [`repeat_marks_into`], whose changed runs are then remembered.
    pub(crate) fn matches(&mut self, new: &[u8], marks: &mut Vec<(usize, usize)>) -> Option<usize> {
        if !self.changing.is_empty()
            && let Some(len) = self.matches_changing_runs(new, marks)
        {
            return Some(len);
        }
        let len = repeat_marks_into(
            &self.bytes,
            self.token,
            &self.strings,
            &self.numbers,
            new,
            marks,
        )?;
        self.learn(marks);
        Some(len)
    }

    /// [`Self::matches`] stopping only at the remembered runs and the token.
    fn matches_changing_runs(&self, new: &[u8], marks: &mut Vec<(usize, usize)>) -> Option<usize> {
        let t = &self.bytes[..];
        marks.clear();
        marks.push((0, 0));
        let (mut i, mut j) = (0, 0);
        let mut token = self.token;
        let mut runs = self.changing.iter().peekable();
        loop {
            let token_at = token.map(|(open, _)| open + 1);
            let run_at = runs.peek().map(|r| r.from);
            let stop = match (token_at, run_at) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => t.len(),
            };
            // Everything up to the next stop is the same bytes.
            let fixed = new.get(j..j + (stop - i))?;
            if t[i..stop] != *fixed {
                return None;
            }
            j += stop - i;
            i = stop;
            if i == t.len() {
                return Some(j);
            }
            if token_at == Some(i) {
                let (_, close) = token.take()?;
                i = close;
                j = token_value_end(new, j)?;
                marks.push((i, j));
                continue;
            }
            let run = runs.next()?;
            let digits = new[j..].iter().take_while(|c| c.is_ascii_digit()).count();
            let (was, now) = (&t[run.from..run.to], &new[j..j + digits]);
            if was != now
                && (digits == 0
                    || run.exponent
                    || digits > MAX_CHANGED_RUN
                    || (digits > 1 && now[0] == b'0' && !self.zero_ok(run)))
            {
                return None;
            }
            i = run.to;
            j += digits;
            marks.push((i, j));
        }
    }

    /// Whether the repeat whose `marks` [`Self::matches`] gave changed no
    /// digit inside an identity string ([`identity_strings`]) of the span
    /// `objects` of the template (its `objects` value): whether the parse of
    /// that value may be reused.
    pub(crate) fn keeps_identity(
        &self,
        marks: &[(usize, usize)],
        objects: Option<(usize, usize)>,
    ) -> bool {
        let Some((from, to)) = objects else {
            return true;
        };
        let t = &self.bytes;
        // Marks and remembered runs are both in order: walked side by side.
        let mut runs = self.changing.iter().peekable();
        marks.iter().skip(1).all(|&(end, _)| {
            // Most changed runs are the entry's own `time`, before `objects`.
            if end <= from || end > to || self.token.is_some_and(|(_, close)| close == end) {
                return true;
            }
            // Judged once per remembered run: the same runs change in every
            // repeat.
            let judge = || is_number_or_timestamp(&t[from..end], run_start(t, end) - from);
            while runs.next_if(|r| r.to < end).is_some() {}
            let plain = match runs.peek() {
                Some(r) if r.to == end => *r.plain.get_or_init(judge),
                _ => judge(),
            };
            if plain {
                return true;
            }
            let spans = self.identity.get_or_init(|| {
                let token = self.token.and_then(|(open, _)| open.checked_sub(from));
                identity_strings_with(&t[from..to], token)
                    .into_iter()
                    .map(|(s, e)| (s + from, e + from))
                    .collect()
            });
            // The first span that ends after the run starts: the only one
            // that can hold it (spans do not overlap; a run is in one string).
            let k = spans.partition_point(|&(_, e)| e < end);
            spans.get(k).is_none_or(|&(s, _)| s >= end)
        })
    }

    /// See [`ChangingRun::zero_ok`]; decided as [`changed_run_is_valid`]
    /// decides.
    fn zero_ok(&self, run: &ChangingRun) -> bool {
        *run.zero_ok.get_or_init(|| {
            let (t, from) = (&self.bytes, run.from);
            (run.to - from > 1 && t[from] == b'0')
                || self.strings.iter().any(|&(s, e)| s < from && from < e)
                || {
                    let runs = self.numbers.get_or_init(|| number_runs(t));
                    match runs.binary_search_by_key(&from, |&(at, _)| at) {
                        Ok(k) => runs[k].1 != NumberPart::Integer,
                        Err(_) => true,
                    }
                }
        })
    }

    /// Remembers the digit runs a general match found changed (its marks
    /// after each, the token's excepted).
    fn learn(&mut self, marks: &[(usize, usize)]) {
        let t = &self.bytes;
        let before = self.changing.len();
        for &(to, _) in marks.iter().skip(1) {
            if self.token.is_some_and(|(_, close)| close == to) {
                continue;
            }
            let from = run_start(t, to);
            if from == to || self.changing.iter().any(|r| r.from == from) {
                continue;
            }
            if self.changing.len() >= MAX_CHANGING_RUNS {
                break;
            }
            let at = |k: usize| from.checked_sub(k).map(|k| t[k]);
            let exponent = matches!(at(1), Some(b'e' | b'E' | b'+'))
                || (at(1) == Some(b'-') && matches!(at(2), Some(b'e' | b'E')));
            self.changing.push(ChangingRun {
                from,
                to,
                zero_ok: OnceCell::new(),
                exponent,
                plain: OnceCell::new(),
            });
        }
        if self.changing.len() != before {
            self.changing.sort_unstable_by_key(|r| r.from);
        }
    }
}

/// How many bytes from an entry's start its kind is read from: the
/// members before `text` and the start of `text` fit in this, in every layout
/// the CCP writes (pretty, compact, NDJSON).
pub(crate) const KIND_WINDOW: usize = 1024;
/// Non-digit bytes of `text` that make up the kind.
const KIND_TEXT_BYTES: usize = 64;

/// [`KindReader::key`] with a search every time: what its hint must find.
#[cfg(test)]
pub(crate) fn kind_key(bytes: &[u8], text_key: &memchr::memmem::Finder<'_>) -> u64 {
    let window = &bytes[..bytes.len().min(KIND_WINDOW)];
    kind_key_from(window, text_key.find(window).unwrap_or(0))
}

/// Reads entry kinds ([`kind_key_from`]), looking for the `"text"` key first where it was in
/// the previous entry (or a byte either side: the `level` before it is
/// `INFO` or `DEBUG`). In one log every entry has the same members in the
/// same order, so this almost always finds it without a search. It may find
/// a later `"text"` than the first one (one inside an earlier member's
/// value): a different key for the same kind, so a missed repeat, never a
/// wrong one.
pub(crate) struct KindReader {
    text_key: memchr::memmem::Finder<'static>,
    last: usize,
}

impl Default for KindReader {
    fn default() -> Self {
        KindReader {
            text_key: memchr::memmem::Finder::new(TEXT_KEY),
            last: 0,
        }
    }
}

const TEXT_KEY: &[u8] = b"\"text\"";

impl KindReader {
    pub(crate) fn key(&mut self, bytes: &[u8]) -> u64 {
        let window = &bytes[..bytes.len().min(KIND_WINDOW)];
        let at = |k: usize| window.get(k..k + TEXT_KEY.len()) == Some(TEXT_KEY);
        let hint = [self.last, self.last + 1, self.last.saturating_sub(1)];
        let from = match hint.into_iter().find(|&k| k != 0 && at(k)) {
            Some(k) => k,
            None => self.text_key.find(window).unwrap_or(0),
        };
        self.last = from;
        kind_key_from(window, from)
    }
}

/// The kind of the entry whose first bytes are `window`, for choosing which
/// template it may repeat: read from its `"text"` key at `from` on (from
/// its start when there is none), up to the first digit (a repeat may differ
/// from there on, and digit runs may change length) or [`KIND_TEXT_BYTES`]
/// bytes: the length of that stretch and its first and last 16 bytes. The
/// members before `text` (`component`, `level`) are left out: the text tells
/// the kinds apart, and this runs for every entry. Only a hint: a repeat is
/// always confirmed byte for byte by [`repeat_marks`], so entries of
/// different kinds sharing a key cost a failed comparison, never a wrong
/// result.
fn kind_key_from(window: &[u8], from: usize) -> u64 {
    let rest = &window[from..window.len().min(from + KIND_TEXT_BYTES)];
    let stretch = &rest[..first_digit(rest)];
    let word = |at: usize| {
        let mut w = [0u8; 8];
        match stretch.get(at..at + 8) {
            // The usual case, a fixed-size copy: a single load.
            Some(whole) => w.copy_from_slice(whole),
            None => {
                let end = (at + 8).min(stretch.len());
                if at < end {
                    w[..end - at].copy_from_slice(&stretch[at..end]);
                }
            }
        }
        u64::from_le_bytes(w)
    };
    let last = stretch.len().saturating_sub(16);
    let mut h = stretch.len() as u64;
    for w in [word(0), word(8), word(last), word(last + 8)] {
        h = (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(31);
    }
    h
}

/// The position of the first ASCII digit in `s` (or its length), eight
/// bytes at a time: this runs for every entry.
fn first_digit(s: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOWS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let mut i = 0;
    while i + 8 <= s.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        // `^ '0'` maps the digits, and only them, to 0..=9 with the high
        // bit clear; `(x & 0x7f) + (0x80 - 10)` then sets the high bit of
        // exactly the bytes of 10 and more (no carry crosses a byte), so its
        // complement marks those below 10; `& !x` drops the bytes whose own
        // high bit was set.
        let x = u64::from_le_bytes(w) ^ (ONES * u64::from(b'0'));
        let hits = !((x & LOWS) + ONES * (0x80 - 10)) & !x & !LOWS;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + s[i..]
        .iter()
        .position(u8::is_ascii_digit)
        .unwrap_or(s.len() - i)
}

/// At most this many kinds are remembered: a log's large entries come in a
/// handful of kinds (snapshots, the AWS client's responses to them,
/// configuration polls, metrics and reports).
const MAX_TEMPLATES: usize = 8;
/// And at most this many bytes of templates, so memory stays bounded by a
/// constant plus one entry (a single template may be larger, alone).
const TEMPLATE_BUDGET: usize = 2 << 20;

/// The last entry of each recent kind (see [`KindReader`]), most recently used
/// last; large and small ones are bounded apart.
pub(crate) struct Templates<F> {
    slots: Vec<(u64, Template<F>)>,
    bytes: usize,
    token_key: memchr::memmem::Finder<'static>,
    unicode_escape: memchr::memmem::Finder<'static>,
}

impl<F> Default for Templates<F> {
    fn default() -> Self {
        Templates {
            slots: Vec::new(),
            bytes: 0,
            token_key: memchr::memmem::Finder::new(TOKEN_KEY),
            unicode_escape: memchr::memmem::Finder::new(b"\\u"),
        }
    }
}

impl<F> Templates<F> {
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub(crate) fn get(&self, key: u64) -> Option<&Template<F>> {
        self.slots
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, t)| t)
    }

    pub(crate) fn get_mut(&mut self, key: u64) -> Option<&mut Template<F>> {
        self.slots
            .iter_mut()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, t)| t)
    }

    /// Makes the entry `bytes` the template for `key`, replacing the
    /// previous one and forgetting the least recently stored kinds beyond
    /// the bounds: at most [`MAX_TEMPLATES`] large and as many small ones
    /// (each size class evicts only its own), all within
    /// [`TEMPLATE_BUDGET`]. The storage of a replaced or evicted template is
    /// reused: small entries become templates often, and this keeps that
    /// from allocating each time.
    pub(crate) fn store_with(
        &mut self,
        key: u64,
        bytes: &[u8],
        fields: F,
        strings: [(usize, usize); 3],
        index: u64,
    ) {
        // A digit run changed inside a `\u` escape could leave an invalid
        // one: such an entry is no template (they are rare in logs).
        if self.unicode_escape.find(bytes).is_some() {
            return;
        }
        let mut spare = None;
        if let Some(i) = self.slots.iter().position(|(k, _)| *k == key) {
            let (_, old) = self.slots.remove(i);
            self.bytes -= old.bytes.len();
            spare = Some(old.bytes);
        }
        let large = bytes.len() >= LARGE_TEMPLATE_BYTES;
        loop {
            let class = self
                .slots
                .iter()
                .filter(|(_, t)| (t.bytes.len() >= LARGE_TEMPLATE_BYTES) == large)
                .count();
            let victim = if class >= MAX_TEMPLATES {
                self.slots
                    .iter()
                    .position(|(_, t)| (t.bytes.len() >= LARGE_TEMPLATE_BYTES) == large)
            } else if !self.slots.is_empty() && self.bytes + bytes.len() > TEMPLATE_BUDGET {
                Some(0)
            } else {
                None
            };
            let Some(i) = victim else { break };
            let (_, old) = self.slots.remove(i);
            self.bytes -= old.bytes.len();
            spare.get_or_insert(old.bytes);
        }
        let mut kept = spare.unwrap_or_default();
        kept.clear();
        kept.extend_from_slice(bytes);
        // A buffer kept from a much larger template would hold its memory.
        if kept.capacity() > 2 * bytes.len().max(LARGE_TEMPLATE_BYTES) {
            kept.shrink_to(bytes.len());
        }
        self.bytes += kept.len();
        let token = next_token_quotes_with(&kept, &self.token_key);
        self.slots.push((
            key,
            Template {
                bytes: kept,
                fields,
                index,
                token,
                numbers: OnceCell::new(),
                identity: OnceCell::new(),
                strings,
                changing: Vec::new(),
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks_of(model: &[u8], new: &[u8]) -> Option<(usize, Vec<(usize, usize)>)> {
        repeat_marks(model, next_token_quotes(model), new)
    }

    #[test]
    fn a_repeat_may_differ_only_in_digit_runs_and_the_token() {
        let t =
            br#"{"t": "2025-03-11T13:20:40.039Z", "skew": -82, "nextToken": "abc1x", "s": "ok"}"#;
        let new =
            br#"{"t": "2025-03-11T13:20:42.1Z", "skew": -7, "nextToken": "qq", "s": "ok"}, {"#;
        let (len, marks) = marks_of(t, new).expect("a repeat");
        assert_eq!(len, new.len() - 3);
        // Every mark pairs positions whose following bytes agree.
        for (i, j) in marks {
            assert_eq!(t.get(i), new.get(j));
        }
        for other in [
            &br#"{"t": "2025-03-11T13:20:40.039Z", "skew": -82, "nextToken": "abc1x", "s": "no"}"#
                [..],
            br#"{"t": "2025-03-11T13:20:40.039Z", "skew": 82, "nextToken": "abc1x", "s": "ok"}"#,
            br#"{"t": "2025-03-11T13:20:40.039Z", "skew": -82, "nextToken": "a\"bc", "s": "ok"}"#,
            br#"{"t": "2025-03-11T13:20:40.039Z", "skew": -82"#,
        ] {
            assert!(
                marks_of(t, other).is_none(),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }

    /// A changed digit run never makes a repeat of an invalid number, or of
    /// one `serde_json` could read differently: the entry is scanned and
    /// parsed instead, as on the reference path.
    #[test]
    fn a_repeat_keeps_its_numbers_valid() {
        let t = br#"{"a": 10, "b": [1.5, 2e5, -3], "t": "13:20:10.1", "s": "id"}"#;
        for ok in [
            &br#"{"a": 9, "b": [1.05, 2e5, -30], "t": "13:20:08.01", "s": "id"}"#[..],
            br#"{"a": 0, "b": [100.5, 2e5, -0], "t": "13:20:00.0", "s": "id"}"#,
        ] {
            assert!(same(t, ok), "{}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &br#"{"a": 01, "b": [1.5, 2e5, -3], "t": "13:20:10.1", "s": "id"}"#[..],
            br#"{"a": 00, "b": [1.5, 2e5, -3], "t": "13:20:10.1", "s": "id"}"#,
            br#"{"a": 10, "b": [01.5, 2e5, -3], "t": "13:20:10.1", "s": "id"}"#,
            br#"{"a": 10, "b": [1.5, 2e5, -03], "t": "13:20:10.1", "s": "id"}"#,
            br#"{"a": 10, "b": [1.5, 2e500, -3], "t": "13:20:10.1", "s": "id"}"#,
        ] {
            assert!(!same(t, bad), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(
            number_runs(br#"{"a": 10, "b": [1.5, 2e-5, -3], "c": "7\"8", "d": 9}"#),
            [
                (6, NumberPart::Integer),
                (16, NumberPart::Integer),
                (18, NumberPart::Fraction),
                (21, NumberPart::Integer),
                (24, NumberPart::Exponent),
                (28, NumberPart::Integer),
                (50, NumberPart::Integer),
            ]
        );
        let long = format!(
            r#"{{"a": {}, "b": [1.5, 2e5, -3], "t": "13:20:10.1", "s": "id"}}"#,
            "9".repeat(301)
        );
        assert!(!same(t, long.as_bytes()));
        // `\u` escapes: never the same (a digit in one may change).
        assert!(!same(br#"{"a": "\u0041"}"#, br#"{"a": "\u0041"}"#));
        let mut templates = Templates::default();
        templates.store_with(
            1,
            br#"{"a": "\u0041", "pad": "......"}"#,
            (),
            [(0, 0); 3],
            1,
        );
        assert!(templates.get(1).is_none());
    }

    #[test]
    fn the_next_quote_or_digit_is_found_at_every_position() {
        for len in 0..40 {
            let plain: Vec<u8> = (0..len).map(|k| b" \n{:a/\xa2\xb0"[k % 8]).collect();
            assert_eq!(next_quote_or_digit(&plain, 0), len);
            for at in 0..len {
                for hit in [b'"', b'0', b'9'] {
                    let mut s = plain.clone();
                    s[at] = hit;
                    if at + 2 < len {
                        s[at + 2] = b'"';
                    }
                    assert_eq!(next_quote_or_digit(&s, 0), at);
                    assert_eq!(next_quote_or_digit(&s, at), at);
                }
            }
        }
    }

    #[test]
    fn identity_strings_are_the_strings_with_digits_but_times_and_the_token() {
        let raw = br#"[{"id": "8e02-4085", "name": "Busy", "n2": 5, "startTimestamp": "2020-11-17T20:44:16.150Z", "timeStamp" : "12", "nextToken": "a1", "q": "x\"1", "t": 1, "after": "7"}]"#;
        let spans: Vec<&[u8]> = identity_strings(raw)
            .into_iter()
            .map(|(s, e)| &raw[s..e])
            .collect();
        let want: [&[u8]; 4] = [b"8e02-4085", b"n2", br#"x\"1"#, b"7"];
        assert_eq!(spans, want);
        // A key named like a time, with a number after it, marks nothing.
        let raw = br#"{"timestamp": 5, "x": "9"}"#;
        assert_eq!(identity_strings(raw), vec![(23, 24)]);
    }

    /// A small deterministic generator (xorshift): `next(n)` is below `n`.
    fn xorshift(mut state: u64) -> impl FnMut(usize) -> usize {
        move |n| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        }
    }

    /// The block reader of identity strings gives the byte reader's
    /// answer on random JSON-like text without backslashes (with them the
    /// block reader hands over).
    #[test]
    fn identity_strings_by_blocks_and_by_bytes_agree() {
        let pieces: [&[u8]; 12] = [
            b"\"",
            b"\"",
            b"\"",
            b"a",
            b"7",
            b":",
            b" ",
            b",",
            b"timestamp",
            b"Timestamp",
            b"{",
            b"x",
        ];
        let mut next = xorshift(0x2545_f491_4f6c_dd1d_u64);
        for _ in 0..20_000 {
            let len = next(60);
            let raw: Vec<u8> = (0..len)
                .flat_map(|_| pieces[next(pieces.len())].iter().copied())
                .collect();
            let token = raw.iter().position(|&c| c == b'"').filter(|_| next(2) == 0);
            assert_eq!(
                identity_strings_with(&raw, token),
                identity_strings_by_bytes(&raw, token),
                "{}",
                String::from_utf8_lossy(&raw)
            );
        }
    }

    /// The judgment from the bytes before a run is never wrong where it
    /// is sure: on random valid JSON (keys that end in `timestamp` or not,
    /// strings full of digits, `:`, `,` and escaped quotes, numbers in
    /// arrays and members), no run it passes is inside an identity string.
    #[test]
    fn runs_judged_from_before_them_are_never_in_identity_strings() {
        use serde_json::{Map, Value};
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15_u64);
        let words = [
            "timestamp",
            "startTimestamp",
            "skew",
            "id",
            "a:",
            "\"",
            " 7",
            ":5",
            "x,1",
            "T12:30",
        ];
        fn value(next: &mut dyn FnMut(usize) -> usize, words: &[&str], depth: usize) -> Value {
            let word = |next: &mut dyn FnMut(usize) -> usize| {
                let w = words[next(words.len())];
                match next(3) {
                    0 => w.to_string(),
                    1 => format!("{w}{}", next(1000)),
                    _ => format!(
                        "2025-03-11T13:{:02}:{:02}.{}Z",
                        next(60),
                        next(60),
                        next(999)
                    ),
                }
            };
            match if depth > 2 { next(3) } else { next(5) } {
                0 => Value::from(next(100_000) as i64 - 50_000),
                1 => Value::from(word(next)),
                2 => Value::from(1.5),
                3 => Value::Array(
                    (0..next(4))
                        .map(|_| value(next, words, depth + 1))
                        .collect(),
                ),
                _ => {
                    let mut m = Map::new();
                    for _ in 0..next(5) {
                        m.insert(word(next), value(next, words, depth + 1));
                    }
                    Value::Object(m)
                }
            }
        }
        let mut sure = 0;
        for round in 0..3000 {
            let v = value(&mut next, &words, 0);
            let raw = if round % 2 == 0 {
                serde_json::to_vec(&v).unwrap()
            } else {
                serde_json::to_vec_pretty(&v).unwrap()
            };
            let spans = identity_strings(&raw);
            let mut k = 0;
            while k < raw.len() {
                if raw[k].is_ascii_digit()
                    && (k == 0 || !raw[k - 1].is_ascii_digit())
                    && is_number_or_timestamp(&raw, k)
                {
                    sure += 1;
                    assert!(
                        !spans.iter().any(|&(s, e)| s <= k && k < e),
                        "run at {k}: {}",
                        String::from_utf8_lossy(&raw)
                    );
                }
                k += 1;
            }
        }
        assert!(sure > 1000, "{sure}");
    }

    #[test]
    fn a_repeat_keeps_identity_strings() {
        let a = br#"{"id": "8e02-4085", "timestamp": "2020-11-17T20:44:16.150Z", "skew": -5, "nextToken": "ab1"}"#;
        let id = identity_strings(a);
        // Under another key a time is a name like any other.
        assert_eq!(id.len(), 1);
        let times = br#"{"id": "8e02-4085", "timestamp": "2020-11-17T20:44:17.9Z", "skew": -50, "nextToken": "zz"}"#;
        assert!(same_outside(a, || &id, times));
        for changed in [
            &br#"{"id": "9e02-4085", "timestamp": "2020-11-17T20:44:16.150Z", "skew": -5, "nextToken": "ab1"}"#[..],
            br#"{"id": "8e02-4086", "timestamp": "2020-11-17T20:44:16.150Z", "skew": -5, "nextToken": "ab1"}"#,
            br#"{"id": "8e02-40851", "timestamp": "2020-11-17T20:44:16.150Z", "skew": -5, "nextToken": "ab1"}"#,
        ] {
            assert!(same(a, changed), "{}", String::from_utf8_lossy(changed));
            assert!(!same_outside(a, || &id, changed), "{}", String::from_utf8_lossy(changed));
        }
    }

    #[test]
    fn wholly_the_same() {
        assert!(same(
            br#"{"skew": 12, "t": "2024-01-01T00:00:01.000Z"}"#,
            br#"{"skew": 345, "t": "2024-01-01T00:00:03.250Z"}"#
        ));
        assert!(same(b"", b""));
        assert!(!same(
            br#"{"state": "connected"}"#,
            br#"{"state": "ended"}"#
        ));
        assert!(!same(br#"{"skew": 12}"#, br#"{"skew": -12}"#));
        assert!(!same(b"abc", b"abcd"));
        assert!(!same(b"abcd", b"abc"));
        assert!(!same(b"a1", b"ab"));
        // A digit run may not appear where the other side has none.
        assert!(!same(b"id-x", b"id-1x"));
        // Ids that differ in a letter are different. (Ids differing only in
        // digit positions would match: for random UUIDs, never seen.)
        assert!(!same(b"\"7f3a9c\"", b"\"7f3b9c\""));
        let a =
            br#"[{"snapshot": {"state": {"name": "Available"}, "skew": 3}, "nextToken": "abc1"}]"#;
        let b =
            br#"[{"snapshot": {"state": {"name": "Available"}, "skew": 41}, "nextToken": "zz9q"}]"#;
        let c = br#"[{"snapshot": {"state": {"name": "Busy"}, "skew": 3}, "nextToken": "abc1"}]"#;
        assert!(same(a, b));
        assert!(!same(a, c));
        assert!(!same(
            a,
            br#"[{"snapshot": {"state": {"name": "Available"}, "skew": 3}}]"#
        ));
    }

    /// Stopping first at the runs that changed before gives the general
    /// answer: the same length, every position outside the digit runs and
    /// the token mapped to the same place, over a long run of changed
    /// copies of one template (runs changed, lengthened, shortened, given
    /// leading zeros or changed in an exponent; a byte elsewhere changed).
    #[test]
    fn stopping_at_the_changing_runs_first_gives_the_general_answer() {
        let model = br#"{"text": "GET_AGENT_SNAPSHOT succeeded.", "time": "2025-03-11T13:20:40.039Z", "objects": [{"skew": -82, "n": 10, "f": 1.05, "e": 2e5, "at": 1741700427379, "s": "13:20:05.123Z", "nextToken": "abc1x", "end": "ok"}], "line": 7}"#;
        let mut template = Template {
            bytes: model.to_vec(),
            fields: (),
            index: 0,
            token: next_token_quotes(model),
            numbers: OnceCell::new(),
            identity: OnceCell::new(),
            strings: [(9, 40), (50, 76), (0, 0)],
            changing: Vec::new(),
        };
        let runs: Vec<(usize, usize)> = {
            let mut v = Vec::new();
            let mut i = 0;
            while i < model.len() {
                if model[i].is_ascii_digit() {
                    let from = i;
                    while i < model.len() && model[i].is_ascii_digit() {
                        i += 1;
                    }
                    v.push((from, i));
                } else {
                    i += 1;
                }
            }
            v
        };
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let (mut fast_marks, mut general_marks) = (Vec::new(), Vec::new());
        let (mut repeats, mut not) = (0, 0);
        for _ in 0..20_000 {
            let mut new = model.to_vec();
            // Change some runs, from the last so positions stay valid.
            for &(from, to) in runs.iter().rev() {
                if next(3) != 0 {
                    continue;
                }
                let digits = match next(5) {
                    0 => 1,
                    1 => to - from + 1,
                    2 => (to - from).saturating_sub(1).max(1),
                    _ => to - from,
                };
                let run: Vec<u8> = (0..digits)
                    .map(|k| {
                        if k == 0 && next(4) == 0 {
                            b'0'
                        } else {
                            b'0' + next(10) as u8
                        }
                    })
                    .collect();
                new.splice(from..to, run);
            }
            if next(10) == 0 {
                let at = next(new.len() as u64) as usize;
                new[at] = b"x1\"\\:"[next(5) as usize];
            }
            new.extend_from_slice(b", {\"next\": 1}");
            let general = repeat_marks_into(
                model,
                template.token,
                &template.strings,
                &OnceCell::new(),
                &new,
                &mut general_marks,
            );
            let fast = template.matches(&new, &mut fast_marks);
            assert_eq!(fast, general, "{}", String::from_utf8_lossy(&new));
            if fast.is_none() {
                not += 1;
                continue;
            }
            repeats += 1;
            let (open, close) = template.token.expect("a token");
            for (p, c) in model.iter().enumerate() {
                if c.is_ascii_digit() || (open < p && p < close) {
                    continue;
                }
                assert_eq!(
                    map_position(p, &fast_marks),
                    map_position(p, &general_marks),
                    "position {p} of {}",
                    String::from_utf8_lossy(&new)
                );
            }
        }
        // Both kinds of answer were tried, and the runs were learned.
        assert!(repeats > 1000 && not > 1000, "{repeats} {not}");
        assert!(template.changing.len() > 5);
    }

    #[test]
    fn positions_follow_the_marks() {
        let marks = [(0, 0), (10, 8), (20, 25)];
        assert_eq!(map_position(5, &marks), 5);
        assert_eq!(map_position(10, &marks), 8);
        assert_eq!(map_position(15, &marks), 13);
        assert_eq!(map_position(20, &marks), 25);
        assert_eq!(map_position(30, &marks), 35);
    }

    #[test]
    fn the_kind_ignores_digits_and_what_follows_the_text() {
        let f = memchr::memmem::Finder::new(b"\"text\"");
        let a = br#"{"level": "TRACE", "text": "GET_AGENT_SNAPSHOT succeeded.", "time": "2025-03-11T13:20:40.039Z", "objects": [1]}"#;
        let b = br#"{"level": "TRACE", "text": "GET_AGENT_SNAPSHOT succeeded.", "time": "2025-03-11T13:20:42.1Z", "objects": [22]}"#;
        let c = br#"{"level": "TRACE", "text": "AWSClient: <-- Operation 'getAgentSnapshot' succeeded.", "time": "2025-03-11T13:20:40.039Z"}"#;
        assert_eq!(kind_key(a, &f), kind_key(b, &f));
        assert_ne!(kind_key(a, &f), kind_key(c, &f));
        // The reader's keys are the same wherever its hint is right; where
        // it finds a later `"text"`, only a different key.
        let mut r = KindReader::default();
        for bytes in [&a[..], b, c, a, c] {
            assert_eq!(r.key(bytes), kind_key(bytes, &f));
        }
        let info = br#"{"level": "INFO", "text": "GET_AGENT_SNAPSHOT succeeded.", "time": "1"}"#;
        assert_eq!(r.key(info), kind_key(info, &f));
    }

    #[test]
    fn templates_stay_within_their_bounds() {
        let mut t = Templates::default();
        for k in 0..20u64 {
            t.store_with(k % 10, &[b'x'; 2000], (), [(0, 0); 3], k);
        }
        assert_eq!(t.slots.len(), MAX_TEMPLATES);
        assert_eq!(t.get(9).map(|t| t.index), Some(19));
        assert!(t.get(0).is_none());
        t.store_with(3, &vec![b'y'; TEMPLATE_BUDGET], (), [(0, 0); 3], 99);
        assert_eq!(t.slots.len(), 1);
        assert_eq!(t.bytes, TEMPLATE_BUDGET);
        t.store_with(4, &[b'z'; 10], (), [(0, 0); 3], 100);
        assert_eq!(t.slots.len(), 1);
        assert_eq!(t.get(4).map(|t| t.index), Some(100));
    }

    #[test]
    fn the_first_digit_is_found_at_every_position() {
        for len in 0..40 {
            let plain: Vec<u8> = (0..len).map(|k| b"/:aZ \xb0\xb9\x10"[k % 8]).collect();
            assert_eq!(first_digit(&plain), len);
            for at in 0..len {
                for d in b'0'..=b'9' {
                    let mut s = plain.clone();
                    s[at] = d;
                    if at + 2 < len {
                        s[at + 2] = b'5';
                    }
                    assert_eq!(first_digit(&s), at);
                }
            }
        }
    }

    #[test]
    fn small_templates_never_push_out_large_ones() {
        let mut t = Templates::default();
        for k in 0..MAX_TEMPLATES as u64 {
            t.store_with(k, &[b'x'; 2000], (), [(0, 0); 3], k);
        }
        for k in 100..200u64 {
            t.store_with(k, &[b's'; 300], (), [(0, 0); 3], k);
        }
        assert_eq!(t.slots.len(), 2 * MAX_TEMPLATES);
        for k in 0..MAX_TEMPLATES as u64 {
            assert_eq!(t.get(k).map(|t| t.index), Some(k));
        }
        assert!(t.get(100).is_none());
        assert_eq!(t.get(199).map(|t| t.bytes.len()), Some(300));
        // A replaced template's storage is reused, never kept oversized.
        t.store_with(199, &[b'q'; 150], (), [(0, 0); 3], 300);
        assert_eq!(
            t.get(199).map(|t| t.bytes.as_slice()),
            Some(&[b'q'; 150][..])
        );
        assert_eq!(
            t.bytes,
            MAX_TEMPLATES * 2000 + (MAX_TEMPLATES - 1) * 300 + 150
        );
    }
}
