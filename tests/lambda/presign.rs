//! The built `presign` binary (the upload API), served by the Runtime API
//! emulator with HTTP API payload 2.0 events, as API Gateway sends them
//! behind a JWT authorizer. Its presigned POSTs are sent, as a browser
//! would, to moto (which stores them without checking policies) and to
//! s3s-fs (which checks them as S3 does: signature, expiry, conditions).
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::lambda_support::function::Function;
use crate::lambda_support::s3s_fs::S3sFs;
use crate::lambda_support::*;
use crate::support::repo_root;
use ccp_disconnect_core::time::parse_iso8601;
use serde_json::{Value, json};

const BUCKET: &str = "ccp-logs-example";
const FUNCTION_NAME: &str = "stack-presign";
/// moto checks no signature, so any secret works; neither it nor the session
/// token may ever appear in the function's output.
const LOGGED_NEVER_SECRET: &str = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYPRESIGNKEY";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE-session-token";
const MAX_BYTES: u64 = 4096;
const AUTHORIZE_URL: &str = "https://idp.example.com/oauth2/authorize";
const TOKEN_URL: &str = "https://idp.example.com/oauth2/token";

/// The OIDC settings every start needs, and the ones each test varies.
fn presign_env<'a>(
    s3_endpoint: &'a str,
    secret: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("AWS_ENDPOINT_URL_S3", s3_endpoint),
        ("S3_FORCE_PATH_STYLE", "true"),
        ("S3_PUBLIC_ENDPOINT", s3_endpoint),
        ("BUCKET_NAME", BUCKET),
        ("OIDC_AUTHORIZE_URL", AUTHORIZE_URL),
        ("OIDC_TOKEN_URL", TOKEN_URL),
        ("OIDC_CLIENT_ID", "page-client"),
    ];
    env.extend_from_slice(extra);
    env
}

fn start_presign(api: &RuntimeApi, env: &[(&str, &str)]) -> Function {
    Function::start(env!("CARGO_BIN_EXE_presign"), api, FUNCTION_NAME, env)
}

/// An HTTP API (payload format 2.0) request, with the claims a JWT
/// authorizer passes (`None`: a public route, no authorizer).
fn http_event(
    method: &str,
    path: &str,
    query: &str,
    claims: Option<Value>,
    body: Option<&str>,
) -> Value {
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {
            "accept": "application/json",
            "content-type": "application/json",
            "host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "test"},
            "requestId": "req",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Dec/2026:01:00:00 +0000",
            "timeEpoch": 1796086800000u64
        },
        "isBase64Encoded": false
    });
    if let Some(claims) = claims {
        event["headers"]["authorization"] = json!("Bearer header.payload.signature");
        event["requestContext"]["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    }
    if let Some(body) = body {
        event["body"] = json!(body);
    }
    event
}

/// What API Gateway would send the browser for one invocation.
#[derive(Debug)]
struct Answer {
    status: u64,
    headers: Value,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers[name].as_str()
    }
}

/// Invokes the function with `event` and reads its payload 2.0 response.
fn call(api: &RuntimeApi, id: &str, event: Value) -> Answer {
    api.invoke(id, event);
    let reply = api.reply(id);
    assert_eq!(reply.kind, "response", "{reply:?}");
    let answer = Answer {
        status: reply.body["statusCode"].as_u64().expect("statusCode"),
        headers: reply.body["headers"].clone(),
        body: reply.body["body"].as_str().unwrap_or_default().to_owned(),
    };
    assert_eq!(reply.body["isBase64Encoded"], false, "{reply:?}");
    // Every answer, error or not: never cached, and errors are JSON.
    assert_eq!(answer.header("cache-control"), Some("no-store"), "{id}");
    if answer.status >= 400 {
        assert_eq!(answer.header("content-type"), Some("application/json"));
        let body = answer.json();
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{body}"
        );
    }
    answer
}

/// `GET /api/results?key=<key>` as `claims` (`None`: no authorizer).
fn ask_results(api: &RuntimeApi, id: &str, claims: Option<Value>, key: &str) -> Answer {
    let query = format!("key={}", key.replace('/', "%2F"));
    call(
        api,
        id,
        http_event("GET", "/api/results", &query, claims, None),
    )
}

fn upload_body(file_name: &str, size: u64) -> String {
    json!({"file_name": file_name, "size": size, "content_type": "text/plain"}).to_string()
}

fn alice() -> Value {
    json!({"sub": "alice", "email": "alice@example.com", "aud": "page-client", "iss": "https://idp.example.com"})
}

/// A presigned POST for `claims`, checked to be a 200.
fn presign(api: &RuntimeApi, id: &str, claims: Value, file_name: &str, size: u64) -> Value {
    let body = upload_body(file_name, size);
    let answer = call(
        api,
        id,
        http_event("POST", "/api/uploads", "", Some(claims), Some(&body)),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    answer.json()
}

/// The form fields of a presigned POST answer, in the order a browser
/// iterating the object would send them.
fn fields(post: &Value) -> Vec<(String, String)> {
    post["fields"]
        .as_object()
        .expect("fields")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string field").to_owned()))
        .collect()
}

fn set_field(fields: &mut [(String, String)], name: &str, value: &str) {
    let field = fields
        .iter_mut()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no field {name}"));
    field.1 = value.to_owned();
}

/// The decoded `policy` field.
fn policy(post: &Value) -> Value {
    let b64 = post["fields"]["policy"].as_str().expect("policy");
    serde_json::from_slice(&aws_smithy_types::base64::decode(b64).expect("base64"))
        .expect("policy JSON")
}

// ---- a browser's side of S3: plain HTTP/1.1 ----

#[derive(Debug)]
struct HttpResponse {
    status: u16,
    body: Vec<u8>,
}

impl HttpResponse {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `<Code>` of an S3 XML error.
    fn s3_code(&self) -> String {
        let text = self.text();
        text.split_once("<Code>")
            .and_then(|(_, rest)| rest.split_once("</Code>"))
            .map(|(code, _)| code.to_owned())
            .unwrap_or_else(|| panic!("no S3 error code in {text:?}"))
    }
}

/// One request to an `http://host:port/...` URL, read to its end.
fn http(method: &str, url: &str, content_type: Option<&str>, body: &[u8]) -> HttpResponse {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("{host}: {e}"));
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(content_type) = content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let mut content_length = None;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                && value.trim().eq_ignore_ascii_case("chunked")
            {
                chunked = true;
            }
        }
    }
    let body = if chunked {
        read_chunked_body(&mut reader).expect("chunked body")
    } else if let Some(n) = content_length {
        let mut body = vec![0; n];
        reader.read_exact(&mut body).unwrap();
        body
    } else if method == "HEAD" {
        Vec::new()
    } else {
        let mut body = Vec::new();
        let _ = reader.read_to_end(&mut body);
        body
    };
    HttpResponse { status, body }
}

/// `multipart/form-data` as a browser's `FormData` sends it: the fields in
/// order, then the file, last (S3 ignores fields after it).
fn multipart(fields: &[(String, String)], file_type: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----ccpDisconnectTestBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
             filename=\"agent-log.txt\"\r\nContent-Type: {file_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Sends the presigned form with `file`, as the upload page does.
fn post_form(url: &str, fields: &[(String, String)], file: &[u8]) -> HttpResponse {
    let (content_type, body) = multipart(fields, "text/plain", file);
    http("POST", url, Some(&content_type), &body)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The conditions of a decoded policy, and its expiration.
fn check_policy(post: &Value, key: &str, content_type: &str, max_bytes: u64, expiry_s: i64) {
    let policy = policy(post);
    let conditions = policy["conditions"].as_array().expect("conditions");
    assert!(conditions.contains(&json!({"bucket": BUCKET})), "{policy}");
    assert!(conditions.contains(&json!(["eq", "$key", key])), "{policy}");
    assert!(
        conditions.contains(&json!(["eq", "$Content-Type", content_type])),
        "{policy}"
    );
    assert!(
        conditions.contains(&json!(["content-length-range", 1, max_bytes])),
        "{policy}"
    );
    assert!(conditions.contains(&json!({"x-amz-algorithm": "AWS4-HMAC-SHA256"})));
    // No condition lets a field vary: no starts-with anywhere.
    assert!(
        !conditions.iter().any(|c| c[0] == "starts-with"),
        "{policy}"
    );
    let expires = parse_iso8601(policy["expiration"].as_str().unwrap()).expect("expiration");
    let left = expires - now_ms();
    assert!(
        left > (expiry_s - 60) * 1000 && left <= expiry_s * 1000,
        "expiration {} is {left} ms away, expected about {expiry_s} s",
        policy["expiration"]
    );
    assert_eq!(post["expires_at"], policy["expiration"]);
}

/// Posts the form with `file`, checks S3 accepted it and stored exactly
/// `file` under `key`; returns the stored content type.
async fn upload_and_check(
    s3: &aws_sdk_s3::Client,
    url: &str,
    fields: &[(String, String)],
    key: &str,
    file: &[u8],
) -> Option<String> {
    let sent = post_form(url, fields, file);
    assert!(
        (200..300).contains(&sent.status),
        "{} {}",
        sent.status,
        sent.text()
    );
    let (stored, content_type) = get(s3, BUCKET, key).await.expect("the uploaded object");
    assert_eq!(stored, file);
    content_type
}

async fn assert_absent(s3: &aws_sdk_s3::Client, key: &str) {
    assert_eq!(get(s3, BUCKET, key).await, None, "{key}");
}

#[tokio::test]
async fn presign_binary_serves_the_page_and_presigns_only_own_keys() {
    let moto = Moto::start();
    let s3 = moto.client();
    create_bucket(&s3, BUCKET).await;
    let api = RuntimeApi::start();
    let max = MAX_BYTES.to_string();
    let function = start_presign(
        &api,
        &presign_env(
            &moto.endpoint,
            LOGGED_NEVER_SECRET,
            &[
                ("MAX_OBJECT_BYTES", &max),
                ("AWS_SESSION_TOKEN", SESSION_TOKEN),
            ],
        ),
    );

    // The page, with its CSP naming S3 and the token endpoint's origins.
    let page = call(&api, "page", http_event("GET", "/", "", None, None));
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.body.contains("<html"), "{}", page.body);
    let csp = page.header("content-security-policy").expect("CSP");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("form-action 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains(&format!(
            "connect-src 'self' {} https://idp.example.com;",
            moto.endpoint
        )),
        "{csp}"
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    for path in ["/upload.js", "/upload.css", "/collector.js"] {
        // The request id goes into the Runtime API's paths: no `/` in it.
        let file = call(
            &api,
            path.trim_start_matches('/'),
            http_event("GET", path, "", None, None),
        );
        assert_eq!(file.status, 200, "{path}");
    }
    let config = call(
        &api,
        "config",
        http_event("GET", "/config.json", "", None, None),
    );
    assert_eq!(config.status, 200);
    assert_eq!(
        config.json(),
        json!({
            "authorize_url": AUTHORIZE_URL,
            "token_url": TOKEN_URL,
            "client_id": "page-client",
            "scopes": "openid",
            "logout_url": null,
            "max_bytes": MAX_BYTES,
            "upload_url_expiry_seconds": 300,
        })
    );
    let unknown = call(&api, "404", http_event("GET", "/admin", "", None, None));
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"], "not_found");

    // No caller, no upload: no authorizer, no sub, an empty sub.
    let body = upload_body("agent-log.txt", 100);
    for (id, claims) in [
        ("no-authorizer", None),
        ("no-sub", Some(json!({"email": "alice@example.com"}))),
        (
            "empty-sub",
            Some(json!({"sub": "", "email": "alice@example.com"})),
        ),
    ] {
        let answer = call(
            &api,
            id,
            http_event("POST", "/api/uploads", "", claims, Some(&body)),
        );
        assert_eq!(answer.status, 401, "{id}");
        assert_eq!(answer.json()["error"], "unauthenticated", "{id}");
    }

    // A size over MAX_OBJECT_BYTES is refused before any policy is signed.
    let big = upload_body("agent-log.txt", MAX_BYTES + 1);
    let answer = call(
        &api,
        "too-large",
        http_event("POST", "/api/uploads", "", Some(alice()), Some(&big)),
    );
    assert_eq!(answer.status, 413);
    assert_eq!(answer.json()["error"], "too_large");

    // Whatever the file name says, the key is in the caller's own folder,
    // with a plain basename.
    let names = [
        ("agent-log.txt", "agent-log.txt", "text/plain"),
        (
            "../../uploads/bob/agent-log.txt",
            "agent-log.txt",
            "text/plain",
        ),
        ("/etc/passwd", "passwd", "text/plain"),
        ("..\\..\\bob\\log.json", "log.json", "application/json"),
        ("uploads/bob/", "agent-log.txt", "text/plain"),
        ("..", "agent-log.txt", "text/plain"),
        ("log\u{0}\r\n.txt.gz", "log_.txt.gz", "application/gzip"),
        ("\u{202e}gz.txt\u{202c}.exe", "gz.txt_.exe", "text/plain"),
        ("журнал звонков.txt", "txt", "text/plain"),
        ("", "agent-log.txt", "text/plain"),
    ];
    for (i, (raw, file, content_type)) in names.iter().enumerate() {
        let post = presign(&api, &format!("name-{i}"), alice(), raw, 100);
        let key = post["key"].as_str().unwrap();
        let tail = key
            .strip_prefix("uploads/alice/")
            .unwrap_or_else(|| panic!("{raw:?} -> {key}"));
        // <YYYYMMDDTHHMMSS.mmmZ>-<readable>-<file>
        assert_eq!(
            tail.len(),
            20 + "-alice_example.com-".len() + file.len(),
            "{key}"
        );
        assert!(
            tail.ends_with(&format!("-alice_example.com-{file}")),
            "{raw:?} -> {key}"
        );
        assert_eq!(post["content_type"], *content_type, "{raw:?}");
        assert_eq!(post["fields"]["key"], key);
        assert_eq!(post["fields"]["Content-Type"], *content_type);
        check_policy(&post, key, content_type, MAX_BYTES, 300);
    }

    // Subjects are escaped into one segment: no other caller's folder, no
    // way up.
    for (i, (sub, folder)) in [
        ("../bob", "uploads/..~2Fbob/"),
        ("bob/x", "uploads/bob~2Fx/"),
        ("..", "uploads/~2E~2E/"),
        ("émile", "uploads/~C3~A9mile/"),
        ("a\u{202e}b", "uploads/a~E2~80~AEb/"),
    ]
    .iter()
    .enumerate()
    {
        let post = presign(&api, &format!("sub-{i}"), json!({"sub": sub}), "a.txt", 10);
        let key = post["key"].as_str().unwrap();
        assert!(key.starts_with(folder), "{sub:?} -> {key}");
        // No readable name: <timestamp>-<file>.
        assert_eq!(key.len(), folder.len() + 20 + "-a.txt".len(), "{key}");
    }

    // The form works against a real S3-compatible server: the object is
    // stored under exactly the key of the policy.
    let log = two_call_log();
    let post = presign(&api, "upload", alice(), "agent-log.txt", log.len() as u64);
    assert_eq!(post["url"], format!("{}/{BUCKET}", moto.endpoint));
    assert_eq!(post["fields"]["x-amz-security-token"], SESSION_TOKEN);
    assert!(
        policy(&post)["conditions"]
            .as_array()
            .unwrap()
            .contains(&json!({"x-amz-security-token": SESSION_TOKEN}))
    );
    let key = post["key"].as_str().unwrap().to_owned();
    let url = post["url"].as_str().unwrap();
    upload_and_check(&s3, url, &fields(&post), &key, &log).await;

    // Results: pending until the classifier writes one, then presigned GETs.
    let pending = ask_results(&api, "pending", Some(alice()), &key);
    assert_eq!(pending.status, 202, "{}", pending.body);
    assert_eq!(pending.json(), json!({"status": "pending", "key": key}));

    let result = br#"{"status":"ok","calls":[]}"#;
    put(&s3, BUCKET, &format!("results/{key}.json"), result).await;
    let ready = ask_results(&api, "ready-json-only", Some(alice()), &key);
    assert_eq!(ready.status, 200, "{}", ready.body);
    let body = ready.json();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["key"], key);
    assert_eq!(body["html_url"], Value::Null);
    let json_url = body["json_url"].as_str().unwrap();
    assert!(json_url.starts_with(&format!(
        "{}/{BUCKET}/results/uploads/alice/",
        moto.endpoint
    )));
    assert!(json_url.contains("X-Amz-Signature="), "{json_url}");
    assert!(json_url.contains("X-Amz-Expires=300"), "{json_url}");
    let fetched = http("GET", json_url, None, b"");
    assert_eq!(fetched.status, 200, "{}", fetched.text());
    assert_eq!(fetched.body, result);
    let expires = parse_iso8601(body["expires_at"].as_str().unwrap()).unwrap();
    assert!((expires - now_ms() - 300_000).abs() < 60_000, "{body}");

    put(
        &s3,
        BUCKET,
        &format!("results/{key}.html"),
        b"<!doctype html><p>report</p>",
    )
    .await;
    let ready = ask_results(&api, "ready", Some(alice()), &key);
    assert_eq!(ready.status, 200);
    let html_url = ready.json()["html_url"].as_str().unwrap().to_owned();
    let fetched = http("GET", &html_url, None, b"");
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body, b"<!doctype html><p>report</p>");

    // Another caller cannot read alice's result, nor anything outside its
    // own folder, however the key is written.
    let bob = json!({"sub": "bob", "email": "bob@example.com"});
    let escaped_key = key.replace('/', "%2F");
    for (i, (claims, query)) in [
        (bob.clone(), format!("key={escaped_key}")),
        (json!({"sub": "alic"}), format!("key={escaped_key}")),
        (
            bob.clone(),
            format!(
                "key=uploads/bob/../alice/{}",
                &key["uploads/alice/".len()..]
            ),
        ),
        (
            bob.clone(),
            format!("key=uploads%2Fbob%2F..%2F..%2F{escaped_key}"),
        ),
        (alice(), "key=uploads/alice2/x.txt".to_owned()),
        (alice(), "key=/uploads/alice/x.txt".to_owned()),
        (alice(), format!("key=results%2F{escaped_key}.json")),
    ]
    .into_iter()
    .enumerate()
    {
        let answer = call(
            &api,
            &format!("forbidden-{i}"),
            http_event("GET", "/api/results", &query, Some(claims), None),
        );
        assert_eq!(answer.status, 403, "{query}: {}", answer.body);
        assert_eq!(answer.json()["error"], "forbidden");
        assert!(!answer.body.contains("X-Amz-Signature"), "{}", answer.body);
    }
    let answer = call(
        &api,
        "no-key",
        http_event("GET", "/api/results", "", Some(alice()), None),
    );
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["error"], "bad_request");
    let answer = ask_results(&api, "results-no-sub", None, &key);
    assert_eq!(answer.status, 401);

    // The sample event in events/ is such a request.
    let sample: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("events/http-api-upload.json")).unwrap(),
    )
    .unwrap();
    let answer = call(&api, "sample", sample);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let key = answer.json()["key"].as_str().unwrap().to_owned();
    assert!(
        key.starts_with("uploads/f81d4fae-7dec-11d0-a765-00a0c91e6bf6/")
            && key.ends_with("-alice.agent-agent-log.txt"),
        "{key}"
    );

    let logs = function.stop();
    assert!(api.init_errors().is_empty());
    assert!(logs.contains("\"message\":\"ready\""), "{logs}");
    assert!(!logs.contains(LOGGED_NEVER_SECRET), "{logs}");
    assert!(!logs.contains(SESSION_TOKEN), "{logs}");
    assert!(!logs.contains("header.payload.signature"), "{logs}");
}

/// s3s-fs checks POST policies as S3 does: the form presigned by the
/// function is accepted as it is and refused as soon as anything in it
/// changes, and nothing is stored for a refused form.
#[tokio::test]
async fn presigned_posts_are_enforced_by_a_policy_checking_server() {
    let server = S3sFs::start();
    let s3 = server.client();
    create_bucket(&s3, BUCKET).await;
    let api = RuntimeApi::start();
    let function = start_presign(
        &api,
        &presign_env(
            &server.endpoint,
            SECRET_KEY,
            &[
                ("MAX_OBJECT_BYTES", "1024"),
                ("AWS_SESSION_TOKEN", SESSION_TOKEN),
            ],
        ),
    );
    let log = b"[{\"component\":\"ccp\",\"text\":\"hello\"}]".to_vec();
    let url = format!("{}/{BUCKET}", server.endpoint);

    // Each refusal: the status and S3 error code, and no object stored at
    // the key the form named, nor at the one it was presigned for.
    let refused = |name: &str, sent: &HttpResponse, status: u16, code: &str| {
        assert_eq!(sent.status, status, "{name}: {}", sent.text());
        assert_eq!(sent.s3_code(), code, "{name}: {}", sent.text());
    };

    // Oversized: the file is larger than the policy's content-length-range.
    let post = presign(&api, "big", alice(), "agent-log.txt", 100);
    let key = post["key"].as_str().unwrap().to_owned();
    let sent = post_form(&url, &fields(&post), &vec![b'x'; 1025]);
    refused("oversized", &sent, 400, "EntityTooLarge");
    assert_absent(&s3, &key).await;

    // Another subject's folder: the key field changed, the policy not.
    let post = presign(&api, "other-key", alice(), "agent-log.txt", 100);
    let key = post["key"].as_str().unwrap().to_owned();
    let mut form = fields(&post);
    let bobs = key.replace("uploads/alice/", "uploads/bob/");
    set_field(&mut form, "key", &bobs);
    let sent = post_form(&url, &form, &log);
    // s3s answers a failed condition with InvalidPolicyDocument (400); S3
    // answers 403 AccessDenied "Invalid according to Policy". Either way,
    // refused.
    refused("other key", &sent, 400, "InvalidPolicyDocument");
    assert_absent(&s3, &bobs).await;
    assert_absent(&s3, &key).await;

    // Another content type.
    let mut form = fields(&post);
    set_field(&mut form, "Content-Type", "text/html");
    let sent = post_form(&url, &form, &log);
    refused("content type", &sent, 400, "InvalidPolicyDocument");
    assert_absent(&s3, &key).await;

    // A field the policy does not list (S3: every field needs a condition).
    let mut form = fields(&post);
    form.insert(0, ("acl".to_owned(), "public-read".to_owned()));
    let sent = post_form(&url, &form, &log);
    refused("extra field", &sent, 403, "AccessDenied");
    assert_absent(&s3, &key).await;

    // A tampered policy: the key condition widened, the signature kept.
    let mut tampered = policy(&post);
    for condition in tampered["conditions"].as_array_mut().unwrap() {
        if condition[0] == "eq" && condition[1] == "$key" {
            *condition = json!(["starts-with", "$key", "uploads/"]);
        }
    }
    let mut form = fields(&post);
    set_field(
        &mut form,
        "policy",
        &aws_smithy_types::base64::encode(tampered.to_string()),
    );
    set_field(&mut form, "key", &bobs);
    let sent = post_form(&url, &form, &log);
    refused("tampered policy", &sent, 403, "SignatureDoesNotMatch");
    assert_absent(&s3, &bobs).await;

    // A wrong signature.
    let mut form = fields(&post);
    set_field(&mut form, "x-amz-signature", &"0".repeat(64));
    let sent = post_form(&url, &form, &log);
    refused("signature", &sent, 403, "SignatureDoesNotMatch");
    assert_absent(&s3, &key).await;

    // The form as given: stored, with the type the policy fixed.
    let content_type = upload_and_check(&s3, &url, &fields(&post), &key, &log).await;
    assert_eq!(content_type.as_deref(), Some("text/plain"));

    // Results through the same server (it checks the presigned GET's
    // signature too).
    let pending = ask_results(&api, "pending", Some(alice()), &key);
    assert_eq!(pending.status, 202, "{}", pending.body);
    put(
        &s3,
        BUCKET,
        &format!("results/{key}.json"),
        b"{\"status\":\"ok\"}",
    )
    .await;
    let ready = ask_results(&api, "ready", Some(alice()), &key);
    assert_eq!(ready.status, 200, "{}", ready.body);
    let json_url = ready.json()["json_url"].as_str().unwrap().to_owned();
    let fetched = http("GET", &json_url, None, b"");
    assert_eq!(fetched.status, 200, "{}", fetched.text());
    assert_eq!(fetched.body, b"{\"status\":\"ok\"}");
    let tampered_url = json_url.replace(".json?", ".html?");
    assert_eq!(http("GET", &tampered_url, None, b"").status, 403);
    let logs = function.stop();
    assert!(!logs.contains(SESSION_TOKEN), "{logs}");

    // An expired policy: a function whose forms last one second.
    let api = RuntimeApi::start();
    let _short = start_presign(
        &api,
        &presign_env(
            &server.endpoint,
            SECRET_KEY,
            &[("UPLOAD_URL_EXPIRY_SECONDS", "1")],
        ),
    );
    let post = presign(&api, "expiring", alice(), "agent-log.txt", 100);
    let key = post["key"].as_str().unwrap().to_owned();
    check_policy(&post, &key, "text/plain", 2 << 30, 1);
    std::thread::sleep(Duration::from_millis(2100));
    let sent = post_form(&url, &fields(&post), &log);
    refused("expired", &sent, 403, "AccessDenied");
    assert!(sent.text().contains("expired"), "{}", sent.text());
    assert_absent(&s3, &key).await;
}

#[test]
fn presign_bad_configuration_stops_before_serving() {
    let api = RuntimeApi::start();
    for (unset, variable) in [
        ("BUCKET_NAME", "BUCKET_NAME"),
        ("OIDC_TOKEN_URL", "OIDC_TOKEN_URL"),
    ] {
        let env: Vec<(&str, &str)> = presign_env("http://127.0.0.1:9", "s", &[])
            .into_iter()
            .filter(|(k, _)| *k != unset)
            .collect();
        let output = Command::new(env!("CARGO_BIN_EXE_presign"))
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_REGION", REGION)
            .envs(env)
            .output()
            .expect("run presign");
        assert!(!output.status.success(), "{unset}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains(variable), "{stdout}");
    }
}
