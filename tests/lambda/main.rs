//! Tests of the Lambda adapter (`ccp-disconnect-lambda`) and its deployment:
//! the handler against a real S3-compatible server (moto on 127.0.0.1), the
//! built `bootstrap` and `presign` binaries through a Lambda Runtime API
//! emulator (`presign`'s browser POSTs also against s3s-fs), faults
//! injected by a proxy, and the SAM template's invariants. A new trigger
//! shape gets a sample in `events/` and a case in `events`; a new failure
//! mode gets a case in `handler` or `faults`.

/// moto and s3s-fs, S3 clients, small CCP logs, trigger events, the Runtime
/// API emulator, function processes and the fault-injecting proxy.
#[path = "../support/lambda/mod.rs"]
mod lambda_support;
#[path = "../support/mod.rs"]
mod support;

/// The built `bootstrap` binary through the Runtime API.
mod bootstrap;
/// The collector for custom CCPs (`web/collector.js`) in headless Chromium
/// with a stubbed amazon-connect-streams.
mod collector;
/// Duplicate, out-of-order and late events; deadlines.
mod delivery;
/// The DescribeContact cross-check against a local DescribeContact endpoint.
mod describe_contact;
/// The sample trigger events in `events/`, end to end.
mod events;
/// 1,000 logs through 20 % injected S3 faults, with redelivery.
mod faults;
/// The handler in-process, every trigger shape.
mod handler;
/// The HTML report beside each result: bytes, headers, order, switch.
mod html_reports;
/// Invariants of `infra/template.yaml`.
mod infra_template;
/// The embedded-metric-format lines, against the EMF specification and the
/// result documents.
mod metrics;
/// The built `presign` binary (the upload API) with HTTP API events; its
/// presigned POSTs against moto and s3s-fs.
mod presign;
/// Bodies cut short are retried, never half a result.
mod truncated;
/// The upload page (`web/`) in headless Chromium against the stand-in API
/// (`tests/support/lambda/gateway.rs`): sign-in, upload, verdicts, failures,
/// one agent against another.
mod upload_page;
