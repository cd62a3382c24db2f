"""The whole pipeline in the local world: the Terraform-deployed state machine runs the real
Lambda binaries, which drive the emulated EC2 and the simulated nodes through the real SSM
documents, to a READY environment; then the teardown machine leaves nothing behind."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, client, failure_of, history, mec, retried_failures, run, state_of, tagged

sys.path.insert(0, str(ROOT / "local"))
from world.faults import read_faults  # noqa: E402


def test_create_to_ready_then_delete_leaves_nothing(world):
    endpoint, state = world
    started = time.monotonic()
    done = run(endpoint, "mec-provision", "e2e-lab-run-1", {"name": "e2e-lab", "workers": 2})
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in (state / "logs").glob("*.log"))
    assert done["status"] == "SUCCEEDED", f"{done.get('error')}: {done.get('cause')}\n{logs}"
    record = json.loads(done["output"])
    print(f"create → READY: {time.monotonic() - started:.1f} s")
    assert record["status"] == "READY"
    assert len(record["masters"]) == 1 and len(record["workers"]) == 2
    assert tagged(endpoint, "e2e-lab"), "the environment exists"

    # The master stored its kubeconfig itself: a SecureString whose server is the master's public
    # address; the execution's output names the parameter and never holds the kubeconfig.
    master = record["masters"][0]
    assert record["kubeconfig_parameter"] == "/mec/e2e-lab/kubeconfig"
    assert record["api_endpoint"] == f"https://{master['public_ip']}:16443"
    parameter = client(endpoint, "ssm").get_parameter(Name=record["kubeconfig_parameter"], WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString"
    assert f"server: https://{master['public_ip']}:16443" in parameter["Value"]
    assert "client-key-data" not in done["output"] and "apiVersion" not in done["output"]
    assert record["addons"] == [{"name": "dns", "status": "READY", "optional": False},
                                {"name": "hostpath-storage", "status": "READY", "optional": False}]

    # Every node installed the snap its user data started downloading at boot (off the critical path).
    ssm = client(endpoint, "ssm")
    for node in record["masters"] + record["workers"]:
        instance = node["instance_id"]
        outputs = [ssm.get_command_invocation(CommandId=c["CommandId"], InstanceId=instance)["StandardOutputContent"]
                   for c in ssm.list_commands(InstanceId=instance)["Commands"] if "install" in c["DocumentName"]]
        assert any("installed microk8s from the snap downloaded at boot (1.32/stable)" in o for o in outputs), outputs

    deleted = run(endpoint, "mec-teardown", "e2e-lab-delete-1", {"name": "e2e-lab"})
    assert deleted["status"] == "SUCCEEDED", deleted
    assert tagged(endpoint, "e2e-lab") == [], "nothing tagged for the environment is left"


def test_a_bad_spec_fails_at_validation_and_creates_nothing(world):
    endpoint, _ = world
    done = run(endpoint, "mec-provision", "e2e-bad-run-1", {"name": "e2e-bad", "workers": 101})
    assert done["status"] == "FAILED"
    assert done.get("error") == "InvalidSpec", done
    assert "workers" in done.get("cause", "")
    assert tagged(endpoint, "e2e-bad") == []


def test_the_cli_creates_audits_and_deletes_and_refuses_bad_specs(world):
    endpoint, _ = world
    created = mec(endpoint, "create", "--name", "e2e-cli", "--workers", "0", "--wait")
    assert created.returncode == 0, created.stdout + created.stderr
    assert "READY" in created.stdout and "Install" in created.stderr, created.stdout + created.stderr
    # Progress: each state once, when first entered, in the order it ran.
    steps = re.findall(r"(?m)^\s+\d+\.\ds\s+(\S+)$", created.stderr)
    assert len(steps) == len(set(steps)) and steps.index("Network") < steps.index("Install") < steps.index("Verify"), created.stderr
    status = mec(endpoint, "status", "e2e-cli", "--json")
    assert json.loads(status.stdout)["status"] == "READY"
    assert mec(endpoint, "audit", "e2e-cli").returncode == 0, "a READY environment owns resources: no leak"

    deleted = mec(endpoint, "delete", "e2e-cli", "--wait")
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    audit = mec(endpoint, "audit", "e2e-cli", "--json")
    assert audit.returncode == 0 and json.loads(audit.stdout)["resources"] == []
    assert tagged(endpoint, "e2e-cli") == [], "mec audit agrees with the independent inventories"

    for args, field in [(("--name", "Bad"), "name"), (("--name", "e2e-big", "--workers", "101"), "workers")]:
        refused = mec(endpoint, "create", *args)
        assert refused.returncode == 2, refused.stderr
        assert f"`{field}`" in refused.stderr
    assert tagged(endpoint, "e2e-big") == []
    assert mec(endpoint, "status", "e2e-big").returncode == 4, "nothing was started: no such environment"


def history_states(endpoint: str, execution_arn: str) -> list[str]:
    events = client(endpoint, "stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def kubectl_nodes(state: Path, environment: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "local/world/kubectl.py"), str(state), environment, "get", "nodes"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("masters,workers", [(1, 0), (1, 5), (3, 2)])
def test_sizes_reach_ready_and_every_node_is_ready_on_the_master(world, masters, workers):
    endpoint, state = world
    name = f"size-{masters}m{workers}w"
    done = run(endpoint, "mec-provision", f"{name}--c-1", {"name": name, "masters": masters, "workers": workers})
    assert done["status"] == "SUCCEEDED", done
    record = json.loads(done["output"])
    assert (len(record["masters"]), len(record["workers"])) == (masters, workers)
    table = kubectl_nodes(state, name)
    assert table.count(" Ready ") == masters + workers, table
    assert run(endpoint, "mec-teardown", f"{name}--d-1", {"name": name})["status"] == "SUCCEEDED"
    assert tagged(endpoint, name) == []


# Each failure where it happens: the spec, the faults, the state that fails (the one whose
# TaskFailed carries the execution's error), the command it failed on (for the *Status states),
# the error and fragments of its cause.
FAILURES = {
    # The Workers branch launches nothing (workers 0): only the Masters branch calls RunInstances.
    "network": ({"workers": 1}, {"fail_operations": {"CreateSubnet": "UnauthorizedOperation"}},
                "Network", None, "AwsError", ["AWS error on CreateSubnet: UnauthorizedOperation"]),
    "master": ({"workers": 0}, {"fail_operations": {"RunInstances": "UnauthorizedOperation"}},
               "Masters", None, "AwsError", ["AWS error on RunInstances: UnauthorizedOperation"]),
    # The bounded wait for SSM Online runs out: the Pass state NodesNeverReady sets the error.
    "nodes": ({"workers": 1}, {"never_register": ["fail-nodes-worker-0"]},
              "NodesNeverReady", None, "NodesNotReady", ["SSM Online", "fail-nodes-worker-0"]),
    "install": ({"workers": 1}, {"fail_install": ["fail-install-worker-0"]},
                "InstallStatus", "Install", "CommandFailed", ["mec-install failed on fail-install-worker-0", "(Failed)"]),
    "join": ({"workers": 1}, {"closed_ports": [25000]},
             "JoinStatus", "JoinNodes", "CommandFailed", ["mec-join failed on fail-join-worker-0", "(Failed)", "could not join"]),
    # Installed and Ready on its own (install's wait-ready passes), joined, then never Ready on the
    # master: verify waits for it until the command's execution timeout (its 900 s x 0.02 here,
    # rather than verifyTimeout's 300 real seconds) and fails with its progress line.
    "verify": ({"workers": 1}, {"joined_ready_seconds": 1e6, "command_timeout_scale": 0.02},
               "JoinStatus", "Verify", "CommandFailed", ["mec-join failed on fail-verify-master-0", "(TimedOut)", "waiting: ready 1/2"]),
}


@pytest.mark.parametrize("step", list(FAILURES))
def test_a_failure_at_each_step_rolls_back_and_leaves_nothing(world, faults, step):
    endpoint, _ = world
    spec, fault, state, sent_by, error, words = FAILURES[step]
    name = f"fail-{step}"
    faults(**fault)
    done = run(endpoint, "mec-provision", f"{name}--c-1", {"name": name, **spec})
    assert done["status"] == "FAILED", done
    failure = failure_of(endpoint, done)
    assert (failure["state"], failure["sent_by"], failure["error"]) == (state, sent_by, error), failure
    assert all(w in failure["cause"] for w in words), failure
    if step == "nodes":
        assert failure["last_task"] == "CheckNodes" and failure["path"][-2:] == ["NodesReady?", "NodesNeverReady"], failure
    assert tagged(endpoint, name) == [], "the rollback removed everything"


def test_three_environments_at_once_do_not_touch_each_other(world):
    endpoint, _ = world
    sfn = client(endpoint, "stepfunctions")
    arn = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "mec-provision")
    names = ["many-a", "many-b", "many-c"]
    executions = [sfn.start_execution(stateMachineArn=arn, name=f"{n}--c-1", input=json.dumps({"name": n, "workers": 1}))["executionArn"] for n in names]
    deadline = time.time() + 300
    outputs = []
    for execution in executions:
        while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            assert time.time() < deadline
            time.sleep(0.5)
        assert described["status"] == "SUCCEEDED", described
        outputs.append(json.loads(described["output"]))
    assert len({o["vpc_id"] for o in outputs}) == 3
    for n in names:
        assert run(endpoint, "mec-teardown", f"{n}--d-1", {"name": n})["status"] == "SUCCEEDED"
        assert tagged(endpoint, n) == []


def test_every_environment_reaches_ready_with_10_percent_aws_errors(world, faults):
    """10% of the Lambdas' AWS calls throttled or 5xx: mostly absorbed by the SDK's own retries. So
    that mec's own error classification and the state machine's Retry are certainly exercised,
    two operations also fail more times in a row than the step tries them (fail_times): CreateVpc
    throttled 5 times (the network step sends a throttled create at most 4 times, `send_once!`, then
    must report Throttled), DescribeInstanceInformation 5xx (the check_nodes step must report
    AwsUnavailable); both steps must then be retried and succeed."""
    endpoint, state = world
    since = time.time()
    faults(aws_error_rate=0.1, fail_times={"CreateVpc": {"times": 5, "kind": "throttle"},
                                           "DescribeInstanceInformation": {"times": 3, "kind": "server"}})
    done = {}
    for n in ["flaky-a", "flaky-b"]:
        done[n] = run(endpoint, "mec-provision", f"{n}--c-1", {"name": n, "workers": 2}, timeout=300)
        assert done[n]["status"] == "SUCCEEDED", f"{done[n].get('error')}: {done[n].get('cause')}"
    faults()

    injected = read_faults(state, since=since, kind="aws-error")
    # ~250 calls of the Lambdas while faulted here, so ~20 random faults (>= 5 but by an extreme draw).
    assert sum(f["cause"] == "aws_error_rate" for f in injected) >= 5, "the 10% rate was applied"
    assert [f["code"] for f in injected if f["cause"] == "fail_times" and f["operation"] == "CreateVpc"] == ["RequestLimitExceeded"] * 5
    assert [f["code"] for f in injected if f["cause"] == "fail_times" and f["operation"] == "DescribeInstanceInformation"] == ["InternalServerError"] * 3

    # mec classified them (the step's errorType is the TaskFailed error), and the Retry ran the
    # same state again, which then succeeded.
    events = history(endpoint, done["flaky-a"]["executionArn"])
    retried = retried_failures(events)
    assert any(s == "Network" and e == "Throttled" and "CreateVpc" in c for s, e, c in retried), retried
    assert any(s == "CheckNodes" and e == "AwsUnavailable" and "DescribeInstanceInformation" in c for s, e, c in retried), retried
    for again in ("Network", "CheckNodes"):
        assert any(e["type"] == "TaskSucceeded" and state_of(events, e) == again for e in events), again
    # ... and each of those step errors was a failed invocation of the function.
    records = [json.loads(line) for line in (state / "logs" / "invocations.jsonl").read_text().splitlines() if line.strip()]
    failed = [r for r in records if r["time"] >= since and r["error"]]
    for function in ("network", "install"):
        assert any(r["function"].endswith(function) for r in failed), (function, failed)

    for n in ["flaky-a", "flaky-b"]:
        assert run(endpoint, "mec-teardown", f"{n}--d-1", {"name": n})["status"] == "SUCCEEDED"
        assert tagged(endpoint, n) == []
