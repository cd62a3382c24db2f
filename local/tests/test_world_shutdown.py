"""The local world stops when asked, with work in flight: a Step Functions execution waiting, a
Lambda invocation whose function never answers, and a node's user data running with a child of
its own. SIGTERM ends all of it within the world's bound, and no process it started lives on."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from pathlib import Path

import botocore.config

from conftest import ROOT, STOP_SECONDS, client, free_port, stop_server, survivors

# A "Lambda binary" that starts and never asks the Runtime API for work: its invocation hangs.
NEVER_ANSWERS = "#!/bin/sh\nexec sleep 600\n"
# User data whose script waits on a background child: both must go when the world stops.
BUSY_USER_DATA = "#!/bin/bash\nsleep 600 &\nwait\n"


def start_world(tmp_path: Path) -> tuple[subprocess.Popen, str, str]:
    binaries = tmp_path / "binaries"
    binaries.mkdir()
    (binaries / "mec-hang").write_text(NEVER_ANSWERS)
    (binaries / "mec-hang").chmod(0o755)
    state = tmp_path / "state"
    state.mkdir()
    port, world_id = free_port(), uuid.uuid4().hex
    log = open(state / "world.log", "wb")  # noqa: SIM115 - the world's own output, kept with it
    world = subprocess.Popen(
        [sys.executable, str(ROOT / "local/world/serve.py"), "--port", str(port), "--binaries", str(binaries),
         "--state", str(state), "--api-port", str(free_port())],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=dict(os.environ, MEC_WORLD_ID=world_id))
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            client(endpoint, "sts").get_caller_identity()
            return world, endpoint, world_id
        except Exception:  # noqa: BLE001 - not up yet
            assert world.poll() is None and time.time() < deadline, (state / "world.log").read_text()
            time.sleep(0.2)


def put_work_in_flight(endpoint: str) -> None:
    iam = client(endpoint, "iam")
    role = iam.create_role(RoleName="t", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"]

    # A waiting execution.
    sfn = client(endpoint, "stepfunctions")
    machine = sfn.create_state_machine(name="t-wait", roleArn=role, definition=json.dumps(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}}))["stateMachineArn"]
    sfn.start_execution(stateMachineArn=machine, name="waiting", input="{}")

    # An invocation of a function that never answers (its Lambda environment is a live process).
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("bootstrap", NEVER_ANSWERS)
    client(endpoint, "lambda").create_function(FunctionName="t-hang", Runtime="provided.al2023", Role=role,
                                               Handler="bootstrap", Code={"ZipFile": code.getvalue()}, Timeout=600)
    patient = botocore.config.Config(read_timeout=600, retries={"max_attempts": 0})
    invoker = client(endpoint, "lambda", config=patient)
    threading.Thread(target=lambda: _ignore(invoker.invoke, FunctionName="t-hang", Payload=b"{}"), daemon=True).start()

    # A node whose user data runs (with a background child) at boot.
    ec2 = client(endpoint, "ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", UserData=BUSY_USER_DATA,
                      TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "mec:environment", "Value": "stop-test"}]}])


def _ignore(call, **kwargs) -> None:  # noqa: ANN001
    try:
        call(**kwargs)
    except Exception:  # noqa: BLE001 - the world stops under it: that is the point
        pass


def test_the_world_stops_within_its_bound_and_leaves_no_process(tmp_path):
    world, endpoint, world_id = start_world(tmp_path)
    try:
        put_work_in_flight(endpoint)
        # The Lambda environment, the user data script and its child: at least three processes.
        deadline = time.time() + 30
        while len(survivors(world_id)) < 3:
            assert time.time() < deadline, f"the work never started: {survivors(world_id)}"
            time.sleep(0.2)
        started = time.monotonic()
        stopped = stop_server(world, world_id)
        took = time.monotonic() - started
    finally:
        if world.poll() is None:
            world.kill()
    log = (tmp_path / "state/world.log").read_text(errors="replace")
    assert stopped, f"the world took {took:.1f} s (bound {STOP_SECONDS} s) or left processes behind\n{log[-3000:]}"
    assert world.returncode == 0, f"exit code {world.returncode}\n{log[-3000:]}"
