//! One HTTP API request (payload format 2.0) → its response.
//!
//! The function is the API's only integration (`$default` route and stage),
//! so it routes by `requestContext.http.method` and `rawPath` itself:
//!
//! | route | who | answer |
//! |---|---|---|
//! | `GET /` | anyone | the upload page, with its content security policy |
//! | `GET /upload.js`, `/upload.css`, `/collector.js` | anyone | the page's files |
//! | `GET /config.json` | anyone | where to sign in, the size limit |
//! | `POST /api/uploads` | a caller with a `sub` claim | a presigned POST for one key in its folder |
//! | `GET /api/results?key=` | the same | `pending` (202), or presigned GETs of the result (200) |
//!
//! Errors are JSON `{"error": code, "message": sentence}`; every response
//! has `Cache-Control: no-store` (presigned URLs and per-user answers must
//! not be cached anywhere). The response shape is payload 2.0's:
//! `statusCode`, `headers`, `body`, `isBase64Encoded` ("Create AWS Lambda
//! proxy integrations for HTTP APIs in API Gateway").

use std::fmt;
use std::time::SystemTime;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue, Method, header};
use aws_sdk_s3::presigning::PresigningConfig;
use ccp_disconnect_core::time::format_iso8601;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Handler;
use super::assets::{self, Asset};
use super::caller::Caller;
use super::post_policy::{PostPolicyRequest, SigningCredentials, epoch_ms, presign_post};
use super::upload_key::{
    KeyRefusal, caller_prefix, check_own_key, content_type_for, sanitise_file_name, upload_key,
};
use crate::config::{html_key, result_key};
use crate::key::decode_event_key;
use crate::s3_error::SdkFailure;

/// The largest request body read (`POST /api/uploads` sends a few dozen
/// bytes of JSON).
pub const MAX_REQUEST_BODY_BYTES: usize = 16 * 1024;

/// What went wrong, as the `error` code and HTTP status the page keys on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 401: no caller (no claims, no or an empty `sub`).
    Unauthenticated,
    /// 400: the request itself is malformed.
    BadRequest,
    /// 413: the declared size is over `MAX_OBJECT_BYTES`.
    TooLarge,
    /// 403: the key is not in the caller's own folder.
    Forbidden,
    /// 404: no such route.
    NotFound,
    /// 500: S3 or the credentials failed; details only in the log.
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::Unauthenticated => 401,
            ErrorKind::BadRequest => 400,
            ErrorKind::TooLarge => 413,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Internal => 500,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Internal => "internal",
        }
    }
}

/// An error answer: its kind and the sentence shown to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ApiError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            message: message.into(),
        }
    }

    /// A failure on the function's side: the detail goes to the log, the
    /// caller gets a generic sentence (no bucket names, no SDK errors).
    fn internal(detail: &str) -> ApiError {
        tracing::error!(error = detail, "request failed");
        ApiError::new(
            ErrorKind::Internal,
            "Something went wrong on our side. Please try again in a minute.",
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.kind.code(),
            self.kind.status(),
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

/// The routes this function answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Page,
    File(&'static Asset),
    Config,
    CreateUpload,
    Results,
    Unknown,
}

impl Route {
    /// The route of `method` and `path` (`rawPath`). A known path with
    /// another method is unknown too: there is nothing else to offer there.
    pub fn of(method: &Method, path: &str) -> Route {
        match (method, path) {
            (&Method::GET, "/") => Route::Page,
            (&Method::GET, "/config.json") => Route::Config,
            (&Method::POST, "/api/uploads") => Route::CreateUpload,
            (&Method::GET, "/api/results") => Route::Results,
            (&Method::GET, path) => assets::file(path).map_or(Route::Unknown, Route::File),
            _ => Route::Unknown,
        }
    }

    /// A fixed name for the log (the raw path is the client's to choose).
    pub fn name(self) -> &'static str {
        match self {
            Route::Page => "page",
            Route::File(asset) => asset.path,
            Route::Config => "config",
            Route::CreateUpload => "create_upload",
            Route::Results => "results",
            Route::Unknown => "unknown",
        }
    }
}

/// The answer to `request`. Never fails: every problem is an error response.
pub async fn respond(
    handler: &Handler,
    request: &ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse {
    let method = &request.request_context.http.method;
    let path = request.raw_path.as_deref().unwrap_or("/");
    let route = Route::of(method, path);
    let response = match route {
        Route::Page => Ok(page(handler)),
        Route::File(asset) => Ok(static_file(asset)),
        Route::Config => Ok(json_response(200, &config_json(handler))),
        Route::CreateUpload => create_upload(handler, request).await,
        Route::Results => results(handler, request).await,
        Route::Unknown => Err(ApiError::new(ErrorKind::NotFound, "There is nothing here.")),
    };
    let response = response.unwrap_or_else(|e| {
        json_response(
            e.kind.status(),
            &json!({"error": e.kind.code(), "message": e.message}),
        )
    });
    tracing::info!(
        route = route.name(),
        status = response.status_code,
        "request"
    );
    response
}

/// The caller named by the request's JWT claims.
fn caller(request: &ApiGatewayV2httpRequest) -> Result<Caller, ApiError> {
    let claims = request
        .request_context
        .authorizer
        .as_ref()
        .and_then(|a| a.jwt.as_ref())
        .map(|jwt| &jwt.claims);
    Caller::from_claims(claims).map_err(|e| {
        ApiError::new(
            ErrorKind::Unauthenticated,
            format!("Please sign in again: {e}."),
        )
    })
}

/// Headers of every response: never cached, never sniffed, never a referrer
/// (presigned URLs must not leak through one).
fn common_headers(content_type: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
}

fn response(status: u16, headers: HeaderMap, body: String) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(status);
    response.headers = headers;
    response.body = Some(Body::Text(body));
    response.is_base64_encoded = false;
    response
}

fn json_response(status: u16, body: &Value) -> ApiGatewayV2httpResponse {
    response(status, common_headers("application/json"), body.to_string())
}

fn static_file(asset: &Asset) -> ApiGatewayV2httpResponse {
    response(
        200,
        common_headers(asset.content_type),
        asset.body.to_owned(),
    )
}

fn page(handler: &Handler) -> ApiGatewayV2httpResponse {
    let mut page = static_file(&assets::PAGE);
    page.headers
        .insert(header::CONTENT_SECURITY_POLICY, handler.csp_header.clone());
    page
}

/// `/config.json`: what the page needs to sign in and to check a file
/// before asking for an upload.
fn config_json(handler: &Handler) -> Value {
    let config = handler.config();
    json!({
        "authorize_url": config.oidc.authorize_url,
        "token_url": config.oidc.token_url,
        "client_id": config.oidc.client_id,
        "scopes": config.oidc.scopes,
        "logout_url": config.oidc.logout_url,
        "max_bytes": config.max_object_bytes,
        "upload_url_expiry_seconds": config.upload_url_expiry.as_secs(),
    })
}

/// The request body as text (API Gateway base64-encodes bodies it takes for
/// binary), at most [`MAX_REQUEST_BODY_BYTES`].
fn body_text(request: &ApiGatewayV2httpRequest) -> Result<String, ApiError> {
    let raw = request.body.as_deref().unwrap_or("");
    let bytes = if request.is_base64_encoded {
        aws_smithy_types::base64::decode(raw).map_err(|_| {
            ApiError::new(
                ErrorKind::BadRequest,
                "The request body is not valid base64.",
            )
        })?
    } else {
        raw.as_bytes().to_vec()
    };
    if bytes.len() > MAX_REQUEST_BODY_BYTES {
        return Err(ApiError::new(
            ErrorKind::BadRequest,
            "The request body is too large.",
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| ApiError::new(ErrorKind::BadRequest, "The request body is not UTF-8 text."))
}

/// `POST /api/uploads`'s body. A `content_type` (and any other field) is
/// accepted and not used: the function decides the type from the file name.
#[derive(Debug, Deserialize)]
struct UploadRequest {
    /// Missing is the same as empty: the default name.
    #[serde(default)]
    file_name: String,
    /// Any JSON number, judged by [`declared_size`].
    size: Value,
}

/// `POST /api/uploads`: a presigned POST for one new key in the caller's
/// folder. The caller is checked before the body is looked at.
async fn create_upload(
    handler: &Handler,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = caller(request)?;
    let body = body_text(request)?;
    let upload: UploadRequest = serde_json::from_str(&body).map_err(|e| {
        ApiError::new(
            ErrorKind::BadRequest,
            format!("Expected {{\"file_name\": text, \"size\": bytes}} in the request body ({e})."),
        )
    })?;
    let config = handler.config();
    let max = config.max_object_bytes;
    let size = declared_size(&upload.size, max)?;

    let file_name = sanitise_file_name(&upload.file_name);
    let content_type = content_type_for(&file_name);
    let now = SystemTime::now();
    let key = upload_key(
        &config.uploads_prefix,
        caller.subject(),
        caller.readable(),
        epoch_ms(now),
        &file_name,
        config.max_upload_key_bytes(),
    )
    .ok_or_else(|| ApiError::internal("no room for an upload key (prefixes too long)"))?;
    let credentials = handler
        .signing_credentials()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let post = presign_post(&PostPolicyRequest {
        bucket: &config.bucket,
        key: &key,
        content_type,
        max_bytes: max,
        region: handler.region(),
        credentials: SigningCredentials {
            access_key_id: credentials.access_key_id(),
            secret_access_key: credentials.secret_access_key(),
            session_token: credentials.session_token(),
        },
        now,
        expires_in: config.upload_url_expiry,
    });
    tracing::info!(size, content_type, "upload presigned");
    let mut fields = serde_json::Map::new();
    for (name, value) in &post.fields {
        fields.insert((*name).to_owned(), Value::String(value.clone()));
    }
    Ok(json_response(
        200,
        &json!({
            "key": key,
            "url": config.post_url(handler.region()),
            "fields": fields,
            "expires_at": format_iso8601(post.expires_at_ms),
            "max_bytes": max,
            "content_type": content_type,
        }),
    ))
}

/// The declared size: a whole number of bytes from 1 to `max`. Over `max`
/// (however written) is `too_large`, so the page can say so plainly; the
/// policy's `content-length-range` enforces the same bound on what is
/// actually sent.
fn declared_size(size: &Value, max: u64) -> Result<u64, ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorKind::TooLarge,
            format!("The file is larger than the {max} bytes this service accepts."),
        )
    };
    let bad = || {
        ApiError::new(
            ErrorKind::BadRequest,
            "Expected \"size\" to be the file's size in bytes, a whole number.",
        )
    };
    match size.as_u64() {
        Some(0) => Err(ApiError::new(ErrorKind::BadRequest, "The file is empty.")),
        Some(n) if n > max => Err(too_large()),
        Some(n) => Ok(n),
        None => match size.as_f64() {
            // Numbers past u64 (and whole numbers written as 1e12).
            Some(f) if f.is_finite() && f > max as f64 => Err(too_large()),
            _ => Err(bad()),
        },
    }
}

/// The value of `name` in a raw query string (`a=1&b=2`), decoded the way
/// forms encode (`+` for space, `%xx`). Given more than once, refused: the
/// caller must say which.
fn query_param(raw_query: &str, name: &str) -> Result<Option<String>, ApiError> {
    let mut found = None;
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let Ok(decoded_name) = decode_event_key(raw_name) else {
            continue;
        };
        if decoded_name != name {
            continue;
        }
        if found.is_some() {
            return Err(ApiError::new(
                ErrorKind::BadRequest,
                format!("Give \"{name}\" once."),
            ));
        }
        let value = decode_event_key(raw_value).map_err(|_| {
            ApiError::new(
                ErrorKind::BadRequest,
                format!("\"{name}\" does not decode to UTF-8 text."),
            )
        })?;
        found = Some(value);
    }
    Ok(found)
}

/// `GET /api/results?key=<key>`: for a key in the caller's own folder,
/// `pending` until the classifier's result exists, then presigned GETs of
/// the JSON result and (when there is one) the HTML report.
async fn results(
    handler: &Handler,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let caller = caller(request)?;
    let key = query_param(request.raw_query_string.as_deref().unwrap_or(""), "key")?
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                ErrorKind::BadRequest,
                "Say which upload: /api/results?key=<the key you uploaded to>.",
            )
        })?;
    let config = handler.config();
    let own = caller_prefix(&config.uploads_prefix, caller.subject());
    check_own_key(&key, &own).map_err(|refusal| match refusal {
        KeyRefusal::NotOwn => ApiError::new(
            ErrorKind::Forbidden,
            "That upload is not yours: you can only see the results of your own uploads.",
        ),
        other => ApiError::new(
            ErrorKind::BadRequest,
            format!("That is not an upload key: {other}."),
        ),
    })?;
    let json_key = result_key(&config.results_prefix, &key);
    if json_key.len() > crate::error::MAX_S3_KEY_BYTES {
        return Err(ApiError::new(
            ErrorKind::BadRequest,
            "That key is too long to have a result.",
        ));
    }
    if !exists(handler, &json_key).await? {
        return Ok(json_response(
            202,
            &json!({"status": "pending", "key": key}),
        ));
    }
    let html_key = html_key(&config.results_prefix, &key);
    let html_url = if exists(handler, &html_key).await? {
        Some(presign_get(handler, &html_key).await?)
    } else {
        None
    };
    let json_url = presign_get(handler, &json_key).await?;
    let expires_at = epoch_ms(SystemTime::now() + config.result_url_expiry);
    Ok(json_response(
        200,
        &json!({
            "status": "ready",
            "key": key,
            "json_url": json_url,
            "html_url": html_url,
            "expires_at": format_iso8601(expires_at),
        }),
    ))
}

/// Whether `key` exists in the results bucket. S3 answers a missing key with
/// 404, or with 403 when the caller may not list the bucket ("HeadObject",
/// Amazon S3 API Reference: without `s3:ListBucket` a missing object is
/// `403 Forbidden`); both read as "not there yet", so the function needs no
/// list permission. Anything else is an internal error.
async fn exists(handler: &Handler, key: &str) -> Result<bool, ApiError> {
    let config = handler.config();
    match handler
        .s3
        .head_object()
        .bucket(&config.results_bucket)
        .key(key)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(err) => {
            let failure = SdkFailure::of(&err);
            match failure.status {
                Some(404) => Ok(false),
                Some(403) => {
                    tracing::debug!(error = %failure, "HeadObject 403 read as missing");
                    Ok(false)
                }
                _ => Err(ApiError::internal(&format!("HeadObject: {failure}"))),
            }
        }
    }
}

/// A presigned GET of `key` in the results bucket, valid for
/// `RESULT_URL_EXPIRY_SECONDS`.
async fn presign_get(handler: &Handler, key: &str) -> Result<String, ApiError> {
    let config = handler.config();
    let presigning = PresigningConfig::expires_in(config.result_url_expiry)
        .map_err(|e| ApiError::internal(&format!("presigning: {e}")))?;
    handler
        .presigner
        .get_object()
        .bucket(&config.results_bucket)
        .key(key)
        .presigned(presigning)
        .await
        .map(|presigned| presigned.uri().to_owned())
        .map_err(|e| ApiError::internal(&format!("presigning a GET: {}", SdkFailure::of(&e))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upload::UploadConfig;
    use aws_sdk_s3::config::{Credentials, Region};
    use std::collections::HashMap;

    const SECRET: &str = "test-secret-never-shown";

    fn handler(extra: &[(&str, &str)]) -> Handler {
        handler_with_endpoint(extra, None)
    }

    /// `sdk_endpoint`: the endpoint the function's own S3 requests go to
    /// (`AWS_ENDPOINT_URL_S3`), which browsers may not be able to reach.
    fn handler_with_endpoint(extra: &[(&str, &str)], sdk_endpoint: Option<&str>) -> Handler {
        let mut vars: HashMap<String, String> = crate::upload::tests::OIDC
            .iter()
            .chain(
                [
                    ("BUCKET_NAME", "ccp-logs-example"),
                    ("MAX_OBJECT_BYTES", "1000000"),
                ]
                .iter(),
            )
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        let config = UploadConfig::from_lookup(|k| vars.get(k).cloned()).unwrap();
        let mut sdk = aws_config::SdkConfig::builder();
        if let Some(endpoint) = sdk_endpoint {
            sdk = sdk.endpoint_url(endpoint);
        }
        let sdk = sdk
            .region(Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
                Credentials::new("AKIDTEST", SECRET, Some("token-1".into()), None, "test"),
            ))
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .build();
        Handler::new(config, &sdk).unwrap()
    }

    fn request(
        method: &str,
        path: &str,
        claims: Option<Value>,
        body: Option<&str>,
    ) -> ApiGatewayV2httpRequest {
        let mut event = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "requestContext": {"http": {"method": method, "path": path}},
            "isBase64Encoded": false,
        });
        if let Some(claims) = claims {
            event["requestContext"]["authorizer"] =
                json!({"jwt": {"claims": claims, "scopes": null}});
        }
        if let Some(body) = body {
            event["body"] = json!(body);
        }
        serde_json::from_value(event).unwrap()
    }

    fn body(response: &ApiGatewayV2httpResponse) -> Value {
        match &response.body {
            Some(Body::Text(text)) => serde_json::from_str(text).unwrap(),
            other => panic!("no text body: {other:?}"),
        }
    }

    fn header<'a>(response: &'a ApiGatewayV2httpResponse, name: &str) -> Option<&'a str> {
        response.headers.get(name).and_then(|v| v.to_str().ok())
    }

    async fn answer(
        handler: &Handler,
        request: &ApiGatewayV2httpRequest,
    ) -> ApiGatewayV2httpResponse {
        let response = respond(handler, request).await;
        assert_eq!(header(&response, "cache-control"), Some("no-store"));
        assert_eq!(header(&response, "x-content-type-options"), Some("nosniff"));
        response
    }

    #[tokio::test]
    async fn routes_and_static_files() {
        let h = handler(&[]);
        let page = answer(&h, &request("GET", "/", None, None)).await;
        assert_eq!(page.status_code, 200);
        assert_eq!(
            header(&page, "content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(
            header(&page, "content-security-policy"),
            Some(h.content_security_policy())
        );
        assert_eq!(header(&page, "referrer-policy"), Some("no-referrer"));
        for (path, content_type) in [
            ("/upload.js", "text/javascript; charset=utf-8"),
            ("/upload.css", "text/css; charset=utf-8"),
            ("/collector.js", "text/javascript; charset=utf-8"),
        ] {
            let file = answer(&h, &request("GET", path, None, None)).await;
            assert_eq!(file.status_code, 200, "{path}");
            assert_eq!(header(&file, "content-type"), Some(content_type));
        }
        for (method, path) in [
            ("GET", "/nope"),
            ("GET", "/api/uploads"),
            ("POST", "/"),
            ("DELETE", "/api/results"),
            ("GET", "/upload.html"),
            ("GET", "/../web/upload.js"),
            ("GET", "/api/uploads/"),
        ] {
            let r = answer(&h, &request(method, path, None, None)).await;
            assert_eq!(r.status_code, 404, "{method} {path}");
            assert_eq!(header(&r, "content-type"), Some("application/json"));
            assert_eq!(body(&r)["error"], "not_found");
        }
    }

    #[tokio::test]
    async fn config_json_has_the_contract_fields() {
        let h = handler(&[("OIDC_LOGOUT_URL", "https://idp.example.com/logout")]);
        let r = answer(&h, &request("GET", "/config.json", None, None)).await;
        assert_eq!(r.status_code, 200);
        assert_eq!(
            body(&r),
            json!({
                "authorize_url": "https://idp.example.com/oauth2/authorize",
                "token_url": "https://idp.example.com:8443/oauth2/token",
                "client_id": "page-client",
                "scopes": "openid",
                "logout_url": "https://idp.example.com/logout",
                "max_bytes": 1000000,
                "upload_url_expiry_seconds": 300,
            })
        );
        let h = handler(&[]);
        let r = answer(&h, &request("GET", "/config.json", None, None)).await;
        assert_eq!(body(&r)["logout_url"], Value::Null);
    }

    #[tokio::test]
    async fn uploads_need_a_subject() {
        let h = handler(&[]);
        let upload = r#"{"file_name":"agent-log.txt","size":10}"#;
        for claims in [
            None,
            Some(json!({})),
            Some(json!({"sub": ""})),
            Some(json!({"email": "a@example.com"})),
            Some(json!({"sub": "x".repeat(256)})),
        ] {
            let r = answer(
                &h,
                &request("POST", "/api/uploads", claims.clone(), Some(upload)),
            )
            .await;
            assert_eq!(r.status_code, 401, "{claims:?}");
            assert_eq!(body(&r)["error"], "unauthenticated");
            let r = answer(&h, &request("GET", "/api/results", claims.clone(), None)).await;
            assert_eq!(r.status_code, 401, "{claims:?}");
        }
    }

    #[tokio::test]
    async fn an_upload_is_presigned_for_the_caller_folder() {
        let h = handler(&[]);
        let claims = json!({"sub": "../bob", "email": "alice@example.com"});
        let upload =
            r#"{"file_name":"../../uploads/bob/evil.json","size":999,"content_type":"text/html"}"#;
        let r = answer(
            &h,
            &request("POST", "/api/uploads", Some(claims), Some(upload)),
        )
        .await;
        assert_eq!(r.status_code, 200, "{:?}", r.body);
        let b = body(&r);
        let key = b["key"].as_str().unwrap();
        assert!(key.starts_with("uploads/..~2Fbob/"), "{key}");
        assert!(key.ends_with("-alice_example.com-evil.json"), "{key}");
        assert_eq!(b["content_type"], "application/json");
        assert_eq!(b["max_bytes"], 1000000);
        assert_eq!(
            b["url"],
            "https://ccp-logs-example.s3.eu-west-1.amazonaws.com"
        );
        assert_eq!(b["fields"]["key"], key);
        assert_eq!(b["fields"]["Content-Type"], "application/json");
        assert_eq!(b["fields"]["x-amz-security-token"], "token-1");
        assert!(
            b["fields"]["x-amz-credential"]
                .as_str()
                .unwrap()
                .starts_with("AKIDTEST/")
        );
        assert!(b["expires_at"].as_str().unwrap().ends_with('Z'));
        assert!(
            !r.body
                .as_ref()
                .map(|b| format!("{b:?}"))
                .unwrap()
                .contains(SECRET)
        );
    }

    #[tokio::test]
    async fn upload_bodies_are_checked() {
        let h = handler(&[]);
        let claims = Some(json!({"sub": "alice"}));
        let cases = [
            (r#"{"file_name":"a.txt","size":1000001}"#, 413, "too_large"),
            (r#"{"file_name":"a.txt","size":1e30}"#, 413, "too_large"),
            (
                r#"{"file_name":"a.txt","size":18446744073709551616}"#,
                413,
                "too_large",
            ),
            (r#"{"file_name":"a.txt","size":0}"#, 400, "bad_request"),
            (r#"{"file_name":"a.txt","size":-1}"#, 400, "bad_request"),
            (r#"{"file_name":"a.txt","size":1.5}"#, 400, "bad_request"),
            (r#"{"file_name":"a.txt","size":"10"}"#, 400, "bad_request"),
            (r#"{"file_name":"a.txt"}"#, 400, "bad_request"),
            (r#"{"file_name":5,"size":10}"#, 400, "bad_request"),
            ("not json", 400, "bad_request"),
            ("", 400, "bad_request"),
        ];
        for (upload, status, code) in cases {
            let r = answer(
                &h,
                &request("POST", "/api/uploads", claims.clone(), Some(upload)),
            )
            .await;
            assert_eq!(r.status_code, status, "{upload}");
            assert_eq!(body(&r)["error"], code, "{upload}");
            assert!(body(&r)["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
        // Too large a body, and a base64 body.
        let big = format!(r#"{{"file_name":"{}","size":1}}"#, "a".repeat(20_000));
        let r = answer(
            &h,
            &request("POST", "/api/uploads", claims.clone(), Some(&big)),
        )
        .await;
        assert_eq!(r.status_code, 400);
        let mut req = request(
            "POST",
            "/api/uploads",
            claims.clone(),
            Some(&aws_smithy_types::base64::encode(
                r#"{"file_name":"x.gz","size":5}"#,
            )),
        );
        req.is_base64_encoded = true;
        let r = answer(&h, &req).await;
        assert_eq!(r.status_code, 200);
        assert_eq!(body(&r)["content_type"], "application/gzip");
        req.body = Some("%%%".into());
        assert_eq!(answer(&h, &req).await.status_code, 400);
    }

    #[tokio::test]
    async fn results_refuse_other_folders_before_asking_s3() {
        // The S3 endpoint is never contacted: every case is refused first.
        let h = handler(&[]);
        let claims = Some(json!({"sub": "alice"}));
        let cases = [
            ("", 400),
            ("key=", 400),
            ("other=1", 400),
            ("key=uploads%2Fbob%2Fx.txt", 403),
            ("key=uploads/alice2/x.txt", 403),
            ("key=uploads/alice/../bob/x.txt", 403),
            ("key=uploads%2Falice%2F..%2Fbob%2Fx.txt", 403),
            ("key=%2Fuploads%2Falice%2Fx.txt", 403),
            ("key=results/uploads/alice/x.txt.json", 403),
            ("key=uploads/alice/x.txt&key=uploads/alice/y.txt", 400),
            ("key=uploads/alice/%00.txt", 400),
            ("key=uploads/alice/%FF.txt", 400),
        ];
        for (query, status) in cases {
            let mut req = request("GET", "/api/results", claims.clone(), None);
            req.raw_query_string = Some(query.to_owned());
            let r = answer(&h, &req).await;
            assert_eq!(r.status_code, status, "{query}: {:?}", r.body);
        }
    }

    #[tokio::test]
    async fn presigned_gets_go_to_an_origin_the_csp_allows() {
        // Presigning makes no request, so the default (AWS) endpoint works
        // offline: the URL must be on the origin the page may fetch from.
        let h = handler(&[]);
        let url = presign_get(&h, "results/uploads/alice/x.txt.json")
            .await
            .unwrap();
        assert!(
            url.starts_with("https://ccp-logs-example.s3.eu-west-1.amazonaws.com/results/uploads/alice/x.txt.json?"),
            "{url}"
        );
        assert!(url.contains("X-Amz-Expires=300"), "{url}");
        assert!(
            h.content_security_policy()
                .contains(" https://ccp-logs-example.s3.eu-west-1.amazonaws.com ")
        );
        // With a public endpoint: path-style on it, not on the endpoint the
        // function itself uses.
        let h = handler_with_endpoint(
            &[("S3_PUBLIC_ENDPOINT", "http://127.0.0.1:9000")],
            Some("http://s3.internal.invalid:4566"),
        );
        let url = presign_get(&h, "results/a.json").await.unwrap();
        assert!(
            url.starts_with("http://127.0.0.1:9000/ccp-logs-example/results/a.json?"),
            "{url}"
        );
    }

    #[test]
    fn query_parameters() {
        assert_eq!(
            query_param("a=1&key=x%2Fy+z", "key").unwrap().as_deref(),
            Some("x/y z")
        );
        assert_eq!(query_param("key", "key").unwrap().as_deref(), Some(""));
        assert_eq!(query_param("k%65y=v", "key").unwrap().as_deref(), Some("v"));
        assert_eq!(query_param("", "key").unwrap(), None);
        assert!(query_param("key=a&key=b", "key").is_err());
    }
}
