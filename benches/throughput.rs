//! Throughput of `classify` on large generated logs, through a `std::fs::File`
//! (the streaming `Read` path the CLI and the Lambda use, not a slice), for
//! every generator layout, with the repeat fast path on and off.
//!
//! ```sh
//! cargo bench --bench throughput                  # ~100 MB inputs
//! CCP_BENCH_MB=20 cargo bench --bench throughput  # smaller, quicker
//! # One run over one file, for an instruction counter (callgrind, perf):
//! CCP_BENCH_ONE=path [CCP_BENCH_REUSE=0] target/release/deps/throughput-*
//! ```
//!
//! The inputs are written once by `ccp_disconnect_sample` under
//! `target/bench/` and reused while the generator version, seed, layout and
//! size are the same. Each case is run once to warm the page cache, then
//! three times per path; the best run is reported. Every run's verdicts are
//! also checked against the generator's labels.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ccp_disconnect_core::{Options, Source, classify};
use ccp_disconnect_sample::{
    self as sample, GENERATOR_VERSION, Label, Layout, SampleConfig, SampleFormat,
};

const SEED: u64 = 1;
/// Timed runs per case (after a warm-up), the best one reported;
/// `CCP_BENCH_RUNS` sets another number (wall clock on a busy machine
/// needs more).
const RUNS: usize = 3;

fn runs() -> usize {
    std::env::var("CCP_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(RUNS)
}

struct Case {
    layout: Layout,
    format: SampleFormat,
    gzip: bool,
}

impl Case {
    fn name(&self) -> String {
        format!(
            "{} {}{}",
            self.layout.as_str(),
            self.format.as_str(),
            if self.gzip { " gz" } else { "" }
        )
    }

    fn config(&self, bytes: u64) -> SampleConfig {
        SampleConfig::new(bytes, SEED, self.format).with_layout(self.layout)
    }
}

const fn case(layout: Layout, format: SampleFormat, gzip: bool) -> Case {
    Case {
        layout,
        format,
        gzip,
    }
}

const CASES: [Case; 9] = [
    case(Layout::Current, SampleFormat::Pretty, false),
    case(Layout::Interleaved, SampleFormat::Pretty, false),
    case(Layout::Metrics, SampleFormat::Pretty, false),
    case(Layout::Persistent, SampleFormat::Pretty, false),
    case(Layout::Current, SampleFormat::Compact, false),
    case(Layout::Interleaved, SampleFormat::Compact, false),
    case(Layout::Current, SampleFormat::Ndjson, false),
    case(Layout::Interleaved, SampleFormat::Ndjson, false),
    case(Layout::Current, SampleFormat::Pretty, true),
];

fn bench_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("bench")
}

/// Generates the input (atomically: a partial file is never reused) unless an
/// input from the same generator version, seed, layout and size is already
/// there.
fn input(dir: &Path, case: &Case, bytes: u64) -> std::io::Result<PathBuf> {
    let ext = match (case.format, case.gzip) {
        (SampleFormat::Pretty, false) => "pretty.json",
        (SampleFormat::Pretty, true) => "pretty.json.gz",
        (SampleFormat::Compact, _) => "compact.json",
        (SampleFormat::Ndjson, _) => "ndjson",
    };
    let path = dir.join(format!(
        "throughput-v{GENERATOR_VERSION}-seed{SEED}-{}-{}mb.{ext}",
        case.layout.as_str(),
        bytes / 1_000_000
    ));
    if path.exists() {
        return Ok(path);
    }
    eprintln!("generating {}", path.display());
    let tmp = path.with_extension("partial");
    let file = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
    let config = case.config(bytes);
    if case.gzip {
        let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        sample::generate(&mut enc, &config)?;
        enc.finish()?.flush()?;
    } else {
        let mut file = file;
        sample::generate(&mut file, &config)?;
        file.flush()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

struct Run {
    elapsed: Duration,
    bytes: u64,
    entries: u64,
    calls: usize,
    mismatches: usize,
}

fn run_once(path: &Path, labels: &[Label], reuse_repeats: bool) -> Run {
    let file = File::open(path).expect("open input");
    let options = Options {
        reuse_repeats,
        ..Options::default()
    };
    let start = Instant::now();
    let doc = classify(file, Source::default(), &options).expect("read input");
    let elapsed = start.elapsed();
    let log = doc.log.as_ref().expect("input rejected");
    let mismatches = labels
        .iter()
        .filter(|l| {
            !doc.calls.iter().any(|c| {
                c.contact_id == l.contact_id
                    && c.reason == l.reason
                    && c.disconnected_by == l.disconnected_by()
            })
        })
        .count()
        + doc.calls.len().abs_diff(labels.len());
    Run {
        elapsed,
        bytes: log.bytes,
        entries: log.entries,
        calls: doc.calls.len(),
        mismatches,
    }
}

fn best(path: &Path, labels: &[Label], reuse_repeats: bool) -> Run {
    run_once(path, labels, reuse_repeats); // warm-up: page cache, allocator
    (0..runs())
        .map(|_| run_once(path, labels, reuse_repeats))
        .min_by_key(|r| r.elapsed)
        .expect("runs")
}

fn gzip_dc(path: &Path) -> Option<Duration> {
    let mut best: Option<Duration> = None;
    for _ in 0..=runs() {
        let start = Instant::now();
        let status = Command::new("gzip")
            .arg("-dc")
            .arg(path)
            .stdout(Stdio::null())
            .status()
            .ok()?;
        if !status.success() {
            return None;
        }
        let t = start.elapsed();
        best = Some(best.map_or(t, |b| b.min(t)));
    }
    best
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> std::io::Result<()> {
    if let Some(path) = std::env::var_os("CCP_BENCH_ONE") {
        // One run, no labels: for counting instructions of exactly one pass.
        let reuse = std::env::var("CCP_BENCH_REUSE").map_or(true, |v| v != "0");
        let r = run_once(Path::new(&path), &[], reuse);
        println!(
            "{} bytes, {} entries, {} calls, {:.3} s (reuse_repeats {reuse})",
            r.bytes,
            r.entries,
            r.calls,
            r.elapsed.as_secs_f64()
        );
        return Ok(());
    }
    let mb: u64 = std::env::var("CCP_BENCH_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let bytes = mb * 1_000_000;
    let dir = bench_dir();
    std::fs::create_dir_all(&dir)?;

    let runs = runs();
    println!(
        "classify through std::fs::File, ~{mb} MB generated logs (seed {SEED}), best of {runs} after a warm-up; \
         `fast`: repeat fast path on (the default), `reference`: off"
    );
    println!(
        "{:<24} {:>7} {:>9} {:>10} {:>9} {:>14} {:>6} {:>6}",
        "layout format", "MB", "fast s", "fast MB/s", "ref MB/s", "entries/s", "calls", "wrong"
    );
    for case in &CASES {
        let path = input(&dir, case, bytes)?;
        let labels = sample::labels(&case.config(bytes))?;
        let stored = std::fs::metadata(&path)?.len();
        let fast = best(&path, &labels, true);
        let reference = best(&path, &labels, false);
        let secs = fast.elapsed.as_secs_f64();
        println!(
            "{:<24} {:>7.1} {:>9.3} {:>10.1} {:>9.1} {:>14.0} {:>6} {:>6}",
            case.name(),
            fast.bytes as f64 / 1e6,
            secs,
            fast.bytes as f64 / 1e6 / secs,
            reference.bytes as f64 / 1e6 / reference.elapsed.as_secs_f64(),
            fast.entries as f64 / secs,
            fast.calls,
            fast.mismatches + reference.mismatches
        );
        if case.gzip {
            println!(
                "{:<24} {:>7.1} compressed ({:.1} MB/s of compressed input)",
                "",
                stored as f64 / 1e6,
                stored as f64 / 1e6 / secs
            );
            match gzip_dc(&path) {
                Some(g) => println!(
                    "{:<24} gzip -dc > /dev/null: {:.3} s ({:.1} MB/s decompressed); classify takes {:.2}x gzip -dc",
                    "",
                    g.as_secs_f64(),
                    fast.bytes as f64 / 1e6 / g.as_secs_f64(),
                    secs / g.as_secs_f64()
                ),
                None => println!("{:<24} gzip -dc: not available", ""),
            }
        }
    }
    if let Some(kib) = peak_rss_kib() {
        println!(
            "peak RSS of this bench process (generation included): {:.1} MiB",
            kib as f64 / 1024.0
        );
    }
    Ok(())
}
