//! Redaction of free text copied into evidence. Older CCP logs carry phone
//! numbers and e-mail addresses unredacted (ccp-log-format.md §2.4).

const MARK: &str = "[redacted]";

/// Replaces e-mail addresses and phone-number-like digit runs.
pub fn redact(text: &str) -> String {
    redact_phones(&redact_emails(text))
}

fn is_email_local(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

fn is_email_domain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-')
}

fn redact_emails(text: &str) -> String {
    if !text.contains('@') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let local_start = rest[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_email_local(*c))
            .last()
            .map_or(at, |(i, _)| i);
        let domain_len: usize = rest[at + 1..]
            .chars()
            .take_while(|c| is_email_domain(*c))
            .map(char::len_utf8)
            .sum();
        let domain = rest[at + 1..at + 1 + domain_len].trim_end_matches('.');
        let looks_like_domain = domain.rsplit_once('.').is_some_and(|(host, tld)| {
            !host.is_empty() && tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())
        });
        if local_start < at && looks_like_domain {
            out.push_str(&rest[..local_start]);
            out.push_str(MARK);
            rest = &rest[at + 1 + domain.len()..];
        } else {
            out.push_str(&rest[..=at]);
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    out
}

/// A run of digits, spaces and `+()-.` holding 8 to 15 digits, not glued to
/// a letter or digit on either side (so UUIDs and ISO times are left alone).
fn redact_phones(text: &str) -> String {
    let b = text.as_bytes();
    let is_run = |c: u8| c.is_ascii_digit() || matches!(c, b'+' | b'(' | b')' | b'-' | b'.' | b' ');
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        let starts = (b[i].is_ascii_digit() || b[i] == b'+' || b[i] == b'(')
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || matches!(b[i - 1], b'-' | b'.')));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < b.len() && is_run(b[j]) {
            j += 1;
        }
        // Trailing separators belong to the surrounding text.
        let mut end = j;
        while end > i && !b[end - 1].is_ascii_digit() && b[end - 1] != b')' {
            end -= 1;
        }
        let digits = b[i..end].iter().filter(|c| c.is_ascii_digit()).count();
        // Glued to a word: `…5678-a221` (a UUID) or `…0100x`, but not `… now`.
        let glued = j < b.len() && b[j].is_ascii_alphanumeric() && !b[end..j].contains(&b' ');
        if (8..=15).contains(&digits) && !glued {
            out.push_str(&text[copied..i]);
            out.push_str(MARK);
            copied = end;
        }
        i = j.max(i + 1);
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_emails_and_phone_numbers() {
        assert_eq!(
            redact("Caller jane.doe+x@example.co.uk says hi"),
            "Caller [redacted] says hi"
        );
        assert_eq!(
            redact("Dialing +1 (206) 555-0100 now"),
            "Dialing [redacted] now"
        );
        assert_eq!(redact("phone=+442071234567,"), "phone=[redacted],");
    }

    #[test]
    fn leaves_ids_times_and_states_alone() {
        for keep in [
            " f23586c4-****-****-bf88-5e3ccd504e34 SIGNALING TalkingState => PendingRemoteHangupState",
            " 886d8317-1234-5678-a221-6f6dbb912ab3 SESSION Lost ICE connection",
            "time 2019-10-03T18:21:26.478Z code=1006",
            "user@localhost is not a domain",
            "Number of connected CCPs updated: 2",
        ] {
            assert_eq!(redact(keep), keep);
        }
    }
}
