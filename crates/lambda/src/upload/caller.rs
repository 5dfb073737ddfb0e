//! Who is calling: the claims of the JWT that API Gateway's authorizer
//! verified, reduced to a [`Caller`].
//!
//! An HTTP API with a JWT authorizer passes the token's claims to the
//! function as `requestContext.authorizer.jwt.claims`, every value a string
//! ("Working with AWS Lambda proxy integrations for HTTP APIs", payload
//! format 2.0). The function checks them again even where the authorizer
//! already did, so a route left without the authorizer by mistake serves no
//! one: no `sub`, no upload.

use std::collections::HashMap;
use std::fmt;
use std::fmt::Write as _;

use super::upload_key::sanitise;

/// The longest subject accepted, in bytes. OIDC does not bound `sub` beyond
/// "a locally unique and never reassigned identifier ... not exceed 255 ASCII
/// characters" (OpenID Connect Core 1.0, §2): anything longer is refused.
pub const MAX_SUBJECT_BYTES: usize = 255;
/// The longest readable name put in a key, in bytes.
pub const MAX_READABLE_BYTES: usize = 64;
/// Claims that may carry a readable name, in order of preference: OIDC's
/// `preferred_username`, Cognito's `cognito:username`, then the common
/// others.
pub const READABLE_CLAIMS: [&str; 5] = [
    "preferred_username",
    "cognito:username",
    "username",
    "email",
    "name",
];

/// The caller, as far as keys are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    subject: String,
    readable: Option<String>,
}

/// Why the claims name no caller (an `unauthenticated` answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerError {
    /// No claims, no `sub`, or an empty one.
    NoSubject,
    /// A `sub` longer than [`MAX_SUBJECT_BYTES`].
    SubjectTooLong { bytes: usize },
}

impl fmt::Display for CallerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallerError::NoSubject => f.write_str("the token names no subject (sub claim)"),
            CallerError::SubjectTooLong { bytes } => write!(
                f,
                "the token's subject is {bytes} bytes long, more than {MAX_SUBJECT_BYTES}"
            ),
        }
    }
}

impl std::error::Error for CallerError {}

impl Caller {
    /// The caller named by `claims` (`None`: the request carried none).
    pub fn from_claims(claims: Option<&HashMap<String, String>>) -> Result<Caller, CallerError> {
        let claims = claims.ok_or(CallerError::NoSubject)?;
        let sub = claims
            .get("sub")
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(CallerError::NoSubject)?;
        if sub.len() > MAX_SUBJECT_BYTES {
            return Err(CallerError::SubjectTooLong { bytes: sub.len() });
        }
        let readable = READABLE_CLAIMS
            .iter()
            .filter_map(|name| claims.get(*name))
            .map(|value| sanitise(value, MAX_READABLE_BYTES))
            .find(|name| !name.is_empty());
        Ok(Caller {
            subject: escape_subject(sub),
            readable,
        })
    }

    /// The escaped subject: one key segment, the caller's folder name.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The sanitised readable name, when a claim gave one.
    pub fn readable(&self) -> Option<&str> {
        self.readable.as_deref()
    }
}

/// `sub` as one key segment, injectively: `[A-Za-z0-9._-]` kept, every other
/// byte of its UTF-8 (`/`, `~` itself, non-ASCII, ...) as `~HH` (upper-case
/// hex). Because `~` is always escaped, reading `~HH` back is unambiguous,
/// so two subjects never share a folder. A subject that is `.` or `..` has
/// its dots escaped too, so it never names the folder above.
pub fn escape_subject(sub: &str) -> String {
    let mut out = String::with_capacity(sub.len());
    let dots_only = sub == "." || sub == "..";
    for b in sub.bytes() {
        let keep = (b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            && !(dots_only && b == b'.');
        if keep {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "~{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Reads an escaped subject back: the proof that escaping loses nothing.
    fn unescape(escaped: &str) -> Vec<u8> {
        let bytes = escaped.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'~' {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        out
    }

    #[test]
    fn subjects_are_escaped_into_one_segment() {
        let cases = [
            (
                "f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
                "f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
            ),
            ("Alice_1.x", "Alice_1.x"),
            ("a/b", "a~2Fb"),
            ("../bob", "..~2Fbob"),
            ("~", "~7E"),
            ("a~2Fb", "a~7E2Fb"),
            ("é", "~C3~A9"),
            ("a b", "a~20b"),
            ("a\\b", "a~5Cb"),
            ("a\0b", "a~00b"),
            ("\u{202e}", "~E2~80~AE"),
            (".", "~2E"),
            ("..", "~2E~2E"),
            ("...", "..."),
            (
                "auth0|5f7c8ec7c33c6c004bbafe82",
                "auth0~7C5f7c8ec7c33c6c004bbafe82",
            ),
        ];
        for (sub, want) in cases {
            let escaped = escape_subject(sub);
            assert_eq!(escaped, want, "sub {sub:?}");
            assert!(!escaped.contains('/'), "{escaped}");
            assert_ne!(escaped, ".");
            assert_ne!(escaped, "..");
        }
    }

    #[test]
    fn escaping_is_injective() {
        // Pairs that a lossy escape would merge.
        let subjects = [
            "a/b", "a~2Fb", "a_b", "a b", "a%2Fb", "A/B", "a/b/", ".", "..", "~2E", "~2E~2E", "~",
            "~7E", "é", "e\u{301}", "", "-", "_",
        ];
        let mut seen = HashMap::new();
        for sub in subjects {
            let escaped = escape_subject(sub);
            if let Some(previous) = seen.insert(escaped.clone(), sub) {
                panic!("{previous:?} and {sub:?} both escape to {escaped:?}");
            }
            assert_eq!(unescape(&escaped), sub.as_bytes(), "{sub:?}");
        }
        // Every single byte value, and every pair of a few interesting ones.
        let mut all = std::collections::HashSet::new();
        for b in 0u8..=0x7f {
            let s = char::from(b).to_string();
            assert!(all.insert(escape_subject(&s)), "{b:#x}");
            assert_eq!(unescape(&escape_subject(&s)), s.as_bytes());
        }
    }

    #[test]
    fn the_subject_is_required() {
        assert_eq!(Caller::from_claims(None), Err(CallerError::NoSubject));
        assert_eq!(
            Caller::from_claims(Some(&claims(&[]))),
            Err(CallerError::NoSubject)
        );
        assert_eq!(
            Caller::from_claims(Some(&claims(&[("sub", ""), ("email", "a@b.c")]))),
            Err(CallerError::NoSubject)
        );
        assert_eq!(
            Caller::from_claims(Some(&claims(&[("username", "alice")]))),
            Err(CallerError::NoSubject)
        );
        let long = "x".repeat(256);
        assert_eq!(
            Caller::from_claims(Some(&claims(&[("sub", &long)]))),
            Err(CallerError::SubjectTooLong { bytes: 256 })
        );
        let longest = "x".repeat(255);
        let caller = Caller::from_claims(Some(&claims(&[("sub", &longest)]))).unwrap();
        assert_eq!(caller.subject(), longest);
    }

    #[test]
    fn the_readable_name_is_the_first_usable_claim_sanitised() {
        let caller = Caller::from_claims(Some(&claims(&[
            ("sub", "s-1"),
            ("email", "alice@example.com"),
            ("cognito:username", "alice.cognito"),
        ])))
        .unwrap();
        assert_eq!(caller.subject(), "s-1");
        assert_eq!(caller.readable(), Some("alice.cognito"));

        let caller = Caller::from_claims(Some(&claims(&[
            ("sub", "s-1"),
            ("preferred_username", "   "),
            ("email", "Alice Smith <alice@example.com>"),
        ])))
        .unwrap();
        // A claim that sanitises to nothing is skipped.
        assert_eq!(caller.readable(), Some("Alice_Smith_alice_example.com_"));

        let caller = Caller::from_claims(Some(&claims(&[
            ("sub", "s-1"),
            ("name", "../../Ålice\u{202e}"),
        ])))
        .unwrap();
        assert_eq!(caller.readable(), Some("lice_"));

        let caller =
            Caller::from_claims(Some(&claims(&[("sub", "s-1"), ("name", "日本語")]))).unwrap();
        assert_eq!(caller.readable(), None);

        let long = "n".repeat(200);
        let caller =
            Caller::from_claims(Some(&claims(&[("sub", "s-1"), ("username", &long)]))).unwrap();
        assert_eq!(caller.readable().map(str::len), Some(MAX_READABLE_BYTES));
    }
}
