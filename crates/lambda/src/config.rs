//! Configuration from environment variables, read once at start-up.

use std::fmt;
use std::time::Duration;

/// Default for `RESULTS_PREFIX`.
pub(crate) const DEFAULT_RESULTS_PREFIX: &str = "results/";
/// Default for `MAX_OBJECT_BYTES`: 2 GiB.
pub(crate) const DEFAULT_MAX_OBJECT_BYTES: u64 = 2 << 30;
/// Default for `DEADLINE_MARGIN_MS`: time kept back before the invocation
/// deadline to stop, log and answer.
pub(crate) const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(2000);

/// Default for `HTML_REPORTS`: on. The page is what the people asking "who
/// hung up?" open (through a presigned URL), and it costs one more
/// `PutObject` per log; `docs/lambda.md` ("Configuration") says more.
pub(crate) const DEFAULT_HTML_REPORTS: bool = true;

/// Key suffix of the JSON result.
pub(crate) const JSON_SUFFIX: &str = ".json";
/// Key suffix of the HTML report.
pub(crate) const HTML_SUFFIX: &str = ".html";
/// The longer of the two suffixes: the result-key length check uses it
/// whether or not HTML reports are on, so that whether a log can be processed
/// never depends on the switch.
pub(crate) const LONGEST_RESULT_SUFFIX: usize = if JSON_SUFFIX.len() > HTML_SUFFIX.len() {
    JSON_SUFFIX.len()
} else {
    HTML_SUFFIX.len()
};

/// Default for `METRICS_NAMESPACE`.
pub(crate) const DEFAULT_METRICS_NAMESPACE: &str = "ccp-disconnect";
/// Default for `METRICS_SERVICE` when `AWS_LAMBDA_FUNCTION_NAME` is unset
/// (outside Lambda).
pub(crate) const DEFAULT_METRICS_SERVICE: &str = "ccp-disconnect";

/// Output format of the log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (the default; CloudWatch Logs Insights reads it).
    Json,
    /// Human-readable lines, for local runs.
    Text,
}

/// The adapter's settings. See `docs/lambda.md` for the table of variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Prefix of the result keys (`RESULTS_PREFIX`, default `results/`).
    pub results_prefix: String,
    /// Bucket for results (`RESULTS_BUCKET`); `None` writes next to the input.
    pub results_bucket: Option<String>,
    /// Larger objects are not read; they get a `too_large` rejected result
    /// (`MAX_OBJECT_BYTES`). Also the core's cap on decompressed bytes.
    pub max_object_bytes: u64,
    /// `S3_FORCE_PATH_STYLE=true`: path-style addressing, for local servers.
    pub force_path_style: bool,
    /// `LOG_FORMAT` (`json` or `text`).
    pub log_format: LogFormat,
    /// `HTML_REPORTS` (default `true`): also write `<RESULTS_PREFIX><key>.html`,
    /// the report page, after the JSON result.
    pub html_reports: bool,
    /// `DEADLINE_MARGIN_MS`: an object still in progress this long before the
    /// invocation deadline is abandoned as a retryable failure.
    pub deadline_margin: Duration,
    /// Result documents longer than this are spooled to a temporary file for
    /// the upload instead of held in memory beside the document (not an
    /// environment variable: a tuning knob for tests).
    pub spool_results_over_bytes: usize,
    /// `METRICS_NAMESPACE`: the CloudWatch namespace of the embedded metrics.
    pub metrics_namespace: String,
    /// `METRICS_SERVICE`: the value of the metrics' `Service` dimension
    /// (default: the function's name, `AWS_LAMBDA_FUNCTION_NAME`).
    pub metrics_service: String,
}

/// About 350 calls' worth of result.
pub(crate) const DEFAULT_SPOOL_RESULTS_OVER_BYTES: usize = 1 << 20;

impl Default for Config {
    fn default() -> Self {
        Config {
            results_prefix: DEFAULT_RESULTS_PREFIX.to_owned(),
            results_bucket: None,
            max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
            force_path_style: false,
            log_format: LogFormat::Json,
            html_reports: DEFAULT_HTML_REPORTS,
            deadline_margin: DEFAULT_DEADLINE_MARGIN,
            spool_results_over_bytes: DEFAULT_SPOOL_RESULTS_OVER_BYTES,
            metrics_namespace: DEFAULT_METRICS_NAMESPACE.to_owned(),
            metrics_service: DEFAULT_METRICS_SERVICE.to_owned(),
        }
    }
}

/// A variable with a value the adapter cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests).
    /// Empty values count as unset, except `RESULTS_PREFIX`, where an empty
    /// value is refused unless results go to another bucket.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut config = Config::default();

        let results_bucket = lookup("RESULTS_BUCKET").filter(|v| !v.trim().is_empty());
        config.results_bucket = results_bucket.map(|b| b.trim().to_owned());

        if let Some(prefix) = results_prefix(&lookup, config.results_bucket.is_some())? {
            config.results_prefix = prefix;
        }

        if let Some(max) = max_object_bytes(&lookup)? {
            config.max_object_bytes = max;
        }

        if let Some(value) = boolean(&lookup, "S3_FORCE_PATH_STYLE")? {
            config.force_path_style = value;
        }

        if let Some(value) = boolean(&lookup, "HTML_REPORTS")? {
            config.html_reports = value;
        }

        if let Some(format) = log_format(&lookup)? {
            config.log_format = format;
        }

        if let Some(raw) = lookup("DEADLINE_MARGIN_MS").filter(|v| !v.trim().is_empty()) {
            config.deadline_margin = match raw.trim().parse::<u64>() {
                Ok(ms) => Duration::from_millis(ms),
                _ => {
                    return Err(ConfigError {
                        variable: "DEADLINE_MARGIN_MS",
                        message: format!("expected a whole number of milliseconds, got {raw:?}"),
                    });
                }
            };
        }

        if let Some(raw) = lookup("METRICS_NAMESPACE").filter(|v| !v.trim().is_empty()) {
            if let Err(problem) = check_namespace(&raw) {
                return Err(ConfigError {
                    variable: "METRICS_NAMESPACE",
                    message: format!("{problem}, got {raw:?}"),
                });
            }
            config.metrics_namespace = raw;
        }

        let service = lookup("METRICS_SERVICE")
            .filter(|v| !v.trim().is_empty())
            .map(|v| ("METRICS_SERVICE", v))
            .or_else(|| {
                lookup("AWS_LAMBDA_FUNCTION_NAME")
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| ("AWS_LAMBDA_FUNCTION_NAME", v))
            });
        if let Some((variable, raw)) = service {
            if let Err(problem) = check_dimension_value(&raw) {
                return Err(ConfigError {
                    variable,
                    message: format!("{problem}, got {raw:?}"),
                });
            }
            config.metrics_service = raw;
        }

        Ok(config)
    }

    /// The bucket a result for an object in `source_bucket` goes to.
    pub fn results_bucket_for<'a>(&'a self, source_bucket: &'a str) -> &'a str {
        self.results_bucket.as_deref().unwrap_or(source_bucket)
    }

    /// The key of the result object for `key`: `<RESULTS_PREFIX><key>.json`.
    pub fn result_key(&self, key: &str) -> String {
        result_key(&self.results_prefix, key)
    }

    /// The key of the HTML report for `key`: `<RESULTS_PREFIX><key>.html`.
    pub fn html_key(&self, key: &str) -> String {
        html_key(&self.results_prefix, key)
    }

    /// The length in bytes of the longest result key for `key`, whichever
    /// outputs are on: what S3's limit on key length is checked against.
    pub(crate) fn longest_result_key_len(&self, key: &str) -> usize {
        self.results_prefix.len() + key.len() + LONGEST_RESULT_SUFFIX
    }

    /// True when the object is itself a result (or anything else under the
    /// results prefix of the bucket results are written to): never processed.
    pub fn is_result_object(&self, bucket: &str, key: &str) -> bool {
        self.results_bucket_for(bucket) == bucket && key.starts_with(&self.results_prefix)
    }
}

/// `<results_prefix><key>.json`: where the classifier writes the result for
/// `key`, and where the presign function looks for it.
pub(crate) fn result_key(results_prefix: &str, key: &str) -> String {
    format!("{results_prefix}{key}{JSON_SUFFIX}")
}

/// `<results_prefix><key>.html`: the report page beside the result.
pub(crate) fn html_key(results_prefix: &str, key: &str) -> String {
    format!("{results_prefix}{key}{HTML_SUFFIX}")
}

/// `RESULTS_PREFIX`, `None` when unset. An empty prefix is refused unless the
/// results go to another bucket (`other_bucket`): in the source bucket every
/// object would be a result. Shared by the classifier and the presign
/// function, which must agree on where results are.
pub(crate) fn results_prefix(
    lookup: &impl Fn(&str) -> Option<String>,
    other_bucket: bool,
) -> Result<Option<String>, ConfigError> {
    match lookup("RESULTS_PREFIX") {
        Some(prefix) if prefix.is_empty() && !other_bucket => Err(ConfigError {
            variable: "RESULTS_PREFIX",
            message: "must not be empty when results are written to the source bucket \
                      (set RESULTS_BUCKET to another bucket, or use a prefix such as results/)"
                .to_owned(),
        }),
        prefix => Ok(prefix),
    }
}

/// `MAX_OBJECT_BYTES`: a positive whole number of bytes; unset or empty is
/// `None`. Shared by the classifier (the largest object it reads) and the
/// presign function (the largest upload its POST policies allow), so that the
/// two can never disagree on the syntax.
pub(crate) fn max_object_bytes(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Option<u64>, ConfigError> {
    let Some(raw) = lookup("MAX_OBJECT_BYTES").filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    match raw.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(ConfigError {
            variable: "MAX_OBJECT_BYTES",
            message: format!("expected a positive whole number of bytes, got {raw:?}"),
        }),
    }
}

/// `LOG_FORMAT` (`json` or `text`); unset or empty is `None`.
pub(crate) fn log_format(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Option<LogFormat>, ConfigError> {
    let Some(raw) = lookup("LOG_FORMAT").filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    match raw.trim().to_ascii_lowercase().as_str() {
        "json" => Ok(Some(LogFormat::Json)),
        "text" => Ok(Some(LogFormat::Text)),
        _ => Err(ConfigError {
            variable: "LOG_FORMAT",
            message: format!("expected json or text, got {raw:?}"),
        }),
    }
}

/// A true/false variable; unset or empty is `None`. Anything else than the
/// listed spellings stops the function at start-up rather than being guessed.
pub(crate) fn boolean(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<Option<bool>, ConfigError> {
    let Some(raw) = lookup(variable).filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(Some(true)),
        "false" | "0" | "no" => Ok(Some(false)),
        _ => Err(ConfigError {
            variable,
            message: format!("expected true or false, got {raw:?}"),
        }),
    }
}

/// CloudWatch's rule for namespaces: 1 to 255 characters among ASCII
/// letters, digits and `. - _ / # :` and space, not under `AWS/` (reserved
/// for AWS services). A namespace CloudWatch refuses would make every
/// metric line silently worthless, so it stops the function at start-up.
fn check_namespace(value: &str) -> Result<(), &'static str> {
    if value.len() > 255 {
        return Err("a CloudWatch namespace is at most 255 characters");
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".-_/#: ".contains(&b))
    {
        return Err(
            "a CloudWatch namespace holds only ASCII letters, digits and . - _ / # : or space",
        );
    }
    if value.starts_with("AWS/") {
        return Err("namespaces starting with AWS/ are reserved for AWS services");
    }
    Ok(())
}

/// CloudWatch's rule for dimension values: 1 to 1,024 ASCII characters, no
/// control characters, at least one that is not white space.
fn check_dimension_value(value: &str) -> Result<(), &'static str> {
    if value.len() > 1024 {
        return Err("a CloudWatch dimension value is at most 1024 characters");
    }
    if !value.bytes().all(|b| b.is_ascii() && !b.is_ascii_control()) {
        return Err("a CloudWatch dimension value holds only printable ASCII characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.results_prefix, "results/");
        assert_eq!(c.results_bucket, None);
        assert_eq!(c.max_object_bytes, 2 * 1024 * 1024 * 1024);
        assert!(!c.force_path_style);
        assert_eq!(c.log_format, LogFormat::Json);
        assert!(c.html_reports);
        assert_eq!(c.deadline_margin, Duration::from_secs(2));
        assert_eq!(c.metrics_namespace, "ccp-disconnect");
        assert_eq!(c.metrics_service, "ccp-disconnect");
    }

    #[test]
    fn metrics_settings() {
        // Lambda names the function; that is the default service.
        let c = config(&[("AWS_LAMBDA_FUNCTION_NAME", "prod-classifier")]).unwrap();
        assert_eq!(c.metrics_service, "prod-classifier");
        assert_eq!(c.metrics_namespace, "ccp-disconnect");
        let c = config(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "prod-classifier"),
            ("METRICS_SERVICE", "contact-centre eu"),
            ("METRICS_NAMESPACE", "Acme/CCP logs"),
        ])
        .unwrap();
        assert_eq!(c.metrics_service, "contact-centre eu");
        assert_eq!(c.metrics_namespace, "Acme/CCP logs");

        for bad in ["AWS/Lambda", "caf\u{e9}", "a|b", &"n".repeat(256)] {
            assert_eq!(
                config(&[("METRICS_NAMESPACE", bad)]).unwrap_err().variable,
                "METRICS_NAMESPACE",
                "{bad:?}"
            );
        }
        assert!(config(&[("METRICS_NAMESPACE", &"n".repeat(255))]).is_ok());
        for bad in ["tab\there", "\u{1F4DE}", &"s".repeat(1025)] {
            assert_eq!(
                config(&[("METRICS_SERVICE", bad)]).unwrap_err().variable,
                "METRICS_SERVICE",
                "{bad:?}"
            );
        }
        assert!(config(&[("METRICS_SERVICE", &"s".repeat(1024))]).is_ok());
    }

    #[test]
    fn values_are_read() {
        let c = config(&[
            ("RESULTS_PREFIX", "out/"),
            ("RESULTS_BUCKET", "other"),
            ("MAX_OBJECT_BYTES", "1000"),
            ("S3_FORCE_PATH_STYLE", "TRUE"),
            ("LOG_FORMAT", "text"),
            ("DEADLINE_MARGIN_MS", "250"),
            ("HTML_REPORTS", " No "),
        ])
        .unwrap();
        assert!(!c.html_reports);
        assert_eq!(c.results_prefix, "out/");
        assert_eq!(c.results_bucket.as_deref(), Some("other"));
        assert_eq!(c.max_object_bytes, 1000);
        assert!(c.force_path_style);
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.deadline_margin, Duration::from_millis(250));
    }

    #[test]
    fn bad_values_are_refused() {
        assert_eq!(
            config(&[("MAX_OBJECT_BYTES", "2GB")]).unwrap_err().variable,
            "MAX_OBJECT_BYTES"
        );
        assert_eq!(
            config(&[("MAX_OBJECT_BYTES", "0")]).unwrap_err().variable,
            "MAX_OBJECT_BYTES"
        );
        assert_eq!(
            config(&[("DEADLINE_MARGIN_MS", "-1")])
                .unwrap_err()
                .variable,
            "DEADLINE_MARGIN_MS"
        );
        assert_eq!(
            config(&[("LOG_FORMAT", "xml")]).unwrap_err().variable,
            "LOG_FORMAT"
        );
        assert_eq!(
            config(&[("S3_FORCE_PATH_STYLE", "maybe")])
                .unwrap_err()
                .variable,
            "S3_FORCE_PATH_STYLE"
        );
        let err = config(&[("HTML_REPORTS", "off")]).unwrap_err();
        assert_eq!(err.variable, "HTML_REPORTS");
        assert_eq!(
            err.to_string(),
            "HTML_REPORTS: expected true or false, got \"off\""
        );
        // Empty is unset: the default applies.
        assert!(config(&[("HTML_REPORTS", "")]).unwrap().html_reports);
        // An empty prefix in the source bucket would make every object a result.
        assert_eq!(
            config(&[("RESULTS_PREFIX", "")]).unwrap_err().variable,
            "RESULTS_PREFIX"
        );
        let c = config(&[("RESULTS_PREFIX", ""), ("RESULTS_BUCKET", "out")]).unwrap();
        assert_eq!(c.result_key("a/b.txt"), "a/b.txt.json");
    }

    #[test]
    fn result_key_and_guard() {
        let c = Config::default();
        assert_eq!(
            c.result_key("uploads/a/agent-log.txt"),
            "results/uploads/a/agent-log.txt.json"
        );
        assert_eq!(
            c.html_key("uploads/a/agent-log.txt"),
            "results/uploads/a/agent-log.txt.html"
        );
        // The length check covers the longer key, whichever it is.
        let key = "uploads/a/agent-log.txt";
        let longest = c.result_key(key).len().max(c.html_key(key).len());
        assert_eq!(c.longest_result_key_len(key), longest);
        assert!(c.is_result_object("b", "results/uploads/a/agent-log.txt.json"));
        assert!(c.is_result_object("b", "results/uploads/a/agent-log.txt.html"));
        assert!(c.is_result_object("b", "results/anything"));
        assert!(!c.is_result_object("b", "uploads/results/x"));
        assert!(!c.is_result_object("b", "results"));

        let other = Config {
            results_bucket: Some("out".into()),
            ..Config::default()
        };
        // Results live in another bucket: the source bucket's results/ is input.
        assert!(!other.is_result_object("b", "results/x.txt"));
        assert!(other.is_result_object("out", "results/x.txt"));
    }
}
