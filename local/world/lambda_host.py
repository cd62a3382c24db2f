"""Runs the real Lambda binaries behind the Lambda Runtime API, and answers moto's invocations.

Each function gets one process of its binary (mec-<step> from the binary folder) with
AWS_LAMBDA_RUNTIME_API pointing at a small Runtime API server of its own, the function's
environment variables as Terraform deployed them, and AWS_ENDPOINT_URL pointing back at the
emulator. Invocations of one function are served one at a time, in order.

A handler error comes back as Lambda reports it: the payload {errorType, errorMessage} with the
function-error header, so a Task fails with the errorType as its Error name.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RUNTIME_PREFIX = "/2018-06-01/runtime"


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    done: threading.Event = field(default_factory=threading.Event)
    result: bytes = b""
    error: bool = False


class FunctionRuntime:
    """One function: its Runtime API server, its process, its queue of invocations."""

    def __init__(self, name: str, binary: Path, environment: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.pending: queue.Queue[Invocation] = queue.Queue()
        self.in_flight: dict[str, Invocation] = {}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        port = self.server.server_address[1]
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [str(binary)],
            env={**environment, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}"},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def invoke(self, payload: bytes, timeout: float) -> Invocation:
        invocation = Invocation(str(uuid.uuid4()), payload)
        self.pending.put(invocation)
        if not invocation.done.wait(timeout):
            invocation.error = True
            invocation.result = json.dumps(
                {"errorType": "Sandbox.Timedout", "errorMessage": f"{self.name} timed out after {timeout:.0f} s"}
            ).encode()
        return invocation

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.server.shutdown()
        self.log.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _reply(self, status: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                if self.path != f"{RUNTIME_PREFIX}/invocation/next":
                    return self._reply(404)
                invocation = runtime.pending.get()
                with runtime.lock:
                    runtime.in_flight[invocation.request_id] = invocation
                self._reply(
                    200,
                    invocation.payload,
                    {
                        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                        "Lambda-Runtime-Deadline-Ms": "9999999999999",
                        "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:us-east-1:123456789012:function:{runtime.name}",
                        "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                    },
                )

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path[len(RUNTIME_PREFIX) :].strip("/").split("/")
                if parts[:1] == ["init"]:
                    runtime.log.write(b"init error: " + body + b"\n")
                    return self._reply(202)
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    with runtime.lock:
                        invocation = runtime.in_flight.pop(parts[1], None)
                    if invocation is None:
                        return self._reply(400)
                    invocation.result = body
                    invocation.error = parts[2] == "error"
                    invocation.done.set()
                    return self._reply(202)
                return self._reply(404)

        return Handler


class LambdaHost:
    """All functions of the world, started on their first invocation."""

    def __init__(self, binary_dir: Path, endpoint: str, log_dir: Path) -> None:
        self.binary_dir = binary_dir
        self.endpoint = endpoint
        self.log_dir = log_dir
        self.functions: dict[str, FunctionRuntime] = {}
        self.lock = threading.Lock()

    def runtime_for(self, function: Any) -> FunctionRuntime:
        """`function` is moto's LambdaFunction: its name, timeout and environment as deployed."""
        with self.lock:
            runtime = self.functions.get(function.function_name)
            if runtime is None or runtime.process.poll() is not None:
                binary = self.binary_dir / binary_name(function.function_name)
                environment = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
                    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
                    "AWS_REGION": "us-east-1",
                    "AWS_DEFAULT_REGION": "us-east-1",
                    "AWS_ACCESS_KEY_ID": "testing",
                    "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_ENDPOINT_URL": self.endpoint,
                    # As on Lambda: the SDK's user agent then names the execution environment,
                    # which is how the world's fault injection tells the steps' calls apart.
                    "AWS_EXECUTION_ENV": "AWS_Lambda_rust",
                    **(function.environment_vars or {}),
                }
                runtime = FunctionRuntime(function.function_name, binary, environment, self.log_dir)
                self.functions[function.function_name] = runtime
            return runtime

    def invoke(self, function: Any, payload: bytes, response_headers: dict[str, str]) -> bytes:
        invocation = self.runtime_for(function).invoke(payload, timeout=float(function.timeout) + 5)
        if invocation.error:
            response_headers["x-amz-function-error"] = "Unhandled"
        return invocation.result

    def stop(self) -> None:
        for runtime in self.functions.values():
            runtime.stop()


def binary_name(function_name: str) -> str:
    """`<prefix>-<step>` → `mec-<step>`: the binary of a step is named after the step."""
    return "mec-" + function_name.rsplit("-", 1)[-1]
