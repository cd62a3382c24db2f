"""Who calls: role sessions issued through moto's STS, and the policies that bound them.

One mechanism for every principal: moto's STS AssumeRole, which records each session with its
access key (STSBackend.assumed_roles). A Lambda function's environment gets a session of the
function's role (named after the function, as Lambda names it); a node gets a session of its
instance profile's role (named after the instance id, as EC2 names it, with the instance's
request-context keys); a test can call AssumeRole itself. Any other access key (Terraform's and
the tests' `testing`, the Step Functions engine's `ak`) is the account's administrator.

Compiled policies are cached per role and dropped on every IAM write (`invalidate`), and the
compilation of a document is cached by its text, so a role whose policies did not change costs
a dictionary lookup per call.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from world.iam import policy

# Lambda hands its functions role credentials valid for up to 12 hours and refreshes them for
# new environments; the world's environments live as long as the world.
LAMBDA_SESSION_SECONDS = 43200
# IMDS rotates instance-profile credentials hours before they expire (EC2 User Guide, "Retrieve
# security credentials from instance metadata"): six hours is within what EC2 hands out.
INSTANCE_SESSION_SECONDS = 6 * 3600


@dataclass(frozen=True)
class Session:
    """One assumed-role session, as a caller presents it."""

    access_key_id: str
    secret_access_key: str
    token: str
    arn: str  # arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
    role_arn: str
    account: str
    user_id: str
    session_policy: str | None
    expiration: datetime
    extra: dict[str, list[str]] = field(default_factory=dict)  # request-context keys of the session's source


def _partition(region: str) -> str:
    from moto.utilities.utils import get_partition

    return get_partition(region)


def _sts(account: str, region: str) -> Any:
    from moto.sts.models import sts_backends

    return sts_backends[account][_partition(region)]


def _iam(account: str, region: str = "us-east-1") -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account][_partition(region)]


class Principals:
    """Sessions by access key, and each role's compiled policies."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sessions: dict[str, Session] = {}
        self.extra: dict[str, dict[str, list[str]]] = {}  # access key -> request-context keys
        self.instance_sessions: dict[str, Session] = {}
        self.roles: dict[tuple[str, str | None], policy.Principal] = {}
        self.role_tags: dict[str, dict[str, str]] = {}
        self.documents: dict[tuple[str, str], tuple[policy.Statement, ...]] = {}

    # --- sessions -------------------------------------------------------------------------

    def assume(self, account: str, region: str, role_arn: str, session_name: str, seconds: int,
               extra: dict[str, list[str]] | None = None) -> Session:
        """AssumeRole in moto's STS, in process (what the Lambda service and EC2 do for their
        functions and instances); the session is then recognised on every call."""
        assumed = _sts(account, region).assume_role(
            region_name=region, role_session_name=session_name, role_arn=role_arn,
            policy=None, duration=seconds, external_id=None)
        with self.lock:
            if extra:
                self.extra[assumed.access_key_id] = extra
        return self._session(assumed)

    def _session(self, assumed: Any) -> Session:
        session = Session(
            access_key_id=assumed.access_key_id, secret_access_key=assumed.secret_access_key,
            token=assumed.session_token, arn=assumed.arn, role_arn=assumed.role_arn,
            account=assumed.account_id, user_id=assumed.user_id, session_policy=assumed.policy,
            expiration=assumed.expiration.replace(tzinfo=timezone.utc),
            extra=self.extra.get(assumed.access_key_id, {}))
        with self.lock:
            self.sessions[session.access_key_id] = session
        return session

    def session(self, access_key_id: str) -> Session | None:
        """The session of an STS access key (they start with ASIA), or None: the caller is an
        administrator."""
        if not access_key_id.startswith("ASIA"):
            return None
        with self.lock:
            known = self.sessions.get(access_key_id)
        if known is not None:
            return known
        from moto.iam.models import get_account_id_from

        account = get_account_id_from(access_key_id)
        assumed = _sts(account, "us-east-1").get_assumed_role_from_access_key(access_key_id)
        return self._session(assumed) if assumed is not None else None

    def for_instance(self, account: str, region: str, instance: Any) -> tuple[str, Session] | None:
        """The instance profile role's session of an instance (one per instance, renewed an hour
        before it expires), or None when the instance has no profile."""
        from moto.ec2.models import ec2_backends

        ec2 = ec2_backends[account][region]
        if isinstance(instance, str):
            instance = ec2.get_instance(instance)
        association = ec2.iam_instance_profile_associations.get(instance.id)
        if association is None or not association.iam_instance_profile.roles:
            return None
        role = association.iam_instance_profile.roles[0]
        with self.lock:
            current = self.instance_sessions.get(instance.id)
        if current is not None and current.role_arn == role.arn and \
                current.expiration - datetime.now(timezone.utc) > timedelta(hours=1):
            return role.name, current
        instance_arn = f"arn:{_partition(region)}:ec2:{region}:{account}:instance/{instance.id}"
        extra = {
            # IAM User Guide, "AWS global condition context keys": present for requests signed
            # with EC2 instance-profile credentials.
            "aws:ec2instancesourcevpc": [instance.vpc_id] if instance.vpc_id else [],
            "aws:ec2instancesourceprivateipv4": [instance.private_ip] if instance.private_ip else [],
            "ec2:sourceinstancearn": [instance_arn],
            # Credentials delivered by IMDSv2 (the nodes require tokens).
            "ec2:roledelivery": ["2.0"],
        }
        session = self.assume(account, region, role.arn, instance.id, INSTANCE_SESSION_SECONDS,
                              {k: v for k, v in extra.items() if v})
        with self.lock:
            self.instance_sessions[instance.id] = session
        return role.name, session

    # --- policies ---------------------------------------------------------------------------

    def invalidate(self) -> None:
        """An IAM write happened: every role's policies are read again on its next call."""
        with self.lock:
            self.roles.clear()
            self.role_tags.clear()

    def compiled(self, document: str, name: str) -> tuple[policy.Statement, ...]:
        key = (name, document)
        with self.lock:
            found = self.documents.get(key)
        if found is None:
            found = policy.compile_policy(document, name)
            with self.lock:
                self.documents[key] = found
        return found

    def principal(self, session: Session) -> policy.Principal:
        """The session's role policies (inline, attached managed incl. AWS managed, the
        permissions boundary) and its session policy, compiled."""
        key = (session.role_arn, session.session_policy)
        with self.lock:
            found = self.roles.get(key)
        if found is not None:
            return found
        identity: list[policy.Statement] = []
        boundary = None
        role = self._role(session)
        tags = {t["Key"]: t["Value"] for t in (role.tags or [])} if role is not None else {}
        if role is not None:
            for name, document in role.policies.items():
                identity.extend(self.compiled(_text(document), f"inline {name}"))
            for arn, managed in role.managed_policies.items():
                identity.extend(self.compiled(_default_document(managed), arn))
            if role.permissions_boundary_arn:
                boundary = self._boundary(session, role.permissions_boundary_arn)
        session_statements = (self.compiled(session.session_policy, "session policy")
                              if session.session_policy else None)
        found = policy.Principal(arn=session.arn, role_arn=session.role_arn, account=session.account,
                                 identity=tuple(identity), boundary=boundary, session=session_statements)
        with self.lock:
            self.roles[key] = found
            self.role_tags[session.role_arn] = tags
        return found

    def tags(self, session: Session) -> dict[str, str]:
        """The role's tags (aws:PrincipalTag/...), read with its policies."""
        self.principal(session)
        with self.lock:
            return dict(self.role_tags.get(session.role_arn, {}))

    def _role(self, session: Session) -> Any:
        try:
            return _iam(session.account).get_role_by_arn(session.role_arn)
        except Exception:  # noqa: BLE001 - a deleted role: its sessions keep no permissions
            return None

    def _boundary(self, session: Session, arn: str) -> tuple[policy.Statement, ...]:
        try:
            managed = _iam(session.account).get_policy(arn)
        except Exception:  # noqa: BLE001 - a boundary that no longer exists allows nothing
            return ()
        return self.compiled(_default_document(managed), f"boundary {arn}")


def _text(document: Any) -> str:
    import json

    return document if isinstance(document, str) else json.dumps(document)


def _default_document(managed: Any) -> str:
    for version in managed.versions:
        if version.is_default:
            return _text(version.document)
    return _text(managed.versions[0].document) if managed.versions else "{}"


def credentials(session: Session) -> dict[str, str]:
    """The credentials as IMDS serves them at iam/security-credentials/<role> (EC2 User Guide,
    "Instance metadata categories")."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "Code": "Success",
        "LastUpdated": now,
        "Type": "AWS-HMAC",
        "AccessKeyId": session.access_key_id,
        "SecretAccessKey": session.secret_access_key,
        "Token": session.token,
        "Expiration": session.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
