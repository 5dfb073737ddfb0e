#!/usr/bin/env python3
"""Measures the Lambda binary as AWS runs it, with no AWS account: a local S3
server (moto_server, on PATH) holds generated logs, a minimal Lambda Runtime
API on 127.0.0.1 hands the binary S3 events one at a time, and for each object
the script reports the invocation time (event handed out -> response posted),
then the binary's peak RSS (VmHWM).

usage: scripts/bench_lambda.py BOOTSTRAP LOG_FILE [LOG_FILE...]
Each log is uploaded as uploads/<name>; each is invoked 1 + WARM times
(the first is the cold one; WARM=5 by default).
"""
import http.server
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

import boto3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def s3_event(bucket: str, key: str) -> bytes:
    return json.dumps({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": key}}}]}).encode()


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    events: "queue.Queue[bytes]" = queue.Queue()
    results: "queue.Queue[tuple[float, bytes]]" = queue.Queue()
    handed_out: dict = {}

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        body = self.events.get()
        rid = f"req-{time.monotonic_ns()}"
        self.handed_out[rid] = time.perf_counter()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", rid)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 900_000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                         "arn:aws:lambda:us-east-1:123456789012:function:ccp-disconnect")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        payload = self.rfile.read(length)
        rid = self.path.split("/")[-2]
        elapsed = time.perf_counter() - self.handed_out.pop(rid, time.perf_counter())
        self.send_response(202)
        self.end_headers()
        self.results.put((elapsed, self.path.rsplit("/", 1)[-1].encode() + b" " + payload))


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    binary, logs = sys.argv[1], sys.argv[2:]
    warm = int(os.environ.get("WARM", "5"))
    s3_port, api_port = free_port(), free_port()
    moto = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(s3_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = http.server.ThreadingHTTPServer(("127.0.0.1", api_port), RuntimeApi)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    proc = None
    try:
        endpoint = f"http://127.0.0.1:{s3_port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(endpoint, timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        s3.create_bucket(Bucket="bench")
        for log in logs:
            s3.upload_file(log, "bench", "uploads/" + os.path.basename(log))
        env = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api_port}",
            "AWS_LAMBDA_FUNCTION_NAME": "ccp-disconnect", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_ENDPOINT_URL_S3": endpoint, "S3_FORCE_PATH_STYLE": "true", "RUST_LOG": "warn",
        }
        proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"{'object':40} {'MB':>8} {'cold ms':>9} {'warm ms (median)':>17}")
        for log in logs:
            key = "uploads/" + os.path.basename(log)
            times = []
            for _ in range(1 + warm):
                RuntimeApi.events.put(s3_event("bench", key))
                elapsed, result = RuntimeApi.results.get(timeout=900)
                if not result.startswith(b"response "):
                    raise SystemExit(f"invocation failed: {result[:300]!r}")
                times.append(elapsed)
            size = os.path.getsize(log) / 1e6
            warm_ms = statistics.median(times[1:]) * 1000 if warm else float("nan")
            print(f"{key:40} {size:8.1f} {times[0] * 1000:9.1f} {warm_ms:17.1f}")
        with open(f"/proc/{proc.pid}/status") as status:
            hwm = next(line for line in status if line.startswith("VmHWM")).split()[1]
        print(f"peak RSS of the function process: {int(hwm) / 1024:.1f} MiB")
    finally:
        if proc:
            proc.kill()
        moto.kill()
        api.shutdown()


if __name__ == "__main__":
    main()
