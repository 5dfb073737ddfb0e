//! Upload keys: sanitising what the browser sends, building the key an
//! upload goes to, and checking that a key a caller asks about is its own.
//!
//! Everything here is pure: the subject (already escaped, see
//! [`super::caller`]), the time and the configured prefixes come in as
//! arguments. Nothing the client sends can choose the prefix: the file name
//! is reduced to a plain ASCII basename before it is put after the caller's
//! own folder.

use std::fmt;

use ccp_disconnect_core::time::format_iso8601;

use crate::error::MAX_S3_KEY_BYTES;

/// The file name used when nothing usable is left of the one sent: what the
/// CCP's "Download logs" writes.
pub const DEFAULT_FILE_NAME: &str = "agent-log.txt";
/// The longest sanitised file name, in bytes (ASCII, so also characters).
pub const MAX_FILE_NAME_BYTES: usize = 100;
/// The shortest file name a key always has room for: the configuration is
/// refused at start-up when the prefixes leave less (`UPLOADS_PREFIX` and
/// `RESULTS_PREFIX` together may then be at most ~200 bytes).
pub const MIN_FILE_NAME_BYTES: usize = 16;
/// Length of [`key_timestamp`]'s `YYYYMMDDTHHMMSS.mmmZ`.
pub const TIMESTAMP_BYTES: usize = 20;
/// The longest extension kept whole when a long name is shortened.
const MAX_KEPT_EXTENSION_BYTES: usize = 10;

/// Reduces `raw` to `[A-Za-z0-9._-]`: every run of other characters
/// (spaces, `/`, `\`, control characters, bidi overrides, any non-ASCII)
/// becomes one `_`, and leading `.` and `_` are dropped, so no result is a
/// hidden name, `.` or `..`. Then at most `max` bytes.
pub fn sanitise(raw: &str, max: usize) -> String {
    let mut out = String::with_capacity(raw.len().min(max));
    let mut in_run = false;
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    let trimmed = out.trim_start_matches(['.', '_']);
    shorten(trimmed, max)
}

/// `name` (ASCII) cut to `max` bytes, keeping a short extension whole
/// (`very-long….json` stays a `.json`, so its content type survives).
fn shorten(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let extension = name
        .rfind('.')
        .map(|dot| &name[dot..])
        .filter(|ext| ext.len() <= MAX_KEPT_EXTENSION_BYTES && ext.len() < max);
    match extension {
        Some(ext) => format!("{}{ext}", &name[..max - ext.len()]),
        None => name[..max].to_owned(),
    }
}

/// The file name an upload is stored under: the basename of `raw` (after
/// the last `/` or `\`, so a path from any OS or a traversal attempt leaves
/// only its last part), [`sanitise`]d, at most [`MAX_FILE_NAME_BYTES`];
/// [`DEFAULT_FILE_NAME`] when nothing is left.
pub fn sanitise_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let name = sanitise(base, MAX_FILE_NAME_BYTES);
    if name.is_empty() {
        DEFAULT_FILE_NAME.to_owned()
    } else {
        name
    }
}

/// The content type an upload must carry, decided here from the (sanitised)
/// name rather than taken from the browser: the classifier reads plain and
/// gzip logs alike, and a fixed short list keeps the policy's
/// `Content-Type` condition predictable.
pub fn content_type_for(file_name: &str) -> &'static str {
    let lower = file_name.to_ascii_lowercase();
    if lower.ends_with(".gz") {
        "application/gzip"
    } else if lower.ends_with(".json") {
        "application/json"
    } else {
        "text/plain"
    }
}

/// `YYYYMMDDTHHMMSS.mmmZ` (UTC) for epoch milliseconds: sorts by time, and
/// has no `:` (awkward in file names when the object is downloaded).
pub fn key_timestamp(epoch_ms: i64) -> String {
    let iso = format_iso8601(epoch_ms); // YYYY-MM-DDTHH:MM:SS.mmmZ
    iso.chars().filter(|c| !matches!(c, '-' | ':')).collect()
}

/// `<uploads_prefix><subject>/`: the only folder a caller may write to or
/// read results for.
pub fn caller_prefix(uploads_prefix: &str, subject: &str) -> String {
    format!("{uploads_prefix}{subject}/")
}

/// The key of a new upload:
/// `<uploads_prefix><subject>/<YYYYMMDDTHHMMSS.mmmZ>-<readable>-<file_name>`,
/// without `<readable>-` when there is none. `subject` is the escaped
/// subject, `readable` and `file_name` are already sanitised.
///
/// `max_key_bytes` is the room the key has (S3's 1,024 bytes less what the
/// result key adds to it). When the whole key does not fit, the readable
/// name is left out, then the file name shortened (its extension kept);
/// `None` when not even [`MIN_FILE_NAME_BYTES`] of it would fit, which the
/// start-up check of the prefixes rules out.
pub fn upload_key(
    uploads_prefix: &str,
    subject: &str,
    readable: Option<&str>,
    epoch_ms: i64,
    file_name: &str,
    max_key_bytes: usize,
) -> Option<String> {
    let head = format!(
        "{}{}-",
        caller_prefix(uploads_prefix, subject),
        key_timestamp(epoch_ms)
    );
    let room = max_key_bytes.checked_sub(head.len())?;
    if let Some(readable) = readable.filter(|r| !r.is_empty())
        && readable.len() + 1 + file_name.len() <= room
    {
        return Some(format!("{head}{readable}-{file_name}"));
    }
    if room < MIN_FILE_NAME_BYTES.min(file_name.len()) {
        return None;
    }
    Some(format!("{head}{}", shorten(file_name, room)))
}

/// Why a key a caller asked about is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRefusal {
    /// Longer than S3's 1,024 bytes: no object can have it.
    TooLong { bytes: usize },
    /// A control character (C0, DEL, C1): no key this API hands out has one.
    ControlCharacter,
    /// Not under the caller's own prefix, or with an empty, `.` or `..`
    /// segment after it (which could point elsewhere once normalised).
    NotOwn,
}

impl fmt::Display for KeyRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRefusal::TooLong { bytes } => write!(
                f,
                "the key is {bytes} bytes long, more than S3's {MAX_S3_KEY_BYTES}"
            ),
            KeyRefusal::ControlCharacter => f.write_str("the key holds a control character"),
            KeyRefusal::NotOwn => f.write_str("the key is not one of your uploads"),
        }
    }
}

impl std::error::Error for KeyRefusal {}

/// Checks that `key` is in the caller's own folder, `own_prefix` (from
/// [`caller_prefix`], ending in `/`): it starts with it, and what follows is
/// one or more segments none of which is empty, `.` or `..`. S3 keys are
/// plain strings (S3 normalises nothing), but a key that looks like a path
/// escaping the folder is refused rather than reasoned about.
pub fn check_own_key(key: &str, own_prefix: &str) -> Result<(), KeyRefusal> {
    if key.len() > MAX_S3_KEY_BYTES {
        return Err(KeyRefusal::TooLong { bytes: key.len() });
    }
    if key.chars().any(char::is_control) {
        return Err(KeyRefusal::ControlCharacter);
    }
    let rest = key.strip_prefix(own_prefix).ok_or(KeyRefusal::NotOwn)?;
    if !own_prefix.ends_with('/')
        || rest
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(KeyRefusal::NotOwn);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-01T00:55:10.123Z
    const NOW_MS: i64 = 1_796_086_510_123;

    #[test]
    fn file_names_are_reduced_to_a_plain_basename() {
        let cases = [
            ("agent-log.txt", "agent-log.txt"),
            ("agent-log (1).txt", "agent-log_1_.txt"),
            // Traversal and absolute paths keep only their last part.
            ("../../etc/passwd", "passwd"),
            ("/etc/passwd", "passwd"),
            ("uploads/bob/agent-log.txt", "agent-log.txt"),
            ("..\\..\\Windows\\win.ini", "win.ini"),
            (
                "C:\\Users\\alice\\Downloads\\agent-log.txt",
                "agent-log.txt",
            ),
            ("..", DEFAULT_FILE_NAME),
            ("../", DEFAULT_FILE_NAME),
            (".", DEFAULT_FILE_NAME),
            ("", DEFAULT_FILE_NAME),
            ("/", DEFAULT_FILE_NAME),
            // Hidden names lose their leading dots.
            (".bashrc", "bashrc"),
            ("..._x.txt", "x.txt"),
            // NUL and control characters.
            ("agent\0log.txt", "agent_log.txt"),
            ("agent\r\n\tlog.txt", "agent_log.txt"),
            ("log\u{7f}.txt", "log_.txt"),
            // A bidi override that would show "txt.exe" as "exe.txt".
            ("agent\u{202e}txt.exe", "agent_txt.exe"),
            ("\u{202e}\u{2066}log.txt", "log.txt"),
            // Unicode, including a name with nothing ASCII but its extension.
            ("журнал.txt", "txt"),
            ("日志 2026.json", "2026.json"),
            ("café-log.txt", "caf_-log.txt"),
            ("📞", DEFAULT_FILE_NAME),
            ("a b  c", "a_b_c"),
            // Percent escapes are not decoded: they are just characters.
            ("%2e%2e%2fpasswd", "2e_2e_2fpasswd"),
        ];
        for (raw, want) in cases {
            assert_eq!(sanitise_file_name(raw), want, "raw {raw:?}");
        }
    }

    #[test]
    fn every_sanitised_name_is_safe() {
        let nasty = [
            "..",
            "../..",
            "a/../b",
            "\\\\server\\share",
            "\u{0}",
            "\u{202e}",
            " ",
            "~",
            "-",
        ];
        for raw in nasty {
            let name = sanitise_file_name(raw);
            assert!(!name.is_empty(), "{raw:?}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
                "{raw:?} -> {name:?}"
            );
            assert!(!name.starts_with('.'), "{raw:?} -> {name:?}");
        }
    }

    #[test]
    fn long_names_are_cut_keeping_the_extension() {
        let long = format!("{}.json", "a".repeat(300));
        let name = sanitise_file_name(&long);
        assert_eq!(name.len(), MAX_FILE_NAME_BYTES);
        assert!(name.ends_with(".json"), "{name}");
        // No short extension: a plain cut.
        let name = sanitise_file_name(&"b".repeat(300));
        assert_eq!(name, "b".repeat(MAX_FILE_NAME_BYTES));
        // Multi-byte characters become one `_` per run, so the cut is on ASCII.
        let name = sanitise_file_name(&format!("{}x", "é".repeat(500)));
        assert_eq!(name, "x");
    }

    #[test]
    fn content_type_follows_the_extension() {
        assert_eq!(content_type_for("agent-log.txt"), "text/plain");
        assert_eq!(content_type_for("agent-log.txt.gz"), "application/gzip");
        assert_eq!(content_type_for("LOG.GZ"), "application/gzip");
        assert_eq!(content_type_for("agent-log.json"), "application/json");
        assert_eq!(content_type_for("agent-log"), "text/plain");
        assert_eq!(content_type_for("x.html"), "text/plain");
    }

    #[test]
    fn keys_are_built_under_the_caller_folder() {
        assert_eq!(key_timestamp(NOW_MS), "20261201T005510.123Z");
        assert_eq!(key_timestamp(0), "19700101T000000.000Z");
        let key = upload_key(
            "uploads/",
            "alice",
            Some("alice_example.com"),
            NOW_MS,
            "agent-log.txt",
            1000,
        );
        assert_eq!(
            key.as_deref(),
            Some("uploads/alice/20261201T005510.123Z-alice_example.com-agent-log.txt")
        );
        let key = upload_key("uploads/", "alice", None, NOW_MS, "agent-log.txt", 1000);
        assert_eq!(
            key.as_deref(),
            Some("uploads/alice/20261201T005510.123Z-agent-log.txt")
        );
        // An empty readable name counts as none.
        let key = upload_key("uploads/", "alice", Some(""), NOW_MS, "a.txt", 1000);
        assert_eq!(
            key.as_deref(),
            Some("uploads/alice/20261201T005510.123Z-a.txt")
        );
    }

    #[test]
    fn a_key_without_room_drops_the_readable_name_then_shortens_the_file_name() {
        let head = "uploads/alice/20261201T005510.123Z-".len();
        let file = format!("{}.txt", "f".repeat(60));
        // Room for the file name but not the readable name as well.
        let key = upload_key(
            "uploads/",
            "alice",
            Some("alice"),
            NOW_MS,
            &file,
            head + file.len(),
        )
        .unwrap();
        assert_eq!(key, format!("uploads/alice/20261201T005510.123Z-{file}"));
        // Less room: the name is cut, its extension kept.
        let key = upload_key("uploads/", "alice", Some("alice"), NOW_MS, &file, head + 20).unwrap();
        assert_eq!(key.len(), head + 20);
        assert!(key.ends_with(".txt"), "{key}");
        // No room for even the shortest name.
        assert_eq!(
            upload_key("uploads/", "alice", None, NOW_MS, &file, head + 3),
            None
        );
        assert_eq!(
            upload_key("uploads/", "alice", None, NOW_MS, &file, 5),
            None
        );
    }

    #[test]
    fn own_keys_pass() {
        let own = caller_prefix("uploads/", "alice");
        assert_eq!(own, "uploads/alice/");
        assert_eq!(
            check_own_key("uploads/alice/20261201T005510.123Z-agent-log.txt", &own),
            Ok(())
        );
        // Odd but harmless characters are fine: S3 keys are plain strings.
        assert_eq!(check_own_key("uploads/alice/a b~%.txt", &own), Ok(()));
        assert_eq!(check_own_key("uploads/alice/x/y.txt", &own), Ok(()));
    }

    #[test]
    fn other_keys_are_refused() {
        let own = caller_prefix("uploads/", "alice");
        let refused = [
            // Another subject, and prefix tricks.
            "uploads/bob/agent-log.txt",
            "uploads/alice2/agent-log.txt",
            "uploads/alice",
            "uploads/alice/",
            "uploads/alic/e/x.txt",
            "uploads/ALICE/x.txt",
            "Uploads/alice/x.txt",
            "results/uploads/alice/x.txt.json",
            "/uploads/alice/x.txt",
            "",
            // Traversal out of the folder, and empty or dot segments.
            "uploads/alice/../bob/x.txt",
            "uploads/alice/..",
            "uploads/alice/./x.txt",
            "uploads/alice/.",
            "uploads/alice//x.txt",
            "uploads/alice/x.txt/",
            "uploads/alice/x/../../bob/y.txt",
        ];
        for key in refused {
            assert_eq!(
                check_own_key(key, &own),
                Err(KeyRefusal::NotOwn),
                "key {key:?}"
            );
        }
        assert_eq!(
            check_own_key("uploads/alice/a\0b.txt", &own),
            Err(KeyRefusal::ControlCharacter)
        );
        assert_eq!(
            check_own_key("uploads/alice/a\u{85}b.txt", &own),
            Err(KeyRefusal::ControlCharacter)
        );
        let long = format!("uploads/alice/{}", "x".repeat(1100));
        assert_eq!(
            check_own_key(&long, &own),
            Err(KeyRefusal::TooLong { bytes: long.len() })
        );
        // A prefix without its closing `/` would let `alice2` in: refused.
        assert_eq!(
            check_own_key("uploads/alice2/x.txt", "uploads/alice"),
            Err(KeyRefusal::NotOwn)
        );
    }
}
