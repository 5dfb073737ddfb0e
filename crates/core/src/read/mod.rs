//! Streaming log reader: detects the shape and compression from the content
//! and yields one entry at a time as a borrowed slice of the input.
//!
//! Memory is bounded by one entry plus a two-chunk buffer, whatever the file
//! size: a byte-level scanner finds where each entry ends (tracking strings
//! and nesting without recursion) and where its own `text`, `time` and
//! `objects` values sit; `objects` is handed to `serde_json` only when a line
//! needs it.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

pub(crate) mod blocks;
mod fields;
mod swar;

use crate::document::{Format, RejectKind, Rejection};
use crate::options::Limits;
use crate::repeats::{self, KIND_WINDOW, TEMPLATE_MIN_BYTES, TEMPLATE_SLACK, Templates};
use crate::time::Millis;
use blocks::{Nested, skip_nested};
pub(crate) use fields::RawString;
use fields::{Field, Fields, Span, build_entry};
use swar::{find_quote_or_backslash, skip_plain, skip_ws};

const CHUNK: usize = 256 * 1024;

/// Why reading stopped.
#[derive(Debug)]
pub enum ReadError {
    /// The underlying reader failed: not the log's fault, worth a retry.
    Source(io::Error),
    /// The content is not a readable CCP log.
    Reject(Rejection),
}

fn reject(kind: RejectKind, message: String, offset: Option<u64>, entry: Option<u64>) -> ReadError {
    ReadError::Reject(Rejection {
        kind,
        message,
        offset,
        entry,
    })
}

/// One parsed entry. `text` and `objects` borrow from the reader's buffer.
pub struct Entry<'a> {
    pub index: u64,
    pub time: Millis,
    pub text: Cow<'a, str>,
    /// The raw JSON of `objects`, parsed only where needed.
    pub objects: Option<&'a [u8]>,
    /// The agent's user id (Streams 1.6.4 and later), when a string.
    pub agent: Option<RawString<'a>>,
    /// This entry repeats entry N byte for byte, except for digit runs and
    /// the value of a `nextToken` member (see [`Template`](crate::repeats::Template)),
    /// and no digit changed inside an id or a name of its `objects`
    /// ([`identity_strings`](crate::repeats::identity_strings)): a parse of
    /// entry N's `objects` is this one's.
    pub repeats: Option<u64>,
}

/// What a single element turned out to be.
pub enum Item<'a> {
    Entry(Entry<'a>),
    /// Skipped, with a message for the warning list.
    Invalid {
        index: u64,
        offset: u64,
        message: String,
    },
}

/// Marks errors that came from the caller's reader rather than from decoding,
/// so they can be told apart after passing through the gzip decoder.
struct TaggedSource<R> {
    inner: R,
    failed: Rc<Cell<bool>>,
}

impl<R: Read> Read for TaggedSource<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.failed.set(true);
                    return Err(e);
                }
                ok => return ok,
            }
        }
    }
}

pub struct LogReader<'r> {
    input: Box<dyn Read + 'r>,
    source_failed: Rc<Cell<bool>>,
    gzip: bool,
    limits: Limits,
    /// Storage; only `buf[..filled]` holds input. Kept zero-initialised and
    /// grown by doubling, so a read never pays for a fresh zero-fill.
    buf: Vec<u8>,
    filled: usize,
    /// Scan position in `buf`.
    pos: usize,
    /// Absolute (decompressed) offset of `buf[0]`.
    base: u64,
    eof: bool,
    mode: Mode,
    format: Format,
    elements: u64,
    /// The last entry of each kind (of at least `TEMPLATE_MIN_BYTES`): real
    /// logs interleave several kinds of entries (snapshots and the AWS
    /// client's responses carrying the same snapshot, configuration polls,
    /// metrics, heartbeats), so the previous entry is seldom the one an
    /// entry repeats.
    templates: Templates<Fields>,
    kinds: repeats::KindReader,
    /// Where a repeat realigns with its template; kept across entries so a
    /// repeat costs no allocation.
    marks: Vec<(usize, usize)>,
    /// The kind of the entry at this absolute offset, read when looking for
    /// its template: kept so an entry that is scanned after all and becomes
    /// a template is not read for its kind twice.
    kind: Option<(u64, u64)>,
    reuse_repeats: bool,
    /// A read error (or the decompressed cap) met while reading ahead, for
    /// the scan to meet when it needs the bytes that could not be read: so
    /// how far the reader looked ahead never decides which problem of a log
    /// is reported.
    pending: Option<ReadError>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Start,
    /// Inside the entry array. `wrapped`: the array is a legacy `_logs` member.
    Array {
        first: bool,
        wrapped: bool,
    },
    /// In the legacy object, between members (`expect_member`: after `{` or `,`).
    WrapperMembers {
        expect_member: bool,
        found_logs: bool,
    },
    Ndjson,
    Done,
}

impl<'r> LogReader<'r> {
    /// `reuse_repeats`: see [`crate::Options::reuse_repeats`].
    pub fn new<R: Read + 'r>(
        input: R,
        limits: Limits,
        reuse_repeats: bool,
    ) -> Result<LogReader<'r>, ReadError> {
        let failed = Rc::new(Cell::new(false));
        let mut tagged = TaggedSource {
            inner: input,
            failed: failed.clone(),
        };
        let mut magic = [0u8; 2];
        let mut got = 0;
        while got < 2 {
            match tagged.read(&mut magic[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) => return Err(ReadError::Source(e)),
            }
        }
        let head = io::Cursor::new(magic[..got].to_vec());
        let gzip = got == 2 && magic == [0x1f, 0x8b];
        let input: Box<dyn Read + 'r> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(
                io::BufReader::with_capacity(CHUNK, head.chain(tagged)),
            ))
        } else {
            Box::new(head.chain(tagged))
        };
        Ok(LogReader {
            input,
            source_failed: failed,
            gzip,
            limits,
            buf: vec![0; 2 * CHUNK],
            filled: 0,
            pos: 0,
            base: 0,
            eof: false,
            mode: Mode::Start,
            format: Format::JsonArray,
            elements: 0,
            templates: Templates::default(),
            kinds: repeats::KindReader::default(),
            marks: Vec::new(),
            kind: None,
            reuse_repeats,
            pending: None,
        })
    }

    pub fn gzip(&self) -> bool {
        self.gzip
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Decompressed bytes consumed so far.
    pub fn bytes(&self) -> u64 {
        self.base + self.filled as u64
    }

    /// Array elements (or NDJSON values) seen, valid or not.
    pub fn elements(&self) -> u64 {
        self.elements
    }

    fn abs(&self, i: usize) -> u64 {
        self.base + i as u64
    }

    /// Reads more input, first dropping everything before `keep`. Returns how
    /// far positions moved down, or `None` at end of input.
    fn fill(&mut self, keep: usize) -> Result<Option<usize>, ReadError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        if self.eof {
            return Ok(None);
        }
        let shift = keep;
        if shift > 0 {
            self.buf.copy_within(shift..self.filled, 0);
            self.filled -= shift;
            self.base += shift as u64;
            self.pos -= shift.min(self.pos);
        }
        if self.filled > self.limits.max_entry_bytes {
            return Err(self.entry_too_large(0));
        }
        let storage = self.buf.len();
        if storage - self.filled < CHUNK {
            // Doubling, but never far past what one entry may need: near
            // the entry cap, doubling would commit up to twice the cap.
            let most = self.limits.max_entry_bytes.saturating_add(2 * CHUNK);
            let grown = (storage * 2).min(most).max(self.filled + CHUNK);
            self.buf.resize(grown, 0);
        }
        let n = loop {
            match self.input.read(&mut self.buf[self.filled..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.classify_io_error(e)),
            }
        };
        self.filled += n;
        if self.abs(self.filled) > self.limits.max_decompressed_bytes {
            // The bytes up to the cap are read like any others; the scan
            // meets the cap when it needs the next one, however the input
            // was cut into reads.
            self.filled = (self.limits.max_decompressed_bytes - self.base) as usize;
            self.pending = Some(reject(
                RejectKind::TooLarge,
                format!(
                    "input exceeds the {} byte limit{}",
                    self.limits.max_decompressed_bytes,
                    if self.gzip {
                        " after decompression"
                    } else {
                        ""
                    }
                ),
                Some(self.limits.max_decompressed_bytes),
                None,
            ));
        }
        if n == 0 {
            self.eof = true;
            // Positions moved all the same: callers must hear of it (they
            // loop, and the next call says `None`).
            return Ok((shift > 0).then_some(shift));
        }
        Ok(Some(shift))
    }

    /// [`Self::fill`] for a look ahead the scan may not need: an error
    /// waits in `pending` for the scan, and reading ahead stops (`None`).
    fn fill_ahead(&mut self, keep: usize) -> Option<usize> {
        match self.fill(keep) {
            Ok(shift) => shift,
            Err(e) => {
                self.pending = Some(e);
                None
            }
        }
    }

    fn classify_io_error(&self, e: io::Error) -> ReadError {
        if self.source_failed.get() {
            return ReadError::Source(e);
        }
        let offset = Some(self.bytes());
        if self.gzip {
            let what = if e.kind() == io::ErrorKind::UnexpectedEof {
                "gzip stream is truncated".to_string()
            } else {
                format!("gzip stream is corrupt: {e}")
            };
            reject(RejectKind::BadGzip, what, offset, None)
        } else {
            ReadError::Source(e)
        }
    }

    /// Skips white space; returns the next byte without consuming it.
    fn peek(&mut self) -> Result<Option<u8>, ReadError> {
        self.peek_from(None)
    }

    /// Like [`Self::peek`], but keeps the buffer from `keep` on (adjusted
    /// when the buffer moves).
    fn peek_keeping(&mut self, keep: &mut usize) -> Result<Option<u8>, ReadError> {
        self.peek_from(Some(keep))
    }

    fn peek_from(&mut self, mut keep: Option<&mut usize>) -> Result<Option<u8>, ReadError> {
        loop {
            while self.pos < self.filled {
                let c = self.buf[self.pos];
                if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                    self.pos += 1;
                } else {
                    return Ok(Some(c));
                }
            }
            // Unless asked, the white space is not kept: between entries it
            // is part of none, and kept it would count against the entry cap
            // whenever it arrives in more than one read.
            let from = keep.as_deref().copied().unwrap_or(self.pos);
            match self.fill(from)? {
                Some(shift) => {
                    if let Some(keep) = keep.as_deref_mut() {
                        *keep -= shift;
                    }
                }
                None => return Ok(None),
            }
        }
    }

    /// Scans one JSON value starting at `self.pos` (a non-white-space byte)
    /// and returns its end. Validation of the value's inside is left to
    /// `serde_json`; this only finds the boundary and enforces the caps.
    fn scan_value(&mut self, base_depth: usize) -> Result<(usize, usize), ReadError> {
        let mut start = self.pos;
        let mut i = start;
        let mut depth = 0usize;
        let scalar = !matches!(self.buf[start], b'{' | b'[' | b'"');
        loop {
            if i >= self.filled {
                match self.fill(start)? {
                    Some(shift) => {
                        start -= shift;
                        i -= shift;
                        continue;
                    }
                    None if scalar => return Ok((start, i)),
                    None => return Err(self.truncated_entry(start, i)),
                }
            }
            let c = self.buf[i];
            if scalar {
                if is_delimiter(c) {
                    return Ok((start, i));
                }
                i += 1;
                continue;
            }
            match c {
                b'"' => {
                    i = self.skip_string(&mut start, i)?.0;
                    if depth == 0 {
                        return Ok((start, i));
                    }
                    continue;
                }
                b'{' | b'[' => {
                    depth += 1;
                    if depth + base_depth > self.limits.max_depth {
                        return Err(self.too_deep(i));
                    }
                }
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok((start, i + 1));
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }

    fn entry_too_large(&self, start: usize) -> ReadError {
        reject(
            RejectKind::TooLarge,
            format!(
                "entry {} is larger than the {} byte limit",
                self.elements, self.limits.max_entry_bytes
            ),
            Some(self.abs(start)),
            Some(self.elements),
        )
    }

    fn string_too_long(&self, str_start: usize) -> ReadError {
        reject(
            RejectKind::TooLarge,
            format!(
                "a string in entry {} is longer than the {} byte limit",
                self.elements, self.limits.max_string_bytes
            ),
            Some(self.abs(str_start)),
            Some(self.elements),
        )
    }

    fn expect_more(&self, what: &str) -> ReadError {
        reject(
            RejectKind::MalformedJson,
            format!(
                "input ends {what} (after {} entries): the file is truncated",
                self.elements
            ),
            Some(self.bytes()),
            None,
        )
    }

    fn unexpected(&self, c: u8, expected: &str) -> ReadError {
        reject(
            RejectKind::MalformedJson,
            format!(
                "expected {expected} at byte {}, found {}",
                self.abs(self.pos),
                describe_byte(c)
            ),
            Some(self.abs(self.pos)),
            None,
        )
    }

    /// Detects the shape from the first bytes.
    fn start(&mut self) -> Result<(), ReadError> {
        // A UTF-8 byte order mark is skipped.
        while self.filled < 3 && !self.eof {
            let keep = self.pos;
            self.fill(keep)?;
        }
        if self.buf[..self.filled].starts_with(&[0xef, 0xbb, 0xbf]) {
            self.pos = 3;
        }
        let Some(c) = self.peek()? else {
            return Err(reject(
                RejectKind::Empty,
                if self.bytes() == 0 {
                    "the input is empty".into()
                } else {
                    "the input holds only white space".into()
                },
                None,
                None,
            ));
        };
        match c {
            b'[' => {
                self.pos += 1;
                self.format = Format::JsonArray;
                self.mode = Mode::Array {
                    first: true,
                    wrapped: false,
                };
            }
            b'{' => self.start_object()?,
            b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                let (s, e) = self.scan_value(0)?;
                let is_json =
                    serde_json::from_slice::<serde::de::IgnoredAny>(&self.buf[s..e]).is_ok();
                return Err(if is_json {
                    reject(
                        RejectKind::NotCcpLog,
                        "the input is a single JSON value, not a log (expected an array of entries)"
                            .into(),
                        Some(self.abs(s)),
                        None,
                    )
                } else {
                    self.not_json(c)
                });
            }
            _ => return Err(self.not_json(c)),
        }
        Ok(())
    }

    fn not_json(&mut self, c: u8) -> ReadError {
        // The signature is four bytes, and a reader may hand them over one
        // at a time.
        while self.filled - self.pos < 4 {
            let keep = self.pos;
            match self.fill(keep) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => return e,
            }
        }
        let what = if self.buf[self.pos..self.filled].starts_with(b"\x89PNG") {
            "a PNG image".to_string()
        } else {
            describe_byte(c)
        };
        reject(
            RejectKind::NotJson,
            format!(
                "not JSON: the input starts with {what} at byte {}",
                self.abs(self.pos)
            ),
            Some(self.abs(self.pos)),
            None,
        )
    }

    /// A top-level object is either the 2017 wrapper (`{"_logs": [...], ...}`,
    /// whose members all start with `_`) or the first NDJSON entry.
    fn start_object(&mut self) -> Result<(), ReadError> {
        let mut obj_start = self.pos;
        self.pos += 1;
        let first_key_underscore = match self.peek_keeping(&mut obj_start)? {
            Some(b'"') => {
                while self.pos + 2 > self.filled {
                    match self.fill(obj_start)? {
                        Some(shift) => obj_start -= shift,
                        None => return Err(self.expect_more("inside the first object")),
                    }
                }
                self.buf[self.pos + 1] == b'_'
            }
            _ => false,
        };
        if first_key_underscore {
            self.format = Format::LegacyObject;
            self.mode = Mode::WrapperMembers {
                expect_member: true,
                found_logs: false,
            };
        } else {
            self.format = Format::Ndjson;
            self.pos = obj_start;
            self.mode = Mode::Ndjson;
        }
        Ok(())
    }

    /// Reads the key of the next wrapper member and the ':' after it; returns
    /// whether it is `_logs`.
    fn wrapper_key(&mut self) -> Result<bool, ReadError> {
        match self.peek()? {
            Some(b'"') => {}
            Some(c) => return Err(self.unexpected(c, "a member name")),
            None => return Err(self.expect_more("inside the log object")),
        }
        let (s, e) = self.scan_value(1)?;
        let is_logs = &self.buf[s..e] == b"\"_logs\"";
        self.pos = e;
        match self.peek()? {
            Some(b':') => self.pos += 1,
            Some(c) => return Err(self.unexpected(c, "':'")),
            None => return Err(self.expect_more("inside the log object")),
        }
        Ok(is_logs)
    }

    /// Returns the next array element or NDJSON value, parsed.
    pub fn next_item(&mut self) -> Result<Option<Item<'_>>, ReadError> {
        loop {
            match self.mode {
                Mode::Start => self.start()?,
                Mode::Done => {
                    return match self.peek()? {
                        None => Ok(None),
                        Some(c) => Err(reject(
                            RejectKind::MalformedJson,
                            format!(
                                "unexpected data after the end of the log at byte {}: {}",
                                self.abs(self.pos),
                                describe_byte(c)
                            ),
                            Some(self.abs(self.pos)),
                            None,
                        )),
                    };
                }
                Mode::WrapperMembers {
                    expect_member,
                    found_logs,
                } => match self.peek()? {
                    Some(b'}') => {
                        self.pos += 1;
                        if !found_logs {
                            return Err(reject(
                                RejectKind::NotCcpLog,
                                "a JSON object without a `_logs` entry array: not a CCP log".into(),
                                None,
                                None,
                            ));
                        }
                        self.mode = Mode::Done;
                    }
                    Some(b',') if !expect_member => {
                        self.pos += 1;
                        self.mode = Mode::WrapperMembers {
                            expect_member: true,
                            found_logs,
                        };
                    }
                    Some(_) if expect_member => {
                        let is_logs = self.wrapper_key()?;
                        match self.peek()? {
                            Some(b'[') if is_logs && !found_logs => {
                                self.pos += 1;
                                self.mode = Mode::Array {
                                    first: true,
                                    wrapped: true,
                                };
                            }
                            Some(_) => {
                                // Held whole in the buffer like an entry, so
                                // capped like one, however it arrives.
                                let (s, e) = self.scan_value(1)?;
                                if e - s > self.limits.max_entry_bytes {
                                    return Err(self.entry_too_large(s));
                                }
                                self.pos = e;
                                self.mode = Mode::WrapperMembers {
                                    expect_member: false,
                                    found_logs,
                                };
                            }
                            None => return Err(self.expect_more("inside the log object")),
                        }
                    }
                    Some(c) => return Err(self.unexpected(c, "',' or '}'")),
                    None => return Err(self.expect_more("inside the log object")),
                },
                Mode::Array { first, wrapped } => {
                    let Some(c) = self.peek()? else {
                        return Err(self.expect_more("inside the entry array"));
                    };
                    if c == b']' {
                        self.pos += 1;
                        self.mode = if wrapped {
                            Mode::WrapperMembers {
                                expect_member: false,
                                found_logs: true,
                            }
                        } else {
                            Mode::Done
                        };
                        continue;
                    }
                    if !first {
                        if c != b',' {
                            return Err(self.unexpected(c, "',' or ']' after an entry"));
                        }
                        self.pos += 1;
                        if self.peek()?.is_none() {
                            return Err(self.expect_more("inside the entry array"));
                        }
                    }
                    self.mode = Mode::Array {
                        first: false,
                        wrapped,
                    };
                    let depth = if wrapped { 2 } else { 1 };
                    return self.element(depth).map(Some);
                }
                Mode::Ndjson => {
                    if self.peek()?.is_none() {
                        return Ok(None);
                    }
                    return self.element(0).map(Some);
                }
            }
        }
    }

    fn element(&mut self, base_depth: usize) -> Result<Item<'_>, ReadError> {
        let index = self.elements;
        if self.buf[self.pos] != b'{' {
            let (s, e) = self.scan_value(base_depth)?;
            if e - s > self.limits.max_entry_bytes {
                return Err(self.entry_too_large(s));
            }
            self.pos = e;
            self.elements += 1;
            let offset = self.abs(s);
            if serde_json::from_slice::<serde::de::IgnoredAny>(&self.buf[s..e]).is_err() {
                return Err(malformed_entry(index, offset, "not a JSON value"));
            }
            return Ok(Item::Invalid {
                index,
                offset,
                message: "the entry is not an object".into(),
            });
        }
        if let Some((e, fields, repeats, keeps_identity)) = self.repeat_of_template()? {
            let s = self.pos;
            self.pos = e;
            self.elements += 1;
            let offset = self.abs(s);
            let mut item = build_entry(&self.buf[s..e], &fields, index, offset, Some(repeats))?;
            if let Item::Entry(entry) = &mut item
                && !keeps_identity
            {
                // The same structure, but an id or a name changed: no parse
                // to reuse.
                entry.repeats = None;
            }
            return Ok(item);
        }
        let (s, e, fields) = self.scan_entry(base_depth)?;
        if e - s > self.limits.max_entry_bytes {
            return Err(self.entry_too_large(s));
        }
        if self.reuse_repeats && e - s >= TEMPLATE_MIN_BYTES {
            let bytes = &self.buf[s..e];
            let key = match self.kind {
                Some((at, key)) if at == self.base + s as u64 => key,
                _ => self.kinds.key(bytes),
            };
            let strings = fields.string_spans();
            self.templates
                .store_with(key, bytes, fields, strings, index);
        }
        self.pos = e;
        self.elements += 1;
        let offset = self.abs(s);
        build_entry(&self.buf[s..e], &fields, index, offset, None)
    }

    /// Whether the entry at `self.pos` repeats the template; if so, its end
    /// and fields, found without a structural scan.
    fn repeat_of_template(&mut self) -> Result<Option<(usize, Fields, u64, bool)>, ReadError> {
        if self.templates.is_empty() {
            return Ok(None);
        }
        // The kind is read from the entry's first bytes; the comparison
        // needs the whole template's length (plus slack) in the buffer. A
        // repeat longer than the entry cap is refused anyway; looking
        // further ahead would count the next entries against that cap.
        let window = KIND_WINDOW.min(self.limits.max_entry_bytes);
        while self.filled - self.pos < window {
            let keep = self.pos;
            if self.fill_ahead(keep).is_none() {
                break;
            }
        }
        let key = self.kinds.key(&self.buf[self.pos..self.filled]);
        self.kind = Some((self.abs(self.pos), key));
        let Some(need) = self
            .templates
            .get(key)
            .map(|t| (t.bytes.len() + TEMPLATE_SLACK).min(self.limits.max_entry_bytes))
        else {
            return Ok(None);
        };
        while self.filled - self.pos < need {
            let keep = self.pos;
            if self.fill_ahead(keep).is_none() {
                break;
            }
        }
        let Some(t) = self.templates.get_mut(key) else {
            return Ok(None);
        };
        let available = &self.buf[self.pos..self.filled];
        let Some(len) = t.matches(available, &mut self.marks) else {
            return Ok(None);
        };
        if len > self.limits.max_entry_bytes {
            return Ok(None);
        }
        let marks = &self.marks;
        let fields = t.fields.map(|p| repeats::map_position(p, marks));
        let objects = t.fields.objects_span();
        Ok(Some((
            self.pos + len,
            fields,
            t.index,
            t.keeps_identity(marks, objects),
        )))
    }

    /// Scans one entry object in a single pass: finds where it ends and
    /// where its own `text`, `time`, `objects` and `agentResourceId` values
    /// sit. Nested values are only skipped (their brackets and strings
    /// tracked, caps enforced); `objects` is parsed later, and only for the
    /// entries that need it. Returns (start, end, fields) with `start..end`
    /// the entry in `self.buf`.
    fn scan_entry(&mut self, base_depth: usize) -> Result<(usize, usize, Fields), ReadError> {
        // What may come next among the entry's own members.
        #[derive(PartialEq, Eq, Clone, Copy)]
        enum Expect {
            KeyOrEnd,
            Key,
            Colon,
            Value,
            After,
        }
        let mut start = self.pos;
        let mut i = start + 1;
        let mut fields = Fields::default();
        let mut expect = Expect::KeyOrEnd;
        let mut field = Field::Other;
        // 1: among the entry's own members; more: inside a nested value.
        let mut depth = 1usize;
        let mut value_from = 0usize;
        // Up to here the string-at-a-time loop goes on without the blocks.
        let mut careful_until = 0usize;
        let room = self.limits.max_depth.saturating_sub(base_depth);
        loop {
            if i >= self.filled {
                match self.fill(start)? {
                    Some(shift) => {
                        start -= shift;
                        i -= shift;
                        careful_until = careful_until.saturating_sub(shift);
                        continue;
                    }
                    None => return Err(self.truncated_entry(start, i)),
                }
            }
            if depth > 1 {
                if i >= careful_until {
                    let buf = &self.buf[..self.filled];
                    match skip_nested(buf, i, depth, room, self.limits.max_string_bytes) {
                        Nested::Closed(end) => {
                            i = end;
                            depth = 1;
                            fields.set(field, Span::unquoted(value_from, i - start));
                            expect = Expect::After;
                            continue;
                        }
                        Nested::Stopped {
                            at,
                            depth: d,
                            careful_until: until,
                        } => {
                            i = at;
                            depth = d;
                            careful_until = until;
                        }
                    }
                }
                i = skip_plain(&self.buf[..self.filled], i);
                if i >= self.filled {
                    continue;
                }
                match self.buf[i] {
                    b'"' => i = self.skip_string(&mut start, i)?.0,
                    b'{' | b'[' => {
                        depth += 1;
                        if depth + base_depth > self.limits.max_depth {
                            return Err(self.too_deep(i));
                        }
                        i += 1;
                    }
                    _ => {
                        depth -= 1;
                        i += 1;
                        if depth == 1 {
                            fields.set(field, Span::unquoted(value_from, i - start));
                            expect = Expect::After;
                        }
                    }
                }
                continue;
            }
            i = skip_ws(&self.buf[..self.filled], i);
            if i >= self.filled {
                continue;
            }
            let c = self.buf[i];
            match expect {
                Expect::KeyOrEnd | Expect::Key => {
                    if c == b'}' && expect == Expect::KeyOrEnd {
                        return Ok((start, i + 1, fields));
                    }
                    if c != b'"' {
                        return Err(self.unexpected_in_entry(start, i, "a member name"));
                    }
                    let key_from = i + 1 - start;
                    let (end, escaped) = self.skip_string(&mut start, i)?;
                    i = end;
                    field = if escaped {
                        Field::Other
                    } else {
                        Field::of(&self.buf[start + key_from..i - 1])
                    };
                    expect = Expect::Colon;
                }
                Expect::Colon => {
                    if c != b':' {
                        return Err(self.unexpected_in_entry(start, i, "':'"));
                    }
                    i += 1;
                    expect = Expect::Value;
                }
                Expect::Value => {
                    value_from = i - start;
                    match c {
                        b'"' => {
                            let (end, escaped) = self.skip_string(&mut start, i)?;
                            i = end;
                            fields.set(
                                field,
                                Span {
                                    from: value_from,
                                    to: i - start,
                                    string: true,
                                    escaped,
                                },
                            );
                            expect = Expect::After;
                        }
                        b'{' | b'[' => {
                            depth += 1;
                            if depth + base_depth > self.limits.max_depth {
                                return Err(self.too_deep(i));
                            }
                            i += 1;
                        }
                        _ => {
                            // A scalar: it ends at a delimiter.
                            loop {
                                while i < self.filled && !is_delimiter(self.buf[i]) {
                                    i += 1;
                                }
                                if i < self.filled {
                                    break;
                                }
                                match self.fill(start)? {
                                    Some(shift) => {
                                        start -= shift;
                                        i -= shift;
                                    }
                                    None => return Err(self.truncated_entry(start, i)),
                                }
                            }
                            let literal = &self.buf[start + value_from..i];
                            if !is_json_scalar(literal) {
                                return Err(malformed_entry(
                                    self.elements,
                                    self.abs(start),
                                    &format!(
                                        "`{}` is not a JSON value",
                                        String::from_utf8_lossy(literal)
                                    ),
                                ));
                            }
                            fields.set(field, Span::unquoted(value_from, i - start));
                            expect = Expect::After;
                        }
                    }
                }
                Expect::After => match c {
                    b',' => {
                        i += 1;
                        expect = Expect::Key;
                    }
                    b'}' => return Ok((start, i + 1, fields)),
                    _ => return Err(self.unexpected_in_entry(start, i, "',' or '}'")),
                },
            }
        }
    }

    /// Skips the string whose opening quote is at `open`. Returns the index
    /// after its closing quote and whether it holds escapes. `start` is the
    /// entry start, kept (and moved) across refills.
    ///
    /// Inlined for the common case (a string without escapes, whole in the
    /// buffer): an entry is mostly short member names and values, and the
    /// call cost as much as the search. Everything else is the general
    /// loop's, which gives the same answer for the common case too.
    #[inline(always)]
    fn skip_string(&mut self, start: &mut usize, open: usize) -> Result<(usize, bool), ReadError> {
        if let Some(k) = find_quote_or_backslash(&self.buf[..self.filled], open + 1)
            && self.buf[k] == b'"'
            && k - open <= self.limits.max_string_bytes + 1
        {
            return Ok((k + 1, false));
        }
        self.skip_string_general(start, open)
    }

    #[inline(never)]
    fn skip_string_general(
        &mut self,
        start: &mut usize,
        open: usize,
    ) -> Result<(usize, bool), ReadError> {
        let rel_open = open - *start;
        let mut i = open + 1;
        let mut escaped = false;
        loop {
            match find_quote_or_backslash(&self.buf[..self.filled], i) {
                Some(k) => {
                    i = k;
                    if self.buf[i] == b'"' {
                        i += 1;
                        if i - (*start + rel_open) > self.limits.max_string_bytes + 2 {
                            return Err(self.string_too_long(*start + rel_open));
                        }
                        return Ok((i, escaped));
                    }
                    escaped = true;
                    if i + 1 < self.filled {
                        i += 2;
                        continue;
                    }
                }
                None => i = self.filled,
            }
            // Only the bytes after the opening quote count: a string of
            // exactly the cap may have its closing quote in the next read.
            if self.filled - (*start + rel_open + 1) > self.limits.max_string_bytes {
                return Err(self.string_too_long(*start + rel_open));
            }
            match self.fill(*start)? {
                Some(shift) => {
                    *start -= shift;
                    i -= shift;
                }
                None => return Err(self.truncated_entry(*start, i)),
            }
        }
    }

    fn truncated_entry(&self, start: usize, at: usize) -> ReadError {
        reject(
            RejectKind::MalformedJson,
            format!(
                "input ends inside entry {} (starting at byte {}): the file is truncated",
                self.elements,
                self.abs(start)
            ),
            Some(self.abs(at)),
            Some(self.elements),
        )
    }

    fn too_deep(&self, at: usize) -> ReadError {
        reject(
            RejectKind::TooLarge,
            format!(
                "entry {} nests deeper than the limit of {}",
                self.elements, self.limits.max_depth
            ),
            Some(self.abs(at)),
            Some(self.elements),
        )
    }

    fn unexpected_in_entry(&self, start: usize, at: usize, expected: &str) -> ReadError {
        malformed_entry(
            self.elements,
            self.abs(start),
            &format!(
                "expected {expected} at byte {}, found {}",
                self.abs(at),
                describe_byte(self.buf[at])
            ),
        )
    }
}

fn malformed_entry(index: u64, offset: u64, what: &str) -> ReadError {
    reject(
        RejectKind::MalformedJson,
        format!("entry {index} (starting at byte {offset}) is not valid JSON: {what}"),
        Some(offset),
        Some(index),
    )
}

fn is_delimiter(c: u8) -> bool {
    matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
}

/// `true`, `false`, `null` or a JSON number.
fn is_json_scalar(s: &[u8]) -> bool {
    if matches!(s, b"true" | b"false" | b"null") {
        return true;
    }
    let mut i = usize::from(s.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let from = *i;
        while *i < s.len() && s[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - from
    };
    match s.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == s.len()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

fn describe_byte(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("'{}'", c as char)
    } else {
        format!("byte 0x{c:02x}")
    }
}
