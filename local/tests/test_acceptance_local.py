"""The acceptance suite (tests/acceptance/acceptance.py) in CI: its local target against the
session's shared world, as a subprocess, exactly as a person would run it; and its aws target's
refusals, which must hold before anything is created or any tool is run."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import ROOT, client, free_port, tagged

SUITE = ROOT / "tests/acceptance/acceptance.py"


def suite(endpoint: str, api: str, state: Path, name: str) -> tuple[int, str]:
    """The suite's local target as a subprocess: (exit code, everything it printed)."""
    done = subprocess.run([sys.executable, str(SUITE), "--target", "local", "--endpoint", endpoint, "--api-url", api,
                           "--state", str(state), "--name", name], capture_output=True, text=True, timeout=900)
    return done.returncode, done.stdout + done.stderr


def teardowns(endpoint: str, name: str) -> list[str]:
    """Statuses of the environment's teardown runs (`<env>--d-<ms>`, as the API and the suite name them)."""
    sfn = client(endpoint, "stepfunctions")
    machine = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "mec-teardown")
    runs = sfn.list_executions(stateMachineArn=machine)["executions"]
    return [e["status"] for e in runs if e["name"].startswith(f"{name}--d-")]


def test_the_suite_passes_against_the_local_world(world_with_api) -> None:
    endpoint, api, state = world_with_api
    name = "acc-local"
    code, output = suite(endpoint, api, state, name)
    print(output)  # the run and its timing table, for `pytest -s` / `-rP`
    assert code == 0, output
    assert "acceptance (local): PASSED" in output
    # The timing tables: the suite's steps, then the provisioning execution's states.
    assert "| suite step | seconds | result |" in output
    rows = output.split("| suite step | seconds | result |\n|---|---|---|\n")[1].split("\n\n")[0].splitlines()
    steps = {row.split(" | ")[0].lstrip("| "): row.rsplit(" | ", 1)[1].rstrip(" |") for row in rows}
    assert steps == {step: "ok" for step in (
        "deploy the pipeline", "create through the HTTP API", "wait for READY", "mec kubeconfig", "kubectl: both nodes Ready",
        "kubectl: a pod on the worker", "delete through the HTTP API", "nothing tagged remains (Tagging API)",
        "destroy the pipeline")}, rows
    assert "| state | kind | entries | seconds (summed) |" in output
    assert "| CheckNodes | Task |" in output and "time to READY (execution start to stop)" in output
    # Local: the clock is scaled, so no ratio to the model, and the output says so.
    assert "The local world's clock is scaled" in output and "time to READY / lower bound" not in output
    assert "no Terraform apply" in output
    # What the suite saw on its way, and that nothing of the environment remains.
    assert "pod mec-acceptance: " in output and f"on {name}-worker-0" in output
    assert tagged(endpoint, name) == []
    assert teardowns(endpoint, name) == ["SUCCEEDED"]


def test_an_environment_that_fails_is_still_deleted(world_with_api, faults) -> None:
    """The install fails on the worker: the environment ends FAILED (after its rollback), the
    suite fails naming the error, and its cleanup still deletes the environment through the API."""
    endpoint, api, state = world_with_api
    name = "acc-fails"
    faults(fail_install=[f"{name}-worker-0"])
    code, output = suite(endpoint, api, state, name)
    assert code == 1, output
    assert f"acceptance (local): FAILED — {name} is FAILED" in output and "CommandFailed" in output
    assert "cleanup: DELETE -> HTTP 202" in output
    assert "left behind: nothing (everything the suite created was deleted)" in output
    assert tagged(endpoint, name) == [] and teardowns(endpoint, name) == ["SUCCEEDED"]


@pytest.fixture()
def api_that_goes_away(world_with_api) -> Iterator[str]:
    """A front for the world's HTTP API that answers the first POST, then stops listening: the
    API is gone while the environment is being created."""
    _, api, _ = world_with_api

    class Forward(BaseHTTPRequestHandler):
        def forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = urllib.request.Request(api + self.path, data=self.rfile.read(length) if length else None,
                                             method=self.command, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=60) as answer:
                    status, raw = answer.status, answer.read()
            except urllib.error.HTTPError as err:
                status, raw = err.code, err.read()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            if self.command == "POST":
                threading.Thread(target=lambda: (server.shutdown(), server.server_close())).start()

        do_GET = do_POST = do_DELETE = forward

        def log_message(self, *args: object) -> None:
            """Quiet: the test reads the suite's output, not the front's."""

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Forward)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_when_the_api_is_gone_the_teardown_machine_deletes_the_environment(world_with_api, api_that_goes_away) -> None:
    endpoint, _, state = world_with_api
    name = "acc-no-api"
    code, output = suite(endpoint, api_that_goes_away, state, name)
    assert code == 1, output
    assert "FAILED — the HTTP API does not answer" in output
    assert "using Step Functions directly" in output and f"cleanup: stopping {name}--c-" in output
    assert "left behind: nothing (everything the suite created was deleted)" in output
    assert tagged(endpoint, name) == [] and teardowns(endpoint, name) == ["SUCCEEDED"]


def refused(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess:
    """The aws target with no AWS configuration at all: empty config and credentials files, no
    AWS_* variable (and no instance role: IMDS off, so that a CI runner on EC2 has none either),
    and a `terraform` on PATH that records any call, to show nothing was run."""
    empty = tmp_path / "empty"
    empty.write_text("")
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("terraform", "kubectl"):
        fake = tools / tool
        fake.write_text(f"#!/bin/sh\necho \"$0 $*\" >>{tmp_path / 'called'}\nexit 1\n")
        fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "MEC_ACCEPTANCE"}
    env.update(AWS_CONFIG_FILE=str(empty), AWS_SHARED_CREDENTIALS_FILE=str(empty), AWS_EC2_METADATA_DISABLED="true",
               PATH=f"{tools}:{env['PATH']}", **extra)
    return subprocess.run([sys.executable, str(SUITE), "--target", "aws", "--region", "eu-west-1"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_the_aws_target_refuses_without_the_opt_in(tmp_path: Path) -> None:
    done = refused(tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "MEC_ACCEPTANCE=1 is not set" in done.stderr
    assert not (tmp_path / "called").exists()


def test_the_aws_target_refuses_without_credentials(tmp_path: Path) -> None:
    done = refused(tmp_path, MEC_ACCEPTANCE="1")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no AWS credentials resolve" in done.stderr
    assert "MEC_ACCEPTANCE" not in done.stderr
    assert not (tmp_path / "called").exists()
