//! Tests of the `ccp-disconnect` binary, run as a user would: arguments,
//! output formats, exit codes, files written.

#[path = "../support/mod.rs"]
mod support;

/// `classify` and `sample` subcommands end to end.
mod cli;

/// The HTML report, and every report opened in a real browser.
mod html_report;
