"""SSM in the local world as strict as AWS: Run Command as the service and its agent do it
(world/runcommand.py, nodesim/runner.py, nodesim/document.py) and Parameter Store's limits
(world/parameters.py). Each rule: the wrong request and AWS's refusal, and the right one passing.

The documents here are the tests' own (a `body` parameter that becomes the whole script), so that
these tests depend on the agent and the service only, not on the MicroK8s stand-ins."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import client

SCRIPT_DOC = "t-script"
DOC_CONTENT = """schemaVersion: "2.2"
description: runs its body
parameters:
  body:
    type: String
    description: the whole script
  word:
    type: String
    default: "x"
    allowedPattern: '^[a-z]+$'
  executionTimeout:
    type: String
    default: "3600"
mainSteps:
  - action: aws:runShellScript
    name: runBody
    inputs:
      timeoutSeconds: "{{ executionTimeout }}"
      runCommand:
        - "{{ body }}"
"""
UNCHECKED = Config(parameter_validation=False, retries={"max_attempts": 1})
TERMINAL = {"Success", "Failed", "TimedOut", "Cancelled"}


# --- fixtures and helpers ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world_ssm(bare_world):
    endpoint, state = bare_world
    ssm = client(endpoint, "ssm")
    ssm.create_document(Content=DOC_CONTENT, Name=SCRIPT_DOC, DocumentType="Command", DocumentFormat="YAML")
    return endpoint, state


@pytest.fixture
def faults(world_ssm):
    """Sets the world's faults.json for one test; cleared after it."""
    _, state = world_ssm
    path = state / "faults.json"

    def set_faults(**values):
        path.write_text(json.dumps(values))

    yield set_faults
    path.unlink(missing_ok=True)


def launch(endpoint: str, count: int = 1, name: str | None = None) -> list[str]:
    ec2 = client(endpoint, "ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}] if name else []
    reservation = ec2.run_instances(ImageId=image, MinCount=count, MaxCount=count, InstanceType="t3.micro",
                                    TagSpecifications=tags)
    ids = [i["InstanceId"] for i in reservation["Instances"]]
    deadline = time.time() + 30
    while state(ec2, ids) != {"running"}:
        assert time.time() < deadline
        time.sleep(0.1)
    return ids


def state(ec2, ids: list[str]) -> set[str]:
    """The instances' states; nothing while EC2 does not know them yet (eventual consistency)."""
    try:
        reservations = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "InvalidInstanceID.NotFound":
            return set()
        raise
    return {i["State"]["Name"] for r in reservations for i in r["Instances"]}


@pytest.fixture(scope="module")
def nodes(world_ssm):
    endpoint, _ = world_ssm
    return launch(endpoint, 3)


def send(endpoint: str, ids: list[str], body: str, ssm=None, **options) -> str:
    ssm = ssm or client(endpoint, "ssm")
    parameters = {"body": [body], **options.pop("parameters", {})}
    return ssm.send_command(DocumentName=SCRIPT_DOC, InstanceIds=ids, Parameters=parameters, **options)["Command"]["CommandId"]


def wait(endpoint: str, command_id: str, timeout: float = 60) -> dict:
    """The command once every invocation has ended."""
    ssm = client(endpoint, "ssm")
    deadline = time.time() + timeout
    while True:
        command = ssm.list_commands(CommandId=command_id)["Commands"][0]
        if command["Status"] in TERMINAL:
            return command
        assert time.time() < deadline, command
        time.sleep(0.1)


def invocation(endpoint: str, command_id: str, instance_id: str) -> dict:
    return client(endpoint, "ssm").get_command_invocation(CommandId=command_id, InstanceId=instance_id)


def listed(endpoint: str, command_id: str) -> dict[str, dict]:
    found = client(endpoint, "ssm").list_command_invocations(CommandId=command_id, Details=True)["CommandInvocations"]
    return {i["InstanceId"]: i for i in found}


def refused(call, code: str, message: str | None = None) -> str:
    with pytest.raises(ClientError) as error:
        call()
    assert error.value.response["Error"]["Code"] == code, error.value.response
    text = error.value.response["Error"]["Message"]
    if message is not None:
        assert message in text, text
    return text


# --- SendCommand's own validation ----------------------------------------------------------------

def test_send_command_refuses_what_its_model_refuses(world_ssm, nodes):
    endpoint, _ = world_ssm
    ssm = client(endpoint, "ssm", config=UNCHECKED)
    body = {"body": ["true"]}
    text = refused(lambda: ssm.send_command(DocumentName=SCRIPT_DOC, InstanceIds=[nodes[0]] * 51, Parameters=body),
                   "ValidationException", "at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to 50")
    assert text.startswith("1 validation error detected: Value '[")
    refused(lambda: ssm.send_command(DocumentName=SCRIPT_DOC, InstanceIds=nodes[:1], Parameters=body, Comment="c" * 101),
            "ValidationException", "at 'comment' failed to satisfy constraint: Member must have length less than or equal to 100")
    refused(lambda: ssm.send_command(DocumentName=SCRIPT_DOC, InstanceIds=nodes[:1], Parameters=body, TimeoutSeconds=29),
            "ValidationException", "Value '29' at 'timeoutSeconds' failed to satisfy constraint: Member must have value greater than or equal to 30")
    refused(lambda: ssm.send_command(DocumentName=SCRIPT_DOC, InstanceIds=nodes[:1], Parameters=body, TimeoutSeconds=2592001),
            "ValidationException", "Member must have value less than or equal to 2592000")
    text = refused(lambda: ssm.send_command(DocumentName=SCRIPT_DOC, InstanceIds=nodes[:1], Parameters=body,
                                            MaxConcurrency="0", MaxErrors="101%", Comment="c" * 101),
                   "ValidationException")
    assert text.startswith("3 validation errors detected: ") and "'maxConcurrency'" in text and "'maxErrors'" in text
    refused(lambda: ssm.send_command(DocumentName="x y", InstanceIds=nodes[:1], Parameters=body),
            "ValidationException", "at 'documentName' failed to satisfy constraint")
    refused(lambda: ssm.send_command(DocumentName=SCRIPT_DOC, InstanceIds=["i-nope"], Parameters=body),
            "ValidationException", "at 'instanceIds'")
    # The limits themselves pass.
    command_id = ssm.send_command(DocumentName=SCRIPT_DOC, InstanceIds=nodes[:1], Parameters=body, Comment="c" * 100,
                                  TimeoutSeconds=30, MaxConcurrency="100%", MaxErrors="0")["Command"]["CommandId"]
    assert wait(endpoint, command_id)["Status"] == "Success"


def test_send_command_needs_the_document_its_version_and_hash(world_ssm, nodes):
    endpoint, _ = world_ssm
    ssm = client(endpoint, "ssm")
    body = {"body": ["true"]}
    refused(lambda: ssm.send_command(DocumentName="t-missing", InstanceIds=nodes[:1], Parameters=body), "InvalidDocument")
    refused(lambda: ssm.send_command(DocumentName=SCRIPT_DOC, DocumentVersion="7", InstanceIds=nodes[:1], Parameters=body),
            "InvalidDocumentVersion", "The document version isn't valid or doesn't exist.")
    refused(lambda: ssm.send_command(DocumentName=SCRIPT_DOC, DocumentHash="0" * 64, InstanceIds=nodes[:1], Parameters=body),
            "InvalidDocument", "hash")
    digest = ssm.describe_document(Name=SCRIPT_DOC)["Document"]["Hash"]
    assert digest == hashlib.sha256(DOC_CONTENT.encode()).hexdigest()
    command = ssm.send_command(DocumentName=SCRIPT_DOC, DocumentVersion="1", DocumentHash=digest, DocumentHashType="Sha256",
                               InstanceIds=nodes[:1], Parameters=body)["Command"]
    assert command["DocumentVersion"] == "1" and command["Status"] in ("Pending", "InProgress")
    assert wait(endpoint, command["CommandId"])["Status"] == "Success"


def test_send_command_checks_the_parameters_against_the_document(world_ssm, nodes):
    endpoint, _ = world_ssm
    ssm = client(endpoint, "ssm")
    refused(lambda: ssm.send_command(DocumentName=SCRIPT_DOC, InstanceIds=nodes[:1], Parameters={"body": ["true"], "other": ["x"]}),
            "InvalidParameters", "other")
    refused(lambda: ssm.send_command(DocumentName=SCRIPT_DOC, InstanceIds=nodes[:1], Parameters={}), "InvalidParameters", "body")
    refused(lambda: ssm.send_command(DocumentName=SCRIPT_DOC, InstanceIds=nodes[:1], Parameters={"body": ["true"], "word": ["A1"]}),
            "InvalidParameters", "allowedPattern")


def test_send_command_needs_instances_ssm_manages(world_ssm, nodes, faults):
    endpoint, _ = world_ssm
    faults(never_register=["t-unregistered"])
    stranger = launch(endpoint, name="t-unregistered")[0]
    ssm = client(endpoint, "ssm")
    text = refused(lambda: send(endpoint, [nodes[0], stranger], "true"), "InvalidInstanceId")
    assert text == f"Instances [[{stranger}]] not in a valid state for account 123456789012"
    gone = launch(endpoint)[0]
    client(endpoint, "ec2").terminate_instances(InstanceIds=[gone])
    refused(lambda: send(endpoint, [gone], "true"), "InvalidInstanceId", gone)
    online = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [nodes[0], stranger]}])
    assert [(i["InstanceId"], i["PingStatus"]) for i in online["InstanceInformationList"]] == [(nodes[0], "Online")]


# --- the agent -----------------------------------------------------------------------------------

def test_the_agent_runs_sh_c_on_the_script_file_so_the_shebang_decides(world_ssm, nodes):
    endpoint, _ = world_ssm
    # The agent writes `$$` of a parameter value as `$` (parameters.go ReplaceParameter): `$$$$`.
    plain = send(endpoint, nodes[:1], 'readlink /proc/$$$$/exe\necho "$0"')
    bash = send(endpoint, nodes[:1], '#!/bin/bash\nreadlink /proc/$$$$/exe\n[[ -n $BASH_VERSION ]] && echo bash')
    wait(endpoint, plain)
    wait(endpoint, bash)
    shell, script = invocation(endpoint, plain, nodes[0])["StandardOutputContent"].splitlines()
    assert shell.endswith("/dash") and script.endswith("/_script.sh")
    assert invocation(endpoint, bash, nodes[0])["StandardOutputContent"].splitlines() == ["/usr/bin/bash", "bash"]
    # A bash-only construct without a shebang fails under sh, as on EC2 (aws/amazon-ssm-agent#46).
    bashism = send(endpoint, nodes[:1], "[[ 1 == 1 ]] && echo yes")
    assert wait(endpoint, bashism)["Status"] == "Failed"
    failed = invocation(endpoint, bashism, nodes[0])
    assert (failed["Status"], failed["ResponseCode"]) == ("Failed", 127)
    assert failed["StandardErrorContent"].endswith("failed to run commands: exit status 127")


def test_the_agent_gives_its_own_environment(world_ssm, nodes):
    endpoint, _ = world_ssm
    command_id = send(endpoint, nodes[:1], "env\necho PWD=$(pwd)")
    wait(endpoint, command_id)
    lines = invocation(endpoint, command_id, nodes[0])["StandardOutputContent"].splitlines()
    env = dict(line.split("=", 1) for line in lines if "=" in line)
    assert "HOME" not in env
    assert env["AWS_SSM_INSTANCE_ID"] == nodes[0] and env["SSM_COMMAND_ID"] == command_id
    assert env["AWS_SSM_REGION_NAME"] == "us-east-1"
    assert (env["AWS_SSM_PLATFORM_NAME"], env["AWS_SSM_PLATFORM_VERSION"]) == ("Ubuntu", "24.04")
    path = env["PATH"].split(":")
    assert path[0].endswith("nodesim/bin") and path[1:] == ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    assert not any("snap/bin" in p for p in path)
    assert env["PWD"] == env["MEC_ROOT"] + "/var/snap/amazon-ssm-agent/current"


def test_ssm_secure_references_reach_the_script_literally(world_ssm, nodes):
    endpoint, _ = world_ssm
    ssm = client(endpoint, "ssm")
    ssm.put_parameter(Name="/t/secret", Value="s3cret", Type="SecureString")
    ssm.put_parameter(Name="/t/plain", Value="hello", Type="String")
    literal = send(endpoint, nodes[:1], "echo '{{ssm-secure:/t/secret}}'")
    assert wait(endpoint, literal)["Status"] == "Success"
    assert invocation(endpoint, literal, nodes[0])["StandardOutputContent"] == "{{ssm-secure:/t/secret}}\n"
    resolved = send(endpoint, nodes[:1], "echo '{{ssm:/t/plain}}'")
    wait(endpoint, resolved)
    assert invocation(endpoint, resolved, nodes[0])["StandardOutputContent"] == "hello\n"


def test_a_securestring_named_by_ssm_fails_the_invocation_before_the_script(world_ssm, nodes):
    endpoint, _ = world_ssm
    ssm = client(endpoint, "ssm")
    ssm.put_parameter(Name="/t/secret2", Value="s3cret", Type="SecureString")
    command_id = send(endpoint, nodes[:1], "echo '{{ssm:/t/secret2}}'")
    assert wait(endpoint, command_id)["Status"] == "Failed"
    found = listed(endpoint, command_id)[nodes[0]]
    assert (found["Status"], found["StatusDetails"]) == ("Failed", "Failed")
    assert found["TraceOutput"] == "Parameters [/t/secret2] of type SecureString are not supported"
    assert found["CommandPlugins"][0]["ResponseCode"] == -1
    missing = send(endpoint, nodes[:1], "echo '{{ssm:/t/none}}'")
    wait(endpoint, missing)
    assert listed(endpoint, missing)[nodes[0]]["TraceOutput"] == "Input contains invalid parameters [/t/none]"


def test_without_the_reference_rule_ssm_secure_is_resolved(world_ssm, nodes, faults):
    """The world before the rule: the lenient switch studies its absence."""
    endpoint, _ = world_ssm
    faults(lenient=["agent-parameter-references"])
    client(endpoint, "ssm").put_parameter(Name="/t/secret3", Value="s3cret", Type="SecureString")
    command_id = send(endpoint, nodes[:1], "echo '{{ssm-secure:/t/secret3}}'")
    wait(endpoint, command_id)
    assert invocation(endpoint, command_id, nodes[0])["StandardOutputContent"] == "s3cret\n"


# --- output ----------------------------------------------------------------------------------------

def test_output_is_cut_as_the_agent_and_the_service_cut_it(world_ssm, nodes):
    endpoint, _ = world_ssm
    command_id = send(endpoint, nodes[:1], "head -c 30000 /dev/zero | tr '\\0' a\nhead -c 10000 /dev/zero | tr '\\0' b >&2\nexit 3")
    assert wait(endpoint, command_id)["Status"] == "Failed"
    got = invocation(endpoint, command_id, nodes[0])
    assert (got["Status"], got["ResponseCode"]) == ("Failed", 3)
    assert got["StandardOutputContent"] == "a" * (24000 - 20) + "--output truncated--"
    assert got["StandardErrorContent"] == "b" * 8000
    output = listed(endpoint, command_id)[nodes[0]]["CommandPlugins"][0]["Output"]
    # TruncateOutput: both over half of what the title leaves: each keeps half of what the two
    # markers leave.
    title, cut_out, cut_err = "\n----------ERROR-------\n", "\n---Output truncated---", "\n---Error truncated----"
    half = (2500 - len(title) - len(cut_out) - len(cut_err)) // 2
    assert output == "a" * half + cut_out + title + "b" * half + cut_err
    assert len(output) <= 2500


def test_short_output_is_whole_and_empty_until_the_end(world_ssm, nodes):
    endpoint, _ = world_ssm
    command_id = send(endpoint, nodes[:1], "echo hello\necho oops >&2\nexit 2")
    running = invocation(endpoint, command_id, nodes[0])
    if running["Status"] not in TERMINAL:
        assert running["StandardOutputContent"] == "" and running["ResponseCode"] == -1
    wait(endpoint, command_id)
    got = invocation(endpoint, command_id, nodes[0])
    assert got["StandardOutputContent"] == "hello\n"
    assert got["StandardErrorContent"] == "oops\nfailed to run commands: exit status 2"
    plugin = listed(endpoint, command_id)[nodes[0]]["CommandPlugins"][0]
    assert plugin["Name"] == "runBody"
    assert plugin["Output"] == "hello\n\n----------ERROR-------\noops\nfailed to run commands: exit status 2"


# --- timeouts, cancel, concurrency, errors ---------------------------------------------------------

def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_execution_timeout_kills_the_script_and_what_it_started(world_ssm, nodes, faults, tmp_path):
    endpoint, _ = world_ssm
    faults(command_timeout_scale=0.2)  # executionTimeout 5 s -> 1 s
    pidfile = tmp_path / "child.pid"
    command_id = send(endpoint, nodes[:1], f"echo started\n/usr/bin/sleep 300 &\necho $! > {pidfile}\n/usr/bin/sleep 300",
                      parameters={"executionTimeout": ["5"]})
    command = wait(endpoint, command_id, timeout=30)
    assert (command["Status"], command["StatusDetails"]) == ("TimedOut", "ExecutionTimedOut")
    got = invocation(endpoint, command_id, nodes[0])
    assert (got["Status"], got["StatusDetails"], got["ResponseCode"]) == ("TimedOut", "ExecutionTimedOut", 137)
    assert got["StandardOutputContent"] == "started\n"
    assert not alive(int(pidfile.read_text()))


def test_cancel_command_kills_a_running_script(world_ssm, nodes, tmp_path):
    endpoint, _ = world_ssm
    ssm = client(endpoint, "ssm")
    pidfile = tmp_path / "child.pid"
    command_id = send(endpoint, nodes[:1], f"/usr/bin/sleep 300 &\necho $! > {pidfile}\n/usr/bin/sleep 300")
    deadline = time.time() + 20
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.time() < deadline
        time.sleep(0.05)
    ssm.cancel_command(CommandId=command_id)
    command = wait(endpoint, command_id)
    assert (command["Status"], command["StatusDetails"]) == ("Cancelled", "Cancelled")
    got = invocation(endpoint, command_id, nodes[0])
    assert (got["Status"], got["StatusDetails"], got["ResponseCode"]) == ("Cancelled", "Cancelled", 137)
    assert not alive(int(pidfile.read_text()))
    refused(lambda: ssm.cancel_command(CommandId="00000000-0000-0000-0000-000000000000"), "InvalidCommandId")


def test_an_instance_that_never_picks_the_command_up_times_out_on_delivery(world_ssm, faults):
    endpoint, _ = world_ssm
    faults(command_timeout_scale=0.02)  # (30 s + 5 s) x 0.02: expired after 0.7 s
    stopped = launch(endpoint)[0]
    client(endpoint, "ec2").stop_instances(InstanceIds=[stopped])
    # Registered, then stopped: SendCommand takes it (valid states include Stopped), nothing runs.
    command_id = send(endpoint, [stopped], "echo never", TimeoutSeconds=30, parameters={"executionTimeout": ["5"]})
    assert invocation(endpoint, command_id, stopped)["Status"] in ("Pending", "Delayed")
    command = wait(endpoint, command_id)
    assert (command["Status"], command["StatusDetails"], command["DeliveryTimedOutCount"]) == ("TimedOut", "DeliveryTimedOut", 1)
    got = invocation(endpoint, command_id, stopped)
    assert (got["Status"], got["StatusDetails"], got["ResponseCode"]) == ("TimedOut", "DeliveryTimedOut", -1)
    assert got["StandardOutputContent"] == ""


def test_max_concurrency_runs_one_at_a_time(world_ssm, nodes, tmp_path):
    endpoint, _ = world_ssm
    log = tmp_path / "spans"
    body = f"echo start $(date +%s.%N) >> {log}\n/usr/bin/sleep 0.3\necho end $(date +%s.%N) >> {log}"
    command = wait(endpoint, send(endpoint, nodes, body, MaxConcurrency="1"))
    assert command["Status"] == "Success" and command["CompletedCount"] == 3
    events = [line.split() for line in log.read_text().splitlines()]
    assert [kind for kind, _ in events] == ["start", "end"] * 3


def test_max_errors_stops_sending_and_decides_the_status(world_ssm, nodes):
    endpoint, _ = world_ssm
    command_id = send(endpoint, nodes, "exit 1", MaxConcurrency="1", MaxErrors="1")
    command = wait(endpoint, command_id)
    assert (command["Status"], command["StatusDetails"], command["ErrorCount"]) == ("Failed", "Failed", 2)
    statuses = [(i["Status"], i["StatusDetails"]) for i in (listed(endpoint, command_id)[n] for n in nodes)]
    assert statuses == [("Failed", "Failed"), ("Failed", "Failed"), ("Cancelled", "Terminated")]
    # Failures within MaxErrors: every invocation ran, the command is Success / Incomplete.
    one_fails = send(endpoint, nodes[:2], f'[ "$AWS_SSM_INSTANCE_ID" != {nodes[0]} ]', MaxErrors="1")
    command = wait(endpoint, one_fails)
    assert (command["Status"], command["StatusDetails"], command["ErrorCount"]) == ("Success", "Incomplete", 1)


# --- Parameter Store -------------------------------------------------------------------------------

KUBECONFIG_SIZE = 5632  # a MicroK8s 1.32 admin kubeconfig is ~5.5 KB


def test_a_standard_parameter_holds_4096_characters(world_ssm):
    endpoint, _ = world_ssm
    ssm = client(endpoint, "ssm")
    ssm.put_parameter(Name="/t/size/ok", Value="v" * 4096, Type="String")
    text = refused(lambda: ssm.put_parameter(Name="/t/size/big", Value="v" * 4097, Type="String"), "ValidationException")
    assert text.startswith("Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger "
                           "parameter value, upgrade the parameter to use the advanced-parameter tier.")


def test_the_masters_kubeconfig_does_not_fit_a_standard_securestring(world_ssm):
    """What the master's `aws ssm put-parameter --type SecureString --overwrite` sends today."""
    endpoint, _ = world_ssm
    ssm = client(endpoint, "ssm")
    kubeconfig = "k" * KUBECONFIG_SIZE
    refused(lambda: ssm.put_parameter(Name="/mec/lab-1/kubeconfig", Value=kubeconfig, Type="SecureString", Overwrite=True),
            "ValidationException", "Standard tier parameters support a maximum parameter value of 4096 characters")
    ssm.put_parameter(Name="/mec/lab-1/kubeconfig", Value=kubeconfig, Type="SecureString", Overwrite=True, Tier="Advanced")
    ssm.put_parameter(Name="/mec/lab-2/kubeconfig", Value=kubeconfig, Type="SecureString", Tier="Intelligent-Tiering")
    ssm.put_parameter(Name="/mec/lab-3/kubeconfig", Value="small", Type="SecureString", Tier="Intelligent-Tiering")
    tiers = {p["Name"]: p["Tier"] for p in ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": ["/mec/lab-2/kubeconfig", "/mec/lab-3/kubeconfig"]}])["Parameters"]}
    assert tiers == {"/mec/lab-2/kubeconfig": "Advanced", "/mec/lab-3/kubeconfig": "Standard"}


def test_advanced_parameters_hold_8192_and_stay_advanced(world_ssm):
    endpoint, _ = world_ssm
    ssm = client(endpoint, "ssm")
    ssm.put_parameter(Name="/t/adv", Value="v" * 8192, Type="String", Tier="Advanced")
    refused(lambda: ssm.put_parameter(Name="/t/adv", Value="v" * 8193, Type="String", Tier="Advanced", Overwrite=True),
            "ValidationException", "Advanced-tier parameters support a maximum parameter value of 8192 characters.")
    refused(lambda: ssm.put_parameter(Name="/t/adv", Value="v", Type="String", Tier="Standard", Overwrite=True),
            "ValidationException", "You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier.")
    ssm.put_parameter(Name="/t/adv", Value="v", Type="String", Overwrite=True)  # no Tier: it stays Advanced
    policies = json.dumps([{"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": "2030-01-01T00:00:00.000Z"}}])
    refused(lambda: ssm.put_parameter(Name="/t/policy", Value="v", Type="String", Tier="Standard", Policies=policies),
            "ValidationException", "policies")
    ssm.put_parameter(Name="/t/policy", Value="v", Type="String", Tier="Advanced", Policies=policies)


def test_parameter_names_and_hierarchies(world_ssm):
    endpoint, _ = world_ssm
    ssm = client(endpoint, "ssm")
    for name in ("/t/a b", "/t/a@b", "t/a", "/t//a", "/t/a:b"):
        refused(lambda n=name: ssm.put_parameter(Name=n, Value="v", Type="String"), "ValidationException",
                "each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_")
    deep = "/" + "/".join(f"l{i}" for i in range(16))
    refused(lambda: ssm.put_parameter(Name=deep, Value="v", Type="String"), "HierarchyLevelLimitExceededException",
            "A hierarchy can have a maximum of 15 levels.")
    ssm.put_parameter(Name="/" + "/".join(f"l{i}" for i in range(15)), Value="v", Type="String")
    ssm.put_parameter(Name="t_flat.name-1", Value="v", Type="String")
    refused(lambda: ssm.put_parameter(Name="/t/" + "n" * 1000, Value="v", Type="String"), "ValidationException", "1011")
    refused(lambda: ssm.put_parameter(Name="/t/desc", Value="v", Type="String", Description="d" * 1025),
            "ValidationException", "at 'description' failed to satisfy constraint: Member must have length less than or equal to 1024")
    ssm.put_parameter(Name="/t/desc", Value="v", Type="String", Description="d" * 1024)
    refused(lambda: ssm.put_parameter(Name="/t/nested", Value="a {{ssm:/t/plain}} b", Type="String"), "ValidationException",
            "Parameter value can't nest another parameter. Do not use \"{{}}\" in the value.")
    refused(lambda: client(endpoint, "ssm").get_parameters_by_path(Path="mec"), "ValidationException", "It should always begin with / symbol")
    names = [f"/t/del/{i}" for i in range(11)]
    refused(lambda: ssm.delete_parameters(Names=names), "ValidationException", "Member must have length less than or equal to 10")
    ssm.delete_parameters(Names=names[:10])


def test_securestrings_need_a_usable_kms_key(world_ssm):
    endpoint, _ = world_ssm
    ssm, kms = client(endpoint, "ssm"), client(endpoint, "kms")
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/t-key", TargetKeyId=key["KeyId"])
    for key_id in (key["KeyId"], key["Arn"], "alias/t-key", "alias/aws/ssm"):
        ssm.put_parameter(Name="/t/kms/ok", Value="v", Type="SecureString", KeyId=key_id, Overwrite=True)
    missing = "11111111-2222-3333-4444-555555555555"
    text = refused(lambda: ssm.put_parameter(Name="/t/kms/x", Value="v", Type="SecureString", KeyId=missing), "InvalidKeyId")
    assert text.startswith(f"Key 'arn:aws:kms:us-east-1:123456789012:key/{missing}' does not exist (Service: AWSKMS; Status Code: 400; "
                           "Error Code: NotFoundException;")
    refused(lambda: ssm.put_parameter(Name="/t/kms/x", Value="v", Type="SecureString", KeyId="alias/t-none"), "InvalidKeyId",
            "Alias arn:aws:kms:us-east-1:123456789012:alias/t-none is not found.")
    ssm.put_parameter(Name="/t/kms/off", Value="v", Type="SecureString", KeyId=key["KeyId"])
    kms.disable_key(KeyId=key["KeyId"])
    try:
        refused(lambda: ssm.put_parameter(Name="/t/kms/x", Value="v", Type="SecureString", KeyId=key["KeyId"]), "InvalidKeyId",
                f"{key['Arn']} is disabled. (Service: AWSKMS; Status Code: 400; Error Code: DisabledException;")
        refused(lambda: ssm.get_parameter(Name="/t/kms/off", WithDecryption=True), "InvalidKeyId", "is disabled.")
        assert ssm.get_parameter(Name="/t/kms/off")["Parameter"]["Type"] == "SecureString"
    finally:
        kms.enable_key(KeyId=key["KeyId"])
    assert ssm.get_parameter(Name="/t/kms/off", WithDecryption=True)["Parameter"]["Value"] == "v"


def test_without_the_size_rule_a_big_standard_value_passes(world_ssm, faults):
    endpoint, _ = world_ssm
    faults(lenient=["parameter-value-size"])
    client(endpoint, "ssm").put_parameter(Name="/t/lenient", Value="v" * 5000, Type="String")


def test_world_log_shows_no_trouble(world_ssm):
    _, state = world_ssm
    log = (state / "world.log").read_text() if (state / "world.log").exists() else ""
    assert "Traceback" not in log, log[-3000:]


def test_scripts_leave_nothing_running(world_ssm):
    """Every script the tests started has ended (their groups were killed or they finished)."""
    _, state = world_ssm
    marker = str(state)
    leftovers = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline and "_script.sh" in cmdline:
                leftovers.append(cmdline)
    assert not leftovers
