//! Helpers shared by the three integration-test binaries (`tests/core`,
//! `tests/cli`, `tests/lambda`): fixtures, in-memory classification, gzip,
//! piecewise readers, the labelled logs.
// Each binary uses a different part of this module.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use ccp_disconnect_core::{Document, Options, Source, classify};

/// The repository's top folder. The `lambda` binary belongs to the crate
/// `crates/lambda` (it needs that crate's `bootstrap` binary), so
/// `CARGO_MANIFEST_DIR` is not the top for every binary.
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|dir| dir.join("events/agent-log.txt").is_file())
        .unwrap_or(manifest)
        .to_path_buf()
}

pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/scenarios").join(name)
}

pub fn classify_bytes(bytes: &[u8]) -> Document {
    classify_with(bytes, &Options::default())
}

pub fn classify_with(bytes: &[u8], options: &Options) -> Document {
    classify(bytes, Source::default(), options).expect("an in-memory read cannot fail")
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Hands out at most `step` bytes per read, to put entry, string and escape
/// boundaries at every possible place in the reader's buffer.
pub struct Trickle<'a> {
    pub data: &'a [u8],
    pub step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// The parts of a document that carry the verdicts.
pub fn verdicts(doc: &Document) -> Vec<(String, String, String, String, Vec<u64>)> {
    doc.calls
        .iter()
        .map(|c| {
            (
                c.contact_id.clone(),
                c.disconnected_by.as_str().to_string(),
                c.reason.as_str().to_string(),
                c.confidence.as_str().to_string(),
                c.evidence.iter().map(|e| e.index).collect(),
            )
        })
        .collect()
}

/// A `Read` over pieces made on demand, so an input of hundreds of MB never
/// has to sit in memory. Hands out at most one piece per read, as a stream
/// would, and counts what it handed out: what the reader pulled in before
/// it stopped.
pub struct Pieces<I> {
    pieces: I,
    current: std::borrow::Cow<'static, [u8]>,
    at: usize,
    pub handed_out: u64,
}

impl<I: Iterator<Item = std::borrow::Cow<'static, [u8]>>> Pieces<I> {
    pub fn new(pieces: I) -> Self {
        Pieces {
            pieces,
            current: std::borrow::Cow::Borrowed(&[]),
            at: 0,
            handed_out: 0,
        }
    }
}

impl<I: Iterator<Item = std::borrow::Cow<'static, [u8]>>> Read for Pieces<I> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            match self.pieces.next() {
                Some(p) => {
                    self.current = p;
                    self.at = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        self.handed_out += n as u64;
        Ok(n)
    }
}

/// Every labelled scenario log and the bundled sample, by name, sorted.
pub fn labelled_logs() -> Vec<(String, Vec<u8>)> {
    let mut logs: Vec<(String, Vec<u8>)> = std::fs::read_dir(fixture(""))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.to_string_lossy();
            name.ends_with(".json") && !name.ends_with(".expect.json")
        })
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    logs.sort();
    let sample = repo_root().join("events/agent-log.txt");
    logs.push((
        "events/agent-log.txt".into(),
        std::fs::read(sample).unwrap(),
    ));
    assert!(logs.len() > 20, "the labelled logs are missing");
    logs
}

/// A fresh directory under the system's temporary folder, removed when
/// dropped. The process id and a counter keep parallel tests of one binary
/// out of each other's way.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "ccp-disconnect-test-{}-{n}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
