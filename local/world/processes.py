"""Every process the local world starts, so that stopping the world stops all of them.

The world starts three kinds of child processes: Lambda execution environments (one process of a
step binary each, lambda_host.py), the scripts of SSM commands and user data on simulated nodes
(nodesim/runner.py, each in a session of its own so that a command timeout can kill what it
started), and whatever those start in turn. Each is registered here when it starts; `stop_all`
sends SIGTERM to every registered process group, waits a bounded time, then SIGKILLs what is left.

Every child also inherits MEC_WORLD_ID in its environment, so that a test can prove that nothing
the world started outlives it (`survivors`).

Once `stopping()` is true, nothing new may start: `start` refuses with WorldStopping.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

# Set by serve.py for the world's lifetime; inherited by every child process.
WORLD_ID_VARIABLE = "MEC_WORLD_ID"


class WorldStopping(RuntimeError):
    """The world is shutting down: no new process starts."""


_lock = threading.Lock()
_children: set[subprocess.Popen[Any]] = set()
_stopping = threading.Event()


def stopping() -> bool:
    return _stopping.is_set()


def start(command: list[str], **popen: Any) -> subprocess.Popen[Any]:
    """`subprocess.Popen(command, **popen)` in a process group of its own, registered for
    `stop_all`. The world's id is added to the child's environment."""
    env = dict(popen.pop("env", None) or os.environ)
    if WORLD_ID_VARIABLE in os.environ:
        env[WORLD_ID_VARIABLE] = os.environ[WORLD_ID_VARIABLE]
    popen.setdefault("start_new_session", True)
    with _lock:
        if _stopping.is_set():
            raise WorldStopping("the local world is stopping")
        process = subprocess.Popen(command, env=env, **popen)
        _children.add(process)
    return process


def forget(process: subprocess.Popen[Any]) -> None:
    """A process that ended (and was reaped by its owner) no longer needs stopping."""
    with _lock:
        _children.discard(process)


def _signal_group(process: subprocess.Popen[Any], sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all(grace_seconds: float = 2.0) -> None:
    """Stops every registered process and what it started: SIGTERM to each process group, then
    SIGKILL to the groups still alive after `grace_seconds`. Bounded: returns within
    grace_seconds + ~1 s whatever the children do."""
    _stopping.set()
    with _lock:
        children = list(_children)
    for process in children:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    for process in children:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for process in children:
        # The group may outlive its leader (a script's background job): kill it in any case.
        _signal_group(process, signal.SIGKILL)
    for process in children:
        try:
            process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            pass
    with _lock:
        _children.clear()


def survivors(world_id: str) -> list[int]:
    """PIDs of live processes whose environment carries this world's id (Linux /proc)."""
    marker = f"{WORLD_ID_VARIABLE}={world_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        # Zombies are dead, only waiting for their parent to read their status.
        if state != "Z" and marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found
