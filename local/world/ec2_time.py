"""EC2 in time: eventual consistency, instance and volume lifecycles, dependency checks.

moto answers every EC2 call as if the whole region were one consistent database that changes
instantly: a new VPC can be modified in the same millisecond, an instance is `running` as soon as
it is launched and `terminated` as soon as it is asked to, its root volume vanishes with it, and a
subnet, security group or VPC can be deleted under live instances. AWS does none of that. This
module makes the world behave in time as AWS documents, for every caller.

Eventual consistency ("Eventual consistency in the Amazon EC2 API", EC2 developer guide: "if you
run a command to modify or describe the resource that you just created, its ID might not have
propagated throughout the system, and you will get an error responding that the resource does not
exist"). Every ID a Create* call or RunInstances creates (the VPC and its main route table and
default group, subnets, gateways, route tables, groups, instances, their volumes and network
interfaces) is unknown for `consistency_seconds` (faults.json; real seconds, not scaled: it is a
property of the control plane, and the clients' retries run in real time) to any call that names
it in a parameter (describe by ID, modify, attach, associate, create route, authorize, tag,
RunInstances naming a subnet or group, terminate...): AWS's `Invalid<Type>.NotFound` with AWS's
message. Filter-based describes (by tag, by VPC) do not list it yet either (rule
`eventual-consistency-filters`): a step that looks its resources up by tag and retries too soon
creates them twice on AWS, and so here. Default 0.5 s: AWS publishes no figure (its advice is to
retry with exponential backoff "starting with a couple of seconds"); half a second is short enough
to cost a correctly retrying client under a second per new resource in the end-to-end suites, and
long enough that any create-then-use without a retry fails every time, not once in a while.

Instances (EC2 User Guide, "Amazon EC2 instance state changes"): `pending` for `boot_seconds` x
`time_scale` after RunInstances, then `running` (what SSM Run Command, world/runcommand.py, treats
as manageable); TerminateInstances makes them `shutting-down` for `shutdown_seconds` x
`time_scale`, then `terminated`. The state is computed from the clock whenever it is read (thread
safe: no timer thread). Until it is terminated an instance keeps its root volume attached (`in-use`:
DeleteVolume answers moto's VolumeInUse, "Volume vol-… is currently attached to i-…"), its network
interface and its public address. At termination (the first EC2 call after it) its primary network
interface goes (DeleteOnTermination is true for the interface a launch creates) and its
DeleteOnTermination volumes are `deleting` for `volume_delete_seconds` x `time_scale` ("The volume
can remain in the deleting state for several minutes", DeleteVolume API reference), then gone.

| rule | what AWS refuses (code) | source |
|---|---|---|
| eventual-consistency | a request naming an ID created less than `consistency_seconds` ago (InvalidVpcID.NotFound "The vpc ID '…' does not exist", InvalidSubnetID.NotFound, InvalidInternetGatewayID.NotFound, InvalidRouteTableID.NotFound, InvalidGroup.NotFound, InvalidInstanceID.NotFound, InvalidVolume.NotFound, InvalidNetworkInterfaceID.NotFound) | EC2 devguide "Eventual consistency in the Amazon EC2 API"; codes: EC2 API "Error codes"; messages as AWS prints them (CLI outputs found by find_string) |
| eventual-consistency-filters | (not a refusal) filter-based Describe{Vpcs,Subnets,InternetGateways,RouteTables,SecurityGroups,Instances,Volumes} leave such resources out | same page ("it will eventually be visible to other commands") |
| volume-deleting | DeleteVolume on a `deleting` volume (IncorrectState "vol-… is not 'available'.") | DeleteVolume API reference ("The volume must be in the available state"); code: EC2 error codes (IncorrectState); message shape as AWS prints it for AttachVolume (no observed DeleteVolume answer) |
| dependency-subnet | DeleteSubnet while a network interface or a not yet terminated instance is in it (DependencyViolation "The subnet '…' has dependencies and cannot be deleted.") | DeleteSubnet API reference ("You must terminate all running instances in the subnet before you can delete the subnet"); message as AWS prints it (terraform-provider-aws#9213) |
| dependency-security-group | DeleteSecurityGroup while an interface or live instance uses the group, or another group's rule references it (DependencyViolation "resource sg-… has a dependent object") | DeleteSecurityGroup API reference ("If you attempt to delete a security group that is associated with an instance or network interface, is referenced by another security group in the same VPC ... the operation fails with DependencyViolation"); message as AWS prints it (hashicorp/terraform-provider-aws#1671) |
| dependency-igw-detach | DetachInternetGateway while the VPC has mapped public addresses (live instances' public IPs, Elastic IPs) (DependencyViolation "Network vpc-… has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.") | DetachInternetGateway API reference ("The VPC must not contain any running instances with Elastic IP addresses or public IPv4 addresses"); message as AWS prints it (hashicorp/terraform#1303) |
| dependency-igw-delete | DeleteInternetGateway while attached (DependencyViolation "The internetGateway '…' has dependencies and cannot be deleted.") | DeleteInternetGateway API reference ("You must detach the internet gateway from the VPC before you can delete it"); message as AWS prints it (giantswarm/aws-operator#109); moto refuses too, with another message |
| dependency-vpc | DeleteVpc while it has subnets, an attached gateway, security groups other than its default, route tables other than its main, network interfaces or live instances (DependencyViolation "The vpc '…' has dependencies and cannot be deleted.") | DeleteVpc API reference ("You must detach or delete all gateways and resources that are associated with the VPC before you can delete it ... delete all security groups associated with the VPC (except the default one), all route tables associated with the VPC (except the default one)"); moto checks only subnets and route tables |

moto's own checks that stay: DeleteVolume of an attached volume (VolumeInUse), DeleteRouteTable with
associations, DescribeInstances with MaxResults and IDs.

RunInstances' ClientToken idempotency is world/faults.py's rule `run-instances-client-token`.

The API reference quotes above are the operations' documentation in botocore's ec2 model.

What the world still forgives: a resource deleted is gone at once for every caller (AWS may still
list it for a moment); RunInstances answers `pending` whatever the clock (moto's transformer);
stop/start are instant (mec never stops instances); a terminated instance keeps its stale network
interface entry in DescribeInstances; Elastic IPs, NAT gateways, endpoints and load balancers count
as dependents only as far as moto models them.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from moto.core.responses import BaseResponse
from moto.ec2.exceptions import InvalidParameterCombination, OperationNotPermitted4
from moto.ec2.models import EC2Backend, ec2_backends
from moto.ec2.models.elastic_block_store import Volume
from moto.ec2.models.instances import Instance, InstanceState

from world.errors import aws_error

Params = dict[str, list[str]]
Refusal = tuple[str, str]

# Instance state codes (EC2 API reference, InstanceState).
STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

# ID prefix -> (code, message for one ID, message for several) of AWS's "does not exist" answers.
NOT_FOUND: dict[str, tuple[str, str, str]] = {
    "vpc-": ("InvalidVpcID.NotFound", "The vpc ID '{}' does not exist", "The vpc IDs '{}' do not exist"),
    "subnet-": ("InvalidSubnetID.NotFound", "The subnet ID '{}' does not exist", "The subnet IDs '{}' do not exist"),
    "igw-": ("InvalidInternetGatewayID.NotFound", "The internetGateway ID '{}' does not exist",
             "The internetGateway IDs '{}' do not exist"),
    "rtb-": ("InvalidRouteTableID.NotFound", "The routeTable ID '{}' does not exist", "The routeTable IDs '{}' do not exist"),
    "sg-": ("InvalidGroup.NotFound", "The security group '{}' does not exist", "The security groups '{}' do not exist"),
    "i-": ("InvalidInstanceID.NotFound", "The instance ID '{}' does not exist", "The instance IDs '{}' do not exist"),
    "vol-": ("InvalidVolume.NotFound", "The volume '{}' does not exist.", "The volumes '{}' do not exist."),
    "eni-": ("InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '{}' does not exist",
             "The networkInterface IDs '{}' do not exist"),
    "acl-": ("InvalidNetworkAclID.NotFound", "The networkAcl ID '{}' does not exist", "The networkAcl IDs '{}' do not exist"),
}

# Describe actions whose filter-based form leaves young resources out, with their ID parameters.
HIDING_ACTIONS: dict[str, tuple[str, ...]] = {
    "DescribeVpcs": ("VpcId.",),
    "DescribeSubnets": ("SubnetId.",),
    "DescribeInternetGateways": ("InternetGatewayId.",),
    "DescribeRouteTables": ("RouteTableId.",),
    "DescribeSecurityGroups": ("GroupId.", "GroupName."),
    "DescribeInstances": ("InstanceId.",),
    "DescribeVolumes": ("VolumeId.",),
}

# Backend methods whose results are new resources (recorded while a Create*/RunInstances runs).
CREATING_METHODS = ("create_vpc", "create_subnet", "create_internet_gateway", "create_route_table",
                    "create_security_group", "create_volume", "create_network_interface", "run_instances")
DESCRIBING_METHODS = ("describe_vpcs", "describe_subnets", "describe_internet_gateways", "describe_route_tables",
                      "describe_security_groups", "describe_volumes", "describe_instances")


def first(params: Params, name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


# --- the per-request context -----------------------------------------------------------------

class Request(threading.local):
    """What the EC2 request being served on this thread asked for (moto serves one per thread)."""
    recording: bool = False
    hiding: bool = False
    window: float = 0.0

    def __init__(self) -> None:
        self.created: list[str] = []


REQUEST = Request()


# --- instance states ---------------------------------------------------------------------------

class LazyState(InstanceState):
    """An instance's state, computed from the clock when read: pending until `running_at`, then
    running; after `begin_shutdown`, shutting-down until `terminated_at`, then terminated. moto's
    own transitions (stop, start, reboot, terminate) set `name` and fix the state there."""

    def __init__(self, running_at: float) -> None:  # noqa: D107 - InstanceState's fields are properties here
        self.running_at = running_at
        self.shutdown_at: float | None = None
        self.terminated_at: float | None = None
        self.fixed: str | None = None

    def now(self) -> str:
        if self.fixed is not None:
            return self.fixed
        clock = time.monotonic()
        if self.terminated_at is not None:
            return "terminated" if clock >= self.terminated_at else "shutting-down"
        return "running" if clock >= self.running_at else "pending"

    @property  # type: ignore[override]
    def name(self) -> str:
        return self.now()

    @name.setter
    def name(self, value: str) -> None:
        self.fixed = value

    @property  # type: ignore[override]
    def code(self) -> int:
        return STATE_CODES.get(self.now(), 0)

    @code.setter
    def code(self, value: int) -> None:
        """moto sets the code right after the name: the name decides."""

    def begin_shutdown(self, seconds: float) -> bool:
        """Starts shutting down (True), unless it is shutting down or terminated already."""
        if self.now() in ("shutting-down", "terminated"):
            return False
        self.fixed = None
        self.shutdown_at = time.monotonic()
        self.terminated_at = self.shutdown_at + max(seconds, 0.0)
        return True

    def __copy__(self) -> InstanceState:
        """moto copies the state as the `PreviousState` of its answers: a frozen one."""
        name = self.now()
        return InstanceState(name, STATE_CODES.get(name, 0))


# --- the clock of the world --------------------------------------------------------------------

@dataclass
class Pending:
    """Something that happens at `at`: an instance's termination, a volume's deletion."""
    at: float
    target: Any
    backend: Any


class Clock:
    """New IDs, instances terminating and volumes deleting; advanced (`sweep`) before each EC2
    call is served, so that every answer sees the world as of now."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.faults: Any = None
        self.born: dict[str, float] = {}
        self.terminating: dict[str, Pending] = {}
        self.deleting: dict[str, Pending] = {}
        self.terminate: Callable[[Instance], Any] = Instance.terminate

    def scaled(self, key: str) -> float:
        """A latency of faults.json in real seconds (x time_scale)."""
        if self.faults is None:
            return 0.0
        now = self.faults.current()
        return float(now.get(key, 0.0) or 0.0) * float(now.get("time_scale", 1.0))

    # eventual consistency

    def record(self, result: Any) -> None:
        """Notes what the current Create*/RunInstances call created; `publish` dates it."""
        if not REQUEST.recording:
            return
        created = [i.id for i in result.instances] if hasattr(result, "instances") else [getattr(result, "id", None)]
        REQUEST.created.extend(c for c in created if isinstance(c, str))

    def publish(self) -> None:
        """Dates the IDs the call created: from when its answer leaves, as a caller can name them
        only from then on (the first call of a world may spend a second serialising its answer)."""
        clock = time.monotonic()
        with self.lock:
            for resource_id in REQUEST.created:
                self.born[resource_id] = clock
        REQUEST.created = []

    def young(self, resource_id: str, window: float) -> bool:
        born = self.born.get(resource_id)
        return born is not None and time.monotonic() - born < window

    def unseen(self, params: Params, window: float) -> Refusal | None:
        """AWS's NotFound for the first young ID the request names (filters aside)."""
        named: list[str] = []
        for key, values in params.items():
            if key.startswith("Filter."):
                continue
            named.extend(v for v in values if v in self.born and self.young(v, window))
        if not named:
            return None
        prefix = next((p for p in NOT_FOUND if named[0].startswith(p)), None)
        if prefix is None:
            return None
        code, one, several = NOT_FOUND[prefix]
        same = list(dict.fromkeys(n for n in named if n.startswith(prefix)))
        return code, (one.format(same[0]) if len(same) == 1 else several.format(", ".join(same)))

    def forget_old(self, window: float) -> None:
        clock = time.monotonic()
        with self.lock:
            for resource_id in [r for r, born in self.born.items() if clock - born >= max(window, 60.0)]:
                del self.born[resource_id]

    # instances and volumes

    def shut_down(self, backend: Any, instance: Instance) -> None:
        state = instance._state
        if not isinstance(state, LazyState):
            self.terminate(instance)
            return
        with self.lock:
            if state.begin_shutdown(self.scaled("shutdown_seconds")):
                self.terminating[instance.id] = Pending(state.terminated_at or 0.0, instance, backend)

    def delete_volume_later(self, backend: Any, volume_id: str) -> None:
        seconds = self.scaled("volume_delete_seconds")
        with self.lock:
            if seconds <= 0:
                backend.volumes.pop(volume_id, None)
            else:
                self.deleting[volume_id] = Pending(time.monotonic() + seconds, volume_id, backend)

    def sweep(self) -> None:
        """Terminates the instances whose shutdown is over (moto's own termination: interfaces,
        volumes, addresses) and removes the volumes whose deletion is over."""
        clock = time.monotonic()
        with self.lock:
            for instance_id, due in list(self.terminating.items()):
                if clock >= due.at:
                    del self.terminating[instance_id]
                    self.terminate(due.target)
            for volume_id, due in list(self.deleting.items()):
                if clock >= due.at:
                    del self.deleting[volume_id]
                    due.backend.volumes.pop(volume_id, None)


CLOCK = Clock()


def live(instance: Instance) -> bool:
    return instance.state != "terminated"


# --- dependency checks -------------------------------------------------------------------------

def subnet_of(eni: Any) -> Any:
    return eni.subnet if not isinstance(eni.subnet, str) else None


def enis(backend: Any) -> list[Any]:
    return list(backend.enis.values())


def eni_vpc(eni: Any) -> str | None:
    subnet = subnet_of(eni)
    return getattr(subnet, "vpc_id", None)


def subnet_dependents(backend: Any, params: Params) -> Refusal | None:
    subnet_id = first(params, "SubnetId")
    if not subnet_id:
        return None
    used = any(getattr(subnet_of(e), "id", None) == subnet_id for e in enis(backend)) or any(
        i.subnet_id == subnet_id and live(i) for i in backend.all_instances())
    return ("DependencyViolation", f"The subnet '{subnet_id}' has dependencies and cannot be deleted.") if used else None


def group_ids_of(groups: Iterable[Any]) -> set[str]:
    return {getattr(g, "id", g) for g in groups}


def referenced_by_rules(backend: Any, group_id: str) -> bool:
    for groups in backend.groups.values():
        for group in list(groups.values()):
            if group.id == group_id:
                continue
            for rule in list(group.ingress_rules) + list(group.egress_rules):
                sources = list(getattr(rule, "source_groups", None) or []) + [getattr(rule, "source_group", None) or {}]
                if any(s.get("GroupId") == group_id for s in sources if isinstance(s, dict)):
                    return True
    return False


def group_dependents(backend: Any, params: Params) -> Refusal | None:
    group_id = first(params, "GroupId")
    if not group_id and first(params, "GroupName"):
        group = backend.get_security_group_by_name_or_id(first(params, "GroupName"))
        group_id = group.id if group else None
    if not group_id:
        return None
    used = (any(group_id in group_ids_of(e.group_set) for e in enis(backend))
            or any(live(i) and group_id in group_ids_of(i.security_groups) for i in backend.all_instances())
            or referenced_by_rules(backend, group_id))
    return ("DependencyViolation", f"resource {group_id} has a dependent object") if used else None


def mapped_addresses(backend: Any, vpc_id: str) -> bool:
    if any(eni_vpc(e) == vpc_id and e.public_ip for e in enis(backend)):
        return True
    for address in getattr(backend, "addresses", []):
        holder = address.eni or address.instance
        if holder is not None and (eni_vpc(holder) if address.eni else holder.vpc_id) == vpc_id:
            return True
    return False


def detach_dependents(backend: Any, params: Params) -> Refusal | None:
    vpc_id = first(params, "VpcId")
    if not vpc_id or not mapped_addresses(backend, vpc_id):
        return None
    return ("DependencyViolation", f"Network {vpc_id} has some mapped public address(es). "
            "Please unmap those public address(es) before detaching the gateway.")


def gateway_dependents(backend: Any, params: Params) -> Refusal | None:
    gateway = backend.internet_gateways.get(first(params, "InternetGatewayId") or "")
    if gateway is None or gateway.vpc is None:
        return None
    return "DependencyViolation", f"The internetGateway '{gateway.id}' has dependencies and cannot be deleted."


def vpc_dependents(backend: Any, params: Params) -> Refusal | None:
    vpc_id = first(params, "VpcId")
    if not vpc_id or vpc_id not in backend.vpcs:
        return None
    used = (any(s.vpc_id == vpc_id for s in backend.describe_subnets())
            or any(g.vpc is not None and g.vpc.id == vpc_id for g in backend.internet_gateways.values())
            or any(g.name != "default" for g in backend.groups.get(vpc_id, {}).values())
            or any(t.vpc_id == vpc_id and t.main_association_id is None for t in backend.route_tables.values())
            or any(eni_vpc(e) == vpc_id for e in enis(backend))
            or any(live(i) and i.vpc_id == vpc_id for i in backend.all_instances()))
    return ("DependencyViolation", f"The vpc '{vpc_id}' has dependencies and cannot be deleted.") if used else None


def volume_deleting(backend: Any, params: Params) -> Refusal | None:
    volume_id = first(params, "VolumeId")
    if volume_id and volume_id in CLOCK.deleting:
        return "IncorrectState", f"{volume_id} is not 'available'."
    return None


# action -> (rule name, check)
DEPENDENCY_CHECKS: dict[str, tuple[str, Callable[[Any, Params], Refusal | None]]] = {
    "DeleteSubnet": ("dependency-subnet", subnet_dependents),
    "DeleteSecurityGroup": ("dependency-security-group", group_dependents),
    "DetachInternetGateway": ("dependency-igw-detach", detach_dependents),
    "DeleteInternetGateway": ("dependency-igw-delete", gateway_dependents),
    "DeleteVpc": ("dependency-vpc", vpc_dependents),
    "DeleteVolume": ("volume-deleting", volume_deleting),
}

RULE_NAMES = frozenset({"eventual-consistency", "eventual-consistency-filters",
                        *(name for name, _ in DEPENDENCY_CHECKS.values())})


# --- installing into moto ----------------------------------------------------------------------

def creates(action: str) -> bool:
    return action.startswith("Create") or action == "RunInstances"


def hides(action: str, params: Params) -> bool:
    prefixes = HIDING_ACTIONS.get(action)
    return prefixes is not None and not any(key.startswith(prefixes) for key in params)


def dispatch(response: BaseResponse, original: Callable[[BaseResponse], Any], faults: Any) -> Any:
    """One EC2 call: advance the clock, refuse what AWS would refuse now, then let moto answer,
    recording what it creates and hiding what is too new to be listed."""
    action = response._get_action()
    now = faults.current()
    lenient = frozenset(now.get("lenient") or ())
    window = float(now.get("consistency_seconds", 0.0) or 0.0)
    backend = ec2_backends[response.current_account][response.region]  # its defaults are not new
    CLOCK.sweep()
    params = response.querystring
    if window > 0 and "eventual-consistency" not in lenient:
        refused = CLOCK.unseen(params, window)
        if refused:
            return aws_error(response, 400, *refused)
    check = DEPENDENCY_CHECKS.get(action)
    if check and check[0] not in lenient:
        with CLOCK.lock:
            refused = check[1](backend, params)
        if refused:
            return aws_error(response, 400, *refused)
    REQUEST.recording = creates(action)
    REQUEST.hiding = window > 0 and "eventual-consistency-filters" not in lenient and hides(action, params)
    REQUEST.window = window
    try:
        return original(response)
    finally:
        REQUEST.recording = REQUEST.hiding = False
        CLOCK.publish()
        CLOCK.forget_old(window)


def wrap_creating(name: str) -> None:
    original = getattr(EC2Backend, name)

    def creating(self: Any, *args: Any, **kwargs: Any) -> Any:
        # A launch's volumes and interfaces are recorded by create_volume/create_network_interface.
        result = original(self, *args, **kwargs)
        CLOCK.record(result)
        return result

    setattr(EC2Backend, name, creating)


def hide_young(result: Any) -> Any:
    if not REQUEST.hiding or not isinstance(result, list):
        return result
    window = REQUEST.window
    kept = []
    for item in result:
        if hasattr(item, "instances"):  # a reservation (a copy: moto's describe_instances copies them)
            item.instances = [i for i in item.instances if not CLOCK.young(i.id, window)]
            if item.instances:
                kept.append(item)
        elif not CLOCK.young(getattr(item, "id", ""), window):
            kept.append(item)
    return kept


def wrap_describing(name: str) -> None:
    original = getattr(EC2Backend, name)

    def describing(self: Any, *args: Any, **kwargs: Any) -> Any:
        return hide_young(original(self, *args, **kwargs))

    setattr(EC2Backend, name, describing)


def install_lifecycle() -> None:
    """Instances get a clock-driven state; termination takes `shutdown_seconds`; their volumes
    take `volume_delete_seconds` to go; a launch's own interfaces go with the instance."""
    original_init = Instance.__init__

    def init(self: Instance, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._state = LazyState(time.monotonic() + CLOCK.scaled("boot_seconds"))

    Instance.__init__ = init  # type: ignore[method-assign]

    def teardown_defaults(self: Instance) -> None:
        for device_path, device in list(self.block_device_mapping.items()):
            self.ec2_backend.detach_volume(device.volume_id, self.id, device_path)
            if device.delete_on_termination:
                CLOCK.delete_volume_later(self.ec2_backend, device.volume_id)

    Instance.teardown_defaults = teardown_defaults  # type: ignore[method-assign]

    status = Volume.status

    def volume_status(self: Volume) -> str:
        return "deleting" if self.id in CLOCK.deleting else status.fget(self)  # type: ignore[union-attr]

    Volume.status = property(volume_status)  # type: ignore[method-assign,assignment]

    def terminate_instances(self: Any, instance_ids: list[str]) -> list[tuple[Instance, InstanceState]]:
        if not instance_ids:
            raise InvalidParameterCombination("No instances specified")
        instances = self.get_multi_instances_by_id(instance_ids)
        for instance in instances:
            if instance.disable_api_termination is True:
                raise OperationNotPermitted4(instance.id)
        answered = []
        for instance in instances:
            previous = copy.copy(instance._state)
            CLOCK.shut_down(self, instance)
            answered.append((instance, previous))
        return answered

    EC2Backend.terminate_instances = terminate_instances  # type: ignore[method-assign]

    run_instances = EC2Backend.run_instances

    def launch(self: Any, *args: Any, **kwargs: Any) -> Any:
        given = {n.get("NetworkInterfaceId") for n in kwargs.get("nics") or [] if isinstance(n, dict)}
        reservation = run_instances(self, *args, **kwargs)
        for instance in reservation.instances:
            for eni in instance.nics.values():
                if eni.id not in given:
                    # The interface a launch creates is deleted with the instance (EC2 User
                    # Guide, "Network interface attributes": DeleteOnTermination true).
                    eni.delete_on_termination = True
        return reservation

    EC2Backend.run_instances = launch  # type: ignore[method-assign]


def install(faults: Any) -> None:
    """Installs eventual consistency, the lifecycles and the dependency checks into moto."""
    CLOCK.faults = faults
    for name in CREATING_METHODS:
        wrap_creating(name)
    for name in DESCRIBING_METHODS:
        wrap_describing(name)
    install_lifecycle()
    original = BaseResponse.call_action

    def call_action(self: BaseResponse) -> Any:
        if (getattr(self, "service_name", None) or "").lower() != "ec2":
            return original(self)
        return dispatch(self, original, faults)

    BaseResponse.call_action = call_action  # type: ignore[method-assign]
