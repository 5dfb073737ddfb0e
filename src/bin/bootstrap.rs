//! The Lambda entry point (placeholder until the adapter lands).
fn main() {}
