"""IAM enforced at run time in the local world.

moto's own check (moto/iam/access_control.py) ignores Resource and Condition, so a least-privilege
policy that forgets a resource type or a condition passed every test. Here every call signed
with a role session is decided from the role's real policies, as Terraform created them,
following AWS's documented evaluation logic (policy.py), for the checks AWS makes for that
operation (operations.py), and refused the way AWS refuses (enforce.py).

Principals (principals.py): each Lambda function runs with a session of its own role
(`credentials_for_role`, used by lambda_host.py), each node with a session of its instance
profile's role (`credentials_for_instance`, for its IMDS), a test with a session it got from
STS AssumeRole. Any other access key is the account's administrator (Terraform, the tests'
`testing`, the Step Functions engine).

Rules, each switched off by name in faults.json `"lenient": [...]`:

| rule | what | source |
|---|---|---|
| `iam-policies` | a role session's call is allowed only when the role's policies allow every check of the operation: explicit Deny > Allow > implicit deny; Action/NotAction, Resource/NotResource with wildcards; every condition operator, IfExists, ForAnyValue/ForAllValues, policy variables; permissions boundary and session policy | IAM User Guide, "Policy evaluation logic", "IAM JSON policy element reference" (table in policy.py) |
| `iam-implied` | the authorizations AWS adds: ec2:CreateTags with ec2:CreateAction for TagSpecifications, iam:PassRole for an instance profile (RunInstances) and a schedule's role (CreateSchedule/UpdateSchedule), kms:Encrypt / GenerateDataKey / Decrypt via ssm.<region>.amazonaws.com for SecureString parameters | EC2 User Guide (tag on create, PassRole); Scheduler User Guide; KMS Developer Guide "How Parameter Store uses AWS KMS" (table in operations.py) |
| `kms-key-policy` | a KMS check also needs the key policy: it allows the principal, or the account root and then IAM decides | KMS Developer Guide, "Determining access to a KMS key" |
| `iam-unmapped` | an operation the map does not know is refused (and logged to iam-unmapped.jsonl), never allowed unexamined | the project's rule: a contract comes from its source |
| `iam-session-token` | a session's access key must come with its session token (X-Amz-Security-Token) | AWS General Reference, "Signing AWS API requests" (temporary credentials) |

Logs: <state>/logs/iam-denied.jsonl (one line per denial: principal, action, resource, the
missing statement, near misses, the request context) and <state>/logs/iam-unmapped.jsonl.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from world.iam import operations, policy  # noqa: F401 - re-exported for tests
from world.iam.enforce import Denial, Enforcer, Logs
from world.iam.enforce import install as _install
from world.iam.principals import LAMBDA_SESSION_SECONDS, Principals, credentials

RULES = ("iam-policies", "iam-implied", "kms-key-policy", "iam-unmapped", "iam-session-token")

PRINCIPALS = Principals()
_ENFORCER: Enforcer | None = None


def install(state_dir: Path, faults: Any) -> Enforcer:
    """Puts the IAM check around moto's dispatch; `faults` is world.faults.Faults (its
    `lenient` list is read on every role session's call)."""
    global _ENFORCER
    _ENFORCER = Enforcer(PRINCIPALS, Logs(state_dir / "logs"),
                         lambda: set(faults.current().get("lenient") or ()))
    _install(_ENFORCER)
    return _ENFORCER


def credentials_for_role(account: str, region: str, role_arn: str, session_name: str,
                         seconds: int = LAMBDA_SESSION_SECONDS) -> dict[str, str]:
    """A session of `role_arn` as the environment variables Lambda gives a function
    (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN: Lambda Developer Guide,
    "Defined runtime environment variables")."""
    session = PRINCIPALS.assume(account, region, role_arn, session_name[:64], seconds)
    return {
        "AWS_ACCESS_KEY_ID": session.access_key_id,
        "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
        "AWS_SESSION_TOKEN": session.token,
    }


def credentials_for_instance(account: str, region: str, instance: Any) -> tuple[str, dict[str, str]] | None:
    """(role name, the credentials IMDS serves at iam/security-credentials/<role name>) for an
    instance (moto Instance or its id), or None when it has no instance profile. Calls signed
    with them carry aws:Ec2InstanceSourceVpc, aws:Ec2InstanceSourcePrivateIPv4 and
    ec2:SourceInstanceARN in their request context."""
    found = PRINCIPALS.for_instance(account, region, instance)
    if found is None:
        return None
    role_name, session = found
    return role_name, credentials(session)


def authorize_instance_call(account: str, region: str, instance_id: str, service: str, operation: str,
                            params: dict[str, Any]) -> str | None:
    """Decides, in process, a call the instance's role makes without going through HTTP (the SSM
    agent resolving {{ssm-secure:...}} calls ssm:GetParameters WithDecryption as the instance):
    None when allowed, else AWS's denial message. The world's lenient rules apply as to any
    call, and a denial is logged like any other."""
    found = PRINCIPALS.for_instance(account, region, instance_id)
    if found is None:
        return f"{instance_id} has no instance profile: no credentials to call {service}:{operation} with"
    _, session = found
    enforcer = _ENFORCER or Enforcer(PRINCIPALS, None, lambda: set())
    denial: Denial | None = enforcer.decide(session, operations.Call(service, operation, params, account, region),
                                            enforcer.lenient())
    if denial is None:
        return None
    because = (denial.decision.because(denial.check.action) if denial.decision
               else "because no identity-based policy allows it (not in the world's operation map)")
    return f"User: {session.arn} is not authorized to perform: {denial.check.action} on resource: " \
           f"{denial.check.resource} {because}"
