"""What the local tests share: the repository root, a server started on a free loopback port,
and the environment Terraform runs with here."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(command: list[str], port: int, log: Path | None = None) -> Iterator[str]:
    """Runs `command` until the caller is done with the endpoint it serves on `port`, then stops
    it; fails when it does not stop in STOP_SECONDS or leaves a process it started behind."""
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    world_id = uuid.uuid4().hex
    server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                              env=dict(os.environ, MEC_WORLD_ID=world_id))
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/data.json", timeout=1)
            break
        except OSError:
            assert server.poll() is None and time.time() < deadline, \
                f"{command[1]} did not start" + (f": {log.read_text()}" if log else "")
            time.sleep(0.1)
    try:
        yield url
    finally:
        stopped = stop_server(server, world_id)
        if log:
            out.close()
        assert stopped, f"{command[1]} did not stop within {STOP_SECONDS} s of SIGTERM, or left processes behind"


# The world stops in 5 s whatever runs in it (local/world/serve.py); this leaves a margin.
STOP_SECONDS = 8


def stop_server(server: subprocess.Popen, world_id: str) -> bool:
    """SIGTERM, then wait; True when it exited in STOP_SECONDS and nothing it started lives on.
    Either way nothing is left running: a server that hangs is killed with its process group."""
    server.terminate()
    try:
        server.wait(timeout=STOP_SECONDS)
        clean = True
    except subprocess.TimeoutExpired:
        clean = False
    left = survivors(world_id)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait()
    return clean and not left


def survivors(world_id: str) -> list[int]:
    """Live processes started by the world `world_id` (they carry MEC_WORLD_ID)."""
    sys.path.insert(0, str(ROOT / "local"))
    from world.processes import survivors as find

    return find(world_id)


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


# The end-to-end world and its helpers: local/tests/test_*_e2e.py use them.

BINARIES = Path(os.environ.get("MEC_LAMBDA_BINARIES", Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/mec/target")) / "debug"))


@pytest.fixture(scope="session")
def world_with_api(tmp_path_factory):
    """The local world (local/world/serve.py) with the pipeline deployed by the local Terraform root,
    shared by every end-to-end test module (one Terraform apply per session): the emulator's
    endpoint, the HTTP API front's URL, the world's state folder."""
    state = tmp_path_factory.mktemp("world")
    api_port = free_port()
    servers = local_world(BINARIES, state, api_port=api_port)
    yield next(servers), f"http://127.0.0.1:{api_port}", state
    next(servers, None)


def bare(binaries: Path, state: Path) -> Iterator[str]:
    """The local world without the pipeline (no Terraform): for tests of the world's own rules.
    Yields the emulator's endpoint; stopped (and checked to stop cleanly) after."""
    port = free_port()
    command = [sys.executable, str(ROOT / "local/world/serve.py"), "--port", str(port), "--binaries", str(binaries),
               "--state", str(state), "--api-port", str(free_port())]
    yield from serve(command, port, log=state / "world.log")


@pytest.fixture(scope="module")
def bare_world(tmp_path_factory):
    """A bare local world per test module: (emulator endpoint, state folder). Its faults file is
    state/faults.json, as in the full world."""
    state = tmp_path_factory.mktemp("bare-world")
    servers = bare(BINARIES, state)
    yield next(servers), state
    next(servers, None)


@pytest.fixture(scope="session")
def world(world_with_api):
    """The shared local world: (emulator endpoint, state folder)."""
    endpoint, _, state = world_with_api
    return endpoint, state


def client(endpoint: str, service: str, **options):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing", **options)


def run(endpoint: str, machine: str, name: str, payload: dict, timeout: float = 180) -> dict:
    sfn = client(endpoint, "stepfunctions")
    arn = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == machine)
    execution = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))["executionArn"]
    deadline = time.time() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        assert time.time() < deadline, f"{machine} {name} still running after {timeout} s"
        time.sleep(0.5)


def tagged(endpoint: str, environment: str) -> list[str]:
    ec2 = client(endpoint, "ec2")
    by_tag = [{"Name": "tag:mec:environment", "Values": [environment]}]
    found = [i["InstanceId"] for r in ec2.describe_instances(Filters=by_tag + [{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped", "shutting-down"]}])["Reservations"] for i in r["Instances"]]
    found += [v["VpcId"] for v in ec2.describe_vpcs(Filters=by_tag)["Vpcs"]]
    found += [s["SubnetId"] for s in ec2.describe_subnets(Filters=by_tag)["Subnets"]]
    found += [g["GroupId"] for g in ec2.describe_security_groups(Filters=by_tag)["SecurityGroups"]]
    found += [g["InternetGatewayId"] for g in ec2.describe_internet_gateways(Filters=by_tag)["InternetGateways"]]
    found += [t["RouteTableId"] for t in ec2.describe_route_tables(Filters=by_tag)["RouteTables"]]
    found += [v["VolumeId"] for v in ec2.describe_volumes(Filters=by_tag)["Volumes"]]
    found += [p["Name"] for p in client(endpoint, "ssm").get_parameters_by_path(Path=f"/mec/{environment}", Recursive=True)["Parameters"]]
    return found


def mec(endpoint: str, *args: str) -> subprocess.CompletedProcess:
    binary = BINARIES / "mec"
    assert binary.exists(), f"no mec CLI in {BINARIES}"
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1",
               AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", MEC_POLL_MS="300")
    return subprocess.run([str(binary), *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture()
def faults(world):
    """Sets the world's faults for one test, and clears them after it."""
    _, state = world
    path = state / "faults.json"

    def set_faults(**values):
        path.write_text(json.dumps(values))

    yield set_faults
    path.unlink(missing_ok=True)
