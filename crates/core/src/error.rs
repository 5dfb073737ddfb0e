//! The one failure `classify` returns: content problems are documents, but a
//! failing reader is the caller's to retry.

use std::fmt;

/// The underlying reader failed (a network read, a disk error). This is not a
/// property of the log: the caller should retry, not write a rejection.
#[derive(Debug)]
pub struct SourceError(pub std::io::Error);

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "reading the input failed: {}", self.0)
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}
