//! Many files on all cores: a bounded pool of worker threads reads the
//! files, writes their `--out` and `--html` files and renders what each
//! prints (when its document is small); the main thread prints the results
//! in the files' order.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, mpsc};

use ccp_disconnect_core::Options;

use super::{Outputs, RENDER_IN_WORKER_CALLS, Rendered, Report, read_one};

/// Results wait to be reported in order; a worker does not start a file
/// more than this many files (per worker) ahead of the next one to report,
/// so memory stays bounded by the workers' logs plus a few waiting documents
/// (or small rendered ones), however uneven the files' sizes.
const AHEAD_PER_WORKER: usize = 2;

/// The next file to start, the next to report, and whether to stop.
struct Queue {
    next: usize,
    reported: usize,
    stop: bool,
}

pub(super) fn run<W: Write>(
    files: &[PathBuf],
    options: &Options,
    outputs: &Outputs<'_>,
    jobs: usize,
    report: &mut Report<W>,
) {
    let ahead = jobs * AHEAD_PER_WORKER;
    let queue = Mutex::new(Queue {
        next: 0,
        reported: 0,
        stop: false,
    });
    let moved = Condvar::new();
    let (done, results) = mpsc::channel::<(usize, Rendered)>();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let done = done.clone();
            let (queue, moved) = (&queue, &moved);
            // The main thread's stack size: the reader never recurses,
            // but `serde_json` does on nested `objects`.
            std::thread::Builder::new()
                .stack_size(8 << 20)
                .spawn_scoped(scope, move || {
                    loop {
                        let n = {
                            let mut q = queue.lock().unwrap_or_else(|e| e.into_inner());
                            while !q.stop && q.next < files.len() && q.next >= q.reported + ahead {
                                q = moved.wait(q).unwrap_or_else(|e| e.into_inner());
                            }
                            if q.stop || q.next >= files.len() {
                                return;
                            }
                            q.next += 1;
                            q.next - 1
                        };
                        let result = read_one(&files[n], options);
                        let rendered = outputs.render(&files[n], result, RENDER_IN_WORKER_CALLS);
                        if done.send((n, rendered)).is_err() {
                            return;
                        }
                    }
                })
                .expect("spawn a worker thread");
        }
        drop(done);
        let mut waiting = BTreeMap::new();
        let mut next = 0;
        for (n, result) in results.iter() {
            waiting.insert(n, result);
            while let Some(result) = waiting.remove(&next) {
                report.start(next, &files[next]);
                let flow = report.emit(&files[next], outputs, result);
                next += 1;
                let mut q = queue.lock().unwrap_or_else(|e| e.into_inner());
                q.reported = next;
                q.stop |= flow.is_break();
                moved.notify_all();
                if flow.is_break() {
                    return;
                }
            }
        }
    });
}
