//! The HTML report (`classify --format html`, `--html DIR`), and the reports
//! of every scenario, the bundled sample, a rejected input and a hostile log
//! opened in a real Chromium by `tests/browser/check-reports.mjs`.
//!
//! The browser part needs Node, the pinned playwright-core (scripts/test
//! installs it into target/ci-tools/) and Chromium. Without them it fails and
//! says what is missing; `BROWSER_TESTS=0` skips it explicitly.

use std::path::PathBuf;
use std::process::Command;

use crate::support::*;
use serde_json::{Value, json};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ccp-disconnect"))
}

#[test]
fn format_html_prints_the_page_and_html_dir_writes_the_same_bytes() {
    let dir = TempDir::new("out");
    let sample = repo_root().join("events/agent-log.txt");
    let out = bin()
        .args(["classify", "--format", "html", "--html"])
        .arg(&*dir)
        .arg(&sample)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>\n"), "{}", &page[..100]);
    assert!(page.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'sha256-"));
    assert!(page.ends_with("</html>\n"));
    // Named like --out's `<file name>.json`; same bytes as standard output
    // (nothing in the page depends on the run).
    let written = std::fs::read_to_string(dir.join("agent-log.txt.html")).unwrap();
    assert_eq!(written, page);
    // The sample's seven calls, as labelled in events/agent-log.expected.json.
    assert_eq!(page.matches("<section class=\"call ").count(), 7);
    assert!(page.contains(
        "<section class=\"call v-agent\" id=\"call-2\" data-contact-id=\"a5d8c1f0-3e6b-4a27-9c04-7b2e9f1d6a83\">"
    ));
    assert!(page.contains(
        "<section class=\"call v-not_connected\" id=\"call-3\" data-contact-id=\"72c0f9e3-b84d-4e16-a5f2-d9c3a6e0b185\">"
    ));
}

#[test]
fn standard_input_gets_stdin_html() {
    let dir = TempDir::new("stdin");
    let mut child = bin()
        .args(["classify", "--html"])
        .arg(&*dir)
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(fixture("kc_agent.json")).unwrap())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let page = std::fs::read_to_string(dir.join("stdin.html")).unwrap();
    assert!(page.contains("data-contact-id=\"f23586c4-1c7a-4e9b-bf88-5e3ccd504e34\""));
}

/// Uploader-controlled text in every place it reaches the page: a contact
/// id made of markup and bidi controls, an evidence line with markup, a
/// `javascript:` string, controls, NUL and a megabyte of text, and a
/// softphone error line.
const HOSTILE: &str = "\"><img src=x onerror=\"window.__pwned=1\"> javascript:alert(1) \u{202e}evil\u{202c} \u{2066}x\u{2069} nul\u{0} <script>window.__pwned=1</script>";
const HOSTILE_ID: &str =
    "<script>window.__pwned=1</script>\"><img/src=x/onerror=window.__pwned=1>\u{202e}id\u{2066}";
const KC_ID: &str = "f23586c4-1c7a-4e9b-bf88-5e3ccd504e34";

fn hostile_log() -> Vec<u8> {
    let kc: Vec<Value> =
        serde_json::from_slice(&std::fs::read(fixture("kc_agent.json")).unwrap()).unwrap();
    // A second copy of the KC call under the hostile id.
    let renamed: Vec<Value> = kc
        .iter()
        .map(|e| {
            let mut e = e.clone();
            let text = e["text"].as_str().unwrap().replace(KC_ID, HOSTILE_ID);
            e["text"] = json!(text);
            e
        })
        .collect();
    let mut log = kc;
    // Entry 25 is cited ("Agent disconnected successfully."); the match is
    // on its start, so the rest of the line can be anything.
    assert_eq!(log[25]["text"], "Agent disconnected successfully.");
    log[25]["text"] = json!(format!(
        "Agent disconnected successfully. {HOSTILE} {}",
        "A".repeat(1 << 20)
    ));
    let time = log[19]["time"].clone();
    log.insert(
        20,
        json!({"component": "softphone", "level": "ERROR", "time": time,
               "text": format!("Softphone error occurred : {HOSTILE}"), "objects": []}),
    );
    log.extend(renamed);
    serde_json::to_vec(&log).unwrap()
}

#[test]
fn reports_open_in_a_browser_as_users_see_them() {
    if std::env::var_os("BROWSER_TESTS").is_some_and(|v| v == "0") {
        eprintln!("BROWSER_TESTS=0: the browser check of the HTML reports is skipped");
        return;
    }
    let dir = TempDir::new("browser");
    let inputs = TempDir::new("browser-inputs");
    let hostile = inputs.join("hostile-log.txt");
    std::fs::write(&hostile, hostile_log()).unwrap();
    let not_a_log = inputs.join("not-a-log.txt");
    std::fs::write(&not_a_log, "hello, I am not a CCP log\n").unwrap();
    // What the hostile page must show as text, literally, and must not hold.
    std::fs::write(
        dir.join("hostile-log.txt.literal.json"),
        serde_json::to_vec(&json!({
            "shown": [
                "<script>window.__pwned=1</script>",
                "\"><img src=x onerror=\"window.__pwned=1\">",
                "javascript:alert(1)",
                "\\u{202e}evil\\u{202c} \\u{2066}x\\u{2069} nul\\u{0}",
                "<script>window.__pwned=1</script>\"><img/src=x/onerror=window.__pwned=1>\\u{202e}id\\u{2066}",
                // The megabyte line, cut (by the core) and said to be.
                "(may be cut: the result document keeps the first 400 bytes of an entry's text)",
            ],
            "absent": ["\u{202e}", "\u{2066}", "\u{0}"],
        }))
        .unwrap(),
    )
    .unwrap();

    let mut fixtures: Vec<PathBuf> =
        std::fs::read_dir(repo_root().join("tests/fixtures/scenarios"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_str().unwrap();
                name.ends_with(".json") && !name.ends_with(".expect.json")
            })
            .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 20, "{fixtures:?}");
    // Each scenario's hand-written labels go beside its report: the browser
    // check finds every labelled call and cited entry on the page.
    let mut labelled = 0;
    for f in &fixtures {
        let name = f.file_name().unwrap().to_str().unwrap();
        let labels = f.with_file_name(name.replace(".json", ".expect.json"));
        if labels.is_file() {
            std::fs::copy(&labels, dir.join(format!("{name}.labels.json"))).unwrap();
            labelled += 1;
        }
    }
    assert_eq!(labelled, fixtures.len(), "every scenario has its labels");
    std::fs::copy(
        repo_root().join("events/agent-log.expected.json"),
        dir.join("agent-log.txt.labels.json"),
    )
    .unwrap();
    let out = bin()
        .args(["classify", "--format", "json", "--html"])
        .arg(&*dir)
        .arg("--out")
        .arg(&*dir)
        .args(&fixtures)
        .arg(repo_root().join("events/agent-log.txt"))
        .arg(&hostile)
        .arg(&not_a_log)
        .output()
        .unwrap();
    // 1: the one input that is not a log; its page is still written.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pages = std::fs::read_dir(&*dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "html")
        })
        .count();
    assert_eq!(pages, fixtures.len() + 3);
    // The hostile log really does carry its text into the document: the
    // browser check below is about how the page shows it.
    let doc: Value =
        serde_json::from_slice(&std::fs::read(dir.join("hostile-log.txt.json")).unwrap()).unwrap();
    let ids: Vec<&str> = doc["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["contact_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [KC_ID, HOSTILE_ID]);
    assert!(
        doc["calls"][0]["evidence"][2]["text"]
            .as_str()
            .unwrap()
            .contains("<script>window.__pwned=1</script>")
    );

    let node = std::env::var_os("NODE").unwrap_or_else(|| "node".into());
    let run = Command::new(&node)
        .arg(repo_root().join("tests/browser/check-reports.mjs"))
        .arg(&*dir)
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {node:?} ({e}): the HTML report check needs Node.js, the pinned \
                 playwright-core and Chromium (scripts/test installs them); BROWSER_TESTS=0 skips it"
            )
        });
    assert!(
        run.status.success(),
        "the browser check of the HTML reports failed (BROWSER_TESTS=0 skips it):\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(
        report.contains(&format!("{} reports checked", fixtures.len() + 3)),
        "{report}"
    );
}
