"""The world's IAM check on every call, installed around moto's dispatch (BaseResponse.call_action).

A call signed with a role session's key (principals.py) is mapped to its checks (operations.py),
each check decided from the role's policies (policy.py), and the first denial answered as AWS
answers it; every denial is one JSON line in <state>/logs/iam-denied.jsonl (principal, action,
resource, what allowed or denied, near misses, the statement that would allow it), every call the
map does not know one line in <state>/logs/iam-unmapped.jsonl. Any other caller is the account's
administrator. IAM writes drop the compiled policies.

AWS's answers (the denial message: IAM User Guide, "Troubleshoot access denied error messages"):

| service | status, code | source |
|---|---|---|
| EC2 | 403 UnauthorizedOperation, "You are not authorized to perform this operation. User: … Encoded authorization failure message: …" | EC2 API Reference, "Error codes" (UnauthorizedOperation); EC2 User Guide, "Decode an encoded authorization failure message"; observed: github.com/aws/karpenter-provider-aws issue 7370 |
| SSM | 400 AccessDeniedException | botocore ssm service-2.json shape AccessDeniedException (no httpStatusCode: 400) |
| Step Functions, KMS (JSON protocols) | 400 AccessDeniedException | each API Reference's "Common Errors" (AccessDeniedException, HTTP 400); observed for KMS: "(Service: Kms, Status Code: 400, …)", github.com/cattle-ops/terraform-aws-gitlab-runner PR 1253 |
| Scheduler, Lambda (REST-JSON) | 403 AccessDeniedException | observed: Scheduler "StatusCode: 403 … AccessDeniedException", github.com/ministryofjustice/modernisation-platform PR 7930; Lambda "(Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException …)", github.com/awslabs/aws-deployment-framework issue 460 |
| IAM, STS (query) | 403 AccessDenied | IAM / STS API Reference, "Common errors" |
| SSM → KMS (SecureString) | 400 AccessDeniedException, KMS's message with "(Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; Request ID: …)"; a denied Decrypt says "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access." | observed: github.com/Droplr/aws-env issue 29, github.com/tryolabs/aws-workshop issue 6 |
| a session key with a wrong or missing token | JSON/REST: UnrecognizedClientException, EC2: 401 AuthFailure, query: 403 InvalidClientTokenId — "The security token included in the request is invalid." | AWS General Reference / each API Reference, "Common errors" |
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from world.errors import aws_error
from world.iam import operations, policy
from world.iam.principals import Principals, Session

# Rule names (faults.json "lenient" switches them off; see __init__.py).
POLICIES = "iam-policies"
UNMAPPED = "iam-unmapped"
IMPLIED = "iam-implied"
KEY_POLICY = "kms-key-policy"
SESSION_TOKEN = "iam-session-token"

STATUS = {"ec2": 403, "scheduler": 403, "awslambda": 403, "iam": 403, "sts": 403}
QUERY = {"iam", "sts"}


@dataclass(frozen=True)
class Denial:
    check: operations.Check
    decision: policy.Decision | None  # None: the operation is not in the map


class Logs:
    """The two JSON-lines logs, shared by every thread of the world."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.denied = open(directory / "iam-denied.jsonl", "a")  # noqa: SIM115 - lives as long as the world
        self.unmapped = open(directory / "iam-unmapped.jsonl", "a")  # noqa: SIM115

    def write(self, out: Any, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, default=str)
        with self.lock:
            out.write(line + "\n")
            out.flush()


class Enforcer:
    def __init__(self, principals: Principals, logs: Logs | None, lenient: Any) -> None:
        self.principals = principals
        self.logs = logs
        self.lenient = lenient  # () -> set of rule names switched off

    # --- deciding ----------------------------------------------------------------------------

    def context(self, session: Session, call: operations.Call) -> dict[str, list[str]]:
        """The request context every check starts from (IAM User Guide, "AWS global condition
        context keys"): the principal, the region, the time, TLS, the session's source."""
        now = datetime.now(timezone.utc)
        ctx: dict[str, list[str]] = {
            "aws:principalarn": [session.role_arn],
            "aws:principalaccount": [session.account],
            "aws:principaltype": ["AssumedRole"],
            "aws:userid": [session.user_id],
            "aws:requestedregion": [call.region],
            "aws:currenttime": [now.strftime("%Y-%m-%dT%H:%M:%SZ")],
            "aws:epochtime": [str(int(now.timestamp()))],
            "aws:securetransport": ["true"],  # AWS endpoints are HTTPS; the world's loopback is not
            "aws:viaawsservice": ["false"],
        }
        ctx.update({f"aws:principaltag/{k}".lower(): [v] for k, v in self.principals.tags(session).items()})
        ctx.update(session.extra)
        return ctx

    def decide(self, session: Session, call: operations.Call, off: set[str]) -> Denial | None:
        """The first check AWS would refuse, or None when the call is allowed."""
        try:
            checks = operations.checks_for(call)
            failure = None
        except Exception as error:  # noqa: BLE001 - a bug in the map: refused and reported, not allowed
            checks, failure = None, f"{type(error).__name__}: {error}"
        if checks is None:
            self._log_unmapped(session, call, UNMAPPED not in off, failure)
            if UNMAPPED in off:
                return None
            return Denial(operations.Check(operations.action_of(call), "*"), None)
        principal = self.principals.principal(session)
        base = self.context(session, call)
        for check in checks:
            if check.implied_by and IMPLIED in off:
                continue
            key_policy = None
            if check.kms_key and KEY_POLICY not in off:
                key_policy = self._key_policy(call, check.kms_key)
            request = policy.Request(check.action, check.resource, {**base, **check.context})
            decision = policy.decide(principal, request, key_policy, resource_policy_required=key_policy is not None)
            if not decision.allowed:
                self._log_denied(session, call, check, decision, request)
                return Denial(check, decision)
        return None

    def _key_policy(self, call: operations.Call, key_arn: str) -> tuple[policy.Statement, ...] | None:
        from moto.kms.models import kms_backends

        try:
            key = kms_backends[call.account][call.region].keys[key_arn.split(":key/")[-1]]
        except KeyError:
            return None
        return self.principals.compiled(key.policy, f"key policy of {key_arn}")

    # --- logs --------------------------------------------------------------------------------

    def _log_unmapped(self, session: Session, call: operations.Call, refused: bool, failure: str | None) -> None:
        if self.logs is None:
            return
        why = (f"the entry in local/world/iam/operations.py failed: {failure}" if failure else
               "no entry in local/world/iam/operations.py: the world cannot tell what AWS would check")
        self.logs.write(self.logs.unmapped, {
            "time": time.time(), "principal": session.arn, "service": call.service,
            "operation": call.operation, "action": operations.action_of(call), "refused": refused, "why": why,
        })

    def _log_denied(self, session: Session, call: operations.Call, check: operations.Check,
                    decision: policy.Decision, request: policy.Request) -> None:
        if self.logs is None:
            return
        if decision.reason.startswith("explicit-"):
            missing: Any = f"remove or narrow the Deny {decision.statement}"
        else:
            missing = {"Effect": "Allow", "Action": check.action, "Resource": check.resource}
            if decision.reason == "no-resource":
                missing = {"key policy": "allow the principal, or the account root (then IAM decides)",
                           "statement": missing}
        self.logs.write(self.logs.denied, {
            "time": time.time(),
            "principal": session.arn,
            "role": session.role_arn,
            "call": f"{call.service}:{call.operation}",
            "action": check.action,
            "resource": check.resource,
            "implied_by": check.implied_by,
            "reason": decision.reason,
            "message": f"{check.action} on {check.resource} {decision.because(check.action)}",
            "denied_by": decision.statement,
            "missing_statement": missing,
            "near_misses": list(decision.near),
            "context": {k: v for k, v in request.context.items() if k not in ("aws:currenttime", "aws:epochtime")},
        })


# --- answers ---------------------------------------------------------------------------------------


def denial_answer(response: Any, session: Session, denial: Denial) -> tuple[int, dict[str, str], str]:
    """The refusal as AWS words it for the called service."""
    service = response.service_name
    check = denial.check
    because = (denial.decision.because(check.action) if denial.decision is not None
               else f"because no identity-based policy allows the {check.action} action")
    on = "" if check.resource == "*" and service == "ec2" else f" on resource: {check.resource}"
    message = f"User: {session.arn} is not authorized to perform: {check.action}{on} {because}"
    if check.via_ssm:
        request_id = uuid.uuid4()
        if check.via_ssm == "decrypt":
            message = ("The ciphertext refers to a customer master key that does not exist, does not exist "
                       "in this region, or you are not allowed to access.")
        return aws_error(response, 400, "AccessDeniedException",
                         f"{message} (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; "
                         f"Request ID: {request_id}; Proxy: null)")
    if service == "ec2":
        encoded = _encoded(session, check, denial.decision)
        return aws_error(response, 403, "UnauthorizedOperation",
                         f"You are not authorized to perform this operation. {message}. "
                         f"Encoded authorization failure message: {encoded}")
    if service in QUERY:
        return aws_error(response, 403, "AccessDenied", message)
    return aws_error(response, STATUS.get(service, 400), "AccessDeniedException", message)


def _encoded(session: Session, check: operations.Check, decision: policy.Decision | None) -> str:
    """EC2's encoded failure message, decodable here with base64 (AWS encrypts it for
    sts:DecodeAuthorizationMessage; the decoded shape is the same: allowed, explicitDeny,
    matchedStatements, context)."""
    decoded = {
        "allowed": False,
        "explicitDeny": bool(decision and decision.reason.startswith("explicit-")),
        "matchedStatements": {"items": [decision.statement] if decision and decision.statement else []},
        "failures": {"items": list(decision.near) if decision else []},
        "context": {"principal": {"arn": session.arn}, "action": check.action, "resource": check.resource},
    }
    return base64.urlsafe_b64encode(json.dumps(decoded).encode()).decode().rstrip("=")


def token_answer(response: Any) -> tuple[int, dict[str, str], str]:
    message = "The security token included in the request is invalid."
    service = response.service_name
    if service == "ec2":
        return aws_error(response, 401, "AuthFailure", "AWS was not able to validate the provided access credentials")
    if service in QUERY:
        return aws_error(response, 403, "InvalidClientTokenId", message)
    return aws_error(response, STATUS.get(service, 400), "UnrecognizedClientException", message)


# --- requests ----------------------------------------------------------------------------------------

_MODELS: dict[str, Any] = {}


def request_params(response: Any, operation: str) -> dict[str, Any]:
    """The request's parameters in the service model's shape (member names), parsed with
    botocore's model the way moto parses them (moto.core.responses.BaseResponse.parse_parameters)."""
    if getattr(response, "automated_parameter_parsing", False) and getattr(response, "params", None) is not None:
        return dict(response.params)
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.request import determine_request_protocol
    from moto.core.utils import get_service_model

    name = response.boto3_service_name
    model = _MODELS.get(name)
    if model is None:
        model = _MODELS[name] = get_service_model(name)
    request = response.normalized_request
    parser = PROTOCOL_PARSERS[determine_request_protocol(model, request.content_type)](
        model.operation_model(operation), map_type=dict)
    return dict(parser.parse({
        "method": request.method, "values": request.values, "headers": request.headers,
        "body": request.data, "url_path": request.path, "url_params": response.uri_match,
    }))


def session_token(response: Any) -> str | None:
    token = response.headers.get("X-Amz-Security-Token")
    if token is None:
        values = response.querystring.get("X-Amz-Security-Token") or response.querystring.get("SecurityToken")
        token = values[0] if values else None
    return token


def is_iam_write(service: str, operation: str) -> bool:
    return service == "iam" and not operation.startswith(("Get", "List", "Generate", "Simulate"))


def install(enforcer: Enforcer) -> None:
    """Wraps moto's dispatch: role sessions' calls are decided before moto runs them."""
    from moto.core.responses import BaseResponse

    original = BaseResponse.call_action

    def call_action(self: BaseResponse) -> Any:
        service = self.service_name or ""
        try:
            operation = self._get_action() or ""
        except Exception:  # noqa: BLE001 - moto answers what it cannot route
            return original(self)
        refused = refusal(self, service, operation)
        if refused is not None:
            return refused
        try:
            return original(self)
        finally:
            if is_iam_write(service, operation):
                enforcer.principals.invalidate()

    def refusal(self: BaseResponse, service: str, operation: str) -> Any:
        """AWS's refusal of a role session's call, or None: allowed (or not a role session)."""
        session = enforcer.principals.session(getattr(self, "access_key", "") or "")
        if session is None:
            return None
        off = enforcer.lenient()
        if SESSION_TOKEN not in off and session_token(self) != session.token:
            return token_answer(self)
        if POLICIES in off:
            return None
        try:
            params = request_params(self, operation)
        except Exception:  # noqa: BLE001 - unparsable: the map sees no parameters, moto answers the rest
            params = {}
        call = operations.Call(service, operation, params, self.current_account, self.region,
                               getattr(self, "partition", "aws"))
        denial = enforcer.decide(session, call, off)
        return denial_answer(self, session, denial) if denial is not None else None

    BaseResponse.call_action = call_action  # type: ignore[method-assign]
