//! What the caller can set: the caps on untrusted input and the two switches.

/// Caps that keep memory bounded on untrusted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes read after decompression; the whole input is rejected past it.
    pub max_decompressed_bytes: u64,
    /// Nesting depth of JSON arrays and objects.
    pub max_depth: usize,
    /// Length of one JSON string, in bytes as written in the file.
    pub max_string_bytes: usize,
    /// Size of one log entry as written in the file.
    pub max_entry_bytes: usize,
    /// Contacts tracked in one log. Past it, later contacts are not
    /// classified and the log carries a warning saying so.
    pub max_contacts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decompressed_bytes: 2 << 30,
            max_depth: 128,
            max_string_bytes: 8 << 20,
            max_entry_bytes: 16 << 20,
            max_contacts: 10_000,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub limits: Limits,
    /// Replace phone numbers and e-mail addresses in evidence text.
    pub redact: bool,
    /// Recognize an entry that repeats the previous large one (an unchanged
    /// agent snapshot, up to timestamps and its paging token) by a byte
    /// comparison, and reuse its parse. Off gives the reference path: every
    /// entry scanned and parsed on its own. The results are the same.
    pub reuse_repeats: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: Limits::default(),
            redact: true,
            reuse_repeats: true,
        }
    }
}
