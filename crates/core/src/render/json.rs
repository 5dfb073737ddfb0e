//! The result document as JSON: one compact line, the canonical form that
//! is stored and compared, or pretty-printed for people.

use std::io::{self, Write};

use crate::document::Document;

/// The canonical bytes: one line of compact JSON plus a newline, so a
/// results prefix is directly queryable with a JSON-lines reader (Athena).
pub fn to_line(doc: &Document) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail, and serialising these types cannot
    // either: no maps with non-string keys, only finite rounded floats.
    let _ = write_line(&mut out, doc);
    out
}

/// [`to_line`], streamed to a writer.
pub fn write_line<W: Write>(mut w: W, doc: &Document) -> io::Result<()> {
    serde_json::to_writer(&mut w, doc)?;
    w.write_all(b"\n")
}

/// Pretty-printed, for people, streamed to a writer.
pub fn write_pretty<W: Write>(mut w: W, doc: &Document) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut w, doc)?;
    w.write_all(b"\n")
}
