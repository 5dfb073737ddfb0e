//! Object keys as S3 event notifications write them.
//!
//! Notification keys are URL-encoded the way HTML forms are: a space is `+`,
//! and other reserved bytes (including `+` itself, `%` and often `/`) are
//! `%xx`. The bytes behind the escapes are UTF-8.

use percent_encoding::percent_decode_str;

/// A key whose escapes do not decode to UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    pub raw: String,
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "object key {:?} does not URL-decode to UTF-8", self.raw)
    }
}

impl std::error::Error for KeyError {}

/// Decodes a key from an S3 notification: `+` becomes a space, then `%xx`
/// escapes are decoded as UTF-8. A `%` not followed by two hex digits is kept
/// as it is.
pub fn decode_event_key(raw: &str) -> Result<String, KeyError> {
    let plus_as_space = raw.replace('+', " ");
    percent_decode_str(&plus_as_space)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| KeyError {
            raw: raw.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::decode_event_key;

    #[test]
    fn decodes_like_s3_encodes() {
        let cases = [
            ("uploads/agent-log.txt", "uploads/agent-log.txt"),
            ("uploads%2Fagent-log.txt", "uploads/agent-log.txt"),
            ("uploads/agent-log+%281%29.txt", "uploads/agent-log (1).txt"),
            ("red+flower.jpg", "red flower.jpg"),
            ("a%2Bb.txt", "a+b.txt"),
            ("100%25+done.txt", "100% done.txt"),
            ("caf%C3%A9/%E6%97%A5%E5%BF%97.txt", "café/日志.txt"),
            ("%F0%9F%93%9E.txt", "📞.txt"),
            ("a%20b", "a b"),
            ("", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(decode_event_key(raw).as_deref(), Ok(want), "raw {raw:?}");
        }
    }

    #[test]
    fn stray_percent_is_kept() {
        assert_eq!(decode_event_key("50%off").as_deref(), Ok("50%off"));
        assert_eq!(decode_event_key("x%2").as_deref(), Ok("x%2"));
        assert_eq!(decode_event_key("x%zz").as_deref(), Ok("x%zz"));
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        assert!(decode_event_key("bad%FF.txt").is_err());
        assert!(decode_event_key("bad%C3.txt").is_err());
    }
}
