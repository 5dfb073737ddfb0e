//! Entry times: ISO-8601 strings or epoch milliseconds, normalised to epoch
//! milliseconds and printed back as `YYYY-MM-DDTHH:MM:SS.mmmZ`.

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = i64;

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM)`, the form
/// `Date.prototype.toISOString` writes, plus offsets and a space separator.
pub fn parse_iso8601(s: &str) -> Option<Millis> {
    parse_to_iso_string(s.as_bytes()).or_else(|| parse_general(s))
}

/// [`parse_iso8601`] for every form it reads.
fn parse_general(s: &str) -> Option<Millis> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let mut v = 0i64;
        for &c in b.get(from..to)? {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    if b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..3 {
            millis *= 10;
        }
    }
    let offset_min = match b.get(i) {
        None => 0, // no zone: the CCP always writes Z; treat a bare time as UTC
        Some(b'Z') | Some(b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let rest = &s[i + 1..];
            let (h, m) = match rest.len() {
                5 if rest.as_bytes()[2] == b':' => (num(i + 1, i + 3)?, num(i + 4, i + 6)?),
                4 => (num(i + 1, i + 3)?, num(i + 3, i + 5)?),
                2 => (num(i + 1, i + 3)?, 0),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let total = h * 60 + m;
            if sign == b'+' { total } else { -total }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_min * 60;
    Some(secs * 1000 + millis)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const LOWS: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` as three little-endian words, each with a mask
/// of 0xff under its separators and one of 0x80 under its digits.
const FORM_WORDS: [(u64, u64, u64); 3] = {
    const FORM: &[u8; 24] = b"0000-00-00T00:00:00.000Z";
    let mut words = [(0, 0, 0); 3];
    let mut i = 0;
    while i < 24 {
        let shift = 8 * (i % 8);
        let (form, separators, digits) = &mut words[i / 8];
        *form |= (FORM[i] as u64) << shift;
        if FORM[i] == b'0' {
            *digits |= 0x80 << shift;
        } else {
            *separators |= 0xff << shift;
        }
        i += 1;
    }
    words
};

/// `Date.prototype.toISOString`'s own form, `YYYY-MM-DDTHH:MM:SS.mmmZ`, at
/// fixed offsets: nearly every time in a log, and every entry has one.
/// `None` for anything else, which the general parser reads (or refuses).
pub(crate) fn parse_to_iso_string(b: &[u8]) -> Option<Millis> {
    let b: &[u8; 24] = b.try_into().ok()?;
    // Three words checked whole: the separators where they belong, and
    // digits everywhere else (every other byte would take a branch).
    for (k, &(form, separators, digit_bytes)) in FORM_WORDS.iter().enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[8 * k..8 * k + 8]);
        let w = u64::from_le_bytes(w);
        // As in `repeats::first_digit`: the high bit of each ASCII digit.
        let x = w ^ (ONES * u64::from(b'0'));
        let digits = !((x & LOWS) + ONES * (0x80 - 10)) & !x & !LOWS;
        if w & separators != form & separators || digits & digit_bytes != digit_bytes {
            return None;
        }
    }
    let d = |k: usize| i64::from(b[k] - b'0');
    let two = |k: usize| d(k) * 10 + d(k + 1);
    let year = two(0) * 100 + two(2);
    let (month, day, hour, minute, second) = (two(5), two(8), two(11), two(14), two(17));
    let millis = two(20) * 10 + d(22);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(secs * 1000 + millis)
}

/// Formats epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_iso8601(ms: Millis) -> String {
    match iso8601_bytes(ms) {
        Some(b) => b.iter().map(|&c| char::from(c)).collect(),
        None => {
            let (y, m, d, h, min, s, milli) = civil(ms);
            format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
        }
    }
}

/// [`format_iso8601`]'s text for years 0 to 9999 (every time a log can
/// hold), on the stack: the result document writes a few dozen times per
/// call, and each went through the formatting machinery and a `String`.
pub(crate) fn iso8601_bytes(ms: Millis) -> Option<[u8; 24]> {
    let (y, m, d, h, min, s, milli) = civil(ms);
    if !(0..=9999).contains(&y) {
        return None;
    }
    let mut out = *b"0000-00-00T00:00:00.000Z";
    for (at, width, value) in [
        (0, 4, y),
        (5, 2, m),
        (8, 2, d),
        (11, 2, h),
        (14, 2, min),
        (17, 2, s),
        (20, 3, milli),
    ] {
        let mut v = value;
        for k in (at..at + width).rev() {
            out[k] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    Some(out)
}

/// Year, month, day, hour, minute, second, millisecond.
fn civil(ms: Millis) -> (i64, i64, i64, i64, i64, i64, i64) {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    (
        y,
        m,
        d,
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    )
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days-from-civil algorithm (proleptic Gregorian calendar).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values checked with GNU date: `date -u -d 2019-10-03T18:21:26.478Z +%s%3N`.
    #[test]
    fn parses_the_ccp_form() {
        assert_eq!(
            parse_iso8601("2019-10-03T18:21:26.478Z"),
            Some(1_570_126_886_478)
        );
        assert_eq!(parse_iso8601("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            parse_iso8601("2024-02-29T23:59:59.999Z"),
            Some(1_709_251_199_999)
        );
    }

    #[test]
    fn parses_offsets_fractions_and_no_fraction() {
        assert_eq!(
            parse_iso8601("2019-10-03T20:21:26.478+02:00"),
            Some(1_570_126_886_478)
        );
        assert_eq!(
            parse_iso8601("2019-10-03T18:21:26Z"),
            Some(1_570_126_886_000)
        );
        assert_eq!(
            parse_iso8601("2019-10-03T18:21:26.4Z"),
            Some(1_570_126_886_400)
        );
        assert_eq!(
            parse_iso8601("2019-10-03T18:21:26.478123Z"),
            Some(1_570_126_886_478)
        );
        assert_eq!(
            parse_iso8601("2019-10-03T13:21:26.478-0500"),
            Some(1_570_126_886_478)
        );
    }

    /// The fixed-offset reader of the common form answers as the general
    /// one does, wherever it answers, and answers for every valid time of
    /// that form: each byte of a few times changed to each of a set of
    /// bytes.
    #[test]
    fn the_common_form_reader_agrees_with_the_general_one() {
        let mut tried = 0;
        for base in [
            "2019-10-03T18:21:26.478Z",
            "2024-02-29T23:59:59.999Z",
            "2023-12-31T00:00:60.000Z",
            "1970-01-01T00:00:00.000Z",
        ] {
            for at in 0..base.len() {
                for c in b"0123459:-.TZtz +" {
                    let mut s = base.as_bytes().to_vec();
                    s[at] = *c;
                    let s = String::from_utf8(s).expect("ASCII");
                    let general = parse_general(&s);
                    match parse_to_iso_string(s.as_bytes()) {
                        Some(ms) => assert_eq!(Some(ms), general, "{s}"),
                        None if s.as_bytes()[10] == b'T' && s.ends_with('Z') => {
                            assert_eq!(general, None, "{s}")
                        }
                        None => {}
                    }
                    tried += 1;
                }
            }
        }
        assert_eq!(tried, 4 * 24 * 16);
    }

    #[test]
    fn rejects_bad_dates() {
        for bad in [
            "",
            "2019-10-03",
            "2019-13-03T18:21:26.478Z",
            "2019-02-29T18:21:26.478Z",
            "2019-10-03T24:21:26.478Z",
            "2019-10-03T18:21:26.Z",
            "2019-10-03T18:21:26.478Zjunk",
            "not a time at all, no",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_and_round_trips() {
        assert_eq!(
            format_iso8601(1_570_126_886_478),
            "2019-10-03T18:21:26.478Z"
        );
        assert_eq!(format_iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_iso8601(-1), "1969-12-31T23:59:59.999Z");
        for ms in [0, 951_782_400_000, 1_709_251_199_999, 4_102_444_800_123] {
            assert_eq!(parse_iso8601(&format_iso8601(ms)), Some(ms));
        }
        // The digits written directly are the formatting machinery's, from
        // year 0 to past 9999 (where only the latter writes).
        let by_format = |ms: Millis| {
            let rem = ms.rem_euclid(86_400_000);
            let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
            format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
                rem / 3_600_000,
                rem / 60_000 % 60,
                rem / 1000 % 60,
                rem % 1000
            )
        };
        let (first, last) = (-62_167_219_200_000i64, 253_402_300_800_000i64);
        let mut ms = first - 86_400_000;
        while ms < last + 86_400_000 {
            assert_eq!(format_iso8601(ms), by_format(ms));
            ms += 7_777_777_777;
        }
        for ms in [first, first - 1, last, last - 1] {
            assert_eq!(format_iso8601(ms), by_format(ms));
        }
    }
}
