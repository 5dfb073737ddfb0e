//! Streaming log reader: detects the shape and compression from the content
//! and yields one entry at a time as a borrowed slice of the input.
//!
//! Memory is bounded by one entry plus one read chunk, whatever the file size:
//! a byte-level scanner finds where each entry ends (tracking strings and
//! nesting without recursion), and only that slice is handed to `serde_json`.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::document::{Format, Rejection};
use crate::time::{Millis, parse_iso8601};
use crate::{Limits, RejectKind};

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
    pub objects: Option<&'a RawValue>,
    /// The agent's user id (Streams 1.6.4 and later).
    pub agent: Option<Cow<'a, str>>,
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

#[derive(Deserialize)]
struct RawEntry<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    time: Option<&'a RawValue>,
    #[serde(borrow, default)]
    objects: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "agentResourceId")]
    agent: Option<Cow<'a, str>>,
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
    buf: Vec<u8>,
    scratch: Box<[u8]>,
    /// Scan position in `buf`.
    pos: usize,
    /// Absolute (decompressed) offset of `buf[0]`.
    base: u64,
    eof: bool,
    mode: Mode,
    format: Format,
    elements: u64,
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
    pub fn new<R: Read + 'r>(input: R, limits: Limits) -> Result<LogReader<'r>, ReadError> {
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
            buf: Vec::with_capacity(2 * CHUNK),
            scratch: vec![0; CHUNK].into_boxed_slice(),
            pos: 0,
            base: 0,
            eof: false,
            mode: Mode::Start,
            format: Format::JsonArray,
            elements: 0,
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
        self.base + self.buf.len() as u64
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
        if self.eof {
            return Ok(None);
        }
        let shift = keep;
        if shift > 0 {
            self.buf.drain(..shift);
            self.base += shift as u64;
            self.pos -= shift.min(self.pos);
        }
        if self.buf.len() > self.limits.max_entry_bytes {
            return Err(self.entry_too_large(0));
        }
        // Read into a fixed scratch chunk and append what arrived: sources
        // that return a few bytes per read (network bodies) must not cost a
        // chunk-sized zero-fill each time.
        let n = loop {
            match self.input.read(&mut self.scratch) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.classify_io_error(e)),
            }
        };
        self.buf.extend_from_slice(&self.scratch[..n]);
        if self.abs(self.buf.len()) > self.limits.max_decompressed_bytes {
            return Err(reject(
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
            return Ok(None);
        }
        Ok(Some(shift))
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
        let mut keep = self.pos;
        self.peek_keeping(&mut keep)
    }

    /// Like [`Self::peek`], but keeps the buffer from `keep` on (adjusted
    /// when the buffer moves).
    fn peek_keeping(&mut self, keep: &mut usize) -> Result<Option<u8>, ReadError> {
        loop {
            while self.pos < self.buf.len() {
                let c = self.buf[self.pos];
                if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                    self.pos += 1;
                } else {
                    return Ok(Some(c));
                }
            }
            match self.fill(*keep)? {
                Some(shift) => *keep -= shift,
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
        let mut in_str = false;
        let mut str_start = 0usize;
        let first = self.buf[start];
        let scalar = !matches!(first, b'{' | b'[' | b'"');
        loop {
            if i >= self.buf.len() {
                match self.fill(start)? {
                    Some(shift) => {
                        start -= shift;
                        i -= shift;
                        str_start = str_start.saturating_sub(shift);
                        continue;
                    }
                    None if scalar => return Ok((start, i)),
                    None => {
                        return Err(reject(
                            RejectKind::MalformedJson,
                            format!(
                                "input ends inside entry {} (starting at byte {}): the file is truncated",
                                self.elements,
                                self.abs(start)
                            ),
                            Some(self.abs(i)),
                            Some(self.elements),
                        ));
                    }
                }
            }
            if in_str {
                match memchr::memchr2(b'"', b'\\', &self.buf[i..]) {
                    None => i = self.buf.len(),
                    Some(k) => {
                        i += k;
                        if self.buf[i] == b'\\' {
                            i += 2;
                            // An escape split across reads: make sure both bytes are in.
                            if i > self.buf.len() {
                                i -= 2;
                                match self.fill(start)? {
                                    Some(shift) => {
                                        start -= shift;
                                        i -= shift;
                                        str_start = str_start.saturating_sub(shift);
                                        continue;
                                    }
                                    None => {
                                        return Err(reject(
                                            RejectKind::MalformedJson,
                                            "input ends inside a string: the file is truncated"
                                                .into(),
                                            Some(self.abs(i)),
                                            Some(self.elements),
                                        ));
                                    }
                                }
                            }
                        } else {
                            in_str = false;
                            i += 1;
                            if i - str_start > self.limits.max_string_bytes + 2 {
                                return Err(self.string_too_long(str_start));
                            }
                            if depth == 0 {
                                return Ok((start, i));
                            }
                            continue;
                        }
                    }
                }
                if i - str_start > self.limits.max_string_bytes {
                    return Err(self.string_too_long(str_start));
                }
                continue;
            }
            let c = self.buf[i];
            if scalar {
                if matches!(c, b',' | b']' | b'}' | b' ' | b'\n' | b'\r' | b'\t') {
                    return Ok((start, i));
                }
                i += 1;
                continue;
            }
            match c {
                b'"' => {
                    in_str = true;
                    str_start = i;
                }
                b'{' | b'[' => {
                    depth += 1;
                    if depth + base_depth > self.limits.max_depth {
                        return Err(reject(
                            RejectKind::TooLarge,
                            format!(
                                "entry {} nests deeper than the limit of {}",
                                self.elements, self.limits.max_depth
                            ),
                            Some(self.abs(i)),
                            Some(self.elements),
                        ));
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
        while self.buf.len() < 3 && !self.eof {
            let keep = self.pos;
            self.fill(keep)?;
        }
        if self.buf.starts_with(&[0xef, 0xbb, 0xbf]) {
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

    fn not_json(&self, c: u8) -> ReadError {
        let what = if self.buf[self.pos..].starts_with(b"\x89PNG") {
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
                while self.pos + 2 > self.buf.len() {
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
                                let (_, e) = self.scan_value(1)?;
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
        let (s, e) = self.scan_value(base_depth)?;
        if e - s > self.limits.max_entry_bytes {
            return Err(self.entry_too_large(s));
        }
        self.pos = e;
        let index = self.elements;
        self.elements += 1;
        let offset = self.abs(s);
        parse_entry(&self.buf[s..e], index, offset)
    }
}

fn parse_entry(bytes: &[u8], index: u64, offset: u64) -> Result<Item<'_>, ReadError> {
    let raw: RawEntry<'_> = match serde_json::from_slice(bytes) {
        Ok(raw) => raw,
        Err(e) if e.is_data() => {
            return Ok(Item::Invalid {
                index,
                offset,
                message: first_line(&e.to_string()),
            });
        }
        Err(e) => {
            return Err(reject(
                RejectKind::MalformedJson,
                format!(
                    "entry {index} (starting at byte {offset}) is not valid JSON: {}",
                    first_line(&e.to_string())
                ),
                Some(offset),
                Some(index),
            ));
        }
    };
    let Some(text) = raw.text else {
        return Ok(Item::Invalid {
            index,
            offset,
            message: "no `text` string".into(),
        });
    };
    let Some(time) = raw.time.and_then(parse_time) else {
        return Ok(Item::Invalid {
            index,
            offset,
            message: "no `time` (an ISO-8601 string or epoch milliseconds)".into(),
        });
    };
    Ok(Item::Entry(Entry {
        index,
        time,
        text,
        objects: raw.objects,
        agent: raw.agent,
    }))
}

/// `time` is an ISO-8601 string as the CCP writes it, or epoch milliseconds
/// (entries re-imported across frames may carry a number).
fn parse_time(raw: &RawValue) -> Option<Millis> {
    let s = raw.get();
    if let Some(inner) = s.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        if inner.contains('\\') {
            let owned: String = serde_json::from_str(s).ok()?;
            return parse_time_str(&owned);
        }
        return parse_time_str(inner);
    }
    let n: f64 = s.parse().ok()?;
    epoch_ms(n)
}

fn parse_time_str(s: &str) -> Option<Millis> {
    parse_iso8601(s).or_else(|| s.parse::<f64>().ok().and_then(epoch_ms))
}

fn epoch_ms(n: f64) -> Option<Millis> {
    // Years 1970..=9999 only: anything else is not a plausible log time.
    (n.is_finite() && (0.0..253_402_300_800_000.0).contains(&n)).then_some(n as Millis)
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
