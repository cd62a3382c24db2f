"""The SSM agent on a simulated node: runs a document's script as the agent does.

| rule | what the agent does | source |
|---|---|---|
| `agent-shell` | writes the runCommand lines, joined by "\\n" plus a final "\\n", to `_script.sh` (mode 0700) and starts `sh -c <path>`: the kernel runs the path, so the script's `#!` line chooses the interpreter; without one, `sh` (dash on Ubuntu) runs it | aws/amazon-ssm-agent agent/plugins/runscript/runshellscript.go (shellCommand "sh", shellArgs "-c"), runscript.go (runCommands), pluginutil.go (CreateScriptFile), appconfig ReadWriteExecuteAccess = 0700; aws/amazon-ssm-agent#46 (a script run by `sh`) |
| `agent-environment` | the agent's own environment plus SSM_COMMAND_ID, AWS_SSM_INSTANCE_ID, AWS_SSM_REGION_NAME, AWS_SSM_PLATFORM_NAME, AWS_SSM_PLATFORM_VERSION; no HOME; a system PATH without /snap/bin (here: `<nodesim/bin>:<system path>`; what snaps install lives in `$MEC_ROOT/snap/bin`, off the PATH); working directory the agent's own (the snap's `$SNAP_DATA`, `$MEC_ROOT/var/snap/amazon-ssm-agent/current` here) | executers/executers.go (prepareEnvironment, envVar* constants), runscript.go (setCommandIdEnvironment; workingDir falls back to the agent's), aws/amazon-ssm-agent#427 (a maintainer's `env` of a RunShellScript: no HOME, PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin); canonical/snapd snap/snapenv/snapenv.go (no HOME for classic snaps), wrappers/internal/service_unit_gen.go (WorkingDirectory = the snap's data dir) |
| (model) | the script is the leader of its own process group; at the execution timeout, or on CancelCommand, the agent SIGKILLs the whole group and stops reading its output; exit code 137 (CommandStoppedPreemptivelyExitCode): TimedOut, or Cancelled when cancelled | executers/executers_unix.go (prepareProcess Setpgid, killProcess kill(-pid, SIGKILL)), executers.go (ExecuteCommand), appconfig/constants_unix.go |
| (model) | status from the exit code: 0 Success, 137 TimedOut (Cancelled when cancelled), anything else Failed; a failed run appends "failed to run commands: exit status N" (or "signal: NAME") to stderr; exit 168 is Success, 169 Failed, each with the agent's note appended | pluginutil/pluginutil_unix.go (GetStatus), runscript.go (runCommands: MarkAsFailed), runpluginutil.go (ExitWithSuccess/ExitWithFailure notes) |

Evidence against the PATH part of the contract (reported to the lead): snapd's service units load
`EnvironmentFile=-/etc/environment` (canonical/snapd 9b8d219, 2020) and reset PATH only for
strictly confined snaps (cmd/snap-confine/snap-confine.c, enter_non_classic_execution_environment),
and the agent's snap is classic (aws/amazon-ssm-agent packaging/snap/snapcraft.yml); Ubuntu's
standard PATH ends with /snap/bin, which snapd appends (wiki.ubuntu.com/PATH). So on the Ubuntu
AMI the agent's PATH probably has /snap/bin; #427 (PWD=/usr/bin) shows a deb/rpm install. The
world keeps /snap/bin off, the stricter case: documents that add it themselves work under both.

Simulator hooks, which model the node's file system and are not the agent's: MEC_ROOT (the node's
root), MEC_IMDS_ENDPOINT (a file:// URL of the node's metadata, read by the real curl),
MEC_SIM_* and PYTHONPATH (the stand-ins' state and code).

User data is not the agent's: cloud-init runs it by executing the file (`run_shell(...,
user_data=True)`), so its `#!` line is required.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Mapping, Sequence

from . import document
from . import state as st
from .cluster import Node

# How a script's process starts: subprocess.Popen, or the local world's registry
# (world/processes.py), which stops every script still running when the world stops.
spawn: Callable[..., subprocess.Popen] = subprocess.Popen
# Held while a script file is written and while a process is forked: a child forked while another
# thread still has a script open for writing inherits that descriptor until it execs, and the
# kernel refuses to execute a file open for writing ("Text file busy", exit 126).
FORK_LOCK = threading.Lock()
# Called with each script's process once it has ended and been reaped.
reaped: Callable[[subprocess.Popen], None] = lambda process: None

PACKAGE_DIR = Path(__file__).resolve().parent
BIN_DIR = PACKAGE_DIR / "bin"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What the agent's platform package reads from /etc/os-release on the Ubuntu 24.04 AMI.
PLATFORM_NAME = "Ubuntu"
PLATFORM_VERSION = "24.04"
# The snap's data directory, the agent's working directory (relative to the node's root).
AGENT_WORKING_DIR = "var/snap/amazon-ssm-agent/current"
# appconfig.CommandStoppedPreemptivelyExitCode (Linux), RebootExitCode; contracts.ExitWithSuccess
# and ExitWithFailure (runpluginutil.go).
STOPPED_EXIT_CODE = 137
REBOOT_EXIT_CODE = 194
EXIT_WITH_SUCCESS = 168
EXIT_WITH_FAILURE = 169
# The agent keeps whole output files; every API view needs at most the first 24,000 bytes, so
# the simulator keeps this much of each stream (and drains the rest).
CAPTURE_LIMIT = 1 << 20
# How often a running script's cancel flag and deadline are looked at.
POLL_SECONDS = 0.05
# Go's names of the common signals (syscall.Signal.String), for "failed to run commands: signal: X".
SIGNAL_NAMES = {
    signal.SIGKILL: "killed", signal.SIGTERM: "terminated", signal.SIGINT: "interrupt",
    signal.SIGHUP: "hangup", signal.SIGABRT: "aborted", signal.SIGSEGV: "segmentation fault",
    signal.SIGPIPE: "broken pipe", signal.SIGQUIT: "quit", signal.SIGUSR1: "user defined signal 1",
}


@dataclass(frozen=True)
class AgentRules:
    """Which of the agent's behaviours are on (faults.json `lenient` switches them off)."""

    shell: bool = True  # agent-shell: `sh -c <path>`; off: `/bin/bash <path>`
    environment: bool = True  # agent-environment; off: HOME set, $MEC_ROOT/snap/bin on the PATH
    references: bool = True  # agent-parameter-references (document.py)

    @classmethod
    def from_lenient(cls, lenient: Sequence[str]) -> AgentRules:
        return cls(
            shell="agent-shell" not in lenient,
            environment="agent-environment" not in lenient,
            references="agent-parameter-references" not in lenient,
        )


STRICT = AgentRules()


@dataclass(frozen=True)
class Result:
    """One node's invocation, as the agent reports it to the service."""

    instance_id: str
    status: str  # "Success" | "Failed" | "TimedOut" | "Cancelled"
    exit_code: int  # the plugin's ResponseCode; -1 when no script started
    stdout: str  # what the script wrote (its first CAPTURE_LIMIT bytes), plus the agent's notes
    stderr: str
    duration_seconds: float
    trace_output: str = ""  # a document-level failure (nothing ran): the agent's message
    started_at: float = 0.0  # epoch seconds
    finished_at: float = 0.0

    @property
    def status_details(self) -> str:
        return "ExecutionTimedOut" if self.status == "TimedOut" else self.status


@dataclass
class Invocation:
    """What a running command needs from outside: its id for the environment, and a flag that
    CancelCommand sets."""

    command_id: str = ""
    region: str = "us-east-1"
    cancel: threading.Event = field(default_factory=threading.Event)


def node_environment(node: Node, invocation: Invocation | None = None, rules: AgentRules = STRICT) -> dict[str, str]:
    """The script's environment: the agent's, plus the simulator's hooks."""
    scale = st.read_state(node.state_path)["time_scale"]
    hooks = {
        "MEC_ROOT": str(node.root),
        "MEC_IMDS_ENDPOINT": node.imds_endpoint,
        "MEC_SIM_STATE": str(node.state_path),
        "MEC_SIM_NODE": node.instance_id,
        "MEC_SIM_PYTHON": sys.executable,
        "MEC_SIM_TIME_SCALE": repr(float(scale)),
        "MEC_SIM_REAL_SLEEP": shutil.which("sleep", path=SYSTEM_PATH) or "/bin/sleep",
        "PYTHONPATH": str(PACKAGE_DIR.parent),
        # Where the `aws` stand-in sends its calls: the local world, when there is one.
        "MEC_SIM_AWS_ENDPOINT": os.environ.get("MEC_SIM_AWS_ENDPOINT", ""),
    }
    if not rules.environment:
        return {"PATH": f"{BIN_DIR}:{node.root / 'snap/bin'}:{SYSTEM_PATH}", "HOME": str(node.node_dir), "LANG": "C.UTF-8", **hooks}
    agent = {
        "PATH": f"{BIN_DIR}:{SYSTEM_PATH}",
        "LANG": "C.UTF-8",
        "AWS_SSM_INSTANCE_ID": node.instance_id,
        "AWS_SSM_REGION_NAME": invocation.region if invocation else "us-east-1",
        "AWS_SSM_PLATFORM_NAME": PLATFORM_NAME,
        "AWS_SSM_PLATFORM_VERSION": PLATFORM_VERSION,
    }
    if invocation and invocation.command_id:
        agent["SSM_COMMAND_ID"] = invocation.command_id
    return {**agent, **hooks}


class _Capture(threading.Thread):
    """Reads one output stream to its end, keeping the first CAPTURE_LIMIT bytes; after `stop()`
    it keeps nothing more (the agent's cancellable writer), but still drains the pipe."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.data = bytearray()
        self.stopped = threading.Event()

    def run(self) -> None:
        while True:
            chunk = self.stream.read1(65536) if hasattr(self.stream, "read1") else self.stream.read(65536)
            if not chunk:
                break
            if not self.stopped.is_set() and len(self.data) < CAPTURE_LIMIT:
                self.data += chunk[: CAPTURE_LIMIT - len(self.data)]
        self.stream.close()

    def stop(self) -> None:
        self.stopped.set()

    def text(self) -> str:
        return bytes(self.data).decode(errors="replace")


def _signal_name(number: int) -> str:
    try:
        return SIGNAL_NAMES.get(signal.Signals(number), f"signal {number}")
    except ValueError:
        return f"signal {number}"


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _outcome(returncode: int, stdout: str, stderr: str, cancelled: bool, stopped: bool) -> tuple[str, int, str, str]:
    """(status, exit code, stdout, stderr) as the agent reports them."""
    if stopped:
        # The agent killed it (timeout or cancel): 137, no "failed to run commands".
        return ("Cancelled" if cancelled else "TimedOut"), STOPPED_EXIT_CODE, stdout, stderr
    if returncode < 0:
        # Killed by a signal the agent did not send: Go's ExitStatus() is -1.
        return "Failed", -1, stdout, stderr + f"failed to run commands: signal: {_signal_name(-returncode)}"
    if returncode == EXIT_WITH_SUCCESS:
        note = "\nStep exited with code 168. Therefore, marking step as succeeded. Further document steps will be skipped."
        return "Success", returncode, stdout + note, ""
    if returncode == EXIT_WITH_FAILURE:
        note = "\nStep exited with code 169. Therefore, marking step as Failed. Further document steps will be skipped."
        return "Failed", returncode, stdout + note, stderr + f"failed to run commands: exit status {returncode}" + note
    if returncode == 0:
        return "Success", 0, stdout, stderr
    if returncode == STOPPED_EXIT_CODE:
        # GetStatus maps 137 to TimedOut whoever sent it.
        return "TimedOut", returncode, stdout, stderr
    if returncode == REBOOT_EXIT_CODE:
        # SuccessAndReboot: the agent reboots the node and reports Success (not simulated).
        return "Success", returncode, stdout, stderr
    return "Failed", returncode, stdout, stderr + f"failed to run commands: exit status {returncode}"


def run_shell(
    node: Node,
    script: str,
    timeout: float = 60.0,
    *,
    invocation: Invocation | None = None,
    rules: AgentRules = STRICT,
    user_data: bool = False,
) -> Result:
    """Runs a script on the node as the agent would (for documents, chaos and tests), or, with
    `user_data`, as cloud-init runs user data (the file executed directly)."""
    invocation = invocation or Invocation()
    run_dir = node.node_dir / "runs" / f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True)
    path = run_dir / "_script.sh"
    with FORK_LOCK:
        path.write_text(script + "\n")
        path.chmod(0o700)
    environment = node_environment(node, invocation, rules)
    if user_data:
        # cloud-init executes the file; its environment is not the agent's.
        command, cwd = [str(path)], node.root
        environment = {k: v for k, v in environment.items() if not k.startswith(("AWS_SSM_", "SSM_"))}
    elif rules.shell:
        command = [shutil.which("sh", path=SYSTEM_PATH) or "/bin/sh", "-c", str(path)]
        cwd = node.root / AGENT_WORKING_DIR if rules.environment else run_dir
    else:
        command, cwd = ["/bin/bash", str(path)], run_dir
    cwd.mkdir(parents=True, exist_ok=True)
    started_at, started = time.time(), time.monotonic()
    with FORK_LOCK:
        proc = spawn(
            command,
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, which a timeout or cancel kills
        )
    out, err = _Capture(proc.stdout), _Capture(proc.stderr)
    out.start()
    err.start()
    deadline = started + timeout
    stopped = cancelled = False
    try:
        while True:
            try:
                proc.wait(timeout=POLL_SECONDS)
                # Like Go's cmd.Wait with non-file writers: done when the pipes are closed too
                # (a background job that keeps them open keeps the command running).
                if not out.is_alive() and not err.is_alive():
                    break
                out.join(POLL_SECONDS)
                err.join(POLL_SECONDS)
                if not out.is_alive() and not err.is_alive():
                    break
            except subprocess.TimeoutExpired:
                pass
            if invocation.cancel.is_set() or time.monotonic() >= deadline:
                cancelled = invocation.cancel.is_set()
                stopped = True
                out.stop()
                err.stop()
                _killpg(proc.pid)
                break
    finally:
        if stopped:
            proc.wait()
        out.join(1.0)
        err.join(1.0)
        reaped(proc)
    status, code, stdout, stderr = _outcome(proc.returncode, out.text(), err.text(), cancelled, stopped)
    return Result(
        instance_id=node.instance_id,
        status=status,
        exit_code=code,
        stdout=stdout,
        stderr=stderr,
        duration_seconds=time.monotonic() - started,
        started_at=started_at,
        finished_at=time.time(),
    )


def run_document(
    node: Node,
    document_path: Path | str,
    parameters: Mapping[str, str],
    lookup: document.Resolver,
    *,
    timeout: float | None = None,
    timeout_scale: float = 1.0,
    invocation: Invocation | None = None,
    rules: AgentRules = STRICT,
) -> Result:
    """The agent's whole handling of one SendCommand on one node: prepare the document (a
    failure there fails the invocation with a trace, nothing runs), then run the script for the
    document's execution timeout (x `timeout_scale`) unless `timeout` overrides it."""
    try:
        rendered = document.render_document(document_path, parameters, lookup, strict=rules.references)
    except document.AgentDocumentError as error:
        now = time.time()
        return Result(node.instance_id, "Failed", -1, "", "", 0.0, trace_output=str(error), started_at=now, finished_at=now)
    limit = timeout if timeout is not None else rendered.timeout_seconds * timeout_scale
    return run_shell(node, rendered.script, timeout=limit, invocation=invocation, rules=rules)


def run_command(
    document_path: Path | str,
    parameters: Mapping[str, str],
    nodes: Sequence[Node],
    lookup: document.Resolver,
    timeout: float | None = None,
    max_concurrency: int | None = None,
    rules: AgentRules = STRICT,
) -> list[Result]:
    """SendCommand + wait, without the local world: one Result per node, in the order of
    `nodes`. `max_concurrency` bounds how many nodes run at once.

    Raises document.InvalidParameters (as SendCommand would) before anything runs. The
    document's timeoutSeconds applies unless `timeout` overrides it.
    """
    document.check_parameters(document.load(document_path), parameters)

    def one(node: Node) -> Result:
        return run_document(node, document_path, parameters, lookup, timeout=timeout, rules=rules)

    if not nodes:
        return []
    workers = min(len(nodes), 64, max_concurrency or 64)
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        return list(pool.map(one, nodes))
