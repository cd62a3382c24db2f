"""The simulated cluster state of one environment: one JSON file, locked with fcntl.

Nodes run their scripts in parallel and every `snap`/`microk8s` stand-in call is a separate
process, so all reads and writes go through `locked_state`, which holds an exclusive flock on a
sidecar lock file for the whole read-modify-write and replaces the JSON atomically.

Only standard library: the stand-ins import this module from the node's bash scripts.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

STATE_VERSION = 1
AGENT_PORT = 25000
API_PORT = 16443
KUBELET_PORT = 10250
DQLITE_PORT = 19001
VXLAN_PORT = 4789

# The flows between nodes the simulated cluster uses, and what for (MicroK8s docs, "Services and
# ports", microk8s.io/docs/services-and-ports: 16443 API server, 10250 kubelet, 25000
# cluster-agent, 19001 dqlite, 4789/udp "Calico networking with VXLAN enabled"). The world
# (world/network.py) decides each from the security groups; the state keeps the result.
FLOWS: dict[tuple[str, int], str] = {
    ("tcp", AGENT_PORT): "cluster agent: a joining node -> the control-plane node it contacts "
                         "(join request, certificate signing: scripts/wrappers/join.py)",
    ("tcp", DQLITE_PORT): "dqlite: between the control-plane nodes (the datastore's raft)",
    ("tcp", API_PORT): "API server: a worker's kubelet and kube-proxy, through its apiserver-proxy, "
                       "-> the control-plane nodes (join.py update_apiserver_proxy)",
    ("tcp", KUBELET_PORT): "kubelet API: the API server -> a node's kubelet (logs, exec, node proxy)",
    ("udp", VXLAN_PORT): "Calico VXLAN: pod traffic between nodes",
}


def new_state(environment: str, key_pool: str = "") -> dict[str, Any]:
    """An empty environment: no nodes, no network known (every flow admitted), no latency, no
    fault, real time.
    `key_pool`: the folder of pooled RSA keys (pki.py), resolved by the process that creates
    the state (a node's HOME is its own folder)."""
    return {
        "version": STATE_VERSION,
        "environment": environment,
        "key_pool": key_pool,
        # Multiplies every simulated duration: the scripts' `sleep`s, wait-ready timeouts and the
        # latencies below. Token TTLs stay in wall-clock seconds (a token expires in real time).
        "time_scale": 1.0,
        # ready: from install to `wait-ready`; joined_ready: from a join to the node Ready on the
        # master (kubelet and CNI); addon: per `microk8s enable`; download: the share of install
        # that is the snap download (`snap download` takes it, an install from that file the rest).
        "latency": {"install_seconds": 0.0, "join_seconds": 0.0, "ready_seconds": 0.0,
                    "joined_ready_seconds": 0.0, "addon_seconds": 0.0, "download_seconds": 0.0},
        "faults": {
            # instance id -> how many more `snap install` attempts fail (negative: all of them)
            "fail_install": {},
            # instance ids whose MicroK8s never becomes ready
            "never_ready": [],
            # catalogue add-ons whose install commands fail / whose workloads never turn ready
            "fail_addons": [],
            "unhealthy_addons": [],
        },
        # The security groups, as the world evaluates them (world/network.py): {"flows": {flow
        # key: {destination instance id: [admitted source instance ids]}}}. None: no network
        # known (the simulator without the world), every flow admitted.
        "network": None,
        # instance id -> its EC2 state (pending, running, stopping, stopped, shutting-down,
        # terminated); absent: running.
        "instances": {},
        # instance id -> its availability zone (a region's zone, a Local Zone or a Wavelength Zone:
        # world/edge_zones.py), as the world hands it; absent: not known (calico.py: the path
        # between two nodes then carries 9,001 bytes, as within a zone).
        "zones": {},
        # cluster id -> Calico's VXLAN settings, chosen by the founding node's install
        # (calico.py): {"veth_mtu": int | None (an unusable CALICO_VETH_MTU), "calico_veth_mtu":
        # the launch configuration's CALICO_VETH_MTU or None}
        "calico": {},
        "nodes": {},
        # {"node": minted-on instance id, "sha256": hex, "expires": epoch | None, "single_use": bool}
        "tokens": [],
        # cluster id (the founding node's instance id) -> enabled add-ons
        "addons": {},
        # cluster id -> workloads, namespaces, CRDs and Helm releases the add-ons created
        # (see addons.py)
        "workloads": {},
        "namespaces": {},
        "crds": {},
        "helm_releases": {},
        "helm_repositories": {},
        # cluster id -> pods created with `kubectl run` (pods.py): the object the API server
        # stores, when it was created, scheduled and started
        "pods": {},
    }


def new_node(private_ip: str, public_ip: str | None, root: str, imds: str) -> dict[str, Any]:
    """A launched instance without MicroK8s."""
    return {
        "private_ip": private_ip,
        "public_ip": public_ip,
        "root": root,
        "imds": imds,
        # The microk8s snap (mirrored from snaps["microk8s"], which snap.py keeps).
        "installed": False,
        "channel": None,  # the channel of the installed revision
        "tracking": None,  # the channel refreshes follow (None after an install from a file)
        "held": False,
        # Snaps installed beyond the AMI's own (snap.py PREINSTALLED): name -> {"channel",
        # "tracking", "revision", "version", "hold" (None | "forever" | epoch), "installed_at"}.
        "snaps": {},
        # `snap ack`: the snap-sha3-384 digests of the snap revisions whose assertions were added.
        "acked": [],
        "installed_at": None,
        "node_name": None,
        "extra_sans": [],
        "cluster": None,
        "role": None,
        "joined_at": None,
        "install_attempts": 0,
    }


def lock_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".lock")


@contextlib.contextmanager
def locked_state(state_path: Path | str) -> Iterator[dict[str, Any]]:
    """Yields the state under an exclusive lock and writes it back if the block did not raise."""
    state_path = Path(state_path)
    with open(lock_path(state_path), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            state = json.loads(state_path.read_text())
            yield state
            write_atomically(state_path, state)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_state(state_path: Path | str) -> dict[str, Any]:
    """A consistent snapshot (shared lock), for reads that change nothing."""
    state_path = Path(state_path)
    with open(lock_path(state_path), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        try:
            return json.loads(state_path.read_text())
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def create_once(state_path: Path, environment: str, key_pool: str = "") -> None:
    """Writes a new state unless one exists, under the lock: nodes of a new environment may boot
    (and set it up) at the same moment."""
    state_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path(state_path), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not state_path.exists():
                write_atomically(state_path, new_state(environment, key_pool))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_atomically(state_path: Path, state: dict[str, Any]) -> None:
    """Readers never see half a file: write a temporary file, then rename it over the state."""
    fd, tmp = tempfile.mkstemp(dir=state_path.parent, prefix=".state-")
    with os.fdopen(fd, "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)
    os.replace(tmp, state_path)


def flow_key(protocol: str, port: int) -> str:
    return f"{protocol}/{port}"


def reachable(state: dict[str, Any], source_id: str, destination_id: str, protocol: str, port: int) -> bool:
    """Whether the network admits (protocol, port) from one node to another: both instances up
    and the matrix naming the source (a node reaches itself: loopback never leaves it)."""
    if (protocol, port) not in FLOWS:
        raise ValueError(f"nodesim: flow {flow_key(protocol, port)} is not modelled")
    if source_id == destination_id:
        return is_up(state, source_id)
    if not (is_up(state, source_id) and is_up(state, destination_id)):
        return False
    network = state.get("network")
    if network is None:
        return True
    return source_id in network["flows"].get(flow_key(protocol, port), {}).get(destination_id, [])


def is_up(state: dict[str, Any], instance_id: str) -> bool:
    """The instance runs (EC2 User Guide, "Amazon EC2 instance state changes"): a stopped,
    shutting-down or terminated one answers nothing and runs nothing."""
    return state.get("instances", {}).get(instance_id, "running") == "running"


def node_by_ip(state: dict[str, Any], ip: str) -> tuple[str, dict[str, Any]] | None:
    for instance_id, node in state["nodes"].items():
        if node["private_ip"] == ip:
            return instance_id, node
    return None


def is_ready(state: dict[str, Any], instance_id: str, now: float | None = None) -> bool:
    """Installed, not faulted, and past its simulated start-up time."""
    node = state["nodes"][instance_id]
    if not node["installed"] or instance_id in state["faults"]["never_ready"]:
        return False
    latency = state["latency"]
    now = now if now is not None else time.time()
    if node.get("joined_at") and now < node["joined_at"] + latency.get("joined_ready_seconds", 0.0) * state["time_scale"]:
        return False
    return now >= node["installed_at"] + latency["ready_seconds"] * state["time_scale"]
