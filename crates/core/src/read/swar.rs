//! Word-at-a-time scanners: eight bytes per step over the indentation and
//! short strings that make up most of a pretty-printed log.

const ONES: u64 = 0x0101_0101_0101_0101;
const LOWS: u64 = 0x7f7f_7f7f_7f7f_7f7f;

fn splat(b: u8) -> u64 {
    ONES * u64::from(b)
}

fn load8(buf: &[u8], i: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&buf[i..i + 8]);
    u64::from_le_bytes(word)
}

/// The high bit of every byte of `v` that is zero, and no other bit (the
/// exact form of the zero-byte trick, so the first hit can be located).
fn zero_bytes(v: u64) -> u64 {
    !((v & LOWS).wrapping_add(LOWS) | v | LOWS)
}

/// The next `"`, `{`, `}`, `[` or `]` at or after `i` (or `buf.len()`),
/// eight bytes at a time: pretty-printed logs are mostly indentation.
pub(super) fn skip_plain(buf: &[u8], mut i: usize) -> usize {
    // `[`/`{` and `]`/`}` differ only in bit 0x20.
    let (quote, open, close, fold) = (splat(b'"'), splat(b'{'), splat(b'}'), splat(0x20));
    while i + 8 <= buf.len() {
        let w = load8(buf, i);
        let folded = w | fold;
        let hits = zero_bytes(w ^ quote) | zero_bytes(folded ^ open) | zero_bytes(folded ^ close);
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < buf.len() {
        let c = buf[i];
        if c == b'"' || c | 0x20 == b'{' || c | 0x20 == b'}' {
            return i;
        }
        i += 1;
    }
    i
}

/// The next `"` or `\` at or after `i`. Most strings in a log are short keys
/// and values: a word-at-a-time loop beats the set-up cost of `memchr2`
/// there; long strings (metrics lines) go on to `memchr2`.
pub(super) fn find_quote_or_backslash(buf: &[u8], mut i: usize) -> Option<usize> {
    let (quote, backslash) = (splat(b'"'), splat(b'\\'));
    let short = (i + 64).min(buf.len());
    while i + 8 <= short {
        let hits = {
            let w = load8(buf, i);
            zero_bytes(w ^ quote) | zero_bytes(w ^ backslash)
        };
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    if let Some(k) = buf[i..short].iter().position(|&c| c == b'"' || c == b'\\') {
        return Some(i + k);
    }
    memchr::memchr2(b'"', b'\\', &buf[short..]).map(|k| short + k)
}

/// Appends `buf[i..at]` to `out` and returns `at`: the next `\\` or raw
/// control character (below 0x20, which no JSON string may hold) at or
/// after `i`, or `buf.len()`. The JSON that metrics and report lines carry
/// in their text has an escaped quote every dozen bytes or so; eight bytes
/// at a time, each word appended whole and the bytes from the hit on cut
/// again, costs less there than a search and a copy of each stretch.
pub(super) fn copy_plain(buf: &[u8], mut i: usize, out: &mut Vec<u8>) -> usize {
    let backslash = splat(b'\\');
    while i + 8 <= buf.len() {
        let w = load8(buf, i);
        // As the digits in `repeats::first_digit`: `(w & 0x7f) + 0x60` sets
        // the high bit of exactly the bytes from 0x20 on (no carry crosses
        // a byte); the complement, less the bytes with their own high bit
        // set, marks those below 0x20.
        let control = !((w & LOWS) + splat(0x80 - 0x20)) & !w & !LOWS;
        let hits = zero_bytes(w ^ backslash) | control;
        out.extend_from_slice(&w.to_le_bytes());
        if hits != 0 {
            let k = (hits.trailing_zeros() / 8) as usize;
            out.truncate(out.len() - 8 + k);
            return i + k;
        }
        i += 8;
    }
    while i < buf.len() && buf[i] != b'\\' && buf[i] >= 0x20 {
        out.push(buf[i]);
        i += 1;
    }
    i
}

pub(super) fn skip_ws(buf: &[u8], mut i: usize) -> usize {
    let spaces = splat(b' ');
    while i + 8 <= buf.len() && load8(buf, i) == spaces {
        i += 8;
    }
    while i < buf.len() && matches!(buf[i], b' ' | b'\n' | b'\r' | b'\t') {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_scans_find_the_first_hit_at_every_position() {
        for len in 0..40 {
            for at in 0..len {
                for hit in [b'"', b'{', b'}', b'[', b']'] {
                    let mut buf = vec![b' '; len];
                    buf[at] = hit;
                    // A later hit must not win over the first one.
                    if at + 3 < len {
                        buf[at + 3] = b'"';
                    }
                    assert_eq!(skip_plain(&buf, 0), at, "len {len} at {at} {}", hit as char);
                }
                let mut buf = vec![b'a'; len];
                buf[at] = b'\\';
                assert_eq!(find_quote_or_backslash(&buf, 0), Some(at));
                for hit in [b'\\', b'\x00', b'\n', b'\x1f'] {
                    buf[at] = hit;
                    for from in [0, at.saturating_sub(1), at] {
                        let mut out = b"kept".to_vec();
                        assert_eq!(copy_plain(&buf, from, &mut out), at);
                        assert_eq!(out[4..], buf[from..at]);
                    }
                    let mut out = Vec::new();
                    assert_eq!(copy_plain(&buf, at + 1, &mut out), len);
                    assert_eq!(out, buf[at + 1..]);
                }
                buf[at] = b'"';
                assert_eq!(find_quote_or_backslash(&buf, 0), Some(at));
            }
            assert_eq!(skip_plain(&vec![b'x'; len], 0), len);
            assert_eq!(find_quote_or_backslash(&vec![b'x'; len], 0), None);
            let plain: Vec<u8> = (0..len)
                .map(|k| b" \x7f\x80\x9f\xa0\xdc\"]"[k % 8])
                .collect();
            let mut out = Vec::new();
            assert_eq!(copy_plain(&plain, 0, &mut out), len);
            assert_eq!(out, plain);
        }
        // Bytes that differ from a target only in bit 0x20 or the high bit
        // are not hits.
        let near = [
            b'\x02',
            b'\xa2',
            b';',
            b'=',
            b'\xfb',
            b'\xfd',
            b'\x5c' ^ 0x20,
        ];
        assert_eq!(skip_plain(&near, 0), near.len());
    }
}
