//! The nested values of an entry (snapshots, API objects), 64 bytes at a
//! time, in the style of simdjson's stage 1 (Langdale and Lemire, "Parsing
//! Gigabytes of JSON per Second", 2019): one bitmask per block for quotes,
//! backslashes, opening and closing brackets; the bits inside strings
//! cleared with a prefix XOR of the quote bits; only the brackets left are
//! visited one by one. The string-at-a-time loop in `scan_entry` costs a
//! call and a search per string, and a compact snapshot is a string every
//! dozen bytes.
//!
//! The answer is the one that loop gives, byte for byte: brackets are
//! counted whatever their kind, anything else outside strings is skipped.
//! What the blocks do not decide exactly is handed back to it: a block with
//! a backslash, a bracket past the depth limit, a string that might pass the
//! length limit, the last bytes of the buffer.

use wide::u8x16;

pub(crate) const BLOCK: usize = 64;

/// Where the scan of a nested value stopped.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Nested {
    /// The bracket that brought the depth back to 1 ends just before this
    /// index.
    Closed(usize),
    /// Left at `at`, outside any string, at depth `depth`, for the
    /// string-at-a-time loop to go on with, at least up to `careful_until`
    /// (the blocks would stop there again).
    Stopped {
        at: usize,
        depth: usize,
        careful_until: usize,
    },
}

struct Masks {
    quote: u64,
    backslash: u64,
    open: u64,
    close: u64,
}

/// Bit `k` of each mask is byte `k` of the block. `[`/`{` and `]`/`}`
/// differ only in bit 0x20, as in `swar::skip_plain`.
#[inline(always)]
fn masks(block: &[u8; BLOCK]) -> Masks {
    let (quote, backslash) = (u8x16::splat(b'"'), u8x16::splat(b'\\'));
    let (open, close, fold) = (u8x16::splat(b'{'), u8x16::splat(b'}'), u8x16::splat(0x20));
    let mut m = Masks {
        quote: 0,
        backslash: 0,
        open: 0,
        close: 0,
    };
    for (k, lane) in block.chunks_exact(16).enumerate() {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(lane);
        let v = u8x16::new(bytes);
        let folded = v | fold;
        let shift = 16 * k;
        let bits = |eq: u8x16| u64::from(eq.to_bitmask() as u16) << shift;
        m.quote |= bits(v.simd_eq(quote));
        m.backslash |= bits(v.simd_eq(backslash));
        m.open |= bits(folded.simd_eq(open));
        m.close |= bits(folded.simd_eq(close));
    }
    m
}

/// Bit `k` of each mask is byte `k` of the block: its quotes, backslashes
/// and ASCII digits.
pub(crate) fn quotes_and_digits(block: &[u8; BLOCK]) -> (u64, u64, u64) {
    let (quote, backslash) = (u8x16::splat(b'"'), u8x16::splat(b'\\'));
    let (zero, nine) = (u8x16::splat(b'0'), u8x16::splat(b'9'));
    let (mut q, mut b, mut d) = (0, 0, 0);
    for (k, lane) in block.chunks_exact(16).enumerate() {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(lane);
        let v = u8x16::new(bytes);
        let shift = 16 * k;
        let bits = |eq: u8x16| u64::from(eq.to_bitmask() as u16) << shift;
        q |= bits(v.simd_eq(quote));
        b |= bits(v.simd_eq(backslash));
        // `0` <= v <= `9`: v is its own clamp into that range.
        d |= bits(v.max(zero).min(nine).simd_eq(v));
    }
    (q, b, d)
}

/// Bit `k` is the XOR of bits `0..=k`: with quote bits in, the bytes from
/// an opening quote up to (not including) its closing quote.
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// Scans the nested value that `i` is inside of, at `depth` (> 1; the
/// entry's own object is depth 1), `i` outside any string. `room` is the
/// deepest depth allowed; `max_string` the longest string content.
pub(super) fn skip_nested(
    buf: &[u8],
    mut i: usize,
    mut depth: usize,
    room: usize,
    max_string: usize,
) -> Nested {
    // A string carried across a block boundary, and its opening quote.
    let mut in_string = false;
    let mut open = i;
    if max_string < 2 * BLOCK {
        // A string within one block could already be too long.
        return stopped(i, depth, i);
    }
    while i + BLOCK <= buf.len() {
        let block: &[u8; BLOCK] = buf[i..i + BLOCK].try_into().expect("a whole block");
        let m = masks(block);
        // Nothing counted since the carried string opened.
        let safe = if in_string { open } else { i };
        if m.backslash != 0 {
            return stopped(safe, depth, i + BLOCK);
        }
        let inside = prefix_xor(m.quote) ^ if in_string { !0 } else { 0 };
        let mut brackets = (m.open | m.close) & !inside;
        while brackets != 0 {
            let p = brackets.trailing_zeros() as usize;
            brackets &= brackets - 1;
            if m.open >> p & 1 != 0 {
                if depth + 1 > room {
                    return stopped(i + p, depth, i + p + 1);
                }
                depth += 1;
            } else {
                depth -= 1;
                if depth == 1 {
                    return Nested::Closed(i + p + 1);
                }
            }
        }
        in_string = inside >> 63 != 0;
        if in_string {
            if m.quote != 0 {
                // The last quote of the block opened the string.
                open = i + BLOCK - 1 - m.quote.leading_zeros() as usize;
            }
            // Stop before a string that could pass the limit within the
            // next block: the string loop measures it exactly.
            if i + 2 * BLOCK - open > max_string {
                return stopped(open, depth, open + 1);
            }
        }
        i += BLOCK;
    }
    let at = if in_string { open } else { i };
    stopped(at, depth, at)
}

fn stopped(at: usize, depth: usize, careful_until: usize) -> Nested {
    Nested::Stopped {
        at,
        depth,
        careful_until,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The string-at-a-time rule, one byte at a time: where the value
    /// closes, or `None` (with the depth at the end) if it does not within
    /// `buf`, or `Err` at a bracket past `room` or a string longer than
    /// `max_string`.
    fn by_bytes(
        buf: &[u8],
        mut i: usize,
        mut depth: usize,
        room: usize,
        max_string: usize,
    ) -> Result<Option<usize>, usize> {
        while i < buf.len() {
            match buf[i] {
                b'"' => {
                    let open = i;
                    i += 1;
                    loop {
                        match buf.get(i) {
                            None => return Ok(None),
                            Some(b'"') => break,
                            Some(b'\\') => i += 2,
                            Some(_) => i += 1,
                        }
                    }
                    if i - open - 1 > max_string {
                        return Err(open);
                    }
                }
                b'{' | b'[' => {
                    depth += 1;
                    if depth > room {
                        return Err(i);
                    }
                }
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 1 {
                        return Ok(Some(i + 1));
                    }
                }
                _ => {}
            }
            i += 1;
        }
        Ok(None)
    }

    /// Runs the blocks, then the byte rule from where they stopped, and
    /// checks the pair agrees with the byte rule alone.
    fn check(buf: &[u8], depth: usize, room: usize, max_string: usize) {
        let whole = by_bytes(buf, 0, depth, room, max_string);
        match skip_nested(buf, 0, depth, room, max_string) {
            Nested::Closed(end) => assert_eq!(whole, Ok(Some(end)), "{}", show(buf)),
            Nested::Stopped {
                at,
                depth: d,
                careful_until,
            } => {
                assert!(at <= buf.len() && careful_until >= at, "{}", show(buf));
                assert_eq!(
                    by_bytes(buf, at, d, room, max_string),
                    whole,
                    "stopped at {at}: {}",
                    show(buf)
                );
            }
        }
    }

    fn show(buf: &[u8]) -> String {
        String::from_utf8_lossy(buf).into_owned()
    }

    /// A small deterministic generator (xorshift), so failures replay.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> usize {
            (self.next() % n) as usize
        }
    }

    #[test]
    fn blocks_agree_with_the_byte_rule_on_random_values() {
        let alphabet = b"\"\"\"{}[]{}[]\\ab :,0\n";
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..20_000 {
            let len = rng.below(400);
            let mut buf: Vec<u8> = (0..len)
                .map(|_| {
                    // Mostly plain bytes, so blocks without backslashes and
                    // strings across block boundaries both occur.
                    if rng.below(4) == 0 {
                        alphabet[rng.below(alphabet.len() as u64)]
                    } else {
                        b'x'
                    }
                })
                .collect();
            if round % 3 == 0 {
                buf.retain(|&c| c != b'\\');
            }
            let depth = 2 + rng.below(3);
            let room = depth + rng.below(6);
            let max_string = [128, 130, 200, 1 << 20][rng.below(4)];
            check(&buf, depth, room, max_string);
        }
    }

    #[test]
    fn a_value_closes_where_its_last_bracket_is() {
        let mut v = br#"{"a":{"b":"}]","c":[1,2,{"d":"x"}]},"e":"{"}"#.to_vec();
        v.extend(std::iter::repeat_n(b' ', 200));
        // Inside the outer object: depth 2 after its `{`.
        let end = v.iter().rposition(|&c| c == b'}').unwrap() + 1;
        assert_eq!(skip_nested(&v, 1, 2, 64, 1 << 20), Nested::Closed(end));
    }

    #[test]
    fn long_strings_and_deep_brackets_go_back_to_the_string_loop() {
        // A string of 300 bytes with max_string 200 is handed back at its
        // opening quote.
        let mut v = b"[\"".to_vec();
        v.extend(std::iter::repeat_n(b'y', 300));
        v.extend(b"\"]");
        v.extend(std::iter::repeat_n(b' ', 200));
        assert_eq!(
            skip_nested(&v, 1, 2, 64, 200),
            Nested::Stopped {
                at: 1,
                depth: 2,
                careful_until: 2
            }
        );
        // The third `[` would pass room 4 from depth 2.
        let mut v = b"[[[1]]]]".to_vec();
        v.extend(std::iter::repeat_n(b' ', 200));
        assert_eq!(
            skip_nested(&v, 0, 2, 4, 1 << 20),
            Nested::Stopped {
                at: 2,
                depth: 4,
                careful_until: 3
            }
        );
    }

    #[test]
    fn every_bracket_and_quote_position_in_a_block_is_seen() {
        for at in 0..BLOCK {
            for (c, want) in [(b'}', Some(at + 1)), (b']', Some(at + 1)), (b'[', None)] {
                let mut v = vec![b'x'; 3 * BLOCK];
                v[at] = c;
                let got = skip_nested(&v, 0, 2, 64, 1 << 20);
                match want {
                    Some(end) => assert_eq!(got, Nested::Closed(end), "{at} {c}"),
                    None => assert!(matches!(got, Nested::Stopped { depth: 3, .. })),
                }
            }
            // A closing bracket right after a string that ends at `at`.
            let mut v = vec![b'x'; 3 * BLOCK];
            v[0] = b'"';
            if at > 0 {
                v[at] = b'"';
                v[at + 1] = b']';
                assert_eq!(skip_nested(&v, 0, 2, 64, 1 << 20), Nested::Closed(at + 2));
            }
        }
    }
}
