"""IAM policy evaluation, as AWS documents it: pure functions over policy documents and a request.

No moto here: the world's wrapper (enforce.py) gathers a principal's policies and the request
context; this module decides. Every rule below comes from the IAM User Guide:

| rule | source |
|---|---|
| explicit Deny > Allow > implicit deny; an identity policy, a permissions boundary and a session policy must each allow | IAM User Guide, "Policy evaluation logic" (reference_policies_evaluation-logic.html) and its flow chart |
| KMS: the key policy must allow, the principal directly (then IAM is not needed) or the account root (then an identity policy must allow too) | KMS Developer Guide, "Determining access to a KMS key" / "Default key policy" (key-policy-default.html#key-policy-default-allow-root-enable-iam) |
| Action / NotAction: `service:Action`, case-insensitive, `*` and `?` wildcards | "IAM JSON policy elements: Action" / "NotAction" |
| Resource / NotResource: case-sensitive ARN match, wildcards within each of the six colon-separated parts | "IAM JSON policy elements: Resource" / "NotResource" |
| several operators: AND; several keys in one operator: AND; several values for a key: OR; negated operators: NOR | "Conditions with multiple context keys or values" (reference_policies_multi-value-conditions.html) |
| a key absent from the request context: false, except negated operators (true), ...IfExists (true) and Null | "IAM JSON policy elements: Condition operators", the box at the top |
| ForAnyValue: at least one request value matches; absent key false. ForAllValues: every request value matches; absent or empty key true | "Set operators for multivalued context keys" (reference_policies_condition-single-vs-multi-valued-context-keys.html) |
| String / Numeric / Date / Bool / Binary / IpAddress / Arn operators, ArnEquals = ArnLike (wildcards per ARN part) | "Condition operators", each section |
| condition key names are case-insensitive, values are compared as the operator says | "IAM JSON policy elements: Condition" ("Condition key names are not case-sensitive") |
| policy variables `${key}`, `${key, 'default'}`, `${*}` `${?}` `${$}`; only with Version 2012-10-17, in Resource and in String/Arn/Bool conditions; an unresolvable variable matches nothing | "IAM policy elements: Variables and tags" (reference_policies_variables.html) |
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

# Condition key (lower-cased) -> its values in the request. Single-valued keys hold one value.
Context = Mapping[str, Sequence[str]]

VARIABLE = re.compile(r"\$\{([^}]*)\}")
VARIABLE_VERSION = "2012-10-17"
# What a variable substitutes is literal: its `*`, `?` and `:` are carried as these characters,
# so that they neither act as wildcards nor split an ARN into parts (`plain` turns them back).
LITERAL = {"*": "\x00", "?": "\x01", ":": "\x02"}
LITERAL_BACK = {v: k for k, v in LITERAL.items()}
GLOB_OPERATORS = {"stringlike", "stringnotlike", "arnlike", "arnequals", "arnnotlike", "arnnotequals"}


def _literal(text: str) -> str:
    return "".join(LITERAL.get(c, c) for c in text)


def plain(text: str) -> str:
    return "".join(LITERAL_BACK.get(c, c) for c in text)


# --- patterns -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """`*` any run of characters, `?` one character, everything else literal."""
    parts = []
    for char in pattern:
        if char in LITERAL_BACK:
            parts.append(re.escape(LITERAL_BACK[char]))
        else:
            parts.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def arn_match(pattern: str, arn: str) -> bool:
    """ArnLike / Resource matching: each of the six colon-separated ARN parts matches on its own
    (the sixth, the resource, may itself contain colons). A pattern of fewer parts matches only
    itself (or everything, when it is "*"): AWS documents ARNs of six parts only."""
    if pattern == "*":
        return True
    wanted = pattern.split(":", 5)
    given = arn.split(":", 5)
    if len(wanted) != 6 or len(given) != 6:
        return plain(pattern) == arn
    return all(glob_match(w, g) for w, g in zip(wanted, given))


class Unresolvable(Exception):
    """A policy variable whose key is not in the request context (and has no default)."""


def substitute(text: str, context: Context) -> str:
    """Replaces policy variables; raises Unresolvable when one has no value (or several: only
    single-valued keys are variables). The substituted text is literal (see LITERAL)."""

    def value(match: re.Match[str]) -> str:
        inner = match.group(1).strip()
        if inner in ("*", "?", "$"):
            return _literal(inner)
        default: str | None = None
        if "," in inner:
            inner, raw_default = inner.split(",", 1)
            raw_default = raw_default.strip()
            if len(raw_default) >= 2 and raw_default[0] == raw_default[-1] == "'":
                default = raw_default[1:-1]
            inner = inner.strip()
        values = context.get(inner.lower())
        if values is not None and len(values) == 1:
            return _literal(values[0])
        if default is not None:
            return _literal(default)
        raise Unresolvable(inner)

    return VARIABLE.sub(value, text) if "${" in text else text


# --- conditions -----------------------------------------------------------------------------


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> datetime | None:
    """ISO 8601 (with or without zone, `Z` accepted) or epoch seconds, as AWS accepts both."""
    try:
        return datetime.fromtimestamp(float(text), tz=timezone.utc)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _compare(parse: Callable[[str], Any], test: Callable[[Any, Any], bool]) -> Callable[[str, str], bool]:
    def match(policy_value: str, request_value: str) -> bool:
        wanted, given = parse(policy_value), parse(request_value)
        return wanted is not None and given is not None and test(given, wanted)

    return match


def _ip(policy_value: str, request_value: str) -> bool:
    try:
        return ipaddress.ip_address(request_value) in ipaddress.ip_network(policy_value, strict=False)
    except ValueError:
        return False


def _binary(policy_value: str, request_value: str) -> bool:
    try:
        return base64.b64decode(policy_value) == base64.b64decode(request_value)
    except ValueError:
        return False


# operator -> (match(policy value, request value), negated, variables allowed)
OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool, bool]] = {
    "stringequals": (lambda p, r: p == r, False, True),
    "stringnotequals": (lambda p, r: p == r, True, True),
    "stringequalsignorecase": (lambda p, r: p.lower() == r.lower(), False, True),
    "stringnotequalsignorecase": (lambda p, r: p.lower() == r.lower(), True, True),
    "stringlike": (lambda p, r: glob_match(p, r), False, True),
    "stringnotlike": (lambda p, r: glob_match(p, r), True, True),
    "numericequals": (_compare(_number, lambda g, w: g == w), False, False),
    "numericnotequals": (_compare(_number, lambda g, w: g == w), True, False),
    "numericlessthan": (_compare(_number, lambda g, w: g < w), False, False),
    "numericlessthanequals": (_compare(_number, lambda g, w: g <= w), False, False),
    "numericgreaterthan": (_compare(_number, lambda g, w: g > w), False, False),
    "numericgreaterthanequals": (_compare(_number, lambda g, w: g >= w), False, False),
    "dateequals": (_compare(_date, lambda g, w: g == w), False, False),
    "datenotequals": (_compare(_date, lambda g, w: g == w), True, False),
    "datelessthan": (_compare(_date, lambda g, w: g < w), False, False),
    "datelessthanequals": (_compare(_date, lambda g, w: g <= w), False, False),
    "dategreaterthan": (_compare(_date, lambda g, w: g > w), False, False),
    "dategreaterthanequals": (_compare(_date, lambda g, w: g >= w), False, False),
    "bool": (lambda p, r: p.lower() == r.lower(), False, True),
    "binaryequals": (_binary, False, False),
    "ipaddress": (_ip, False, False),
    "notipaddress": (_ip, True, False),
    "arnequals": (arn_match, False, True),
    "arnlike": (arn_match, False, True),
    "arnnotequals": (arn_match, True, True),
    "arnnotlike": (arn_match, True, True),
}


class PolicyError(ValueError):
    """A policy the evaluator cannot read (IAM itself would have refused it: MalformedPolicyDocument)."""


@dataclass(frozen=True)
class Condition:
    operator: str  # as written, e.g. "ForAnyValue:StringLike"
    key: str  # lower-cased
    values: tuple[str, ...]
    base: str  # lower-cased operator without prefix/suffix, e.g. "stringlike"
    set_operator: str | None  # "foranyvalue" | "forallvalues" | None
    if_exists: bool
    written: str = ""  # the key as the policy writes it, for messages

    def describe(self) -> str:
        return f"{self.operator} {self.written or self.key} {list(self.values)}"


def _condition_values(raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    return tuple(("true" if v else "false") if isinstance(v, bool) else str(v) for v in items)


def compile_conditions(block: Mapping[str, Any] | None) -> tuple[Condition, ...]:
    if not block:
        return ()
    conditions = []
    for operator, keys in block.items():
        name = operator.lower()
        set_operator = None
        for prefix in ("foranyvalue:", "forallvalues:"):
            if name.startswith(prefix):
                set_operator, name = prefix[:-1], name[len(prefix):]
        if_exists = name.endswith("ifexists") and name != "null"
        if if_exists:
            name = name[: -len("ifexists")]
        if name != "null" and name not in OPERATORS:
            raise PolicyError(f"unknown condition operator {operator}")
        if not isinstance(keys, Mapping):
            raise PolicyError(f"condition {operator} must map keys to values")
        for key, raw in keys.items():
            conditions.append(Condition(operator, key.lower(), _condition_values(raw), name, set_operator,
                                        if_exists, key))
    return tuple(conditions)


def condition_holds(condition: Condition, context: Context, variables: bool) -> bool:
    """One operator on one key (values OR-ed, or NOR-ed when negated)."""
    present = context.get(condition.key)
    values = list(present) if present is not None else None
    if condition.base == "null":
        missing = not values
        return any((v.lower() == "true") == missing for v in condition.values)
    match, negated, takes_variables = OPERATORS[condition.base]
    wanted = []
    for raw in condition.values:
        if variables and takes_variables:
            try:
                raw = substitute(raw, context)
            except Unresolvable:
                continue  # matches nothing
            if condition.base not in GLOB_OPERATORS:
                raw = plain(raw)
        wanted.append(raw)

    def single(request_value: str) -> bool:
        hit = any(match(w, request_value) for w in wanted)
        return not hit if negated else hit

    if condition.set_operator == "forallvalues":
        return True if not values else all(single(v) for v in values)
    if condition.set_operator == "foranyvalue":
        if not values:
            return condition.if_exists
        return any(single(v) for v in values)
    if values is None:
        return condition.if_exists or negated
    if negated:
        return not any(any(match(w, v) for w in wanted) for v in values)
    return any(single(v) for v in values)


# --- statements and policies ------------------------------------------------------------------


def _strings(raw: Any, element: str) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(i, str) for i in items):
        raise PolicyError(f"{element} must be a string or a list of strings")
    return tuple(items)


@dataclass(frozen=True)
class Statement:
    policy: str  # where it comes from, for the denial log ("inline least-privilege", a managed policy ARN)
    sid: str | None
    allow: bool
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    conditions: tuple[Condition, ...]
    principals: tuple[str, ...] | None  # resource policies: "*", "AWS:<arn or account>", "Service:<name>"
    variables: bool

    def label(self) -> str:
        return f"{self.policy}#{self.sid}" if self.sid else self.policy

    def action_matches(self, action: str) -> bool:
        if self.actions is not None:
            return any(glob_match(a, action, ignore_case=True) for a in self.actions)
        return not any(glob_match(a, action, ignore_case=True) for a in self.not_actions or ())

    def resource_matches(self, resource: str, context: Context) -> bool:
        patterns = self.resources if self.resources is not None else self.not_resources
        if patterns is None:  # resource policies may leave Resource out (KMS: the key itself)
            return True
        hit = False
        for pattern in patterns:
            try:
                concrete = substitute(pattern, context) if self.variables else pattern
            except Unresolvable:
                continue
            if arn_match(concrete, resource):
                hit = True
                break
        return hit if self.resources is not None else not hit

    def failed_conditions(self, context: Context) -> list[Condition]:
        return [c for c in self.conditions if not condition_holds(c, context, self.variables)]


def _principals(raw: Any) -> tuple[str, ...]:
    if raw == "*":
        return ("*",)
    if not isinstance(raw, Mapping):
        raise PolicyError("Principal must be \"*\" or a map")
    found = []
    for kind, values in raw.items():
        for value in _strings(values, "Principal"):
            found.append("*" if kind == "AWS" and value == "*" else f"{kind}:{value}")
    return tuple(found)


def compile_policy(document: str | Mapping[str, Any], name: str) -> tuple[Statement, ...]:
    """Parses one policy document (JSON text or already loaded) into statements."""
    loaded = json.loads(document) if isinstance(document, str) else document
    if not isinstance(loaded, Mapping):
        raise PolicyError("a policy is a JSON object")
    variables = loaded.get("Version") == VARIABLE_VERSION
    raw_statements = loaded.get("Statement", [])
    if isinstance(raw_statements, Mapping):
        raw_statements = [raw_statements]
    statements = []
    for raw in raw_statements:
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"Effect must be Allow or Deny, not {effect!r}")
        statements.append(Statement(
            policy=name,
            sid=raw.get("Sid"),
            allow=effect == "Allow",
            actions=_strings(raw["Action"], "Action") if "Action" in raw else None,
            not_actions=_strings(raw["NotAction"], "NotAction") if "NotAction" in raw else None,
            resources=_strings(raw["Resource"], "Resource") if "Resource" in raw else None,
            not_resources=_strings(raw["NotResource"], "NotResource") if "NotResource" in raw else None,
            conditions=compile_conditions(raw.get("Condition")),
            principals=_principals(raw["Principal"]) if "Principal" in raw else None,
            variables=variables,
        ))
    return tuple(statements)


# --- decisions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    action: str  # "ec2:RunInstances"
    resource: str  # an ARN, or "*"
    context: Context = field(default_factory=dict)


@dataclass
class Match:
    """What a set of statements says about a request, with the near misses for the denial log."""

    deny: Statement | None = None
    allow: Statement | None = None
    near: list[str] = field(default_factory=list)


def match_statements(statements: Iterable[Statement], request: Request) -> Match:
    found = Match()
    for statement in statements:
        if not statement.action_matches(request.action):
            continue
        if not statement.resource_matches(request.resource, request.context):
            if statement.allow:
                found.near.append(f"{statement.label()}: action matches, resource does not")
            continue
        failed = statement.failed_conditions(request.context)
        if failed:
            if statement.allow:
                found.near.append(f"{statement.label()}: condition fails: " + "; ".join(
                    _explain(c, request.context) for c in failed))
            continue
        if statement.allow:
            found.allow = found.allow or statement
        else:
            found.deny = statement
            return found
    return found


def _explain(condition: Condition, context: Context) -> str:
    actual = context.get(condition.key)
    shown = "absent from the request context" if actual is None else f"request has {list(actual)}"
    return f"{condition.describe()} ({shown})"


@dataclass(frozen=True)
class Principal:
    """An assumed-role session: who calls and which policies bound it."""

    arn: str  # arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
    role_arn: str  # arn:aws:iam::ACCOUNT:role/PATH/ROLE
    account: str
    identity: tuple[Statement, ...]
    boundary: tuple[Statement, ...] | None = None
    session: tuple[Statement, ...] | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # "allowed" | "explicit-identity" | "explicit-resource" | "explicit-boundary" | "explicit-session" |
    # "no-identity" | "no-resource" | "no-boundary" | "no-session"
    reason: str
    statement: str | None = None  # the statement that allowed or denied
    near: tuple[str, ...] = ()

    def because(self, action: str) -> str:
        """The tail of AWS's AccessDenied message (IAM User Guide, "Troubleshoot access denied
        error messages": the policy type named in the message)."""
        kind = {"identity": "an identity-based policy", "resource": "a resource-based policy",
                "boundary": "a permissions boundary", "session": "a session policy"}
        if self.reason.startswith("explicit-"):
            return f"with an explicit deny in {kind[self.reason[len('explicit-'):]]}"
        name = {"identity": "identity-based policy", "resource": "resource-based policy",
                "boundary": "permissions boundary", "session": "session policy"}[self.reason[len("no-"):]]
        return f"because no {name} allows the {action} action"


def _principal_matches(entry: str, principal: Principal) -> str | None:
    """How a resource policy's principal entry names the caller: "direct", "account" or None."""
    if entry == "*":
        return "direct"
    kind, _, value = entry.partition(":")
    if kind != "AWS":
        return None
    if value in (principal.account, f"arn:aws:iam::{principal.account}:root"):
        return "account"
    if value in (principal.arn, principal.role_arn):
        return "direct"
    return None


def decide(principal: Principal, request: Request, resource_policy: Sequence[Statement] | None = None,
           resource_policy_required: bool = False) -> Decision:
    """AWS's evaluation for a same-account role session. `resource_policy` with
    `resource_policy_required` is the KMS case: the key policy decides whether IAM counts at all."""
    identity = match_statements(principal.identity, request)
    near = list(identity.near)
    if identity.deny:
        return Decision(False, "explicit-identity", identity.deny.label(), tuple(near))
    direct_allow = account_allow = None
    if resource_policy is not None:
        for statement in resource_policy:
            ways = {_principal_matches(p, principal) for p in statement.principals or ()} - {None}
            if not ways:
                continue
            single = match_statements([statement], request)
            if single.deny:
                return Decision(False, "explicit-resource", single.deny.label(), tuple(near))
            if single.allow:
                if "direct" in ways:
                    direct_allow = direct_allow or single.allow
                else:
                    account_allow = account_allow or single.allow
            near.extend(f"(key policy) {n}" for n in single.near)
    for kind, statements in (("boundary", principal.boundary), ("session", principal.session)):
        if statements is None:
            continue
        bounded = match_statements(statements, request)
        if bounded.deny:
            return Decision(False, f"explicit-{kind}", bounded.deny.label(), tuple(near))
        if not bounded.allow and not direct_allow:
            return Decision(False, f"no-{kind}", None, tuple(near + bounded.near))
    if direct_allow:
        return Decision(True, "allowed", direct_allow.label())
    if resource_policy_required and not account_allow:
        return Decision(False, "no-resource", None, tuple(near))
    if identity.allow:
        return Decision(True, "allowed", identity.allow.label())
    return Decision(False, "no-identity", None, tuple(near))
