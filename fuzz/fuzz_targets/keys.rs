//! Object keys and the results guard: `decode_event_key` on any text and on
//! keys encoded as S3 notifications write them, and `Config`'s result keys.
//!
//! Checks: decoding never panics and never lengthens a key; any key, encoded
//! in any of the forms S3 writes, decodes to itself; a configuration that
//! loads never writes a result the function would take for input (the
//! result of any object, in the bucket it is written to, is a result
//! object), and loading refuses an empty prefix in the source bucket.

//!
//! Input: text, one field a line (a missing line is an unset variable):
//! an event key, a stored key, the encoding style for it (0 to 7, see
//! `s3_encode_key`), a bucket, then `RESULTS_PREFIX`, `RESULTS_BUCKET`,
//! `MAX_OBJECT_BYTES`, `S3_FORCE_PATH_STYLE` and `LOG_FORMAT`.

#![no_main]

use ccp_disconnect_lambda::Config;
use ccp_disconnect_lambda::key::decode_event_key;
use ccp_disconnect_fuzz::s3_encode_key;
use libfuzzer_sys::fuzz_target;

struct Input<'a> {
    raw: &'a str,
    key: &'a str,
    style: u8,
    bucket: &'a str,
    env: [Option<&'a str>; 5],
}

const VARIABLES: [&str; 5] = [
    "RESULTS_PREFIX",
    "RESULTS_BUCKET",
    "MAX_OBJECT_BYTES",
    "S3_FORCE_PATH_STYLE",
    "LOG_FORMAT",
];

fn input(text: &str) -> Input<'_> {
    let mut lines = text.split('\n');
    let mut next = || lines.next();
    Input {
        raw: next().unwrap_or_default(),
        key: next().unwrap_or_default(),
        style: next().and_then(|s| s.parse().ok()).unwrap_or(0),
        bucket: next().unwrap_or_default(),
        env: [next(), next(), next(), next(), next()],
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let input = input(&text);
    match decode_event_key(input.raw) {
        Ok(decoded) => {
            assert!(decoded.len() <= input.raw.len());
            if !input.raw.contains('%') {
                assert_eq!(decoded, input.raw.replace('+', " "));
            }
        }
        Err(e) => {
            assert!(input.raw.contains('%'));
            assert_eq!(e.raw, input.raw);
        }
    }

    let encoded = s3_encode_key(input.key, input.style);
    assert_eq!(decode_event_key(&encoded).as_deref(), Ok(input.key));

    let config = Config::from_lookup(|name| {
        let at = VARIABLES.iter().position(|v| *v == name)?;
        input.env[at].map(str::to_owned)
    });
    let Ok(config) = config else {
        return;
    };
    assert!(config.max_object_bytes > 0);
    let in_source_bucket = config
        .results_bucket
        .as_deref()
        .is_none_or(|b| b == input.bucket);
    assert!(!(config.results_prefix.is_empty() && config.results_bucket.is_none()));

    let result_bucket = config.results_bucket_for(input.bucket);
    let result_key = config.result_key(input.key);
    assert!(
        config.is_result_object(result_bucket, &result_key),
        "{config:?}: the result {result_key:?} would be taken for input"
    );
    // Through a notification of the result, as the function would see it.
    let notified = decode_event_key(&s3_encode_key(&result_key, input.style)).unwrap();
    assert!(config.is_result_object(result_bucket, &notified));
    // Results in another bucket: nothing in the source bucket is skipped.
    if !in_source_bucket {
        assert!(!config.is_result_object(input.bucket, input.key));
    }
    // A result never replaces its own input.
    if in_source_bucket {
        assert_ne!(result_key, input.key);
    }
});
