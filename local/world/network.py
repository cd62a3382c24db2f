"""The emulator's security groups as the simulated clusters' network.

moto stores security groups and never applies them. Here the world evaluates them as EC2 does
for every flow the simulated MicroK8s uses (nodesim/state.py `FLOWS`) between every two
instances of an environment, and hands the result to the environment's cluster state (a
matrix: flow -> destination -> admitted sources), with each instance's state and availability
zone, so that the stand-ins (separate processes, standard library only) decide a join, a node's
readiness or pod traffic from it (the zones give the path MTU between two nodes, which Calico's
VXLAN needs: nodesim/calico.py). world/runcommand.py refreshes it whenever it touches a node (a command's or a
boot's), and when an instance is stopped or terminated or a group's rules change.

How EC2 decides a packet from instance S to instance D (one flow: protocol and port):

| rule | what | source |
|---|---|---|
| sg-protocol | a rule matches its protocol (`tcp`/`6`, `udp`/`17`); `-1` matches every protocol on every port | botocore ec2 IpPermission.IpProtocol ("Use -1 to specify all protocols ... allows traffic on all ports, regardless of any port range you specify") |
| sg-port-range | a tcp/udp rule matches when FromPort <= port <= ToPort | botocore ec2 IpPermission.FromPort/ToPort ("the start/end of the port range") |
| sg-source-group | a rule whose source is a security group (UserIdGroupPair) admits the instances associated with that group, by their private addresses | EC2 User Guide, "Security group rules" ("When you specify a security group as the source ... traffic is allowed from the network interfaces that are associated with the source security group"; "based on the private IP addresses ... (and not the public IP or Elastic IP addresses)") |
| sg-source-cidr | a rule whose source is an IPv4 range (IpRanges) admits a sender whose private address it contains | same page (Source: "a single IPv4 address ... or a range of IPv4 addresses in CIDR block notation") |
| sg-aggregate | the rules of every group of the instance's network interface are aggregated; there are only allow rules, and the most permissive one applies | same page ("When you associate multiple security groups with a resource, the rules from each security group are aggregated"; "If there is more than one rule for a specific port, we apply the most permissive rule") |
| sg-egress | the sender's groups must let the packet out (outbound rules, destination group or CIDR); the answer needs no rule (stateful) | same page (outbound rules: destination); "Security groups are stateful" (User Guide, "Security groups for your VPC": responses are allowed regardless of rules) |
| instance-state | only a `running` instance sends or answers: a pending, stopping, stopped, shutting-down or terminated one is down | EC2 User Guide, "Amazon EC2 instance state changes" (world/ec2_time.py computes the states from the clock) |

Traffic inside one instance (a node to itself) never crosses its groups.

Each instance's availability zone (moto's placement, its subnet's zone) goes to the state too:
between an edge zone (Local Zone, Wavelength Zone) and the region the path carries 1,300 bytes
(world/edge_zones.py `path_mtu`), which decides whether Calico's VXLAN pod packets get through
(nodesim/calico.py); the groups' verdicts do not depend on it.

What this still forgives: network ACLs and route tables (mec's subnet has the default ACL, which
allows all, and one local route); IPv6 ranges and prefix lists as sources; moto's VPC default
group lacks the rule AWS gives it (all traffic from the group itself), so instances launched
without groups are isolated here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodesim import state as st

# Protocol names and numbers EC2 accepts for the two the flows use, and "all".
PROTOCOLS = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "-1": "-1", "all": "-1"}
# Instance states in which the instance sends and answers packets.
UP_STATES = ("running",)


@dataclass(frozen=True)
class Permission:
    """One rule: protocol, port range, and the sources (ingress) or destinations (egress)."""

    protocol: str
    from_port: int | None
    to_port: int | None
    group_ids: frozenset[str] = frozenset()
    cidrs: tuple[str, ...] = ()

    def covers(self, protocol: str, port: int) -> bool:
        """sg-protocol, sg-port-range."""
        mine = PROTOCOLS.get(str(self.protocol).lower(), str(self.protocol))
        if mine == "-1":
            return True
        if mine != protocol or self.from_port is None or self.to_port is None:
            return False
        return self.from_port <= port <= self.to_port

    def names(self, peer: "Host") -> bool:
        """sg-source-group, sg-source-cidr: the rule's peer side names this host."""
        if self.group_ids & peer.group_ids:
            return True
        address = ipaddress.ip_address(peer.private_ip)
        return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in self.cidrs)


@dataclass(frozen=True)
class Group:
    group_id: str
    ingress: tuple[Permission, ...] = ()
    # A group AWS creates has the outbound rule "all traffic to 0.0.0.0/0".
    egress: tuple[Permission, ...] = (Permission("-1", None, None, cidrs=("0.0.0.0/0",)),)


@dataclass(frozen=True)
class Host:
    """An instance as the network sees it."""

    instance_id: str
    private_ip: str
    group_ids: frozenset[str]
    state: str = "running"
    # Its availability zone (moto's placement: its subnet's zone): a region's zone, or a Local
    # Zone or Wavelength Zone (world/edge_zones.py). None: not known.
    zone: str | None = None

    @property
    def up(self) -> bool:
        return self.state in UP_STATES


@dataclass
class Network:
    """The groups of one environment's instances."""

    hosts: list[Host]
    groups: dict[str, Group] = field(default_factory=dict)

    def _rules(self, host: Host, outbound: bool) -> Iterable[Permission]:
        """sg-aggregate: every rule of every group of the host."""
        for group_id in sorted(host.group_ids):
            group = self.groups.get(group_id)
            if group is not None:
                yield from group.egress if outbound else group.ingress

    def admits(self, source: Host, destination: Host, protocol: str, port: int) -> bool:
        """Whether a packet of (protocol, port) from `source` reaches `destination`."""
        if source.instance_id == destination.instance_id:
            return True
        if not (source.up and destination.up):
            return False
        out = any(r.covers(protocol, port) and r.names(destination) for r in self._rules(source, outbound=True))
        return out and any(r.covers(protocol, port) and r.names(source) for r in self._rules(destination, outbound=False))

    def matrix(self) -> dict[str, dict[str, list[str]]]:
        """For every flow of nodesim's FLOWS: destination instance -> the sources it admits."""
        found: dict[str, dict[str, list[str]]] = {}
        for protocol, port in st.FLOWS:
            key = st.flow_key(protocol, port)
            found[key] = {d.instance_id: [s.instance_id for s in self.hosts if self.admits(s, d, protocol, port)]
                          for d in self.hosts}
        return found

    def view(self) -> dict[str, Any]:
        """What the cluster state keeps: the matrix, each instance's state, and the zone of each
        instance whose zone is known."""
        return {"flows": self.matrix(), "instances": {h.instance_id: h.state for h in self.hosts},
                "zones": {h.instance_id: h.zone for h in self.hosts if h.zone}}


# --- from moto's models ------------------------------------------------------------------------

def _permission(rule: Any) -> Permission:
    """moto keeps one source per SecurityGroupRule: `source_group` {"GroupId"} or `ip_range` {"CidrIp"}."""
    group = (rule.source_group or {}).get("GroupId")
    cidr = (rule.ip_range or {}).get("CidrIp")
    return Permission(str(rule.ip_protocol), rule.from_port, rule.to_port,
                      frozenset([group]) if group else frozenset(), (cidr,) if cidr else ())


def _group(group: Any) -> Group:
    return Group(group.id, tuple(_permission(r) for r in group.ingress_rules),
                 tuple(_permission(r) for r in group.egress_rules))


def _groups_of(instance: Any) -> list[Any]:
    """The groups of the instance's primary network interface (the instance's own when it has
    none left, e.g. terminated)."""
    nic = (getattr(instance, "nics", None) or {}).get(0)
    if nic is not None:
        return list(nic.group_set)
    return list(instance.security_groups)


def environment_of(ec2: Any, instance_id: str) -> str:
    """The instance's `mec:environment` tag ("untagged" without one), read from moto's tag
    table directly: describe_tags scans every tag of the region."""
    return ec2.tags.get(instance_id, {}).get("mec:environment", "untagged")


def from_moto(ec2: Any, environment: str) -> Network:
    """The environment's instances (tagged `mec:environment`) and their groups."""
    hosts: list[Host] = []
    groups: dict[str, Group] = {}
    for instance in ec2.all_instances():
        if environment_of(ec2, instance.id) != environment or not instance.private_ip:
            continue
        mine = _groups_of(instance)
        for group in mine:
            if group.id not in groups:
                groups[group.id] = _group(group)
        placement = getattr(instance, "placement", None)
        zone = getattr(placement, "zone", None) or None
        hosts.append(Host(instance.id, instance.private_ip, frozenset(g.id for g in mine), str(instance.state),
                          zone))
    return Network(hosts, groups)


def refresh(ec2: Any, clusters_dir: Path, environment: str) -> None:
    """Writes the environment's network into its cluster state, if the world has one for it and
    this backend (account, region) holds its instances."""
    state_path = clusters_dir / environment / "state.json"
    if not state_path.exists():
        return
    found = from_moto(ec2, environment)
    if not found.hosts:
        return
    view = found.view()
    with st.locked_state(state_path) as s:
        s["network"] = {"flows": view["flows"]}
        s["instances"] = view["instances"]
        s.setdefault("zones", {}).update(view["zones"])


def revoke_port(instance: Any, port: int) -> None:
    """Fault `closed_ports`: the instance's groups lose their tcp/udp ingress rules that cover
    `port` (an all-traffic rule stays: it names no port)."""
    for group in _groups_of(instance):
        group.ingress_rules = [r for r in group.ingress_rules
                               if not (PROTOCOLS.get(str(r.ip_protocol)) in ("tcp", "udp")
                                       and r.from_port is not None and r.from_port <= port <= r.to_port)]
