//! Tests of the `ccp-disconnect` binary, run as a user would: arguments,
//! output formats, exit codes, files written.

#[path = "../support/mod.rs"]
mod support;

/// `classify` and `sample` subcommands end to end.
mod cli;

/// `classify --jobs N` over many files: the same output for every N.
mod jobs;
