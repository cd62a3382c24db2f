"""What the local tests share: the repository root, a server started on a free loopback port,
and the environment Terraform runs with here."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(command: list[str], port: int, log: Path | None = None) -> Iterator[str]:
    """Runs `command` until the caller is done with the endpoint it serves on `port`."""
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/data.json", timeout=1)
            break
        except OSError:
            assert time.time() < deadline, f"{command[1]} did not start" + (f": {log.read_text()}" if log else "")
            time.sleep(0.1)
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        if log:
            out.close()


def terraform_env(work: Path) -> dict[str, str]:
    """Terraform's environment: state and plugins under `work`, the provider mirror if any."""
    env = dict(os.environ, TF_DATA_DIR=str(work / "tf"), TF_IN_AUTOMATION="1", TF_CLI_ARGS="-no-color", CHECKPOINT_DISABLE="1")
    rc = subprocess.run([str(ROOT / "local/terraformrc.sh"), str(work / "terraformrc")], capture_output=True, text=True, check=True)
    if rc.stdout.strip():
        env["TF_CLI_CONFIG_FILE"] = rc.stdout.strip()
    return env


def local_world(binaries: Path, state: Path, api_port: int | None = None) -> Iterator[str]:
    """The local world (local/world/serve.py) with the pipeline deployed by the local Terraform
    root; yields the emulator's endpoint until the caller is done. `api_port`: where the HTTP
    API front listens (default: the emulator's port + 1)."""
    assert (binaries / "mec-network").exists(), f"no Lambda binaries in {binaries}: run cargo test --workspace first"
    port = free_port()
    command = [sys.executable, str(ROOT / "local/world/serve.py"), "--port", str(port), "--binaries", str(binaries), "--state", str(state)]
    if api_port:
        command += ["--api-port", str(api_port)]
    servers = serve(command, port, log=state / "world.log")
    endpoint = next(servers)
    env = terraform_env(state)
    for args in (["init", "-input=false", f"-backend-config=path={state / 'tfstate'}"],
                 ["apply", "-input=false", "-auto-approve", f"-var=endpoint={endpoint}"]):
        done = subprocess.run(["terraform", f"-chdir={ROOT / 'infra/local'}", *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    yield endpoint
    next(servers, None)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """moto with mec's extensions (local/moto/server.py), fresh for each test module."""
    port = free_port()
    yield from serve([sys.executable, str(ROOT / "local/moto/server.py"), "-H", "127.0.0.1", "-p", str(port)], port)
