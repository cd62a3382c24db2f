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


def history(endpoint: str, execution_arn: str) -> list[dict]:
    """Every event of the execution's history, oldest first."""
    sfn = client(endpoint, "stepfunctions")
    return [e for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
            for e in page["events"]]


def state_of(events: list[dict], event: dict) -> str | None:
    """The state an event belongs to: its previousEventId chain back to the state's *StateEntered
    event (each Parallel branch has its own chain, so interleaved branches do not mix)."""
    by_id = {e["id"]: e for e in events}
    current: dict | None = event
    while current is not None:
        if "stateEnteredEventDetails" in current:
            return current["stateEnteredEventDetails"]["name"]
        current = by_id.get(current.get("previousEventId"))
    return None


# The states that send an SSM command; the *Status state after one polls it and fails for it.
COMMAND_STATES = ("Install", "MintToken", "JoinNodes", "Verify", "EnableAddons")


def failure_of(endpoint: str, done: dict) -> dict:
    """Where a FAILED provisioning execution failed, read from its history up to the rollback's
    first state (StartRollback):
    `state`, the state whose TaskFailed carries the execution's own error and cause (else, for an
    error a Pass state sets, the last state entered); `last_task`, the last Task or Parallel state
    entered; `sent_by`, the last command-sending state entered (which command a *Status state
    failed on); `path`, the states entered; `error` and `cause`, the execution's."""
    events = history(endpoint, done["executionArn"])
    rollback = next((k for k, e in enumerate(events) if "stateEnteredEventDetails" in e
                     and e["stateEnteredEventDetails"]["name"] == "StartRollback"), None)
    assert rollback is not None, f"no rollback in {[e['type'] for e in events]}"
    before = events[:rollback]
    path = [e["stateEnteredEventDetails"]["name"] for e in before if "stateEnteredEventDetails" in e]
    caught = [e for e in before if e["type"] == "TaskFailed"
              and e["taskFailedEventDetails"].get("error") == done.get("error")
              and e["taskFailedEventDetails"].get("cause") == done.get("cause")]
    tasks = [e["stateEnteredEventDetails"]["name"] for e in before if e["type"] in ("TaskStateEntered", "ParallelStateEntered")]
    return {"state": state_of(events, caught[-1]) if caught else path[-1], "last_task": tasks[-1] if tasks else None,
            "sent_by": next((s for s in reversed(path) if s in COMMAND_STATES), None), "path": path,
            "error": done.get("error"), "cause": done.get("cause") or ""}


def retried_failures(events: list[dict]) -> list[tuple[str, str, str]]:
    """(state, error, cause) of each TaskFailed that the state's Retry answered: the next event in
    its chain schedules the same state's task again."""
    found = []
    for event in events:
        if event["type"] != "TaskFailed":
            continue
        following = [e for e in events if e.get("previousEventId") == event["id"]]
        if any(e["type"] == "TaskScheduled" and state_of(events, e) == state_of(events, event) for e in following):
            details = event["taskFailedEventDetails"]
            found.append((state_of(events, event), details.get("error", ""), details.get("cause", "")))
    return found


def tagged(endpoint: str, environment: str) -> list[str]:
    """Everything the environment still owns, found without the tag-filtered describes that mec's
    teardown and `mec audit` use themselves: the union of two independent inventories, so that a
    resource one of them misses is still found. Ids (i-…, vpc-…), parameter names, and
    `schedule:<group>/<name>` for its expiry schedule."""
    return sorted(set(tagging_api_inventory(endpoint, environment)) | set(describe_inventory(endpoint, environment)))


# Lifecycles whose last states are not "left": a terminated instance (EC2 shows it for a while), a
# closed or cancelled spot request (it outlives its instance).
GONE_STATES = {"ec2:instance": {"terminated"}, "ec2:spot-instance-request": {"closed", "cancelled"}}


def tagging_api_inventory(endpoint: str, environment: str) -> list[str]:
    """Every resource of any type tagged mec:environment=<environment>, from the Resource Groups
    Tagging API (GetResources with a TagFilter), less instances and spot requests in a final
    state."""
    tagging = client(endpoint, "resourcegroupstaggingapi")
    found: list[tuple[str, str]] = []
    token = ""
    while True:
        page = tagging.get_resources(TagFilters=[{"Key": "mec:environment", "Values": [environment]}],
                                     ResourcesPerPage=100, PaginationToken=token)
        for resource in page["ResourceTagMappingList"]:
            arn = resource["ResourceARN"]
            service, kind = arn.split(":")[2], arn.split(":", 5)[5].split("/", 1)[0]
            ident = arn.split(":", 5)[5].split("/", 1)[1] if service in ("ec2", "ssm") else arn
            if service == "ssm" and kind == "parameter":
                ident = "/" + ident.lstrip("/")
            found.append((f"{service}:{kind}", ident))
        token = page.get("PaginationToken") or ""
        if not token:
            break
    # Their states from plain, unfiltered describes (naming a brand-new ID may be NotFound for a
    # moment: EC2's eventual consistency, world/ec2_time.py).
    ec2 = client(endpoint, "ec2")
    ended = {i["InstanceId"] for page in ec2.get_paginator("describe_instances").paginate() for r in page["Reservations"]
             for i in r["Instances"] if i["State"]["Name"] in GONE_STATES["ec2:instance"]}
    if any(t == "ec2:spot-instance-request" for t, _ in found):
        ended |= {r["SpotInstanceRequestId"] for r in ec2.describe_spot_instance_requests()["SpotInstanceRequests"]
                  if r["State"] in GONE_STATES["ec2:spot-instance-request"]}
    return [ident for _, ident in found if ident not in ended]


def describe_inventory(endpoint: str, environment: str) -> list[str]:
    """The same from plain, unfiltered describes of each kind mec creates, filtered here by tag
    (instances not terminated, volumes, VPCs, subnets, security groups, internet and carrier
    gateways, route tables), SSM parameters under /mec/<environment>/ (by path, and among all parameters), and
    the environment's expiry schedule among all schedules."""
    ec2 = client(endpoint, "ec2")

    def mine(item: dict) -> bool:
        return any(t["Key"] == "mec:environment" and t["Value"] == environment for t in item.get("Tags") or [])

    def every(operation: str, key: str) -> list[dict]:
        return [item for page in ec2.get_paginator(operation).paginate() for item in page[key]]

    found = [i["InstanceId"] for r in every("describe_instances", "Reservations") for i in r["Instances"]
             if mine(i) and i["State"]["Name"] != "terminated"]
    for operation, key, ident in (("describe_volumes", "Volumes", "VolumeId"), ("describe_vpcs", "Vpcs", "VpcId"),
                                  ("describe_subnets", "Subnets", "SubnetId"),
                                  ("describe_security_groups", "SecurityGroups", "GroupId"),
                                  ("describe_internet_gateways", "InternetGateways", "InternetGatewayId"),
                                  ("describe_route_tables", "RouteTables", "RouteTableId"),
                                  ("describe_carrier_gateways", "CarrierGateways", "CarrierGatewayId")):
        # A deleted carrier gateway stays visible for a while, in state `deleted`.
        found += [item[ident] for item in every(operation, key) if mine(item) and item.get("State") != "deleted"]
    ssm = client(endpoint, "ssm")
    prefix = f"/mec/{environment}/"
    found += [p["Name"] for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=prefix.rstrip("/"), Recursive=True)
              for p in page["Parameters"]]
    found += [p["Name"] for page in ssm.get_paginator("describe_parameters").paginate() for p in page["Parameters"]
              if p["Name"].startswith(prefix)]
    scheduler = client(endpoint, "scheduler")
    found += [f"schedule:{s['GroupName']}/{s['Name']}" for page in scheduler.get_paginator("list_schedules").paginate()
              for s in page["Schedules"] if s["Name"] == f"{environment}-expiry"]
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
