"""The add-on catalogue on the node simulator: the mec-join document's `addons` action installs
every catalogue entry and waits for its health check; injected failures; the simulated tools'
own rules (community repository, tracks, iscsid, pinned charts)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "local"))

from nodesim import Cluster, Node, Result, run_command, run_shell  # noqa: E402

INSTALL = ROOT / "functions/install/document.yaml"
JOIN = ROOT / "functions/join/document.yaml"
CATALOGUE = {a["name"]: a for a in json.loads((ROOT / "functions/shared/catalogue/addons.json").read_text())["addons"]}


def plan(*names: str) -> list[str]:
    """Dependencies first, each once: what the join step sends (catalogue.rs `plan`)."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name not in order:
            for dependency in CATALOGUE[name]["requires"]:
                visit(dependency)
            order.append(name)

    for name in names:
        visit(name)
    return order


def sh(node: Node, script: str) -> Result:
    """A bash script on the node, with its /snap/bin on the PATH (the agent's PATH lacks it)."""
    return run_shell(node, '#!/bin/bash\nexport PATH="$PATH:$MEC_ROOT/snap/bin"\n' + script)


def master(tmp_path: Path, channel: str = "1.32/stable") -> Node:
    cluster = Cluster(tmp_path, "lab-1")
    cluster.set_time_scale(0.01)
    node = cluster.add_node("i-m0", "10.42.0.10", "203.0.113.10")
    [installed] = run_command(INSTALL, {"channel": channel, "hosts": "10.42.0.10=lab-1-master-0"}, [node], str)
    assert installed.status == "Success", installed.stderr
    return node


def addons(node: Node, names: list[str], optional: list[str] = ()) -> Result:
    params = {"action": "addons", "addons": ",".join(names), "optionalAddons": ",".join(optional)}
    return run_command(JOIN, params, [node], str)[0]


def reports(result: Result) -> dict[str, str]:
    found = {}
    for line in result.stdout.splitlines():
        parts = line.split(" ", 2)
        if len(parts) >= 3 and parts[0] == "addon":
            found[parts[1]] = parts[2]
    return found


def test_every_catalogue_entry_installs_and_turns_healthy(tmp_path: Path) -> None:
    node = master(tmp_path / "current")
    names = plan(*[n for n, a in CATALOGUE.items() if a["max_track"] is None])
    result = addons(node, names)
    assert result.status == "Success", result.stdout + result.stderr
    assert reports(result) == {n: "READY" for n in names}
    # What the simulated cluster holds afterwards: charts and manifests at their pinned releases.
    state = json.loads((tmp_path / "current/state.json").read_text())
    releases = state["helm_releases"]["i-m0"]
    assert "edgex/edgex-napa" in releases and "v3.1.0" in releases["edgex/edgex-napa"]["chart"]
    assert "applications.app.k8s.io" in state["crds"]["i-m0"]
    assert {"community", "openebs", "gopaddle", "rbac"} <= set(state["addons"]["i-m0"])
    pods = sh(node, "microk8s kubectl get pods -A").stdout
    assert "ml-pipeline" in pods and "edgex-napa-core-data" in pods and "CrashLoopBackOff" not in pods

    # gopaddle-lite exists only in the community repository of tracks 1.26-1.27.
    old = master(tmp_path / "old", channel="1.27/stable")
    result = addons(old, plan("gopaddle-lite"))
    assert result.status == "Success", result.stdout + result.stderr
    assert reports(result)["gopaddle-lite"] == "READY"


def test_a_second_run_changes_nothing(tmp_path: Path) -> None:
    node = master(tmp_path)
    names = plan("edgex", "ingress")
    assert addons(node, names).status == "Success"
    again = addons(node, names)
    assert again.status == "Success", again.stderr
    assert reports(again) == {n: "READY" for n in names}


def test_a_failing_required_addon_stops_the_run(tmp_path: Path) -> None:
    node = master(tmp_path)
    Cluster(tmp_path).addon_faults(fail=["edgex"])
    result = addons(node, plan("edgex", "ingress"))
    assert (result.status, result.exit_code) == ("Failed", 1)
    found = reports(result)
    assert found["edgex"].startswith("FAILED install failed:") and "injected fault" in found["edgex"]
    assert "ingress" not in found, "nothing after a required failure"
    assert "add-on edgex failed" in result.stderr


def test_an_optional_failure_is_reported_and_its_dependents_skipped(tmp_path: Path) -> None:
    node = master(tmp_path)
    Cluster(tmp_path).addon_faults(fail=["helm3"])
    names = plan("dns", "edgex")
    result = addons(node, names, optional=["helm3", "hostpath-storage", "edgex"])
    assert result.status == "Success", result.stdout + result.stderr
    found = reports(result)
    assert found["dns"] == "READY" and found["hostpath-storage"] == "READY"
    assert found["helm3"].startswith("FAILED install failed")
    assert found["edgex"] == "FAILED needs helm3, which failed"


def test_an_unhealthy_addon_fails_after_its_timeout(tmp_path: Path) -> None:
    node = master(tmp_path)
    Cluster(tmp_path).addon_faults(unhealthy=["metrics-server"])
    result = addons(node, ["metrics-server"], optional=["metrics-server"])
    assert result.status == "Success"
    assert reports(result)["metrics-server"].startswith("FAILED not healthy after 300s:")
    assert "timed out waiting for the condition" in reports(result)["metrics-server"]


def test_the_simulated_tools_keep_their_rules(tmp_path: Path) -> None:
    node = master(tmp_path)
    run = lambda script: sh(node, script)  # noqa: E731
    # A community add-on by its bare name before the repository: not found, with the hint (exit 1).
    bare = run("microk8s enable openebs")
    assert bare.exit_code == 1 and "not found in any repository" in bare.stderr and "microk8s enable community" in bare.stdout
    # By repository/name, an add-on the repositories lack is "not found" and exits 0 (unprotected_xable).
    explicit = run("microk8s enable community/openebs")
    assert explicit.exit_code == 0 and "Addon community/openebs not found" in explicit.stdout
    assert run("microk8s enable community").exit_code == 0
    lacking = run("microk8s enable community/gopaddle-lite")  # 1.32's community repository has none
    assert lacking.exit_code == 0 and "Addon community/gopaddle-lite not found" in lacking.stdout
    # Without iscsid, OpenEBS' enable script installs nothing (and exits 0, like the real one).
    assert run("microk8s enable community/openebs").exit_code == 0
    assert run("microk8s kubectl -n openebs rollout status deployment/openebs-localpv-provisioner").exit_code == 1
    assert "--version" in run("microk8s helm3 repo add openebs https://openebs.github.io/charts && "
                              "microk8s helm3 install o openebs/openebs -n kube-system").stderr
    assert "names no version" in run("microk8s helm3 install e https://example.com/chart.tgz").stderr
    assert "mec pins" in run('microk8s kubectl apply -k "github.com/kubeflow/pipelines/manifests/kustomize/env/platform-agnostic"').stderr
    assert "no matches for kind" in run('microk8s kubectl apply -k "github.com/kubeflow/pipelines/manifests/kustomize/env/platform-agnostic?ref=2.4.0"').stderr
    assert run("microk8s status -a rbac").stdout.strip() == "disabled"
    assert run("microk8s status -a dns").stdout.strip() == "enabled"


def test_an_addon_outside_the_document_is_refused(tmp_path: Path) -> None:
    node = master(tmp_path)
    result = addons(node, ["storidge"])
    assert result.status == "Failed" and "has no case in this document" in result.stderr


def test_amd64_only_images_crash_on_arm64_nodes(tmp_path: Path) -> None:
    """Why validation keeps kubeflow-pipelines off Graviton: its pods could not start there."""
    node = master(tmp_path)
    Cluster(tmp_path).set_architecture(node.instance_id, "arm64")
    install = " && ".join(CATALOGUE["kubeflow-pipelines"]["commands"])
    assert sh(node, install).exit_code == 0
    health = sh(node, CATALOGUE["kubeflow-pipelines"]["health"]["command"])
    assert health.exit_code == 1 and "timed out" in health.stderr
    assert "CrashLoopBackOff" in sh(node, "microk8s kubectl -n kubeflow get pods").stdout
    # EdgeX publishes arm64 images: healthy on the same node.
    assert sh(node, " && ".join(CATALOGUE["edgex"]["commands"])).exit_code == 0
    assert sh(node, CATALOGUE["edgex"]["health"]["command"]).exit_code == 0
