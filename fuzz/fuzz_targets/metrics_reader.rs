//! The hand-written reader of a metrics line's JSON against `serde_json`
//! on any text.
//!
//! Checks: no panic; whenever the hand reader takes the input, it gives
//! exactly the samples `serde_json` gives, numbers bit for bit.

#![no_main]

use ccp_disconnect_core::metrics_readers_agree;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The reader is given an entry's decoded text, always UTF-8.
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(same) = metrics_readers_agree(json) {
        assert!(same, "{json}");
    }
});
