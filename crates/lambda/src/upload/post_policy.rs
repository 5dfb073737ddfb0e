//! The presigned S3 POST (browser-based upload) of one key: the POST policy,
//! its SigV4 signature and the form fields the browser sends with the file.
//!
//! Pure: credentials, region and time come in, fields come out. S3's rules
//! are in "Browser-Based Uploads Using POST (AWS Signature Version 4)": the
//! policy is a JSON document with an `expiration` and `conditions`; its
//! base64 is both the `policy` field and the string to sign; the signature
//! is `HMAC-SHA256(signing key, base64 policy)` in hex, with the usual SigV4
//! signing key for the date, region and service `s3`
//! ("Calculating a Signature", and "Creating a POST Policy" for the
//! conditions). Every form field except `policy`, `x-amz-signature` and
//! `file` must be matched by a condition, so the browser can send only
//! what is listed here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use ccp_disconnect_core::time::format_iso8601;
use serde_json::{Value, json};

use super::upload_key::key_timestamp;

/// The only algorithm S3 accepts for SigV4 POST policies.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The credentials a policy is signed with (the function's own role).
#[derive(Clone, Copy)]
pub struct SigningCredentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    /// Temporary credentials (Lambda's are) carry a session token, which the
    /// form must send as `x-amz-security-token` and the policy must list.
    pub session_token: Option<&'a str>,
}

impl std::fmt::Debug for SigningCredentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.map(|_| "** redacted **"),
            )
            .finish()
    }
}

/// What one presigned POST allows.
#[derive(Debug, Clone, Copy)]
pub struct PostPolicyRequest<'a> {
    pub bucket: &'a str,
    /// The exact key (`["eq", "$key", ...]`): no other key can be written.
    pub key: &'a str,
    /// The exact `Content-Type` the form must send.
    pub content_type: &'a str,
    /// The upper bound of `content-length-range` (the lower is 1 byte).
    pub max_bytes: u64,
    pub region: &'a str,
    pub credentials: SigningCredentials<'a>,
    /// When it is signed: `x-amz-date`, the credential scope's date.
    pub now: SystemTime,
    /// How long the policy is valid from `now`.
    pub expires_in: Duration,
}

/// A signed policy and the form that goes with it.
#[derive(Debug, Clone, PartialEq)]
pub struct PresignedPost {
    /// The form fields, in the order the browser should send them (the file
    /// goes last, after all of them: S3 ignores fields after `file`).
    pub fields: Vec<(&'static str, String)>,
    /// The policy's `expiration`, epoch milliseconds.
    pub expires_at_ms: i64,
    /// The policy document (what `policy` holds, before base64).
    pub policy: Value,
}

impl PresignedPost {
    /// The value of the form field `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Epoch milliseconds of `t` (0 before the epoch, which a clock never is).
pub fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// SigV4's `YYYYMMDDTHHMMSSZ` for epoch milliseconds.
fn amz_date(epoch_ms: i64) -> String {
    // `YYYYMMDDTHHMMSS.mmmZ` without the milliseconds.
    let stamp = key_timestamp(epoch_ms);
    format!("{}Z", stamp.split('.').next().unwrap_or_default())
}

/// The signature of a base64 POST policy: HMAC-SHA256 with the SigV4
/// signing key of `secret_access_key` for `time`'s UTC date, `region` and
/// service `s3`, in lower-case hex.
pub fn sign_policy(
    policy_base64: &str,
    secret_access_key: &str,
    time: SystemTime,
    region: &str,
) -> String {
    let signing_key = generate_signing_key(secret_access_key, time, region, "s3");
    calculate_signature(signing_key, policy_base64.as_bytes())
}

/// Builds and signs the policy for `request`.
pub fn presign_post(request: &PostPolicyRequest<'_>) -> PresignedPost {
    // Whole seconds: `x-amz-date` has no finer unit, and the signing key's
    // date is taken from the same instant.
    let now_ms = epoch_ms(request.now) / 1000 * 1000;
    let now = UNIX_EPOCH + Duration::from_millis(u64::try_from(now_ms).unwrap_or(0));
    let expires_at_ms = now_ms
        .saturating_add(i64::try_from(request.expires_in.as_millis()).unwrap_or(i64::MAX / 2));
    let date = amz_date(now_ms);
    let credential = format!(
        "{}/{}/{}/s3/aws4_request",
        request.credentials.access_key_id,
        date.get(..8).unwrap_or_default(),
        request.region
    );

    let mut conditions = vec![
        json!({ "bucket": request.bucket }),
        json!(["eq", "$key", request.key]),
        json!(["eq", "$Content-Type", request.content_type]),
        json!(["content-length-range", 1, request.max_bytes]),
        json!({ "x-amz-algorithm": ALGORITHM }),
        json!({ "x-amz-credential": credential }),
        json!({ "x-amz-date": date }),
    ];
    if let Some(token) = request.credentials.session_token {
        conditions.push(json!({ "x-amz-security-token": token }));
    }
    let policy = json!({
        "expiration": format_iso8601(expires_at_ms),
        "conditions": conditions,
    });
    let policy_base64 = aws_smithy_types::base64::encode(policy.to_string());
    let signature = sign_policy(
        &policy_base64,
        request.credentials.secret_access_key,
        now,
        request.region,
    );

    let mut fields = vec![
        ("key", request.key.to_owned()),
        ("Content-Type", request.content_type.to_owned()),
        ("x-amz-algorithm", ALGORITHM.to_owned()),
        ("x-amz-credential", credential),
        ("x-amz-date", date),
    ];
    if let Some(token) = request.credentials.session_token {
        fields.push(("x-amz-security-token", token.to_owned()));
    }
    fields.push(("policy", policy_base64));
    fields.push(("x-amz-signature", signature));
    PresignedPost {
        fields,
        expires_at_ms,
        policy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example credentials of AWS's documentation.
    const EXAMPLE_ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
    const EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    /// AWS's documented example, "Example: Browser-Based Upload using HTTP
    /// POST (Using AWS Signature Version 4)" in the Amazon S3 API Reference
    /// (sigv4-post-example): the base64 policy signed on 2015-12-29 in
    /// us-east-1 with the example credentials, and the signature the page
    /// gives for it. The same value comes out of Python's `hmac`/`hashlib`
    /// computing the documented steps by hand:
    ///
    /// ```text
    /// k = b"AWS4" + secret
    /// for part in ("20151229", "us-east-1", "s3", "aws4_request"):
    ///     k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    /// hmac.new(k, policy_base64.encode(), hashlib.sha256).hexdigest()
    /// ```
    const AWS_EXAMPLE_POLICY: &str = concat!(
        "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7",
        "ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91",
        "c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3Qi",
        "OiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwi",
        "fSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRh",
        "LXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVT",
        "MjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNy",
        "ZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9",
        "LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAi",
        "MjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9",
    );
    const AWS_EXAMPLE_SIGNATURE: &str =
        "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e";
    /// 2015-12-29T00:00:00Z.
    const AWS_EXAMPLE_TIME_S: u64 = 1_451_347_200;

    #[test]
    fn signature_matches_the_aws_documentation_example() {
        let time = UNIX_EPOCH + Duration::from_secs(AWS_EXAMPLE_TIME_S);
        assert_eq!(
            sign_policy(AWS_EXAMPLE_POLICY, EXAMPLE_SECRET, time, "us-east-1"),
            AWS_EXAMPLE_SIGNATURE
        );
        // Any second of the same UTC day signs the same: the key uses the date.
        let later = time + Duration::from_secs(86_399);
        assert_eq!(
            sign_policy(AWS_EXAMPLE_POLICY, EXAMPLE_SECRET, later, "us-east-1"),
            AWS_EXAMPLE_SIGNATURE
        );
        let next_day = time + Duration::from_secs(86_400);
        assert_ne!(
            sign_policy(AWS_EXAMPLE_POLICY, EXAMPLE_SECRET, next_day, "us-east-1"),
            AWS_EXAMPLE_SIGNATURE
        );
    }

    fn request(session_token: Option<&str>) -> PostPolicyRequest<'_> {
        PostPolicyRequest {
            bucket: "ccp-logs-example",
            key: "uploads/alice/20151229T000000.000Z-agent-log.txt",
            content_type: "text/plain",
            max_bytes: 2 << 30,
            region: "us-east-1",
            credentials: SigningCredentials {
                access_key_id: EXAMPLE_ACCESS_KEY,
                secret_access_key: EXAMPLE_SECRET,
                session_token,
            },
            // Milliseconds are dropped: x-amz-date counts whole seconds.
            now: UNIX_EPOCH + Duration::from_millis(AWS_EXAMPLE_TIME_S * 1000 + 999),
            expires_in: Duration::from_secs(300),
        }
    }

    #[test]
    fn the_policy_pins_key_type_size_and_expiry() {
        let post = presign_post(&request(None));
        assert_eq!(
            post.policy,
            json!({
                "expiration": "2015-12-29T00:05:00.000Z",
                "conditions": [
                    {"bucket": "ccp-logs-example"},
                    ["eq", "$key", "uploads/alice/20151229T000000.000Z-agent-log.txt"],
                    ["eq", "$Content-Type", "text/plain"],
                    ["content-length-range", 1, 2u64 << 30],
                    {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
                    {"x-amz-credential": "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"},
                    {"x-amz-date": "20151229T000000Z"}
                ]
            })
        );
        assert_eq!(post.expires_at_ms, (AWS_EXAMPLE_TIME_S + 300) as i64 * 1000);
        let names: Vec<&str> = post.fields.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "key",
                "Content-Type",
                "x-amz-algorithm",
                "x-amz-credential",
                "x-amz-date",
                "policy",
                "x-amz-signature"
            ]
        );
        // The policy field is the base64 of the document, and the signature
        // is the one over exactly that text.
        let policy_b64 = post.field("policy").unwrap();
        let decoded: Value =
            serde_json::from_slice(&aws_smithy_types::base64::decode(policy_b64).unwrap()).unwrap();
        assert_eq!(decoded, post.policy);
        let time = UNIX_EPOCH + Duration::from_secs(AWS_EXAMPLE_TIME_S);
        assert_eq!(
            post.field("x-amz-signature"),
            Some(sign_policy(policy_b64, EXAMPLE_SECRET, time, "us-east-1").as_str())
        );
        // Every field the browser sends but the policy and the signature has
        // a condition (S3 refuses a form field the policy does not list).
        for (name, value) in &post.fields {
            if matches!(*name, "policy" | "x-amz-signature") {
                continue;
            }
            let listed = post.policy["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| {
                    c.get(name).and_then(Value::as_str) == Some(value)
                        || (c[0] == "eq" && c[1] == format!("${name}") && c[2] == value.as_str())
                });
            assert!(listed, "field {name} has no condition");
        }
    }

    #[test]
    fn a_session_token_is_sent_and_listed() {
        let post = presign_post(&request(Some("FwoGZXIvYXdzEXAMPLE//token")));
        assert_eq!(
            post.field("x-amz-security-token"),
            Some("FwoGZXIvYXdzEXAMPLE//token")
        );
        let conditions = post.policy["conditions"].as_array().unwrap();
        assert!(
            conditions.contains(&json!({"x-amz-security-token": "FwoGZXIvYXdzEXAMPLE//token"}))
        );
        // The form's order: the token before the policy and signature.
        let names: Vec<&str> = post.fields.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names[5..],
            ["x-amz-security-token", "policy", "x-amz-signature"]
        );
    }

    #[test]
    fn the_secret_is_never_in_the_form_or_the_debug_output() {
        let req = request(Some("session-token-value"));
        let post = presign_post(&req);
        for (_, value) in &post.fields {
            assert!(!value.contains(EXAMPLE_SECRET));
        }
        let debug = format!("{req:?}");
        assert!(!debug.contains(EXAMPLE_SECRET), "{debug}");
        assert!(!debug.contains("session-token-value"), "{debug}");
    }

    #[test]
    fn dates_are_sigv4_shaped() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(
            amz_date(AWS_EXAMPLE_TIME_S as i64 * 1000 + 5),
            "20151229T000000Z"
        );
    }
}
