"""Faults and latencies of the local world, read from a JSON file on every decision so that a
test (or a person) can change them while the world runs.

    {
      "aws_error_rate": 0.1,                       # share of the Lambdas' AWS calls answered with
                                                   #   throttling or a 5xx (before moto sees them)
      "fail_operations": {"CreateSubnet": "UnauthorizedOperation"},   # always fail these calls
      "fail_times": {"CreateVpc": {"times": 3, "kind": "throttle"}},  # the first `times` calls of
                                                   #   these (since faults.json was written) get
                                                   #   the service's throttling ("throttle") or a
                                                   #   5xx ("server"), then they succeed
      "lost_response_rate": 0.2,                   # share of the Lambdas' mutating calls that are
                                                   #   applied, then their answer is lost
      "lost_response_operations": [],              # which calls may lose their answer (empty: every
                                                   #   name starting with MUTATING_PREFIXES)
      "lost_response_kinds": ["error", "drop"],    # "error": a 5xx in the service's protocol;
                                                   #   "drop": the connection is cut, no HTTP answer
      "invoke_service_exception_rate": 0.0,        # share of Step Functions' Lambda invokes that the
                                                   #   Lambda service answers ServiceException (500)
      "invoke_throttle_rate": 0.0,                 # ... TooManyRequestsException (429)
      "invoke_fault_functions": [],                # the functions those two apply to (empty: all)
      "invoke_faults_after_run": false,            # true: the function runs, then its invoke fails
      "timeout_functions": ["lab-join"],           # these functions run, but their answer is held
                                                   #   until their timeout: Sandbox.Timedout
      "never_register": ["lab-1-worker-0"],        # SSM never reports these nodes Online
      "fail_install": ["lab-1-worker-1"],          # the install document fails on these nodes
      "never_ready": ["lab-1-worker-1"],           # joined, but never Ready on the master
      "closed_ports": [25000],                     # the nodes' groups lose their tcp/udp rules
                                                   #   for these ports (world/network.py)
      "capacity": {"spot": true, "on_demand": false,   # RunInstances answers "no capacity" for
                   "azs": ["us-east-1a"]},             #   these markets in these zones (empty or
                                                   #   absent azs: every zone); "code" overrides
                                                   #   the error (e.g. MaxSpotInstanceCountExceeded)
      "fail_addons": ["edgex"],                    # these catalogue add-ons fail to install
      "unhealthy_addons": ["openebs"],             # installed, but never healthy
      "boot_seconds": 0,                           # RunInstances to running (EC2)
      "registration_seconds": 0,                   # then until the SSM agent is Online
      "install_seconds": 0, "join_seconds": 0,     # MicroK8s install and join latencies
      "download_seconds": 0,                       # the share of install_seconds that is the
                                                   #   snap download (user data runs it at boot)
      "ready_seconds": 0,                          # install to `microk8s status --wait-ready`
      "joined_ready_seconds": 0,                   # join to the node Ready on the master
      "addon_seconds": 0,                          # per `microk8s enable`
      "time_scale": 0.01,                          # the scripts' own sleeps and every latency
                                                   #   above, scaled
      "wait_scale": 1.0,                           # Step Functions Wait states sleep Seconds x
                                                   #   this (the benchmarks set it = time_scale)
      "consistency_seconds": 0.5,                  # EC2: a new ID is NotFound to calls naming it
                                                   #   for this long, real seconds (ec2_time.py)
      "shutdown_seconds": 30,                      # EC2: shutting-down to terminated (scaled)
      "volume_delete_seconds": 300,                # EC2: a DeleteOnTermination volume is
                                                   #   `deleting` this long after (scaled)
      "command_timeout_scale": 1.0,                # SSM: SendCommand's TimeoutSeconds and the
                                                   #   documents' timeoutSeconds run for seconds x
                                                   #   this (world/runcommand.py; tests shorten them)
      "lenient": ["sg-rule-description"]           # switch these AWS rules off (only for a test
                                                   #   of a rule's absence): ec2_rules.py, ec2_time.py
    }

Faults only hit calls from the Lambda binaries (their user agent carries exec-env/AWS_Lambda),
never Terraform's or the tests' own; the invoke faults only hit Step Functions' own Lambda
invokes (world/invoke_faults.py).

Every fault the world injects is one JSON line in <state>/logs/faults.jsonl (`read_faults`), so
that a test can prove a fault was exercised rather than absorbed by the SDK's own retries.

Error answers, and where each comes from (every answer through world/errors.py `aws_error`):

| answer | service: status code | source |
|---|---|---|
| 5xx (rate, lost response) | ec2: 500 InternalError, 503 Unavailable | EC2 API reference, "Error codes for the Amazon EC2 API", server errors |
| | ssm: 500 InternalServerError | botocore ssm/2014-11-06 shape InternalServerError (fault) |
| | scheduler: 500 InternalServerException | botocore scheduler/2021-06-30 shape InternalServerException |
| | awslambda: 500 ServiceException | botocore lambda/2015-03-31 shape ServiceException |
| | iam: 500 ServiceFailure | botocore iam/2010-05-08 shape ServiceFailureException (code ServiceFailure) |
| | kms: 500 KMSInternalException | botocore kms/2014-11-01 shape KMSInternalException (fault) |
| | others (stepfunctions...): 500 InternalFailure, 503 ServiceUnavailable | each API reference's "Common Errors" |
| throttling (rate) | ec2: 503 RequestLimitExceeded | EC2 API reference, "Request throttling for the Amazon EC2 API" |
| | scheduler: 429 ThrottlingException; awslambda: 429 TooManyRequestsException | botocore shapes (httpStatusCode 429) |
| | iam: 400 Throttling; JSON services: 400 ThrottlingException | "Common Errors" (ssm: botocore shape ThrottlingException) |
| dropped connection | the socket is shut down after the call was applied: the SDK reads EOF / reset, no HTTP answer | werkzeug.serving: the connection is `werkzeug.socket` in the WSGI environ |

Rules (on for every caller; faults.json `"lenient": [name]` switches one off):

| rule | what | source |
|---|---|---|
| run-instances-client-token | RunInstances again with a ClientToken that a successful RunInstances used: the same parameters (the Availability Zone aside) get the first call's answer and launch nothing; other parameters get 400 IdempotentParameterMismatch. A failed call binds nothing. | EC2 Developer Guide, "Ensuring idempotency in Amazon EC2 API requests" ("the same response is returned for each repeated request"; "change another request parameter ... IdempotentParameterMismatch"; "other than Region or Availability Zone"); botocore ec2 RunInstancesRequest.ClientToken (`idempotencyToken`: the SDKs fill in a random one) |

| create-route-table-client-token | the same for CreateRouteTable (whose token the SDKs fill in when the caller does not) | same guide (CreateRouteTable among the actions with a client token); botocore ec2 CreateRouteTableRequest.ClientToken (`idempotencyToken`) |

Without these rules a lost answer would create twice in the emulator on a retry that AWS answers
without creating: moto keeps RunInstances' token but never looks it up, and ignores
CreateRouteTable's. (EventBridge Scheduler's CreateSchedule token is not emulated: moto answers a
repeat ConflictException, which mec's lifecycle step already handles by updating.)

IAM rule names for "lenient" (world/iam/__init__.py, every call signed with a role session):
iam-policies, iam-implied, kms-key-policy, iam-unmapped, iam-session-token.
SSM rule names for "lenient": send-command-validation, send-command-document,
send-command-parameters, send-command-instances, delivery-timeout, max-errors,
command-output-limits (world/runcommand.py); agent-shell, agent-environment,
agent-parameter-references (nodesim/runner.py, nodesim/document.py); parameter-value-size,
parameter-tier-downgrade, parameter-policies-tier, parameter-name, parameter-hierarchy-depth,
parameter-description-length, parameter-nested-reference, parameter-kms-key, parameter-path,
parameter-batch-size (world/parameters.py).
EC2 rule names for "lenient": sg-group-name, sg-description, sg-rule-description,
client-token-length, tag-key-length, tag-value-length, tag-aws-prefix, tag-count, subnet-cidr-size,
max-results, max-results-with-ids, id-list-length, run-instances-count, one-attribute-per-call
(world/ec2_rules.py); eventual-consistency, eventual-consistency-filters, volume-deleting,
dependency-subnet, dependency-security-group, dependency-igw-detach, dependency-igw-delete,
dependency-vpc (world/ec2_time.py); subnet-zone-opt-in, edge-instance-type, edge-volume-type,
edge-spot, wavelength-no-public-ip, carrier-gateway-per-vpc, dependency-vpc-carrier-gateway,
edge-zone-unknown, edge-zone-filter (world/edge_rules.py).
"""

from __future__ import annotations

import hashlib
import json
import random
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

from moto.core.responses import BaseResponse

from world.errors import Answer, aws_error

DEFAULTS: dict[str, Any] = {
    "aws_error_rate": 0.0,
    "fail_operations": {},
    "fail_times": {},
    # Lost responses: the call is applied, then its answer is a 5xx or a cut connection.
    "lost_response_rate": 0.0,
    "lost_response_operations": [],
    "lost_response_kinds": ["error", "drop"],
    # Step Functions' own Lambda invokes (world/invoke_faults.py).
    "invoke_service_exception_rate": 0.0,
    "invoke_throttle_rate": 0.0,
    "invoke_fault_functions": [],
    "invoke_faults_after_run": False,
    "timeout_functions": [],
    "never_register": [],
    "fail_install": [],
    "never_ready": [],
    "closed_ports": [],
    "capacity": {},
    "fail_addons": [],
    "unhealthy_addons": [],
    "boot_seconds": 0.0,
    "registration_seconds": 0.0,
    "install_seconds": 0.0,
    "join_seconds": 0.0,
    "ready_seconds": 0.0,
    "joined_ready_seconds": 0.0,
    "addon_seconds": 0.0,
    "download_seconds": 0.0,
    "time_scale": 0.01,
    "wait_scale": 1.0,
    # EC2 in time (world/ec2_time.py): consistency is real seconds, the other two x time_scale.
    "consistency_seconds": 0.5,
    "shutdown_seconds": 30.0,
    "volume_delete_seconds": 300.0,
    # SSM Run Command's delivery and execution timeouts run for seconds x this (world/runcommand.py).
    "command_timeout_scale": 1.0,
    # Names of AWS rules switched off (world/ec2_rules.py, world/ec2_time.py, world/iam, ...).
    "lenient": [],
}

# The calls that change something: a lost answer to one of these is what idempotency is about.
MUTATING_PREFIXES = ("Create", "Run", "Put", "Delete", "Modify", "Attach", "Detach", "Associate", "Disassociate",
                     "Authorize", "Terminate", "Send", "Start", "Update", "Tag")

# (status, code) of each service's server errors and throttling; sources in the module docstring.
SERVER_ERRORS: dict[str, list[tuple[int, str]]] = {
    "ec2": [(500, "InternalError"), (503, "Unavailable")],
    "ssm": [(500, "InternalServerError")],
    "scheduler": [(500, "InternalServerException")],
    "awslambda": [(500, "ServiceException")],
    "iam": [(500, "ServiceFailure")],
    "kms": [(500, "KMSInternalException")],
}
COMMON_SERVER_ERRORS = [(500, "InternalFailure"), (503, "ServiceUnavailable")]
THROTTLING: dict[str, tuple[int, str]] = {
    "ec2": (503, "RequestLimitExceeded"),
    "scheduler": (429, "ThrottlingException"),
    "awslambda": (429, "TooManyRequestsException"),
    "iam": (400, "Throttling"),
}
COMMON_THROTTLING = (400, "ThrottlingException")

# EC2 operations whose ClientToken makes a retry idempotent, and the rule that says so. The SDKs
# fill both tokens in when the caller does not (botocore ec2: `idempotencyToken` on
# RunInstancesRequest.ClientToken and CreateRouteTableRequest.ClientToken), so an SDK's own retry
# after a lost answer repeats the token.
CLIENT_TOKEN_RULES = {"RunInstances": "run-instances-client-token", "CreateRouteTable": "create-route-table-client-token"}


class Faults:
    """Today's faults (re-read on every decision), the world's dice, and the log of what fired."""

    def __init__(self, path: Path, log_path: Path | None = None) -> None:
        self.path = path
        self.log_path = log_path or path.parent / "logs" / "faults.jsonl"
        self.lock = threading.Lock()
        self.random = random.Random(7)
        self.spent: dict[tuple[int, str], int] = {}

    def current(self) -> dict[str, Any]:
        try:
            loaded = json.loads(self.path.read_text())
        except (OSError, ValueError):
            loaded = {}
        return {**DEFAULTS, **loaded}

    def roll(self, rate: float) -> bool:
        with self.lock:
            return self.random.random() < rate

    def choice(self, options: list[Any] | tuple[Any, ...]) -> Any:
        with self.lock:
            return self.random.choice(list(options))

    def spend(self, action: str, times: int) -> bool:
        """True for the first `times` calls of `action` since faults.json was last written (its
        mtime keys the count), then False: a fault that fails N times and then lets the call
        through, so that a test knows the SDK's own retries ran out and the step's did not."""
        try:
            written = self.path.stat().st_mtime_ns
        except OSError:
            written = 0
        with self.lock:
            key = (written, action)
            spent = self.spent.get(key, 0)
            if spent >= times:
                return False
            self.spent[key] = spent + 1
            return True

    def record(self, kind: str, service: str, operation: str, function: str | None = None, **detail: Any) -> None:
        """Appends one injected fault to the log: what a test reads to know it was exercised."""
        line = json.dumps({"time": time.time(), "kind": kind, "service": service, "operation": operation,
                           "function": function, **detail})
        with self.lock:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_path, "a") as out:
                out.write(line + "\n")


def read_faults(state: Path, since: float = 0.0, **match: Any) -> list[dict[str, Any]]:
    """The faults the world at `state` (its state folder, or the log itself) injected so far,
    oldest first: those recorded at or after `since` (time.time()) whose fields equal `match`,
    e.g. read_faults(state, kind="lost-response", operation="RunInstances")."""
    path = state / "logs" / "faults.jsonl" if state.is_dir() else state
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    records = [json.loads(line) for line in lines if line.strip()]
    return [r for r in records
            if r["time"] >= since and all(r.get(key) == value for key, value in match.items())]


def _capacity_error(response: BaseResponse, capacity: dict[str, Any]) -> Answer | None:
    """EC2's answer when `capacity` says the requested market has nothing in the requested zone."""
    def param(name: str) -> str:
        return (response.querystring.get(name) or [""])[0]

    spot = param("InstanceMarketOptions.MarketType").lower() == "spot"
    if not capacity.get("spot" if spot else "on_demand", False):
        return None
    zone = param("Placement.AvailabilityZone")
    subnet_id = param("SubnetId")
    if not zone and subnet_id:
        from moto.ec2.models import ec2_backends

        try:
            zone = ec2_backends[response.current_account][response.region].get_subnet(subnet_id).availability_zone
        except Exception:  # noqa: BLE001 - an unknown subnet is moto's error to give
            return None
    zones = capacity.get("azs") or []
    if zones and zone not in zones:
        return None
    code = capacity.get("code") or "InsufficientInstanceCapacity"
    if spot:
        message = "There is no Spot capacity available that matches your request."
    else:
        message = (f"We currently do not have sufficient {param('InstanceType')} capacity "
                   f"in the Availability Zone you requested ({zone}).")
    # EC2 lists the Insufficient* codes among its server errors.
    return aws_error(response, 500 if code.startswith("Insufficient") else 400, code, message + " (injected)")


def _service(response: BaseResponse) -> str:
    return (response.service_name or "unknown").lower()


def _server_error(faults: Faults, response: BaseResponse, message: str) -> tuple[Answer, str]:
    status, code = faults.choice(SERVER_ERRORS.get(_service(response), COMMON_SERVER_ERRORS))
    return aws_error(response, status, code, message), code


def _throttling(response: BaseResponse) -> tuple[Answer, str]:
    status, code = THROTTLING.get(_service(response), COMMON_THROTTLING)
    return aws_error(response, status, code, "Rate exceeded (injected)"), code


def _refused_before(faults: Faults, now: dict[str, Any], response: BaseResponse, action: str) -> Answer | None:
    """The faults that refuse a Lambda binary's call before moto sees it (nothing is applied)."""
    service = _service(response)
    if action in now["fail_operations"]:
        code = now["fail_operations"][action]
        faults.record("aws-error", service, action, cause="fail_operations", code=code)
        return aws_error(response, 400, code, f"{action} refused (injected fault)")
    counted = (now["fail_times"] or {}).get(action)
    if counted and faults.spend(action, int(counted.get("times", 1))):
        throttle = counted.get("kind", "throttle") == "throttle"
        answer, code = _throttling(response) if throttle else _server_error(faults, response, "injected 5xx")
        faults.record("aws-error", service, action, cause="fail_times", code=code, status=answer[0])
        return answer
    if action == "RunInstances" and now["capacity"]:
        refused = _capacity_error(response, now["capacity"])
        if refused is not None:
            faults.record("aws-error", service, action, cause="capacity", code=now["capacity"].get("code") or "InsufficientInstanceCapacity")
            return refused
    if now["aws_error_rate"] and faults.roll(now["aws_error_rate"]):
        answer, code = _throttling(response) if faults.roll(0.5) else _server_error(faults, response, "injected 5xx")
        faults.record("aws-error", service, action, cause="aws_error_rate", code=code, status=answer[0])
        return answer
    return None


def loses_response(now: dict[str, Any], action: str) -> bool:
    """Whether `action` is one whose answer may be lost (lost_response_operations, else mutating)."""
    chosen = now["lost_response_operations"]
    return action in chosen if chosen else action.startswith(MUTATING_PREFIXES)


def _drop_connection(response: BaseResponse) -> bool:
    """Cuts the caller's connection after its call was applied: no HTTP answer reaches it, the SDK
    reads EOF (then a reset). werkzeug then fails to write the answer (a broken pipe, which it
    treats as a dropped connection) and closes the socket. False when there is no socket (moto
    not behind werkzeug), so the caller falls back to a 5xx."""
    environ = getattr(getattr(response, "normalized_request", None), "environ", None) or {}
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return False
    try:
        # Linger 0: when werkzeug closes the socket, the kernel sends RST rather than a clean close.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        return False
    return True


def _lose(faults: Faults, now: dict[str, Any], response: BaseResponse, action: str, answer: Any) -> Any:
    """The applied call's answer, lost: a 5xx in the service's protocol, or a cut connection."""
    service = _service(response)
    kind = faults.choice(now["lost_response_kinds"] or ["error"])
    if kind == "drop" and _drop_connection(response):
        faults.record("lost-response", service, action, mode="drop")
        return answer  # written to a shut socket: it never arrives
    lost, code = _server_error(faults, response, f"{action} was applied; its response was lost (injected)")
    faults.record("lost-response", service, action, mode="error", code=code, status=lost[0])
    return lost


class ClientTokens:
    """EC2 answers by ClientToken (rules run-instances-client-token, create-route-table-client-token):
    a retry with the same token and parameters gets the first answer and creates nothing; with
    other parameters, IdempotentParameterMismatch. Only successful calls bind a token."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answers: dict[tuple[str, str, str, str], tuple[str, Any]] = {}
        self.in_progress: dict[tuple[str, str, str, str], threading.Lock] = {}

    # Not compared: the token itself, and the Availability Zone ("one or more parameters change
    # (other than Region or Availability Zone)": EC2 Developer Guide, ec2-api-idempotency).
    IGNORED = frozenset({"ClientToken", "Placement.AvailabilityZone"})

    @classmethod
    def _fingerprint(cls, response: BaseResponse) -> str:
        params = {k: v for k, v in response.querystring.items() if k not in cls.IGNORED}
        return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()

    def call(self, response: BaseResponse, action: str, apply: Any) -> Any:
        token = (response.querystring.get("ClientToken") or [""])[0]
        if not token:
            return apply()
        key = (response.current_account, response.region, action, token)
        fingerprint = self._fingerprint(response)
        # One RunInstances per token at a time (AWS never launches twice for one token); calls
        # with other tokens go on in parallel.
        with self.lock:
            token_lock = self.in_progress.setdefault(key, threading.Lock())
        with token_lock:
            seen = self.answers.get(key)
            if seen is not None:
                if seen[0] != fingerprint:
                    return aws_error(response, 400, "IdempotentParameterMismatch",
                                     "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
                status, headers, body = seen[1]
                return status, dict(headers), body
            answer = apply()
            if _answer_ok(answer):
                self.answers[key] = (fingerprint, (answer[0], dict(answer[1]), answer[2]))
            return answer


def _answer_ok(answer: Any) -> bool:
    """A successful (status, headers, body) answer: the only kind whose loss matters."""
    return isinstance(answer, tuple) and len(answer) == 3 and int(answer[0]) < 400


def install(faults: Faults) -> None:
    """Wraps every moto service's action dispatch with the configured faults and the ClientToken rule."""
    original = BaseResponse.call_action
    tokens = ClientTokens()

    def call_action(self: BaseResponse) -> Any:
        from_lambda = "exec-env/AWS_Lambda" in (self.headers.get("User-Agent") or "")
        # Kept cheap for every other call: only the Lambdas' calls and the ClientToken operations
        # read faults.json.
        action = self._get_action() if from_lambda or _service(self) == "ec2" else ""
        if not from_lambda and action not in CLIENT_TOKEN_RULES:
            return original(self)
        now = faults.current()
        if from_lambda:
            refused = _refused_before(faults, now, self, action)
            if refused is not None:
                return refused
        if action in CLIENT_TOKEN_RULES and _service(self) == "ec2" and CLIENT_TOKEN_RULES[action] not in (now.get("lenient") or []):
            answer = tokens.call(self, action, lambda: original(self))
        else:
            answer = original(self)
        if (from_lambda and now["lost_response_rate"] and _answer_ok(answer) and loses_response(now, action)
                and faults.roll(now["lost_response_rate"])):
            return _lose(faults, now, self, action, answer)
        return answer

    BaseResponse.call_action = call_action  # type: ignore[method-assign]
    _scale_waits(faults)


def _scale_waits(faults: Faults) -> None:
    """Step Functions Wait states and Retry intervals sleep their seconds x wait_scale, so that a
    time-scaled world polls and retries at the deployed intervals, scaled like everything else."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    def wait_interval(self: WaitFunction, env: Any, wait_seconds: int) -> None:
        deadline = time.monotonic() + max(wait_seconds, 0) * float(faults.current()["wait_scale"])
        while env.is_running():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            env.program_state_event.wait(remaining)

    WaitFunction._wait_interval = wait_interval  # type: ignore[method-assign]

    class ScaledTime:
        """The retrier's `time`, with its sleep between attempts scaled like the Wait states."""

        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

        def sleep(self, seconds: float) -> None:
            time.sleep(seconds * float(faults.current()["wait_scale"]))

    retrier_decl.time = ScaledTime()  # type: ignore[assignment]
