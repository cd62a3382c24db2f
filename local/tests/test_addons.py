"""The add-on catalogue through the whole pipeline in the local world: every entry installed and
verified on simulated clusters (grouped into two environments), a failing required add-on rolled
back, an optional one reported FAILED in a READY environment, and bad add-on specs refused by
Validate with nothing created."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from conftest import ROOT, failure_of, run, tagged
from test_pipeline_e2e import history_states

sys.path.insert(0, str(ROOT / "local"))
import nodesim  # noqa: E402

CATALOGUE = json.loads((ROOT / "functions/shared/catalogue/addons.json").read_text())["addons"]
# Enough memory for every entry (kubeflow-pipelines: 8 GiB in all, x86_64 only).
X86 = {"instance_type": "m5.xlarge", "worker_instance_type": "m5.xlarge"}


def on_master(state: Path, environment: str, script: str) -> tuple[int, str]:
    """Runs `script` in a shell on the environment's first master, as its user would (microk8s on
    the PATH, as a login shell has /snap/bin); (exit code, stdout + stderr)."""
    cluster = nodesim.Cluster(state / "clusters" / environment, environment)
    master = next(i for i, n in cluster.state()["nodes"].items() if (n.get("node_name") or "").endswith("-master-0"))
    result = nodesim.run_shell(cluster.node(master), 'PATH="$MEC_ROOT/snap/bin:$PATH"\n' + script)
    return result.exit_code, result.stdout + result.stderr


def pods(state: Path, environment: str, namespace: str | None = None) -> list[tuple[str, str]]:
    """(pod name, STATUS) of `microk8s kubectl get pods -A` (or -n NAMESPACE) on the master."""
    code, out = on_master(state, environment, "microk8s kubectl get pods " + (f"-n {namespace}" if namespace else "-A"))
    assert code == 0, out
    lines = [line.split() for line in out.splitlines() if line.strip() and not line.startswith("No resources found")]
    if not lines:
        return []
    header, rows = lines[0], lines[1:]
    name = header.index("NAME")
    status = header.index("STATUS")
    return [(row[name], row[status]) for row in rows]


# What the catalogue says about an entry, as a user reads it: the MicroK8s add-on its commands
# enable (if any), the namespace and workload its health check names.
ENABLED = re.compile(r"^microk8s enable (?:community/)?([a-z0-9-]+)$")
NAMESPACE = re.compile(r"-n (\S+)")
WORKLOAD = re.compile(r"(?:deployment|daemonset)/(\S+)")


def assert_installed(state: Path, environment: str, entry: dict) -> None:
    """The entry is there as its user would check it: `microk8s status -a NAME` says enabled (for a
    MicroK8s add-on), its catalogue health check passes on the master, and its namespace runs pods
    (the named workload's among them), every one Running."""
    name, health = entry["name"], entry["health"]["command"]
    if any(m and m.group(1) == name for m in map(ENABLED.match, entry["commands"])):
        code, out = on_master(state, environment, f"microk8s status -a {name}")
        assert (code, out.strip()) == (0, "enabled"), (name, out)
    code, out = on_master(state, environment, health)
    assert code == 0, (name, health, out)
    namespace = NAMESPACE.search(health)
    if namespace:
        listed = pods(state, environment, namespace.group(1))
        assert listed and all(status == "Running" for _, status in listed), (name, listed)
        workload = WORKLOAD.search(health)
        assert not workload or any(pod.startswith(workload.group(1) + "-") for pod, _ in listed), (name, listed)


def create(endpoint: str, name: str, spec: dict) -> dict:
    done = run(endpoint, "mec-provision", f"{name}--c-1", {"name": name, **spec}, timeout=300)
    return done


def delete(endpoint: str, name: str) -> None:
    assert run(endpoint, "mec-teardown", f"{name}--d-1", {"name": name})["status"] == "SUCCEEDED"
    assert tagged(endpoint, name) == [], "nothing tagged for the environment is left"


def test_every_entry_of_the_default_channel_installs_and_is_verified(world):
    endpoint, state = world
    names = [a["name"] for a in CATALOGUE if a["max_track"] is None]
    done = create(endpoint, "addons-all", {"workers": 1, **X86, "addons": names})
    assert done["status"] == "SUCCEEDED", f"{done.get('error')}: {done.get('cause')}"
    record = json.loads(done["output"])
    assert record["status"] == "READY"
    assert {a["name"] for a in record["addons"]} == set(names)
    assert all(a["status"] == "READY" and a["optional"] is False for a in record["addons"]), record["addons"]
    order = [a["name"] for a in record["addons"]]
    assert order.index("helm3") < order.index("edgex") and order.index("dns") < order.index("openebs")
    for entry in CATALOGUE:
        if entry["name"] in names:
            assert_installed(state, "addons-all", entry)
    listed = pods(state, "addons-all")
    assert listed and all(status == "Running" for _, status in listed), listed
    delete(endpoint, "addons-all")


def test_an_optional_failure_leaves_the_environment_ready(world, faults):
    """Also the one entry the default channel lacks: gopaddle-lite, on 1.27."""
    endpoint, state = world
    faults(fail_addons=["edgex"])
    done = create(endpoint, "addons-opt", {"workers": 0, **X86, "microk8s_channel": "1.27/stable",
                                           "addons": ["gopaddle-lite", {"name": "edgex", "optional": True}]})
    assert done["status"] == "SUCCEEDED", f"{done.get('error')}: {done.get('cause')}"
    record = json.loads(done["output"])
    by_name = {a["name"]: a for a in record["addons"]}
    assert by_name["gopaddle-lite"] == {"name": "gopaddle-lite", "status": "READY", "optional": False}
    assert by_name["edgex"]["status"] == "FAILED" and by_name["edgex"]["optional"] is True
    assert "injected fault" in by_name["edgex"]["message"]
    assert by_name["helm3"]["optional"] is False, "gopaddle-lite needs helm3 too"
    entries = {e["name"]: e for e in CATALOGUE}
    for name in ("gopaddle-lite", "helm3", "dns", "hostpath-storage"):
        assert_installed(state, "addons-opt", entries[name])
    # The failed one is not there for its user either: its health check fails, its namespace is empty.
    code, out = on_master(state, "addons-opt", entries["edgex"]["health"]["command"])
    assert code != 0, out
    assert pods(state, "addons-opt", NAMESPACE.search(entries["edgex"]["health"]["command"]).group(1)) == []
    delete(endpoint, "addons-opt")


def test_a_failing_required_addon_rolls_back_and_leaves_nothing(world, faults):
    endpoint, _ = world
    faults(fail_addons=["edgex"])
    done = create(endpoint, "addons-fail", {"workers": 1, "addons": ["dns", "edgex"]})
    assert done["status"] == "FAILED", done
    assert done.get("error") == "CommandFailed", f"{done.get('error')}: {done.get('cause')}"
    failure = failure_of(endpoint, done)
    assert (failure["state"], failure["sent_by"]) == ("JoinStatus", "EnableAddons"), failure
    assert "add-on edgex failed" in failure["cause"], failure
    assert tagged(endpoint, "addons-fail") == [], "the rollback removed everything"


@pytest.mark.parametrize("spec,field,words", [
    ({"addons": ["dns", "storidge"]}, "addons[1]", "unknown add-on `storidge`"),
    ({"workers": 0, "instance_type": "t3.medium", "addons": ["kubeflow-pipelines"]}, "addons[0]",
     "needs 8 GiB in the whole cluster"),
    ({"instance_type": "m5.xlarge", "worker_instance_type": "m7g.xlarge", "addons": ["kubeflow-pipelines"]},
     "addons[0]", "mixes architectures"),
    ({"addons": ["gopaddle-lite"]}, "addons[0]", "tracks 1.26–1.27 only"),
])
def test_bad_addon_specs_fail_at_validation_and_create_nothing(world, spec, field, words):
    endpoint, _ = world
    name = "addons-bad"
    case = "".join(c for c in words if c.isalnum()).lower()[:24]
    done = run(endpoint, "mec-provision", f"{name}--c-{case}", {"name": name, **spec})
    assert done["status"] == "FAILED"
    assert done.get("error") == "InvalidSpec", done
    message = json.loads(done["cause"])["errorMessage"]
    assert f"field `{field}`" in message and words in message, message
    assert "Network" not in history_states(endpoint, done["executionArn"]), "stopped at Validate"
    assert tagged(endpoint, name) == []
