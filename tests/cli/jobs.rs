//! `classify --jobs N`: files are read in parallel, but what the user sees
//! (standard output, standard error, files written, exit status) is the same
//! for every N.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ccp-disconnect"))
}

/// Good logs of very different sizes (so parallel runs finish out of
/// order), rejected ones and unreadable paths, interleaved.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut big = Vec::new();
    ccp_disconnect_sample::generate(
        &mut big,
        &ccp_disconnect_sample::SampleConfig::new(
            1_500_000,
            5,
            ccp_disconnect_sample::SampleFormat::Pretty,
        )
        .with_layout(ccp_disconnect_sample::Layout::Interleaved),
    )
    .unwrap();
    let big_path = dir.join("big.json");
    std::fs::write(&big_path, &big).unwrap();
    files.push(big_path);
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(fixture(""))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".json") && !name.ends_with(".expect.json")
        })
        .collect();
    fixtures.sort();
    for (n, path) in fixtures.into_iter().take(12).enumerate() {
        files.push(path);
        match n % 4 {
            1 => {
                let bad = dir.join(format!("rejected-{n}.json"));
                std::fs::write(&bad, b"this is not a log").unwrap();
                files.push(bad);
            }
            2 => files.push(dir.join(format!("missing-{n}.json"))),
            3 => {
                let truncated = dir.join(format!("truncated-{n}.json"));
                std::fs::write(&truncated, &big[..big.len() / 3]).unwrap();
                files.push(truncated);
            }
            _ => {}
        }
    }
    files.push(repo_root().join("events/agent-log.txt"));
    files
}

struct Seen {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    written: Vec<(String, Vec<u8>)>,
}

fn run(files: &[PathBuf], format: &str, jobs: &str, out: &Path) -> Seen {
    let _ = std::fs::remove_dir_all(out);
    let output = bin()
        .args(["classify", "--format", format, "--jobs", jobs, "--out"])
        .arg(out)
        .args(files)
        .output()
        .unwrap();
    let mut written: Vec<(String, Vec<u8>)> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    written.sort();
    Seen {
        code: output.status.code(),
        stdout: output.stdout,
        stderr: output.stderr,
        written,
    }
}

#[test]
fn every_job_count_gives_the_same_output_files_and_status() {
    let dir = TempDir::new("same");
    let files = inputs(&dir);
    for format in ["json", "table"] {
        let one = run(&files, format, "1", &dir.join("out-1"));
        // The mix holds rejected and unreadable files: the status says so.
        assert_eq!(one.code, Some(1), "{format}");
        assert!(!one.stdout.is_empty());
        assert!(String::from_utf8_lossy(&one.stderr).contains("rejected"));
        assert!(String::from_utf8_lossy(&one.stderr).contains("cannot open"));
        assert!(one.written.len() >= 14, "{}", one.written.len());
        for jobs in ["2", "4", "7"] {
            let many = run(&files, format, jobs, &dir.join(format!("out-{jobs}")));
            assert_eq!(many.code, one.code, "{format} --jobs {jobs}");
            assert!(many.stdout == one.stdout, "{format} --jobs {jobs}: stdout");
            assert_eq!(
                String::from_utf8_lossy(&many.stderr),
                String::from_utf8_lossy(&one.stderr),
                "{format} --jobs {jobs}: stderr"
            );
            assert!(many.written == one.written, "{format} --jobs {jobs}: files");
        }
    }
}

#[test]
fn good_files_alone_succeed_with_many_jobs() {
    let dir = TempDir::new("good");
    let files: Vec<PathBuf> = inputs(&dir)
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !["rejected", "missing", "truncated"]
                .iter()
                .any(|bad| name.starts_with(bad))
        })
        .collect();
    let one = run(&files, "json", "1", &dir.join("out-1"));
    let four = run(&files, "json", "4", &dir.join("out-4"));
    assert_eq!(
        one.code,
        Some(0),
        "{}",
        String::from_utf8_lossy(&one.stderr)
    );
    assert_eq!(four.code, Some(0));
    assert!(one.stdout == four.stdout && one.written == four.written);
}

#[test]
fn zero_jobs_is_refused() {
    let out = bin()
        .args(["classify", "--jobs", "0"])
        .arg(repo_root().join("events/agent-log.txt"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
