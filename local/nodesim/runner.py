"""SSM Run Command, simulated: the real document's script run with bash on each node at once.

Each node's run gets the environment an SSM agent would give (a plain system PATH) with the
stand-ins in front, plus the scripts' two simulator hooks: MEC_ROOT (the node's file-system root)
and MEC_IMDS_ENDPOINT (a file:// URL of the node's metadata folder, which the real curl reads:
`$IMDS/latest/api/token` and `$IMDS/latest/meta-data/<key>`; a missing key fails like a 404).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from . import document
from . import state as st
from .cluster import Node

# How a script's process starts: subprocess.Popen, or the local world's registry
# (world/processes.py), which stops every script still running when the world stops.
spawn: Callable[..., subprocess.Popen] = subprocess.Popen
# Called with each script's process once it has ended and been reaped.
reaped: Callable[[subprocess.Popen], None] = lambda process: None

PACKAGE_DIR = Path(__file__).resolve().parent
BIN_DIR = PACKAGE_DIR / "bin"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# GetCommandInvocation keeps at most this much of each stream.
STDOUT_LIMIT = 24000
STDERR_LIMIT = 8000


@dataclass(frozen=True)
class Result:
    """One node's invocation, as GetCommandInvocation would report it."""

    instance_id: str
    status: str  # "Success" | "Failed" | "TimedOut"
    exit_code: int  # -1 when the command timed out or never started
    stdout: str
    stderr: str
    duration_seconds: float


def node_environment(node: Node) -> dict[str, str]:
    scale = st.read_state(node.state_path)["time_scale"]
    return {
        "PATH": f"{BIN_DIR}:{node.root / 'snap/bin'}:{SYSTEM_PATH}",
        "HOME": str(node.node_dir),
        "LANG": "C.UTF-8",
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


def run_shell(node: Node, script: str, timeout: float = 60.0) -> Result:
    """Runs a bash script on the node as the agent would (for documents, chaos and tests)."""
    run_dir = node.node_dir / "runs" / f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True)
    path = run_dir / "_script.sh"
    path.write_text(script if script.endswith("\n") else script + "\n")
    path.chmod(0o700)
    started = time.monotonic()
    proc = spawn(
        ["/bin/bash", str(path)],
        cwd=run_dir,
        env=node_environment(node),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # so that a timeout kills the script and all it started
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        code = proc.returncode
        status = "Success" if code == 0 else "Failed"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        code, status = -1, "TimedOut"
    finally:
        reaped(proc)
    return Result(
        instance_id=node.instance_id,
        status=status,
        exit_code=code,
        stdout=out.decode(errors="replace")[:STDOUT_LIMIT],
        stderr=err.decode(errors="replace")[:STDERR_LIMIT],
        duration_seconds=time.monotonic() - started,
    )


def run_command(
    document_path: Path | str,
    parameters: Mapping[str, str],
    nodes: Sequence[Node],
    resolve_secure: document.Resolver,
    timeout: float | None = None,
    max_concurrency: int | None = None,
) -> list[Result]:
    """SendCommand + wait: one Result per node, in the order of `nodes`.

    `max_concurrency` (SendCommand's MaxConcurrency) bounds how many nodes run at once.

    Raises document.InvalidParameters (as SendCommand would) before anything runs. The
    document's timeoutSeconds applies unless `timeout` overrides it.
    """
    document.check_parameters(document.load(document_path), parameters)

    def one(node: Node) -> Result:
        try:
            rendered = document.render_document(document_path, parameters, resolve_secure)
        except document.SecureResolutionError as e:
            return Result(node.instance_id, "Failed", -1, "", str(e), 0.0)
        limit = timeout if timeout is not None else rendered.timeout_seconds
        return run_shell(node, rendered.script, timeout=limit)

    if not nodes:
        return []
    workers = min(len(nodes), 64, max_concurrency or 64)
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        return list(pool.map(one, nodes))
