//! The upload page (`web/`) in headless Chromium against the local stand-in
//! of its deployment: the real `presign` function behind an emulated HTTP API
//! with a JWT authorizer, a stand-in OIDC provider, S3 (moto behind a front
//! where s3s-fs checks POST policies) and the real classifier run on each upload
//! (`tests/support/lambda/gateway.rs`). The checks themselves are in
//! `tests/browser/upload-page.mjs`; this test prepares the files, starts the
//! servers and then looks at the bucket.
//!
//! Needs Node, the pinned playwright-core and Chromium (scripts/test installs
//! them); `BROWSER_TESTS=0` skips it explicitly, anything missing fails it.

use std::path::Path;
use std::process::Command;

use crate::lambda_support::gateway::{BUCKET, Gateway, GatewayOptions, UPLOADS_PREFIX};
use crate::lambda_support::*;
use crate::support::{TempDir, fixture, repo_root};
use serde_json::{Value, json};

/// Small enough that an oversized file is quick to make, large enough for
/// the bundled sample (about 380 KB).
const MAX_BYTES: u64 = 1 << 20;

pub fn browser_tests_skipped(what: &str) -> bool {
    let skip = std::env::var_os("BROWSER_TESTS").is_some_and(|v| v == "0");
    if skip {
        eprintln!("BROWSER_TESTS=0: {what} is skipped");
    }
    skip
}

/// Runs `tests/browser/<script>` with `env`; panics with its output (and the
/// functions' logs) unless it succeeds. Returns its standard output.
pub fn run_browser_script(script: &str, env: &[(&str, String)], gateway: &Gateway) -> String {
    let node = std::env::var_os("NODE").unwrap_or_else(|| "node".into());
    let mut cmd = Command::new(&node);
    cmd.arg(repo_root().join("tests/browser").join(script))
        .current_dir(repo_root());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let run = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {node:?} ({e}): the browser tests need Node.js, the pinned \
             playwright-core and Chromium (scripts/test installs them); BROWSER_TESTS=0 skips them"
        )
    });
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{script} failed (BROWSER_TESTS=0 skips it):\n{stdout}\n{}\n{}",
        String::from_utf8_lossy(&run.stderr),
        gateway.function_logs()
    );
    stdout
}

/// The Knowledge Center call of `kc_agent.json` again under a contact id
/// made of markup (no spaces: a SIGNALING line's id ends at the first one):
/// the page must show it as text.
const HOSTILE_ID: &str = "<img/src=x/onerror=window.__pwned=1><script>window.__pwned=1</script>";

fn hostile_log(path: &Path) {
    let kc = std::fs::read_to_string(fixture("kc_agent.json")).unwrap();
    let log: Value = serde_json::from_str(&kc).unwrap();
    let renamed = kc.replace("f23586c4-1c7a-4e9b-bf88-5e3ccd504e34", HOSTILE_ID);
    let renamed: Value = serde_json::from_str(&renamed).unwrap();
    assert_ne!(log, renamed, "the fixture holds the Knowledge Center id");
    std::fs::write(path, serde_json::to_vec(&renamed).unwrap()).unwrap();
}

#[test]
fn agents_sign_in_upload_and_see_who_hung_up_but_never_each_others() {
    if browser_tests_skipped("the upload page test") {
        return;
    }
    let moto = Moto::start();
    let gateway = Gateway::start(
        &moto,
        GatewayOptions {
            max_bytes: MAX_BYTES,
            ..GatewayOptions::default()
        },
    );
    let dir = TempDir::new("upload-page");
    let not_a_log = dir.join("notes.txt");
    std::fs::write(&not_a_log, "hello, I am not a CCP log\n").unwrap();
    let oversized = dir.join("agent-log-big.txt");
    std::fs::write(&oversized, vec![b' '; MAX_BYTES as usize + 1]).unwrap();
    let hostile = dir.join("agent-log-hostile.txt");
    hostile_log(&hostile);
    let path = |p: &Path| p.to_str().unwrap().to_owned();

    let out = run_browser_script(
        "upload-page.mjs",
        &[
            ("STANDIN_ORIGIN", gateway.origin.clone()),
            ("S3_ORIGIN", gateway.s3_origin.clone()),
            ("IDP_ORIGIN", gateway.idp_origin.clone()),
            (
                "SAMPLE_LOG",
                path(&repo_root().join("events/agent-log.txt")),
            ),
            (
                "EXPECTED",
                path(&repo_root().join("events/agent-log.expected.json")),
            ),
            ("NOT_A_LOG", path(&not_a_log)),
            ("OVERSIZED", path(&oversized)),
            ("HOSTILE_LOG", path(&hostile)),
            ("HOSTILE_ID", HOSTILE_ID.to_owned()),
            ("MAX_BYTES", MAX_BYTES.to_string()),
        ],
        &gateway,
    );
    assert!(out.contains("upload page: all checks passed"), "{out}");

    // The bucket afterwards: Alice's folder holds only what Alice uploaded
    // (Bob's planted object was refused), Bob's folder exists, and every
    // upload went through the classifier.
    let alice = format!("{UPLOADS_PREFIX}{}/", Gateway::subject("agent-alice"));
    let bob = format!("{UPLOADS_PREFIX}{}/", Gateway::subject("agent-bob"));
    let alice_key = out
        .lines()
        .find_map(|l| l.strip_prefix("ALICE_KEY "))
        .expect("the script names Alice's key");
    assert!(alice_key.starts_with(&alice), "{alice_key} under {alice}");
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
    assert!(
        uploads
            .iter()
            .all(|k| k.starts_with(&alice) || k.starts_with(&bob)),
        "{uploads:?}"
    );
    assert!(!keys.iter().any(|k| k.ends_with("planted.txt")), "{keys:?}");
    // The sample (twice: once more for the timeout), the hostile log, the
    // text file; the oversized file, the form S3 refused (its key altered,
    // in Alice's folder) and the network failure stored nothing.
    assert!(
        uploads.iter().filter(|k| k.starts_with(&alice)).count() == 4,
        "{uploads:?}"
    );
    let doc = runtime.block_on(result_doc(
        &s3,
        BUCKET,
        &format!("results/{alice_key}.json"),
    ));
    assert_eq!(doc["summary"]["calls"], 7, "{doc}");
    assert_eq!(doc["source"]["key"], json!(alice_key));
    // The last upload may still be with the classifier.
    let deadline = std::time::Instant::now() + PATIENCE;
    let mut classified = gateway.classified();
    while classified.len() < uploads.len() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        classified = gateway.classified();
    }
    for key in &uploads {
        assert!(
            classified.iter().any(|(k, _)| k == *key),
            "{key} was not classified: {classified:?}"
        );
    }
}

/// Not a check: the same stand-in, kept running so that a person can try the
/// page by hand with a log of their own (`scripts/upload-page.sh`). Sign in
/// with any user name; each name is its own agent with its own folder.
#[test]
#[ignore = "serves until stopped; scripts/upload-page.sh runs it"]
fn serve_the_upload_page_for_a_person() {
    let moto = Moto::start();
    let max_bytes: u64 = std::env::var("MAX_OBJECT_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100 << 20);
    let gateway = Gateway::start(
        &moto,
        GatewayOptions {
            max_bytes,
            ..GatewayOptions::default()
        },
    );
    println!("upload page: {}/", gateway.origin);
    println!("sign in with any user name (no password); Ctrl-C stops everything");
    println!(
        "results land in moto at {} (bucket {BUCKET})",
        moto.endpoint
    );
    loop {
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}
