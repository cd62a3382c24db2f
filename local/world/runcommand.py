"""SSM Run Command for the local world: the real documents, run with bash on simulated nodes.

moto's own Run Command is a stub (every SendCommand succeeds at once, with no output, on every
instance). This replaces SendCommand, ListCommandInvocations, GetCommandInvocation, ListCommands,
DescribeInstanceInformation and CancelCommand in moto's SSM responses; every other SSM operation
stays moto's. Nodes are the emulator's EC2 instances: one simulated cluster per environment (its
`mec:environment` tag), the document as deployed (GetDocument), `{{ssm-secure:...}}` resolved from
the emulator's parameters.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.ec2.models import ec2_backends
from moto.ssm.models import ssm_backends
from moto.ssm.responses import SimpleSystemManagerResponse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import nodesim  # noqa: E402
from nodesim import document  # noqa: E402

# ListCommandInvocations keeps this much of each plugin's output; GetCommandInvocation 24,000.
LIST_OUTPUT_LIMIT = 2500
# The MicroK8s cluster agent, which joins go through.
JOIN_PORT = 25000
# Real seconds a node's user data may run (its own waits are scaled, like every latency).
USER_DATA_TIMEOUT = 600.0


def architecture(instance_type: str) -> str:
    """Graviton families carry a `g` after the generation (t4g, m7gd, c7gn): the rule of
    functions/shared/src/instances.rs."""
    family = instance_type.split(".")[0]
    rest = family.lstrip("abcdefghijklmnopqrstuvwxyz")
    after = rest.lstrip("0123456789")
    return "arm64" if family == "a1" or (after != rest and after.startswith("g")) else "x86_64"


class InvalidInstanceId(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidInstanceId", message)


class InvalidDocument(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidDocument", message)


class InvocationDoesNotExist(JsonRESTError):
    code = 400

    def __init__(self) -> None:
        super().__init__("InvocationDoesNotExist", "")


class RunCommand:
    """Commands and their per-instance invocations, run on the simulated nodes."""

    def __init__(self, world_dir: Path, faults: Any) -> None:
        self.world_dir = world_dir
        self.faults = faults
        self.commands: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    # --- nodes -----------------------------------------------------------------------------

    def _tag(self, ec2: Any, instance_id: str, key: str, default: str) -> str:
        for tag in ec2.describe_tags(filters={"resource-id": [instance_id]}):
            if tag["key"] == key:
                return tag["value"]
        return default

    def _node(self, ec2: Any, instance_id: str) -> nodesim.Node:
        """The instance as a simulated node, in its environment's cluster, with today's faults."""
        instance = ec2.get_instance(instance_id)
        environment = self._tag(ec2, instance_id, "mec:environment", "untagged")
        name = self._tag(ec2, instance_id, "Name", instance_id)
        faults = self.faults.current()
        cluster = nodesim.Cluster(self.world_dir / "clusters" / environment, environment)
        node = cluster.add_node(instance_id, instance.private_ip, instance.public_ip)
        cluster.set_time_scale(faults["time_scale"])
        cluster.set_latency(**{key: faults[key] for key in (
            "install_seconds", "join_seconds", "ready_seconds", "joined_ready_seconds", "addon_seconds",
            "download_seconds")})
        if name in faults["fail_install"]:
            cluster.fail_install(instance_id)
        if name in faults["never_ready"]:
            cluster.never_ready(instance_id)
        cluster.addon_faults(faults["fail_addons"], faults["unhealthy_addons"])
        cluster.set_architecture(instance_id, architecture(instance.instance_type))
        for port in faults["closed_ports"]:
            self._revoke(instance, int(port))
        # Joins reach the master's agent on 25000 only if the emulator's security groups let
        # the cluster's nodes in: the simulated network follows the real rules.
        if self._admits(instance, JOIN_PORT):
            cluster.open_port(JOIN_PORT)
        else:
            cluster.close_port(JOIN_PORT)
        return node

    @staticmethod
    def _covers(rule: Any, port: int) -> bool:
        protocol_ok = rule.ip_protocol in ("tcp", "6", "-1")
        if rule.ip_protocol == "-1":
            return True
        return protocol_ok and rule.from_port is not None and rule.from_port <= port <= rule.to_port

    def _admits(self, instance: Any, port: int) -> bool:
        """True when one of the instance's groups admits `port` from one of its groups (or anywhere)."""
        group_ids = {g.id for g in instance.security_groups}
        for group in instance.security_groups:
            for rule in group.ingress_rules:
                if not self._covers(rule, port):
                    continue
                if rule.source_group.get("GroupId") in group_ids or rule.ip_range.get("CidrIp") == "0.0.0.0/0":
                    return True
        return False

    def _revoke(self, instance: Any, port: int) -> None:
        """Fault `closed_ports`: the environment's security group loses its rules for `port`."""
        for group in instance.security_groups:
            group.ingress_rules = [r for r in group.ingress_rules if not (self._covers(r, port) and r.ip_protocol != "-1")]

    def online(self, ec2: Any, instance_id: str) -> bool:
        try:
            instance = ec2.get_instance(instance_id)
        except Exception:  # noqa: BLE001 - unknown instance: not managed
            return False
        if instance.state != "running":
            return False
        faults = self.faults.current()
        if self._tag(ec2, instance_id, "Name", instance_id) in faults["never_register"]:
            return False
        # Boot, then the agent's registration, counted from the launch, in scaled seconds.
        since_launch = (datetime.now(timezone.utc) - _aware(instance.launch_time)).total_seconds()
        latency = float(faults["boot_seconds"]) + float(faults["registration_seconds"])
        return since_launch >= latency * float(faults["time_scale"])

    def launched(self, ec2: Any, instance: Any) -> None:
        """What cloud-init does at an instance's first boot: runs its user data (a `#!` script)
        on its node, once the boot latency has passed, as root with the node's stand-ins."""
        try:
            script = instance.user_data.decode() if instance.user_data is not None else ""
        except (ValueError, UnicodeDecodeError):
            return
        if not script.startswith("#!"):
            return

        def boot() -> None:
            faults = self.faults.current()
            time.sleep(float(faults["boot_seconds"]) * float(faults["time_scale"]))
            if instance.state != "running":
                return
            node = self._node(ec2, instance.id)
            result = nodesim.run_shell(node, script, timeout=USER_DATA_TIMEOUT)
            # cloud-init's own log of the user data's output
            (node.node_dir / "cloud-init-output.log").write_text(
                f"{result.stdout}{result.stderr}exit code {result.exit_code} ({result.status})\n")

        threading.Thread(target=boot, daemon=True).start()

    # --- operations ------------------------------------------------------------------------

    def send_command(self, response: SimpleSystemManagerResponse) -> dict[str, Any]:
        ssm = ssm_backends[response.current_account][response.region]
        ec2 = ec2_backends[response.current_account][response.region]
        document_name = response._get_param("DocumentName")
        instance_ids: list[str] = response._get_param("InstanceIds", [])
        parameters = {k: (v[0] if isinstance(v, list) and v else "") for k, v in response._get_param("Parameters", {}).items()}
        if not instance_ids or len(instance_ids) > 50:
            raise InvalidInstanceId("InstanceIds must name 1 to 50 instances")
        offline = [i for i in instance_ids if not self.online(ec2, i)]
        if offline:
            raise InvalidInstanceId(f"Instances {offline} not in a valid state for account {response.current_account}")
        try:
            content = ssm.get_document(document_name, None, None, "YAML")["Content"]
        except Exception as error:  # noqa: BLE001
            raise InvalidDocument(f"document {document_name} does not exist") from error
        path = self.world_dir / "documents" / f"{document_name}-{uuid.uuid4().hex}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        try:
            document.check_parameters(document.load(path), parameters)
        except nodesim.InvalidParameters as error:
            raise JsonRESTError("InvalidParameters", str(error)) from error

        command_id = str(uuid.uuid4())
        command = {
            "CommandId": command_id,
            "DocumentName": document_name,
            "Comment": response._get_param("Comment", ""),
            "InstanceIds": instance_ids,
            "Parameters": {k: [v] for k, v in parameters.items()},
            "RequestedDateTime": time.time(),
            "Status": "InProgress",
            "invocations": {i: {"Status": "InProgress", "stdout": "", "stderr": "", "code": -1} for i in instance_ids},
        }
        with self.lock:
            self.commands[command_id] = command
        nodes = [self._node(ec2, i) for i in instance_ids]

        def resolve(name: str) -> str:
            parameter = ssm.get_parameter(name)
            if parameter is None:
                raise KeyError(name)
            return parameter.decrypt(parameter.value) or ""

        # MaxConcurrency: a count, or a percentage of the targets (SSM's two forms).
        limit = str(response._get_param("MaxConcurrency") or "50")
        if limit.endswith("%"):
            concurrency = max(1, len(instance_ids) * int(limit[:-1] or "100") // 100)
        else:
            concurrency = max(1, int(limit)) if limit.isdigit() else 50

        def run() -> None:
            results = nodesim.run_command(path, parameters, nodes, resolve, max_concurrency=concurrency)
            with self.lock:
                for result in results:
                    command["invocations"][result.instance_id] = {
                        "Status": result.status, "stdout": result.stdout, "stderr": result.stderr, "code": result.exit_code,
                    }
                statuses = {r.status for r in results}
                command["Status"] = "Success" if statuses == {"Success"} else "Failed"

        threading.Thread(target=run, daemon=True).start()
        return {"Command": self._public(command)}

    def _public(self, command: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in command.items() if k != "invocations"}

    def _invocation(self, command: dict[str, Any], instance_id: str, details: bool) -> dict[str, Any]:
        inv = command["invocations"][instance_id]
        out = {
            "CommandId": command["CommandId"],
            "InstanceId": instance_id,
            "DocumentName": command["DocumentName"],
            "Comment": command["Comment"],
            "Status": inv["Status"],
            "StatusDetails": inv["Status"],
            "RequestedDateTime": command["RequestedDateTime"],
        }
        if details:
            output = inv["stdout"] + (("\n----------ERROR-------\n" + inv["stderr"]) if inv["stderr"] else "")
            out["CommandPlugins"] = [{
                "Name": "aws:runShellScript", "Status": inv["Status"], "ResponseCode": inv["code"],
                "Output": output[:LIST_OUTPUT_LIMIT],
            }]
        return out

    def list_command_invocations(self, response: SimpleSystemManagerResponse) -> dict[str, Any]:
        command_id = response._get_param("CommandId")
        instance_id = response._get_param("InstanceId")
        details = bool(response._get_param("Details", False))
        with self.lock:
            commands = [self.commands[command_id]] if command_id in self.commands else ([] if command_id else list(self.commands.values()))
            found = [self._invocation(c, i, details) for c in commands for i in c["InstanceIds"] if not instance_id or i == instance_id]
        return {"CommandInvocations": found}

    def get_command_invocation(self, response: SimpleSystemManagerResponse) -> dict[str, Any]:
        command_id = response._get_param("CommandId")
        instance_id = response._get_param("InstanceId")
        with self.lock:
            command = self.commands.get(command_id)
            if command is None or instance_id not in command["invocations"]:
                raise InvocationDoesNotExist()
            inv = command["invocations"][instance_id]
            return {
                "CommandId": command_id, "InstanceId": instance_id, "DocumentName": command["DocumentName"],
                "Status": inv["Status"], "StatusDetails": inv["Status"], "ResponseCode": inv["code"],
                "StandardOutputContent": inv["stdout"][:24000], "StandardErrorContent": inv["stderr"][:8000],
            }

    def list_commands(self, response: SimpleSystemManagerResponse) -> dict[str, Any]:
        command_id = response._get_param("CommandId")
        instance_id = response._get_param("InstanceId")
        with self.lock:
            found = [self._public(c) for c in self.commands.values()
                     if (not command_id or c["CommandId"] == command_id)
                     and (not instance_id or instance_id in c["InstanceIds"])]
        return {"Commands": found}

    def cancel_command(self, response: SimpleSystemManagerResponse) -> dict[str, Any]:
        # The simulated scripts are short; a cancel marks what has not finished.
        command_id = response._get_param("CommandId")
        with self.lock:
            for inv in self.commands.get(command_id, {}).get("invocations", {}).values():
                if inv["Status"] == "InProgress":
                    inv["Status"] = "Cancelled"
        return {}

    def describe_instance_information(self, response: SimpleSystemManagerResponse) -> dict[str, Any]:
        ec2 = ec2_backends[response.current_account][response.region]
        # Filters (Key/Values) and the older InstanceInformationFilterList (key/valueSet).
        wanted: list[str] = []
        for f in response._get_param("Filters") or []:
            if f.get("Key") == "InstanceIds":
                wanted += f.get("Values") or []
        for f in response._get_param("InstanceInformationFilterList") or []:
            if f.get("key") == "InstanceIds":
                wanted += f.get("valueSet") or []
        candidates = wanted or [i.id for i in ec2.all_instances()]
        online = [i for i in candidates if self.online(ec2, i)]
        return {"InstanceInformationList": [
            {"InstanceId": i, "PingStatus": "Online", "PlatformType": "Linux", "PlatformName": "Ubuntu", "AgentVersion": "3.3.0", "ResourceType": "EC2Instance"}
            for i in online
        ]}


def _aware(moment: datetime | str) -> datetime:
    """moto keeps launch times as naive UTC datetimes (or ISO strings)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def install(service: RunCommand) -> None:
    """Routes moto's SSM Run Command operations to `service`, and hands it every launched
    instance (for its user data)."""
    from moto.ec2.models import EC2Backend

    run_instances = EC2Backend.run_instances

    def launch(self: Any, *args: Any, **kwargs: Any) -> Any:
        reservation = run_instances(self, *args, **kwargs)
        for instance in reservation.instances:
            service.launched(self, instance)
        return reservation

    EC2Backend.run_instances = launch  # type: ignore[method-assign]
    for operation in ["send_command", "list_command_invocations", "get_command_invocation", "list_commands", "cancel_command", "describe_instance_information"]:
        def handler(self: SimpleSystemManagerResponse, _op: str = operation) -> ActionResult:
            return ActionResult(getattr(service, _op)(self))
        setattr(SimpleSystemManagerResponse, operation, handler)
