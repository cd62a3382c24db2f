"""The `microk8s` stand-in: status, add-node, join, kubectl get nodes, config, enable.

The rules are MicroK8s' own (see shared/research/microk8s.md): 32-character tokens, single-use
without a TTL and consumed even by a failed join, joins only through port 25000 of a
control-plane node, the joining hostname must resolve on that node, one channel everywhere.
Workers get `var/lock/clustered.lock`, control-plane joiners a dqlite `cluster.yaml` listing every
control-plane address: the files the join script checks for "already joined".
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import string
import time
from pathlib import Path
from typing import Any

from . import state as st
from .context import Context, scaled_sleep

SNAP_DATA = "var/snap/microk8s/current"
CLUSTERED_LOCK = f"{SNAP_DATA}/var/lock/clustered.lock"
DQLITE_CLUSTER = f"{SNAP_DATA}/var/kubernetes/backend/cluster.yaml"
JOIN_STRING = re.compile(r"^([^:/]+):([0-9]+)/([^/]*)(/[0-9a-f]*)?$")
KNOWN_ADDONS = {
    "community", "dashboard", "dns", "ha-cluster", "helm", "helm3", "hostpath-storage",
    "ingress", "mayastor", "metallb", "metrics-server", "observability", "rbac", "registry",
    "storage",
}
WORKER_LOCKED = ("This MicroK8s deployment is acting as a node in a cluster.\n"
                 "Please use the master node.")
REFUSED = ("The connection to the server 127.0.0.1:16443 was refused - did you specify the "
           "right host or port?")


def token_hash(token: str) -> str:
    """The state keeps hashes: the token itself is never written anywhere by the simulator."""
    return hashlib.sha256(token.encode()).hexdigest()


def main(ctx: Context, args: list[str]) -> int:
    if not args:
        return ctx.error("Usage: microk8s [command]")
    command, rest = args[0], args[1:]
    handlers = {
        "status": status,
        "add-node": add_node,
        "join": join,
        "kubectl": kubectl,
        "config": config,
        "enable": enable,
        "version": version,
    }
    handler = handlers.get(command)
    if handler is None:
        return ctx.error(f"'{command}' is not a valid MicroK8s subcommand.")
    if not ctx.read()["nodes"][ctx.instance_id]["installed"]:
        return ctx.error("microk8s: command not found", 127)
    return handler(ctx, rest)


def version(ctx: Context, args: list[str]) -> int:
    channel = ctx.read()["nodes"][ctx.instance_id]["channel"]
    ctx.out(f"MicroK8s v{channel.split('/')[0]}.0 revision 7964")
    return 0


def is_worker(ctx: Context) -> bool:
    return (ctx.root / CLUSTERED_LOCK).is_file()


def members(state: dict[str, Any], cluster: str) -> list[tuple[str, dict[str, Any]]]:
    return sorted(
        ((i, n) for i, n in state["nodes"].items() if n["installed"] and n["cluster"] == cluster),
        key=lambda item: item[1]["node_name"] or "",
    )


# --- status ----------------------------------------------------------------------------------

def status(ctx: Context, args: list[str]) -> int:
    if is_worker(ctx):
        ctx.out(WORKER_LOCKED)
        return 1
    wait = "--wait-ready" in args
    timeout = 0.0
    if "--timeout" in args:
        timeout = float(args[args.index("--timeout") + 1])
    s = ctx.read()
    deadline = time.time() + timeout * s["time_scale"]
    while not st.is_ready(s, ctx.instance_id):
        if not wait or (timeout and time.time() >= deadline):
            ctx.out("microk8s is not running. Use microk8s inspect for a deeper inspection.")
            return 1
        time.sleep(0.05)
        s = ctx.read()
    node = s["nodes"][ctx.instance_id]
    control = [n for _, n in members(s, node["cluster"]) if n["role"] == "control-plane"]
    addresses = " ".join(f"{n['private_ip']}:19001" for n in control) if len(control) > 1 \
        else "127.0.0.1:19001"
    ctx.out("microk8s is running")
    ctx.out(f"high-availability: {'yes' if len(control) >= 3 else 'no'}")
    ctx.out(f"  datastore master nodes: {addresses}\n  datastore standby nodes: none")
    ctx.out("addons:\n  enabled:")
    for addon in sorted(s["addons"].get(node["cluster"], [])):
        ctx.out(f"    {addon}")
    return 0


# --- add-node --------------------------------------------------------------------------------

def add_node(ctx: Context, args: list[str]) -> int:
    token, ttl = None, None
    i = 0
    while i < len(args):
        if args[i] in ("--token", "-t") and i + 1 < len(args):
            token, i = args[i + 1], i + 2
        elif args[i] in ("--token-ttl", "-l") and i + 1 < len(args):
            ttl, i = int(args[i + 1]), i + 2
        else:
            return ctx.error(f"Error: No such option: {args[i]}")
    if is_worker(ctx):
        ctx.out(WORKER_LOCKED)
        return 1
    if token is None:
        token = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    if len(token) != 32:
        return ctx.error("Invalid token size.  It must be 32 characters long.")
    with ctx.lock() as s:
        s["tokens"].append({
            "node": ctx.instance_id,
            "sha256": token_hash(token),
            "expires": time.time() + ttl if ttl is not None else None,
            "single_use": ttl is None,
        })
        ip = s["nodes"][ctx.instance_id]["private_ip"]
    # Like MicroK8s, add-node prints the token: the join script must keep this to itself.
    join_string = f"{ip}:25000/{token}/{hashlib.sha256(ip.encode()).hexdigest()[:12]}"
    ctx.out("From the node you wish to join to this cluster, run the following:")
    ctx.out(f"microk8s join {join_string}\n")
    ctx.out("Use the '--worker' flag to join a node as a worker not running the control plane, eg:")
    ctx.out(f"microk8s join {join_string} --worker")
    return 0


# --- join ------------------------------------------------------------------------------------

class JoinRefused(Exception):
    """A join the cluster agent (or the network) refuses; the message is MicroK8s-like."""


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


def check_join(s: dict[str, Any], me_id: str, hostname: str, addr: str, port: int,
               token: str) -> tuple[str, dict[str, Any]]:
    """Every rule of a join, in the order the agent meets them; returns the target master."""
    me = s["nodes"][me_id]
    others = [i for i, n in s["nodes"].items() if n["cluster"] == me["cluster"] and i != me_id]
    if me["cluster"] != me_id or others:
        raise JoinRefused("This node is already part of a cluster. Use 'microk8s leave' first.")
    found = st.node_by_ip(s, addr)
    if found is None or port != st.AGENT_PORT or not st.port_open(s, me["private_ip"], addr, port):
        # Nothing answers (or a security group drops the packets): the request times out.
        raise JoinRefused(f"Connection failed. Timeout connecting to {addr}:{port} "
                          "(is the port open?).")
    target_id, target = found
    target_is_worker = (Path(target["root"]) / CLUSTERED_LOCK).is_file()
    if target_id == me_id or not target["installed"] or target["role"] != "control-plane" \
            or target_is_worker:
        raise JoinRefused(f"Connection failed. Connection refused by {addr}:{port} "
                          "(no MicroK8s control plane there).")
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


def join(ctx: Context, args: list[str]) -> int:
    positional = [a for a in args if not a.startswith("--")]
    worker = "--worker" in args
    if len(positional) != 1 or not JOIN_STRING.match(positional[0]):
        return ctx.error("Usage: microk8s join <master>:<port>/<token>[/<cert-hash>] [--worker]")
    addr, port, token, _ = JOIN_STRING.match(positional[0]).groups()  # type: ignore[union-attr]
    ctx.out(f"Contacting cluster at {addr}")
    hostname = ctx.hostname()
    with ctx.lock() as s:
        # Caught inside the lock: a refused join still writes the state (a consumed token).
        try:
            target_id, _ = check_join(s, ctx.instance_id, hostname, addr, int(port), token)
        except JoinRefused as e:
            refused = str(e)
        else:
            refused = ""
        delay = s["latency"]["join_seconds"] * s["time_scale"]
    if refused:
        return ctx.error(refused)
    scaled_sleep(delay)
    with ctx.lock() as s:
        me = s["nodes"][ctx.instance_id]
        s["addons"].pop(me["cluster"], None)  # its own one-node cluster is gone
        me["cluster"] = s["nodes"][target_id]["cluster"]
        me["role"] = "worker" if worker else "control-plane"
        me["joined_at"] = time.time()
        control = [n for _, n in members(s, me["cluster"]) if n["role"] == "control-plane"]
    if worker:
        lock = ctx.root / CLUSTERED_LOCK
        lock.parent.mkdir(parents=True, exist_ok=True)
        lock.touch()
        (ctx.root / DQLITE_CLUSTER).unlink(missing_ok=True)
        ctx.out("The node has joined the cluster and will appear in the nodes list in a few "
                "seconds.\n\nThis worker node gets automatically configured with the API server "
                "endpoints.")
    else:
        body = "".join(f"- Address: {n['private_ip']}:19001\n  ID: {k + 1}\n  Role: 0\n"
                       for k, n in enumerate(control))
        for n in control:
            path = Path(n["root"]) / DQLITE_CLUSTER
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body)
        ctx.out("Waiting for this node to finish joining the cluster. .. .. ..")
        ctx.out("Successfully joined the cluster.")
    return 0


# --- kubectl, config, enable -----------------------------------------------------------------

def api_available(ctx: Context) -> dict[str, Any] | None:
    """The state when this node serves the API, after printing kubectl's error otherwise."""
    if is_worker(ctx):
        ctx.out("This MicroK8s deployment is acting as a node in a cluster. Please use the "
                "microk8s kubectl on the master.")
        return None
    s = ctx.read()
    if not st.is_ready(s, ctx.instance_id):
        ctx.error(REFUSED)
        return None
    return s


def node_object(s: dict[str, Any], instance_id: str, now: float) -> dict[str, Any]:
    n = s["nodes"][instance_id]
    role = "microk8s-worker" if n["role"] == "worker" else "microk8s-controlplane"
    ready = st.is_ready(s, instance_id, now)
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
    if args[:2] not in (["get", "nodes"], ["get", "node"], ["get", "no"]):
        return ctx.error(f"nodesim: kubectl {' '.join(args)} is not simulated")
    s = api_available(ctx)
    if s is None:
        return 1
    now = time.time()
    cluster = s["nodes"][ctx.instance_id]["cluster"]
    items = [node_object(s, i, now) for i, _ in members(s, cluster)]
    if args[2:] == ["-o", "json"]:
        ctx.out(json.dumps({"apiVersion": "v1", "kind": "List", "items": items,
                            "metadata": {"resourceVersion": ""}}, indent=4))
        return 0
    ctx.out(f"{'NAME':<24} {'STATUS':<9} {'ROLES':<7} VERSION")
    for item in items:
        ready = item["status"]["conditions"][0]["status"] == "True"
        kubelet = item["status"]["nodeInfo"]["kubeletVersion"]
        ctx.out(f"{item['metadata']['name']:<24} {'Ready' if ready else 'NotReady':<9} "
                f"{'<none>':<7} {kubelet}")
    return 0


def config(ctx: Context, args: list[str]) -> int:
    if api_available(ctx) is None:
        return 1
    ctx.out("\n".join([
        "apiVersion: v1",
        "clusters:",
        "- cluster:",
        "    certificate-authority-data: TUVDLVNJTVVMQVRFRC1DQQo=",
        "    server: https://127.0.0.1:16443",
        "  name: microk8s-cluster",
        "contexts:",
        "- context:",
        "    cluster: microk8s-cluster",
        "    user: admin",
        "  name: microk8s",
        "current-context: microk8s",
        "kind: Config",
        "preferences: {}",
        "users:",
        "- name: admin",
        "  user:",
        f"    client-certificate-data: {secrets.token_hex(16)}",
        f"    client-key-data: {secrets.token_hex(16)}",
    ]))
    return 0


def enable(ctx: Context, args: list[str]) -> int:
    if not args:
        return ctx.error("Usage: microk8s enable ADDON...")
    if api_available(ctx) is None:
        return 1
    for addon in args:
        name = addon.split(":")[0]
        if name not in KNOWN_ADDONS:
            return ctx.error(f"Addon {name} was not found in any repository")
        with ctx.lock() as s:
            enabled = s["addons"].setdefault(s["nodes"][ctx.instance_id]["cluster"], [])
            if name in enabled:
                ctx.out(f"Addon {name} is already enabled")
                continue
            enabled.append(name)
            delay = s["latency"].get("addon_seconds", 0.0) * s["time_scale"]
        scaled_sleep(delay)
        ctx.out(f"Infer repository core for addon {name}\nEnabling {name}\n{name} is enabled")
    return 0
