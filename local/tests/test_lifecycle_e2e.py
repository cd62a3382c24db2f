"""Environments that end on their own, in the local world: a spec's TTL (the one-time expiry
schedule the pipeline creates), the scheduled create/destroy pair of `scheduled_environments`, and
the reaper. The emulator stores schedules but never fires them: `mec local fire-schedule` does
what EventBridge Scheduler would."""

from __future__ import annotations

import json
import time

from conftest import client, mec, run, tagged

GROUP = "mec"


def fire(endpoint: str, schedule: str) -> dict:
    fired = mec(endpoint, "local", "fire-schedule", schedule, "--json")
    assert fired.returncode == 0, fired.stdout + fired.stderr
    return json.loads(fired.stdout)


def wait(endpoint: str, execution_arn: str, timeout: float = 180) -> dict:
    sfn = client(endpoint, "stepfunctions")
    deadline = time.time() + timeout
    while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.time() < deadline, f"{execution_arn} still running after {timeout} s"
        time.sleep(0.5)
    return described


def vpc_tags(endpoint: str, environment: str) -> dict[str, str]:
    vpcs = client(endpoint, "ec2").describe_vpcs(Filters=[{"Name": "tag:mec:environment", "Values": [environment]}])["Vpcs"]
    assert len(vpcs) == 1, vpcs
    return {t["Key"]: t["Value"] for t in vpcs[0]["Tags"]}


def schedule_names(endpoint: str) -> list[str]:
    return sorted(s["Name"] for s in client(endpoint, "scheduler").list_schedules(GroupName=GROUP)["Schedules"])


def test_a_ttl_environment_is_destroyed_when_its_expiry_schedule_fires(world, tmp_path):
    endpoint, _ = world
    done = run(endpoint, "mec-provision", "e2e-ttl--c-1", {"name": "e2e-ttl", "workers": 0, "ttl_hours": 2})
    assert done["status"] == "SUCCEEDED", done
    record = json.loads(done["output"])
    started = done["startDate"].timestamp()
    expires = time.mktime(time.strptime(record["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(expires - (started + 2 * 3600)) <= 1, (record["expires_at"], done["startDate"])

    tags = vpc_tags(endpoint, "e2e-ttl")
    assert tags["mec:expires-at"] == record["expires_at"]
    assert tags["mec:execution"] == done["executionArn"]
    schedule = client(endpoint, "scheduler").get_schedule(GroupName=GROUP, Name="e2e-ttl-expiry")
    assert schedule["ScheduleExpression"] == f"at({record['expires_at'][:-1]})"
    assert schedule["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:sfn:startExecution"
    start = json.loads(schedule["Target"]["Input"])
    assert start["StateMachineArn"].endswith(":stateMachine:mec-teardown")
    assert start["Name"] == "e2e-ttl--d-<aws.scheduler.execution-id>"
    assert json.loads(start["Input"]) == {"name": "e2e-ttl"}
    audit = json.loads(mec(endpoint, "audit", "e2e-ttl", "--json").stdout)
    assert {"kind": "schedule", "id": "mec/e2e-ttl-expiry"} in audit["resources"], "audit sees the schedule"

    # The kubeconfig, read with the caller's own credentials; to a file created mode 600.
    path = tmp_path / "kubeconfig"
    written = mec(endpoint, "kubeconfig", "e2e-ttl", "-o", str(path))
    assert written.returncode == 0, written.stderr
    assert "server: https://" in path.read_text() and (path.stat().st_mode & 0o777) == 0o600
    shown = json.loads(mec(endpoint, "kubeconfig", "e2e-ttl", "--json").stdout)
    assert shown["parameter"] == "/mec/e2e-ttl/kubeconfig" and shown["kubeconfig"] == path.read_text()

    fired = fire(endpoint, "e2e-ttl-expiry")
    assert ":e2e-ttl--d-" in fired["execution_arn"], "named like the CLI's deletes"
    assert wait(endpoint, fired["execution_arn"])["status"] == "SUCCEEDED"
    assert json.loads(mec(endpoint, "status", "e2e-ttl", "--json").stdout)["status"] == "DELETED"
    assert tagged(endpoint, "e2e-ttl") == []
    assert "e2e-ttl-expiry" not in schedule_names(endpoint), "the expiry schedule goes with the environment"
    audit = mec(endpoint, "audit", "e2e-ttl", "--json")
    assert audit.returncode == 0 and json.loads(audit.stdout)["resources"] == []
    gone = mec(endpoint, "kubeconfig", "e2e-ttl")
    assert gone.returncode == 1 and "not READY" in gone.stderr, gone.stderr


def test_a_deleted_ttl_environment_takes_its_expiry_schedule_with_it(world):
    endpoint, _ = world
    assert run(endpoint, "mec-provision", "e2e-ttl2--c-1", {"name": "e2e-ttl2", "workers": 0, "ttl_hours": 1})["status"] == "SUCCEEDED"
    assert "e2e-ttl2-expiry" in schedule_names(endpoint)
    assert run(endpoint, "mec-teardown", "e2e-ttl2--d-1", {"name": "e2e-ttl2"})["status"] == "SUCCEEDED"
    assert "e2e-ttl2-expiry" not in schedule_names(endpoint)
    assert tagged(endpoint, "e2e-ttl2") == []


def test_a_scheduled_create_and_destroy_pair_works(world):
    endpoint, _ = world
    created = fire(endpoint, "lab-local-create")
    assert ":lab-local--c-" in created["execution_arn"]
    done = wait(endpoint, created["execution_arn"])
    assert done["status"] == "SUCCEEDED", done
    record = json.loads(done["output"])
    assert record["name"] == "lab-local" and len(record["workers"]) == 1
    assert mec(endpoint, "status", "lab-local", "--json").stdout and json.loads(mec(endpoint, "status", "lab-local", "--json").stdout)["status"] == "READY"

    destroyed = fire(endpoint, "lab-local-destroy")
    assert wait(endpoint, destroyed["execution_arn"])["status"] == "SUCCEEDED"
    assert json.loads(mec(endpoint, "status", "lab-local", "--json").stdout)["status"] == "DELETED"
    assert tagged(endpoint, "lab-local") == []
    # Recurring schedules stay for the next day.
    assert {"lab-local-create", "lab-local-destroy", "reaper"} <= set(schedule_names(endpoint))


def test_the_reaper_removes_abandoned_and_expired_environments_and_keeps_the_rest(world, faults):
    endpoint, _ = world
    sfn = client(endpoint, "stepfunctions")
    assert run(endpoint, "mec-provision", "e2e-keep--c-1", {"name": "e2e-keep", "workers": 0})["status"] == "SUCCEEDED"

    # A run abandoned half-way: its nodes never register, and someone stops the execution.
    faults(never_register=["e2e-gone-worker-0"])
    machine = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "mec-provision")
    execution = sfn.start_execution(stateMachineArn=machine, name="e2e-gone--c-1",
                                    input=json.dumps({"name": "e2e-gone", "workers": 1}))["executionArn"]
    deadline = time.time() + 60
    while not any(i.startswith("i-") for i in tagged(endpoint, "e2e-gone")):
        assert time.time() < deadline, "the abandoned run never launched its nodes"
        time.sleep(0.3)
    time.sleep(1)  # past the lifecycle step
    sfn.stop_execution(executionArn=execution, cause="abandoned by the test")
    assert wait(endpoint, execution)["status"] == "ABORTED"
    assert tagged(endpoint, "e2e-gone"), "an aborted run leaves its resources behind"

    reaped = {r["name"]: r for r in fire(endpoint, "reaper")["result"]["reaped"]}
    assert "e2e-keep" not in reaped, "a READY environment is kept"
    assert "ABORTED" in reaped["e2e-gone"]["reason"], reaped
    assert wait(endpoint, reaped["e2e-gone"]["execution_arn"])["status"] == "SUCCEEDED"
    assert tagged(endpoint, "e2e-gone") == []

    # The TTL of a READY environment passed (its schedule did not fire): the reaper catches it.
    vpc = client(endpoint, "ec2").describe_vpcs(Filters=[{"Name": "tag:mec:environment", "Values": ["e2e-keep"]}])["Vpcs"][0]
    client(endpoint, "ec2").create_tags(Resources=[vpc["VpcId"]], Tags=[{"Key": "mec:expires-at", "Value": "2026-01-01T00:00:00Z"}])
    reaped = {r["name"]: r for r in fire(endpoint, "reaper")["result"]["reaped"]}
    assert "TTL expired" in reaped["e2e-keep"]["reason"], reaped
    assert wait(endpoint, reaped["e2e-keep"]["execution_arn"])["status"] == "SUCCEEDED"
    assert tagged(endpoint, "e2e-keep") == []
