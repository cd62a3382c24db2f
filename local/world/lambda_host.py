"""Runs the real Lambda binaries behind the Lambda Runtime API, and answers moto's invocations.

Like Lambda, a function scales out: each concurrent invocation runs in an execution environment
(one process of the binary mec-<step>, with AWS_LAMBDA_RUNTIME_API pointing at a Runtime API
server of its own), and a new environment starts when an invocation arrives while every existing
one is busy (up to MAX_ENVIRONMENTS per function). An environment serves one invocation at a
time and is reused, warm, for the next. Each gets the function's environment variables as
Terraform deployed them, and AWS_ENDPOINT_URL pointing back at the emulator.

A handler error comes back as Lambda reports it: the payload {errorType, errorMessage} with the
function-error header, so a Task fails with the errorType as its Error name. So do the errors of
the environment itself, with Lambda's own payloads (as recorded from AWS in LocalStack's
tests/aws/services/lambda_/test_lambda.snapshot.json, TestLambdaErrors):
- the function runs past its configured timeout, counted from the hand-over of the invocation
  (Runtime API `invocation/next`, whose Lambda-Runtime-Deadline-Ms says when): `Sandbox.Timedout`,
  "RequestId: <id> Error: Task timed out after <timeout>.00 seconds"; the environment is then
  reset (its process killed: "Understanding the Lambda execution environment lifecycle", failures
  in the Invoke phase), so the next invocation starts cold;
- its process exits before answering (during init, or while running the invocation):
  `Runtime.ExitError`, "RequestId: <id> Error: Runtime exited with error: exit status <n>"
  ("signal: <name>" when killed; "Runtime exited without providing a reason" for status 0).

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
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

from world import processes

RUNTIME_PREFIX = "/2018-06-01/runtime"
# Lambda's default account concurrency is 1,000; here each environment is a process on a small
# machine, so a function keeps at most this many.
MAX_ENVIRONMENTS = int(os.environ.get("MEC_LAMBDA_MAX_ENVIRONMENTS", "16"))


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    timeout: float = 3.0  # the function's configured timeout, seconds
    queued_at: float = field(default_factory=time.monotonic)
    # Set when the invocation leaves the queue: handed to an environment, or finished without one.
    handed: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    result: bytes = b""
    error: bool = False
    started_at: float = 0.0
    finished_at: float = 0.0
    init_ms: float | None = None
    environment: Environment | None = None
    host_error: str | None = None  # Sandbox.Timedout / Runtime.ExitError when the host answered
    lock: threading.Lock = field(default_factory=threading.Lock)

    def finish(self, result: bytes, error: bool, host_error: str | None = None) -> bool:
        """Sets the answer once: the first of the function's answer, its timeout and its
        environment's exit wins; False when another came first."""
        with self.lock:
            if self.done.is_set():
                return False
            self.finished_at = time.monotonic()
            self.result, self.error, self.host_error = result, error, host_error
            self.done.set()
            self.handed.set()
            return True


def lambda_error(request_id: str, error_type: str, detail: str) -> bytes:
    """The payload Lambda itself answers with when the environment, not the handler, failed."""
    return json.dumps({"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {detail}"}).encode()


def exit_detail(returncode: int) -> str:
    """How Lambda words a runtime's exit (Go's exec.ExitError text, e.g. "exit status 127")."""
    if returncode == 0:
        return "Runtime exited without providing a reason"
    if returncode < 0:
        try:
            name = signal.strsignal(-returncode) or f"signal {-returncode}"
        except ValueError:
            name = f"signal {-returncode}"
        return f"Runtime exited with error: signal: {name.lower()}"
    return f"Runtime exited with error: exit status {returncode}"


class Environment:
    """One execution environment: a process of the binary and the Runtime API it talks to."""

    def __init__(self, function: FunctionRuntime, binary: Path, environment: dict[str, str],
                 cause: Invocation | None = None) -> None:
        self.function = function
        self.in_flight: dict[str, Invocation] = {}
        self.cause = cause  # the invocation this (cold) environment was started for
        self.dead = False
        self.waiting = False  # in invocation/next, ready for the next invocation
        self.lock = threading.Lock()
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
        threading.Thread(target=self._watch, daemon=True).start()

    def alive(self) -> bool:
        return not self.dead and self.process.poll() is None

    def _watch(self) -> None:
        """When the process exits, its invocation (or, dead during init, the invocation that
        started it) gets Runtime.ExitError, as Lambda answers."""
        returncode = self.process.wait()
        with self.lock:
            self.dead = True
            orphans = list(self.in_flight.values())
            self.in_flight.clear()
        cause = self.cause
        if not self.initialised.is_set() and cause is not None and not cause.handed.is_set():
            orphans.append(cause)
        for invocation in orphans:
            invocation.finish(lambda_error(invocation.request_id, "Runtime.ExitError", exit_detail(returncode)),
                              True, "Runtime.ExitError")
        # Its Runtime API goes with it (serve_forever stops within its poll interval).
        self.server.shutdown()
        self.server.server_close()

    def kill(self) -> None:
        """Resets this environment (after a timeout): its process group goes, and it takes no more work."""
        with self.lock:
            self.dead = True
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        """Stops serving the Runtime API. The process itself is stopped with every other
        process of the world (processes.stop_all), in parallel and bounded."""
        self.server.server_close()

    def next_invocation(self) -> Invocation | None:
        """Blocks until the function has an invocation for this (now idle) environment; None
        when this environment died meanwhile (a dead environment takes no work: what it took
        from the queue goes back, for a live environment)."""
        function = self.function
        with function.lock:
            if not self.initialised.is_set():
                self.init_ms = (time.monotonic() - self.started) * 1000
                self.initialised.set()
            self.waiting = True
        try:
            invocation = self._take()
        finally:
            with function.lock:
                self.waiting = False
        if invocation is None:
            return None
        with self.lock:
            if not self.dead:
                invocation.started_at = time.monotonic()
                invocation.init_ms, self.init_ms = self.init_ms, None
                invocation.environment = self
                self.in_flight[invocation.request_id] = invocation
                invocation.handed.set()
                return invocation
        function.requeue(invocation)
        return None

    def _take(self) -> Invocation | None:
        """The next pending invocation not already finished (its cold start may have crashed, or
        it timed out waiting); None once this environment is dead (reset or exited)."""
        while True:
            try:
                invocation = self.function.pending.get(timeout=0.2)
            except queue.Empty:
                if not self.alive():
                    return None
                continue
            if invocation.done.is_set():
                continue
            if not self.alive():
                # Reset (killed after a timeout) while it waited: not its invocation any more.
                self.function.requeue(invocation)
                return None
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
                try:
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # its process was killed (reset) meanwhile

            def do_GET(self) -> None:  # noqa: N802
                if self.path != f"{RUNTIME_PREFIX}/invocation/next":
                    return self._reply(404)
                invocation = env.next_invocation()
                if invocation is None:  # its process is gone: nobody to answer
                    self.close_connection = True
                    return None
                # Runtime API: "the date that the function times out in Unix time milliseconds".
                deadline_ms = int((time.time() + invocation.timeout) * 1000)
                self._reply(
                    200,
                    invocation.payload,
                    {
                        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
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
                    with env.lock:
                        invocation = env.in_flight.pop(parts[1], None)
                    if invocation is None:
                        return self._reply(400)
                    # Too late when it already timed out: that answer stands.
                    invocation.finish(body, parts[2] == "error")
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
        self.lock = threading.Lock()
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the host

    def invoke(self, payload: bytes, timeout: float, withhold: bool = False) -> Invocation:
        """Runs one invocation to its answer, its timeout, or its environment's exit. `withhold`
        (the timeout_functions fault): the function runs, but its answer is held until the
        timeout, which then stands, as for a function that runs too long."""
        invocation = Invocation(str(uuid.uuid4()), payload, timeout=timeout)
        self.requeue(invocation)
        self._await(invocation, timeout, withhold)
        return invocation

    def requeue(self, invocation: Invocation) -> None:
        """Queues an invocation (new, or handed back by an environment that died before running
        it) and starts an environment when the live ones, idle or starting, cannot take the queue.
        Counted from the environments themselves, so a reset one is never counted as idle."""
        with self.lock:
            self.environments = [e for e in self.environments if e.alive()]
            self.pending.put(invocation)
            idle = sum(1 for e in self.environments if e.waiting)
            starting = sum(1 for e in self.environments if not e.initialised.is_set())
            if self.pending.qsize() > idle + starting and len(self.environments) < MAX_ENVIRONMENTS:
                self.environments.append(Environment(self, self.binary, self.environment, cause=invocation))

    def _await(self, invocation: Invocation, timeout: float, withhold: bool) -> None:
        """Waits for the answer until the deadline: `timeout` from the hand-over to an environment
        (a cold start or a busy function may take up to `timeout` before that)."""
        timed_out = lambda_error(invocation.request_id, "Sandbox.Timedout", f"Task timed out after {timeout:.2f} seconds")
        if not invocation.handed.wait(timeout):
            if invocation.finish(timed_out, True, "Sandbox.Timedout"):
                # Its cold start never finished init in time: that environment is reset too.
                with self.lock:
                    stuck = [e for e in self.environments if e.cause is invocation and not e.initialised.is_set()]
                for environment in stuck:
                    environment.kill()
            return
        remaining = invocation.started_at + timeout - time.monotonic() if invocation.started_at else 0.0
        if withhold and invocation.started_at:
            time.sleep(max(remaining, 0.0))
            with invocation.lock:  # whatever the function answered, the timeout stands
                invocation.done.set()
                invocation.finished_at = time.monotonic()
                invocation.result, invocation.error, invocation.host_error = timed_out, True, "Sandbox.Timedout"
        elif invocation.done.wait(max(remaining, 0.0)) or not invocation.finish(timed_out, True, "Sandbox.Timedout"):
            return
        if invocation.environment is not None:
            invocation.environment.kill()

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
        # Set by world/invoke_faults.py: which functions have their answer held until their
        # timeout, and who hears of the errors the host answers itself (timeouts, exits).
        self.withhold: Callable[[str], bool] = lambda name: False
        self.on_host_error: Callable[[str, str, bool], None] = lambda name, error_type, injected: None

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
                    # As on Lambda: a session of the function's own role (its ARN: function.role),
                    # so that the world decides its calls with the role's policies (world/iam).
                    **role_credentials(function),
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
        withhold = self.withhold(runtime.name)
        # Lambda stops a function at its configured timeout (Timeout, seconds; moto's default 3).
        invocation = runtime.invoke(payload, timeout=float(function.timeout or 3), withhold=withhold)
        if invocation.error:
            response_headers["x-amz-function-error"] = "Unhandled"
        if invocation.host_error:
            self.on_host_error(runtime.name, invocation.host_error, withhold)
        self._record(runtime, invocation)
        return invocation.result

    def _record(self, runtime: FunctionRuntime, invocation: Invocation) -> None:
        if not invocation.finished_at or not invocation.started_at:
            return  # never ran (its cold start crashed or never finished): nothing billed here
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


def role_credentials(function: Any) -> dict[str, str]:
    """AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN of a session of the function's
    role, named after the function as Lambda names it (world/iam: credentials_for_role)."""
    from world.iam import credentials_for_role

    account = getattr(function, "account_id", None) or function.role.split(":")[4] or "123456789012"
    region = getattr(function, "region", None) or "us-east-1"
    return credentials_for_role(account, region, function.role, function.function_name)
