//! s3s-fs: a second local S3-compatible server, for what moto does not do.
//!
//! moto stores a browser POST without checking its policy or signature;
//! s3s (the library under s3s-fs) checks both, as S3 does: the signature
//! over the base64 policy, the expiration, every `eq`/`starts-with`
//! condition, `content-length-range`, and that every form field is covered
//! by a condition. `scripts/test` installs the pinned version into
//! `target/ci-tools/` and puts it on `PATH`.

use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{ACCESS_KEY, PATIENCE, SECRET_KEY, free_port, http_get_ok, s3_client};
use crate::support::TempDir;

/// The pinned version `scripts/test` installs.
pub const S3S_FS_VERSION: &str = "0.14.1";

/// An s3s-fs server on 127.0.0.1 over a temporary folder, killed when
/// dropped. It accepts the tests' usual credentials ([`ACCESS_KEY`],
/// [`SECRET_KEY`]) and checks every signature.
pub struct S3sFs {
    child: Child,
    pub endpoint: String,
    pub root: TempDir,
}

impl S3sFs {
    /// Starts `s3s-fs` (from `PATH`, or the path in `S3S_FS`). Panics with
    /// install instructions when it is not there.
    pub fn start() -> S3sFs {
        let program = std::env::var("S3S_FS").unwrap_or_else(|_| "s3s-fs".to_owned());
        let root = TempDir::new("s3s-fs");
        let port = free_port();
        let child = Command::new(&program)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&*root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => panic!(
                "cannot start {program:?} ({e}). The presigned-POST tests need s3s-fs, which \
                 checks POST policies: run scripts/test, or `cargo install s3s-fs --version \
                 {S3S_FS_VERSION} --features binary --locked --root target/ci-tools/s3s-fs-{S3S_FS_VERSION}` \
                 and put its bin folder on PATH (or set S3S_FS to the binary)."
            ),
        };
        let mut server = S3sFs {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            root,
        };
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("{program} exited before it was ready ({status})");
            }
            if http_get_ok(port) {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "{program} did not answer on port {port}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn client(&self) -> aws_sdk_s3::Client {
        s3_client(&self.endpoint)
    }
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
