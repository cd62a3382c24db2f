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

Images are per architecture: Kubeflow Pipelines' exist for amd64 only, so on an arm64 node
(node["arch"], from the EC2 instance type) its pods crash (exec format error). Add-ons are per
architecture too: an add-on whose addons.yaml does not list the node's architecture is not
available there (gopaddle-lite: amd64 only), as MicroK8s' get_available_addons filters them.

`microk8s enable|disable` follows common/utils.py (canonical/microk8s 1.32): parse_xable_addon_args
infers the repository ("Infer repository core for addon dns" on stderr), a bare name found in
no repository fails (exit 1, with the community hint when the snap's community repository has
it), an explicit `repo/name` that is not available prints "Addon repo/name not found" and exits
0 (unprotected_xable), and an enabled add-on is "already enabled". The add-ons' own arguments
(`name:args` or flags after the name) are accepted and not interpreted.

Faults (state["faults"]): `fail_addons` — the commands that install these add-ons fail;
`unhealthy_addons` — their workloads never become ready. The document names the add-on a command
serves in MEC_ADDON.
"""

from __future__ import annotations

import os
import re
from typing import Any

from . import state as st
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


def add_workloads(s: dict[str, Any], cluster: str, workloads: list[tuple[str, str, str]],
                  peers: bool = False) -> None:
    """Creates workloads (idempotently); unhealthy when the add-on they serve is faulted, or when
    their images do not exist for the architecture of the cluster's nodes. `peers`: parts of an
    application that call each other by Service name (they need the pod network)."""
    addon = current_addon()
    faulted = addon in s["faults"].get("unhealthy_addons", [])
    arm = any(n.get("arch") == "arm64" for n in s["nodes"].values() if n.get("cluster") == cluster)
    stored = s.setdefault("workloads", {}).setdefault(cluster, [])
    for namespace, kind, name in workloads:
        amd64_only = any(namespace == ns and name.startswith(prefix) for ns, prefix in AMD64_ONLY)
        if not any(w["namespace"] == namespace and w["kind"] == kind and w["name"] == name for w in stored):
            stored.append({"namespace": namespace, "kind": kind, "name": name, "addon": addon,
                           "healthy": not faulted and not (arm and amd64_only), "peers": peers})
        namespaces = s.setdefault("namespaces", {}).setdefault(cluster, [])
        if namespace not in namespaces:
            namespaces.append(namespace)


def workloads(s: dict[str, Any], cluster: str) -> list[dict[str, Any]]:
    """Stored workloads, plus those of core add-ons enabled at install (dns), all healthy; those
    whose pods call other pods (`peers`) are unhealthy while the pod network is cut: the
    scheduler spreads an application's pods over the nodes, so their calls cross nodes, pod to
    pod, over Calico's VXLAN (udp 4789, MicroK8s docs "Services and ports"; packets that fit
    the path between the nodes' zones: calico.py)."""
    found = list(s.get("workloads", {}).get(cluster, []))
    for addon in s["addons"].get(cluster, []):
        for namespace, kind, name in CORE.get(addon, []):
            if not any(w["namespace"] == namespace and w["kind"] == kind and w["name"] == name for w in found):
                found.append({"namespace": namespace, "kind": kind, "name": name, "addon": addon, "healthy": True})
    if any(w.get("peers") for w in found) and not pod_network_whole(s, cluster):
        found = [dict(w, healthy=False) if w.get("peers") else w for w in found]
    return found


def pod_network_whole(s: dict[str, Any], cluster: str) -> bool:
    """Every two running nodes of the cluster exchange VXLAN packets both ways, full-sized pod
    packets included: the cluster's veth MTU plus VXLAN's 50 bytes fits the path MTU between the
    two nodes' zones (calico.py; Kubernetes' network model: every pod reaches every other pod, on
    any node, without NAT)."""
    from . import calico

    live = [i for i, n in s["nodes"].items() if n["installed"] and n["cluster"] == cluster and st.is_up(s, i)]
    return all(calico.pods_reach(s, cluster, a, b) for a in live for b in live if a < b)


def namespaces(s: dict[str, Any], cluster: str) -> set[str]:
    return set(DEFAULT_NAMESPACES) | set(s.get("namespaces", {}).get(cluster, [])) | {
        w["namespace"] for w in workloads(s, cluster)}


# --- microk8s enable / disable ------------------------------------------------------------------

# The core repository of MicroK8s 1.32 (canonical/microk8s-core-addons, branch 1.32, addons.yaml):
# name -> (description, version, architectures).
CORE_CATALOGUE: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "dns": ("CoreDNS", "1.10.1", ("amd64", "arm64", "ppc64le", "s390x")),
    "rbac": ("Role-Based Access Control for authorisation", "", ("amd64", "arm64", "ppc64le", "s390x")),
    "dashboard": ("The Kubernetes dashboard", "2.6.0", ("amd64", "arm64", "ppc64le", "s390x")),
    "ingress": ("Ingress controller for external access", "1.8.0", ("amd64", "arm64")),
    "hostpath-storage": ("Storage class; allocates storage from host directory", "1.4.2", ("amd64", "arm64", "ppc64le", "s390x")),
    "storage": ("Alias to hostpath-storage add-on, deprecated", "1.4.0", ("amd64", "arm64", "ppc64le", "s390x")),
    "registry": ("Private image registry exposed on localhost:32000", "2.8.1", ("amd64", "arm64", "ppc64le", "s390x")),
    "metrics-server": ("K8s Metrics Server for API access to service metrics", "0.6.3", ("amd64", "arm64", "ppc64le", "s390x")),
    "nvidia": ("NVIDIA hardware (GPU and network) support", "gpu=22.9.1/network=23.7.0/microk8s-1", ("amd64",)),
    "gpu": ("Alias to nvidia add-on", "22.9.1", ("amd64",)),
    "helm": ("Helm - the package manager for Kubernetes", "3.9.1", ("amd64", "arm64", "ppc64le", "s390x")),
    "helm3": ("Helm 3 - the package manager for Kubernetes", "3.9.1", ("amd64", "arm64", "ppc64le", "s390x")),
    "metallb": ("Loadbalancer for your Kubernetes cluster", "0.13.3", ("amd64", "arm64", "ppc64le", "s390x")),
    "host-access": ("Allow Pods connecting to Host services smoothly", "1.0.0", ("amd64", "arm64", "ppc64le", "s390x")),
    "ha-cluster": ("Configure high availability on the current node", "0.1.0", ("amd64", "arm64", "ppc64le", "s390x")),
    "mayastor": ("OpenEBS MayaStor", "2.0.0-microk8s-1", ("amd64", "arm64")),
    "prometheus": ("Prometheus operator for monitoring and logging", "v0.8.0", ("amd64", "arm64")),
    "observability": ("A lightweight observability stack for logs, traces and metrics", "0.57.0", ("amd64", "arm64")),
    "community": ("The community addons repository", "", ("amd64", "arm64", "ppc64le", "s390x")),
    "cert-manager": ("Cloud native certificate management", "1.8.0", ("amd64", "arm64", "ppc64le")),
    "kube-ovn": ("An advanced network fabric for Kubernetes", "1.10.0-alpha1", ("amd64", "arm64")),
    "minio": ("MinIO object storage", "4.5.1", ("amd64", "arm64", "ppc64le", "s390x")),
    "cis-hardening": ("Apply CIS K8s hardening", "1.0.0", ("amd64", "arm64")),
    "rook-ceph": ("Distributed Ceph storage using Rook", "1.11.9", ("amd64", "arm64")),
}
# The community add-ons simulated here (canonical/microk8s-community-addons addons.yaml, branch
# 1.32; gopaddle-lite from branch 1.27, the last that has it): name -> (description, version,
# architectures).
COMMUNITY_CATALOGUE: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "openebs": ("OpenEBS is the open-source storage solution for Kubernetes", "2.6.0", ("amd64", "arm64")),
    "gopaddle": ("Low-Code Kubernetes IDE with AI Co-pilot", "5.0", ("amd64", "arm64")),
    "gopaddle-lite": ("Cheapest, fastest and simplest way to modernize your applications", "4.2.5", ("amd64",)),
    "argocd": ("Argo CD is a declarative continuous deployment for Kubernetes.", "2.7.2", ("amd64", "arm64")),
}


def node_arch(s: dict[str, Any], ctx: Context) -> str:
    """The add-ons' architecture names (dpkg): arm64 or amd64, from EC2's arm64/x86_64."""
    return "arm64" if s["nodes"][ctx.instance_id].get("arch") == "arm64" else "amd64"


def community_addons(s: dict[str, Any], ctx: Context) -> list[str]:
    """The community repository of this node's track (what `microk8s enable community` clones)."""
    return [name for name, (tracks, _, _) in COMMUNITY.items() if tracks[0] <= track(s, ctx) <= tracks[1]
            and node_arch(s, ctx) in COMMUNITY_CATALOGUE[name][2]]


def available(s: dict[str, Any], ctx: Context) -> list[dict[str, Any]]:
    """common/utils.py get_available_addons: every repository's add-ons for this architecture,
    sorted by (repository, name); the community repository once it is enabled."""
    arch = node_arch(s, ctx)
    found = [{"name": n, "repository": "core", "description": d, "version": v}
             for n, (d, v, arches) in CORE_CATALOGUE.items() if arch in arches]
    if "community" in s["addons"].get(cluster_of(s, ctx), []):
        found += [{"name": n, "repository": "community", "description": COMMUNITY_CATALOGUE[n][0],
                   "version": COMMUNITY_CATALOGUE[n][1]} for n in community_addons(s, ctx)]
    return sorted(found, key=lambda a: (a["repository"], a["name"]))


def by_name(addons: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """common/utils.py get_addon_by_name: `name` or `repository/name`."""
    repository, _, addon = name.rpartition("/") if name.count("/") == 1 else ("", "", name)
    return [a for a in addons if a["name"] == addon and (not repository or a["repository"] == repository)]


def xable(ctx: Context, action: str, args: list[str]) -> int:
    """common/utils.py unprotected_xable: which add-ons the arguments name (parse_xable_addon_args),
    then each one's enable or disable script."""
    s = ctx.read()
    pairs = [(a["repository"], a["name"]) for a in available(s, ctx)]
    names = {n for _, n in pairs} | {f"{r}/{n}" for r, n in pairs}
    requested = {arg.split(":")[0] for arg in args}
    if requested < names:  # several add-ons, each with its own `:args`
        chosen = []
        for arg in args:
            parsed = infer_repository(ctx, s, arg, pairs)
            if isinstance(parsed, int):
                return parsed
            chosen.append(parsed)
    else:  # one add-on and its unix-style arguments
        parsed = infer_repository(ctx, s, args[0], pairs)
        if isinstance(parsed, int):
            return parsed
        if parsed[2] and args[1:]:
            ctx.out("Can't pass string arguments and flag arguments simultaneously!\n"
                    "Enable or disable addons with only one argument style at a time:\n\n"
                    "    microk8s enable foo:'bar'\nor\n    microk8s enable foo --bar\n")
            return 1
        chosen = [(parsed[0], parsed[1], args[1:])]
    if len(chosen) > 1:
        ctx.out("WARNING: Do not enable or disable multiple addons in one command.\n"
                "         This form of chained operations on addons will be DEPRECATED in the future.\n"
                f"         Please, {action} one addon at a time: 'microk8s {action} <addon>'")
    for repository, name, _ in chosen:
        if (repository, name) not in pairs:
            ctx.out(f"Addon {repository}/{name} not found")
            continue
        run = enable_one if action == "enable" else disable_one
        code = run(ctx, repository, name)
        if code:
            return code
    return 0


def infer_repository(ctx: Context, s: dict[str, Any], arg: str,
                     pairs: list[tuple[str, str]]) -> tuple[str, str, list[str]] | int:
    """common/utils.py parse_xable_single_arg: (repository, name, args), or the exit code after
    its message."""
    name, *extra = arg.split(":")
    parts = name.split("/")
    if len(parts) == 2:
        return parts[0], parts[1], extra
    if len(parts) != 1:
        ctx.out(f"Invalid addon name {name}")
        return 1
    repositories = [r for r, n in pairs if n == name]
    if not repositories:
        ctx.error(f"Addon {name} was not found in any repository")
        if name in community_addons(s, ctx):  # is_community_addon: the snap's own copy of the repository
            ctx.out("To use the community maintained flavor enable the respective repository:\n\n"
                    "    microk8s enable community\n")
        return 1
    if len(repositories) > 1:
        ctx.error(f"Addon {name} exists in more than repository. Please explicitly specify\n"
                  "the repository using any of:\n\n" + "".join(f"    {r}/{name}\n" for r in repositories))
        return 1
    ctx.error(f"Infer repository {repositories[0]} for addon {name}")
    return repositories[0], name, extra


def enable_one(ctx: Context, repository: str, name: str) -> int:
    """An add-on's enable script, on a serving master."""
    s = ctx.read()
    cluster = cluster_of(s, ctx)
    enabled = s["addons"].get(cluster, [])
    if repository == "community":
        _, deployed, prerequisites = COMMUNITY[name]
    else:
        deployed, prerequisites = CORE.get(name, []), []
    failed = injected_failure(ctx, f"microk8s enable {repository}/{name}")
    if failed is not None:
        return failed
    if name in enabled:
        ctx.out(f"Addon {repository}/{name} is already enabled")
        return 0
    if name == "openebs" and not (ctx.root / "etc/systemd/enabled/iscsid.service").exists():
        # The real enable script prints this and exits with status 0, installing nothing.
        ctx.out("iscsid is not available or enabled.\nMake sure iscsi is installed on all nodes.")
        return 0
    if name == "community":
        ctx.out("Cloning into '/var/snap/microk8s/common/addons/community'...\nCommunity repository is now enabled")
    with ctx.lock() as s:
        enabled = s["addons"].setdefault(cluster, [])
        for extra in [*prerequisites, name]:
            if extra not in enabled:
                enabled.append(extra)
        add_workloads(s, cluster, [*deployed, *(w for p in prerequisites for w in CORE.get(p, []))])
        delay = s["latency"].get("addon_seconds", 0.0) * s["time_scale"]
    scaled_sleep(delay)
    if name != "community":
        ctx.out(f"Enabling {name}\n{name} is enabled")
    return 0


def disable_one(ctx: Context, repository: str, name: str) -> int:
    """An add-on's disable script: it is no longer enabled, its workloads are gone."""
    s = ctx.read()
    cluster = cluster_of(s, ctx)
    if name not in s["addons"].get(cluster, []):
        ctx.out(f"Addon {repository}/{name} is already disabled")
        return 0
    with ctx.lock() as s:
        s["addons"][cluster] = [a for a in s["addons"].get(cluster, []) if a != name]
        s.setdefault("workloads", {})[cluster] = [w for w in s.get("workloads", {}).get(cluster, []) if w["addon"] != name]
    ctx.out(f"Disabling {name}\n{name} is disabled")
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
        # A chart's services: modelled as its core deployments, which find and call each other
        # by Service name (EdgeX's core-data, core-metadata and core-command; its UI calls them).
        add_workloads(s, cluster, [(namespace, "deployment", f"{release}-{part}")
                                   for part in ("core-data", "core-metadata", "core-command", "ui")], peers=True)
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
        # Kubeflow Pipelines' parts call each other: ml-pipeline connects to the `mysql` and
        # `minio-service` Services, the UI and the persistence agent to ml-pipeline.
        add_workloads(s, cluster, deployed, peers=bool(deployed))
    for crd in creates:
        ctx.out(f"customresourcedefinition.apiextensions.k8s.io/{crd} created")
    for namespace, kind, name in deployed:
        ctx.out(f"{kind}.apps/{name} created")
    return 0

