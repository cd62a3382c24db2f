"""The world's faults do what AWS does when things go wrong, and say so in <state>/logs/faults.jsonl.

- Lost responses (world/faults.py): a Lambda binary's mutating call is applied, then the caller
  sees a 5xx in the service's protocol or a cut connection; RunInstances with the same ClientToken
  launches once (rule run-instances-client-token).
- Step Functions' own Lambda invokes (world/invoke_faults.py): ServiceException and
  TooManyRequestsException reach the state machine as Lambda.ServiceException /
  Lambda.TooManyRequestsException, retried by a matching Retry, failing the Task without one.
- The Lambda host (world/lambda_host.py): a function past its timeout is Sandbox.Timedout, a Task
  whose own TimeoutSeconds ends first is States.Timeout, a runtime that exits is Runtime.ExitError.
"""

from __future__ import annotations

import io
import json
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import botocore.config
import botocore.exceptions
import pytest

from conftest import BINARIES, ROOT, bare, client

sys.path.insert(0, str(ROOT / "local"))
from world.faults import read_faults  # noqa: E402

pytestmark = pytest.mark.skipif(not (BINARIES / "mec-validate").exists(), reason=f"no Lambda binaries in {BINARIES}")

# As the Lambda binaries' SDK names itself: only such calls are faulted.
AS_LAMBDA = botocore.config.Config(user_agent_extra="exec-env/AWS_Lambda_rust", retries={"total_max_attempts": 1})
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]}, "Action": "sts:AssumeRole"}]})

# A Lambda "binary" on the Runtime API, whose behaviour is its name: mec-sleepy never answers,
# mec-crash exits 3 while running the invocation, mec-quick answers at once (after leaving a mark).
RUNTIME_SCRIPT = """#!/usr/bin/env python3
import os, sys, time, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
mode = os.path.basename(sys.argv[0])[len("mec-"):]
while True:
    with urllib.request.urlopen(api + "next") as got:
        request_id = got.headers["Lambda-Runtime-Aws-Request-Id"]
        got.read()
    if mode == "sleepy":
        time.sleep(600)
    if mode == "crash":
        sys.exit(3)
    marks = os.environ.get("MARKS")
    if marks:
        open(os.path.join(marks, request_id), "w").close()
    urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=b'{"ok": true}', method="POST")).read()
"""


# EC2's eventual consistency (world/ec2_time.py) is another module's rule, tested there: these
# tests count what a call created right after it, so new IDs are visible at once here.
SETTINGS = {"consistency_seconds": 0}


def set_faults(state: Path, **values: object) -> None:
    (state / "faults.json").write_text(json.dumps({**SETTINGS, **values}))


@pytest.fixture()
def world(bare_world) -> Iterator[tuple[str, Path]]:
    """The bare world with the faults of one test, cleared after it."""
    endpoint, state = bare_world
    set_faults(state)
    yield endpoint, state
    (state / "faults.json").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def script_world(tmp_path_factory) -> Iterator[tuple[str, Path, Path]]:
    """A world of its own whose Lambda binaries are RUNTIME_SCRIPT (and mec-initcrash, which
    exits before asking for work): (endpoint, state, marks folder)."""
    root = tmp_path_factory.mktemp("script-world")
    binaries, state, marks = root / "binaries", root / "state", root / "marks"
    for folder in (binaries, state, marks):
        folder.mkdir()
    for name in ("sleepy", "crash", "quick"):
        (binaries / f"mec-{name}").write_text(RUNTIME_SCRIPT)
    (binaries / "mec-initcrash").write_text("#!/bin/sh\nexit 2\n")
    for binary in binaries.iterdir():
        binary.chmod(0o755)
    servers = bare(binaries, state)
    yield next(servers), state, marks
    next(servers, None)


def role(endpoint: str) -> str:
    iam = client(endpoint, "iam")
    name = f"r-{uuid.uuid4().hex[:8]}"
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]


def function(endpoint: str, name: str, timeout: int = 10, environment: dict[str, str] | None = None) -> str:
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    return client(endpoint, "lambda").create_function(
        FunctionName=name, Runtime="provided.al2023", Role=role(endpoint), Handler="bootstrap",
        Code={"ZipFile": code.getvalue()}, Timeout=timeout, Environment={"Variables": environment or {}})["FunctionArn"]


def machine(endpoint: str, function_name: str, retry_on: str | None = None, task_timeout: int = 60) -> str:
    task: dict[str, object] = {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": task_timeout,
        "Parameters": {"FunctionName": function_name, "Payload": {"name": "lab-1"}}, "End": True}
    if retry_on:
        task["Retry"] = [{"ErrorEquals": [retry_on], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1}]
    definition = {"StartAt": "Call", "States": {"Call": task}}
    return client(endpoint, "stepfunctions").create_state_machine(
        name=f"m-{uuid.uuid4().hex[:8]}", roleArn=role(endpoint), definition=json.dumps(definition))["stateMachineArn"]


def execute(endpoint: str, machine_arn: str, timeout: float = 60) -> tuple[dict, list[dict]]:
    """Runs the machine to its end: (DescribeExecution, the history's events)."""
    sfn = client(endpoint, "stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine_arn, input="{}")["executionArn"]
    deadline = time.time() + timeout
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.time() < deadline, "the execution never ended"
        time.sleep(0.2)
    return described, sfn.get_execution_history(executionArn=arn)["events"]


def tag(value: str) -> list[dict]:
    return [{"ResourceType": "vpc", "Tags": [{"Key": "test", "Value": value}]}]


def vpcs_tagged(endpoint: str, value: str) -> list[str]:
    found = client(endpoint, "ec2").describe_vpcs(Filters=[{"Name": "tag:test", "Values": [value]}])["Vpcs"]
    return [v["VpcId"] for v in found]


# Lost responses


def test_a_lost_response_is_a_5xx_in_the_services_protocol_after_the_call_was_applied(world):
    endpoint, state = world
    set_faults(state, lost_response_rate=1.0, lost_response_kinds=["error"], lost_response_operations=["CreateVpc"])
    marker = uuid.uuid4().hex
    with pytest.raises(botocore.exceptions.ClientError) as lost:
        client(endpoint, "ec2", config=AS_LAMBDA).create_vpc(CidrBlock="10.9.0.0/16", TagSpecifications=tag(marker))
    error = lost.value.response
    assert error["Error"]["Code"] in ("InternalError", "Unavailable")
    assert error["ResponseMetadata"]["HTTPStatusCode"] in (500, 503)
    assert len(vpcs_tagged(endpoint, marker)) == 1, "the call was applied all the same"
    assert read_faults(state, kind="lost-response", operation="CreateVpc", mode="error")


def test_a_dropped_connection_gives_the_sdk_no_http_answer_after_the_call_was_applied(world):
    endpoint, state = world
    set_faults(state, lost_response_rate=1.0, lost_response_kinds=["drop"], lost_response_operations=["CreateVpc"])
    marker = uuid.uuid4().hex
    with pytest.raises(botocore.exceptions.ConnectionClosedError):  # no HTTP response at all
        client(endpoint, "ec2", config=AS_LAMBDA).create_vpc(CidrBlock="10.9.0.0/16", TagSpecifications=tag(marker))
    assert len(vpcs_tagged(endpoint, marker)) == 1
    assert read_faults(state, kind="lost-response", operation="CreateVpc", mode="drop")
    # The world still serves the next call.
    assert client(endpoint, "ec2").describe_vpcs()["Vpcs"]


def test_by_default_only_the_lambdas_mutating_calls_lose_their_response(world):
    endpoint, state = world
    started = time.time()
    set_faults(state, lost_response_rate=1.0, lost_response_kinds=["error"])
    as_lambda = client(endpoint, "ec2", config=AS_LAMBDA)
    assert as_lambda.describe_vpcs()["Vpcs"] is not None  # a read is never lost
    marker = uuid.uuid4().hex
    client(endpoint, "ec2").create_vpc(CidrBlock="10.9.0.0/16", TagSpecifications=tag(marker))  # nor a test's call
    with pytest.raises(botocore.exceptions.ClientError):
        as_lambda.create_tags(Resources=vpcs_tagged(endpoint, marker), Tags=[{"Key": "k", "Value": "v"}])
    assert [f["operation"] for f in read_faults(state, since=started, kind="lost-response")] == ["CreateTags"]


def run_instances(endpoint: str, token: str, marker: str, instance_type: str = "t3.micro", config=None) -> dict:
    ec2 = client(endpoint, "ec2", config=config)
    image = client(endpoint, "ec2").describe_images()["Images"][0]["ImageId"]
    return ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType=instance_type, ClientToken=token,
                             TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "test", "Value": marker}]}])


def instances_tagged(endpoint: str, marker: str) -> list[str]:
    found = client(endpoint, "ec2").describe_instances(Filters=[{"Name": "tag:test", "Values": [marker]}])["Reservations"]
    return [i["InstanceId"] for r in found for i in r["Instances"]]


def test_run_instances_retried_with_its_client_token_after_a_lost_response_launches_once(world):
    endpoint, state = world
    set_faults(state, lost_response_rate=1.0, lost_response_kinds=["error"], lost_response_operations=["RunInstances"])
    token, marker = uuid.uuid4().hex, uuid.uuid4().hex
    with pytest.raises(botocore.exceptions.ClientError):
        run_instances(endpoint, token, marker, config=AS_LAMBDA)
    launched = instances_tagged(endpoint, marker)
    assert len(launched) == 1
    set_faults(state)
    again = run_instances(endpoint, token, marker, config=AS_LAMBDA)
    assert [i["InstanceId"] for i in again["Instances"]] == launched
    assert instances_tagged(endpoint, marker) == launched


def test_run_instances_with_a_used_client_token_and_other_parameters_is_refused(world):
    endpoint, _ = world
    token, marker = uuid.uuid4().hex, uuid.uuid4().hex
    run_instances(endpoint, token, marker)
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        run_instances(endpoint, token, marker, instance_type="t3.small")
    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatch"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Another token is another launch.
    run_instances(endpoint, uuid.uuid4().hex, marker)
    assert len(instances_tagged(endpoint, marker)) == 2


def test_without_the_client_token_rule_a_retry_launches_twice(world):
    endpoint, state = world
    set_faults(state, lenient=["run-instances-client-token"])  # the rule's absence, studied
    token, marker = uuid.uuid4().hex, uuid.uuid4().hex
    run_instances(endpoint, token, marker)
    run_instances(endpoint, token, marker)
    assert len(instances_tagged(endpoint, marker)) == 2  # moto alone: what AWS never does


def test_create_route_table_retried_by_the_sdk_after_a_lost_response_creates_one_table(world):
    endpoint, state = world
    vpc = client(endpoint, "ec2").create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    set_faults(state, lost_response_rate=1.0, lost_response_kinds=["drop"], lost_response_operations=["CreateRouteTable"])
    # The SDK fills the token in once and repeats it on its own retry (botocore: idempotencyToken).
    retrying = client(endpoint, "ec2", config=botocore.config.Config(
        user_agent_extra="exec-env/AWS_Lambda_rust", retries={"total_max_attempts": 2, "mode": "standard"}))
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        retrying.create_route_table(VpcId=vpc)  # both attempts lose their answer
    tables = client(endpoint, "ec2").describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    assert len([t for t in tables if not any(a.get("Main") for a in t.get("Associations", []))]) == 1
    assert len(read_faults(state, kind="lost-response", operation="CreateRouteTable")) >= 2


def test_the_injected_aws_errors_are_recorded_with_the_services_codes(world):
    endpoint, state = world
    set_faults(state, aws_error_rate=1.0)
    ssm = client(endpoint, "ssm", config=AS_LAMBDA)
    for _ in range(6):
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            ssm.describe_instance_information()
        assert refused.value.response["Error"]["Code"] in ("ThrottlingException", "InternalServerError")
    codes = {f["code"] for f in read_faults(state, kind="aws-error", service="ssm", cause="aws_error_rate")}
    assert codes <= {"ThrottlingException", "InternalServerError"} and codes


def test_fail_times_fails_the_first_n_lambda_calls_with_the_services_code_then_lets_them_through(world):
    endpoint, state = world
    set_faults(state, fail_times={"DescribeVpcs": {"times": 2, "kind": "throttle"},
                                  "DescribeSubnets": {"times": 1, "kind": "server"}})
    ec2, mine = client(endpoint, "ec2", config=AS_LAMBDA), client(endpoint, "ec2")
    mine.describe_vpcs()  # not a Lambda's call: neither refused nor counted
    for _ in range(2):
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            ec2.describe_vpcs()
        assert refused.value.response["Error"]["Code"] == "RequestLimitExceeded"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    ec2.describe_vpcs()
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        ec2.describe_subnets()
    assert refused.value.response["Error"]["Code"] in ("InternalError", "Unavailable")
    ec2.describe_subnets()
    assert [f["code"] for f in read_faults(state, cause="fail_times", operation="DescribeVpcs")] == ["RequestLimitExceeded"] * 2
    # faults.json written again: the count starts again.
    time.sleep(0.01)
    set_faults(state, fail_times={"DescribeVpcs": {"times": 1, "kind": "throttle"}})
    with pytest.raises(botocore.exceptions.ClientError):
        ec2.describe_vpcs()
    ec2.describe_vpcs()


# Step Functions' own Lambda invokes


def test_a_lambda_service_exception_is_retried_by_a_matching_retry_and_fails_the_task_without_one(world):
    endpoint, state = world
    name = f"t{uuid.uuid4().hex[:6]}-validate"
    function(endpoint, name)
    set_faults(state, invoke_service_exception_rate=1.0, invoke_fault_functions=[name], wait_scale=0.05)
    retried, events = execute(endpoint, machine(endpoint, name, retry_on="Lambda.ServiceException"))
    failures = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert retried["status"] == "FAILED" and retried["error"] == "Lambda.ServiceException"
    assert len(failures) == 3, "one attempt and two retries"
    assert all(f["error"] == "Lambda.ServiceException" and "Status Code: 500" in f["cause"] for f in failures)

    plain, events = execute(endpoint, machine(endpoint, name))
    assert plain["status"] == "FAILED" and plain["error"] == "Lambda.ServiceException"
    assert len([e for e in events if e["type"] == "TaskFailed"]) == 1
    assert len(read_faults(state, kind="invoke-error", function=name, code="ServiceException")) == 4


def test_lambda_throttling_reaches_the_state_machine_as_too_many_requests(world):
    endpoint, state = world
    name = f"t{uuid.uuid4().hex[:6]}-validate"
    function(endpoint, name)
    set_faults(state, invoke_throttle_rate=1.0, invoke_fault_functions=[name])
    failed, events = execute(endpoint, machine(endpoint, name))
    assert failed["status"] == "FAILED" and failed["error"] == "Lambda.TooManyRequestsException"
    cause = next(e["taskFailedEventDetails"]["cause"] for e in events if e["type"] == "TaskFailed")
    assert "Status Code: 429" in cause
    assert read_faults(state, kind="invoke-error", function=name, code="TooManyRequestsException")


def test_invoke_faults_hit_only_step_functions_and_the_function_runs_without_them(world):
    endpoint, state = world
    name = f"t{uuid.uuid4().hex[:6]}-validate"
    function(endpoint, name)
    set_faults(state, invoke_service_exception_rate=1.0, invoke_throttle_rate=1.0)
    direct = client(endpoint, "lambda").invoke(FunctionName=name, Payload=json.dumps({"name": "lab-1"}))
    assert direct["StatusCode"] == 200 and "FunctionError" not in direct, direct["Payload"].read()
    set_faults(state)
    succeeded, _ = execute(endpoint, machine(endpoint, name))
    assert succeeded["status"] == "SUCCEEDED", succeeded


# The Lambda host: timeouts and exits


def invoke(endpoint: str, name: str) -> tuple[dict, dict]:
    patient = botocore.config.Config(read_timeout=120, retries={"total_max_attempts": 1})
    answer = client(endpoint, "lambda", config=patient).invoke(FunctionName=name, Payload=b"{}")
    return answer, json.loads(answer["Payload"].read())


def test_a_function_past_its_timeout_is_sandbox_timedout_as_lambda_reports(script_world):
    endpoint, state, _ = script_world
    function(endpoint, "t-sleepy", timeout=1)
    started = time.monotonic()
    answer, payload = invoke(endpoint, "t-sleepy")
    took = time.monotonic() - started
    assert answer["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert payload["errorMessage"].startswith("RequestId: ") and payload["errorMessage"].endswith(
        "Error: Task timed out after 1.00 seconds")
    assert took < 4, f"stopped at its timeout, not later ({took:.1f} s)"
    assert read_faults(state, kind="invoke-timeout", function="t-sleepy", injected=False)

    failed, _ = execute(endpoint, machine(endpoint, "t-sleepy"))
    assert failed["status"] == "FAILED" and failed["error"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in failed["cause"]


def test_a_task_timeout_shorter_than_the_functions_is_states_timeout(script_world):
    endpoint, _, _ = script_world
    function(endpoint, "t2-sleepy", timeout=30)
    failed, events = execute(endpoint, machine(endpoint, "t2-sleepy", task_timeout=1))
    assert failed["status"] == "FAILED" and failed["error"] == "States.Timeout"
    assert any(e["type"] == "TaskTimedOut" for e in events)


def test_a_runtime_that_exits_is_runtime_exit_error(script_world):
    endpoint, state, _ = script_world
    for name, status in (("t-crash", 3), ("t-initcrash", 2)):
        function(endpoint, name)
        answer, payload = invoke(endpoint, name)
        assert answer["FunctionError"] == "Unhandled"
        assert payload["errorType"] == "Runtime.ExitError"
        assert payload["errorMessage"].endswith(f"Error: Runtime exited with error: exit status {status}"), payload
        assert read_faults(state, kind="invoke-exit", function=name)
        failed, _ = execute(endpoint, machine(endpoint, name))
        assert failed["status"] == "FAILED" and failed["error"] == "Runtime.ExitError"


def test_timeout_functions_run_but_answer_sandbox_timedout_and_the_environment_is_reset(script_world):
    endpoint, state, marks = script_world
    function(endpoint, "t-quick", timeout=1, environment={"MARKS": str(marks)})
    set_faults(state, timeout_functions=["t-quick"])
    try:
        answer, payload = invoke(endpoint, "t-quick")
    finally:
        set_faults(state)
    assert payload["errorType"] == "Sandbox.Timedout"
    ran = [m.name for m in marks.iterdir()]
    assert ran and payload["errorMessage"].startswith(f"RequestId: {ran[0]} "), "it ran, its answer was held"
    assert read_faults(state, kind="invoke-timeout", function="t-quick", injected=True)
    answer, payload = invoke(endpoint, "t-quick")
    assert payload == {"ok": True}
    records = [json.loads(line) for line in (state / "logs/invocations.jsonl").read_text().splitlines()]
    quick = [r for r in records if r["function"] == "t-quick"]
    assert quick[-1]["init_ms"] is not None, "after a timeout the next invocation starts cold"


def test_an_environment_reset_while_it_waits_for_work_takes_none(tmp_path):
    """A reset (killed) environment may still sit in `invocation/next` when the next invocation
    arrives: it must neither count as idle nor take it (CI once saw that invocation answered
    Runtime.ExitError "signal: killed"). A fresh environment serves it."""
    from world.lambda_host import FunctionRuntime

    binary = tmp_path / "mec-quick"
    binary.write_text(RUNTIME_SCRIPT)
    binary.chmod(0o755)
    runtime = FunctionRuntime("t-reset", binary, {"PATH": "/usr/bin:/bin"}, tmp_path / "logs", 128)
    try:
        first = runtime.invoke(b"{}", timeout=10)
        assert json.loads(first.result) == {"ok": True}
        reset = first.environment
        deadline = time.monotonic() + 10
        while not reset.waiting and time.monotonic() < deadline:
            time.sleep(0.01)
        assert reset.waiting, "the warm environment waits for its next invocation"
        reset.kill()
        second = runtime.invoke(b"{}", timeout=10)  # at once: the reset one is still in its wait
        assert (second.host_error, json.loads(second.result)) == (None, {"ok": True})
        assert second.environment is not reset and second.init_ms is not None, "served cold, by a new one"
    finally:
        for environment in runtime.environments:
            environment.kill()
        runtime.close()


def test_a_service_exception_after_the_function_ran_makes_the_retry_run_it_again(script_world):
    endpoint, state, marks = script_world
    ran = marks / "after-run"
    ran.mkdir()
    function(endpoint, "t3-quick", environment={"MARKS": str(ran)})
    set_faults(state, invoke_service_exception_rate=1.0, invoke_fault_functions=["t3-quick"],
               invoke_faults_after_run=True, wait_scale=0.05)
    try:
        failed, events = execute(endpoint, machine(endpoint, "t3-quick", retry_on="Lambda.ServiceException"))
    finally:
        set_faults(state)
    assert failed["status"] == "FAILED" and failed["error"] == "Lambda.ServiceException"
    assert len(list(ran.iterdir())) == 3, "each attempt ran the function; each answer was lost"
    assert len(read_faults(state, kind="invoke-error", function="t3-quick", after_run=True)) == 3
