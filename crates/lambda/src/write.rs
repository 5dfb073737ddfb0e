//! Writing a result object: always one whole-body `PutObject`, made
//! conditional on what is already stored, so that a duplicate, late or
//! out-of-order event never replaces the result of a newer version of a log
//! with the result of an older one.
//!
//! Every result carries a [`Stamp`] of the input it was made from, as user
//! metadata. The first attempt is `If-None-Match: *` (nothing there yet: the
//! common case costs one request). When something is there, its stamp is
//! read with `HeadObject`: if it comes from a newer input the write is
//! dropped ([`Written::Superseded`]), otherwise the put is repeated with
//! `If-Match` on the ETag just read, so a result written meanwhile by a
//! concurrent invocation is looked at again rather than overwritten.
//!
//! The JSON result and the HTML report ([`Format`]) are two objects written
//! the same way, each with its own stamp: the report of an older version
//! never replaces the report of a newer one either, whatever happened to
//! the JSON.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::io::{self, Write};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder;
use aws_sdk_s3::primitives::ByteStream;

use crate::config::{HTML_SUFFIX, JSON_SUFFIX};
use crate::error::{ObjectError, S3Location, WriteOp};
use crate::s3_error::{SdkFailure, is_lost_race, is_not_implemented, status};
use ccp_disconnect_core::Document;

/// What a result was made from, for ordering results of the same key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// The triggering event's `sequencer`: the order S3 gives events on one key.
    pub(crate) sequencer: Option<String>,
    /// `Last-Modified` of the object as read, in whole seconds since the epoch.
    pub(crate) last_modified: Option<i64>,
    /// The object version read (informational).
    pub(crate) version_id: Option<String>,
}

const SEQUENCER: &str = "source-sequencer";
const LAST_MODIFIED: &str = "source-last-modified";
const VERSION_ID: &str = "source-version-id";

impl Stamp {
    /// The `x-amz-meta-*` entries of a result object. Values that are not
    /// plain printable ASCII cannot travel as headers and are left out.
    pub(crate) fn to_metadata(&self) -> HashMap<String, String> {
        let mut metadata = HashMap::new();
        let mut add = |name: &str, value: Option<String>| {
            if let Some(v) =
                value.filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic()))
            {
                metadata.insert(name.to_owned(), v);
            }
        };
        add(SEQUENCER, self.sequencer.clone());
        add(LAST_MODIFIED, self.last_modified.map(|s| s.to_string()));
        add(VERSION_ID, self.version_id.clone());
        metadata
    }

    /// The stamp of a stored result; absent or unreadable entries are `None`
    /// (a result written by hand, or by an older release, orders before
    /// anything).
    pub(crate) fn from_metadata(metadata: Option<&HashMap<String, String>>) -> Stamp {
        let get = |name: &str| metadata.and_then(|m| m.get(name)).cloned();
        Stamp {
            sequencer: get(SEQUENCER).filter(|s| is_hex(s)),
            last_modified: get(LAST_MODIFIED).and_then(|s| s.parse().ok()),
            version_id: get(VERSION_ID),
        }
    }

    /// Whether a result made from `self` describes a newer input than one
    /// made from `other`. Sequencers decide when both have one (S3's own
    /// order of writes to a key); otherwise, or when they are equal, the
    /// later `Last-Modified` wins. Anything undecided is not newer, so the
    /// write goes ahead: for the same input the bytes are the same anyway.
    pub(crate) fn is_newer_than(&self, other: &Stamp) -> bool {
        if let (Some(a), Some(b)) = (&self.sequencer, &other.sequencer) {
            match compare_sequencers(a, b) {
                Ordering::Greater => return true,
                Ordering::Less => return false,
                Ordering::Equal => {}
            }
        }
        matches!((self.last_modified, other.last_modified), (Some(a), Some(b)) if a > b)
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Orders two sequencers of the same key the way S3 documents it: the
/// shorter one is right-padded with zeros, then they compare as text (hex
/// digits compared without regard to case).
pub(crate) fn compare_sequencers(a: &str, b: &str) -> Ordering {
    let len = a.len().max(b.len());
    let digits = |s: &str| {
        s.bytes()
            .map(|c| c.to_ascii_uppercase())
            .chain(std::iter::repeat(b'0'))
            .take(len)
            .collect::<Vec<u8>>()
    };
    digits(a).cmp(&digits(b))
}

/// How a write ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Written {
    /// The result object now holds this result.
    Stored,
    /// A result made from a newer input is already there and was kept.
    Superseded { existing: Stamp },
}

/// Conditional writes attempted before giving up (each lost race means
/// another invocation wrote this key in between).
const MAX_ATTEMPTS: usize = 4;

/// What a result object holds, and so how it is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// The result document, one JSON line (`application/json`).
    Json,
    /// The report page (`text/html; charset=utf-8`), shown rather than
    /// downloaded when opened through a presigned URL.
    Html,
}

impl Format {
    /// The `Content-Type` the object is stored with; S3 serves it back.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Html => "text/html; charset=utf-8",
        }
    }

    /// The `Content-Disposition` the object is stored with: `inline` for the
    /// page, so that a browser displays it. Without a file name, which would
    /// have to be escaped for non-ASCII keys: the URL names the page anyway.
    pub(crate) fn content_disposition(self) -> Option<&'static str> {
        match self {
            Format::Json => None,
            Format::Html => Some("inline"),
        }
    }

    /// The key suffix, also used for the name of a spooled body.
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            Format::Json => JSON_SUFFIX,
            Format::Html => HTML_SUFFIX,
        }
    }
}

/// Stores `body` at `bucket`/`key` unless a result from a newer input is
/// there. Each attempt is one `PutObject` of the whole body: S3 stores all
/// of it or nothing. `input` is the object the result was made from, for
/// the errors.
pub(crate) async fn write_result(
    s3: &Client,
    input: &S3Location,
    bucket: &str,
    key: &str,
    body: &ResultBody,
    stamp: &Stamp,
) -> Result<Written, ObjectError> {
    let target = Target {
        s3,
        input,
        bucket,
        key,
    };
    // `None`: only if nothing is there; `Some(etag)`: only over that object.
    let mut expected: Option<String> = None;
    for _ in 0..MAX_ATTEMPTS {
        let put = target.put(body, stamp).await?;
        let put = match &expected {
            None => put.if_none_match("*"),
            Some(etag) => put.if_match(etag),
        };
        match put.send().await {
            Ok(_) => return Ok(Written::Stored),
            Err(err) if is_lost_race(&err) => {}
            Err(err) if is_not_implemented(&err) => {
                return write_without_conditions(&target, body, stamp).await;
            }
            Err(err) => return Err(target.failure(WriteOp::PutObject, &err)),
        }
        match target.stored().await? {
            Some((existing, _)) if existing.is_newer_than(stamp) => {
                return Ok(Written::Superseded { existing });
            }
            Some((_, Some(etag))) => expected = Some(etag),
            Some((_, None)) => {
                return Err(ObjectError::NoEtag {
                    object: input.clone(),
                    result: target.location(),
                });
            }
            // Deleted in between: back to "only if nothing is there".
            None => expected = None,
        }
    }
    Err(ObjectError::ChangedUnderUs {
        object: input.clone(),
        result: target.location(),
        attempts: MAX_ATTEMPTS,
    })
}

/// For S3-compatible servers without conditional writes: the same check of
/// the stored stamp, then a plain put. Only a concurrent writer between the
/// two requests can slip through, which the conditions would have caught.
async fn write_without_conditions(
    target: &Target<'_>,
    body: &ResultBody,
    stamp: &Stamp,
) -> Result<Written, ObjectError> {
    if let Some((existing, _)) = target.stored().await?
        && existing.is_newer_than(stamp)
    {
        return Ok(Written::Superseded { existing });
    }
    match target.put(body, stamp).await?.send().await {
        Ok(_) => Ok(Written::Stored),
        Err(err) => Err(target.failure(WriteOp::PutObject, &err)),
    }
}

/// The result object being written.
struct Target<'a> {
    s3: &'a Client,
    /// The object the result was made from.
    input: &'a S3Location,
    bucket: &'a str,
    key: &'a str,
}

impl Target<'_> {
    /// A put of the whole body with its stamp, no conditions yet.
    async fn put(
        &self,
        body: &ResultBody,
        stamp: &Stamp,
    ) -> Result<PutObjectFluentBuilder, ObjectError> {
        Ok(self
            .s3
            .put_object()
            .bucket(self.bucket)
            .key(self.key)
            .content_type(body.format.content_type())
            .set_content_disposition(body.format.content_disposition().map(str::to_owned))
            .set_metadata(Some(stamp.to_metadata()))
            .body(body.stream(self.input).await?))
    }

    /// The stamp and ETag of the stored result, or `None` when there is none.
    async fn stored(&self) -> Result<Option<(Stamp, Option<String>)>, ObjectError> {
        match self
            .s3
            .head_object()
            .bucket(self.bucket)
            .key(self.key)
            .send()
            .await
        {
            Ok(head) => Ok(Some((
                Stamp::from_metadata(head.metadata()),
                head.e_tag().map(str::to_owned),
            ))),
            Err(err) if status(&err) == Some(404) => Ok(None),
            Err(err) => Err(self.failure(WriteOp::HeadObject, &err)),
        }
    }

    fn location(&self) -> S3Location {
        S3Location::new(self.bucket, self.key)
    }

    fn failure<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        op: WriteOp,
        err: &SdkError<E, HttpResponse>,
    ) -> ObjectError {
        ObjectError::Put {
            object: self.input.clone(),
            op,
            result: self.location(),
            cause: SdkFailure::of(err),
        }
    }
}

/// The bytes of a result object and what they are: in memory, or spooled
/// to a temporary file when large (thousands of calls), so that they do not
/// sit in memory beside the document they were made from. The bytes are the
/// same either way, and the same for the same document: both renderings are
/// deterministic, which is what makes a redelivery byte-identical.
pub(crate) struct ResultBody {
    format: Format,
    bytes: Spooled,
}

enum Spooled {
    Memory(Vec<u8>),
    File(SpoolFile),
}

impl ResultBody {
    /// `document` in `format`, spooling past `spool_over` bytes.
    pub(crate) fn new(format: Format, document: &Document, spool_over: usize) -> ResultBody {
        match format {
            Format::Json => ResultBody::json(document, spool_over),
            Format::Html => ResultBody::html(document, spool_over),
        }
    }

    /// `document` as one JSON line, spooling past `spool_over` bytes.
    fn json(document: &Document, spool_over: usize) -> ResultBody {
        ResultBody::spooled(
            Format::Json,
            spool_over,
            |out| document.write_json_line(out),
            || document.to_json_line(),
        )
    }

    /// `document` as the report page, spooling past `spool_over` bytes.
    fn html(document: &Document, spool_over: usize) -> ResultBody {
        let page = ccp_disconnect_core::render::html::render(document);
        ResultBody::spooled(
            Format::Html,
            spool_over,
            |out| out.write_all(page.as_bytes()),
            || page.as_bytes().to_vec(),
        )
    }

    /// Writes the body with `write`; any trouble with the file falls back to
    /// memory, with the bytes `in_memory` makes.
    fn spooled(
        format: Format,
        spool_over: usize,
        write: impl FnOnce(&mut Spill) -> io::Result<()>,
        in_memory: impl FnOnce() -> Vec<u8>,
    ) -> ResultBody {
        let mut spill = Spill {
            memory: Vec::new(),
            limit: spool_over,
            suffix: format.suffix(),
            file: None,
        };
        let written = write(&mut spill).and_then(|()| spill.flush());
        let bytes = match (written, spill.file) {
            (Ok(()), None) => Spooled::Memory(spill.memory),
            (Ok(()), Some((_, spool))) => Spooled::File(spool),
            (Err(_), _) => Spooled::Memory(in_memory()),
        };
        ResultBody { format, bytes }
    }

    /// A fresh stream over the bytes, for one attempt.
    async fn stream(&self, input: &S3Location) -> Result<ByteStream, ObjectError> {
        match &self.bytes {
            Spooled::Memory(bytes) => Ok(ByteStream::from(bytes.clone())),
            Spooled::File(spool) => {
                ByteStream::from_path(&spool.0)
                    .await
                    .map_err(|e| ObjectError::SpoolRead {
                        object: input.clone(),
                        message: e.to_string(),
                    })
            }
        }
    }
}

/// A temporary file, deleted when dropped.
pub(crate) struct SpoolFile(std::path::PathBuf);

impl Drop for SpoolFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes to memory up to `limit` bytes, then moves everything to a file.
struct Spill {
    memory: Vec<u8>,
    limit: usize,
    /// The end of the file's name, after the format (`.json`, `.html`).
    suffix: &'static str,
    file: Option<(io::BufWriter<std::fs::File>, SpoolFile)>,
}

impl io::Write for Spill {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.file.is_none() && self.memory.len() + data.len() > self.limit {
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!(
                "ccp-disconnect-{}-{n}{}",
                std::process::id(),
                self.suffix
            ));
            let spool = SpoolFile(path);
            let mut out = io::BufWriter::new(std::fs::File::create(&spool.0)?);
            out.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some((out, spool));
        }
        match &mut self.file {
            Some((out, _)) => out.write(data),
            None => {
                self.memory.extend_from_slice(data);
                Ok(data.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some((out, _)) => out.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(sequencer: Option<&str>, last_modified: Option<i64>) -> Stamp {
        Stamp {
            sequencer: sequencer.map(Into::into),
            last_modified,
            version_id: None,
        }
    }

    #[test]
    fn sequencers_compare_right_padded_and_without_case() {
        use Ordering::*;
        assert_eq!(
            compare_sequencers("0055AED6DCD90281E6", "0055AED6DCD90281E5"),
            Greater
        );
        assert_eq!(
            compare_sequencers("0055aed6dcd90281e5", "0055AED6DCD90281E5"),
            Equal
        );
        // Right-padding: "1" is "10" against a two-digit sequencer.
        assert_eq!(compare_sequencers("1", "0F"), Greater);
        assert_eq!(compare_sequencers("1", "10"), Equal);
        assert_eq!(compare_sequencers("1", "11"), Less);
        // Padding on the left would have said the opposite.
        assert_eq!(compare_sequencers("2", "10"), Greater);
    }

    #[test]
    fn sequencer_decides_then_last_modified_then_the_write_goes_ahead() {
        // Sequencer wins over Last-Modified (a slow upload can finish last
        // with the earlier timestamp).
        assert!(stamp(Some("B"), Some(100)).is_newer_than(&stamp(Some("A"), Some(200))));
        assert!(!stamp(Some("A"), Some(200)).is_newer_than(&stamp(Some("B"), Some(100))));
        // Equal sequencers (a duplicate event): Last-Modified decides.
        assert!(stamp(Some("A"), Some(200)).is_newer_than(&stamp(Some("A"), Some(100))));
        assert!(!stamp(Some("A"), Some(100)).is_newer_than(&stamp(Some("A"), Some(100))));
        // Only one side has a sequencer (a Batch task): Last-Modified.
        assert!(stamp(Some("A"), Some(200)).is_newer_than(&stamp(None, Some(100))));
        assert!(!stamp(None, Some(100)).is_newer_than(&stamp(Some("A"), Some(200))));
        // Nothing to go by: never newer, so the write proceeds.
        assert!(!Stamp::default().is_newer_than(&stamp(Some("A"), Some(1))));
        assert!(!stamp(Some("A"), Some(1)).is_newer_than(&Stamp::default()));
        assert!(!stamp(None, Some(1)).is_newer_than(&stamp(None, None)));
    }

    #[test]
    fn metadata_round_trip_drops_what_cannot_be_a_header() {
        let s = Stamp {
            sequencer: Some("0055AED6DCD90281E5".into()),
            last_modified: Some(1_700_000_000),
            version_id: Some("3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY".into()),
        };
        let metadata = s.to_metadata();
        assert_eq!(metadata.len(), 3);
        assert_eq!(metadata[LAST_MODIFIED], "1700000000");
        assert_eq!(Stamp::from_metadata(Some(&metadata)), s);

        let odd = Stamp {
            sequencer: Some("not hex".into()),
            last_modified: None,
            version_id: Some("é".into()),
        };
        assert!(odd.to_metadata().is_empty());
        let mut stored = HashMap::new();
        stored.insert(SEQUENCER.to_owned(), "zz".to_owned());
        stored.insert(LAST_MODIFIED.to_owned(), "yesterday".to_owned());
        assert_eq!(Stamp::from_metadata(Some(&stored)), Stamp::default());
        assert_eq!(Stamp::from_metadata(None), Stamp::default());
    }
}
