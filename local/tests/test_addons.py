"""The add-on catalogue through the whole pipeline in the local world: every entry installed and
verified on simulated clusters (grouped into two environments), a failing required add-on rolled
back, an optional one reported FAILED in a READY environment, and bad add-on specs refused by
Validate with nothing created."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run, tagged
from test_pipeline_e2e import history_states

CATALOGUE = json.loads((ROOT / "functions/shared/catalogue/addons.json").read_text())["addons"]
# Enough memory for every entry (kubeflow-pipelines: 8 GiB in all, x86_64 only).
X86 = {"instance_type": "m5.xlarge", "worker_instance_type": "m5.xlarge"}


def pods(state: Path, environment: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "local/world/kubectl.py"), str(state), environment,
                           "get", "pods", "-A"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


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
    listing = pods(state, "addons-all")
    for workload in ("coredns", "nginx-ingress-microk8s-controller", "metrics-server", "openebs-localpv-provisioner",
                     "edgex-napa-core-data", "ml-pipeline-ui", "gopaddle"):
        assert workload in listing, listing
    assert "CrashLoopBackOff" not in listing
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
    assert "gateway" in pods(state, "addons-opt")
    delete(endpoint, "addons-opt")


def test_a_failing_required_addon_rolls_back_and_leaves_nothing(world, faults):
    endpoint, _ = world
    faults(fail_addons=["edgex"])
    done = create(endpoint, "addons-fail", {"workers": 1, "addons": ["dns", "edgex"]})
    assert done["status"] == "FAILED", done
    assert done.get("error") == "CommandFailed", f"{done.get('error')}: {done.get('cause')}"
    assert "add-on edgex failed" in done.get("cause", "")
    states = history_states(endpoint, done["executionArn"])
    assert "EnableAddons" in states and "Rollback" in states
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
