//! Trigger decoding from any JSON: the bytes are parsed as the Lambda
//! runtime would, then handed to `parse_trigger`.
//!
//! Checks: no panic; the same payload gives the same trigger; every object
//! named has a bucket and a key, and no empty version id.

#![no_main]

use ccp_disconnect_lambda::trigger::{Item, ObjectRef, Trigger, parse_trigger};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let trigger = parse_trigger(&payload);
    assert_eq!(trigger, parse_trigger(&payload));
    match trigger {
        Ok(Trigger::Notification { items, .. }) => items.iter().for_each(check_item),
        Ok(Trigger::Queue { messages }) => {
            messages.iter().flat_map(|m| &m.items).for_each(check_item)
        }
        Ok(Trigger::Batch(batch)) => {
            for task in &batch.tasks {
                if let Ok(object) = &task.object {
                    check_object(object);
                }
            }
        }
        Err(reason) => assert!(!reason.is_empty()),
    }
});

fn check_item(item: &Item) {
    match item {
        Item::Object(object) => check_object(object),
        Item::Ignored { reason } | Item::Invalid { reason } => assert!(!reason.is_empty()),
    }
}

fn check_object(object: &ObjectRef) {
    assert!(!object.bucket.is_empty(), "{object:?}");
    assert!(!object.raw_key.is_empty(), "{object:?}");
    assert_ne!(object.version_id.as_deref(), Some(""), "{object:?}");
}
