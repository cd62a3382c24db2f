r"""The `microk8s` stand-in: MicroK8s 1.32's command wrappers, their argument parsers and the
cluster they act on (add-ons: addons.py; certificates and kubeconfig: pki.py).

Each subcommand parses its arguments as its MicroK8s script does: argparse for status and
add-node, click 7.0 (python3-click of the snap's core20 base) for join, enable and disable,
getopt for config; wrong arguments fail with that parser's message and exit code.

The cluster rules are MicroK8s' own (canonical/microk8s scripts/wrappers/add_token.py and join.py, the MicroK8s docs on clustering): tokens of at least 32
characters, single-use without a TTL and consumed even by a failed join, joins only through port
25000 of a control-plane node, the joining hostname must resolve on that node, one channel
everywhere. Workers get `var/lock/clustered.lock`, control-plane joiners a dqlite `cluster.yaml`
listing every control-plane address: the files the join script checks for "already joined".

The network between nodes is the state's (state.py FLOWS, decided by the world from the security
groups, world/network.py), and a node whose instance is not running answers nothing: a join
reaches the contacted node's cluster agent on tcp 25000 or times out; a control-plane joiner's
k8s-dqlite needs tcp 19001 with the datastore's leader, else the join ends well but the node has
no datastore and never turns Ready; a node is Ready on the control plane when its kubelet reaches
an API server (a worker: tcp 16443 to a control-plane node online in the datastore); the API
server reaches a kubelet on tcp 10250 (`kubectl get --raw /api/v1/nodes/N/proxy/healthz`); the
voters follow go-dqlite's roles adjustment (an offline voter stays one until an online stand-by
or spare can take its place).

Sources: canonical/microk8s branch 1.32 (37f80a95dc21), pallets/click 7.0.

| rule                   | what                                                               | source |
|------------------------|--------------------------------------------------------------------|--------|
| mk8s-subcommands       | the wrappers of 1.32 only; another: `'x' is not a valid MicroK8s subcommand.` and the list, stdout, exit 1 | microk8s-resources/wrappers/microk8s.wrapper |
| mk8s-status-args       | --format {pretty,yaml,short}, -w/--wait-ready, -t/--timeout INT, -a/--addon, --yaml; argparse errors exit 2 | scripts/wrappers/status.py |
| mk8s-status-worker     | on a worker: "acting as a node in a cluster ... control plane node", exit 0 | microk8s-status.wrapper |
| mk8s-add-node-args     | -l/--token-ttl INT, -t/--token, --format {pretty,short,token,token-check,json,yaml}; a token under 32 characters refused | scripts/wrappers/add_token.py; common/cluster/utils.py TOKEN_MIN_LEN |
| mk8s-join-args         | CONNECTION, --worker, --controlplane, --skip-verify, --disable-low-memory-guard; unknown options are extra arguments (ignore_unknown_options): "Got unexpected extra argument", exit 2 | scripts/wrappers/join.py join; click 7.0 core.py parse_args |
| mk8s-join-connection   | <ip>:<port>/<token>[/<fingerprint>]; "Invalid connection: ...", exit 1 | common/cluster/utils.py get_valid_connection_parts |
| mk8s-join-agent-errors | the cluster agent's refusals: "Connection failed. <error> (<status>).", exit 6; fingerprint mismatch exit 4 | join.py join_request |
| mk8s-xable-args        | ADDONS... required (click), repository inference, "Addon repo/x not found" (exit 0) | scripts/wrappers/enable.py, disable.py; common/utils.py parse_xable_addon_args, unprotected_xable |
| mk8s-config-args       | -l/--use-loopback, -h/--help, -o/--output X (getopt); without -l the server is the default interface's IP; a blank line after | microk8s-config.wrapper |
| mk8s-kubectl-pods      | `kubectl run NAME --image=I [--restart=R] [--overrides=JSON] [-- CMD...]`, `get pod NAME [-o json\|name]`, `delete pod NAME...`: kubectl 1.32's flags and messages; Running/Succeeded on a Ready node whose platform the image has, else Pending (pods.py) | kubernetes.io/docs/reference/kubectl/generated/kubectl_run/, kubectl_get/, kubectl_delete/; kubernetes/kubectl pkg/cmd/run/run.go |
| mk8s-worker-wrappers   | kubectl, config, helm3 on a worker: a message, exit 0; add-node: exit 1; enable: exit 1 | microk8s-kubectl/-config/-helm3/-add-node.wrapper; common/utils.py is_cluster_locked |
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from . import addons as addon_sim
from . import pods
from . import state as st
from .context import Context, scaled_sleep

SNAP_DATA = "var/snap/microk8s/current"
CLUSTERED_LOCK = f"{SNAP_DATA}/var/lock/clustered.lock"
HA_LOCK = f"{SNAP_DATA}/var/lock/ha-cluster"
DQLITE_CLUSTER = f"{SNAP_DATA}/var/kubernetes/backend/cluster.yaml"
CLIENT_CONFIG = f"{SNAP_DATA}/credentials/client.config"
SERVER_CERT = f"{SNAP_DATA}/certs/server.crt"
TOKEN_MIN_LEN = 32  # common/cluster/utils.py
FINGERPRINT_MIN_LEN = 12
REFUSED = ("The connection to the server 127.0.0.1:16443 was refused - did you specify the "
           "right host or port?")
# is_cluster_locked (common/utils.py): enable, disable and the python scripts on a worker.
CLUSTER_LOCKED = "This MicroK8s deployment is acting as a node in a cluster.\nPlease use the master node."
# The wrappers of MicroK8s 1.32 (microk8s-resources/wrappers/microk8s-*.wrapper), plus inspect.
WRAPPERS = ("add-node", "addons", "config", "ctr", "dbctl", "disable", "enable", "helm", "helm3", "images",
            "istioctl", "join", "kubectl", "leave", "linkerd", "refresh-certs", "remove-node", "reset",
            "start", "status", "stop", "version")


def token_hash(token: str) -> str:
    """The state keeps hashes: the token itself is never written anywhere by the simulator."""
    return hashlib.sha256(token.encode()).hexdigest()


def help_lines() -> str:
    """microk8s.wrapper help()."""
    return "Available subcommands are:\n" + "".join(f"\t{w}\n" for w in WRAPPERS) + "\tinspect"


def main(ctx: Context, args: list[str]) -> int:
    if not args:
        ctx.out(help_lines())
        return 1
    command, rest = args[0], args[1:]
    if not ctx.read()["nodes"][ctx.instance_id]["installed"]:
        # A /snap/bin link left behind by a removal: nothing answers.
        return ctx.error("microk8s: command not found", 127)
    if command in ("help", "--help", "-h"):
        ctx.out(help_lines())
        return 0
    handler = HANDLERS.get(command)
    if handler is None:
        if command in WRAPPERS or command == "inspect":
            return ctx.error(f"nodesim: microk8s {command} is not simulated")
        ctx.out(f"'{command}' is not a valid MicroK8s subcommand.\n{help_lines()}")
        return 1
    return handler(ctx, rest)


def version(ctx: Context, args: list[str]) -> int:
    """version.py ignores its arguments."""
    from .snap import release

    channel = ctx.read()["nodes"][ctx.instance_id]["channel"]
    ver, revision = release("microk8s", channel)
    ctx.out(f"MicroK8s {ver} revision {revision}")
    return 0


def is_worker(ctx: Context) -> bool:
    return (ctx.root / CLUSTERED_LOCK).is_file()


# dqlite keeps three voters and two standbys; further control-plane nodes are spares.
VOTERS, STANDBYS = 3, 2
# go-dqlite's app: below three nodes the leader is the only voter (app/roles.go minVoters).
MIN_VOTERS = 3


def dqlite_members(state: dict[str, Any], cluster: str) -> list[dict[str, Any]]:
    """The cluster's control-plane nodes in the order they joined dqlite (the founder first)."""
    control = [n for _, n in members(state, cluster) if n["role"] == "control-plane"]
    return sorted(control, key=lambda n: n.get("joined_at") or 0.0)


def control_plane(state: dict[str, Any], cluster: str) -> list[tuple[str, dict[str, Any]]]:
    """(instance id, node) of the cluster's control-plane nodes, in join order."""
    control = [(i, n) for i, n in members(state, cluster) if n["role"] == "control-plane"]
    return sorted(control, key=lambda item: item[1].get("joined_at") or 0.0)


def dqlite_linked(state: dict[str, Any], a: str, b: str) -> bool:
    """Raft traffic both ways between two control-plane nodes (tcp 19001)."""
    return st.reachable(state, a, b, "tcp", st.DQLITE_PORT) and st.reachable(state, b, a, "tcp", st.DQLITE_PORT)


def dqlite_view(state: dict[str, Any], cluster: str) -> tuple[list[tuple[str, dict[str, Any]]], str | None, set[str]]:
    """(the raft configuration in join order, its leader, the members online).

    In the configuration: the founder, and every control-plane joiner that reached the leader
    over 19001 at its join or since (its k8s-dqlite keeps trying to join: update_dqlite in
    scripts/wrappers/join.py starts it with the voters in init.yaml). A member once in stays in,
    online or not (raft never drops a member by itself). The leader: the first member up in join
    order. Online: up and linked with the leader over 19001."""
    control = control_plane(state, cluster)
    recorded = [(i, n) for i, n in control if i == cluster or n.get("dqlite_member")]
    leader = next((i for i, _ in recorded if st.is_up(state, i)), None)
    if leader is None:
        return recorded, None, set()
    online = {i for i, _ in control if i == leader or dqlite_linked(state, i, leader)}
    config = [(i, n) for i, n in control if any(i == r for r, _ in recorded) or i in online]
    return config, leader, online


def dqlite_roles(state: dict[str, Any], cluster: str) -> list[tuple[str, dict[str, Any], str]]:
    """(instance id, node, voter|standby|spare) as go-dqlite's roles adjustment leaves them
    (canonical/go-dqlite app/roles.go Adjust): a cluster under three nodes has one voter, the
    leader; otherwise roles follow the join order, online stand-bys then spares are promoted
    while fewer than three voters are online, an offline voter is demoted only once three are
    online (else it stays a voter), and likewise for the stand-bys."""
    config, leader, online = dqlite_view(state, cluster)
    if len(config) < MIN_VOTERS:
        first = leader or (config[0][0] if config else None)
        return [(i, n, "voter" if i == first else "spare") for i, n in config]
    roles = {i: "voter" if k < VOTERS else "standby" if k < VOTERS + STANDBYS else "spare"
             for k, (i, _) in enumerate(config)}

    def having(role: str, up: bool) -> list[str]:
        return [i for i, _ in config if roles[i] == role and (i in online) == up]

    for role, target, donors in (("voter", VOTERS, ("standby", "spare")), ("standby", STANDBYS, ("spare",))):
        while len(having(role, True)) < target:
            candidates = [i for donor in donors for i in having(donor, True)]
            if not candidates:
                break
            roles[candidates[0]] = role
        if len(having(role, True)) >= target:
            for i in having(role, False):
                roles[i] = "spare"
    return [(i, n, roles[i]) for i, n in config]


def api_servers(state: dict[str, Any], cluster: str) -> list[str]:
    """The control-plane nodes whose API server serves: those online in the datastore (an API
    server whose k8s-dqlite is cut from the leader has no datastore)."""
    _, _, online = dqlite_view(state, cluster)
    return [i for i, _ in control_plane(state, cluster) if i in online]


def ready_in_cluster(state: dict[str, Any], instance_id: str, now: float) -> bool:
    """The node's Ready condition as the control plane sees it: the kubelet posts its status to
    the API server (Kubernetes docs, "Nodes", Heartbeats: "updates to the .status of a Node" and
    Lease objects, both sent by the kubelet), so a node is Ready when it runs, is ready itself,
    and its kubelet reaches an API server: a control-plane node its own (which needs the
    datastore), a worker one of the control plane's over tcp 16443 through its apiserver-proxy.
    A node that is down or cut off stops posting and turns Unknown."""
    if not st.is_up(state, instance_id) or not st.is_ready(state, instance_id, now):
        return False
    node = state["nodes"][instance_id]
    serving = api_servers(state, node["cluster"])
    if node["role"] == "worker":
        return any(st.reachable(state, instance_id, server, "tcp", st.API_PORT) for server in serving)
    return instance_id in serving


def members(state: dict[str, Any], cluster: str) -> list[tuple[str, dict[str, Any]]]:
    return sorted(
        ((i, n) for i, n in state["nodes"].items() if n["installed"] and n["cluster"] == cluster),
        key=lambda item: item[1]["node_name"] or "",
    )


# --- the first start after an install ----------------------------------------------------------

def first_start_state(s: dict[str, Any], instance_id: str, hostname: str, sans: list[str],
                      cni_env: dict[str, str | None] | None = None) -> None:
    """What a fresh MicroK8s is when it first starts (under the state lock, with the install):
    the node registered under its hostname (lowercase), the launch configuration's extraSANs
    read, a one-node cluster of its own with the default add-ons, whose Calico takes its veth
    MTU from the launch configuration's extraCNIEnv (calico.py)."""
    from . import calico

    node = s["nodes"][instance_id]
    node.update(installed_at=time.time(), node_name=hostname, extra_sans=sans, cluster=instance_id,
                role="control-plane")
    s["addons"].setdefault(instance_id, ["dns", "ha-cluster", "helm", "helm3"])
    calico.record_founding(s, instance_id, cni_env)


def first_start_files(ctx: Context, key_pool: Path, ips: list[str],
                      cni_env: dict[str, str | None] | None = None) -> None:
    """Its files: the locks and dqlite membership, certificates and admin kubeconfig, and
    args/cni-env from the launch configuration's extraCNIEnv."""
    from . import pki

    write_fresh_node_files(ctx.root)
    pki.new_node_pki(ctx.root, ctx.instance_id, ips, key_pool)
    if cni_env:
        args = ctx.root / SNAP_DATA / "args"
        args.mkdir(parents=True, exist_ok=True)
        (args / "cni-env").write_text("".join(f"{k}={v}\n" for k, v in cni_env.items() if v is not None))


LAUNCH_CONFIGURATION = "var/snap/microk8s/common/.microk8s.yaml"


def read_launch_configuration(root: Path) -> dict[str, Any]:
    """The launch configuration MicroK8s reads at its first start ($SNAP_COMMON/.microk8s.yaml),
    {} without one. The YAML subset launch configurations are written in: top-level keys, each a
    scalar, a block list (`  - item`), a block mapping (`  KEY: value`) or a flow mapping or list
    (`{K: v, ...}`, `[a, ...]`); plain, "double" or 'single' quoted scalars, `null`/`~` as None,
    comments. Several documents (`---`) are applied in order: lists extend, mappings merge.
    Values are the scalars' text (Go's yaml.v2 decodes an integer into a string field as its
    text: cluster-agent pkg/k8sinit/schema.go); what is nested deeper is not read."""
    config = root / LAUNCH_CONFIGURATION
    if not config.is_file():
        return {}
    merged: dict[str, Any] = {}
    for document in _documents(config.read_text()):
        for key, value in document.items():
            if isinstance(value, list) and isinstance(merged.get(key), list):
                merged[key] = [*merged[key], *value]
            elif isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    return merged


def read_extra_sans(root: Path) -> list[str]:
    """The extraSANs of the launch configuration, read by MicroK8s at its first start."""
    sans = read_launch_configuration(root).get("extraSANs")
    return [s for s in sans if s] if isinstance(sans, list) else []


def read_cni_env(root: Path) -> dict[str, str | None]:
    """The extraCNIEnv of the launch configuration (written to args/cni-env at the first start)."""
    env = read_launch_configuration(root).get("extraCNIEnv")
    return dict(env) if isinstance(env, dict) else {}


def _documents(text: str) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = [{}]
    key: str | None = None
    base: int | None = None  # the indentation of the current key's block entries
    for raw in text.splitlines():
        line = _strip_comment(raw).rstrip()
        if not line.strip():
            continue
        if line in ("---", "...") or line.startswith("--- "):
            documents.append({})
            key = base = None
            continue
        current = documents[-1]
        if not line.startswith((" ", "\t", "-")):
            name, _, rest = line.partition(":")
            key, base = _scalar(name.strip()) or "", None
            rest = rest.strip()
            current[key] = _flow(rest) if rest else None
            continue
        if key is None:
            continue
        if base is None:
            base = _indent(line)
        if _indent(line) > base:
            continue  # nested deeper: not read
        item = line.strip()
        block = current.get(key)
        if item.startswith("- ") or item == "-":
            if block is None:
                block = current[key] = []
            if isinstance(block, list):
                block.append(_flow(item[1:].strip()))
        elif ":" in item:
            if block is None:
                block = current[key] = {}
            if isinstance(block, dict):
                name, _, rest = item.partition(":")
                block[_scalar(name.strip()) or ""] = _flow(rest.strip())
    return [d for d in documents if d]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _strip_comment(line: str) -> str:
    """A `#` starts a comment at the line's start or after a space, outside quotes."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _split_flow(inner: str) -> list[str]:
    parts, depth, quote, start = [], 0, None, 0
    for i, char in enumerate(inner):
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    return [p.strip() for p in parts if p.strip()]


def _flow(text: str) -> Any:
    if text.startswith("{") and text.endswith("}"):
        found: dict[str, Any] = {}
        for part in _split_flow(text[1:-1]):
            name, _, rest = part.partition(":")
            found[_scalar(name.strip()) or ""] = _scalar(rest.strip())
        return found
    if text.startswith("[") and text.endswith("]"):
        return [_scalar(p) for p in _split_flow(text[1:-1])]
    return _scalar(text)


def _scalar(text: str) -> str | None:
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    return text


def write_fresh_node_files(root: Path) -> None:
    """A fresh MicroK8s is a one-node HA-capable cluster whose dqlite listens on 127.0.0.1 only."""
    data = root / SNAP_DATA
    (data / "var/lock").mkdir(parents=True, exist_ok=True)
    (root / HA_LOCK).touch()
    backend = data / "var/kubernetes/backend"
    backend.mkdir(parents=True, exist_ok=True)
    (backend / "cluster.yaml").write_text("- Address: 127.0.0.1:19001\n  ID: 1\n  Role: 0\n")


# --- status ----------------------------------------------------------------------------------

def status_parser() -> argparse.ArgumentParser:
    """status.py's parser (the choices are a set there: their order in the usage varies)."""
    parser = argparse.ArgumentParser(description="Microk8s cluster status check.", prog="microk8s status")
    parser.add_argument("--format", help="print cluster and addon status, output can be in yaml, pretty or short",
                        default="pretty", choices=("pretty", "yaml", "short"))
    parser.add_argument("-w", "--wait-ready", action="store_true", help="wait until the cluster is in ready state")
    parser.add_argument("-t", "--timeout", help="specify a timeout in seconds when waiting for the cluster to be ready.",
                        type=int, default=0)
    parser.add_argument("-a", "--addon", help="check the status of an addon.", default="all")
    parser.add_argument("--yaml", action="store_true", help="DEPRECATED, use '--format yaml' instead")
    return parser


def status(ctx: Context, args: list[str]) -> int:
    if is_worker(ctx):
        ctx.out("This MicroK8s deployment is acting as a node in a cluster.\nPlease use the control plane node.")
        return 0
    options = status_parser().parse_args(args)  # exits 2 with argparse's usage and message
    ready = wait_for_ready(ctx, options.timeout) if options.wait_ready else st.is_ready(ctx.read(), ctx.instance_id)
    s = ctx.read()
    node = s["nodes"][ctx.instance_id]
    available = addon_sim.available(s, ctx)
    enabled_names = set(s["addons"].get(node["cluster"], [])) if ready else set()
    if options.addon != "all":
        chosen = addon_sim.by_name(available, options.addon)
        ctx.out("enabled" if any(a["name"] in enabled_names for a in chosen) else "disabled")
        return 0 if ready else 1
    enabled = [a for a in available if a["name"] in enabled_names]
    disabled = [a for a in available if a["name"] not in enabled_names]
    if options.format == "yaml":
        print_yaml(ctx, s, ready, enabled, disabled)
    elif options.format == "short" or options.yaml:
        print_short(ctx, ready, enabled, disabled, as_yaml=options.yaml and options.format != "short")
    else:
        print_pretty(ctx, s, ready, enabled, disabled)
    return 0 if ready else 1


def wait_for_ready(ctx: Context, timeout: int) -> bool:
    """common/utils.py wait_for_ready: no timeout (0) waits for ever; the simulated wait is
    scaled by time_scale like every latency."""
    s = ctx.read()
    deadline = time.time() + timeout * s["time_scale"]
    while not st.is_ready(s, ctx.instance_id):
        if timeout and time.time() >= deadline:
            return False
        time.sleep(0.05)
        s = ctx.read()
    return True


NOT_RUNNING = "microk8s is not running. Use microk8s inspect for a deeper inspection."


def dqlite_info(s: dict[str, Any], cluster: str) -> list[tuple[str, str]]:
    """get_dqlite_info: (address, voter|standby|spare) of the cluster's dqlite members."""
    roles = dqlite_roles(s, cluster)
    if len(roles) <= 1:
        return [("127.0.0.1:19001", "voter")]
    return [(f"{n['private_ip']}:19001", role) for _, n, role in roles]


def print_pretty(ctx: Context, s: dict[str, Any], ready: bool, enabled: list[dict[str, Any]],
                 disabled: list[dict[str, Any]]) -> None:
    if not ready:
        ctx.out(NOT_RUNNING)
        return
    info = dqlite_info(s, s["nodes"][ctx.instance_id]["cluster"])
    voters = [a for a, role in info if role == "voter"]
    standby = [a for a, role in info if role == "standby"]
    lines = ["microk8s is running", f"high-availability: {'yes' if len(voters) > 2 else 'no'}",
             f"  datastore master nodes: {' '.join(voters) or 'none'}",
             f"  datastore standby nodes: {' '.join(standby) or 'none'}", "addons:"]
    for title, group in (("enabled", enabled), ("disabled", disabled)):
        if group:
            lines.append(f"  {title}:")
            lines += ["{:>3} {:<20} # ({}) {}".format("", a["name"], a["repository"], a["description"]) for a in group]
    ctx.out("\n".join(lines))


def print_short(ctx: Context, ready: bool, enabled: list[dict[str, Any]], disabled: list[dict[str, Any]],
                as_yaml: bool) -> None:
    if as_yaml:
        lines = ["microk8s:", f"  running: {ready}"]
        if ready:
            lines.append("addons:")
            lines += [f"  {a['repository']}/{a['name']}: enabled" for a in enabled]
            lines += [f"  {a['repository']}/{a['name']}: disabled" for a in disabled]
        else:
            lines.append(f"  message: {NOT_RUNNING}")
        ctx.out("\n".join(lines))
        return
    if not ready:
        ctx.out(NOT_RUNNING)
        return
    lines = ["microk8s is running", "addons:"]
    lines += [f"{a['repository']}/{a['name']}: enabled" for a in enabled]
    lines += [f"{a['repository']}/{a['name']}: disabled" for a in disabled]
    ctx.out("\n".join(lines))


def print_yaml(ctx: Context, s: dict[str, Any], ready: bool, enabled: list[dict[str, Any]],
               disabled: list[dict[str, Any]]) -> None:
    lines = ["microk8s:", f"  running: {ready}", "high-availability:", "  enabled: True", "  nodes:"]
    for address, role in dqlite_info(s, s["nodes"][ctx.instance_id]["cluster"]):
        lines += [f"    - address: {address}", f"      role: {role}"]
    if ready:
        lines.append("addons:")
        for group, state in ((enabled, "enabled"), (disabled, "disabled")):
            for a in group:
                lines += [f"  - name: {a['name']}", f"    repository: {a['repository']}",
                          f"    description: {a['description']}", f"    version: {a['version']}", f"    status: {state}"]
    else:
        lines.append(f"  message: {NOT_RUNNING}")
    ctx.out("\n".join(lines))


# --- add-node --------------------------------------------------------------------------------

def add_node_parser() -> argparse.ArgumentParser:
    """add_token.py's parser."""
    parser = argparse.ArgumentParser(description="Produce a connection string for a node to join the cluster.",
                                     prog="microk8s add-node")
    parser.add_argument("--token-ttl", "-l", help='Specify how long the token is valid, before it expires. Value of '
                        '"-1" indicates that the token is usable only once (i.e. after joining a node, the token '
                        "becomes invalid)", type=int, default="-1")
    parser.add_argument("--token", "-t", help="Specify the bootstrap token to add, must be 32 characters long. "
                        "Auto generates when empty.")
    parser.add_argument("--format", help="Format the output of the token in pretty, short, token, or token-check",
                        default="pretty", choices=("pretty", "short", "token", "token-check", "json", "yaml"))
    return parser


def add_node(ctx: Context, args: list[str]) -> int:
    if is_worker(ctx):
        ctx.out("This MicroK8s deployment is acting as a node in a cluster. Please use the microk8s add-node on the master.")
        return 1
    parser = add_node_parser()
    if "help" in " ".join(args):  # the wrapper: `echo "$*" | grep -q -- 'help'`
        parser.print_help()
        return 0
    options = parser.parse_args(args)  # exits 2 with argparse's usage and message
    token = options.token if options.token is not None else secrets.token_hex(16)
    if len(token) < TOKEN_MIN_LEN:
        ctx.out("Invalid token size.  It must be 32 characters long.")
        return 1
    ttl = options.token_ttl
    with ctx.lock() as s:
        s["tokens"].append({
            "node": ctx.instance_id,
            "sha256": token_hash(token),
            "expires": time.time() + ttl if ttl != -1 else None,
            "single_use": ttl == -1,
        })
        ip = s["nodes"][ctx.instance_id]["private_ip"]
    check = server_cert_check(ctx.root)
    # Like MicroK8s, add-node prints the token: the join script must keep this to itself.
    join = f"{ip}:25000/{token}/{check}"
    if options.format == "pretty":
        ctx.out("From the node you wish to join to this cluster, run the following:")
        ctx.out(f"microk8s join {join}\n")
        ctx.out("Use the '--worker' flag to join a node as a worker not running the control plane, eg:")
        ctx.out(f"microk8s join {join} --worker\n")
        ctx.out("If the node you are adding is not reachable through the default interface you can use one of the following:")
        ctx.out(f"microk8s join {join}")
    elif options.format == "short":
        ctx.out(f"microk8s join {join}")
    elif options.format == "token-check":
        ctx.out(f"{token}/{check}")
    elif options.format in ("json", "yaml"):
        info = {"token": f"{token}/{check}", "urls": [join]}
        ctx.out(json.dumps(info, indent=2) if options.format == "json"
                else f"token: {token}/{check}\nurls:\n- {join}\n")
    else:
        ctx.out(token)
    return 0


def server_cert_check(root: Path) -> str:
    """utils.sh server_cert_check: the first 12 hex digits of the SHA-256 of server.crt (DER)."""
    try:
        pem = (root / SERVER_CERT).read_text()
    except FileNotFoundError:
        return hashlib.sha256(str(root).encode()).hexdigest()[:12]
    body = "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))
    return hashlib.sha256(base64.b64decode(body)).hexdigest()[:12]


# --- click 7.0, as join, enable and disable use it ---------------------------------------------

class ClickUsage(Exception):
    """click's UsageError: usage, the help hint, `Error: <message>` on stderr, exit 2."""


def click_parse(args: list[str], flags: dict[str, tuple[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """click 7.0's OptionParser with ignore_unknown_options and interspersed arguments: flags set
    their destination; an unknown option stays an argument; `--` ends the options. -h/--help
    raise HelpRequested."""
    values: dict[str, Any] = {}
    arguments: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            arguments += rest
            break
        if arg in ("-h", "--help"):
            raise HelpRequested()
        name, eq, _ = arg.partition("=")
        if name in flags:
            if eq:
                raise ClickUsage(f"{name} option does not take a value")
            dest, value = flags[name]
            values[dest] = value
            continue
        arguments.append(arg)  # ignore_unknown_options: an unknown option is an argument
    return values, arguments


class HelpRequested(Exception):
    """click's -h/--help: the command's help on stdout, exit 0."""


def click_fail(ctx: Context, prog: str, usage: str, message: str) -> int:
    ctx.error(f"Usage: {prog} [OPTIONS] {usage}\nTry \"{prog} -h\" for help.\n\nError: {message}", 2)
    return 2


def extra_arguments(extra: list[str]) -> str:
    """click 7.0 core.py Command.parse_args."""
    return f"Got unexpected extra argument{'s' if len(extra) != 1 else ''} ({' '.join(extra)})"


# --- join ------------------------------------------------------------------------------------

JOIN_FLAGS = {"--worker": ("worker", "as-worker"), "--controlplane": ("worker", "as-master"),
              "--skip-verify": ("skip_verify", True), "--disable-low-memory-guard": ("disable_low_memory_guard", True)}


class JoinRefused(Exception):
    """A join the cluster agent (or the network) refuses; the message is MicroK8s-like."""

    def __init__(self, message: str, code: int = 6) -> None:
        super().__init__(message)
        self.code = code


def resolves(hosts_file: Path, name: str) -> set[str]:
    """The addresses /etc/hosts gives for `name` (the master resolves the joining hostname)."""
    found: set[str] = set()
    if not hosts_file.is_file():
        return found
    for line in hosts_file.read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and name in (f.lower() for f in fields[1:]):
            found.add(fields[0])
    return found


def connection_parts(connection: str) -> list[str]:
    """common/cluster/utils.py get_valid_connection_parts; raises ValueError("message")."""
    parts = connection.split("/")
    expected = "Expected format: <master_IP>:<master_PORT>/<token>[/<fingerprint>]"
    if len(parts) not in (2, 3):
        raise ValueError(expected)
    endpoint = parts[0].split(":")
    if len(endpoint) != 2:
        raise ValueError(expected)
    if not re.fullmatch(r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}", endpoint[0]):
        raise ValueError("Invalid master IP")
    if not re.fullmatch(r"[+-]?[0-9]+", endpoint[1].strip()):
        raise ValueError("Master PORT not a number")
    if not 1 <= int(endpoint[1]) <= 65535:
        raise ValueError("Master PORT not in range 1:65535")
    if len(parts[1]) < TOKEN_MIN_LEN:
        raise ValueError(f"Cluster token size should be at least {TOKEN_MIN_LEN} bytes")
    if len(parts) == 3 and len(parts[2]) < FINGERPRINT_MIN_LEN:
        raise ValueError(f"Fingerprint should be at least {FINGERPRINT_MIN_LEN} bytes")
    return parts


def check_join(s: dict[str, Any], me_id: str, hostname: str, addr: str, port: int,
               token: str, fingerprint: str | None) -> tuple[str, dict[str, Any]]:
    """Every rule of a join, in the order the agent meets them; returns the target master."""
    me = s["nodes"][me_id]
    others = [i for i, n in s["nodes"].items() if n["cluster"] == me["cluster"] and i != me_id]
    if me["cluster"] != me_id or others:
        raise JoinRefused("Connection failed. This node is already part of a cluster. Use 'microk8s leave' first (400).")
    found = st.node_by_ip(s, addr)
    if found is None or port != st.AGENT_PORT or not st.reachable(s, me_id, found[0], "tcp", st.AGENT_PORT):
        # Nothing answers (no such node, it is down, or a security group drops the packets):
        # the request times out.
        raise JoinRefused(f"Connection failed. Timeout connecting to {addr}:{port} (is the port open?).", 1)
    target_id, target = found
    target_is_worker = (Path(target["root"]) / CLUSTERED_LOCK).is_file()
    if target_id == me_id or not target["installed"] or target["role"] != "control-plane" \
            or target_is_worker:
        raise JoinRefused(f"Connection failed. Connection refused by {addr}:{port} "
                          "(no MicroK8s control plane there).", 1)
    if fingerprint and not server_cert_check(Path(target["root"])).startswith(fingerprint):
        raise JoinRefused(f"Joining cluster failed. Could not verify the identity of {addr}. "
                          "Use '--skip-verify' to skip server certificate check.", 4)
    now, digest, valid = time.time(), token_hash(token), False
    kept = []
    for t in s["tokens"]:
        expired = t["expires"] is not None and now >= t["expires"]
        if t["node"] == target_id and t["sha256"] == digest and not valid:
            valid = not expired
            if t["single_use"]:
                continue  # consumed by this attempt, whatever happens next
        if not expired:
            kept.append(t)
    s["tokens"] = kept
    if not valid:
        raise JoinRefused("Connection failed. Invalid token (500).")
    if me["private_ip"] not in resolves(Path(target["root"]) / "etc/hosts", hostname):
        raise JoinRefused(f"Connection failed. The hostname ({hostname}) of the joining node does "
                          f"not resolve to the IP \"{me['private_ip']}\". Refusing join (400).")
    if me["channel"] != target["channel"]:
        raise JoinRefused(f"Connection failed. Version skew: this node runs MicroK8s "
                          f"{me['channel']}, the cluster {target['channel']}. Refusing join (400).")
    return target_id, target


def write_dqlite_cluster(control: list[dict[str, Any]]) -> None:
    """Every control-plane node's cluster.yaml: the members in join order, with their roles
    (0 voter, 1 standby, 2 spare)."""
    body = "".join(f"- Address: {n['private_ip']}:19001\n  ID: {k + 1}\n"
                   f"  Role: {0 if k < VOTERS else 1 if k < VOTERS + STANDBYS else 2}\n"
                   for k, n in enumerate(control))
    for n in control:
        path = Path(n["root"]) / DQLITE_CLUSTER
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)


def claim_dqlite_change(s: dict[str, Any], cluster: str) -> None:
    """dqlite takes one membership change at a time: a control-plane join while another is in
    flight is refused (the join script retries; mec sends control-plane joins one at a time)."""
    changes = s.setdefault("dqlite_changes", {})
    until = changes.get(cluster)
    if until is not None and time.time() < until:
        raise JoinRefused("Connection failed. Another node is joining the datastore; a dqlite "
                          "membership change is in progress (503).")
    changes[cluster] = time.time() + 60.0 * s["time_scale"] + s["latency"]["join_seconds"] * s["time_scale"]


def join(ctx: Context, args: list[str]) -> int:
    prog = "microk8s join"
    try:
        options, arguments = click_parse(args, JOIN_FLAGS)
    except HelpRequested:
        ctx.out(f"Usage: {prog} [OPTIONS] CONNECTION\n\n  Join the node to a cluster\n\n  CONNECTION: the cluster "
                "connection endpoint in format <master>:<port>/<token>\n\nOptions:\n  --worker                    "
                "Join as a worker only node.\n  --controlplane              Join running the control plane on HA "
                "clusters. (default)\n  --skip-verify               Skip the certificate verification of the node "
                "we are joining to. (default: false)\n  --disable-low-memory-guard  Disable the low memory guard. "
                "(default: false)\n  -h, --help                  Show this message and exit.")
        return 0
    except ClickUsage as e:
        return click_fail(ctx, prog, "CONNECTION", str(e))
    if not arguments:
        return click_fail(ctx, prog, "CONNECTION", 'Missing argument "CONNECTION".')
    if len(arguments) > 1:
        return click_fail(ctx, prog, "CONNECTION", extra_arguments(arguments[1:]))
    try:
        parts = connection_parts(arguments[0])
    except ValueError as e:
        ctx.out(f"Invalid connection: {e}")
        return 1
    worker = options.get("worker") == "as-worker"
    fingerprint = parts[2] if len(parts) == 3 and not options.get("skip_verify") else None
    addr, port = parts[0].split(":")
    ctx.out(f"Contacting cluster at {addr}")
    hostname = ctx.hostname()
    with ctx.lock() as s:
        # Caught inside the lock: a refused join still writes the state (a consumed token).
        try:
            target_id, _ = check_join(s, ctx.instance_id, hostname, addr, int(port), parts[1], fingerprint)
            if not worker:
                claim_dqlite_change(s, s["nodes"][target_id]["cluster"])
        except JoinRefused as e:
            refused: JoinRefused | None = e
        else:
            refused = None
        delay = s["latency"]["join_seconds"] * s["time_scale"]
    if refused is not None:
        ctx.out(str(refused))
        return refused.code
    scaled_sleep(delay)
    with ctx.lock() as s:
        if not worker:
            s.setdefault("dqlite_changes", {}).pop(s["nodes"][target_id]["cluster"], None)
        me = s["nodes"][ctx.instance_id]
        s["addons"].pop(me["cluster"], None)  # its own one-node cluster is gone
        s.get("calico", {}).pop(me["cluster"], None)
        me["cluster"] = s["nodes"][target_id]["cluster"]
        me["role"] = "worker" if worker else "control-plane"
        me["joined_at"] = time.time()
        # update_dqlite: the joiner's k8s-dqlite joins through the leader over 19001.
        _, leader, _ = dqlite_view(s, me["cluster"])
        in_datastore = not worker and leader is not None and dqlite_linked(s, ctx.instance_id, leader)
        if in_datastore:
            me["dqlite_member"] = True
        if not worker:
            # Under the lock: a later joiner's list must not be overwritten by this one's.
            write_dqlite_cluster(dqlite_members(s, me["cluster"]))
        target_root = Path(s["nodes"][target_id]["root"])
        time_scale = s["time_scale"]
        my_ips = [me["private_ip"], *me.get("extra_sans", [])]
    from . import pki

    if worker:
        lock = ctx.root / CLUSTERED_LOCK
        lock.parent.mkdir(parents=True, exist_ok=True)
        lock.touch()
        (ctx.root / DQLITE_CLUSTER).unlink(missing_ok=True)
        pki.store_remote_ca(ctx.root, target_root)
        ctx.out("\nThe node has joined the cluster and will appear in the nodes list in a few seconds.\n\n"
                "This worker node gets automatically configured with the API server endpoints.\n"
                "If the API servers are behind a loadbalancer please set the '--refresh-interval' to '0s' in:\n"
                "    /var/snap/microk8s/current/args/apiserver-proxy\n"
                "and replace the API server endpoints with the one provided by the loadbalancer in:\n"
                "    /var/snap/microk8s/current/args/traefik/provider.yaml\n")
    else:
        pki.adopt_cluster_ca(ctx.root, target_root, my_ips)
        if in_datastore:
            ctx.out("Waiting for this node to finish joining the cluster. .. .. ..")
        else:
            # update_dqlite waits ten times for the node to appear in the datastore (a 4 s
            # query, then 2 s), then goes on: the join still ends well, the node has no datastore.
            scaled_sleep(60.0 * time_scale)
            ctx.out("Waiting for this node to finish joining the cluster. " + " ".join([".."] * 10) + " ")
    ctx.out("Successfully joined the cluster.")
    return 0


# --- kubectl, config, enable, disable, helm3 -----------------------------------------------------

def api_available(ctx: Context) -> dict[str, Any] | None:
    """The state when this node serves the API, after printing kubectl's error otherwise."""
    s = ctx.read()
    if not st.is_ready(s, ctx.instance_id):
        ctx.error(REFUSED)
        return None
    return s


def node_object(s: dict[str, Any], instance_id: str, now: float) -> dict[str, Any]:
    n = s["nodes"][instance_id]
    role = "microk8s-worker" if n["role"] == "worker" else "microk8s-controlplane"
    ready = ready_in_cluster(s, instance_id, now)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": n["node_name"],
            "labels": {
                "kubernetes.io/hostname": n["node_name"],
                "kubernetes.io/os": "linux",
                "microk8s.io/cluster": "true",
                f"node.kubernetes.io/{role}": role,
            },
        },
        "spec": {"providerID": f"aws:///{instance_id}"},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": n["private_ip"]},
                {"type": "Hostname", "address": n["node_name"]},
            ],
            "conditions": [{
                "type": "Ready",
                "status": "True" if ready else "Unknown",
                "reason": "KubeletReady" if ready else "NodeStatusUnknown",
            }],
            "nodeInfo": {"kubeletVersion": f"v{n['channel'].split('/')[0]}.0"},
        },
    }


def kubectl(ctx: Context, args: list[str]) -> int:
    if is_worker(ctx):
        ctx.out("This MicroK8s deployment is acting as a node in a cluster. Please use the "
                "microk8s kubectl on the master.")
        return 0
    s = api_available(ctx)
    if s is None:
        return 1
    if args[:2] == ["get", "--raw"] and len(args) == 3 and NODE_PROXY.match(args[2]):
        return node_proxy(ctx, s, args[2])
    if pods.handles(args):
        return pods.kubectl(ctx, s, args)
    if args[:2] not in (["get", "nodes"], ["get", "node"], ["get", "no"]):
        return addon_sim.kubectl(ctx, s, args)
    now = time.time()
    cluster = s["nodes"][ctx.instance_id]["cluster"]
    items = [node_object(s, i, now) for i, _ in members(s, cluster)]
    if args[2:] == ["-o", "json"]:
        ctx.out(json.dumps({"apiVersion": "v1", "kind": "List", "items": items,
                            "metadata": {"resourceVersion": ""}}, indent=4))
        return 0
    if args[2:]:
        return ctx.error(f"nodesim: kubectl {' '.join(args)} is not simulated")
    ctx.out(f"{'NAME':<24} {'STATUS':<9} {'ROLES':<7} VERSION")
    for item in items:
        ready = item["status"]["conditions"][0]["status"] == "True"
        kubelet = item["status"]["nodeInfo"]["kubeletVersion"]
        ctx.out(f"{item['metadata']['name']:<24} {'Ready' if ready else 'NotReady':<9} "
                f"{'<none>':<7} {kubelet}")
    return 0


# The API server's node proxy: /api/v1/nodes/<name>[:<port>]/proxy/<path>, served by dialling
# the node's kubelet (tcp 10250).
NODE_PROXY = re.compile(r"^/api/v1/nodes/([^/:]+)(?::[0-9]+)?/proxy(/.*)?$")


def node_proxy(ctx: Context, s: dict[str, Any], path: str) -> int:
    """`kubectl get --raw /api/v1/nodes/NAME/proxy/healthz`: this node's API server dials the
    named node's kubelet on tcp 10250. When the dial fails the proxy answers 503
    (k8s.io/apimachinery pkg/util/proxy/transport.go: NewServiceUnavailable("error trying to
    reach service: " + the dial error)) and kubectl prints it as `Error from server
    (ServiceUnavailable): ...`; a dropped packet is Go's `dial tcp ADDR: i/o timeout`."""
    match = NODE_PROXY.match(path)
    assert match is not None
    name, rest = match.group(1), match.group(2) or "/"
    cluster = s["nodes"][ctx.instance_id]["cluster"]
    found = [(i, n) for i, n in members(s, cluster) if n["node_name"] == name]
    if not found:
        return ctx.error(f'Error from server (NotFound): nodes "{name}" not found')
    target_id, target = found[0]
    if not st.reachable(s, ctx.instance_id, target_id, "tcp", st.KUBELET_PORT):
        return ctx.error("Error from server (ServiceUnavailable): error trying to reach service: "
                         f"dial tcp {target['private_ip']}:{st.KUBELET_PORT}: i/o timeout")
    if rest == "/healthz":
        ctx.out("ok")
        return 0
    return ctx.error(f"nodesim: kubelet path {rest} is not simulated")


CONFIG_HELP = ("Usage: microk8s config [OPTIONS]\n\nRetrieve the client config, similar to microk8s kubectl config "
               "view --raw\n\nOptions:\n -h, --help          Show this help\n -l, --use-loopback  Report the cluster "
               "address using the loopback address\n                     (127.0.0.1) rather than the default "
               "interface address")


def getopt_long(name: str, args: list[str], short: str, longs: dict[str, bool]) -> list[tuple[str, str | None]]:
    """getopt(1) in its default (permuting) mode: the options found, in order, as (option,
    value); non-options are skipped (the wrapper ignores them). `short` is getopt's optstring,
    `longs` maps a long option to whether it takes a value. Raises ValueError(getopt's message,
    which starts with `name`: the wrapper passes its first argument as --name)."""
    found: list[tuple[str, str | None]] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            break
        if arg.startswith("--"):
            key, eq, value = arg[2:].partition("=")
            matches = [l for l in longs if l.startswith(key)]
            exact = [l for l in matches if l == key]
            if exact:
                matches = exact
            if not matches:
                raise ValueError(f"{name}: unrecognized option '--{key}'")
            if len(matches) > 1:
                raise ValueError(f"{name}: option '--{key}' is ambiguous; possibilities:" + "".join(f" '--{m}'" for m in matches))
            option = matches[0]
            if not longs[option] and eq:
                raise ValueError(f"{name}: option '--{option}' doesn't allow an argument")
            if longs[option] and not eq:
                if not rest:
                    raise ValueError(f"{name}: option '--{option}' requires an argument")
                value = rest.pop(0)
            found.append((f"--{option}", value if longs[option] else None))
        elif arg.startswith("-") and len(arg) > 1:
            letters = arg[1:]
            while letters:
                letter, letters = letters[0], letters[1:]
                position = short.find(letter)
                if position < 0 or letter == ":":
                    raise ValueError(f"{name}: invalid option -- '{letter}'")
                if short[position + 1:position + 2] == ":":
                    value = letters or (rest.pop(0) if rest else None)
                    if value is None:
                        raise ValueError(f"{name}: option requires an argument -- '{letter}'")
                    found.append((f"-{letter}", value))
                    break
                found.append((f"-{letter}", None))
    return found


def config(ctx: Context, args: list[str]) -> int:
    """microk8s-config.wrapper: getopt --options=lho: --longoptions=use-loopback,help,output:
    --name "$@" (so getopt's messages start with the first argument; with several arguments the
    real wrapper's getopt line misparses them, which is not reproduced)."""
    if is_worker(ctx):
        ctx.out("This MicroK8s deployment is acting as a node in a cluster. Please use the microk8s config on the master.")
        return 0
    try:
        options = getopt_long(args[0] if args else "--", args, "lho:",
                              {"use-loopback": False, "help": False, "output": True})
    except ValueError as e:
        ctx.error(str(e))
        return 1  # the failed $(getopt ...) under `set -eu`
    loopback = False
    for option, _ in options:
        if option in ("-h", "--help"):
            ctx.out(CONFIG_HELP)
            return 0
        if option in ("-l", "--use-loopback"):
            loopback = True
    if api_available(ctx) is None:
        return 1
    text = (ctx.root / CLIENT_CONFIG).read_text()
    if not loopback:
        ip = ctx.read()["nodes"][ctx.instance_id]["private_ip"]  # get_default_ip
        text = text.replace("127.0.0.1", ip)
    sys.stdout.write(text + "\n")  # cat (or sed), then "$SNAP/bin/echo"
    sys.stdout.flush()
    return 0


def xable(ctx: Context, action: str, args: list[str]) -> int:
    """enable.py / disable.py: click (ADDONS... required), then common/utils.py xable."""
    prog = f"microk8s {action}"
    try:
        _, addons = click_parse(args, {})
    except HelpRequested:
        ctx.out(f"Usage: {prog} [OPTIONS] ADDONS...\n\n  {'Enable a MicroK8s addon' if action == 'enable' else 'Disable one or more MicroK8s addons'}.\n\n"
                "  For a list of available addons, run `microk8s status`.\n\nOptions:\n  -h, --help  Show this message and exit.")
        return 0
    if not addons:
        return click_fail(ctx, prog, "ADDONS...", 'Missing argument "ADDONS...".')
    if addons[0] in ("-h", "--help") or any(a in ("-h", "--help") for a in addons):
        ctx.out(f"Addon {addons[0]} does not yet have a help message.\n"
                "For more information about it, visit https://microk8s.io/docs/addons")
        return 0
    if is_worker(ctx):
        ctx.out(CLUSTER_LOCKED)
        return 1
    if api_available(ctx) is None:
        return 1
    return addon_sim.xable(ctx, action, addons)


def enable(ctx: Context, args: list[str]) -> int:
    return xable(ctx, "enable", args)


def disable(ctx: Context, args: list[str]) -> int:
    return xable(ctx, "disable", args)


def helm3(ctx: Context, args: list[str]) -> int:
    if is_worker(ctx):
        ctx.out("This MicroK8s deployment is acting as a node in a cluster. Please use the microk8s helm on the master.")
        return 0
    if api_available(ctx) is None:
        return 1
    return addon_sim.helm3(ctx, args)


HANDLERS = {
    "status": status,
    "add-node": add_node,
    "join": join,
    "kubectl": kubectl,
    "config": config,
    "enable": enable,
    "disable": disable,
    "helm3": helm3,
    "version": version,
}
