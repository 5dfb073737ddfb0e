//! The upload API: the `presign` binary behind an API Gateway HTTP API.
//!
//! Agents have no AWS credentials; this function has them. Behind an HTTP
//! API with a JWT authorizer it serves the upload page (`web/`), hands a
//! signed-in caller a presigned S3 POST for one key in its own folder
//! (`<UPLOADS_PREFIX><subject>/...`), and, for its own uploads only,
//! presigned GETs of the classifier's result once it exists. See
//! `docs/lambda.md` ("The presign function").
//!
//! Module graph, leaves first: [`upload_key`] (sanitising, keys, the prefix
//! check), [`caller`] (claims → [`caller::Caller`]), [`post_policy`] (the
//! signed policy, pure), [`assets`] (the embedded page) → [`routes`]
//! (request → response) → here ([`UploadConfig`], [`Handler`], [`run`]).

pub mod assets;
pub mod caller;
pub mod post_policy;
pub mod routes;
pub mod upload_key;

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::http::HeaderValue;
use aws_sdk_s3::config::{Credentials, ProvideCredentials, SharedCredentialsProvider};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

use crate::config::{
    ConfigError, LONGEST_RESULT_SUFFIX, LogFormat, boolean, log_format, max_object_bytes,
    results_prefix,
};
use crate::error::MAX_S3_KEY_BYTES;
use crate::handler::InvocationError;
use crate::{init_logging, invalid_configuration, load_sdk_config, s3_client};

/// Default for `UPLOADS_PREFIX`: the classifier's usual trigger prefix.
pub const DEFAULT_UPLOADS_PREFIX: &str = "uploads/";
/// Default for `UPLOAD_URL_EXPIRY_SECONDS` and `RESULT_URL_EXPIRY_SECONDS`:
/// long enough to upload a large log on a slow line, short enough that a
/// leaked form or link is soon worthless.
pub const DEFAULT_URL_EXPIRY: Duration = Duration::from_secs(300);
/// The longest expiry either setting accepts: one hour.
pub const MAX_URL_EXPIRY: Duration = Duration::from_secs(3600);
/// Default for `OIDC_SCOPES`.
pub const DEFAULT_OIDC_SCOPES: &str = "openid";
/// The longest subject after escaping: every byte of a 255-byte `sub` as `~HH`.
const MAX_ESCAPED_SUBJECT_BYTES: usize = caller::MAX_SUBJECT_BYTES * 3;

/// Where the page signs in (served to it as `/config.json`; the function
/// itself never talks to the identity provider: API Gateway's authorizer
/// checks the tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// `OIDC_AUTHORIZE_URL`: the authorization endpoint.
    pub authorize_url: String,
    /// `OIDC_TOKEN_URL`: the token endpoint (its origin is in the page's
    /// `connect-src`).
    pub token_url: String,
    /// `OIDC_CLIENT_ID`: the public app client (authorization code + PKCE).
    pub client_id: String,
    /// `OIDC_SCOPES` (default `openid`).
    pub scopes: String,
    /// `OIDC_LOGOUT_URL` (optional).
    pub logout_url: Option<String>,
}

/// The presign function's settings, read once at start-up. The table of
/// variables is in `docs/lambda.md` ("The presign function").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadConfig {
    /// `BUCKET_NAME` (required): the bucket uploads go to.
    pub bucket: String,
    /// `UPLOADS_PREFIX` (default `uploads/`): the classifier's trigger prefix;
    /// each caller's folder is `<UPLOADS_PREFIX><subject>/`.
    pub uploads_prefix: String,
    /// `RESULTS_PREFIX` (default `results/`), as the classifier has it.
    pub results_prefix: String,
    /// `RESULTS_BUCKET` (default `BUCKET_NAME`), as the classifier has it.
    pub results_bucket: String,
    /// `MAX_OBJECT_BYTES` (the classifier's syntax and default): the upper
    /// bound of every policy's `content-length-range`.
    pub max_object_bytes: u64,
    /// `UPLOAD_URL_EXPIRY_SECONDS` (default 300, 1 to 3,600).
    pub upload_url_expiry: Duration,
    /// `RESULT_URL_EXPIRY_SECONDS` (default 300, 1 to 3,600).
    pub result_url_expiry: Duration,
    /// `S3_PUBLIC_ENDPOINT` (optional): the origin browsers reach S3 at, for
    /// local S3-compatible servers; then URLs are path-style,
    /// `<S3_PUBLIC_ENDPOINT>/<bucket>`. Without it, the bucket's
    /// virtual-hosted endpoint.
    pub s3_public_endpoint: Option<String>,
    /// `S3_FORCE_PATH_STYLE`, for the function's own S3 requests (as the
    /// classifier has it).
    pub force_path_style: bool,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    pub oidc: OidcConfig,
}

impl UploadConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<UploadConfig, ConfigError> {
        UploadConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in
    /// tests). Empty values count as unset.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<UploadConfig, ConfigError> {
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let bucket = set("BUCKET_NAME")
            .map(|b| b.trim().to_owned())
            .ok_or_else(|| error("BUCKET_NAME", "is required: the bucket uploads go to"))?;
        check_bucket_name("BUCKET_NAME", &bucket)?;
        let results_bucket = match set("RESULTS_BUCKET") {
            Some(b) => {
                let b = b.trim().to_owned();
                check_bucket_name("RESULTS_BUCKET", &b)?;
                b
            }
            None => bucket.clone(),
        };
        let same_bucket = results_bucket == bucket;
        let results_prefix = results_prefix(&lookup, !same_bucket)?
            .unwrap_or_else(|| crate::config::DEFAULT_RESULTS_PREFIX.to_owned());
        let uploads_prefix =
            set("UPLOADS_PREFIX").unwrap_or_else(|| DEFAULT_UPLOADS_PREFIX.to_owned());
        check_uploads_prefix(&uploads_prefix)?;
        if same_bucket
            && (uploads_prefix.starts_with(&results_prefix)
                || results_prefix.starts_with(&uploads_prefix))
        {
            return Err(error(
                "UPLOADS_PREFIX",
                &format!(
                    "{uploads_prefix:?} and RESULTS_PREFIX {results_prefix:?} overlap in the \
                     same bucket: uploads would be taken for results, or results for uploads"
                ),
            ));
        }
        // The longest key this function can hand out must leave room for the
        // result key S3 must also accept: check it once here, so no request
        // ever finds a key too long.
        let fixed = uploads_prefix.len()
            + MAX_ESCAPED_SUBJECT_BYTES
            + 1
            + upload_key::TIMESTAMP_BYTES
            + 1
            + upload_key::MIN_FILE_NAME_BYTES
            + results_prefix.len()
            + LONGEST_RESULT_SUFFIX;
        if fixed > MAX_S3_KEY_BYTES {
            return Err(error(
                "UPLOADS_PREFIX",
                &format!(
                    "with RESULTS_PREFIX, too long: a result key could exceed S3's \
                     {MAX_S3_KEY_BYTES} bytes (shorten the two prefixes by {} bytes)",
                    fixed - MAX_S3_KEY_BYTES
                ),
            ));
        }

        let s3_public_endpoint = match set("S3_PUBLIC_ENDPOINT") {
            Some(raw) => Some(
                origin_of(raw.trim().trim_end_matches('/'), true)
                    .map_err(|problem| error("S3_PUBLIC_ENDPOINT", &problem))?,
            ),
            None => None,
        };

        let authorize_url = required_url(&set, "OIDC_AUTHORIZE_URL")?;
        let token_url = required_url(&set, "OIDC_TOKEN_URL")?;
        let client_id = set("OIDC_CLIENT_ID")
            .map(|v| v.trim().to_owned())
            .ok_or_else(|| error("OIDC_CLIENT_ID", "is required: the page's app client id"))?;
        let logout_url = match set("OIDC_LOGOUT_URL") {
            Some(raw) => {
                let url = raw.trim().to_owned();
                origin_of(&url, false).map_err(|problem| error("OIDC_LOGOUT_URL", &problem))?;
                Some(url)
            }
            None => None,
        };

        Ok(UploadConfig {
            bucket,
            uploads_prefix,
            results_prefix,
            results_bucket,
            max_object_bytes: max_object_bytes(&lookup)?
                .unwrap_or(crate::config::DEFAULT_MAX_OBJECT_BYTES),
            upload_url_expiry: expiry(&set, "UPLOAD_URL_EXPIRY_SECONDS")?,
            result_url_expiry: expiry(&set, "RESULT_URL_EXPIRY_SECONDS")?,
            s3_public_endpoint,
            force_path_style: boolean(&lookup, "S3_FORCE_PATH_STYLE")?.unwrap_or(false),
            log_format: log_format(&lookup)?.unwrap_or(LogFormat::Json),
            oidc: OidcConfig {
                authorize_url,
                token_url,
                client_id,
                scopes: set("OIDC_SCOPES")
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_else(|| DEFAULT_OIDC_SCOPES.to_owned()),
                logout_url,
            },
        })
    }

    /// The room an upload key has: S3's 1,024 bytes less what its result
    /// key adds (`RESULTS_PREFIX` and the longer suffix).
    pub fn max_upload_key_bytes(&self) -> usize {
        MAX_S3_KEY_BYTES.saturating_sub(self.results_prefix.len() + LONGEST_RESULT_SUFFIX)
    }

    /// The URL browsers POST uploads to.
    pub fn post_url(&self, region: &str) -> String {
        match &self.s3_public_endpoint {
            Some(endpoint) => format!("{endpoint}/{}", self.bucket),
            None => virtual_hosted_origin(&self.bucket, region),
        }
    }

    /// The origins the page talks to besides its own: S3 (uploads, and
    /// results when they are in another bucket) and the token endpoint.
    fn connect_origins(&self, region: &str) -> Vec<String> {
        let mut origins = match &self.s3_public_endpoint {
            Some(endpoint) => vec![endpoint.clone()],
            None => vec![
                virtual_hosted_origin(&self.bucket, region),
                virtual_hosted_origin(&self.results_bucket, region),
            ],
        };
        // Checked at start-up; an unusable URL never gets here.
        if let Ok(token) = origin_of(&self.oidc.token_url, false) {
            origins.push(token);
        }
        origins.dedup();
        origins
    }

    /// The page's content security policy: its own scripts and styles only,
    /// requests to itself, S3 and the token endpoint, no forms, no framing.
    pub fn content_security_policy(&self, region: &str) -> String {
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self' {}; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
            self.connect_origins(region).join(" ")
        )
    }
}

/// `https://<bucket>.s3.<region>.amazonaws.com`: S3's virtual-hosted
/// endpoint, the one the SDK presigns GETs for ("Virtual hosting of
/// buckets" in the S3 user guide).
fn virtual_hosted_origin(bucket: &str, region: &str) -> String {
    format!("https://{bucket}.s3.{region}.amazonaws.com")
}

fn error(variable: &'static str, message: &str) -> ConfigError {
    ConfigError {
        variable,
        message: message.to_owned(),
    }
}

/// S3's bucket naming rules, as far as they matter here: 3 to 63 lower-case
/// letters, digits, `.` and `-`. The name goes into a host name and a URL
/// path, so nothing else is let through.
fn check_bucket_name(variable: &'static str, bucket: &str) -> Result<(), ConfigError> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(error(
            variable,
            &format!("{bucket:?} is not an S3 bucket name (3-63 of a-z 0-9 . -)"),
        ))
    }
}

/// The uploads prefix is the parent of every caller's folder: a `/`-ended
/// path of plain segments, so that the folder check (`upload_key`) means
/// what it says.
fn check_uploads_prefix(prefix: &str) -> Result<(), ConfigError> {
    let plain = prefix.ends_with('/')
        && !prefix.chars().any(char::is_control)
        && prefix
            .trim_end_matches('/')
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..");
    if plain {
        Ok(())
    } else {
        Err(error(
            "UPLOADS_PREFIX",
            &format!(
                "expected a folder ending in / with no empty, . or .. segment (such as \
                 uploads/), got {prefix:?}"
            ),
        ))
    }
}

/// The origin (`scheme://host[:port]`) of an `http(s)` URL. With
/// `origin_only`, anything after the origin is refused. Hosts are limited
/// to the characters of DNS names, IP addresses and ports, so an origin can
/// go into a header (the CSP) as it is.
fn origin_of(url: &str, origin_only: bool) -> Result<String, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("expected an http:// or https:// URL, got {url:?}"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_ok = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    if !host_ok {
        return Err(format!(
            "expected a host name after the scheme, got {url:?}"
        ));
    }
    if origin_only && end != rest.len() {
        return Err(format!(
            "expected an origin (scheme://host[:port]) with no path, got {url:?}"
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "a URL holds no spaces or control characters: {url:?}"
        ));
    }
    Ok(format!("{}{authority}", &url[..url.len() - rest.len()]))
}

fn required_url(
    set: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<String, ConfigError> {
    let url = set(variable)
        .map(|v| v.trim().to_owned())
        .ok_or_else(|| error(variable, "is required: the upload page signs in with it"))?;
    origin_of(&url, false).map_err(|problem| error(variable, &problem))?;
    Ok(url)
}

fn expiry(
    set: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<Duration, ConfigError> {
    let Some(raw) = set(variable) else {
        return Ok(DEFAULT_URL_EXPIRY);
    };
    match raw.trim().parse::<u64>() {
        Ok(s) if (1..=MAX_URL_EXPIRY.as_secs()).contains(&s) => Ok(Duration::from_secs(s)),
        _ => Err(error(
            variable,
            &format!(
                "expected a whole number of seconds from 1 to {}, got {raw:?}",
                MAX_URL_EXPIRY.as_secs()
            ),
        )),
    }
}

/// What a request needs from AWS: built once per execution environment and
/// shared by reference with every invocation.
pub struct Handler {
    config: UploadConfig,
    region: String,
    /// For the function's own requests (HeadObject on results).
    s3: aws_sdk_s3::Client,
    /// For presigning GETs: addressed the way browsers reach S3
    /// (`S3_PUBLIC_ENDPOINT`, path-style, when set).
    presigner: aws_sdk_s3::Client,
    credentials: SharedCredentialsProvider,
    /// The last credentials read, reused while they stay valid (see
    /// [`Handler::signing_credentials`]).
    cached: Mutex<Option<Credentials>>,
    csp: String,
    /// `csp`, checked once as a header value.
    csp_header: HeaderValue,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("config", &self.config)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Handler {
    /// The handler for `config`, with the region, credentials and HTTP
    /// client of `sdk`. Fails when the SDK configuration has no region or
    /// no credentials provider (the signatures need both).
    pub fn new(config: UploadConfig, sdk: &SdkConfig) -> Result<Handler, ConfigError> {
        let region = sdk
            .region()
            .map(|r| r.as_ref().to_owned())
            .filter(|r| {
                !r.is_empty()
                    && r.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
            .ok_or_else(|| {
                error(
                    "AWS_REGION",
                    "is required: policies are signed for a region",
                )
            })?;
        let credentials = sdk
            .credentials_provider()
            .ok_or_else(|| error("AWS_ACCESS_KEY_ID", "no credentials provider is configured"))?;
        let s3 = s3_client(sdk, config.force_path_style);
        let presigner = match &config.s3_public_endpoint {
            Some(endpoint) => aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(sdk)
                    .endpoint_url(endpoint)
                    .force_path_style(true)
                    .build(),
            ),
            None => s3.clone(),
        };
        let csp = config.content_security_policy(&region);
        // Origins are checked to be plain host names, so this holds; checked
        // here all the same, so that serving the page cannot fail.
        let csp_header = HeaderValue::from_str(&csp)
            .map_err(|_| error("S3_PUBLIC_ENDPOINT", "the page's CSP is not a header value"))?;
        Ok(Handler {
            config,
            region,
            s3,
            presigner,
            credentials,
            cached: Mutex::new(None),
            csp,
            csp_header,
        })
    }

    pub fn config(&self) -> &UploadConfig {
        &self.config
    }

    /// The region policies are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The page's `Content-Security-Policy`.
    pub fn content_security_policy(&self) -> &str {
        &self.csp
    }

    /// Credentials to sign a POST policy with. The SDK's clients cache their
    /// own; a policy is signed outside any client, so the last credentials
    /// read are kept here and reused while they stay valid for the whole
    /// life of the policy about to be signed (S3 checks the session when the
    /// browser posts, up to `UPLOAD_URL_EXPIRY_SECONDS` later).
    async fn signing_credentials(&self) -> Result<Credentials, String> {
        let needed_until =
            SystemTime::now() + self.config.upload_url_expiry + Duration::from_secs(60);
        let fresh = |c: &Credentials| c.expiry().is_none_or(|expiry| expiry > needed_until);
        if let Some(cached) = self
            .cached
            .lock()
            .ok()
            .and_then(|guard| guard.clone())
            .filter(fresh)
        {
            return Ok(cached);
        }
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| format!("no credentials to sign with: {e}"))?;
        if let Ok(mut guard) = self.cached.lock() {
            *guard = Some(credentials.clone());
        }
        Ok(credentials)
    }

    /// One invocation: an HTTP API (payload format 2.0) request in, its
    /// response out. Only a payload that is not such a request at all fails
    /// the invocation; everything about the request is an HTTP answer.
    pub async fn invoke(
        &self,
        event: LambdaEvent<Value>,
    ) -> Result<ApiGatewayV2httpResponse, InvocationError> {
        let request = parse_request(event.payload)?;
        Ok(routes::respond(self, &request).await)
    }
}

/// The payload as an HTTP API request. The JWT authorizer's claims are
/// strings in what API Gateway sends; a stand-in that sends a number or an
/// array (`exp`, `aud`) gets them as their JSON text rather than a failed
/// invocation.
fn parse_request(mut payload: Value) -> Result<ApiGatewayV2httpRequest, InvocationError> {
    if let Some(Value::Object(claims)) =
        payload.pointer_mut("/requestContext/authorizer/jwt/claims")
    {
        for value in claims.values_mut() {
            if !value.is_string() {
                *value = Value::String(value.to_string());
            }
        }
    }
    if payload
        .get("requestContext")
        .and_then(|c| c.get("http"))
        .is_none()
    {
        return Err(InvocationError::UnrecognizedEvent {
            reason: "not an HTTP API (payload format 2.0) request: no requestContext.http"
                .to_owned(),
        });
    }
    serde_json::from_value(payload).map_err(|e| InvocationError::UnrecognizedEvent {
        reason: format!("not an HTTP API (payload format 2.0) request: {e}"),
    })
}

type InvocationFuture<'a> = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<ApiGatewayV2httpResponse, InvocationError>>
            + Send
            + 'a,
    >,
>;

/// Runs the presign function until the runtime stops. A bad configuration
/// ends the process with an error before the first invocation.
pub async fn run() -> Result<(), Error> {
    let config = UploadConfig::from_env().map_err(invalid_configuration)?;
    init_logging(config.log_format);
    let sdk = load_sdk_config().await;
    let handler = Handler::new(config, &sdk).map_err(invalid_configuration)?;
    tracing::info!(
        bucket = handler.config().bucket.as_str(),
        uploads_prefix = handler.config().uploads_prefix.as_str(),
        results_bucket = handler.config().results_bucket.as_str(),
        results_prefix = handler.config().results_prefix.as_str(),
        max_object_bytes = handler.config().max_object_bytes,
        post_url = handler.config().post_url(handler.region()).as_str(),
        "ready"
    );
    let handler = &handler;
    // Boxed like the classifier's: nested in the runtime's own future, the
    // handler's is deep enough to reach the compiler's query depth limit.
    let service = service_fn(move |event: LambdaEvent<Value>| -> InvocationFuture<'_> {
        Box::pin(handler.invoke(event))
    });
    lambda_runtime::run(service).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    pub(crate) const OIDC: [(&str, &str); 3] = [
        (
            "OIDC_AUTHORIZE_URL",
            "https://idp.example.com/oauth2/authorize",
        ),
        (
            "OIDC_TOKEN_URL",
            "https://idp.example.com:8443/oauth2/token",
        ),
        ("OIDC_CLIENT_ID", "page-client"),
    ];

    fn config(vars: &[(&str, &str)]) -> Result<UploadConfig, ConfigError> {
        let mut map: HashMap<String, String> = OIDC
            .iter()
            .chain([("BUCKET_NAME", "ccp-logs-example")].iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in vars {
            map.insert(k.to_string(), v.to_string());
        }
        UploadConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.bucket, "ccp-logs-example");
        assert_eq!(c.uploads_prefix, "uploads/");
        assert_eq!(c.results_prefix, "results/");
        assert_eq!(c.results_bucket, "ccp-logs-example");
        assert_eq!(c.max_object_bytes, 2 << 30);
        assert_eq!(c.upload_url_expiry, Duration::from_secs(300));
        assert_eq!(c.result_url_expiry, Duration::from_secs(300));
        assert_eq!(c.s3_public_endpoint, None);
        assert_eq!(c.oidc.scopes, "openid");
        assert_eq!(c.oidc.logout_url, None);
        assert_eq!(
            c.post_url("eu-west-1"),
            "https://ccp-logs-example.s3.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            c.content_security_policy("eu-west-1"),
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self' https://ccp-logs-example.s3.eu-west-1.amazonaws.com \
             https://idp.example.com:8443; form-action 'none'; base-uri 'none'; \
             frame-ancestors 'none'"
        );
    }

    #[test]
    fn settings() {
        let c = config(&[
            ("UPLOADS_PREFIX", "in/logs/"),
            ("RESULTS_BUCKET", "ccp-results"),
            ("RESULTS_PREFIX", ""),
            ("MAX_OBJECT_BYTES", "1000"),
            ("UPLOAD_URL_EXPIRY_SECONDS", "60"),
            ("RESULT_URL_EXPIRY_SECONDS", "3600"),
            ("S3_PUBLIC_ENDPOINT", "http://127.0.0.1:9000/"),
            ("OIDC_SCOPES", "openid email"),
            (
                "OIDC_LOGOUT_URL",
                "https://idp.example.com/logout?client_id=x",
            ),
        ])
        .unwrap();
        assert_eq!(c.uploads_prefix, "in/logs/");
        assert_eq!(c.results_bucket, "ccp-results");
        assert_eq!(c.results_prefix, "");
        assert_eq!(c.max_object_bytes, 1000);
        assert_eq!(c.upload_url_expiry, Duration::from_secs(60));
        assert_eq!(c.result_url_expiry, Duration::from_secs(3600));
        assert_eq!(
            c.post_url("us-east-1"),
            "http://127.0.0.1:9000/ccp-logs-example"
        );
        assert_eq!(c.oidc.scopes, "openid email");
        assert!(
            c.content_security_policy("us-east-1")
                .contains("connect-src 'self' http://127.0.0.1:9000 https://idp.example.com:8443;")
        );
        // Results in another bucket: its origin is allowed too.
        let c = config(&[("RESULTS_BUCKET", "ccp-results")]).unwrap();
        assert!(c.content_security_policy("us-east-1").contains(
            "https://ccp-logs-example.s3.us-east-1.amazonaws.com \
             https://ccp-results.s3.us-east-1.amazonaws.com"
        ));
    }

    #[test]
    fn bad_values_are_refused_naming_the_variable() {
        let long_prefix = "u/".repeat(120);
        let refused = [
            (vec![("BUCKET_NAME", "")], "BUCKET_NAME"),
            (vec![("BUCKET_NAME", "My_Bucket")], "BUCKET_NAME"),
            (vec![("BUCKET_NAME", "b/../c")], "BUCKET_NAME"),
            (vec![("RESULTS_BUCKET", "x")], "RESULTS_BUCKET"),
            (vec![("UPLOADS_PREFIX", "uploads")], "UPLOADS_PREFIX"),
            (vec![("UPLOADS_PREFIX", "/uploads/")], "UPLOADS_PREFIX"),
            (vec![("UPLOADS_PREFIX", "a/../b/")], "UPLOADS_PREFIX"),
            (vec![("UPLOADS_PREFIX", "results/in/")], "UPLOADS_PREFIX"),
            (vec![("RESULTS_PREFIX", "uploads/r/")], "UPLOADS_PREFIX"),
            (vec![("UPLOADS_PREFIX", &long_prefix)], "UPLOADS_PREFIX"),
            (vec![("RESULTS_PREFIX", "")], "RESULTS_PREFIX"),
            (vec![("MAX_OBJECT_BYTES", "2GB")], "MAX_OBJECT_BYTES"),
            (
                vec![("UPLOAD_URL_EXPIRY_SECONDS", "0")],
                "UPLOAD_URL_EXPIRY_SECONDS",
            ),
            (
                vec![("UPLOAD_URL_EXPIRY_SECONDS", "3601")],
                "UPLOAD_URL_EXPIRY_SECONDS",
            ),
            (
                vec![("RESULT_URL_EXPIRY_SECONDS", "5m")],
                "RESULT_URL_EXPIRY_SECONDS",
            ),
            (
                vec![("S3_PUBLIC_ENDPOINT", "localhost:9000")],
                "S3_PUBLIC_ENDPOINT",
            ),
            (
                vec![("S3_PUBLIC_ENDPOINT", "http://h/path")],
                "S3_PUBLIC_ENDPOINT",
            ),
            (
                vec![("S3_PUBLIC_ENDPOINT", "http://a b")],
                "S3_PUBLIC_ENDPOINT",
            ),
            (
                vec![("S3_PUBLIC_ENDPOINT", "http://x;y")],
                "S3_PUBLIC_ENDPOINT",
            ),
            (vec![("OIDC_TOKEN_URL", "")], "OIDC_TOKEN_URL"),
            (
                vec![("OIDC_TOKEN_URL", "ftp://idp/token")],
                "OIDC_TOKEN_URL",
            ),
            (
                vec![("OIDC_AUTHORIZE_URL", "https://")],
                "OIDC_AUTHORIZE_URL",
            ),
            (vec![("OIDC_CLIENT_ID", " ")], "OIDC_CLIENT_ID"),
            (
                vec![("OIDC_LOGOUT_URL", "javascript:alert(1)")],
                "OIDC_LOGOUT_URL",
            ),
            (vec![("LOG_FORMAT", "xml")], "LOG_FORMAT"),
            (
                vec![("S3_FORCE_PATH_STYLE", "maybe")],
                "S3_FORCE_PATH_STYLE",
            ),
        ];
        for (vars, variable) in refused {
            let err = config(&vars).expect_err(&format!("{vars:?}"));
            assert_eq!(err.variable, variable, "{vars:?}: {err}");
        }
        let err = config(&[("OIDC_CLIENT_ID", "")]).unwrap_err();
        assert!(
            err.to_string().starts_with("OIDC_CLIENT_ID: is required"),
            "{err}"
        );
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://idp.example.com/oauth2/token?x=1", false).as_deref(),
            Ok("https://idp.example.com")
        );
        assert_eq!(
            origin_of("http://[::1]:8080", true).as_deref(),
            Ok("http://[::1]:8080")
        );
        assert!(origin_of("https://user@idp.example.com/", false).is_err());
        assert!(origin_of("HTTPS://idp.example.com", false).is_err());
    }

    #[tokio::test]
    async fn signing_credentials_are_read_again_only_when_they_would_expire() {
        use aws_credential_types::credential_fn::provide_credentials_fn;
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        let now = SystemTime::now();
        // The default policy lives 300 s: credentials must outlive it.
        for (expiry, reads_for_three) in [
            (None, 1),
            (Some(now + Duration::from_secs(7200)), 1),
            (Some(now + Duration::from_secs(120)), 3),
        ] {
            let reads = Arc::new(AtomicUsize::new(0));
            let counter = reads.clone();
            let provider = provide_credentials_fn(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let credentials = Credentials::new("AKID", "secret", None, expiry, "test");
                async move { Ok(credentials) }
            });
            let sdk = SdkConfig::builder()
                .region(aws_sdk_s3::config::Region::new("us-east-1"))
                .credentials_provider(SharedCredentialsProvider::new(provider))
                .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                .build();
            let handler = Handler::new(config(&[]).unwrap(), &sdk).unwrap();
            for _ in 0..3 {
                let credentials = handler.signing_credentials().await.unwrap();
                assert_eq!(credentials.access_key_id(), "AKID");
            }
            assert_eq!(reads.load(Ordering::SeqCst), reads_for_three, "{expiry:?}");
        }
    }

    #[test]
    fn claims_of_other_types_are_read_as_text() {
        let payload = serde_json::json!({
            "version": "2.0",
            "rawPath": "/",
            "requestContext": {
                "http": {"method": "GET", "path": "/"},
                "authorizer": {"jwt": {"claims": {"sub": "a", "exp": 1700000000, "aud": ["x"]}}}
            }
        });
        let request = parse_request(payload).unwrap();
        let claims = &request
            .request_context
            .authorizer
            .unwrap()
            .jwt
            .unwrap()
            .claims;
        assert_eq!(claims["exp"], "1700000000");
        assert_eq!(claims["aud"], "[\"x\"]");
        assert!(matches!(
            parse_request(serde_json::json!({"Records": []})),
            Err(InvocationError::UnrecognizedEvent { .. })
        ));
    }
}
