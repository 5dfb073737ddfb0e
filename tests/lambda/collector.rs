//! The collector for custom CCPs (`web/collector.js`) in headless Chromium:
//! a custom CCP page on its own origin (`tests/browser/collector-ccp/`, with
//! a stubbed amazon-connect-streams `connect`) loads the collector from the
//! upload API and uploads through the stand-in (`gateway.rs`: the real
//! presign function, S3 POST policies checked by s3s-fs, the real
//! classifier). The checks are
//! in `tests/browser/collector.mjs`; this test serves the page, starts the
//! servers and then looks at the bucket.

use crate::lambda_support::gateway::{BUCKET, Gateway, GatewayOptions, StaticSite, UPLOADS_PREFIX};
use crate::lambda_support::*;
use crate::support::{TempDir, repo_root};
use crate::upload_page::{browser_tests_skipped, run_browser_script};
use serde_json::Value;

#[test]
fn a_custom_ccp_uploads_its_log_once_per_ended_contact() {
    if browser_tests_skipped("the collector test") {
        return;
    }
    let file = |name: &str| {
        std::fs::read(repo_root().join("tests/browser/collector-ccp").join(name)).unwrap()
    };
    let site = StaticSite::start(vec![
        ("/ccp.html", "text/html; charset=utf-8", file("ccp.html")),
        (
            "/connect-stub.js",
            "text/javascript",
            file("connect-stub.js"),
        ),
        ("/harness.js", "text/javascript", file("harness.js")),
    ]);
    let moto = Moto::start();
    // The custom CCP's origin is allowed by the API's and the bucket's CORS
    // configurations, as a deployment that uses the collector must be.
    let gateway = Gateway::start(
        &moto,
        GatewayOptions {
            extra_origins: vec![site.origin.clone()],
            ..GatewayOptions::default()
        },
    );
    let dir = TempDir::new("collector");
    let expect_file = dir.join("expectations.json");
    let out = run_browser_script(
        "collector.mjs",
        &[
            ("CCP_ORIGIN", site.origin.clone()),
            ("STANDIN_ORIGIN", gateway.origin.clone()),
            ("S3_ORIGIN", gateway.s3_origin.clone()),
            ("ID_TOKEN", gateway.id_token("agent-carol")),
            ("EXPECT_FILE", expect_file.to_str().unwrap().to_owned()),
        ],
        &gateway,
    );
    assert!(out.contains("collector: all checks passed"), "{out}");
    let successes: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("UPLOADS "))
        .and_then(|n| n.parse().ok())
        .expect("the script counts its uploads");

    // In the bucket: exactly the successful uploads, all in Carol's folder,
    // each one a CCP log the classifier read.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s3 = moto.client();
    let keys = runtime.block_on(list_keys(&s3, BUCKET));
    let uploads: Vec<&String> = keys
        .iter()
        .filter(|k| k.starts_with(UPLOADS_PREFIX))
        .collect();
    let carol = format!("{UPLOADS_PREFIX}{}/", Gateway::subject("agent-carol"));
    assert_eq!(uploads.len(), successes, "{uploads:?}");
    assert!(uploads.iter().all(|k| k.starts_with(&carol)), "{uploads:?}");
    // What the script saw the page hold when it uploaded: the objects hold
    // the same (the first byte for byte, as "Download logs" writes it).
    let expectations: Vec<Value> =
        serde_json::from_slice(&std::fs::read(&expect_file).unwrap()).unwrap();
    assert_eq!(expectations.len(), 3, "{out}");
    for e in &expectations {
        let key = e["key"].as_str().unwrap();
        let (body, _) = runtime
            .block_on(get(&s3, BUCKET, key))
            .unwrap_or_else(|| panic!("no object {key}"));
        let body = String::from_utf8(body).unwrap();
        if let Some(exact) = e["exact"].as_str() {
            assert_eq!(body, exact, "{key}");
        }
        for needle in e["contains"].as_array().into_iter().flatten() {
            assert!(body.contains(needle.as_str().unwrap()), "{key}: {needle}");
        }
    }
    for key in &uploads {
        let result = format!("results/{key}.json");
        let deadline = std::time::Instant::now() + PATIENCE;
        while runtime.block_on(get(&s3, BUCKET, &result)).is_none() {
            assert!(std::time::Instant::now() < deadline, "no result for {key}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let doc = runtime.block_on(result_doc(&s3, BUCKET, &result));
        assert_eq!(doc["status"], "ok", "{doc}");
        let calls = doc["calls"].as_array().unwrap();
        assert!(
            !calls.is_empty() && calls.iter().all(|c| c["disconnected_by"] == "agent"),
            "{doc}"
        );
    }
}
