//! The hand-written snapshot reader against `serde_json` on any bytes.
//!
//! Checks: no panic; whenever the hand reader takes the input, it gives
//! exactly the snapshot `serde_json` gives.

#![no_main]

use ccp_disconnect_core::snapshot_readers_agree;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(same) = snapshot_readers_agree(data) {
        assert!(same, "{}", String::from_utf8_lossy(data));
    }
});
