//! Tests of the core crate (`ccp-disconnect-core`) and the generator
//! (`ccp-disconnect-sample`): `classify` on bytes, no process, no network.
//! A new log line, rule or cap gets its test here; a new verdict rule also
//! gets a hand-labelled fixture in `tests/fixtures/scenarios/`.

#[path = "../support/mod.rs"]
mod support;

/// Hostile and malformed input: clear rejections, bounded caps, no panic.
mod bad_input;
/// Cross-checks with Amazon Connect contact records.
mod contact_records;
/// Inputs found by fuzzing (`fuzz/`), each with the property it broke.
mod fuzz_regressions;
/// The hand-written snapshot and metrics readers give serde_json's answer or leave it to serde.
mod hand_readers;
/// Every accepted input shape (array, NDJSON, gzip, `_logs`, …) classifies alike.
mod input_shapes;
/// What grows the classifier's state is bounded, asserted by its effect.
mod memory_bounds;
/// Properties over arbitrary, damaged and reordered input.
mod properties;
/// The fast path (repeated entries) is byte-identical to the reference path.
mod reuse_repeats;
/// The generator's logs classify exactly as it labels them.
mod sample_generator;
/// The hand-labelled scenario fixtures and the bundled sample.
mod scenarios;
/// Every document the program writes matches `schema/result-v1.schema.json`.
mod schema;
/// Each closed enum spells its wire names once: `as_str()`, serde and the schema agree.
mod wire_names;
