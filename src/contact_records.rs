//! `classify --contact-records`: cross-check the verdicts with Amazon
//! Connect's contact records.
//!
//! Which records to keep depends on which contacts the logs mention, so the
//! logs are classified first (their documents are kept: they are small, and
//! standard input cannot be read twice), then the records are streamed
//! through an index that keeps only those contacts, then every document gets
//! its `contact_record` blocks.

use std::fs::File;
use std::path::{Path, PathBuf};

use ccp_disconnect_core::Document;
use ccp_disconnect_core::contact_records::RecordIndex;

/// Problems shown per records file; the count of the rest is still given.
const SHOWN_PROBLEMS: usize = 20;

/// The documents of every log, cross-checked, in input order; `Err` holds
/// the message of a log that could not be read (the main loop reports it).
/// `Err(message)` overall: a records path is missing or unreadable.
pub fn classify_all(
    files: &[PathBuf],
    records: &[PathBuf],
    mut read_one: impl FnMut(&Path) -> Result<Document, String>,
) -> Result<Vec<Result<Document, String>>, String> {
    let record_files = expand(records)?;
    let mut docs: Vec<Result<Document, String>> = files.iter().map(|p| read_one(p)).collect();
    let mut index = RecordIndex::new(
        docs.iter()
            .flatten()
            .flat_map(RecordIndex::wanted_ids)
            .collect::<Vec<_>>(),
    );
    for path in &record_files {
        let file = File::open(path).map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
        let report = index
            .read(file, &path.display().to_string())
            .map_err(|e| format!("{}: cannot read contact records: {e}", path.display()))?;
        for problem in report.problems.iter().take(SHOWN_PROBLEMS) {
            eprintln!("ccp-disconnect: {}: {problem} (skipped)", path.display());
        }
        let more =
            report.problems.len().saturating_sub(SHOWN_PROBLEMS) as u64 + report.more_problems;
        if more > 0 {
            eprintln!(
                "ccp-disconnect: {}: {more} more unusable records (skipped)",
                path.display()
            );
        }
    }
    for doc in docs.iter_mut().flatten() {
        index.cross_check(doc);
    }
    Ok(docs)
}

/// Files as given, and the files of directories (recursively, sorted by
/// name, hidden entries skipped) so the output does not depend on the order
/// a file system lists them.
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
        if meta.is_dir() {
            walk(path, &mut out)?;
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .and_then(|rd| rd.map(|e| e.map(|e| e.path())).collect())
        .map_err(|e| format!("{}: cannot list: {e}", dir.display()))?;
    entries.sort();
    for path in entries {
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}
