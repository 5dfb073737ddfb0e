//! A Lambda binary of this crate (`bootstrap`, `presign`) as a process,
//! served by the Runtime API emulator ([`super::RuntimeApi`]).

use std::io::Read;
use std::process::{Child, Command, Stdio};

use super::{REGION, RuntimeApi};

/// A running function, killed when dropped.
pub struct Function {
    child: Child,
}

impl Function {
    /// Starts `program` (a `CARGO_BIN_EXE_*` path) with only what Lambda
    /// sets for every function (the Runtime API address, the function's
    /// name, version and memory, the region) plus `env`: credentials,
    /// endpoints and settings are the caller's to give.
    pub fn start(
        program: &str,
        api: &RuntimeApi,
        function_name: &str,
        env: &[(&str, &str)],
    ) -> Function {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Function {
            child: cmd
                .spawn()
                .unwrap_or_else(|e| panic!("start {program}: {e}")),
        }
    }

    /// Stops the function and returns what it wrote to stdout and stderr.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut out = String::new();
        if let Some(mut s) = self.child.stdout.take() {
            let _ = s.read_to_string(&mut out);
        }
        if let Some(mut s) = self.child.stderr.take() {
            let _ = s.read_to_string(&mut out);
        }
        out
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
