"""Every step is idempotent, proven rather than assumed: the world applies calls and then loses
their answers (a 5xx or a cut connection), and fails Step Functions' own Lambda invokes after the
function ran, so that steps and calls are retried after they took effect. An environment still
reaches READY with exactly what it should own — nothing created twice — and its teardown, under
the same faults, leaves nothing behind."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from conftest import ROOT, client, run, tagged

sys.path.insert(0, str(ROOT / "local"))
from world.faults import read_faults  # noqa: E402

ENV_TAG = "mec:environment"


def owned(endpoint: str, environment: str) -> dict[str, int]:
    """What the environment owns, counted by plain describes filtered here (not by mec's code)."""
    ec2 = client(endpoint, "ec2")

    def mine(tags: list[dict] | None) -> bool:
        return any(t["Key"] == ENV_TAG and t["Value"] == environment for t in tags or [])

    instances = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
                 if mine(i.get("Tags")) and i["State"]["Name"] not in ("terminated", "shutting-down")]
    return {
        "vpcs": sum(mine(v.get("Tags")) for v in ec2.describe_vpcs()["Vpcs"]),
        "subnets": sum(mine(s.get("Tags")) for s in ec2.describe_subnets()["Subnets"]),
        "internet_gateways": sum(mine(g.get("Tags")) for g in ec2.describe_internet_gateways()["InternetGateways"]),
        "route_tables": sum(mine(t.get("Tags")) for t in ec2.describe_route_tables()["RouteTables"]),
        "security_groups": sum(mine(g.get("Tags")) for g in ec2.describe_security_groups()["SecurityGroups"]),
        "instances": len(instances),
    }


def commands_on(endpoint: str, instance_id: str, document_suffix: str) -> int:
    ssm = client(endpoint, "ssm")
    return sum(c["DocumentName"].endswith(document_suffix) for c in ssm.list_commands(InstanceId=instance_id)["Commands"])


def test_lost_answers_create_nothing_twice(world, faults):
    endpoint, state = world
    since = time.time()
    faults(lost_response_rate=0.3, lost_response_kinds=["error", "drop"])
    done = run(endpoint, "mec-provision", "lost-a--c-1", {"name": "lost-a", "workers": 2}, timeout=600)
    assert done["status"] == "SUCCEEDED", f"{done.get('error')}: {done.get('cause')}"
    lost = read_faults(state, since=since, kind="lost-response")
    operations = {r["operation"] for r in lost}
    assert len(lost) >= 5, f"the run lost too few answers to prove anything: {operations}"
    assert owned(endpoint, "lost-a") == {
        "vpcs": 1, "subnets": 3, "internet_gateways": 1, "route_tables": 1, "security_groups": 1, "instances": 3,
    }, operations
    record = json.loads(done["output"])
    assert len(record["masters"]) == 1 and len(record["workers"]) == 2
    deleted = run(endpoint, "mec-teardown", "lost-a--d-1", {"name": "lost-a"}, timeout=600)
    assert deleted["status"] == "SUCCEEDED", deleted
    faults()
    assert tagged(endpoint, "lost-a") == []


def test_step_functions_lambda_faults_after_the_run_are_retried_without_duplicates(world, faults):
    endpoint, state = world
    since = time.time()
    faults(invoke_service_exception_rate=0.15, invoke_throttle_rate=0.1, invoke_faults_after_run=True)
    done = run(endpoint, "mec-provision", "invoke-a--c-1", {"name": "invoke-a", "workers": 1}, timeout=600)
    faults()
    assert done["status"] == "SUCCEEDED", f"{done.get('error')}: {done.get('cause')}"
    injected = [r for r in read_faults(state, since=since) if r["kind"].startswith("invoke")]
    assert injected, "no invoke fault was injected"
    events = client(endpoint, "stepfunctions").get_execution_history(executionArn=done["executionArn"], maxResults=1000)["events"]
    failed = [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"]
    assert {"Lambda.ServiceException", "Lambda.TooManyRequestsException"} & set(failed), failed
    assert owned(endpoint, "invoke-a") == {
        "vpcs": 1, "subnets": 3, "internet_gateways": 1, "route_tables": 1, "security_groups": 1, "instances": 2,
    }
    assert run(endpoint, "mec-teardown", "invoke-a--d-1", {"name": "invoke-a"})["status"] == "SUCCEEDED"
    assert tagged(endpoint, "invoke-a") == []


def test_a_command_sent_twice_runs_its_work_once(world):
    """SendCommand has no idempotency token: a retry after a lost answer sends the document
    again. The documents take a lock per node and action, so the second run waits and finds the
    work done (install reports MicroK8s already installed)."""
    endpoint, _ = world
    done = run(endpoint, "mec-provision", "twice-a--c-1", {"name": "twice-a", "workers": 0})
    assert done["status"] == "SUCCEEDED", done
    master = json.loads(done["output"])["masters"][0]
    ssm = client(endpoint, "ssm")
    original = next(c for c in ssm.list_commands(InstanceId=master["instance_id"])["Commands"] if c["DocumentName"].endswith("install"))
    parameters = original["Parameters"]
    resent = [ssm.send_command(DocumentName=original["DocumentName"], InstanceIds=[master["instance_id"]], Parameters=parameters)["Command"]["CommandId"]
              for _ in range(2)]
    deadline = time.time() + 60
    outputs = []
    for command_id in resent:
        while (invocation := ssm.get_command_invocation(CommandId=command_id, InstanceId=master["instance_id"]))["Status"] in ("Pending", "InProgress", "Delayed"):
            assert time.time() < deadline
            time.sleep(0.3)
        assert invocation["Status"] == "Success", invocation["StandardErrorContent"]
        outputs.append(invocation["StandardOutputContent"])
    assert all("already installed" in o for o in outputs), outputs
    assert run(endpoint, "mec-teardown", "twice-a--d-1", {"name": "twice-a"})["status"] == "SUCCEEDED"
    assert tagged(endpoint, "twice-a") == []
