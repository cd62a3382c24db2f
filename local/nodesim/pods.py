"""Pods in the simulated cluster: `microk8s kubectl run`, `get pod NAME`, `delete pod NAME`, as
kubectl 1.32 (the kubectl of the MicroK8s 1.32 snap) and the API server answer them.

What the acceptance suite (tests/acceptance/acceptance.py) asks the cluster, and what a real
cluster answers: a pod pinned to a node (`spec.nodeName` through `--overrides`, or a
`nodeSelector` the scheduler honours) is Running, or Succeeded for a command that ends, when its
node is Ready and its image is published for the node's architecture; otherwise it is Pending
(the kubelet of a node that is not Ready runs nothing; containerd finds no image for the
platform; the scheduler finds no node). A pod's node is Ready as `get nodes` says it is
(microk8s.ready_in_cluster); its architecture is the node's (node["arch"], from the EC2 instance
type, as the add-ons use it: addons.py).

Sources (kubectl's reference and its code, release-1.32):
- kubernetes.io/docs/reference/kubectl/generated/kubectl_run/: `kubectl run NAME --image=image
  [--env="key=value"] [--port=port] [--dry-run=server|client] [--overrides=inline-json]
  [--command] -- [COMMAND] [args...]`; `--restart` "Legal values [Always, OnFailure, Never]";
  `--overrides` "An inline JSON override for the generated object"; `--override-type` json, merge
  (default) or strategic.
- kubernetes/kubectl pkg/cmd/run/run.go: Validate ("NAME is required for run", "--image is
  required", the image reference check, "-i/--stdin is required for containers with
  -t/--tty=true", "--port must be a number", "--rm should only be used for attached
  containers"), getRestartPolicy ("invalid restart policy: X"), createPod (labels run=NAME, one
  container named NAME, dnsPolicy ClusterFirst; the arguments after `--` are the container's
  `args`, or its `command` with --command), the name printer's `pod/NAME created`.
- kubernetes/kubectl pkg/cmd/util/override_options.go and helpers.go Merge: the default
  override is an RFC 7396 JSON merge patch of the generated object (evanphx/json-patch:
  "Invalid JSON Patch" for a patch that is not JSON).
- kubernetes.io/docs/reference/kubectl/generated/kubectl_get/ and kubectl_delete/; delete.go
  PrintObj (`pod "NAME" deleted`); the API server's NotFound / AlreadyExists statuses as kubectl
  prints them (`Error from server (NotFound): pods "NAME" not found`), and an Invalid one (`The
  Pod "NAME" is invalid: ...`, apimachinery validation IsDNS1123Subdomain/IsDNS1123Label).
- Cobra's flag errors as kubectl 1.32 prints them: `Error: unknown flag: --x` and `See 'kubectl
  run --help' for usage.`, exit 1; a required flag missing: `required flag(s) "image" not set`.
- kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/ (phases Pending, Running,
  Succeeded, Failed; restartPolicy; the conditions PodScheduled, PodReadyToStartContainers,
  Initialized, ContainersReady, Ready), kubernetes.io/docs/concepts/containers/images/
  (imagePullPolicy defaults to Always for `:latest` or no tag, else IfNotPresent; ErrImagePull).

Images: the simulator knows a few public images and the platforms their registries publish
(IMAGES below); any tag of a known repository is taken to exist. An unknown repository fails to
pull (ErrImagePull: repository does not exist), a known one without the node's platform too
(containerd: "no match for platform in manifest"). Every other kubectl form stays refused.
"""

from __future__ import annotations

import calendar
import json
import re
import time
from typing import Any

from .context import Context

# Kinds kubectl accepts for pods (`kubectl api-resources`: pods, short name po).
POD_KINDS = ("pod", "pods", "po")

# repository -> (platforms published, the image's own command when the pod gives none, whether
# that command serves for ever). Docker Hub's official images list their platforms on their
# pages (hub.docker.com/_/busybox, /_/alpine, /_/nginx); public.ecr.aws/docker/library mirrors
# them; registry.k8s.io/pause is built for linux/amd64, arm, arm64, ppc64le, s390x
# (kubernetes/kubernetes build/pause/Makefile ALL_ARCH.linux); Kubeflow Pipelines' images are
# amd64 only (addons.py AMD64_ONLY).
OFFICIAL = ("amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64")
IMAGES: dict[str, tuple[tuple[str, ...], list[str], bool]] = {
    "docker.io/library/busybox": (OFFICIAL, ["sh"], False),
    "docker.io/library/alpine": (OFFICIAL, ["/bin/sh"], False),
    "docker.io/library/nginx": (OFFICIAL, ["nginx", "-g", "daemon off;"], True),
    "public.ecr.aws/docker/library/busybox": (OFFICIAL, ["sh"], False),
    "public.ecr.aws/docker/library/alpine": (OFFICIAL, ["/bin/sh"], False),
    "public.ecr.aws/docker/library/nginx": (OFFICIAL, ["nginx", "-g", "daemon off;"], True),
    "registry.k8s.io/pause": (("amd64", "arm", "arm64", "ppc64le", "s390x"), ["/pause"], True),
    "gcr.io/ml-pipeline/api-server": (("amd64",), ["/bin/apiserver"], True),
}

# distribution/reference regexp.go (what run.go Validate matches the image against).
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[(?:[a-fA-F0-9:]+)\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
REFERENCE = re.compile(rf"^((?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
                       r"(?::([\w][\w.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$")
# apimachinery pkg/util/validation: IsDNS1123Subdomain (object names), IsDNS1123Label (containers).
DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = rf"{DNS1123_LABEL}(\.{DNS1123_LABEL})*"
SUBDOMAIN_MESSAGE = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                     "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                     f"validation is '{DNS1123_SUBDOMAIN}')")
LABEL_MESSAGE = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                 f"start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                 f"validation is '{DNS1123_LABEL}')")
RESTART_POLICIES = ("Always", "OnFailure", "Never")

# kubectl run's flags (run.go addRunFlags, the delete/print/record flags it adds, cmdutil's
# override, dry-run, field-manager and pod-running-timeout flags): long name -> short name.
RUN_VALUE_FLAGS = {"image": "", "restart": "", "overrides": "", "override-type": "", "labels": "l", "env": "",
                   "port": "", "image-pull-policy": "", "annotations": "", "namespace": "n", "output": "o",
                   "dry-run": "", "field-manager": "", "pod-running-timeout": "", "detach-keys": "",
                   "grace-period": "", "timeout": "", "cascade": "", "filename": "f", "template": ""}
RUN_BOOL_FLAGS = {"command": "", "stdin": "i", "tty": "t", "attach": "", "rm": "", "quiet": "q", "privileged": "",
                  "expose": "", "leave-stdin-open": "", "save-config": "", "record": "", "force": "", "wait": "",
                  "allow-missing-template-keys": "", "show-managed-fields": ""}
GET_VALUE_FLAGS = {"namespace": "n", "output": "o", "selector": "l"}
GET_BOOL_FLAGS = {"all-namespaces": "A", "watch": "w", "ignore-not-found": "", "show-labels": "", "no-headers": ""}
DELETE_VALUE_FLAGS = {"namespace": "n", "grace-period": "", "timeout": "", "cascade": "", "output": "o"}
DELETE_BOOL_FLAGS = {"now": "", "force": "", "wait": "", "ignore-not-found": "", "all": ""}


class FlagError(Exception):
    """A cobra/pflag parse error: kubectl prints `Error: <message>` and the usage hint, exit 1."""


def parse_flags(args: list[str], values: dict[str, str], bools: dict[str, str]
                ) -> tuple[dict[str, list[str]], list[str], int]:
    """pflag as kubectl's commands use it: interspersed flags and arguments, `--name=value`,
    `--name value`, `-x value`, `-xvalue`, `-x=value`, grouped short booleans (`-it`), `--` ends
    the flags. Returns (flag -> every value given, in order; booleans as "true"/"false"), the
    positional arguments, and cobra's ArgsLenAtDash (positionals before `--`, -1 without one)."""
    shorts = {short: long for long, short in {**values, **bools}.items() if short}
    found: dict[str, list[str]] = {}
    positional: list[str] = []
    at_dash = -1
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            at_dash = len(positional)
            positional += rest
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if name in bools:
                found.setdefault(name, []).append(value if eq else "true")
            elif name in values:
                if not eq:
                    if not rest:
                        raise FlagError(f"flag needs an argument: --{name}")
                    value = rest.pop(0)
                found.setdefault(name, []).append(value)
            else:
                raise FlagError(f"unknown flag: --{name}")
        elif arg.startswith("-") and len(arg) > 1:
            letters = arg[1:]
            while letters:
                letter, letters = letters[0], letters[1:]
                if letter not in shorts:
                    raise FlagError(f"unknown shorthand flag: '{letter}' in -{arg[1:]}")
                name = shorts[letter]
                if name in bools:
                    value = "true"
                    if letters.startswith("="):
                        value, letters = letters[1:], ""
                    found.setdefault(name, []).append(value)
                    continue
                value = letters[1:] if letters.startswith("=") else letters
                if not value:
                    if not rest:
                        raise FlagError(f"flag needs an argument: '{letter}' in -{letter}")
                    value = rest.pop(0)
                found.setdefault(name, []).append(value)
                letters = ""
        else:
            positional.append(arg)
    return found, positional, at_dash


def flag_failed(ctx: Context, command: str, error: FlagError) -> int:
    return ctx.error(f"Error: {error}\nSee 'kubectl {command} --help' for usage.")


def usage_failed(ctx: Context, command: str, message: str) -> int:
    """cmdutil.CheckErr of a usage error: `error: ...` and the examples hint, exit 1."""
    return ctx.error(f"error: {message}\nSee 'kubectl {command} -h' for help and examples")


def last(found: dict[str, list[str]], name: str, default: str = "") -> str:
    return found.get(name, [default])[-1]


def flag_on(found: dict[str, list[str]], name: str) -> bool:
    return last(found, name, "false").lower() in ("true", "1", "t")


# --- images and commands -------------------------------------------------------------------------

def repository(image: str) -> tuple[str, str]:
    """(the fully qualified repository, the tag) of an image reference, as containerd resolves
    it: no registry means docker.io, a one-part path on docker.io means library/."""
    match = REFERENCE.match(image)
    assert match is not None
    name, tag = match.group(1), match.group(2) or ("" if match.group(3) else "latest")
    first = name.split("/", 1)[0]
    if "/" not in name or not ("." in first or ":" in first or first == "localhost"):
        name = f"docker.io/{name}"
    if name.count("/") == 1 and name.startswith("docker.io/"):
        name = f"docker.io/library/{name.split('/', 1)[1]}"
    return name, tag


def pull_error(image: str, arch: str) -> str | None:
    """containerd's pull failure for this image on this platform, or None when it pulls."""
    name, tag = repository(image)
    ref = f"{name}:{tag}" if tag else name
    known = IMAGES.get(name)
    if known is None:
        return (f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": pull access denied, '
                "repository does not exist or may require authorization: server message: insufficient_scope: "
                "authorization failed")
    if arch not in known[0]:
        return f'failed to pull and unpack image "{ref}": no match for platform in manifest: not found'
    return None


SLEEP = re.compile(r"\bsleep\s+(infinity|[0-9.]+)([smhd]?)\b")
EXIT = re.compile(r"\bexit\s+([0-9]+)\s*$")
UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def run_profile(container: dict[str, Any]) -> tuple[float | None, int]:
    """(simulated seconds the container's process runs, None for ever; its exit code).

    The process is the container's `command` (with `args`), else the `args` (the simulated
    images' entrypoints hand their arguments on, as busybox's and nginx's do), else the image's
    own command. A shell script (`sh -c SCRIPT`) runs its `sleep`s (`sleep infinity` for ever)
    and exits with its last `exit N` (else 0); `sleep N` runs N seconds; `false` exits 1; a shell
    without a script exits at once (no stdin: kubectl run without -i); anything else ends at once
    with 0, and the image's own server commands run for ever."""
    argv = list(container.get("command") or []) + list(container.get("args") or [])
    if not argv:
        known = IMAGES.get(repository(container["image"])[0])
        if known is None:
            return None, 0
        argv = list(known[1])
        if known[2]:
            return None, 0
    program = argv[0].rsplit("/", 1)[-1]
    if program in ("sh", "bash", "ash") and len(argv) >= 3 and argv[1] == "-c":
        script = argv[2]
        total = 0.0
        for amount, unit in SLEEP.findall(script):
            if amount == "infinity":
                return None, 0
            total += float(amount) * UNITS[unit]
        code = EXIT.search(script.strip())
        return total, int(code.group(1)) if code else (1 if script.strip() == "false" else 0)
    if program == "sleep" and len(argv) >= 2:
        amount = SLEEP.match(f"sleep {argv[1]}")
        if amount is None:
            return 0.0, 1
        if amount.group(1) == "infinity":
            return None, 0
        return float(amount.group(1)) * UNITS[amount.group(2)], 0
    if program == "false":
        return 0.0, 1
    return 0.0, 0


# --- the pod object ------------------------------------------------------------------------------

def rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def generated_pod(name: str, found: dict[str, list[str]], arguments: list[str]) -> dict[str, Any]:
    """run.go createPod, as the v1 JSON the override is merged into."""
    labels = dict(item.split("=", 1) for item in last(found, "labels").split(",") if "=" in item) or {"run": name}
    container: dict[str, Any] = {"name": name, "image": last(found, "image"), "resources": {}}
    envs = [dict(zip(("name", "value"), e.split("=", 1), strict=True)) for e in found.get("env", [])]
    if envs:
        container["env"] = envs
    if last(found, "image-pull-policy"):
        container["imagePullPolicy"] = last(found, "image-pull-policy")
    if last(found, "port"):
        container["ports"] = [{"containerPort": int(last(found, "port"))}]
    if arguments:
        container["command" if flag_on(found, "command") else "args"] = arguments
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels, "creationTimestamp": None},
            "spec": {"containers": [container], "dnsPolicy": "ClusterFirst",
                     "restartPolicy": last(found, "restart", "Always")},
            "status": {}}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch (what `--override-type=merge`, the default, applies)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def server_defaults(pod: dict[str, Any], namespace: str, now: float) -> dict[str, Any]:
    """What the API server stores: metadata it assigns and the PodSpec defaults (the v1 API's
    SetDefaults_Pod / SetDefaults_Container, the default service account admission)."""
    import uuid  # here: every `microk8s` call imports this module, few create a pod

    meta = pod.setdefault("metadata", {})
    meta.update(namespace=namespace, uid=str(uuid.uuid4()), creationTimestamp=rfc3339(now),
                resourceVersion=str(int(now * 1000) % 10**9))
    spec = pod.setdefault("spec", {})
    for container in spec.get("containers", []):
        _, tag = repository(container["image"]) if REFERENCE.match(container.get("image", "")) else ("", "")
        container.setdefault("imagePullPolicy", "Always" if tag in ("", "latest") else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
    for key, value in (("dnsPolicy", "ClusterFirst"), ("restartPolicy", "Always"), ("schedulerName", "default-scheduler"),
                       ("securityContext", {}), ("serviceAccount", "default"), ("serviceAccountName", "default"),
                       ("terminationGracePeriodSeconds", 30), ("enableServiceLinks", True), ("priority", 0),
                       ("preemptionPolicy", "PreemptLowerPriority")):
        spec.setdefault(key, value)
    spec.setdefault("tolerations", [
        {"effect": "NoExecute", "key": key, "operator": "Exists", "tolerationSeconds": 300}
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")])
    pod["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    return pod


def invalid(pod: dict[str, Any]) -> str | None:
    """The API server's validation of the fields a run can get wrong, as kubectl prints an
    Invalid status (`The Pod "NAME" is invalid: ...`)."""
    name = pod.get("metadata", {}).get("name", "")
    problems = []
    if len(name) > 253 or not re.fullmatch(DNS1123_SUBDOMAIN, name):
        problems.append(f'metadata.name: Invalid value: "{name}": {SUBDOMAIN_MESSAGE}')
    containers = pod.get("spec", {}).get("containers") or []
    if not containers:
        problems.append("spec.containers: Required value")
    for k, container in enumerate(containers):
        cname = str(container.get("name", ""))
        if len(cname) > 63 or not re.fullmatch(DNS1123_LABEL, cname):
            problems.append(f'spec.containers[{k}].name: Invalid value: "{cname}": {LABEL_MESSAGE}')
        if not container.get("image"):
            problems.append(f"spec.containers[{k}].image: Required value")
    restart = pod.get("spec", {}).get("restartPolicy")
    if restart not in RESTART_POLICIES:
        problems.append(f'spec.restartPolicy: Unsupported value: "{restart}": supported values: "Always", "OnFailure", "Never"')
    if not problems:
        return None
    joined = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
    return f'The Pod "{name}" is invalid: {joined}'


# --- the cluster's view: scheduling, the kubelet, the phase ---------------------------------------

def cluster_nodes(s: dict[str, Any], cluster: str, now: float) -> list[tuple[str, dict[str, Any], bool]]:
    """(instance id, the Node object, Ready) of the cluster's members, as `get nodes` shows them."""
    from .microk8s import members, node_object  # at call time: microk8s imports this module

    found = []
    for instance_id, _ in members(s, cluster):
        node = node_object(s, instance_id, now)
        found.append((instance_id, node, node["status"]["conditions"][0]["status"] == "True"))
    return found


def schedule(s: dict[str, Any], cluster: str, stored: dict[str, Any], now: float) -> str | None:
    """The default scheduler's verdict for an unbound pod: a Ready node whose labels match the
    pod's nodeSelector (a node that is not Ready carries the not-ready/unreachable NoSchedule
    taint), the one running the fewest pods; None (and the reason kept on the pod) otherwise."""
    spec = stored["object"]["spec"]
    selector = spec.get("nodeSelector") or {}
    nodes = cluster_nodes(s, cluster, now)
    matching = [(i, n, r) for i, n, r in nodes if all(n["metadata"]["labels"].get(k) == v for k, v in selector.items())]
    fits = [n["metadata"]["name"] for _, n, r in matching if r]
    if not fits:
        reasons = []
        if len(nodes) - len(matching):
            reasons.append(f"{len(nodes) - len(matching)} node(s) didn't match Pod's node affinity/selector")
        if matching:
            reasons.append(f"{len(matching)} node(s) had untolerated taint {{node.kubernetes.io/unreachable: }}")
        stored["unschedulable"] = (f"0/{len(nodes)} nodes are available: {', '.join(reasons)}. preemption: 0/{len(nodes)} "
                                   f"nodes are available: {len(nodes)} Preemption is not helpful for scheduling.")
        return None
    load = {name: 0 for name in fits}
    for other in s.get("pods", {}).get(cluster, []):
        bound = other["object"]["spec"].get("nodeName")
        if bound in load:
            load[bound] += 1
    chosen = min(fits, key=lambda name: (load[name], name))
    spec["nodeName"] = chosen
    stored["scheduled_at"] = now
    stored.pop("unschedulable", None)
    return chosen


def observe(s: dict[str, Any], cluster: str, stored: dict[str, Any], now: float) -> dict[str, Any]:
    """The pod as the API server holds it now (under the state lock: scheduling and a container's
    start are recorded, as the scheduler and the kubelet write them)."""
    pod = json.loads(json.dumps(stored["object"]))
    spec, status = pod["spec"], pod["status"]
    created = stored["created_at"]
    conditions: list[dict[str, Any]] = []
    if not spec.get("nodeName") and schedule(s, cluster, stored, now) is None:
        status["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                 "message": stored["unschedulable"], "lastTransitionTime": rfc3339(created),
                                 "lastProbeTime": None}]
        return pod
    spec["nodeName"] = stored["object"]["spec"]["nodeName"]
    if stored.get("scheduled_at"):
        conditions.append({"type": "PodScheduled", "status": "True", "lastTransitionTime": rfc3339(stored["scheduled_at"]),
                           "lastProbeTime": None})
    status["conditions"] = conditions
    nodes = {n["metadata"]["name"]: (i, n, r) for i, n, r in cluster_nodes(s, cluster, now)}
    if spec["nodeName"] not in nodes:
        return pod  # bound to a node that does not exist: no kubelet ever runs it
    instance_id, node, ready = nodes[spec["nodeName"]]
    if not ready and not stored.get("started_at"):
        return pod  # the node's kubelet is not running: nothing runs the pod yet
    if not conditions:  # bound by its creator: the kubelet reports it scheduled (generateAPIPodStatus)
        conditions.append({"type": "PodScheduled", "status": "True", "lastTransitionTime": rfc3339(created),
                           "lastProbeTime": None})
    status["hostIP"] = node["status"]["addresses"][0]["address"]
    status["hostIPs"] = [{"ip": status["hostIP"]}]
    status["startTime"] = rfc3339(stored.get("started_at") or now)
    container = spec["containers"][0]
    arch = "arm64" if s["nodes"][instance_id].get("arch") == "arm64" else "amd64"
    pulled = pull_error(container["image"], arch)
    base = {"name": container["name"], "image": container["image"], "imageID": "", "restartCount": 0,
            "ready": False, "started": False}
    if pulled is not None:
        base["state"] = {"waiting": {"reason": "ErrImagePull", "message": pulled}}
        status["containerStatuses"] = [base]
        status["conditions"] = conditions + [
            {"type": t, "status": "True" if t in ("PodReadyToStartContainers", "Initialized") else "False",
             "lastTransitionTime": rfc3339(now), "lastProbeTime": None,
             **({} if t in ("PodReadyToStartContainers", "Initialized") else
                {"reason": "ContainersNotReady", "message": f"containers with unready status: [{container['name']}]"})}
            for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")]
        return pod
    started = stored.setdefault("started_at", now)
    status["startTime"] = rfc3339(started)
    # Calico's pod addresses (MicroK8s' default pool 10.1.0.0/16), one block per node.
    block, host = sum(map(ord, spec["nodeName"])) % 250, 2 + len(s.get("pods", {}).get(cluster, []))
    status["podIP"] = stored.setdefault("pod_ip", f"10.1.{block}.{host}")
    status["podIPs"] = [{"ip": status["podIP"]}]
    runs, code = run_profile(container)
    ended = runs is not None and now >= started + runs * s.get("time_scale", 1.0)
    restart = spec.get("restartPolicy", "Always")
    base.update(imageID=f"{repository(container['image'])[0]}@sha256:" + "0" * 64, containerID=f"containerd://{stored['uid']}")
    if not ended:
        base.update(ready=ready, started=True, state={"running": {"startedAt": rfc3339(started)}})
        phase = "Running"
    else:
        finished = started + (runs or 0.0) * s.get("time_scale", 1.0)
        terminated = {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                      "startedAt": rfc3339(started), "finishedAt": rfc3339(finished),
                      "containerID": base["containerID"]}
        if restart == "Never" or (restart == "OnFailure" and code == 0):
            base["state"] = {"terminated": terminated}
            phase = "Succeeded" if code == 0 else "Failed"
        else:  # the kubelet restarts it, and backs off
            base.update(restartCount=1, lastState={"terminated": terminated},
                        state={"waiting": {"reason": "CrashLoopBackOff",
                                           "message": f"back-off 10s restarting failed container={container['name']} "
                                                      f"pod={pod['metadata']['name']}_{pod['metadata']['namespace']}"
                                                      f"({stored['uid']})"}})
            phase = "Running"
    status["phase"] = phase
    status["containerStatuses"] = [base]
    pod_ready = phase == "Running" and base["ready"]
    done = phase in ("Succeeded", "Failed")
    for kind, ok in (("PodReadyToStartContainers", not done), ("Initialized", True), ("Ready", pod_ready),
                     ("ContainersReady", pod_ready)):
        condition: dict[str, Any] = {"type": kind, "status": "True" if ok else "False",
                                     "lastTransitionTime": rfc3339(started), "lastProbeTime": None}
        if not ok and kind in ("Ready", "ContainersReady"):
            condition["reason"] = "PodCompleted" if done else "ContainersNotReady"
            if not done:
                condition["message"] = f"containers with unready status: [{container['name']}]"
        conditions.append(condition)
    status["conditions"] = conditions
    return pod


# --- the commands ----------------------------------------------------------------------------------

def namespaces_of(s: dict[str, Any], cluster: str) -> set[str]:
    from .addons import namespaces  # the namespaces the cluster has (defaults and add-ons')

    return namespaces(s, cluster)


def run(ctx: Context, s: dict[str, Any], cluster: str, args: list[str]) -> int:
    """`kubectl run NAME --image=IMAGE [--restart=...] [--overrides=JSON] [-- COMMAND...]`."""
    try:
        found, positional, at_dash = parse_flags(args, RUN_VALUE_FLAGS, RUN_BOOL_FLAGS)
    except FlagError as e:
        return flag_failed(ctx, "run", e)
    if "image" not in found:
        # cobra's required-flag check, logged by kubectl 1.32's component-base cli.Run.
        return ctx.error(time.strftime("E%m%d %H:%M:%S.000000") + '   1 run.go:72] "command failed" '
                         'err="required flag(s) \\"image\\" not set"')
    for spec in [item for item in last(found, "labels").split(",") if last(found, "labels")]:
        key, eq, _ = spec.partition("=")
        if not eq or "=" in spec[len(key) + 1:]:
            return ctx.error(f"error: unexpected label spec: {spec}")
        if not key:
            return ctx.error("error: unexpected empty label key")
    for env in found.get("env", []):
        key, eq, _ = env.partition("=")
        if not eq or not re.fullmatch(r"[-._a-zA-Z][-._a-zA-Z0-9]*", key):
            return ctx.error(f"error: invalid env: {env}")
    restart = last(found, "restart", "Always")
    if restart not in RESTART_POLICIES:
        return usage_failed(ctx, "run", f"invalid restart policy: {restart}")
    if last(found, "image-pull-policy") not in ("", "Always", "IfNotPresent", "Never"):
        return ctx.error(f"error: invalid image pull policy: {last(found, 'image-pull-policy')}")
    if not positional or at_dash == 0:
        return usage_failed(ctx, "run", "NAME is required for run")
    image = last(found, "image")
    if not image:
        return usage_failed(ctx, "run", "--image is required")
    if not REFERENCE.match(image):
        return ctx.error(f'error: Invalid image name "{image}": invalid reference format')
    if flag_on(found, "tty") and not flag_on(found, "stdin"):
        return usage_failed(ctx, "run", "-i/--stdin is required for containers with -t/--tty=true")
    if flag_on(found, "expose") and not last(found, "port"):
        return usage_failed(ctx, "run", "--port must be set when exposing a service")
    if last(found, "port") and not last(found, "port").isdigit():
        return usage_failed(ctx, "run", "--port must be a number")
    if flag_on(found, "rm") and not (flag_on(found, "attach") or flag_on(found, "stdin")):
        return usage_failed(ctx, "run", "--rm should only be used for attached containers")
    override_type = last(found, "override-type", "merge")
    if override_type not in ("json", "merge", "strategic"):
        return ctx.error(f"error: invalid override type: {override_type}")
    simulated = {"stdin": not flag_on(found, "stdin"), "attach": not flag_on(found, "attach"),
                 "expose": not flag_on(found, "expose"), "dry-run": "dry-run" not in found,
                 "output": "output" not in found, "override-type": override_type == "merge"}
    for flag, fine in simulated.items():
        if not fine:
            return ctx.error(f"nodesim: kubectl run --{flag} (as given) is not simulated")
    name = positional[0]
    pod = generated_pod(name, found, positional[1:])
    if "overrides" in found:
        try:
            patch = json.loads(last(found, "overrides"))
        except ValueError:
            return ctx.error("error: Invalid JSON Patch")
        pod = merge_patch(pod, patch)
        if pod.get("kind") != "Pod" or pod.get("apiVersion") != "v1":
            return ctx.error("nodesim: an override that changes the object's kind or apiVersion is not simulated")
    namespace = last(found, "namespace", "default")
    now = time.time()
    problem = invalid(pod)
    with ctx.lock() as s:
        if namespace not in namespaces_of(s, cluster):
            return ctx.error(f'Error from server (NotFound): namespaces "{namespace}" not found')
        if problem is not None:
            return ctx.error(problem)
        pods = s.setdefault("pods", {}).setdefault(cluster, [])
        if any(p["object"]["metadata"]["name"] == name and p["object"]["metadata"]["namespace"] == namespace for p in pods):
            return ctx.error(f'Error from server (AlreadyExists): pods "{name}" already exists')
        stored_object = server_defaults(pod, namespace, now)
        stored = {"object": stored_object, "created_at": now, "uid": stored_object["metadata"]["uid"]}
        if stored_object["spec"].get("nodeName"):
            stored["scheduled_at"] = None  # bound by the caller: the scheduler never sees it
        pods.append(stored)
    ctx.out(f"pod/{name} created")
    return 0


def pod_name(kind_and_names: list[str]) -> tuple[str, list[str]] | None:
    """(kind, names) from `pod NAME...` or `pod/NAME`, None when it names no pod kind."""
    if not kind_and_names:
        return None
    first = kind_and_names[0]
    if "/" in first:
        kind, _, name = first.partition("/")
        return (kind, [name, *(n.split("/", 1)[-1] for n in kind_and_names[1:])]) if kind in POD_KINDS else None
    return (first, kind_and_names[1:]) if first in POD_KINDS else None


def get(ctx: Context, s: dict[str, Any], cluster: str, args: list[str]) -> int:
    """`kubectl get pod NAME [-o json|name]` (one pod, by name)."""
    try:
        found, positional, _ = parse_flags(args[1:], GET_VALUE_FLAGS, GET_BOOL_FLAGS)
    except FlagError as e:
        return flag_failed(ctx, "get", e)
    named = pod_name(positional)
    assert named is not None and named[1]
    output = last(found, "output")
    if len(named[1]) != 1 or output not in ("", "json", "name") or set(found) - {"namespace", "output"}:
        return ctx.error(f"nodesim: kubectl {' '.join(args)} is not simulated")
    name, namespace, now = named[1][0], last(found, "namespace", "default"), time.time()
    with ctx.lock() as s:
        stored = next((p for p in s.get("pods", {}).get(cluster, [])
                       if p["object"]["metadata"]["name"] == name and p["object"]["metadata"]["namespace"] == namespace), None)
        pod = observe(s, cluster, stored, now) if stored is not None else None
    if pod is None:
        return ctx.error(f'Error from server (NotFound): pods "{name}" not found')
    if output == "json":
        ctx.out(json.dumps(pod, indent=4))
    elif output == "name":
        ctx.out(f"pod/{name}")
    else:
        ctx.out(table([pod], now))
    return 0


def table(pods: list[dict[str, Any]], now: float) -> str:
    """kubectl's default columns for pods: NAME READY STATUS RESTARTS AGE."""
    rows = [("NAME", "READY", "STATUS", "RESTARTS", "AGE")]
    for pod in pods:
        statuses = pod["status"].get("containerStatuses") or []
        ready = sum(1 for c in statuses if c.get("ready"))
        shown = pod["status"]["phase"]
        for c in statuses:
            state = c.get("state", {})
            if "waiting" in state:
                shown = state["waiting"]["reason"]
            elif "terminated" in state:
                shown = state["terminated"]["reason"]
        created = calendar.timegm(time.strptime(pod["metadata"]["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ"))
        rows.append((pod["metadata"]["name"], f"{ready}/{len(pod['spec']['containers'])}", shown,
                     str(sum(c.get("restartCount", 0) for c in statuses)), f"{max(0, int(now - created))}s"))
    widths = [max(len(r[k]) for r in rows) for k in range(5)]
    return "\n".join("   ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def delete(ctx: Context, s: dict[str, Any], cluster: str, args: list[str]) -> int:
    """`kubectl delete pod NAME...`: each is gone at once (the simulated kubelet stops its
    container within the grace period; kubectl waits for that by default)."""
    try:
        found, positional, _ = parse_flags(args[1:], DELETE_VALUE_FLAGS, DELETE_BOOL_FLAGS)
    except FlagError as e:
        return flag_failed(ctx, "delete", e)
    named = pod_name(positional)
    assert named is not None
    if not named[1] or flag_on(found, "all") or last(found, "output") not in ("", "name"):
        return ctx.error(f"nodesim: kubectl {' '.join(args)} is not simulated")
    namespace = last(found, "namespace", "default")
    force = flag_on(found, "force") or last(found, "grace-period") == "0"
    code = 0
    for name in named[1]:
        with ctx.lock() as s:
            pods = s.setdefault("pods", {}).setdefault(cluster, [])
            kept = [p for p in pods if not (p["object"]["metadata"]["name"] == name
                                            and p["object"]["metadata"]["namespace"] == namespace)]
            existed = len(kept) != len(pods)
            s["pods"][cluster] = kept
        if not existed:
            if not flag_on(found, "ignore-not-found"):
                ctx.error(f'Error from server (NotFound): pods "{name}" not found')
                code = 1
            continue
        ctx.out(f"pod/{name}" if last(found, "output") == "name" else f'pod "{name}" {"force deleted" if force else "deleted"}')
    return code


def handles(args: list[str]) -> bool:
    """Whether these kubectl arguments are a pod form simulated here: `run`, `get` of named pods,
    `delete` of pods. `get pods` without a name stays the add-ons' listing (addons.py)."""
    if args[:1] == ["run"]:
        return True
    tables = {"get": (GET_VALUE_FLAGS, GET_BOOL_FLAGS), "delete": (DELETE_VALUE_FLAGS, DELETE_BOOL_FLAGS)}
    if not args or args[0] not in tables:
        return False
    try:
        _, positional, _ = parse_flags(args[1:], *tables[args[0]])
    except FlagError:
        return False
    named = pod_name(positional)
    return named is not None and (args[0] == "delete" or bool(named[1]))


def kubectl(ctx: Context, s: dict[str, Any], args: list[str]) -> int:
    """The pod forms of `microk8s kubectl` on a serving control-plane node."""
    cluster = s["nodes"][ctx.instance_id]["cluster"]
    command = {"run": lambda: run(ctx, s, cluster, args[1:]), "get": lambda: get(ctx, s, cluster, args),
               "delete": lambda: delete(ctx, s, cluster, args)}
    return command[args[0]]()
