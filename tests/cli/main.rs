//! Tests of the `ccp-disconnect` binary, run as a user would: arguments,
//! output formats, exit codes, files written.

#[path = "../support/mod.rs"]
mod support;

/// The Athena views and queries (`infra/athena/`) on DuckDB.
mod athena;
/// `classify` and `sample` subcommands end to end.
mod cli;

/// `classify --contact-records`.
mod contact_records;
/// The HTML report, and every report opened in a real browser.
mod html_report;
/// `classify --jobs N` over many files: the same output for every N.
mod jobs;
