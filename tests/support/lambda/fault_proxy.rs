//! A fault-injecting HTTP proxy for the S3 tests: it sits between the SDK
//! client and the local S3 server and, at a configurable rate, answers
//! `500 InternalError` or `503 SlowDown` itself, forwards the request but
//! closes the connection halfway through the response, or delays the
//! response. Every connection carries one request (`Connection: close`), so
//! a fault never leaks into the next request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// What the proxy can do to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `500 InternalError`, without forwarding.
    InternalError,
    /// `503 SlowDown`, without forwarding.
    SlowDown,
    /// Forwarded; the response is cut halfway through its body (or its
    /// head, when it has no body) and the connection closed.
    CutMidResponse,
    /// Forwarded after a pause.
    Delay,
}

pub const ALL_FAULTS: [Fault; 4] = [
    Fault::InternalError,
    Fault::SlowDown,
    Fault::CutMidResponse,
    Fault::Delay,
];

/// How many requests passed through, and how many got each fault.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub requests: u64,
    pub internal_error: u64,
    pub slow_down: u64,
    pub cut_mid_response: u64,
    pub delayed: u64,
    /// Conditional writes answered 501 (not a fault: a server setting).
    pub refused_conditional_writes: u64,
}

impl FaultCounts {
    pub fn faults(&self) -> u64 {
        self.internal_error + self.slow_down + self.cut_mid_response + self.delayed
    }
}

struct Settings {
    /// Share of requests that get a fault, in parts per million.
    rate_ppm: u64,
    faults: Vec<Fault>,
    delay: Duration,
    rng: u64,
    /// Answer `PutObject` with `If-Match`/`If-None-Match` with 501, as
    /// S3-compatible servers without conditional writes do.
    refuse_conditional_writes: bool,
}

/// Runs once, right after the first request matching it was answered.
type Hook = (String, String, Box<dyn FnOnce() + Send>);

struct State {
    upstream: String,
    hook: Mutex<Option<Hook>>,
    settings: Mutex<Settings>,
    requests: AtomicU64,
    counts: [AtomicU64; 4],
    refused: AtomicU64,
    closing: AtomicBool,
}

pub struct FaultProxy {
    pub endpoint: String,
    port: u16,
    state: Arc<State>,
}

impl FaultProxy {
    /// A proxy on 127.0.0.1 in front of `upstream` (`http://host:port`),
    /// injecting every kind of fault at `rate` (0.0 to 1.0), with faults
    /// drawn from a generator seeded with `seed`.
    pub fn start(upstream: &str, rate: f64, seed: u64) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let state = Arc::new(State {
            upstream: upstream
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_owned(),
            settings: Mutex::new(Settings {
                rate_ppm: 0,
                faults: ALL_FAULTS.to_vec(),
                delay: Duration::from_millis(50),
                rng: seed | 1,
                refuse_conditional_writes: false,
            }),
            hook: Mutex::new(None),
            requests: AtomicU64::new(0),
            counts: Default::default(),
            refused: AtomicU64::new(0),
            closing: AtomicBool::new(false),
        });
        super::accept_loop(
            listener,
            state.clone(),
            |s| s.closing.load(Ordering::SeqCst),
            serve,
        );
        let proxy = FaultProxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            state,
        };
        proxy.set_rate(rate);
        proxy
    }

    pub fn set_rate(&self, rate: f64) {
        self.state.settings.lock().unwrap().rate_ppm = (rate.clamp(0.0, 1.0) * 1e6) as u64;
    }

    /// Limits the faults injected to `faults`.
    pub fn set_faults(&self, faults: &[Fault]) {
        self.state.settings.lock().unwrap().faults = faults.to_vec();
    }

    pub fn refuse_conditional_writes(&self, refuse: bool) {
        self.state
            .settings
            .lock()
            .unwrap()
            .refuse_conditional_writes = refuse;
    }

    /// How long a [`Fault::Delay`] holds the response back.
    pub fn set_delay(&self, delay: Duration) {
        self.state.settings.lock().unwrap().delay = delay;
    }

    /// Runs `action` once, after the first `method` request whose path
    /// contains `path_part` has been answered: a way to make another writer
    /// act at an exact point between two requests of the code under test.
    pub fn after_first(
        &self,
        method: &str,
        path_part: &str,
        action: impl FnOnce() + Send + 'static,
    ) {
        *self.state.hook.lock().unwrap() =
            Some((method.to_owned(), path_part.to_owned(), Box::new(action)));
    }

    /// Injects faults at `rate` from the moment the first `method` request
    /// whose path contains `path_part` has been answered: that request gets
    /// through, the ones after it meet the faults.
    pub fn set_rate_after_first(&self, method: &str, path_part: &str, rate: f64) {
        let state = self.state.clone();
        self.after_first(method, path_part, move || {
            state.settings.lock().unwrap().rate_ppm = (rate.clamp(0.0, 1.0) * 1e6) as u64;
        });
    }

    pub fn counts(&self) -> FaultCounts {
        let c = |f: Fault| self.state.counts[f as usize].load(Ordering::SeqCst);
        FaultCounts {
            requests: self.state.requests.load(Ordering::SeqCst),
            internal_error: c(Fault::InternalError),
            slow_down: c(Fault::SlowDown),
            cut_mid_response: c(Fault::CutMidResponse),
            delayed: c(Fault::Delay),
            refused_conditional_writes: self.state.refused.load(Ordering::SeqCst),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.closing.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// The next fault, if this request gets one (xorshift64*: reproducible for
/// a seed, though thread scheduling decides which request draws which).
fn draw(state: &State) -> (Option<Fault>, Duration) {
    let mut s = state.settings.lock().unwrap();
    let mut next = || {
        s.rng ^= s.rng >> 12;
        s.rng ^= s.rng << 25;
        s.rng ^= s.rng >> 27;
        s.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let roll = next() % 1_000_000;
    let pick = next();
    let fault = (roll < s.rate_ppm && !s.faults.is_empty())
        .then(|| s.faults[(pick % s.faults.len() as u64) as usize]);
    (fault, s.delay)
}

/// A request as read from the client: its head (request line and headers,
/// without the blank line) and its body.
struct Request {
    method: String,
    head: Vec<String>,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>, writer: &mut TcpStream) -> Option<Request> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let method = head.first()?.split_whitespace().next()?.to_owned();
    let header = |name: &str| {
        head.iter().skip(1).find_map(|h| {
            let (n, v) = h.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    if header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
    }
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        body = super::read_chunked_body(reader)?;
    } else if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(n, 0);
        reader.read_exact(&mut body).ok()?;
    }
    // Forwarded with a plain length and no connection reuse.
    head.retain(|h| {
        let name = h.split(':').next().unwrap_or("").trim();
        ![
            "connection",
            "transfer-encoding",
            "expect",
            "content-length",
            "keep-alive",
        ]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
    });
    head.push(format!("Content-Length: {}", body.len()));
    head.push("Connection: close".to_owned());
    Some(Request { method, head, body })
}

fn serve(stream: TcpStream, state: &State) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let Some(request) = read_request(&mut reader, &mut writer) else {
        return;
    };
    state.requests.fetch_add(1, Ordering::SeqCst);
    let (fault, delay) = draw(state);
    if let Some(f) = fault {
        state.counts[f as usize].fetch_add(1, Ordering::SeqCst);
    }
    let is_head = request.method == "HEAD";
    let conditional = request.method == "PUT"
        && request.head.iter().any(|h| {
            let name = h.split(':').next().unwrap_or("").trim();
            name.eq_ignore_ascii_case("if-match") || name.eq_ignore_ascii_case("if-none-match")
        });
    if conditional && state.settings.lock().unwrap().refuse_conditional_writes {
        state.refused.fetch_add(1, Ordering::SeqCst);
        let _ = writer.write_all(&error_response(
            "501 Not Implemented",
            "NotImplemented",
            "A header you provided implies functionality that is not implemented",
            false,
        ));
        let _ = writer.shutdown(Shutdown::Both);
        return;
    }
    match fault {
        Some(Fault::InternalError) => {
            let _ = writer.write_all(&error_response(
                "500 Internal Server Error",
                "InternalError",
                "We encountered an internal error. Please try again.",
                is_head,
            ));
        }
        Some(Fault::SlowDown) => {
            let _ = writer.write_all(&error_response(
                "503 Slow Down",
                "SlowDown",
                "Please reduce your request rate.",
                is_head,
            ));
        }
        _ => {
            if fault == Some(Fault::Delay) {
                thread::sleep(delay);
            }
            let Some(response) = forward(&state.upstream, &request) else {
                let _ = writer.write_all(&error_response(
                    "502 Bad Gateway",
                    "BadGateway",
                    "the proxy could not reach the S3 server",
                    is_head,
                ));
                let _ = writer.shutdown(Shutdown::Both);
                return;
            };
            run_hook(state, &request);
            if fault == Some(Fault::CutMidResponse) {
                let head_end = find(&response, b"\r\n\r\n").map_or(response.len(), |i| i + 4);
                let cut = if response.len() > head_end {
                    head_end + (response.len() - head_end) / 2
                } else {
                    head_end / 2
                };
                let _ = writer.write_all(&response[..cut]);
            } else {
                let _ = writer.write_all(&response);
            }
        }
    }
    let _ = writer.flush();
    let _ = writer.shutdown(Shutdown::Both);
}

/// Runs the hook if `request` is the one it waits for: after the server
/// answered it, before the client sees the answer.
fn run_hook(state: &State, request: &Request) {
    let path = request.head[0].split_whitespace().nth(1).unwrap_or("");
    let hook = {
        let mut hook = state.hook.lock().unwrap();
        match &*hook {
            Some((method, part, _))
                if *method == request.method && path.contains(part.as_str()) =>
            {
                hook.take()
            }
            _ => None,
        }
    };
    if let Some((_, _, action)) = hook {
        action();
    }
}

/// Sends the request upstream and returns the whole raw response, read to
/// the end of the connection (the request asked for `Connection: close`).
fn forward(upstream: &str, request: &Request) -> Option<Vec<u8>> {
    let mut conn = TcpStream::connect(upstream).ok()?;
    conn.set_read_timeout(Some(super::PATIENCE)).ok()?;
    let mut out = request.head.join("\r\n").into_bytes();
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(&request.body);
    conn.write_all(&out).ok()?;
    let mut response = Vec::new();
    conn.read_to_end(&mut response).ok()?;
    // The client must not try to reuse a connection the proxy closes.
    let status_end = find(&response, b"\r\n")? + 2;
    response.splice(
        status_end..status_end,
        b"Connection: close\r\n".iter().copied(),
    );
    Some(response)
}

fn error_response(status: &str, code: &str, message: &str, is_head: bool) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>{message}</Message><RequestId>FAULTPROXY</RequestId></Error>"
    );
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nx-amz-request-id: FAULTPROXY\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        if is_head { 0 } else { body.len() }
    )
    .into_bytes();
    if !is_head {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
