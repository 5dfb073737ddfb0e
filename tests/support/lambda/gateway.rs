//! A local stand-in for the upload API's deployment (issue 14), for the
//! browser tests of `web/`: everything between the browser and the two real
//! function binaries that AWS would otherwise provide.
//!
//! - **An OIDC identity provider** on its own origin (`/idp/authorize`,
//!   `/idp/token`): a login
//!   form where the test types a user name, authorization codes bound to a
//!   PKCE S256 challenge (RFC 7636 §4.6 checked at the token endpoint), and an
//!   HS256-signed `id_token` with `sub` (stable per user name),
//!   `cognito:username`, `iss`, `aud`, `exp`, like a Cognito hosted UI.
//! - **The API Gateway HTTP API**: public routes go straight to the function;
//!   the two `/api/` routes need `Authorization: Bearer <id token>` checked like a JWT
//!   authorizer (signature, `iss`, `aud`, `exp`; else 401
//!   `{"message":"Unauthorized"}`). Each request becomes a payload format 2.0
//!   event run through the real `presign` binary by the Runtime API emulator,
//!   and its 2.0 response goes back as HTTP
//!   (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>).
//!   Routes as in `infra/template.yaml` (no `$default`: others are API
//!   Gateway's 404). Optionally, the API's CORS configuration
//!   (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html>):
//!   API Gateway answers preflights itself and adds the headers.
//! - **The S3 endpoint the browser sees**: a front for two real S3-compatible
//!   servers. moto stores the objects, has what the classifier needs
//!   (versioning, conditional writes) and the bucket's CORS rules (it answers
//!   preflights), but stores a browser-based POST without checking its
//!   policy. So each form POST to the bucket goes
//!   first to s3s-fs ([`S3sFs`], started with the credentials the `presign`
//!   function signs with; it checks the signature, the expiration, every
//!   `eq`/`starts-with` condition, `content-length-range` and that every
//!   field is covered by a condition,
//!   <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html>).
//!   Only a 2xx from it sends the same request on to moto; otherwise the
//!   browser gets s3s-fs's status and XML error, with the bucket's CORS
//!   headers, and moto never sees the form. The policy's signature does not
//!   cover the host, so the form is valid on both. Everything else goes to
//!   moto. Where a condition fails, s3s-fs answers 400
//!   `InvalidPolicyDocument` (or `EntityTooLarge`) and AWS S3 answers 403
//!   `AccessDenied` ("Invalid according to Policy"; see
//!   `tests/lambda/presign.rs`): the page must take any non-2xx from S3 as a
//!   refusal.
//! - **S3 event notifications**: a thread polls moto for new keys under the
//!   uploads prefix and runs the real `bootstrap` classifier on each, through
//!   its own Runtime API, with an `ObjectCreated:Put` event.
//!
//! Everything listens on 127.0.0.1 and stops when the [`Gateway`] is dropped.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::s3s_fs::S3sFs;
use super::{ACCESS_KEY, Moto, REGION, RuntimeApi, read_chunked_body, s3_client, s3_put_event};
use crate::support::TempDir;

/// The app client id the page is configured with (the token's `aud`).
pub const CLIENT_ID: &str = "ccp-disconnect-upload-page";
pub const BUCKET: &str = "ccp-uploads-example";
pub const UPLOADS_PREFIX: &str = "uploads/";
pub const RESULTS_PREFIX: &str = "results/";
/// The secret key the `presign` function signs POST policies with; s3s-fs,
/// in the S3 front, checks signatures with it (moto accepts any).
const SECRET_KEY: &str = "stand-in-secret-key-EXAMPLE";
/// Lambda's credentials carry a session token; so do the function's here,
/// so that the policy's `x-amz-security-token` condition is exercised.
const SESSION_TOKEN: &str = "stand-in-session-token-EXAMPLE";
/// How long an authorization code may wait for its exchange.
const CODE_LIFETIME: Duration = Duration::from_secs(60);

type HmacSha256 = Hmac<Sha256>;

pub struct GatewayOptions {
    /// `MAX_OBJECT_BYTES` of both functions.
    pub max_bytes: u64,
    /// Lifetime of the id tokens the IdP issues.
    pub token_lifetime: Duration,
    /// The template's `CollectorOrigins`: custom CCPs' origins, allowed by
    /// the API's CORS configuration and (with the page's) the bucket's.
    pub extra_origins: Vec<String>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            max_bytes: 1 << 20,
            token_lifetime: Duration::from_secs(3600),
            extra_origins: Vec::new(),
        }
    }
}

struct AuthCode {
    user: String,
    redirect_uri: String,
    challenge: String,
    issued: SystemTime,
}

struct State {
    origin: String,
    issuer: String,
    /// HS256 key of the id tokens: random per stand-in.
    jwt_key: Vec<u8>,
    token_lifetime: Duration,
    cors_origins: Vec<String>,
    codes: Mutex<HashMap<String, AuthCode>>,
    presign: RuntimeApi,
    next_request: AtomicU64,
    closing: AtomicBool,
}

struct S3FrontState {
    moto_port: u16,
    /// s3s-fs, which checks the POST policies.
    policy_port: u16,
    cors_origins: Vec<String>,
    closing: AtomicBool,
}

/// A function binary served by its own Runtime API emulator, its output
/// in a file (a pipe nobody reads would fill and block it).
struct FunctionProcess {
    child: Child,
    log: std::path::PathBuf,
}

impl FunctionProcess {
    fn start(
        program: &str,
        api: &RuntimeApi,
        name: &str,
        env: &[(&str, String)],
        dir: &TempDir,
    ) -> Self {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("function log file");
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {program}: {e}"));
        FunctionProcess { child, log }
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The running stand-in. See the module documentation.
pub struct Gateway {
    /// `http://127.0.0.1:<port>`: the page and the API.
    pub origin: String,
    /// `http://127.0.0.1:<port>`: the identity provider, on an origin of its
    /// own like a real one (so the page's CSP must allow its token URL).
    pub idp_origin: String,
    /// `http://127.0.0.1:<port>`: the S3 endpoint the browser posts to.
    pub s3_origin: String,
    state: Arc<State>,
    s3_front: Arc<S3FrontState>,
    s3_front_port: u16,
    idp_port: u16,
    classified: Arc<Mutex<Vec<(String, Value)>>>,
    poller: Option<thread::JoinHandle<()>>,
    // Dropped last: the functions before their Runtime APIs and logs.
    presign: FunctionProcess,
    classifier: FunctionProcess,
    _classifier_api: Arc<RuntimeApi>,
    _policy_server: S3sFs,
    _dir: TempDir,
}

/// The `presign` binary (crates/lambda/src/bin/presign.rs).
pub fn presign_binary() -> &'static str {
    env!("CARGO_BIN_EXE_presign")
}

impl Gateway {
    /// Creates the bucket (with CORS rules for the page's origin and
    /// `extra_origins`, as the template does) in `moto`, starts s3s-fs with
    /// the same bucket to check POST policies, and starts everything.
    pub fn start(moto: &Moto, options: GatewayOptions) -> Gateway {
        let presign_bin = presign_binary();
        let dir = TempDir::new("gateway");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind gateway");
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let s3_listener = TcpListener::bind("127.0.0.1:0").expect("bind S3 front");
        let s3_front_port = s3_listener.local_addr().unwrap().port();
        let s3_origin = format!("http://127.0.0.1:{s3_front_port}");
        let idp_listener = TcpListener::bind("127.0.0.1:0").expect("bind IdP");
        let idp_port = idp_listener.local_addr().unwrap().port();
        let idp_origin = format!("http://127.0.0.1:{idp_port}");
        let mut cors_origins = vec![origin.clone()];
        cors_origins.extend(options.extra_origins.iter().cloned());

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let s3 = moto.client();
        let policy_server = S3sFs::start_with_credentials(ACCESS_KEY, SECRET_KEY);
        runtime.block_on(async {
            super::create_bucket(&policy_server.client(), BUCKET).await;
            super::create_bucket(&s3, BUCKET).await;
            // The template's bucket CorsConfiguration: the page's origin
            // and the collectors' may POST uploads and GET/HEAD results
            // (presigned), asking for no header but Content-Type.
            let rule = aws_sdk_s3::types::CorsRule::builder()
                .set_allowed_origins(Some(cors_origins.clone()))
                .allowed_methods("POST")
                .allowed_methods("GET")
                .allowed_methods("HEAD")
                .allowed_headers("content-type")
                .max_age_seconds(600)
                .build()
                .expect("CORS rule");
            s3.put_bucket_cors()
                .bucket(BUCKET)
                .cors_configuration(
                    aws_sdk_s3::types::CorsConfiguration::builder()
                        .cors_rules(rule)
                        .build()
                        .expect("CORS configuration"),
                )
                .send()
                .await
                .expect("PutBucketCors");
        });

        let max_bytes = options.max_bytes.to_string();
        let s3_env = |extra: Vec<(&'static str, String)>| {
            let mut env = vec![
                ("AWS_ENDPOINT_URL_S3", moto.endpoint.clone()),
                ("S3_FORCE_PATH_STYLE", "true".to_owned()),
                ("MAX_OBJECT_BYTES", max_bytes.clone()),
                ("RESULTS_PREFIX", RESULTS_PREFIX.to_owned()),
            ];
            env.extend(extra);
            env
        };
        let presign_api = RuntimeApi::start();
        let presign = FunctionProcess::start(
            presign_bin,
            &presign_api,
            "stack-presign",
            &s3_env(vec![
                ("BUCKET_NAME", BUCKET.to_owned()),
                ("UPLOADS_PREFIX", UPLOADS_PREFIX.to_owned()),
                ("UPLOAD_URL_EXPIRY_SECONDS", "300".to_owned()),
                ("RESULT_URL_EXPIRY_SECONDS", "300".to_owned()),
                ("S3_PUBLIC_ENDPOINT", s3_origin.clone()),
                ("OIDC_AUTHORIZE_URL", format!("{idp_origin}/idp/authorize")),
                ("OIDC_TOKEN_URL", format!("{idp_origin}/idp/token")),
                ("OIDC_CLIENT_ID", CLIENT_ID.to_owned()),
                ("OIDC_SCOPES", "openid profile".to_owned()),
            ]),
            &dir,
        );
        let classifier_api = Arc::new(RuntimeApi::start());
        let classifier = FunctionProcess::start(
            env!("CARGO_BIN_EXE_bootstrap"),
            &classifier_api,
            "stack-classifier",
            &s3_env(vec![]),
            &dir,
        );

        let mut jwt_key = Vec::new();
        for i in 0..4 {
            jwt_key.extend_from_slice(&random_u64().to_le_bytes());
            jwt_key.push(i);
        }
        let state = Arc::new(State {
            issuer: format!("{idp_origin}/idp"),
            origin: origin.clone(),
            jwt_key,
            token_lifetime: options.token_lifetime,
            // The API's CorsConfiguration lists CollectorOrigins only (the
            // page is same-origin).
            cors_origins: options.extra_origins.clone(),
            codes: Mutex::new(HashMap::new()),
            presign: presign_api,
            next_request: AtomicU64::new(1),
            closing: AtomicBool::new(false),
        });
        super::accept_loop(
            listener,
            state.clone(),
            |s| s.closing.load(Ordering::SeqCst),
            serve_gateway,
        );
        super::accept_loop(
            idp_listener,
            state.clone(),
            |s| s.closing.load(Ordering::SeqCst),
            serve_idp,
        );
        let s3_front = Arc::new(S3FrontState {
            moto_port: port_of(&moto.endpoint),
            policy_port: port_of(&policy_server.endpoint),
            cors_origins,
            closing: AtomicBool::new(false),
        });
        super::accept_loop(
            s3_listener,
            s3_front.clone(),
            |s| s.closing.load(Ordering::SeqCst),
            serve_s3_front,
        );

        let classified = Arc::new(Mutex::new(Vec::new()));
        let poller = {
            let state = state.clone();
            let api = classifier_api.clone();
            let classified = classified.clone();
            let s3 = s3_client(&moto.endpoint);
            thread::spawn(move || notify_new_uploads(runtime, s3, &api, &state, &classified))
        };

        Gateway {
            origin,
            idp_origin,
            s3_origin,
            state,
            s3_front,
            s3_front_port,
            idp_port,
            classified,
            poller: Some(poller),
            presign,
            classifier,
            _classifier_api: classifier_api,
            _policy_server: policy_server,
            _dir: dir,
        }
    }

    /// An id token for `user`, as the IdP would issue it after a sign-in.
    pub fn id_token(&self, user: &str) -> String {
        issue_id_token(&self.state, user)
    }

    /// The `sub` claim of `user` (stable per user name).
    pub fn subject(user: &str) -> String {
        subject_of(user)
    }

    /// The uploads the notification emulator ran the classifier on, with
    /// the classifier's reply.
    pub fn classified(&self) -> Vec<(String, Value)> {
        self.classified.lock().unwrap().clone()
    }

    /// What the two functions wrote (for failure messages).
    pub fn function_logs(&self) -> String {
        let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "--- presign ---\n{}\n--- classifier ---\n{}",
            read(&self.presign.log),
            read(&self.classifier.log)
        )
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.state.closing.store(true, Ordering::SeqCst);
        self.s3_front.closing.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.origin.trim_start_matches("http://"));
        let _ = TcpStream::connect(("127.0.0.1", self.s3_front_port));
        let _ = TcpStream::connect(("127.0.0.1", self.idp_port));
        if let Some(poller) = self.poller.take() {
            let _ = poller.join();
        }
    }
}

// ---- S3 notifications ----

/// Polls the bucket's uploads prefix; each new key gets one
/// `ObjectCreated:Put` notification to the classifier, waited for in turn.
fn notify_new_uploads(
    runtime: tokio::runtime::Runtime,
    s3: aws_sdk_s3::Client,
    api: &RuntimeApi,
    state: &State,
    classified: &Mutex<Vec<(String, Value)>>,
) {
    let mut seen = HashSet::new();
    let mut n = 0u64;
    while !state.closing.load(Ordering::SeqCst) {
        let keys: Vec<String> = runtime.block_on(async {
            match s3
                .list_objects_v2()
                .bucket(BUCKET)
                .prefix(UPLOADS_PREFIX)
                .send()
                .await
            {
                Ok(out) => out
                    .contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned))
                    .collect(),
                Err(_) => Vec::new(),
            }
        });
        for key in keys {
            if !seen.insert(key.clone()) {
                continue;
            }
            n += 1;
            let id = format!("notification-{n}");
            // S3 URL-encodes keys in notifications (form encoding: '+' for
            // a space), as the classifier's key decoding expects.
            api.invoke(&id, s3_put_event(BUCKET, &notification_key(&key)));
            let reply = api.reply(&id);
            classified.lock().unwrap().push((key, reply.body));
        }
        thread::sleep(Duration::from_millis(200));
    }
}

fn notification_key(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

// ---- HTTP plumbing ----

struct HttpRequest {
    method: String,
    target: String,
    /// Names lower-cased, in order.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }
}

fn read_http_request(reader: &mut BufReader<TcpStream>) -> Option<HttpRequest> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    let mut content_length = 0usize;
    let mut chunked = false;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
        if name == "content-length" {
            content_length = value.parse().ok()?;
        } else if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
        headers.push((name, value));
    }
    let body = if chunked {
        read_chunked_body(reader)?
    } else {
        let mut body = vec![0u8; content_length];
        reader.read_exact(&mut body).ok()?;
        body
    };
    Some(HttpRequest {
        method,
        target,
        headers,
        body,
    })
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        _ => "Status",
    }
}

fn write_response(
    w: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> bool {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "content-length" | "transfer-encoding" | "connection" | "keep-alive"
        ) {
            continue;
        }
        // Header values from a function must not split the response.
        if value.contains(['\r', '\n']) || name.contains(['\r', '\n', ':']) {
            continue;
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    w.write_all(head.as_bytes())
        .and_then(|_| w.write_all(body))
        .and_then(|_| w.flush())
        .is_ok()
}

fn h(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_owned(), value.into())
}

fn json_response(status: u16, body: &Value) -> (u16, Vec<(String, String)>, Vec<u8>) {
    (
        status,
        vec![
            h("Content-Type", "application/json"),
            h("Cache-Control", "no-store"),
        ],
        body.to_string().into_bytes(),
    )
}

/// `application/x-www-form-urlencoded` (also a query string) decoded.
fn form_decode(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState is seeded from the OS; mixing in a counter and the time
    // gives a fresh value per call. Test secrets, not cryptography.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}

fn random_token() -> String {
    let bytes: Vec<u8> = (0..3).flat_map(|_| random_u64().to_le_bytes()).collect();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

// ---- the gateway: IdP + HTTP API ----

fn serve_gateway(stream: TcpStream, state: &State) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_http_request(&mut reader) {
        let (status, mut headers, body) = route(&req, state);
        // The HTTP API's CORS configuration: its headers on every answer to
        // an allowed origin.
        if let Some(origin) = req.header("origin")
            && state.cors_origins.iter().any(|o| o == origin)
        {
            headers.push(h("Access-Control-Allow-Origin", origin));
            headers.push(h("Vary", "Origin"));
        }
        if !write_response(&mut writer, status, &headers, &body) {
            return;
        }
    }
}

fn route(req: &HttpRequest, state: &State) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let path = req.path();
    // API Gateway answers CORS preflights itself when CORS is configured
    // (they never reach the authorizer or the function).
    if req.method == "OPTIONS" && req.header("access-control-request-method").is_some() {
        let allowed = req
            .header("origin")
            .is_some_and(|o| state.cors_origins.iter().any(|a| a == o));
        let headers = if allowed {
            vec![
                h("Access-Control-Allow-Methods", "GET,POST"),
                h("Access-Control-Allow-Headers", "authorization,content-type"),
                h("Access-Control-Max-Age", "600"),
            ]
        } else {
            Vec::new()
        };
        return (204, headers, Vec::new());
    }
    // The template's routes (infra/template.yaml, UploadApi*Route): the page
    // and its files public, the two API routes behind the JWT authorizer.
    // No $default route: anything else is API Gateway's own 404.
    let route_key = format!("{} {path}", req.method);
    match route_key.as_str() {
        "GET /" | "GET /upload.js" | "GET /upload.css" | "GET /collector.js"
        | "GET /config.json" => invoke_presign(req, state, &route_key, None),
        "POST /api/uploads" | "GET /api/results" => match authorize(req, state) {
            Ok(claims) => invoke_presign(req, state, &route_key, Some(claims)),
            Err(why) => {
                let (status, mut headers, body) =
                    json_response(401, &json!({"message": "Unauthorized"}));
                headers.retain(|(n, _)| n != "Cache-Control");
                headers.push(h(
                    "www-authenticate",
                    format!(
                        "Bearer scope=\"\" error=\"invalid_token\" error_description=\"{why}\""
                    ),
                ));
                (status, headers, body)
            }
        },
        _ => json_response(404, &json!({"message": "Not Found"})),
    }
}

// ---- the identity provider ----

fn serve_idp(stream: TcpStream, state: &State) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_http_request(&mut reader) {
        let (status, mut headers, body) = match (req.method.as_str(), req.path()) {
            ("GET", "/idp/authorize") => idp_login_form(&req, state),
            ("POST", "/idp/authorize") => idp_login(&req, state),
            ("POST", "/idp/token") => idp_token(&req, state),
            _ => html_page(404, "<p>not found</p>"),
        };
        // The page calls the token endpoint from its own origin (a simple
        // form POST, no preflight); providers answer it with CORS headers
        // for the registered client's origin, as Cognito's does.
        if req.path() == "/idp/token"
            && let Some(origin) = req.header("origin")
            && origin == state.origin
        {
            headers.push(h("Access-Control-Allow-Origin", origin));
            headers.push(h("Vary", "Origin"));
        }
        if !write_response(&mut writer, status, &headers, &body) {
            return;
        }
    }
}

/// The authorization request's parameters, checked like a provider does
/// before it shows a login page: a known client, its registered callback
/// (exact match), the code flow and a PKCE S256 challenge.
fn check_authorization_request(
    params: &BTreeMap<String, String>,
    state: &State,
) -> Result<(), String> {
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
    if get("client_id") != CLIENT_ID {
        return Err("unknown client_id".into());
    }
    if get("redirect_uri") != format!("{}/", state.origin) {
        return Err("redirect_uri is not the client's registered callback".into());
    }
    if get("response_type") != "code" {
        return Err("response_type must be code".into());
    }
    if get("code_challenge_method") != "S256" || get("code_challenge").len() != 43 {
        return Err("a PKCE S256 code_challenge is required".into());
    }
    if !get("scope").split(' ').any(|s| s == "openid") {
        return Err("scope must include openid".into());
    }
    Ok(())
}

fn html_page(status: u16, body: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    (
        status,
        vec![
            h("Content-Type", "text/html; charset=utf-8"),
            h("Cache-Control", "no-store"),
        ],
        format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\"><title>Stand-in sign-in</title></head><body>{body}</body></html>"
        )
        .into_bytes(),
    )
}

fn idp_login_form(req: &HttpRequest, state: &State) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let params: BTreeMap<String, String> = form_decode(req.query()).into_iter().collect();
    if let Err(why) = check_authorization_request(&params, state) {
        return html_page(400, &format!("<p id=\"error\">{}</p>", html_escape(&why)));
    }
    let hidden: String = params
        .iter()
        .filter(|(k, _)| k.as_str() != "username")
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                html_escape(k),
                html_escape(v)
            )
        })
        .collect();
    html_page(
        200,
        &format!(
            "<h1>Sign in (stand-in identity provider)</h1>\
             <form method=\"post\" action=\"/idp/authorize\">{hidden}\
             <label for=\"username\">User name</label> \
             <input id=\"username\" name=\"username\" autocomplete=\"username\" required> \
             <button type=\"submit\">Sign in</button></form>"
        ),
    )
}

fn idp_login(req: &HttpRequest, state: &State) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let params: BTreeMap<String, String> = form_decode(&String::from_utf8_lossy(&req.body))
        .into_iter()
        .collect();
    if let Err(why) = check_authorization_request(&params, state) {
        return html_page(400, &format!("<p id=\"error\">{}</p>", html_escape(&why)));
    }
    let user = params.get("username").map(|u| u.trim()).unwrap_or("");
    if user.is_empty() || user.len() > 128 {
        return html_page(
            400,
            "<p id=\"error\">a user name (1 to 128 bytes) is required</p>",
        );
    }
    let code = random_token();
    state.codes.lock().unwrap().insert(
        code.clone(),
        AuthCode {
            user: user.to_owned(),
            redirect_uri: params["redirect_uri"].clone(),
            challenge: params["code_challenge"].clone(),
            issued: SystemTime::now(),
        },
    );
    let mut location = format!("{}?code={}", params["redirect_uri"], percent_encode(&code));
    if let Some(st) = params.get("state") {
        location.push_str(&format!("&state={}", percent_encode(st)));
    }
    (
        302,
        vec![h("Location", location), h("Cache-Control", "no-store")],
        Vec::new(),
    )
}

/// The token endpoint (RFC 6749 §4.1.3 with RFC 7636 §4.5–4.6).
fn idp_token(req: &HttpRequest, state: &State) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let bad = |error: &str, description: &str| {
        json_response(
            400,
            &json!({"error": error, "error_description": description}),
        )
    };
    let params: BTreeMap<String, String> = form_decode(&String::from_utf8_lossy(&req.body))
        .into_iter()
        .collect();
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
    if get("grant_type") != "authorization_code" {
        return bad(
            "unsupported_grant_type",
            "grant_type must be authorization_code",
        );
    }
    if get("client_id") != CLIENT_ID {
        return bad("invalid_client", "unknown client_id");
    }
    // A code is used once, whatever happens next (RFC 6749 §4.1.2).
    let Some(code) = state.codes.lock().unwrap().remove(get("code")) else {
        return bad("invalid_grant", "unknown or already used code");
    };
    if code.issued.elapsed().unwrap_or_default() > CODE_LIFETIME {
        return bad("invalid_grant", "the code has expired");
    }
    if get("redirect_uri") != code.redirect_uri {
        return bad(
            "invalid_grant",
            "redirect_uri differs from the authorization request's",
        );
    }
    let verifier = get("code_verifier");
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if !well_formed || challenge != code.challenge {
        return bad("invalid_grant", "PKCE verification failed");
    }
    let id_token = issue_id_token(state, &code.user);
    json_response(
        200,
        &json!({
            "id_token": id_token,
            // The page does not use it; Cognito returns one too.
            "access_token": random_token(),
            "token_type": "Bearer",
            "expires_in": state.token_lifetime.as_secs(),
        }),
    )
}

/// A stable, opaque subject per user name (Cognito's are UUIDs).
fn subject_of(user: &str) -> String {
    let d = Sha256::digest(format!("ccp-disconnect stand-in user:{user}").as_bytes());
    let hex: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn sign(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn issue_id_token(state: &State, user: &str) -> String {
    let now = now_secs();
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": "stand-in"});
    let claims = json!({
        "sub": subject_of(user),
        "cognito:username": user,
        "iss": state.issuer,
        "aud": CLIENT_ID,
        "token_use": "id",
        "auth_time": now,
        "iat": now,
        "exp": now + state.token_lifetime.as_secs(),
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = URL_SAFE_NO_PAD.encode(sign(&state.jwt_key, signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

/// The JWT authorizer: the claims of a valid bearer token, or why not
/// (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html>:
/// signature, `iss`, `aud` or `client_id`, `exp`, `nbf`/`iat`).
fn authorize(req: &HttpRequest, state: &State) -> Result<serde_json::Map<String, Value>, String> {
    let value = req
        .header("authorization")
        .ok_or("no Authorization header")?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .unwrap_or(value)
        .trim();
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a JWT".into());
    };
    let header: Value = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("bad JWT header")?;
    if header["alg"] != "HS256" {
        return Err("unexpected alg".into());
    }
    let signing_input = &token[..token.len() - signature.len() - 1];
    let expected = sign(&state.jwt_key, signing_input.as_bytes());
    let given = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| "bad signature encoding")?;
    // Constant time is not a concern in a test stand-in; equality is.
    if given != expected {
        return Err("signature does not match".into());
    }
    let claims: serde_json::Map<String, Value> = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("bad JWT payload")?;
    if claims.get("iss").and_then(Value::as_str) != Some(state.issuer.as_str()) {
        return Err("unexpected issuer".into());
    }
    let aud_ok = match claims.get("aud").or_else(|| claims.get("client_id")) {
        Some(Value::String(a)) => a == CLIENT_ID,
        Some(Value::Array(list)) => list.iter().any(|a| a == CLIENT_ID),
        _ => false,
    };
    if !aud_ok {
        return Err("unexpected audience".into());
    }
    let now = now_secs();
    match claims.get("exp").and_then(Value::as_u64) {
        Some(exp) if exp > now => {}
        _ => return Err("the token has expired".into()),
    }
    if claims
        .get("nbf")
        .and_then(Value::as_u64)
        .is_some_and(|nbf| nbf > now)
    {
        return Err("the token is not valid yet".into());
    }
    Ok(claims)
}

/// A claim as an HTTP API JWT authorizer passes it to the function: strings
/// as they are, numbers and booleans as text, arrays as `[a b]`.
fn claim_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(claim_string).collect::<Vec<_>>().join(" ")
        ),
        other => other.to_string(),
    }
}

/// The request as a payload format 2.0 event, through the real function,
/// and its 2.0 response (or the plain JSON value it returned) as HTTP.
fn invoke_presign(
    req: &HttpRequest,
    state: &State,
    route_key: &str,
    claims: Option<serde_json::Map<String, Value>>,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let n = state.next_request.fetch_add(1, Ordering::SeqCst);
    let request_id = format!("apigw-{n}");
    let mut headers = serde_json::Map::new();
    for (name, value) in &req.headers {
        // Repeated headers are joined with commas (payload 2.0).
        let joined = match headers.get(name).and_then(Value::as_str) {
            Some(prev) => format!("{prev},{value}"),
            None => value.clone(),
        };
        headers.insert(name.clone(), Value::String(joined));
    }
    let mut query = serde_json::Map::new();
    for (k, v) in form_decode(req.query()) {
        let joined = match query.get(&k).and_then(Value::as_str) {
            Some(prev) => format!("{prev},{v}"),
            None => v,
        };
        query.insert(k, Value::String(joined));
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut context = json!({
        "accountId": "123456789012",
        "apiId": "standin",
        "domainName": state.origin.trim_start_matches("http://"),
        "domainPrefix": "standin",
        "http": {
            "method": req.method,
            "path": req.path(),
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": req.header("user-agent").unwrap_or(""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": "01/Dec/2026:00:00:00 +0000",
        "timeEpoch": now_ms,
    });
    if let Some(claims) = &claims {
        let claims: serde_json::Map<String, Value> = claims
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(claim_string(v))))
            .collect();
        context["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": req.path(),
        "rawQueryString": req.query(),
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": false,
    });
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !req.body.is_empty() {
        match std::str::from_utf8(&req.body) {
            Ok(text) => event["body"] = json!(text),
            Err(_) => {
                event["body"] = json!(STANDARD.encode(&req.body));
                event["isBase64Encoded"] = json!(true);
            }
        }
    }
    state.presign.invoke(&request_id, event);
    let reply = state.presign.reply(&request_id);
    if reply.kind != "response" {
        return json_response(500, &json!({"message": "Internal Server Error"}));
    }
    translate_response(&reply.body)
}

/// A payload 2.0 response to HTTP: `statusCode`, `headers`, `cookies`,
/// `body`, `isBase64Encoded`; a value without `statusCode` is a 200 JSON body.
fn translate_response(out: &Value) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let Some(status) = out.get("statusCode").and_then(Value::as_u64) else {
        return json_response(200, out);
    };
    let mut headers: Vec<(String, String)> = out
        .get("headers")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(cookies) = out.get("cookies").and_then(Value::as_array) {
        for c in cookies.iter().filter_map(Value::as_str) {
            headers.push(h("Set-Cookie", c));
        }
    }
    let body = match out.get("body") {
        Some(Value::String(s)) if out["isBase64Encoded"] == true => {
            STANDARD.decode(s).unwrap_or_default()
        }
        Some(Value::String(s)) => s.clone().into_bytes(),
        _ => Vec::new(),
    };
    (status as u16, headers, body)
}

// ---- the S3 front: POST policies checked by s3s-fs, then moto ----

/// The port of an `http://127.0.0.1:<port>` endpoint.
fn port_of(endpoint: &str) -> u16 {
    endpoint
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {endpoint}"))
}

fn serve_s3_front(stream: TcpStream, state: &S3FrontState) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_http_request(&mut reader) {
        let is_form_post = req.method == "POST"
            && req
                .header("content-type")
                .is_some_and(|t| t.starts_with("multipart/form-data"))
            && req.path().trim_matches('/').split('/').count() == 1;
        let answer = if is_form_post {
            // s3s-fs checks the policy (and stores a copy nobody reads);
            // only what it accepts reaches moto.
            let (status, headers, body) = forward(&req, state.policy_port, "s3s-fs");
            if (200..300).contains(&status) {
                forward(&req, state.moto_port, "moto")
            } else {
                let mut headers: Vec<(String, String)> = headers
                    .into_iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("content-type"))
                    .collect();
                // S3 adds the bucket's CORS headers to errors too, so the
                // page can read why.
                if let Some(origin) = req.header("origin")
                    && state.cors_origins.iter().any(|o| o == origin)
                {
                    headers.push(h("Access-Control-Allow-Origin", origin));
                    headers.push(h("Vary", "Origin"));
                }
                (status, headers, body)
            }
        } else {
            forward(&req, state.moto_port, "moto")
        };
        let (status, headers, body) = answer;
        if !write_response(&mut writer, status, &headers, &body) {
            return;
        }
    }
}

/// One request to the server `name` on `port`, on a fresh connection, the
/// answer read to its end.
fn forward(req: &HttpRequest, port: u16, name: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let bad_gateway = || {
        (
            502,
            vec![h("Content-Type", "text/plain")],
            format!("{name} did not answer").into_bytes(),
        )
    };
    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", port)) else {
        return bad_gateway();
    };
    let _ = upstream.set_read_timeout(Some(Duration::from_secs(60)));
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    for (name, value) in &req.headers {
        if matches!(
            name.as_str(),
            "connection" | "keep-alive" | "content-length" | "transfer-encoding"
        ) {
            continue;
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Connection: close\r\nContent-Length: {}\r\n\r\n",
        req.body.len()
    ));
    if upstream
        .write_all(head.as_bytes())
        .and_then(|_| upstream.write_all(&req.body))
        .is_err()
    {
        return bad_gateway();
    }
    let mut reader = BufReader::new(upstream);
    let mut status_line = String::new();
    if reader.read_line(&mut status_line).is_err() {
        return bad_gateway();
    }
    let Some(status) = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
    else {
        return bad_gateway();
    };
    let mut headers = Vec::new();
    let mut chunked = false;
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((n, v)) = line.split_once(':') {
            let (n, v) = (n.trim(), v.trim());
            if n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
            if n.eq_ignore_ascii_case("content-length") {
                length = v.parse::<usize>().ok();
            }
            headers.push(h(n, v));
        }
    }
    let body = if req.method == "HEAD" || status == 204 || status == 304 {
        Vec::new()
    } else if chunked {
        read_chunked_body(&mut reader).unwrap_or_default()
    } else if let Some(n) = length {
        let mut body = vec![0u8; n];
        let _ = reader.read_exact(&mut body);
        body
    } else {
        let mut body = Vec::new();
        let _ = reader.read_to_end(&mut body);
        body
    };
    (status, headers, body)
}

/// A static site on another origin: a custom CCP's page for the collector
/// tests. Files by path; everything else is 404.
pub struct StaticSite {
    pub origin: String,
    state: Arc<SiteState>,
    port: u16,
}

struct SiteState {
    files: HashMap<String, (String, Vec<u8>)>,
    closing: AtomicBool,
}

impl StaticSite {
    /// `files`: (path, content type, bytes).
    pub fn start(files: Vec<(&str, &str, Vec<u8>)>) -> StaticSite {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind site");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(SiteState {
            files: files
                .into_iter()
                .map(|(p, t, b)| (p.to_owned(), (t.to_owned(), b)))
                .collect(),
            closing: AtomicBool::new(false),
        });
        super::accept_loop(
            listener,
            state.clone(),
            |s| s.closing.load(Ordering::SeqCst),
            |stream, state: &SiteState| {
                let Ok(mut writer) = stream.try_clone() else {
                    return;
                };
                let mut reader = BufReader::new(stream);
                while let Some(req) = read_http_request(&mut reader) {
                    let ok = match state.files.get(req.path()) {
                        Some((content_type, body)) if req.method == "GET" => write_response(
                            &mut writer,
                            200,
                            &[
                                h("Content-Type", content_type.as_str()),
                                h("Cache-Control", "no-store"),
                            ],
                            body,
                        ),
                        _ => write_response(&mut writer, 404, &[], b""),
                    };
                    if !ok {
                        return;
                    }
                }
            },
        );
        StaticSite {
            origin: format!("http://127.0.0.1:{port}"),
            state,
            port,
        }
    }
}

impl Drop for StaticSite {
    fn drop(&mut self) {
        self.state.closing.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}
