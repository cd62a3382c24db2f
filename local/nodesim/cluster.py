"""The caller's handle on one simulated environment: its nodes, latencies, faults and network.

Layout of an environment folder:
    state.json, state.json.lock       the shared cluster state (see state.py)
    nodes/<instance id>/root/         the node's file system (MEC_ROOT)
    nodes/<instance id>/imds/         its instance metadata, served to curl as file:// URLs:
                                      latest/api/token, latest/meta-data/{instance-id,
                                      local-ipv4, public-ipv4, placement/region,
                                      placement/availability-zone,
                                      iam/security-credentials/<role>} (the EC2 IMDS paths)
    nodes/<instance id>/runs/         one folder per script run (like the agent's orchestration dir)
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import pki
from . import state as st


@dataclass(frozen=True)
class Node:
    """A launched instance, as the runner needs it."""

    instance_id: str
    private_ip: str
    public_ip: str | None
    root: Path
    imds_dir: Path
    state_path: Path

    @property
    def imds_endpoint(self) -> str:
        """Replaces http://169.254.169.254: curl reads `$IMDS/latest/...` as plain files."""
        return self.imds_dir.as_uri()

    @property
    def node_dir(self) -> Path:
        return self.root.parent


class Cluster:
    """One environment's state file plus helpers to set it up; safe to use from many threads."""

    def __init__(self, directory: Path | str, environment: str = "lab-1") -> None:
        self.directory = Path(directory)
        self.state_path = self.directory / "state.json"
        if not self.state_path.exists():
            st.create_once(self.state_path, environment, str(pki.default_key_pool()))

    # --- nodes -------------------------------------------------------------------------------

    def add_node(self, instance_id: str, private_ip: str, public_ip: str | None = None,
                 region: str = "us-east-1", availability_zone: str | None = None) -> Node:
        """Launches an instance: an empty root with EC2's default hostname, and its IMDS.

        The IMDS always has placement/availability-zone on EC2 (the AWS CLI v2 takes its region
        from it, awscli/utils.py InstanceMetadataRegionFetcher): without one given, the region's
        first zone. A zone given is the node's zone in the cluster state too (state["zones"]: the
        path MTU between nodes, calico.py); without one, the state knows none."""
        node_dir = self.directory / "nodes" / instance_id
        root, imds = node_dir / "root", node_dir / "imds"
        (root / "etc").mkdir(parents=True, exist_ok=True)
        hosts = root / "etc" / "hosts"
        if not hosts.exists():
            hosts.write_text("127.0.0.1 localhost\n")
        hostname = root / "etc" / "hostname"
        if not hostname.exists():
            hostname.write_text("ip-%s\n" % private_ip.replace(".", "-"))
        meta = imds / "latest" / "meta-data"
        meta.mkdir(parents=True, exist_ok=True)
        (imds / "latest" / "api").mkdir(exist_ok=True)
        (imds / "latest" / "api" / "token").write_text(secrets.token_urlsafe(32))
        (meta / "local-ipv4").write_text(private_ip)
        (meta / "instance-id").write_text(instance_id)
        if public_ip:
            (meta / "public-ipv4").write_text(public_ip)
        (meta / "placement").mkdir(exist_ok=True)
        (meta / "placement" / "region").write_text(region)
        (meta / "placement" / "availability-zone").write_text(availability_zone or region + "a")
        with st.locked_state(self.state_path) as s:
            if instance_id not in s["nodes"]:
                s["nodes"][instance_id] = st.new_node(private_ip, public_ip, str(root), str(imds))
            if availability_zone:
                s.setdefault("zones", {})[instance_id] = availability_zone
        return self.node(instance_id)

    def set_credentials(self, instance_id: str, role_name: str, credentials: dict[str, Any]) -> None:
        """The instance profile's role credentials, as the IMDS serves them at
        latest/meta-data/iam/security-credentials/<role> (the folder lists the one role; the JSON
        has Code, LastUpdated, Type, AccessKeyId, SecretAccessKey, Token, Expiration)."""
        folder = self.node(instance_id).imds_dir / "latest" / "meta-data" / "iam" / "security-credentials"
        folder.mkdir(parents=True, exist_ok=True)
        document = {"Code": "Success", "LastUpdated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "Type": "AWS-HMAC", **credentials}
        # Atomic for readers, and safe for writers: the world may set a node's credentials from
        # two threads at once (its boot and a command), each through a file of its own.
        tmp = folder / f".{role_name}.{uuid.uuid4().hex}.tmp"
        tmp.write_text(json.dumps(document, indent=2, default=str))
        tmp.replace(folder / role_name)
        for other in folder.iterdir():
            if other.name != role_name and not other.name.startswith("."):
                other.unlink(missing_ok=True)

    def remove_credentials(self, instance_id: str) -> None:
        """No instance profile (or one without a role): the folder is absent, as on EC2."""
        folder = self.node(instance_id).imds_dir / "latest" / "meta-data" / "iam" / "security-credentials"
        for item in folder.glob("*") if folder.is_dir() else []:
            item.unlink()
        if folder.is_dir():
            folder.rmdir()

    def node(self, instance_id: str) -> Node:
        n = self.state()["nodes"][instance_id]
        return Node(
            instance_id=instance_id,
            private_ip=n["private_ip"],
            public_ip=n["public_ip"],
            root=Path(n["root"]),
            imds_dir=Path(n["imds"]),
            state_path=self.state_path,
        )

    def state(self) -> dict[str, Any]:
        return st.read_state(self.state_path)

    # --- latencies and time ------------------------------------------------------------------

    def set_time_scale(self, scale: float) -> None:
        """0.01 turns the scripts' 15 s retry sleeps into 0.15 s (tests); 1.0 is real time."""
        with st.locked_state(self.state_path) as s:
            s["time_scale"] = float(scale)

    def set_latency(self, **seconds: float) -> None:
        """install_seconds, join_seconds, ready_seconds, joined_ready_seconds, addon_seconds,
        download_seconds (before time_scale)."""
        with st.locked_state(self.state_path) as s:
            for key, value in seconds.items():
                if key not in st.new_state("")["latency"]:
                    raise KeyError(f"unknown latency {key!r}")
                s["latency"][key] = float(value)

    # --- faults ------------------------------------------------------------------------------

    def fail_install(self, instance_id: str, times: int = -1) -> None:
        """The next `times` snap installs on the node fail (negative: every one)."""
        with st.locked_state(self.state_path) as s:
            s["faults"]["fail_install"][instance_id] = times

    def set_architecture(self, instance_id: str, arch: str) -> None:
        """arm64 or x86_64 (EC2's names): decides which add-on images run on the node."""
        with st.locked_state(self.state_path) as s:
            s["nodes"][instance_id]["arch"] = arch

    def addon_faults(self, fail: list[str] | None = None, unhealthy: list[str] | None = None) -> None:
        """Catalogue add-ons whose install commands fail / whose workloads never turn ready."""
        with st.locked_state(self.state_path) as s:
            s["faults"]["fail_addons"] = list(fail or [])
            s["faults"]["unhealthy_addons"] = list(unhealthy or [])

    def never_ready(self, instance_id: str) -> None:
        with st.locked_state(self.state_path) as s:
            if instance_id not in s["faults"]["never_ready"]:
                s["faults"]["never_ready"].append(instance_id)

    # --- the network and the instances' states ------------------------------------------------

    def set_network(self, flows: dict[str, dict[str, list[str]]] | None,
                    instances: dict[str, str] | None = None, zones: dict[str, str] | None = None) -> None:
        """The security groups' verdicts (world/network.py `Network.matrix`): flow key ->
        destination instance id -> admitted source instance ids; None admits every flow. With
        `instances`, the instances' EC2 states too, with `zones` their availability zones (one
        write; zones not named stay as they are)."""
        with st.locked_state(self.state_path) as s:
            s["network"] = None if flows is None else {"flows": flows}
            if instances is not None:
                s["instances"] = dict(instances)
            if zones:
                s.setdefault("zones", {}).update(zones)

    def set_zone(self, instance_id: str, zone: str | None) -> None:
        """The instance's availability zone (None: not known)."""
        with st.locked_state(self.state_path) as s:
            zones = s.setdefault("zones", {})
            if zone:
                zones[instance_id] = zone
            else:
                zones.pop(instance_id, None)

    def set_instance_state(self, instance_id: str, state: str) -> None:
        """The instance's EC2 state (running, stopped, shutting-down, terminated, ...)."""
        with st.locked_state(self.state_path) as s:
            s.setdefault("instances", {})[instance_id] = state

    def reachable(self, source_id: str, destination_id: str, protocol: str, port: int) -> bool:
        return st.reachable(self.state(), source_id, destination_id, protocol, port)

    def dump(self) -> str:
        return json.dumps(self.state(), indent=1, sort_keys=True)
