"""Calico's VXLAN pod network in the simulated cluster: its veth MTU, and which two nodes' pods
reach each other.

MicroK8s runs Calico with VXLAN: a pod's packet to a pod on another node leaves in a UDP packet
(port 4789) 50 bytes larger than it. Calico sizes the pods' interfaces (`veth_mtu`) once for the
whole cluster; on EC2 it picks the host interface's 9,001 bytes minus those 50, which fits every
path within a zone but not the 1,300 bytes between an edge zone (Local Zone, Wavelength Zone) and
its region: there, a full-sized pod packet is too big for the path and is dropped (UDP: nothing
resends it smaller). A node's zone is the world's (state["zones"], world/network.py from moto's
placement); the MTU of a path is world/edge_zones.py's `path_mtu`.

| rule | what | source |
|---|---|---|
| cni-launch-config | the launch configuration's `extraCNIEnv` (a map of strings; an integer is taken as its text) is written to `$SNAP_DATA/args/cni-env` at the first start | MicroK8s docs, "Launch configurations reference" (1.27+); canonical/microk8s-cluster-agent pkg/k8sinit/schema.go (`ExtraCNIEnv map[string]*string`, gopkg.in/yaml.v2) |
| cni-veth-mtu | `CALICO_VETH_MTU`, when not empty, replaces `veth_mtu: "0"` in the cluster's cni.yaml (the calico-config ConfigMap); empty, absent or "0": Calico detects it | canonical/microk8s scripts/generate-cni.sh (`if [ ! -z "${CALICO_VETH_MTU}" ]; then sed -i 's,veth_mtu: "0",veth_mtu: "'"${CALICO_VETH_MTU}"'",'`) |
| cni-veth-integer | the value must be a non-negative integer (it is the CNI configuration's `"mtu": __CNI_MTU__`); anything else leaves Calico without a usable configuration: no pod traffic between nodes | Calico manifest (calico.yaml cni_network_config); this simulator's reading of an unusable value |
| cni-veth-auto | detected: the host interface's MTU minus VXLAN's 50 bytes; the interface of an EC2 instance: 9,001 (jumbo frames), so 8,951 | Calico docs, "Configure MTU to maximize network performance" (VXLAN: 50 bytes; auto-detection from the host interfaces); EC2 User Guide, "Network maximum transmission unit (MTU) for your EC2 instance" |
| cni-founder | the calico-config ConfigMap is one object of the cluster, applied by the founding control-plane node at its first start: that node's launch configuration decides the MTU of every node; a joining node's extraCNIEnv changes nothing (its own one-node cluster is gone) | the ConfigMap lives in the cluster's datastore (Kubernetes API); which node applies it: this simulator's reading of MicroK8s' first start (generate-cni.sh, then the manifest applied) |
| path-mtu | between an instance in a Local Zone or Wavelength Zone and one in the Region: 1,300 bytes; within a zone, or between the region's availability zones: 9,001 | EC2 User Guide, "Network maximum transmission unit (MTU) for your EC2 instance" (world/edge_zones.py `path_mtu`) |
| vxlan-fits | pods on two nodes reach each other when udp 4789 goes through both ways (the security groups, state.py `reachable`) and `veth_mtu + 50 <= path MTU` of the nodes' zones; a node whose zone is not known (the simulator without the world) is as if in the other's zone (9,001) | VXLAN over UDP: a packet larger than the path's MTU is dropped |

Only standard library: the stand-ins import this module (world/edge_zones.py is standard
library too, on the stand-ins' PYTHONPATH).
"""

from __future__ import annotations

import re
from typing import Any

from . import state as st

VXLAN_OVERHEAD = 50
# The MTU of an EC2 instance's network interface (jumbo frames), which Calico detects.
EC2_INTERFACE_MTU = 9001
AUTO_VETH_MTU = EC2_INTERFACE_MTU - VXLAN_OVERHEAD
_INTEGER = re.compile(r"[0-9]+")


def veth_mtu_from(cni_env: dict[str, str | None] | None) -> dict[str, Any]:
    """The cluster's Calico settings from the founding node's extraCNIEnv: {"veth_mtu": the MTU
    (None: an unusable value), "calico_veth_mtu": the configured value as written, or None}."""
    raw = (cni_env or {}).get("CALICO_VETH_MTU")
    if raw is None or raw == "":
        return {"veth_mtu": AUTO_VETH_MTU, "calico_veth_mtu": None}
    if not _INTEGER.fullmatch(raw):
        return {"veth_mtu": None, "calico_veth_mtu": raw}
    value = int(raw)
    return {"veth_mtu": value if value > 0 else AUTO_VETH_MTU, "calico_veth_mtu": raw}


def record_founding(s: dict[str, Any], cluster: str, cni_env: dict[str, str | None] | None) -> None:
    """The founding node's first start applies the cluster's CNI manifest (generate-cni.sh)."""
    s.setdefault("calico", {})[cluster] = veth_mtu_from(cni_env)


def veth_mtu(s: dict[str, Any], cluster: str) -> int | None:
    """The cluster's veth MTU (a state without a record: detected)."""
    record = s.get("calico", {}).get(cluster)
    return AUTO_VETH_MTU if record is None else record["veth_mtu"]


def zone_of(s: dict[str, Any], instance_id: str) -> str | None:
    return s.get("zones", {}).get(instance_id)


def path_mtu(s: dict[str, Any], a: str, b: str) -> int:
    """path-mtu: between the two nodes' zones; a zone not known: as within one zone."""
    zone_a, zone_b = zone_of(s, a), zone_of(s, b)
    if not zone_a or not zone_b:
        return EC2_INTERFACE_MTU
    from world import edge_zones  # standard library only; local/ is the stand-ins' PYTHONPATH

    return edge_zones.path_mtu(zone_a, zone_b)


def vxlan_fits(s: dict[str, Any], cluster: str, a: str, b: str) -> bool:
    """vxlan-fits, the MTU half: a full-sized pod packet, encapsulated, fits the path."""
    mtu = veth_mtu(s, cluster)
    return mtu is not None and mtu + VXLAN_OVERHEAD <= path_mtu(s, a, b)


def pods_reach(s: dict[str, Any], cluster: str, a: str, b: str) -> bool:
    """Pods on node `a` reach pods on node `b` and back (a node's own pods: no VXLAN)."""
    if a == b:
        return st.is_up(s, a)
    return (st.reachable(s, a, b, "udp", st.VXLAN_PORT) and st.reachable(s, b, a, "udp", st.VXLAN_PORT)
            and vxlan_fits(s, cluster, a, b))
