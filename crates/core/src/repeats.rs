//! "The same entry again, with new timestamps": two byte strings that are
//! equal except inside runs of ASCII digits and in the value of a
//! `"nextToken"` string member.
//!
//! Agent snapshots make up most of a CCP log and, between state changes,
//! repeat the previous one in exactly this way (their timestamps, `skew` and
//! paging token change). With every other byte equal, the structure is equal
//! too: digit runs cannot open or close anything, and the token is a plain
//! string. The reader uses this to skip rescanning such entries, the
//! recognizer to reuse a parse.

/// The quotes around the string value of the first `"nextToken"` member,
/// when that value is a plain string (no escapes).
pub fn next_token_quotes(raw: &[u8]) -> Option<(usize, usize)> {
    let key = memchr::memmem::find(raw, b"\"nextToken\"")? + 11;
    let open = key + memchr::memchr(b'"', &raw[key..])?;
    if raw[key..open]
        .iter()
        .any(|c| !matches!(c, b':' | b' ' | b'\n' | b'\r' | b'\t'))
    {
        return None;
    }
    let close = open + 1 + memchr::memchr2(b'"', b'\\', &raw[open + 1..])?;
    (raw[close] == b'"').then_some((open, close))
}

/// Whether `new` starts with a repeat of `model` (whose token quotes are
/// `token`). Returns the repeat's length and the realignment marks: pairs of
/// positions (in `model`, in `new`) from which the two run in step again.
pub fn repeat_marks(
    model: &[u8],
    token: Option<(usize, usize)>,
    new: &[u8],
) -> Option<(usize, Vec<(usize, usize)>)> {
    let t = model;
    let (mut i, mut j) = (0, 0);
    let mut marks = vec![(0, 0)];
    loop {
        // The next place where the two may legitimately differ.
        let stop = match token {
            Some((open, _)) if i <= open => open + 1,
            _ => t.len(),
        };
        while i + 32 <= stop && j + 32 <= new.len() && t[i..i + 32] == new[j..j + 32] {
            i += 32;
            j += 32;
        }
        while i < stop && j < new.len() && t[i] == new[j] {
            i += 1;
            j += 1;
        }
        if i == t.len() {
            return Some((j, marks));
        }
        if j == new.len() {
            return None;
        }
        if let Some((open, close)) = token
            && i == open + 1
        {
            // Skip the token's value on both sides: a plain string.
            let end = j + memchr::memchr2(b'"', b'\\', &new[j..])?;
            if new[end] != b'"' {
                return None;
            }
            i = close;
            j = end;
            marks.push((i, j));
            continue;
        }
        // A difference is allowed only inside a digit run both sides are in
        // (the bytes before it matched, so both runs started together).
        let (digit_t, digit_n) = (t[i].is_ascii_digit(), new[j].is_ascii_digit());
        let in_run = i > 0 && t[i - 1].is_ascii_digit();
        if !(digit_t || digit_n) || !(in_run || (digit_t && digit_n)) {
            return None;
        }
        while i < t.len() && t[i].is_ascii_digit() {
            i += 1;
        }
        while j < new.len() && new[j].is_ascii_digit() {
            j += 1;
        }
        if j == new.len() && i < t.len() {
            return None;
        }
        marks.push((i, j));
    }
}

/// Whether `a` and `b` are wholly the same in this sense.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    matches!(repeat_marks(a, next_token_quotes(a), b), Some((len, _)) if len == b.len())
}

/// Where `model` position `p` is in the repeat.
pub fn map_position(p: usize, marks: &[(usize, usize)]) -> usize {
    let (i, j) = marks
        .iter()
        .rev()
        .find(|(i, _)| *i <= p)
        .copied()
        .unwrap_or((0, 0));
    p - i + j
}

/// Entries this large become the template for the next ones.
pub(crate) const TEMPLATE_MIN_BYTES: usize = 1024;
/// How much longer than the template a repeat may be (longer digit runs, a
/// longer token).
pub(crate) const TEMPLATE_SLACK: usize = 256;

/// The last large entry that was scanned in full. Agent snapshots make up
/// most of a log and, between state changes, repeat the previous one except
/// for digits (timestamps, `skew`) and the opaque `nextToken`. Such a repeat
/// is recognized by a byte comparison, much cheaper than a structural scan:
/// with every other byte equal, the structure, the end and the fields are
/// the template's, moved only where a digit run or the token changed length.
/// `F` is where the reader found the entry's members.
pub(crate) struct Template<F> {
    pub(crate) bytes: Vec<u8>,
    pub(crate) fields: F,
    pub(crate) index: u64,
    /// The quotes around the value of the template's `"nextToken"` member.
    token: Option<(usize, usize)>,
}

impl<F> Template<F> {
    pub(crate) fn new(bytes: &[u8], fields: F, index: u64) -> Template<F> {
        Template {
            bytes: bytes.to_vec(),
            fields,
            index,
            token: next_token_quotes(bytes),
        }
    }

    /// Whether `new` starts with a repeat of the template; see
    /// [`repeat_marks`].
    pub(crate) fn matches(&self, new: &[u8]) -> Option<(usize, Vec<(usize, usize)>)> {
        repeat_marks(&self.bytes, self.token, new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks_of(model: &[u8], new: &[u8]) -> Option<(usize, Vec<(usize, usize)>)> {
        repeat_marks(model, next_token_quotes(model), new)
    }

    #[test]
    fn a_repeat_may_differ_only_in_digit_runs_and_the_token() {
        let t =
            br#"{"t": "2025-03-11T13:20:40.039Z", "skew": -82, "nextToken": "abc1x", "s": "ok"}"#;
        let new =
            br#"{"t": "2025-03-11T13:20:42.1Z", "skew": -7, "nextToken": "qq", "s": "ok"}, {"#;
        let (len, marks) = marks_of(t, new).expect("a repeat");
        assert_eq!(len, new.len() - 3);
        // Every mark pairs positions whose following bytes agree.
        for (i, j) in marks {
            assert_eq!(t.get(i), new.get(j));
        }
        for other in [
            &br#"{"t": "2025-03-11T13:20:40.039Z", "skew": -82, "nextToken": "abc1x", "s": "no"}"#
                [..],
            br#"{"t": "2025-03-11T13:20:40.039Z", "skew": 82, "nextToken": "abc1x", "s": "ok"}"#,
            br#"{"t": "2025-03-11T13:20:40.039Z", "skew": -82, "nextToken": "a\"bc", "s": "ok"}"#,
            br#"{"t": "2025-03-11T13:20:40.039Z", "skew": -82"#,
        ] {
            assert!(
                marks_of(t, other).is_none(),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn wholly_the_same() {
        assert!(same(
            br#"{"skew": 12, "t": "2024-01-01T00:00:01.000Z"}"#,
            br#"{"skew": 345, "t": "2024-01-01T00:00:03.250Z"}"#
        ));
        assert!(same(b"", b""));
        assert!(!same(
            br#"{"state": "connected"}"#,
            br#"{"state": "ended"}"#
        ));
        assert!(!same(br#"{"skew": 12}"#, br#"{"skew": -12}"#));
        assert!(!same(b"abc", b"abcd"));
        assert!(!same(b"abcd", b"abc"));
        assert!(!same(b"a1", b"ab"));
        // A digit run may not appear where the other side has none.
        assert!(!same(b"id-x", b"id-1x"));
        // Ids that differ in a letter are different. (Ids differing only in
        // digit positions would match: for random UUIDs, never seen.)
        assert!(!same(b"\"7f3a9c\"", b"\"7f3b9c\""));
        let a =
            br#"[{"snapshot": {"state": {"name": "Available"}, "skew": 3}, "nextToken": "abc1"}]"#;
        let b =
            br#"[{"snapshot": {"state": {"name": "Available"}, "skew": 41}, "nextToken": "zz9q"}]"#;
        let c = br#"[{"snapshot": {"state": {"name": "Busy"}, "skew": 3}, "nextToken": "abc1"}]"#;
        assert!(same(a, b));
        assert!(!same(a, c));
        assert!(!same(
            a,
            br#"[{"snapshot": {"state": {"name": "Available"}, "skew": 3}}]"#
        ));
    }

    #[test]
    fn positions_follow_the_marks() {
        let marks = [(0, 0), (10, 8), (20, 25)];
        assert_eq!(map_position(5, &marks), 5);
        assert_eq!(map_position(10, &marks), 8);
        assert_eq!(map_position(15, &marks), 13);
        assert_eq!(map_position(20, &marks), 25);
        assert_eq!(map_position(30, &marks), 35);
    }
}
