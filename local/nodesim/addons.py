"""Add-ons in the simulated cluster: `microk8s enable` (core and community repositories),
`microk8s helm3`, `microk8s kubectl apply -k`, and the health checks the catalogue uses
(`kubectl rollout status`, `kubectl wait`, `kubectl get pods`, `microk8s status -a`).

What each add-on deploys is modelled on the real one: the workloads (namespace, kind, name)
that MicroK8s' core add-ons, the community repository's enable scripts, the EdgeX chart and the
Kubeflow Pipelines manifests create. Rules the real tools enforce are enforced here: a community
add-on needs `microk8s enable community` first and exists only in the tracks whose community
repository has it; OpenEBS' enable script does nothing without iscsid; Kubeflow's second
kustomization needs the CRDs of the first. mec's own rule is checked too: every chart and
kustomization is pinned to a version.

Images are per architecture: Kubeflow Pipelines' and gopaddle-lite's exist for amd64 only, so on
an arm64 node (node["arch"], from the EC2 instance type) their pods crash (exec format error).

Faults (state["faults"]): `fail_addons` — the commands that install these add-ons fail;
`unhealthy_addons` — their workloads never become ready. The document names the add-on a command
serves in MEC_ADDON.
"""

from __future__ import annotations

import os
import re
from typing import Any

from .context import Context, scaled_sleep

# What `microk8s enable <core add-on>` deploys.
CORE = {
    "dns": [("kube-system", "deployment", "coredns")],
    "hostpath-storage": [("kube-system", "deployment", "hostpath-provisioner")],
    "ingress": [("ingress", "daemonset", "nginx-ingress-microk8s-controller")],
    "metrics-server": [("kube-system", "deployment", "metrics-server")],
    "helm": [], "helm3": [], "rbac": [], "ha-cluster": [], "community": [],
    "dashboard": [("kube-system", "deployment", "kubernetes-dashboard")],
    "registry": [("container-registry", "deployment", "registry")],
    "metallb": [("metallb-system", "deployment", "controller")],
    "observability": [("observability", "deployment", "kube-prom-stack-grafana")],
    "mayastor": [("mayastor", "daemonset", "mayastor-io-engine")],
}
# The community repository: add-on -> (tracks that carry it, what it deploys, add-ons it enables).
COMMUNITY = {
    "openebs": (((1, 24), (9, 99)), [("openebs", "deployment", "openebs-localpv-provisioner"),
                                    ("openebs", "deployment", "openebs-ndm-operator")], ["dns", "helm3"]),
    "gopaddle": (((1, 28), (9, 99)), [("gopaddle", "deployment", "gopaddle")], ["dns", "helm3"]),
    "gopaddle-lite": (((1, 26), (1, 27)), [("gp-lite", "deployment", "gateway")],
                      ["helm3", "hostpath-storage"]),
    "argocd": (((1, 24), (9, 99)), [("argocd", "deployment", "argo-cd-argocd-server")], ["dns", "helm3"]),
}
# Kustomizations `kubectl apply -k` knows: URL path -> (CRDs it needs, CRDs it creates, workloads).
KUSTOMIZE = {
    "github.com/kubeflow/pipelines/manifests/kustomize/cluster-scoped-resources": (
        [], ["applications.app.k8s.io", "workflows.argoproj.io", "scheduledworkflows.kubeflow.org"], []),
    "github.com/kubeflow/pipelines/manifests/kustomize/env/platform-agnostic": (
        ["applications.app.k8s.io"], [],
        [("kubeflow", "deployment", n) for n in (
            "ml-pipeline", "ml-pipeline-ui", "ml-pipeline-persistenceagent", "ml-pipeline-scheduledworkflow",
            "ml-pipeline-viewer-crd", "ml-pipeline-visualizationserver", "cache-server", "metadata-envoy-deployment",
            "metadata-grpc-deployment", "metadata-writer", "workflow-controller", "mysql", "minio")]),
}
# Workloads whose images are published for amd64 only (namespace, name prefix).
AMD64_ONLY = [("kubeflow", ""), ("gp-lite", "")]
DEFAULT_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"]
PINNED_URL = re.compile(r"/v?[0-9]+\.[0-9]+\.[0-9]+/|-[0-9]+\.[0-9]+\.[0-9]+\.tgz$")


def current_addon() -> str:
    return os.environ.get("MEC_ADDON", "")


def cluster_of(s: dict[str, Any], ctx: Context) -> str:
    return s["nodes"][ctx.instance_id]["cluster"]


def track(s: dict[str, Any], ctx: Context) -> tuple[int, int]:
    major, minor = s["nodes"][ctx.instance_id]["channel"].split("/")[0].split(".")
    return int(major), int(minor)


def injected_failure(ctx: Context, what: str) -> int | None:
    """The exit code of an install command that the `fail_addons` fault breaks, else None."""
    addon = current_addon()
    if addon and addon in ctx.read()["faults"].get("fail_addons", []):
        return ctx.error(f"Error: {what} failed for add-on {addon} (injected fault)")
    return None


def add_workloads(s: dict[str, Any], cluster: str, workloads: list[tuple[str, str, str]]) -> None:
    """Creates workloads (idempotently); unhealthy when the add-on they serve is faulted, or when
    their images do not exist for the architecture of the cluster's nodes."""
    addon = current_addon()
    faulted = addon in s["faults"].get("unhealthy_addons", [])
    arm = any(n.get("arch") == "arm64" for n in s["nodes"].values() if n.get("cluster") == cluster)
    stored = s.setdefault("workloads", {}).setdefault(cluster, [])
    for namespace, kind, name in workloads:
        amd64_only = any(namespace == ns and name.startswith(prefix) for ns, prefix in AMD64_ONLY)
        if not any(w["namespace"] == namespace and w["kind"] == kind and w["name"] == name for w in stored):
            stored.append({"namespace": namespace, "kind": kind, "name": name, "addon": addon,
                           "healthy": not faulted and not (arm and amd64_only)})
        namespaces = s.setdefault("namespaces", {}).setdefault(cluster, [])
        if namespace not in namespaces:
            namespaces.append(namespace)


def workloads(s: dict[str, Any], cluster: str) -> list[dict[str, Any]]:
    """Stored workloads, plus those of core add-ons enabled at install (dns), all healthy."""
    found = list(s.get("workloads", {}).get(cluster, []))
    for addon in s["addons"].get(cluster, []):
        for namespace, kind, name in CORE.get(addon, []):
            if not any(w["namespace"] == namespace and w["kind"] == kind and w["name"] == name for w in found):
                found.append({"namespace": namespace, "kind": kind, "name": name, "addon": addon, "healthy": True})
    return found


def namespaces(s: dict[str, Any], cluster: str) -> set[str]:
    return set(DEFAULT_NAMESPACES) | set(s.get("namespaces", {}).get(cluster, [])) | {
        w["namespace"] for w in workloads(s, cluster)}


# --- microk8s enable ---------------------------------------------------------------------------

def enable(ctx: Context, addon: str) -> int:
    """`microk8s enable <addon>`, `community/<addon>` or `core/<addon>` on a serving master."""
    repository, _, name = addon.rpartition("/")
    name = name.split(":")[0]
    s = ctx.read()
    cluster = cluster_of(s, ctx)
    enabled = s["addons"].get(cluster, [])
    if repository not in ("", "core", "community"):
        return ctx.error(f"Repository {repository} is not enabled")
    community = repository == "community" or (not repository and name in COMMUNITY and name not in CORE)
    if community:
        if "community" not in enabled:
            return ctx.error(f"Addon {addon} was not found in any repository\n"
                             "To use the community maintained flavor enable the respective repository:\n"
                             "    microk8s enable community")
        tracks, deployed, prerequisites = COMMUNITY.get(name, (((0, 0), (0, 0)), [], []))
        if not tracks[0] <= track(s, ctx) <= tracks[1]:
            return ctx.error(f"Addon {addon} was not found in any repository")
    elif name not in CORE:
        return ctx.error(f"Addon {name} was not found in any repository")
    else:
        deployed, prerequisites = CORE[name], []
    failed = injected_failure(ctx, f"microk8s enable {addon}")
    if failed is not None:
        return failed
    if name in enabled:
        ctx.out(f"Addon {'community/' if community else 'core/'}{name} is already enabled")
        return 0
    if name == "openebs" and not (ctx.root / "etc/systemd/enabled/iscsid").exists():
        # The real enable script prints this and exits with status 0, installing nothing.
        ctx.out("iscsid is not available or enabled.\nMake sure iscsi is installed on all nodes.")
        return 0
    if name == "community":
        ctx.out("Infer repository core for addon community\n"
                "Cloning into '/var/snap/microk8s/common/addons/community'...\nCommunity repository is now enabled")
    with ctx.lock() as s:
        enabled = s["addons"].setdefault(cluster, [])
        for extra in [*prerequisites, name]:
            if extra not in enabled:
                enabled.append(extra)
        add_workloads(s, cluster, [*deployed, *(w for p in prerequisites for w in CORE.get(p, []))])
        delay = s["latency"].get("addon_seconds", 0.0) * s["time_scale"]
    scaled_sleep(delay)
    ctx.out(f"Infer repository {'community' if community else 'core'} for addon {name}\n"
            f"Enabling {name}\n{name} is enabled")
    return 0


def status_addon(ctx: Context, name: str) -> int:
    """`microk8s status -a <addon>`: enabled or disabled."""
    s = ctx.read()
    ctx.out("enabled" if name in s["addons"].get(cluster_of(s, ctx), []) else "disabled")
    return 0


# --- microk8s helm3 ------------------------------------------------------------------------------

def option(args: list[str], *names: str) -> str | None:
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def helm3(ctx: Context, args: list[str]) -> int:
    s = ctx.read()
    cluster = cluster_of(s, ctx)
    if "helm3" not in s["addons"].get(cluster, []):
        return ctx.error("Addon helm3 is not enabled. Enable it with: microk8s enable helm3")
    if args[:1] == ["version"]:
        ctx.out("v3.14.4+g81c902a")
        return 0
    if args[:2] == ["repo", "add"] and len(args) >= 4:
        with ctx.lock() as s:
            s.setdefault("helm_repositories", {})[args[2]] = args[3]
        ctx.out(f'"{args[2]}" has been added to your repositories')
        return 0
    if args[:2] == ["repo", "update"]:
        ctx.out("Update Complete. ⎈Happy Helming!⎈")
        return 0
    install = args[:1] == ["install"] or args[:2] == ["upgrade", "--install"]
    if not install:
        return ctx.error(f"nodesim: helm3 {' '.join(args)} is not simulated")
    positional = [a for a in args[2 if args[0] == "upgrade" else 1:] if not a.startswith("-")]
    flags_with_values = {option(args, f) for f in ("--namespace", "-n", "--version")}
    positional = [a for a in positional if a not in flags_with_values]
    if len(positional) < 2:
        return ctx.error("Error: INSTALLATION FAILED: must either provide a name or specify --generate-name")
    release, chart = positional[0], positional[1]
    namespace = option(args, "--namespace", "-n") or "default"
    version = option(args, "--version")
    if chart.startswith("https://"):
        if not PINNED_URL.search(chart):
            return ctx.error(f"nodesim: {chart} names no version: mec pins every chart")
    elif "/" in chart:
        repo = chart.split("/")[0]
        if repo not in s.get("helm_repositories", {}):
            return ctx.error(f'Error: INSTALLATION FAILED: repo {repo} not found')
        if not version:
            return ctx.error(f"nodesim: helm install {chart} without --version: mec pins every chart")
    else:
        return ctx.error(f"Error: INSTALLATION FAILED: non-absolute URLs should be in form of repo_name/path_to_chart, got: {chart}")
    if namespace not in namespaces(s, cluster) and "--create-namespace" not in args:
        return ctx.error(f'Error: INSTALLATION FAILED: create: failed to create: namespaces "{namespace}" not found')
    failed = injected_failure(ctx, f"helm install {release}")
    if failed is not None:
        return failed
    with ctx.lock() as s:
        releases = s.setdefault("helm_releases", {}).setdefault(cluster, {})
        revision = releases.get(f"{namespace}/{release}", {}).get("revision", 0) + 1
        releases[f"{namespace}/{release}"] = {"chart": chart, "version": version, "revision": revision}
        # A chart's services: modelled as its core deployments.
        add_workloads(s, cluster, [(namespace, "deployment", f"{release}-{part}")
                                   for part in ("core-data", "core-metadata", "core-command", "ui")])
    ctx.out(f"Release \"{release}\" has been {'upgraded' if revision > 1 else 'installed'}. Happy Helming!\n"
            f"NAME: {release}\nNAMESPACE: {namespace}\nSTATUS: deployed\nREVISION: {revision}")
    return 0


# --- microk8s kubectl (beyond get nodes) -----------------------------------------------------------

def without_namespace(args: list[str]) -> tuple[str, list[str]]:
    """kubectl's `-n NS` / `--namespace[=]NS`, wherever it stands, and the other arguments."""
    namespace, rest, i = "default", [], 0
    while i < len(args):
        if args[i] in ("-n", "--namespace") and i + 1 < len(args):
            namespace, i = args[i + 1], i + 2
            continue
        if args[i].startswith("--namespace="):
            namespace = args[i].split("=", 1)[1]
        else:
            rest.append(args[i])
        i += 1
    return namespace, rest


def kubectl(ctx: Context, s: dict[str, Any], args: list[str]) -> int:
    cluster = cluster_of(s, ctx)
    namespace, args = without_namespace(args)
    if args[:2] == ["apply", "-k"] and len(args) >= 3:
        return apply_kustomization(ctx, s, cluster, args[2])
    if args[:2] == ["rollout", "status"] and len(args) >= 3:
        kind, _, name = args[2].partition("/")
        found = [w for w in workloads(s, cluster)
                 if w["namespace"] == namespace and w["kind"] == kind and w["name"] == name]
        if not found:
            return ctx.error(f'Error from server (NotFound): {kind}s.apps "{name}" not found')
        if not found[0]["healthy"]:
            ctx.out(f'Waiting for {kind} "{name}" rollout to finish: 0 of 1 updated replicas are available...')
            return ctx.error("error: timed out waiting for the condition")
        ctx.out(f'{kind} "{name}" successfully rolled out')
        return 0
    if args[:1] == ["wait"]:
        return wait(ctx, s, cluster, namespace, args[1:])
    if args[:2] == ["get", "pods"]:
        every = "-A" in args or "--all-namespaces" in args
        rows = [w for w in workloads(s, cluster) if every or w["namespace"] == namespace]
        if not rows:
            ctx.error(f"No resources found in {namespace} namespace.")
            return 0
        ctx.out(f"{'NAMESPACE':<14} {'NAME':<48} READY   STATUS")
        for w in rows:
            state = "1/1     Running" if w["healthy"] else "0/1     CrashLoopBackOff"
            ctx.out(f"{w['namespace']:<14} {w['name'] + '-7d4b9c-x2x9z':<48} {state}")
        return 0
    return ctx.error(f"nodesim: kubectl {' '.join(args)} is not simulated")


def wait(ctx: Context, s: dict[str, Any], cluster: str, namespace: str, args: list[str]) -> int:
    condition = option(args, "--for") or ""
    targets = [a for a in args if not a.startswith("-") and a != condition and not a.startswith("condition")]
    if condition in ("condition=established", "established") or (targets and targets[0].startswith("crd/")):
        for target in targets:
            name = target.split("/", 1)[1]
            if name not in s.get("crds", {}).get(cluster, []):
                return ctx.error(f'Error from server (NotFound): customresourcedefinitions.apiextensions.k8s.io "{name}" not found')
            ctx.out(f"customresourcedefinition.apiextensions.k8s.io/{name} condition met")
        return 0
    if condition == "condition=Available" and targets == ["deployment"] and "--all" in args:
        found = [w for w in workloads(s, cluster) if w["namespace"] == namespace and w["kind"] == "deployment"]
        if not found:
            return ctx.error("error: no matching resources found")
        for w in found:
            if not w["healthy"]:
                return ctx.error(f"error: timed out waiting for the condition on deployments/{w['name']}")
            ctx.out(f"deployment.apps/{w['name']} condition met")
        return 0
    return ctx.error(f"nodesim: kubectl wait {' '.join(args)} is not simulated")


def apply_kustomization(ctx: Context, s: dict[str, Any], cluster: str, url: str) -> int:
    path, _, query = url.partition("?")
    if path not in KUSTOMIZE:
        return ctx.error(f"nodesim: kustomization {path} is not simulated")
    if not re.fullmatch(r"ref=v?[0-9]+\.[0-9]+\.[0-9]+", query):
        return ctx.error(f"nodesim: {url} names no release (?ref=X.Y.Z): mec pins every manifest")
    needs, creates, deployed = KUSTOMIZE[path]
    missing = [crd for crd in needs if crd not in s.get("crds", {}).get(cluster, [])]
    if missing:
        return ctx.error(f'error: resource mapping not found for name: "pipeline" namespace: "kubeflow": '
                         f'no matches for kind "Application" (ensure CRDs are installed first: {missing[0]})')
    failed = injected_failure(ctx, f"kubectl apply -k {path}")
    if failed is not None:
        return failed
    with ctx.lock() as s:
        crds = s.setdefault("crds", {}).setdefault(cluster, [])
        crds.extend(c for c in creates if c not in crds)
        add_workloads(s, cluster, deployed)
    for crd in creates:
        ctx.out(f"customresourcedefinition.apiextensions.k8s.io/{crd} created")
    for namespace, kind, name in deployed:
        ctx.out(f"{kind}.apps/{name} created")
    return 0

