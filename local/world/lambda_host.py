"""Runs the real Lambda binaries behind the Lambda Runtime API, and answers moto's invocations.

Like Lambda, a function scales out: each concurrent invocation runs in an execution environment
(one process of the binary mec-<step>, with AWS_LAMBDA_RUNTIME_API pointing at a Runtime API
server of its own), and a new environment starts when an invocation arrives while every existing
one is busy (up to MAX_ENVIRONMENTS per function). An environment serves one invocation at a
time and is reused, warm, for the next. Each gets the function's environment variables as
Terraform deployed them, and AWS_ENDPOINT_URL pointing back at the emulator.

A handler error comes back as Lambda reports it: the payload {errorType, errorMessage} with the
function-error header, so a Task fails with the errorType as its Error name.

Every invocation is recorded as one JSON line in <log dir>/invocations.jsonl: the function, the
time it waited for an environment, its duration (Runtime API hand-over to response), the init
time of a cold environment (process start to its first `invocation/next`), and the billed
milliseconds (init + duration, rounded up to the millisecond, as Lambda bills OS-only runtimes).
"""

from __future__ import annotations

import json
import math
import os
import queue
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from world import processes

RUNTIME_PREFIX = "/2018-06-01/runtime"
# Lambda's default account concurrency is 1,000; here each environment is a process on a small
# machine, so a function keeps at most this many.
MAX_ENVIRONMENTS = int(os.environ.get("MEC_LAMBDA_MAX_ENVIRONMENTS", "16"))


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    queued_at: float = field(default_factory=time.monotonic)
    done: threading.Event = field(default_factory=threading.Event)
    result: bytes = b""
    error: bool = False
    started_at: float = 0.0
    finished_at: float = 0.0
    init_ms: float | None = None


class Environment:
    """One execution environment: a process of the binary and the Runtime API it talks to."""

    def __init__(self, function: FunctionRuntime, binary: Path, environment: dict[str, str]) -> None:
        self.function = function
        self.in_flight: dict[str, Invocation] = {}
        self.initialised = threading.Event()
        self.init_ms: float | None = None  # reported with its first invocation, then None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        port = self.server.server_address[1]
        self.started = time.monotonic()
        self.process = processes.start(
            [str(binary)],
            env={**environment, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}"},
            stdout=function.log,
            stderr=subprocess.STDOUT,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        """Stops serving the Runtime API. The process itself is stopped with every other
        process of the world (processes.stop_all), in parallel and bounded."""
        self.server.server_close()

    def next_invocation(self) -> Invocation:
        """Blocks until the function has an invocation for this (now idle) environment."""
        function = self.function
        with function.lock:
            if not self.initialised.is_set():
                self.init_ms = (time.monotonic() - self.started) * 1000
                self.initialised.set()
                function.starting -= 1
            function.idle += 1
        invocation = function.pending.get()
        with function.lock:
            function.idle -= 1
        invocation.started_at = time.monotonic()
        invocation.init_ms, self.init_ms = self.init_ms, None
        self.in_flight[invocation.request_id] = invocation
        return invocation

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        env = self

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
                invocation = env.next_invocation()
                self._reply(
                    200,
                    invocation.payload,
                    {
                        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                        "Lambda-Runtime-Deadline-Ms": "9999999999999",
                        "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:us-east-1:123456789012:function:{env.function.name}",
                        "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                    },
                )

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path[len(RUNTIME_PREFIX) :].strip("/").split("/")
                if parts[:1] == ["init"]:
                    env.function.log.write(b"init error: " + body + b"\n")
                    return self._reply(202)
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    invocation = env.in_flight.pop(parts[1], None)
                    if invocation is None:
                        return self._reply(400)
                    invocation.finished_at = time.monotonic()
                    invocation.result = body
                    invocation.error = parts[2] == "error"
                    invocation.done.set()
                    return self._reply(202)
                return self._reply(404)

        return Handler


class FunctionRuntime:
    """One function: its queue of invocations and the execution environments serving it."""

    def __init__(self, name: str, binary: Path, environment: dict[str, str], log_dir: Path, memory_mb: int) -> None:
        self.name = name
        self.binary = binary
        self.environment = environment
        self.memory_mb = memory_mb
        self.pending: queue.Queue[Invocation] = queue.Queue()
        self.environments: list[Environment] = []
        self.idle = 0  # environments waiting in invocation/next
        self.starting = 0  # environments started that have not asked for an invocation yet
        self.lock = threading.Lock()
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the host

    def invoke(self, payload: bytes, timeout: float) -> Invocation:
        invocation = Invocation(str(uuid.uuid4()), payload)
        with self.lock:
            for dead in [e for e in self.environments if not e.alive()]:
                self.environments.remove(dead)
                if not dead.initialised.is_set():
                    dead.initialised.set()
                    self.starting -= 1
            self.pending.put(invocation)
            # Scale out when the queue holds more than the idle and starting environments can take.
            if self.pending.qsize() > self.idle + self.starting and len(self.environments) < MAX_ENVIRONMENTS:
                self.starting += 1
                self.environments.append(Environment(self, self.binary, self.environment))
        if not invocation.done.wait(timeout):
            invocation.error = True
            invocation.result = json.dumps(
                {"errorType": "Sandbox.Timedout", "errorMessage": f"{self.name} timed out after {timeout:.0f} s"}
            ).encode()
        return invocation

    def close(self) -> None:
        for environment in self.environments:
            environment.close()
        self.log.close()


class LambdaHost:
    """All functions of the world, started on their first invocation."""

    def __init__(self, binary_dir: Path, endpoint: str, log_dir: Path) -> None:
        self.binary_dir = binary_dir
        self.endpoint = endpoint
        self.log_dir = log_dir
        self.functions: dict[str, FunctionRuntime] = {}
        self.lock = threading.Lock()
        log_dir.mkdir(parents=True, exist_ok=True)
        self.records = open(log_dir / "invocations.jsonl", "a")  # noqa: SIM115 - lives as long as the host
        self.records_lock = threading.Lock()

    def runtime_for(self, function: Any) -> FunctionRuntime:
        """`function` is moto's LambdaFunction: its name, timeout and environment as deployed."""
        with self.lock:
            runtime = self.functions.get(function.function_name)
            if runtime is None:
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
                runtime = FunctionRuntime(function.function_name, binary, environment, self.log_dir, int(function.memory_size))
                self.functions[function.function_name] = runtime
            return runtime

    def invoke(self, function: Any, payload: bytes, response_headers: dict[str, str]) -> bytes:
        runtime = self.runtime_for(function)
        invocation = runtime.invoke(payload, timeout=float(function.timeout) + 5)
        if invocation.error:
            response_headers["x-amz-function-error"] = "Unhandled"
        self._record(runtime, invocation)
        return invocation.result

    def _record(self, runtime: FunctionRuntime, invocation: Invocation) -> None:
        if not invocation.finished_at:
            return
        duration_ms = (invocation.finished_at - invocation.started_at) * 1000
        init_ms = invocation.init_ms or 0.0
        line = json.dumps({
            "function": runtime.name,
            "time": time.time(),
            "queued_ms": round((invocation.started_at - invocation.queued_at) * 1000 - init_ms, 3),
            "init_ms": None if invocation.init_ms is None else round(init_ms, 3),
            "duration_ms": round(duration_ms, 3),
            "billed_ms": math.ceil(duration_ms + init_ms),
            "memory_mb": runtime.memory_mb,
            "error": invocation.error,
        })
        with self.records_lock:
            self.records.write(line + "\n")
            self.records.flush()

    def close(self) -> None:
        """Closes the Runtime API servers and logs; call after processes.stop_all."""
        with self.lock:
            runtimes = list(self.functions.values())
        for runtime in runtimes:
            runtime.close()
        with self.records_lock:
            self.records.close()


def binary_name(function_name: str) -> str:
    """`<prefix>-<step>` → `mec-<step>`: the binary of a step is named after the step."""
    return "mec-" + function_name.rsplit("-", 1)[-1]
