"""SSM Run Command for the local world: the real documents, run on simulated nodes by a simulated
agent (nodesim/runner.py, nodesim/document.py), with the service's own rules.

moto's Run Command is a stub (every SendCommand succeeds at once, with no output, on every
instance). This replaces SendCommand, ListCommandInvocations, GetCommandInvocation, ListCommands,
DescribeInstanceInformation and CancelCommand in moto's SSM responses; every other SSM operation
stays moto's. Nodes are the emulator's EC2 instances: one simulated cluster per environment (its
`mec:environment` tag), the document as deployed (GetDocument).

Rules, on for every caller; faults.json `"lenient": [names]` switches them off (only for a test
that studies a rule's absence). The agent's own rules (agent-shell, agent-environment,
agent-parameter-references) are in nodesim/runner.py and nodesim/document.py.

| rule | what | source |
|---|---|---|
| send-command-validation | SendCommand's model constraints, ValidationException ("N validation error(s) detected: Value '…' at 'field' failed to satisfy constraint: …"): InstanceIds ≤ 50 and each `i-…`/`mi-…`; Comment ≤ 100; TimeoutSeconds 30–2592000; MaxConcurrency `^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$`; MaxErrors `^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$`; DocumentName required, `^[a-zA-Z0-9_\\-.:/]{3,128}$`; DocumentVersion `([$]LATEST|[$]DEFAULT|^[1-9][0-9]*$)`; DocumentHash ≤ 256 | botocore ssm/2014-11-06 SendCommandRequest and shapes InstanceIdList, InstanceId, Comment, TimeoutSeconds, MaxConcurrency, MaxErrors, DocumentARN, DocumentVersion, DocumentHash; the message shape is AWS's (moto's own ValidationExceptions use it) |
| send-command-document | the document must exist (InvalidDocument), be a Command document, have the requested version (InvalidDocumentVersion), and match DocumentHash (Sha256 by default, or Sha1) | botocore SendCommand errors and InvalidDocument / InvalidDocumentVersion docs ("The SSM document doesn't exist…", "The document version isn't valid or doesn't exist."); SendCommandRequest.DocumentHash/DocumentHashType |
| send-command-parameters | parameters known to the document, required ones given, allowedValues / allowedPattern (InvalidParameters); values with `{{ssm:…}}` are left to the agent | botocore InvalidParameters ("You must specify values for all required parameters… You can only supply values to parameters defined in the SSM document."); agent parameterstore.go validates resolved values |
| send-command-instances | every instance managed by SSM: running (or pending/stopping/stopped) and registered with SSM, else InvalidInstanceId "Instances [[i-…]] not in a valid state for account N" | botocore InvalidInstanceId docs (agent not running or not registered; valid states Running, Pending, Stopped, Stopping); message as AWS prints it |
| delivery-timeout | an invocation not started within TimeoutSeconds never starts; when the command expires (TimeoutSeconds + the document's execution timeout) it is TimedOut / DeliveryTimedOut, ResponseCode -1 | botocore SendCommandRequest.TimeoutSeconds ("If this time is reached and the command hasn't already started running, it won't run"), Command.ExpiresAfter; User Guide "Understanding command statuses" (delivery timeout = Timeout + execution timeout; expired Pending/InProgress/Delayed invocations become DeliveryTimedOut) |
| max-errors | once more than MaxErrors invocations (default 0; a count or a % of the targets) are Failed or ExecutionTimedOut, invocations not started are cancelled by the system: Cancelled / Terminated | botocore SendCommandRequest.MaxErrors, StatusDetails "Terminated"; User Guide "Understanding command statuses" |
| command-output-limits | the plugin Output (ListCommandInvocations Details) is the agent's TruncateOutput of stdout + "\\n----------ERROR-------\\n" + stderr to 2,500 bytes ("\\n---Output truncated---", "\\n---Error truncated----"); StandardOutputContent is the head of stdout cut at 24,000 with "--output truncated--" ending it; StandardErrorContent likewise at 24,000 by the agent (it uses MaxStdoutLength for both), then the first 8,000 by the service; both empty until the invocation ends | agent/framework/processor/executer/iohandler/iohandler.go (MaximumPluginOutputSize, TruncateOutput, String), runpluginutil.go (StringPrefix with DefaultOutputConfig), pluginutil.go (StringPrefix: `len < max` keeps it whole); botocore CommandPluginOutput max 2500, StandardOutputContent max 24000 / StandardErrorContent max 8000 ("The first 8,000 characters…"; "If the command hasn't finished running… empty") |

The model (always on):

- Statuses: an invocation is Pending (queued), Delayed (its instance unreachable: stopped, or its
  agent not running), InProgress, Cancelling, then Success, Failed, TimedOut (StatusDetails
  ExecutionTimedOut or DeliveryTimedOut), or Cancelled (Cancelled, or Terminated by MaxErrors).
  The command: Pending until one invocation starts, InProgress, Cancelling; then Success when all
  succeeded, Failed / TimedOut (StatusDetails Failed, ExecutionTimedOut, DeliveryTimedOut) when
  more than MaxErrors invocations ended so, Cancelled after a CancelCommand, else Success with
  StatusDetails Incomplete (botocore CommandStatus, CommandInvocationStatus, StatusDetails docs;
  User Guide "Understanding command statuses", the command Success row: "all invocations have
  reached a terminal state, and the value of max-errors wasn't reached").
- MaxConcurrency (default 50; a count or a % of the targets, at least 1) bounds the invocations in
  progress at once (botocore SendCommandRequest.MaxConcurrency).
- CancelCommand: Pending/Delayed invocations are Cancelled at once (ResponseCode -1); running ones
  are Cancelling until the agent has SIGKILLed the script's process group (runner.py); unknown
  command: InvalidCommandId (botocore CancelCommand errors).
- The network between nodes is the environment's security groups, evaluated per flow (protocol,
  port, source and destination instance) with the instances' states, refreshed into the
  environment's cluster state whenever a node is touched (a command, a boot) and after
  Terminate/Stop/StartInstances and security group rule changes (world/network.py); the
  `closed_ports` fault revokes the group rules for those ports.
- The agent's execution timeout (the document's timeoutSeconds, 5–172800 else 3600) and the
  delivery timeout run for their seconds x `command_timeout_scale` (faults.json, default 1; tests
  shorten them).

What the world still forgives: Targets (not simulated: refused with a message saying so), output
to S3/CloudWatch (the config is echoed, nothing is written), notifications, Rate Exceeded,
Undeliverable (unknown instances are refused at SendCommand instead), and the SSM service's own
messages for InvalidParameters, InvalidDocument and a hash mismatch (its words not found; the code
is AWS's, the message the world's).
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from moto.core.responses import ActionResult
from moto.ec2.models import ec2_backends
from moto.ssm.models import ssm_backends
from moto.ssm.responses import SimpleSystemManagerResponse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import nodesim  # noqa: E402
from world import iam  # noqa: E402
from world import network  # noqa: E402
from nodesim import document, runner  # noqa: E402
from world.errors import aws_error  # noqa: E402

# Real seconds a node's user data may run (its own waits are scaled, like every latency).
USER_DATA_TIMEOUT = 600.0
# How often the scheduler looks at a command's queue, delivery and expiry.
SCHEDULER_POLL_SECONDS = 0.05

# SendCommand's model (botocore ssm/2014-11-06).
MAX_INSTANCE_IDS = 50
MAX_COMMENT = 100
TIMEOUT_RANGE = (30, 2592000)
DEFAULT_DELIVERY_TIMEOUT = 3600
INSTANCE_ID = re.compile(r"(^i-(\w{8}|\w{17})$)|(^mi-\w{17}$)")
MAX_CONCURRENCY = re.compile(r"^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$")
MAX_ERRORS = re.compile(r"^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$")
DOCUMENT_NAME = re.compile(r"^[a-zA-Z0-9_\-.:/]{3,128}$")
DOCUMENT_VERSION = re.compile(r"([$]LATEST|[$]DEFAULT|^[1-9][0-9]*$)")
MAX_DOCUMENT_HASH = 256
DEFAULT_MAX_CONCURRENCY = "50"
DEFAULT_MAX_ERRORS = "0"
MAX_RESULTS_RANGE = (1, 50)  # CommandMaxResults

# The agent's output limits (iohandler.go, appconfig/constants.go) and the service's stderr cut.
PLUGIN_OUTPUT_LIMIT = 2500
STDOUT_LIMIT = 24000
SERVICE_STDERR_LIMIT = 8000
ERROR_TITLE = b"\n----------ERROR-------\n"
TRUNCATE_OUT = b"\n---Output truncated---"
TRUNCATE_ERROR = b"\n---Error truncated----"
TRUNCATED_SUFFIX = b"--output truncated--"

PENDING = ("Pending", "Delayed")
RUNNING = ("InProgress", "Cancelling")
ERRORS = ("Failed", "ExecutionTimedOut")


class Refusal(Exception):
    """An AWS error answer: the handler turns it into aws_error(response, status, code, message)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def architecture(instance_type: str) -> str:
    """Graviton families carry a `g` after the generation (t4g, m7gd, c7gn): the rule of
    functions/shared/src/instances.rs."""
    family = instance_type.split(".")[0]
    rest = family.lstrip("abcdefghijklmnopqrstuvwxyz")
    after = rest.lstrip("0123456789")
    return "arm64" if family == "a1" or (after != rest and after.startswith("g")) else "x86_64"


# --- output, as the agent and the service cut it ---------------------------------------------

def string_prefix(data: bytes, limit: int, suffix: bytes) -> bytes:
    """pluginutil.StringPrefix: whole when shorter than `limit`, else its head and `suffix`,
    `limit` bytes in all."""
    if len(data) < limit:
        return data
    if limit > len(suffix):
        return data[: limit - len(suffix)] + suffix
    return suffix[:limit]


def truncate_output(stdout: bytes, stderr: bytes, capacity: int = PLUGIN_OUTPUT_LIMIT) -> bytes:
    """iohandler.TruncateOutput: stdout, the error title and stderr in `capacity` bytes."""
    title = ERROR_TITLE if stderr else b""
    available = capacity - len(title)
    out_size, err_size = len(stdout), len(stderr)
    if out_size + err_size < available:
        return stdout + title + stderr
    if out_size > available // 2 and err_size > available // 2:
        size = available - len(TRUNCATE_ERROR) - len(TRUNCATE_OUT)
        return stdout[: size // 2] + TRUNCATE_OUT + title + stderr[: size // 2] + TRUNCATE_ERROR
    if out_size <= available // 2:
        size = available - len(TRUNCATE_ERROR)
        return stdout + title + stderr[: size - out_size] + TRUNCATE_ERROR
    size = available - len(TRUNCATE_OUT)
    return stdout[: size - err_size] + TRUNCATE_OUT + title + stderr


def _text(data: bytes) -> str:
    # The agent cuts bytes; JSON carries a split UTF-8 sequence as U+FFFD.
    return data.decode(errors="replace")


# --- commands ----------------------------------------------------------------------------------

@dataclass
class Invocation:
    instance_id: str
    status: str = "Pending"
    details: str = "Pending"
    code: int = -1
    stdout: str = ""
    stderr: str = ""
    trace: str = ""
    started: float | None = None
    finished: float | None = None
    agent: runner.Invocation = field(default_factory=runner.Invocation)

    def end(self, status: str, details: str, now: float) -> None:
        self.status, self.details, self.finished = status, details, now


@dataclass
class Command:
    command_id: str
    document_name: str
    document_version: str
    document_path: Path
    step_name: str
    comment: str
    instance_ids: list[str]
    parameters: dict[str, str]
    requested: float
    delivery_timeout: int
    execution_timeout: int
    max_concurrency: str
    max_errors: str
    scale: float
    region: str
    cloudwatch: dict[str, Any] | None
    invocations: dict[str, Invocation]
    cancel_requested: bool = False

    def counts(self) -> dict[str, int]:
        details = [i.details for i in self.invocations.values()]
        return {
            "TargetCount": len(details),
            "CompletedCount": sum(1 for i in self.invocations.values() if i.finished is not None),
            "ErrorCount": sum(1 for d in details if d in ERRORS),
            "DeliveryTimedOutCount": details.count("DeliveryTimedOut"),
        }

    def status(self) -> tuple[str, str]:
        """(Status, StatusDetails) of the whole command."""
        invocations = list(self.invocations.values())
        if any(i.status in PENDING + RUNNING for i in invocations):
            if self.cancel_requested:
                return "Cancelling", "Cancelling"
            if all(i.status in PENDING for i in invocations):
                return "Pending", "Pending"
            return "InProgress", "InProgress"
        if self.cancel_requested:
            return "Cancelled", "Cancelled"
        if all(i.status == "Success" for i in invocations):
            return "Success", "Success"
        allowed = limit(self.max_errors, len(invocations), minimum=0)
        failed = sum(1 for i in invocations if i.details == "Failed")
        timed_out = sum(1 for i in invocations if i.details == "ExecutionTimedOut")
        undelivered = sum(1 for i in invocations if i.details == "DeliveryTimedOut")
        if failed + timed_out > allowed:
            return ("Failed", "Failed") if failed else ("TimedOut", "ExecutionTimedOut")
        if undelivered > allowed:
            return "TimedOut", "DeliveryTimedOut"
        return "Success", "Incomplete"


def limit(value: str, targets: int, minimum: int) -> int:
    """MaxConcurrency / MaxErrors: a count, or a percentage of the targets."""
    if value.endswith("%"):
        return max(minimum, math.floor(targets * int(value[:-1]) / 100))
    return max(minimum, int(value))


def _iso(moment: float | None) -> str:
    if moment is None:
        return ""
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _aware(moment: datetime | str) -> datetime:
    """moto keeps launch times as naive UTC datetimes (or ISO strings)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _validation(errors: list[str]) -> Refusal:
    count = len(errors)
    return Refusal("ValidationException", f"{count} validation error{'s' if count > 1 else ''} detected: {'; '.join(errors)}")


def _length_error(value: Any, field_name: str, bound: int) -> str:
    return f"Value '{value}' at '{field_name}' failed to satisfy constraint: Member must have length less than or equal to {bound}"


def _pattern_error(value: Any, field_name: str, pattern: str) -> str:
    return f"Value '{value}' at '{field_name}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"


class RunCommand:
    """Commands and their per-instance invocations, run on the simulated nodes."""

    def __init__(self, world_dir: Path, faults: Any) -> None:
        self.world_dir = world_dir
        self.faults = faults
        self.commands: dict[str, Command] = {}
        self.lock = threading.RLock()
        self.wake = threading.Condition(self.lock)

    def lenient(self) -> frozenset[str]:
        return frozenset(self.faults.current().get("lenient") or ())

    # --- nodes -----------------------------------------------------------------------------

    def _tag(self, ec2: Any, instance_id: str, key: str, default: str) -> str:
        for tag in ec2.describe_tags(filters={"resource-id": [instance_id]}):
            if tag["key"] == key:
                return tag["value"]
        return default

    def _node(self, ec2: Any, instance_id: str, region: str = "us-east-1") -> nodesim.Node:
        """The instance as a simulated node, in its environment's cluster, with today's faults."""
        instance = ec2.get_instance(instance_id)
        environment = network.environment_of(ec2, instance_id)
        name = self._tag(ec2, instance_id, "Name", instance_id)
        faults = self.faults.current()
        cluster = nodesim.Cluster(self.world_dir / "clusters" / environment, environment)
        node = cluster.add_node(instance_id, instance.private_ip, instance.public_ip, region=region,
                                availability_zone=instance.placement.zone)
        # What the node's IMDS serves as its instance profile's credentials: the node's own calls
        # (the AWS CLI) are then decided by the node role's policies (world/iam).
        found = iam.credentials_for_instance(ec2.account_id, region, instance)
        if found is None:
            cluster.remove_credentials(instance_id)
        else:
            cluster.set_credentials(instance_id, *found)
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
            network.revoke_port(instance, int(port))
        # The environment's security groups, evaluated for every flow the cluster uses, and its
        # instances' states (world/network.py): the stand-ins decide joins, readiness and pod
        # traffic from them.
        view = network.from_moto(ec2, environment).view()
        cluster.set_network(view["flows"], view["instances"])
        return node

    def refresh_networks(self, ec2: Any, instance_ids: list[str] | None = None) -> None:
        """After a change the stand-ins must see before the next command (an instance stopped or
        terminated, a group's rules changed): the networks of the instances' environments, or
        of every environment the world has a cluster for."""
        clusters = self.world_dir / "clusters"
        if instance_ids is None:
            environments = {d.name for d in clusters.iterdir() if d.is_dir()} if clusters.is_dir() else set()
        else:
            environments = {network.environment_of(ec2, i) for i in instance_ids}
        for environment in sorted(environments):
            try:
                network.refresh(ec2, clusters, environment)
            except Exception as error:  # noqa: BLE001 - the EC2 call succeeded; the next command refreshes again
                print(f"(local world) network refresh of {environment} failed: {type(error).__name__}: {error}",
                      file=sys.stderr, flush=True)

    def registered(self, ec2: Any, instance_id: str) -> bool:
        """The instance's agent has registered with SSM: it booted once, for the boot and
        registration latencies, and is not shutting down or gone. A stopped instance stays
        registered (its ping status is ConnectionLost)."""
        try:
            instance = ec2.get_instance(instance_id)
        except Exception:  # noqa: BLE001 - unknown instance: not managed
            return False
        if instance.state not in ("pending", "running", "stopping", "stopped"):
            return False
        faults = self.faults.current()
        if self._tag(ec2, instance_id, "Name", instance_id) in faults["never_register"]:
            return False
        # Boot, then the agent's registration, counted from the launch, in scaled seconds.
        since_launch = (datetime.now(timezone.utc) - _aware(instance.launch_time)).total_seconds()
        latency = float(faults["boot_seconds"]) + float(faults["registration_seconds"])
        return since_launch >= latency * float(faults["time_scale"])

    def online(self, ec2: Any, instance_id: str) -> bool:
        """SSM can deliver commands to it now: registered and running."""
        try:
            running = ec2.get_instance(instance_id).state == "running"
        except Exception:  # noqa: BLE001 - unknown instance: not managed
            return False
        return running and self.registered(ec2, instance_id)

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
            result = nodesim.run_shell(node, script, timeout=USER_DATA_TIMEOUT, user_data=True,
                                       rules=runner.AgentRules.from_lenient(self.lenient()))
            # cloud-init's own log of the user data's output
            (node.node_dir / "cloud-init-output.log").write_text(
                f"{result.stdout}{result.stderr}exit code {result.exit_code} ({result.status})\n")

        threading.Thread(target=boot, daemon=True).start()

    # --- SendCommand -----------------------------------------------------------------------

    def _validate(self, response: SimpleSystemManagerResponse) -> None:
        """send-command-validation: the model's constraints."""
        errors: list[str] = []
        instance_ids = response._get_param("InstanceIds") or []
        if len(instance_ids) > MAX_INSTANCE_IDS:
            errors.append(_length_error(f"[{', '.join(instance_ids)}]", "instanceIds", MAX_INSTANCE_IDS))
        bad_ids = [i for i in instance_ids if not INSTANCE_ID.search(str(i))]
        if bad_ids:
            errors.append(f"Value '[{', '.join(map(str, instance_ids))}]' at 'instanceIds' failed to satisfy constraint: "
                          f"Member must satisfy constraint: [Member must satisfy regular expression pattern: {INSTANCE_ID.pattern}]")
        comment = response._get_param("Comment")
        if comment is not None and len(comment) > MAX_COMMENT:
            errors.append(_length_error(comment, "comment", MAX_COMMENT))
        timeout = response._get_param("TimeoutSeconds")
        if timeout is not None:
            if int(timeout) < TIMEOUT_RANGE[0]:
                errors.append(f"Value '{timeout}' at 'timeoutSeconds' failed to satisfy constraint: Member must have value greater than or equal to {TIMEOUT_RANGE[0]}")
            elif int(timeout) > TIMEOUT_RANGE[1]:
                errors.append(f"Value '{timeout}' at 'timeoutSeconds' failed to satisfy constraint: Member must have value less than or equal to {TIMEOUT_RANGE[1]}")
        for name, pattern, key in (("MaxConcurrency", MAX_CONCURRENCY, "maxConcurrency"), ("MaxErrors", MAX_ERRORS, "maxErrors")):
            value = response._get_param(name)
            if value is not None and (len(value) > 7 or not pattern.search(value)):
                errors.append(_pattern_error(value, key, pattern.pattern))
        name = response._get_param("DocumentName")
        if name is None:
            errors.append("Value null at 'documentName' failed to satisfy constraint: Member must not be null")
        elif not DOCUMENT_NAME.search(name):
            errors.append(_pattern_error(name, "documentName", DOCUMENT_NAME.pattern))
        version = response._get_param("DocumentVersion")
        if version is not None and not DOCUMENT_VERSION.search(version):
            errors.append(_pattern_error(version, "documentVersion", DOCUMENT_VERSION.pattern))
        digest = response._get_param("DocumentHash")
        if digest is not None and len(digest) > MAX_DOCUMENT_HASH:
            errors.append(_length_error(digest, "documentHash", MAX_DOCUMENT_HASH))
        if errors:
            raise _validation(errors)
        if response._get_param("Targets"):
            raise Refusal("ValidationException", "(local world) SendCommand Targets are not simulated: use InstanceIds")
        if not instance_ids:
            raise Refusal("ValidationException", "(local world) SendCommand needs InstanceIds (or Targets, not simulated)")

    def _document(self, ssm: Any, response: SimpleSystemManagerResponse, strict: bool) -> dict[str, Any]:
        """send-command-document: the deployed document of the requested version, hash checked."""
        from moto.ssm.models import Document

        name = response._get_param("DocumentName")
        version = response._get_param("DocumentVersion")
        documents = ssm._documents.get(name)
        if documents is None:
            raise Refusal("InvalidDocument", f"Document {name} doesn't exist or isn't available to this account.")
        if version in (None, "$DEFAULT"):
            found: Document | None = documents.get_default_version()
        elif version == "$LATEST":
            found = documents.get_latest_version()
        else:
            found = documents.find(version, None, strict=False)
        if found is None:
            if not strict:
                found = documents.get_default_version()
            else:
                raise Refusal("InvalidDocumentVersion", "The document version isn't valid or doesn't exist.")
        if strict and found.document_type != "Command":
            raise Refusal("InvalidDocument", f"Document {name} is of type {found.document_type}: SendCommand runs Command documents")
        digest = response._get_param("DocumentHash")
        if strict and digest:
            kind = response._get_param("DocumentHashType") or "Sha256"
            actual = (hashlib.sha1 if kind == "Sha1" else hashlib.sha256)(found.content.encode()).hexdigest()
            if digest.lower() != actual:
                raise Refusal("InvalidDocument", f"Document {name} version {found.document_version}: the document hash doesn't match the document")
        content = ssm._get_document_content("YAML", found)
        return {"content": content, "version": found.document_version}

    def send_command(self, response: SimpleSystemManagerResponse) -> dict[str, Any]:
        lenient = self.lenient()
        ssm = ssm_backends[response.current_account][response.region]
        ec2 = ec2_backends[response.current_account][response.region]
        if "send-command-validation" not in lenient:
            self._validate(response)
        instance_ids: list[str] = list(dict.fromkeys(response._get_param("InstanceIds") or []))
        deployed = self._document(ssm, response, "send-command-document" not in lenient)
        safe_name = re.sub(r"[^A-Za-z0-9_.-]", "_", str(response._get_param("DocumentName")))
        path = self.world_dir / "documents" / f"{safe_name}-{uuid.uuid4().hex}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(deployed["content"])
        doc = document.load(path)
        raw = response._get_param("Parameters") or {}
        parameters = {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in raw.items()}
        values: dict[str, str]
        try:
            values = document.check_parameters(doc, parameters)
        except document.InvalidParameters as error:
            if "send-command-parameters" not in lenient:
                raise Refusal("InvalidParameters", str(error)) from error
            values = {k: v for k, v in parameters.items() if isinstance(v, str)}
        if "send-command-instances" not in lenient:
            unmanaged = [i for i in instance_ids if not self.registered(ec2, i)]
            if unmanaged:
                raise Refusal("InvalidInstanceId", f"Instances [[{', '.join(unmanaged)}]] not in a valid state for account {response.current_account}")
        step = document.step_of(doc, path)
        timeout_text = document.substitute(str((step.get("inputs") or {}).get("timeoutSeconds", document.DEFAULT_TIMEOUT_SECONDS)), values)
        command = Command(
            command_id=str(uuid.uuid4()),
            document_name=response._get_param("DocumentName"),
            document_version=deployed["version"],
            document_path=path,
            step_name=str(step.get("name") or "runShellScript"),
            comment=response._get_param("Comment") or "",
            instance_ids=instance_ids,
            parameters={k: v for k, v in parameters.items() if isinstance(v, str)},
            requested=time.time(),
            delivery_timeout=int(response._get_param("TimeoutSeconds") or DEFAULT_DELIVERY_TIMEOUT),
            execution_timeout=document.execution_timeout(timeout_text),
            max_concurrency=response._get_param("MaxConcurrency") or DEFAULT_MAX_CONCURRENCY,
            max_errors=response._get_param("MaxErrors") or DEFAULT_MAX_ERRORS,
            scale=float(self.faults.current().get("command_timeout_scale", 1.0)),
            region=response.region,
            cloudwatch=response._get_param("CloudWatchOutputConfig"),
            invocations={},
        )
        for instance_id in instance_ids:
            invocation = Invocation(instance_id)
            invocation.agent.command_id, invocation.agent.region = command.command_id, response.region
            command.invocations[instance_id] = invocation
        with self.lock:
            self.commands[command.command_id] = command
        threading.Thread(target=self._schedule, args=(command, ec2, ssm), daemon=True).start()
        return {"Command": self._public(command)}

    # --- the service's side of a command ----------------------------------------------------

    def _schedule(self, command: Command, ec2: Any, ssm: Any) -> None:
        """Delivers the invocations: MaxConcurrency at a time, to reachable instances, within the
        delivery timeout; stops at MaxErrors; expires what was never delivered."""
        queue = list(command.instance_ids)
        targets = len(queue)
        concurrency = limit(command.max_concurrency, targets, minimum=1)
        allowed_errors = limit(command.max_errors, targets, minimum=0)
        delivery_deadline = command.requested + command.delivery_timeout * command.scale
        expiry = command.requested + (command.delivery_timeout + command.execution_timeout) * command.scale
        while True:
            lenient = self.lenient()
            starts: list[Invocation] = []
            with self.lock:
                now = time.time()
                queue = [i for i in queue if command.invocations[i].status in PENDING]
                invocations = command.invocations.values()
                running = sum(1 for i in invocations if i.status in RUNNING)
                if not queue and not running:
                    self.wake.notify_all()
                    return
                errors = sum(1 for i in invocations if i.details in ERRORS)
                if queue and errors > allowed_errors and "max-errors" not in lenient:
                    for instance_id in queue:
                        command.invocations[instance_id].end("Cancelled", "Terminated", now)
                    continue
                if queue and now >= expiry and "delivery-timeout" not in lenient:
                    for instance_id in queue:
                        command.invocations[instance_id].end("TimedOut", "DeliveryTimedOut", now)
                    continue
                if now < delivery_deadline or "delivery-timeout" in lenient:
                    for instance_id in queue:
                        if running + len(starts) >= concurrency:
                            break
                        invocation = command.invocations[instance_id]
                        if self.online(ec2, instance_id):
                            invocation.status = invocation.details = "InProgress"
                            invocation.started = now
                            starts.append(invocation)
                        else:
                            invocation.status = invocation.details = "Delayed"
                for invocation in starts:
                    threading.Thread(target=self._invoke, args=(command, invocation, ec2, ssm), daemon=True).start()
                self.wake.wait(SCHEDULER_POLL_SECONDS)

    def _lookup(self, ssm: Any) -> Callable[[str], tuple[str, str] | None]:
        """GetParameters, as the agent calls it for `{{ssm:NAME}}` (the node's role is not checked
        here): (Type, Value decrypted) or None."""

        def lookup(name: str) -> tuple[str, str] | None:
            try:
                parameter = ssm.get_parameter(name)
            except Exception:  # noqa: BLE001 - a missing version: an invalid parameter
                return None
            if parameter is None:
                return None
            value = parameter.decrypt(parameter.value) if parameter.parameter_type == "SecureString" else parameter.value
            return parameter.parameter_type, value or ""

        return lookup

    def _invoke(self, command: Command, invocation: Invocation, ec2: Any, ssm: Any) -> None:
        """The agent's run of one invocation, then its reply to the service."""
        rules = runner.AgentRules.from_lenient(self.lenient())
        try:
            node = self._node(ec2, invocation.instance_id, command.region)
            result = runner.run_document(node, command.document_path, command.parameters, self._lookup(ssm),
                                         timeout_scale=command.scale, invocation=invocation.agent, rules=rules)
        except Exception as error:  # noqa: BLE001 - the world failed, not the script: say so
            now = time.time()
            result = runner.Result(invocation.instance_id, "Failed", -1, "", "", 0.0,
                                   trace_output=f"(local world) {type(error).__name__}: {error}", started_at=now, finished_at=now)
        with self.lock:
            invocation.code = result.exit_code
            invocation.stdout, invocation.stderr, invocation.trace = result.stdout, result.stderr, result.trace_output
            invocation.end(result.status, result.status_details, time.time())
            self.wake.notify_all()

    # --- views ------------------------------------------------------------------------------

    def _public(self, command: Command) -> dict[str, Any]:
        status, details = command.status()
        public: dict[str, Any] = {
            "CommandId": command.command_id,
            "DocumentName": command.document_name,
            "DocumentVersion": command.document_version,
            "Comment": command.comment,
            "ExpiresAfter": command.requested + command.delivery_timeout + command.execution_timeout,
            "Parameters": {k: [v] for k, v in command.parameters.items()},
            "InstanceIds": command.instance_ids,
            "Targets": [],
            "RequestedDateTime": command.requested,
            "Status": status,
            "StatusDetails": details,
            "MaxConcurrency": command.max_concurrency,
            "MaxErrors": command.max_errors,
            "TimeoutSeconds": command.delivery_timeout,
            **command.counts(),
        }
        if command.cloudwatch:
            public["CloudWatchOutputConfig"] = command.cloudwatch
        return public

    def _outputs(self, invocation: Invocation, strict: bool) -> tuple[str, str, str]:
        """(plugin Output, StandardOutputContent, StandardErrorContent) of an invocation."""
        if invocation.finished is None:
            return "", "", ""
        if not strict:
            return invocation.stdout + (("\n----------ERROR-------\n" + invocation.stderr) if invocation.stderr else ""), invocation.stdout, invocation.stderr
        stdout, stderr = invocation.stdout.encode(), invocation.stderr.encode()
        output = _text(truncate_output(stdout, stderr))
        standard_out = _text(string_prefix(stdout, STDOUT_LIMIT, TRUNCATED_SUFFIX))
        # The agent cuts stderr with the stdout limit (runpluginutil.go); the service keeps 8,000.
        standard_err = _text(string_prefix(stderr, STDOUT_LIMIT, TRUNCATED_SUFFIX)[:SERVICE_STDERR_LIMIT])
        return output, standard_out, standard_err

    def _invocation(self, command: Command, invocation: Invocation, details: bool, strict: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "CommandId": command.command_id,
            "InstanceId": invocation.instance_id,
            "InstanceName": "",
            "DocumentName": command.document_name,
            "DocumentVersion": command.document_version,
            "Comment": command.comment,
            "Status": invocation.status,
            "StatusDetails": invocation.details,
            "RequestedDateTime": command.requested,
            "TraceOutput": invocation.trace,
            "StandardOutputUrl": "",
            "StandardErrorUrl": "",
        }
        if command.cloudwatch:
            out["CloudWatchOutputConfig"] = command.cloudwatch
        if details:
            output, _, _ = self._outputs(invocation, strict)
            plugin: dict[str, Any] = {
                "Name": command.step_name,
                "Status": invocation.status if invocation.status not in ("Delayed", "Cancelling") else ("Pending" if invocation.status == "Delayed" else "InProgress"),
                "StatusDetails": invocation.details,
                "ResponseCode": invocation.code,
                "Output": output,
                "StandardOutputUrl": "",
                "StandardErrorUrl": "",
            }
            if invocation.started is not None:
                plugin["ResponseStartDateTime"] = invocation.started
            if invocation.finished is not None and invocation.started is not None:
                plugin["ResponseFinishDateTime"] = invocation.finished
            out["CommandPlugins"] = [plugin]
        return out

    def list_command_invocations(self, response: SimpleSystemManagerResponse) -> dict[str, Any]:
        command_id = response._get_param("CommandId")
        instance_id = response._get_param("InstanceId")
        details = bool(response._get_param("Details", False))
        max_results = response._get_param("MaxResults")
        if max_results is not None and not MAX_RESULTS_RANGE[0] <= int(max_results) <= MAX_RESULTS_RANGE[1]:
            bound = "greater than or equal to 1" if int(max_results) < 1 else "less than or equal to 50"
            raise _validation([f"Value '{max_results}' at 'maxResults' failed to satisfy constraint: Member must have value {bound}"])
        strict = "command-output-limits" not in self.lenient()
        with self.lock:
            if command_id:
                commands = [self.commands[command_id]] if command_id in self.commands else []
            else:
                commands = list(self.commands.values())
            found = [self._invocation(c, c.invocations[i], details, strict) for c in commands for i in c.instance_ids
                     if not instance_id or i == instance_id]
        return self._page(response, "CommandInvocations", found, int(max_results or 50))

    @staticmethod
    def _page(response: SimpleSystemManagerResponse, key: str, items: list[dict[str, Any]], size: int) -> dict[str, Any]:
        start = int(response._get_param("NextToken") or 0)
        page: dict[str, Any] = {key: items[start:start + size]}
        if start + size < len(items):
            page["NextToken"] = str(start + size)
        return page

    def get_command_invocation(self, response: SimpleSystemManagerResponse) -> dict[str, Any]:
        command_id = response._get_param("CommandId")
        instance_id = response._get_param("InstanceId")
        plugin_name = response._get_param("PluginName")
        strict = "command-output-limits" not in self.lenient()
        with self.lock:
            command = self.commands.get(command_id)
            if command is None or instance_id not in command.invocations:
                raise Refusal("InvocationDoesNotExist", "")
            if plugin_name and plugin_name != command.step_name:
                raise Refusal("InvalidPluginName", "")
            invocation = command.invocations[instance_id]
            _, standard_out, standard_err = self._outputs(invocation, strict)
            elapsed = ""
            if invocation.started is not None and invocation.finished is not None:
                elapsed = f"PT{invocation.finished - invocation.started:.3f}S"
            return {
                "CommandId": command_id,
                "InstanceId": instance_id,
                "Comment": command.comment,
                "DocumentName": command.document_name,
                "DocumentVersion": command.document_version,
                "PluginName": command.step_name,
                "ResponseCode": invocation.code,
                "ExecutionStartDateTime": _iso(invocation.started),
                "ExecutionElapsedTime": elapsed,
                "ExecutionEndDateTime": _iso(invocation.finished),
                "Status": invocation.status,
                "StatusDetails": invocation.details,
                "StandardOutputContent": standard_out,
                "StandardOutputUrl": "",
                "StandardErrorContent": standard_err,
                "StandardErrorUrl": "",
                "CloudWatchOutputConfig": command.cloudwatch or {"CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": False},
            }

    def list_commands(self, response: SimpleSystemManagerResponse) -> dict[str, Any]:
        command_id = response._get_param("CommandId")
        instance_id = response._get_param("InstanceId")
        with self.lock:
            if command_id and command_id not in self.commands:
                raise Refusal("InvalidCommandId", "")
            found = [self._public(c) for c in self.commands.values()
                     if (not command_id or c.command_id == command_id)
                     and (not instance_id or instance_id in c.instance_ids)]
        return self._page(response, "Commands", found, int(response._get_param("MaxResults") or 50))

    def cancel_command(self, response: SimpleSystemManagerResponse) -> dict[str, Any]:
        """Pending invocations end Cancelled now; running ones are Cancelling until the agent has
        killed their script (runner.py)."""
        command_id = response._get_param("CommandId")
        only = set(response._get_param("InstanceIds") or [])
        with self.lock:
            command = self.commands.get(command_id)
            if command is None:
                raise Refusal("InvalidCommandId", "")
            now = time.time()
            for invocation in command.invocations.values():
                if only and invocation.instance_id not in only:
                    continue
                if invocation.status in PENDING:
                    invocation.end("Cancelled", "Cancelled", now)
                elif invocation.status == "InProgress":
                    invocation.status = invocation.details = "Cancelling"
                    invocation.agent.cancel.set()
                else:
                    continue
                command.cancel_requested = True
            self.wake.notify_all()
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
        listed = []
        for instance_id in candidates:
            if not self.registered(ec2, instance_id):
                continue
            ping = "Online" if self.online(ec2, instance_id) else "ConnectionLost"
            listed.append({"InstanceId": instance_id, "PingStatus": ping, "PlatformType": "Linux",
                           "PlatformName": runner.PLATFORM_NAME, "PlatformVersion": runner.PLATFORM_VERSION,
                           "AgentVersion": "3.3.0", "ResourceType": "EC2Instance"})
        return {"InstanceInformationList": listed}


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

    def refreshing(name: str, ids_of: Callable[[tuple[Any, ...], dict[str, Any]], list[str] | None]) -> None:
        """After `name` the stand-ins see the instances' new states or the groups' new rules."""
        original = getattr(EC2Backend, name)

        def changed(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(self, *args, **kwargs)
            service.refresh_networks(self, ids_of(args, kwargs))
            return result

        setattr(EC2Backend, name, changed)

    def instance_ids(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[str] | None:
        return list(args[0] if args else kwargs.get("instance_ids") or [])

    for name in ("terminate_instances", "stop_instances", "start_instances"):
        refreshing(name, instance_ids)
    for name in ("authorize_security_group_ingress", "revoke_security_group_ingress",
                 "authorize_security_group_egress", "revoke_security_group_egress",
                 "modify_instance_attribute", "modify_network_interface_attribute"):
        refreshing(name, lambda args, kwargs: None)
    for operation in ["send_command", "list_command_invocations", "get_command_invocation", "list_commands", "cancel_command", "describe_instance_information"]:
        def handler(self: SimpleSystemManagerResponse, _op: str = operation) -> Any:
            try:
                return ActionResult(getattr(service, _op)(self))
            except Refusal as refusal:
                return aws_error(self, refusal.status, refusal.code, refusal.message)
        setattr(SimpleSystemManagerResponse, operation, handler)
