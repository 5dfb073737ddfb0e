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
pub fn same(a: &[u8], b: &[u8]) -> bool {
    // A digit run changed inside a `\u` escape could leave an invalid one.
    if memchr::memmem::find(a, b"\\u").is_some() {
        return false;
    }
    matches!(repeat_marks(a, next_token_quotes(a), b), Some((len, _)) if len == b.len())
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
            let from = to
                - t[..to]
                    .iter()
                    .rev()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
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
