//! The `ccp-disconnect` command line.

#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use ccp_disconnect_core::{Document, Options, Source, Status, classify, render};

mod contact_records;
mod parallel;

#[derive(Parser)]
#[command(
    name = "ccp-disconnect",
    version,
    about = "Who hung up? Reads Amazon Connect CCP agent logs and decides, for every call, who disconnected."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Classify every call in one or more CCP logs (`-` reads standard input).
    Classify {
        /// Log files: JSON array (agent-log.txt), legacy `_logs` object or
        /// NDJSON, optionally gzip-compressed.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// What to print on standard output.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
        /// Also write `<input file name>.json` (the result document) for each
        /// input into this directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Also write `<input file name>.html` (a self-contained report page)
        /// for each input into this directory.
        #[arg(long, value_name = "DIR")]
        html: Option<PathBuf>,
        /// Keep phone numbers and e-mail addresses in evidence text.
        #[arg(long)]
        no_redact: bool,
        /// Cross-check with Amazon Connect contact records: files or
        /// directories of the contact record stream (Firehose output,
        /// gzip or not), JSON arrays, or `aws connect describe-contact`
        /// output. Repeat the option for more paths.
        #[arg(long, value_name = "PATH")]
        contact_records: Vec<PathBuf>,
        /// Files read at once (default: the available parallelism). Output
        /// order, files written and exit status do not depend on it.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
    },
    /// Write a large generated CCP log (for tests and benchmarks), streamed.
    Sample {
        /// Size in megabytes (10^6 bytes, before compression); the log ends
        /// in the middle of one last call once this much is written.
        #[arg(long, value_name = "N")]
        mb: f64,
        /// Seed: the same seed, size and format give the same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_enum, default_value_t = SampleFormatArg::Pretty)]
        format: SampleFormatArg,
        /// Which extra entries surround the calls: the AWS client's snapshot
        /// responses, configuration polls, frequent metrics, nested softphone
        /// lines. The calls and their labels stay the same.
        #[arg(long, value_enum, default_value_t = LayoutArg::Current)]
        layout: LayoutArg,
        /// Compress the output with gzip.
        #[arg(long)]
        gzip: bool,
        /// Also write the expected verdict of every generated call (JSON).
        #[arg(long, value_name = "FILE")]
        labels: Option<PathBuf>,
        /// Output file (standard output when absent or `-`).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum SampleFormatArg {
    /// `JSON.stringify(logs, undefined, 4)`, as the CCP downloads it.
    Pretty,
    /// A JSON array on one line.
    Compact,
    /// One entry per line.
    Ndjson,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum LayoutArg {
    /// Snapshots, heartbeats, API and softphone lines, metrics every ~30 s.
    Current,
    /// Plus the AWS client's snapshot responses and configuration polls.
    Interleaved,
    /// Interleaved, plus softphone metrics about twice a second while talking.
    Metrics,
    /// Interleaved, with softphone lines nested through the 2025+ Peer
    /// Connection Manager.
    Persistent,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum OutputFormat {
    /// A readable table per file.
    Table,
    /// The result document (JSON, pretty-printed; one per input).
    Json,
    /// A self-contained HTML report page (one per input).
    Html,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Classify {
            files,
            format,
            out,
            html,
            no_redact,
            contact_records,
            jobs,
        } => {
            let options = Options {
                redact: !no_redact,
                ..Options::default()
            };
            let jobs = jobs.map_or_else(
                || std::thread::available_parallelism().map_or(1, |n| n.get()),
                usize::from,
            );
            classify_files(
                &files,
                format,
                out.as_deref(),
                html.as_deref(),
                &options,
                &contact_records,
                jobs,
            )
        }
        Command::Sample {
            mb,
            seed,
            format,
            layout,
            gzip,
            labels,
            output,
        } => sample(
            mb,
            seed,
            format,
            layout,
            gzip,
            labels.as_deref(),
            output.as_deref(),
        ),
    }
}

fn sample(
    mb: f64,
    seed: u64,
    format: SampleFormatArg,
    layout: LayoutArg,
    gzip: bool,
    labels: Option<&Path>,
    output: Option<&Path>,
) -> ExitCode {
    use ccp_disconnect_sample::{self as sample, Layout, SampleConfig, SampleFormat};
    if !(mb.is_finite() && mb >= 0.0) {
        eprintln!("ccp-disconnect: --mb must be a non-negative number");
        return ExitCode::from(2);
    }
    let format = match format {
        SampleFormatArg::Pretty => SampleFormat::Pretty,
        SampleFormatArg::Compact => SampleFormat::Compact,
        SampleFormatArg::Ndjson => SampleFormat::Ndjson,
    };
    let layout = match layout {
        LayoutArg::Current => Layout::Current,
        LayoutArg::Interleaved => Layout::Interleaved,
        LayoutArg::Metrics => Layout::Metrics,
        LayoutArg::Persistent => Layout::Persistent,
    };
    let config = SampleConfig::new((mb * 1e6) as u64, seed, format).with_layout(layout);
    let target = output.filter(|p| p.as_os_str() != "-");
    let sink: Box<dyn Write> = match target {
        Some(path) => match File::create(path) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("ccp-disconnect: cannot create {}: {e}", path.display());
                return ExitCode::from(1);
            }
        },
        None => Box::new(io::stdout().lock()),
    };
    let result = (|| -> io::Result<sample::SampleSummary> {
        let buffered = BufWriter::with_capacity(1 << 20, sink);
        if gzip {
            let mut enc = flate2::write::GzEncoder::new(buffered, flate2::Compression::default());
            let summary = sample::generate(&mut enc, &config)?;
            enc.finish()?.flush()?;
            Ok(summary)
        } else {
            let mut buffered = buffered;
            let summary = sample::generate(&mut buffered, &config)?;
            buffered.flush()?;
            Ok(summary)
        }
    })();
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ccp-disconnect: writing the sample failed: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(path) = labels {
        let written = File::create(path)
            .and_then(|f| sample::write_labels(BufWriter::new(f), &config, &summary));
        if let Err(e) = written {
            eprintln!("ccp-disconnect: cannot write {}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    if target.is_some() {
        eprintln!(
            "ccp-disconnect: {} bytes, {} entries, {} calls",
            summary.bytes,
            summary.entries,
            summary.labels.len()
        );
    }
    ExitCode::SUCCESS
}

fn classify_files(
    files: &[PathBuf],
    format: OutputFormat,
    out: Option<&Path>,
    html_dir: Option<&Path>,
    options: &Options,
    records: &[PathBuf],
    jobs: usize,
) -> ExitCode {
    // With contact records every log is read first (see contact_records.rs).
    let mut checked = if records.is_empty() {
        Vec::new().into_iter()
    } else {
        match contact_records::classify_all(files, records, |p| read_one(p, options)) {
            Ok(docs) => docs.into_iter(),
            Err(message) => {
                eprintln!("ccp-disconnect: {message}");
                return ExitCode::from(1);
            }
        }
    };
    if let Some(dir) = out
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("ccp-disconnect: cannot create {}: {e}", dir.display());
        return ExitCode::from(2);
    }
    if let Some(dir) = html_dir
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("ccp-disconnect: cannot create {}: {e}", dir.display());
        return ExitCode::from(2);
    }
    let progress = files.len() > 1 && io::stderr().is_terminal();
    let stdout = io::stdout();
    let mut report = Report {
        stdout: BufWriter::new(stdout.lock()),
        failed: false,
        progress,
        total: files.len(),
    };
    let outputs = Outputs {
        format,
        out,
        html_dir,
    };
    let jobs = jobs.clamp(1, files.len().max(1));
    if jobs == 1 || !records.is_empty() {
        // With contact records the logs were read already, in order.
        for (n, path) in files.iter().enumerate() {
            report.start(n, path);
            let result = checked.next().unwrap_or_else(|| read_one(path, options));
            // One at a time: each is written straight to stdout.
            let rendered = outputs.render(path, result, 0);
            if report.emit(path, &outputs, rendered).is_break() {
                return report.exit();
            }
        }
    } else {
        parallel::run(files, options, &outputs, jobs, &mut report);
    }
    if progress {
        eprint!("\r\x1b[K");
    }
    let _ = report.stdout.flush();
    report.exit()
}

/// Where and how `classify` puts each file's result. Shared by the workers:
/// rendering and writing the files is most of the work after reading, and
/// happens wherever the file was read.
struct Outputs<'a> {
    format: OutputFormat,
    out: Option<&'a Path>,
    html_dir: Option<&'a Path>,
}

/// One file's result as `classify` reports it: its messages for stderr, in
/// order, and what it prints. The same whether the files were read one after
/// another or in parallel.
struct Rendered {
    errors: Vec<String>,
    stdout: Printed,
}

/// What a file prints: rendered already, or left to be written straight to
/// stdout (a large document rendered in memory would hold it twice).
enum Printed {
    Nothing,
    Bytes(Vec<u8>),
    Later(Box<Document>),
}

/// In parallel, documents with at most this many calls are rendered by the
/// worker that read them (a few hundred KiB at most); larger ones are
/// written out by the main thread as they are rendered.
const RENDER_IN_WORKER_CALLS: usize = 64;

impl Outputs<'_> {
    /// Writes the `--out` and `--html` files of one result, and renders what
    /// it prints when it has at most `render_calls` calls.
    fn render(
        &self,
        path: &Path,
        result: Result<Document, String>,
        render_calls: usize,
    ) -> Rendered {
        let mut errors = Vec::new();
        let doc = match result {
            Ok(doc) => doc,
            Err(message) => {
                errors.push(format!("{}: {message}", path.display()));
                return Rendered {
                    errors,
                    stdout: Printed::Nothing,
                };
            }
        };
        if let (Status::Rejected, Some(err)) = (doc.status, &doc.error) {
            errors.push(format!("{}: rejected: {}", path.display(), err.message));
        }
        if let Some(dir) = self.out {
            let name = match path.file_name() {
                Some(name) if path.as_os_str() != "-" => name.to_os_string(),
                _ => "stdin".into(),
            };
            let mut target = dir.join(name);
            target.as_mut_os_string().push(".json");
            let written = File::create(&target).and_then(|f| {
                let mut w = BufWriter::new(f);
                render::json::write_line(&mut w, &doc)?;
                w.flush()
            });
            if let Err(e) = written {
                errors.push(format!("cannot write {}: {e}", target.display()));
            }
        }
        if let Some(dir) = self.html_dir
            && let Err(message) = write_html(dir, path, &doc)
        {
            errors.push(message);
        }
        let stdout = if doc.calls.len() <= render_calls {
            let mut bytes = Vec::new();
            // Writing into memory cannot fail.
            let _ = self.print(&mut bytes, path, &doc);
            Printed::Bytes(bytes)
        } else {
            Printed::Later(Box::new(doc))
        };
        Rendered { errors, stdout }
    }

    /// Writes what `doc` (the result of `path`) prints.
    fn print(&self, out: &mut impl Write, path: &Path, doc: &Document) -> io::Result<()> {
        match self.format {
            OutputFormat::Json => render::json::write_pretty(out, doc),
            OutputFormat::Html => out.write_all(render::html::render(doc).as_bytes()),
            OutputFormat::Table => render::table::write(out, path.display(), doc),
        }
    }
}

/// What `classify` prints for each file, in the files' order.
struct Report<W: Write> {
    stdout: W,
    failed: bool,
    progress: bool,
    total: usize,
}

impl<W: Write> Report<W> {
    fn exit(&self) -> ExitCode {
        ExitCode::from(if self.failed { 1 } else { 0 })
    }

    fn start(&self, n: usize, path: &Path) {
        if self.progress {
            eprint!("\r\x1b[K[{}/{}] {}", n + 1, self.total, path.display());
        }
    }

    /// Reports one file's result. `Break` when stdout is closed (e.g. piped
    /// into `head`): nothing more to say.
    fn emit(&mut self, path: &Path, outputs: &Outputs<'_>, rendered: Rendered) -> ControlFlow<()> {
        for message in &rendered.errors {
            if self.progress {
                eprintln!();
            }
            eprintln!("ccp-disconnect: {message}");
            self.failed = true;
        }
        let written = match rendered.stdout {
            Printed::Nothing => Ok(()),
            Printed::Bytes(bytes) => self.stdout.write_all(&bytes),
            Printed::Later(doc) => outputs.print(&mut self.stdout, path, &doc),
        };
        if written.is_err() {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }
}

/// `--html DIR`: writes `<DIR>/<input file name>.html`, named as `--out`
/// names `<input file name>.json` (`stdin.html` for `-`).
fn write_html(dir: &Path, input: &Path, doc: &Document) -> Result<(), String> {
    let name = match input.file_name() {
        Some(name) if input.as_os_str() != "-" => name.to_os_string(),
        _ => "stdin".into(),
    };
    let mut target = dir.join(name);
    target.as_mut_os_string().push(".html");
    std::fs::write(&target, render::html::render(doc))
        .map_err(|e| format!("cannot write {}: {e}", target.display()))
}

fn read_one(path: &Path, options: &Options) -> Result<Document, String> {
    let is_stdin = path.as_os_str() == "-";
    let source = Source {
        file: Some(path.display().to_string()),
        ..Source::default()
    };
    let input: Box<dyn Read> = if is_stdin {
        Box::new(io::stdin().lock())
    } else {
        let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
        Box::new(file)
    };
    let mut source = source;
    if !is_stdin {
        source.size = std::fs::metadata(path).ok().map(|m| m.len());
    }
    classify(input, source, options).map_err(|e| e.to_string())
}
