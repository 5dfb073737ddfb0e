//! Helpers shared by the fuzz targets.

use std::fmt::Write;

/// Writes `key` as S3 event notifications may: a space as `+`, and `+`, `%`
/// and every byte outside `[A-Za-z0-9/._*~-]` as `%xx`. `style` varies what
/// a decoder must also accept: bit 0 writes a space as `%20`, bit 1 uses
/// lower-case hex digits, bit 2 escapes the other bytes too.
pub fn s3_encode_key(key: &str, style: u8) -> String {
    let mut out = String::with_capacity(key.len() * 3);
    for &b in key.as_bytes() {
        let safe = b.is_ascii_alphanumeric() || b"/._*~-".contains(&b);
        if b == b' ' && style & 1 == 0 {
            out.push('+');
        } else if safe && style & 4 == 0 {
            out.push(char::from(b));
        } else if style & 2 == 0 {
            let _ = write!(out, "%{b:02X}");
        } else {
            let _ = write!(out, "%{b:02x}");
        }
    }
    out
}
