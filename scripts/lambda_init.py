#!/usr/bin/env python3
"""Measures the Lambda binary's init time the way AWS sees it: from process
start to its first `GET /2018-06-01/runtime/invocation/next` on the Runtime
API. A tiny listener on 127.0.0.1 plays the Runtime API; the binary is killed
as soon as the request arrives. Prints the median of N runs.

usage: scripts/lambda_init.py PATH/TO/bootstrap [RUNS]
"""
import os
import socket
import statistics
import subprocess
import sys
import time


def one_run(binary: str) -> float:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(10)
    port = listener.getsockname()[1]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": "ccp-disconnect",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "LOG_FORMAT": "json",
    }
    start = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        conn, _ = listener.accept()
        data = b""
        while b"\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        elapsed = time.perf_counter() - start
        if not data.startswith(b"GET /2018-06-01/runtime/invocation/next"):
            raise SystemExit(f"unexpected first request: {data[:80]!r}")
        conn.close()
        return elapsed
    finally:
        proc.kill()
        proc.wait()
        listener.close()


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    one_run(binary)  # warm the page cache
    times = sorted(one_run(binary) for _ in range(runs))
    size = os.path.getsize(binary)
    print(f"{binary}: {size / 1e6:.2f} MB, init median {statistics.median(times) * 1000:.1f} ms "
          f"(min {times[0] * 1000:.1f}, max {times[-1] * 1000:.1f}, {runs} runs)")


if __name__ == "__main__":
    main()
