//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use ccp_disconnect::{Document, Options, Source, classify};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/scenarios")
        .join(name)
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
