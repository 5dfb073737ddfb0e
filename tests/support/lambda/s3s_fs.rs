//! s3s-fs: a second local S3-compatible server, for what moto does not do.
//!
//! moto stores a browser POST without checking its policy or signature;
//! s3s (the library under s3s-fs) checks both, as S3 does: the signature
//! over the base64 policy, the expiration, every `eq`/`starts-with`
//! condition, `content-length-range`, and that every form field is covered
//! by a condition. `scripts/test` installs the pinned version into
//! `target/ci-tools/` and puts it on `PATH`. Used by the presign tests and
//! by the upload API stand-in (`gateway.rs`), in front of moto.

use std::process::Command;

use aws_sdk_s3::config::Credentials;

use super::{ACCESS_KEY, LocalS3, SECRET_KEY, free_port, s3_client};
use crate::support::TempDir;

/// The pinned version `scripts/test` installs.
pub const S3S_FS_VERSION: &str = "0.14.1";

/// An s3s-fs server on 127.0.0.1 over a temporary folder (`endpoint`,
/// `client()`), killed when dropped. It accepts the tests' usual
/// credentials ([`ACCESS_KEY`], [`SECRET_KEY`]) unless started with others,
/// and checks every signature.
pub struct S3sFs {
    // Declared first, dropped first: the server stops before its folder goes.
    server: LocalS3,
    pub root: TempDir,
    access_key: String,
    secret_key: String,
}

impl std::ops::Deref for S3sFs {
    type Target = LocalS3;
    fn deref(&self) -> &LocalS3 {
        &self.server
    }
}

impl S3sFs {
    /// Starts `s3s-fs` (from `PATH`, or the path in `S3S_FS`). Panics with
    /// install instructions when it is not there.
    pub fn start() -> S3sFs {
        S3sFs::start_with_credentials(ACCESS_KEY, SECRET_KEY)
    }

    /// Like [`S3sFs::start`], accepting only `access_key` with `secret_key`.
    pub fn start_with_credentials(access_key: &str, secret_key: &str) -> S3sFs {
        let program = std::env::var("S3S_FS").unwrap_or_else(|_| "s3s-fs".to_owned());
        let root = TempDir::new("s3s-fs");
        let port = free_port();
        let mut command = Command::new(&program);
        command
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", access_key, "--secret-key", secret_key])
            .arg(&*root);
        let hint = format!(
            "The presigned-POST and browser tests need s3s-fs, which checks POST policies: run \
             scripts/test, or `cargo install s3s-fs --version {S3S_FS_VERSION} --features \
             binary --locked --root target/ci-tools/s3s-fs-{S3S_FS_VERSION}` and put its bin \
             folder on PATH (or set S3S_FS to the binary)."
        );
        S3sFs {
            server: LocalS3::start(command, &program, port, &hint),
            root,
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
        }
    }

    /// An S3 client for this server, signing with its credentials.
    pub fn client(&self) -> aws_sdk_s3::Client {
        let config = s3_client(&self.endpoint)
            .config()
            .to_builder()
            .credentials_provider(Credentials::new(
                &self.access_key,
                &self.secret_key,
                None,
                None,
                "s3s-fs",
            ))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}
