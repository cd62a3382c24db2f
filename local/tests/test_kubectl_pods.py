"""Pods on the node simulator (local/nodesim/pods.py): `microk8s kubectl run`, `get pod NAME -o
json` and `delete pod NAME` answer as kubectl 1.32 and the API server do, so that the acceptance
suite's pod check (tests/acceptance/acceptance.py) means the same in the local world as on a real
cluster: a pod pinned to a node runs there when the node is Ready and its image exists for the
node's architecture, and stays Pending otherwise."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from test_nodesim import Env, ok

from nodesim import Result


def ready_cluster(directory: Path) -> Env:
    """One master and one worker, installed, joined and verified Ready (the documents' path)."""
    env = Env(directory, masters=1, workers=1)
    ok(env.install())
    ok([env.mint()])
    ok(env.join(env.workers))
    ok([env.verify()])
    return env


@pytest.fixture
def cluster(tmp_path: Path) -> Env:
    return ready_cluster(tmp_path)


@pytest.fixture(scope="module")
def unchanged(tmp_path_factory: pytest.TempPathFactory) -> Env:
    """A cluster for the refusals, which change nothing: one for the module."""
    return ready_cluster(tmp_path_factory.mktemp("refusals"))


def kubectl(env: Env, *args: str) -> Result:
    """`microk8s kubectl ARGS` on the first master, each argument quoted for bash."""
    quoted = " ".join("'" + a.replace("'", "'\\''") + "'" for a in args)
    return env.shell(env.masters[0], f"microk8s kubectl {quoted}")


def kubectls(stderr: str) -> str:
    """What kubectl wrote, without the note the agent appends to a failed script's stderr."""
    return stderr.split("\nfailed to run commands:")[0].strip()


def pod(env: Env, name: str) -> dict:
    got = kubectl(env, "get", "pod", name, "-o", "json")
    assert got.exit_code == 0, got.stderr
    return json.loads(got.stdout)


def pinned(node: str) -> str:
    return json.dumps({"apiVersion": "v1", "spec": {"nodeName": node}})


def test_a_pod_pinned_to_the_worker_runs_there_and_a_command_that_ends_succeeds(cluster: Env) -> None:
    created = kubectl(cluster, "run", "probe", "--image=public.ecr.aws/docker/library/busybox:1.36.1",
                      "--restart=Never", f"--overrides={pinned('lab-1-worker-0')}", "--", "sh", "-c", "echo hi")
    assert (created.exit_code, created.stdout.strip()) == (0, "pod/probe created"), created.stderr
    found = pod(cluster, "probe")
    assert found["kind"] == "Pod" and found["metadata"]["labels"] == {"run": "probe"}
    assert found["metadata"]["namespace"] == "default" and found["spec"]["restartPolicy"] == "Never"
    assert found["spec"]["nodeName"] == "lab-1-worker-0"
    # The arguments after `--` are the container's args (run.go createPod), not its command.
    assert found["spec"]["containers"][0]["args"] == ["sh", "-c", "echo hi"]
    assert "command" not in found["spec"]["containers"][0]
    assert found["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert found["status"]["phase"] == "Succeeded"
    assert found["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert found["status"]["hostIP"] == cluster.workers[0].private_ip

    deleted = kubectl(cluster, "delete", "pod", "probe")
    assert (deleted.exit_code, deleted.stdout.strip()) == (0, 'pod "probe" deleted')
    gone = kubectl(cluster, "get", "pod", "probe", "-o", "json")
    assert gone.exit_code == 1 and kubectls(gone.stderr) == 'Error from server (NotFound): pods "probe" not found'
    again = kubectl(cluster, "delete", "pod", "probe")
    assert again.exit_code == 1 and 'pods "probe" not found' in again.stderr
    assert kubectl(cluster, "delete", "pod", "probe", "--ignore-not-found").exit_code == 0


def test_a_serving_pod_runs_and_a_node_selector_schedules_it(cluster: Env) -> None:
    overrides = json.dumps({"spec": {"nodeSelector": {"kubernetes.io/hostname": "lab-1-worker-0"}}})
    assert kubectl(cluster, "run", "web", "--image", "nginx", "--overrides", overrides).exit_code == 0
    found = pod(cluster, "web")
    assert found["spec"]["nodeName"] == "lab-1-worker-0" and found["status"]["phase"] == "Running"
    assert found["spec"]["restartPolicy"] == "Always" and found["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    assert {c["type"]: c["status"] for c in found["status"]["conditions"]}["Ready"] == "True"
    table = kubectl(cluster, "get", "pod", "web")
    assert table.stdout.split("\n")[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert table.stdout.split("\n")[1].split()[:3] == ["web", "1/1", "Running"]
    # A selector no node matches: the scheduler leaves it Pending and says why.
    nowhere = json.dumps({"spec": {"nodeSelector": {"kubernetes.io/hostname": "elsewhere"}}})
    assert kubectl(cluster, "run", "lost", "--image=nginx", f"--overrides={nowhere}").exit_code == 0
    lost = pod(cluster, "lost")
    assert lost["status"]["phase"] == "Pending" and "nodeName" not in lost["spec"]
    assert lost["status"]["conditions"][0]["reason"] == "Unschedulable"
    assert "2 node(s) didn't match Pod's node affinity/selector" in lost["status"]["conditions"][0]["message"]


def test_an_image_without_the_nodes_architecture_or_unknown_stays_pending(cluster: Env) -> None:
    cluster.cluster.set_architecture(cluster.workers[0].instance_id, "arm64")
    assert kubectl(cluster, "run", "kfp", "--image=gcr.io/ml-pipeline/api-server:2.4.0",
                   f"--overrides={pinned('lab-1-worker-0')}").exit_code == 0
    found = pod(cluster, "kfp")
    assert found["status"]["phase"] == "Pending"
    waiting = found["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "ErrImagePull" and "no match for platform in manifest" in waiting["message"]
    # The same image on an amd64 node runs.
    assert kubectl(cluster, "run", "kfp-amd", "--image=gcr.io/ml-pipeline/api-server:2.4.0",
                   f"--overrides={pinned('lab-1-master-0')}").exit_code == 0
    assert pod(cluster, "kfp-amd")["status"]["phase"] == "Running"
    assert kubectl(cluster, "run", "nosuch", "--image=example.org/nosuch/thing:1",
                   f"--overrides={pinned('lab-1-worker-0')}").exit_code == 0
    assert "pull access denied" in pod(cluster, "nosuch")["status"]["containerStatuses"][0]["state"]["waiting"]["message"]


def test_a_pod_on_a_node_that_is_not_ready_stays_pending(cluster: Env) -> None:
    cluster.cluster.set_instance_state(cluster.workers[0].instance_id, "stopped")
    assert kubectl(cluster, "run", "parked", "--image=busybox", "--restart=Never",
                   f"--overrides={pinned('lab-1-worker-0')}").exit_code == 0
    found = pod(cluster, "parked")
    assert found["status"]["phase"] == "Pending" and "containerStatuses" not in found["status"]
    # Once the node is back and Ready, the kubelet runs it; busybox's own `sh` ends at once.
    cluster.cluster.set_instance_state(cluster.workers[0].instance_id, "running")
    assert pod(cluster, "parked")["status"]["phase"] == "Succeeded"


def test_commands_that_run_for_a_while_fail_or_restart(cluster: Env) -> None:
    # The simulated clock is scaled (0.01 here): `sleep 30` lasts 0.3 s.
    assert kubectl(cluster, "run", "nap", "--image=busybox", "--restart=Never", "--command", "--", "sleep", "30").exit_code == 0
    napping = pod(cluster, "nap")
    assert napping["spec"]["containers"][0]["command"] == ["sleep", "30"] and napping["status"]["phase"] == "Running"
    time.sleep(0.4)
    assert pod(cluster, "nap")["status"]["phase"] == "Succeeded"
    assert kubectl(cluster, "run", "bad", "--image=busybox", "--restart=Never", "--", "sh", "-c", "exit 3").exit_code == 0
    bad = pod(cluster, "bad")
    assert bad["status"]["phase"] == "Failed"
    assert bad["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3
    # restartPolicy Always (kubectl run's default): a command that ends is restarted, backing off.
    assert kubectl(cluster, "run", "loop", "--image=busybox", "--", "true").exit_code == 0
    loop = pod(cluster, "loop")
    assert loop["status"]["phase"] == "Running"
    assert loop["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"


@pytest.mark.parametrize(("args", "message"), [
    (["run", "x"], 'err="required flag(s) \\"image\\" not set"'),
    (["run", "--image=busybox"], "error: NAME is required for run\nSee 'kubectl run -h' for help and examples"),
    (["run", "x", "--image=busybox", "--restart=Sometimes"],
     "error: invalid restart policy: Sometimes\nSee 'kubectl run -h' for help and examples"),
    (["run", "x", "--image=Bad Image"], 'error: Invalid image name "Bad Image": invalid reference format'),
    (["run", "x", "--image=busybox", "--colour=red"], "Error: unknown flag: --colour\nSee 'kubectl run --help' for usage."),
    (["run", "x", "--image"], "Error: flag needs an argument: --image"),
    (["run", "x", "--image=busybox", "-t"], "error: -i/--stdin is required for containers with -t/--tty=true"),
    (["run", "x", "--image=busybox", "--overrides={oops"], "error: Invalid JSON Patch"),
    # Both the pod's name and its container's (the same name) are invalid: the server lists both.
    (["run", "Bad_Name", "--image=busybox"], 'The Pod "Bad_Name" is invalid: [metadata.name: Invalid value: "Bad_Name": '
                                             "a lowercase RFC 1123 subdomain must consist of"),
    (["run", "x", "--image=busybox", "-n", "nowhere"], 'Error from server (NotFound): namespaces "nowhere" not found'),
    (["get", "pod", "ghost", "-o", "json"], 'Error from server (NotFound): pods "ghost" not found'),
    (["delete", "pod", "ghost"], 'Error from server (NotFound): pods "ghost" not found'),
])
def test_kubectls_own_refusals(unchanged: Env, args: list[str], message: str) -> None:
    refused = kubectl(unchanged, *args)
    assert refused.exit_code == 1 and message in refused.stderr, (refused.stdout, refused.stderr)
    assert "created" not in refused.stdout


def test_a_name_taken_and_forms_still_refused(cluster: Env) -> None:
    assert kubectl(cluster, "run", "twice", "--image=busybox").exit_code == 0
    taken = kubectl(cluster, "run", "twice", "--image=busybox")
    assert taken.exit_code == 1 and kubectls(taken.stderr) == 'Error from server (AlreadyExists): pods "twice" already exists'
    # Forms beyond the ones above stay refused, as before: the simulator says so.
    for args in (["run", "i", "--image=busybox", "-i"], ["get", "pod", "twice", "-o", "yaml"],
                 ["run", "d", "--image=busybox", "--dry-run=client"], ["logs", "twice"]):
        refused = kubectl(cluster, *args)
        assert refused.exit_code == 1 and "is not simulated" in refused.stderr, (args, refused.stderr)
    # The add-ons' listing is unchanged.
    assert kubectl(cluster, "get", "pods", "-A").exit_code == 0


def test_pods_are_refused_on_a_worker_and_before_the_api_serves(cluster: Env) -> None:
    on_worker = cluster.shell(cluster.workers[0], "microk8s kubectl run x --image=busybox")
    assert on_worker.exit_code == 0 and "acting as a node in a cluster" in on_worker.stdout
    cluster.cluster.never_ready(cluster.masters[0].instance_id)
    down = kubectl(cluster, "get", "pod", "x", "-o", "json")
    assert down.exit_code == 1 and "The connection to the server 127.0.0.1:16443 was refused" in down.stderr
