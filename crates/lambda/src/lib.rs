//! The S3-triggered Lambda adapter (crate `ccp-disconnect-lambda`).
//!
//! [`run`] is the whole `bootstrap` binary: it reads the configuration, builds
//! the SDK configuration and the S3 client once, and serves invocations with
//! a [`Handler`] shared by reference. Triggers ([`trigger`]): S3 notifications,
//! SQS (S3 or SNS-wrapped notifications), SNS, EventBridge `Object Created`,
//! and S3 Batch Operations (schemas 1.0 and 2.0). For every object it reads
//! the body as a stream, classifies it with [`ccp_disconnect_core::classify`] and writes
//! `<RESULTS_PREFIX><key>.json`, then (unless `HTML_REPORTS=false`) the report
//! page `<RESULTS_PREFIX><key>.html`. See `docs/lambda.md`.
//!
//! [`upload`] is the second binary, `presign`: the upload API (an API
//! Gateway HTTP API with a JWT authorizer) that gives signed-in agents a
//! presigned S3 POST into their own folder and presigned GETs of their
//! results.

// Module graph, leaves first: `config`, `trigger`, `key`, `s3_error` →
// `error`, `metrics` → `write` → `object` → `handler` → here. `trigger` and `key` are
// public for the tests and the fuzz targets; the rest is reached through
// the re-exports below. `upload` is the second binary, `presign` (the
// upload API): it shares `config`'s parsers, `error`'s key limit and this
// file's SDK set-up, and nothing of the classifier's path.
mod config;
pub mod contact_records;
mod error;
mod handler;
pub mod key;
mod metrics;
mod object;
mod s3_error;
pub mod trigger;
pub mod upload;
mod write;

pub use config::{Config, ConfigError, LogFormat};
pub use error::{ObjectError, S3Location, WriteOp};
pub use handler::{Handler, InvocationError, RecordFailure};
pub use metrics::{DIMENSION_NAMES, METRIC_NAMES};
pub use s3_error::SdkFailure;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::config::SharedHttpClient;
use aws_smithy_http_client::tls;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

/// Installs the global `tracing` subscriber: JSON lines (default) or text,
/// filtered by `RUST_LOG` (default `info`). Only the first call has an effect.
pub(crate) fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Logs a configuration error (as JSON when logging is not set up yet: the
/// configured format is not known) and makes it the error that stops the
/// function before its first invocation.
pub(crate) fn invalid_configuration(e: impl Into<Error> + std::fmt::Display) -> Error {
    init_logging(LogFormat::Json);
    tracing::error!(error = %e, "invalid configuration");
    e.into()
}

/// The SDK configuration: region, credentials and endpoint from the usual
/// sources (including `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_S3`), over a
/// rustls + ring HTTPS client.
pub(crate) async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

/// The HTTP client every SDK client here uses: hyper 1 + rustls with ring
/// (plain `http://` endpoints work too, for local S3-compatible servers).
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// The S3 client for `sdk`, with path-style addressing when configured
/// (`S3_FORCE_PATH_STYLE`).
pub(crate) fn s3_client(sdk: &SdkConfig, force_path_style: bool) -> aws_sdk_s3::Client {
    let s3_config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(force_path_style)
        .build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

type InvocationFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Value, InvocationError>> + Send + 'a>,
>;

/// Runs the function until the runtime stops. A bad configuration ends the
/// process with an error before the first invocation.
pub async fn run() -> Result<(), Error> {
    let config = Config::from_env().map_err(invalid_configuration)?;
    init_logging(config.log_format);
    let sdk = load_sdk_config().await;
    let enricher = contact_records::Enricher::from_env(&sdk).map_err(invalid_configuration)?;
    if let Some(e) = &enricher {
        tracing::info!(
            concurrency = e.concurrency,
            budget_ms = e.budget.as_millis() as u64,
            "contact records: DescribeContact on"
        );
    }
    let handler =
        Handler::new(s3_client(&sdk, config.force_path_style), config).with_enricher(enricher);
    tracing::info!(
        results_prefix = handler.config().results_prefix.as_str(),
        results_bucket = handler
            .config()
            .results_bucket
            .as_deref()
            .unwrap_or("(source bucket)"),
        max_object_bytes = handler.config().max_object_bytes,
        html_reports = handler.config().html_reports,
        metrics_namespace = handler.config().metrics_namespace.as_str(),
        metrics_service = handler.config().metrics_service.as_str(),
        "ready"
    );
    let handler = &handler;
    // The handler's future is boxed behind `dyn Future`: nested inside the
    // runtime's own future it is deep enough to hit the compiler's query
    // depth limit.
    let service = service_fn(move |event: LambdaEvent<Value>| -> InvocationFuture<'_> {
        Box::pin(handler.invoke(event))
    });
    lambda_runtime::run(service).await
}
