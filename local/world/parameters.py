"""Parameter Store's limits in the local world: what SSM refuses, refused here too, for every caller.

moto's Parameter Store accepts a 6 KB value in a Standard parameter, a SecureString under a KMS
key that does not exist, a 16-level hierarchy, a name with `@` in it. Each rule below reads the
request as sent (SSM's JSON protocol, moto's `response._get_param`) and refuses with AWS's error
code and message (`world.errors.aws_error`) before moto sees the call. Rules apply to every caller
(Terraform, tests, the Lambda binaries, the nodes' `aws`), as AWS refuses everyone; faults.json
`"lenient": [names]` switches rules off (only for a test that studies a rule's absence).

| rule | what AWS refuses (code: message) | source |
|---|---|---|
| parameter-value-size | PutParameter value over 4,096 characters in the Standard tier (ValidationException: "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"), over 8,192 in the Advanced tier ("The specified parameter value is too large. Advanced-tier parameters support a maximum parameter value of 8192 characters.") | botocore ssm/2014-11-06 PutParameterRequest.Value ("Standard parameters have a value limit of 4 KB. Advanced parameters have a value limit of 8 KB") and .Tier; the Standard message as AWS answers it (Terraform and Lambda logs; a live probe found 4096 accepted, 4097 refused); the Advanced message as observed in a Terraform apply |
| (model) | the tier: the request's; without one, an existing parameter's, else the account default (Standard); Intelligent-Tiering is Standard unless the value is over 4,096 characters or there are policies (or the parameter is already Advanced), then Advanced; GetParameter answers the chosen tier | PutParameterRequest.Tier ("Intelligent-Tiering: … evaluates each request to determine if the parameter is standard or advanced") |
| parameter-tier-downgrade | an Advanced parameter put back as Standard (ValidationException: "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.") | PutParameterRequest.Tier ("you can't revert an advanced parameter to a standard parameter"); message as AWS answers it (hashicorp/terraform-provider-aws resource_parameter.go comment) |
| parameter-policies-tier | Policies on a Standard parameter (ValidationException) | PutParameterRequest.Tier ("Standard parameters … can't be configured to use parameter policies"); message: the world's words |
| parameter-name | a name with characters outside `a-zA-Z0-9_.-/`, spaces inside, a hierarchy without its leading `/`, an empty level (ValidationException: "Parameter name: can't be prefixed with \\"ssm\\" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_"); over 1,011 characters counting the ARN before it (ValidationException) | PutParameterRequest.Name (naming constraints; "The maximum length for a parameter name that you specify is 1011 characters. This count … includes the characters in the ARN that precede the name"); the message as AWS answers a `:` in a name (a live probe, found by find_string) |
| parameter-hierarchy-depth | more than 15 levels (HierarchyLevelLimitExceededException: "A hierarchy can have a maximum of 15 levels. …") | PutParameterRequest.Name ("maximum depth of fifteen levels"); shape HierarchyLevelLimitExceededException |
| parameter-description-length | Description over 1,024 characters (ValidationException, the model's message shape) | shape ParameterDescription (max 1024) |
| parameter-nested-reference | a value with `{{…}}` in it (ValidationException: "Parameter value can't nest another parameter. Do not use \\"{{}}\\" in the value.") | PutParameterRequest.Value ("You can't include values wrapped in double brackets {{}} or {{ssm:parameter-name}} in a parameter value"); message as AWS answers it (confirmed live by others, found by find_string) |
| parameter-kms-key | a SecureString put under a KeyId that moto's KMS does not have or that is not Enabled, or read WithDecryption under such a key (InvalidKeyId: "Key 'arn:…' does not exist (Service: AWSKMS; Status Code: 400; Error Code: NotFoundException; …)", "Alias arn:… is not found. (…NotFoundException…)", "arn:… is disabled. (…DisabledException…)", "arn:… is pending deletion. (…KMSInvalidStateException…)") | PutParameter / GetParameter(s) / GetParametersByPath errors (InvalidKeyId); messages as AWS answers them (binxio/aws-ssm-copy#10, cloudposse/docs#152, segmentio/chamber#355) |
| parameter-path | GetParametersByPath with a path not starting with `/`, with other characters, or deeper than 15 levels (ValidationException: "Parameter path: can't be prefixed with \\"aws\\" or \\"ssm\\" (case-insensitive) except global parameter name path prefixed with \\"aws\\" (case-sensitive). It should always begin with / symbol.It consists of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_") | PutParameterRequest.Name rules applied to paths; message as AWS answers it (kountable/ssmsh README) |
| parameter-batch-size | DeleteParameters with more than 10 names (ValidationException, the model's message shape) | shape ParameterNameList (max 10); moto checks GetParameters itself |

moto already refuses, with AWS's codes: an empty value, Tags with Overwrite, the `aws`/`ssm`
prefixes, a missing or unknown Type, an unknown data type, an existing name without Overwrite,
more than 100 versions, more than 10 names in GetParameters, MaxResults over 10 in
GetParametersByPath; those are moto's, not switchable here.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Callable

from moto.core.responses import BaseResponse

from world.errors import aws_error

Refusal = tuple[str, str]

STANDARD = "Standard"
ADVANCED = "Advanced"
INTELLIGENT = "Intelligent-Tiering"
STANDARD_LIMIT = 4096
ADVANCED_LIMIT = 8192
MAX_LEVELS = 15
MAX_NAME_WITH_ARN = 1011
MAX_DESCRIPTION = 1024
MAX_BATCH = 10
NAME = re.compile(r"^[a-zA-Z0-9_.\-/]+$")
NESTED = re.compile(r"\{\{.*\}\}", re.DOTALL)
ACTIONS = frozenset({"PutParameter", "GetParameter", "GetParameters", "GetParametersByPath", "DeleteParameters"})

STANDARD_TOO_BIG = (
    "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter "
    "value, upgrade the parameter to use the advanced-parameter tier. For more information, see "
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
)
ADVANCED_TOO_BIG = (
    "The specified parameter value is too large. Advanced-tier parameters support a maximum parameter value of "
    "8192 characters."
)
DOWNGRADE = (
    "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter "
    "tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a "
    "standard parameter."
)
POLICIES_ON_STANDARD = (
    "Standard tier parameters can't have parameter policies. To use parameter policies, use the advanced-parameter "
    "tier (Tier Advanced or Intelligent-Tiering)."
)
BAD_NAME = (
    'Parameter name: can\'t be prefixed with "ssm" (case-insensitive). If formed as a path, it can consist of '
    "sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following "
    "3 symbols .-_"
)
BAD_PATH = (
    'Parameter path: can\'t be prefixed with "aws" or "ssm" (case-insensitive) except global parameter name path '
    'prefixed with "aws" (case-sensitive). It should always begin with / symbol.It consists of sub-paths divided by '
    "slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_"
)
TOO_DEEP = (
    "A hierarchy can have a maximum of 15 levels. For more information, see Requirements and constraints for "
    "parameter names in the Amazon Web Services Systems Manager User Guide."
)
NESTED_VALUE = "Parameter value can't nest another parameter. Do not use \"{{}}\" in the value."


def _kms_error(code: str, text: str) -> str:
    """How SSM relays a KMS refusal in its InvalidKeyId message."""
    return f"{text} (Service: AWSKMS; Status Code: 400; Error Code: {code}; Request ID: {uuid.uuid4()}; Proxy: null)"


def kms_refusal(kms: Any, key_id: str, region: str, account: str) -> Refusal | None:
    """None when `key_id` (an id, key ARN, alias or alias ARN) names an Enabled key of moto's KMS
    in this region; else SSM's InvalidKeyId."""
    if "alias/" in key_id:
        alias = "alias/" + key_id.split("alias/", 1)[1]
        if key_id.startswith("arn:") and f":{region}:{account}:" not in key_id:
            return "InvalidKeyId", _kms_error("NotFoundException", f"Alias {key_id} is not found.")
        # AWS managed aliases (alias/aws/ssm) exist once used: moto creates them on lookup.
        target = kms.get_key_id_from_alias(alias)
        if target is None:
            return "InvalidKeyId", _kms_error("NotFoundException", f"Alias arn:aws:kms:{region}:{account}:{alias} is not found.")
        raw = target.split(":key/")[-1]
    elif key_id.startswith("arn:"):
        raw = key_id.split(":key/")[-1]
        if f":{region}:{account}:" not in key_id:
            return "InvalidKeyId", _kms_error("NotFoundException", f"Key '{key_id}' does not exist")
    else:
        raw = key_id
    key = kms.keys.get(raw)
    arn = key.arn if key is not None else f"arn:aws:kms:{region}:{account}:key/{raw}"
    if key is None:
        return "InvalidKeyId", _kms_error("NotFoundException", f"Key '{arn}' does not exist")
    if key.key_state == "Disabled":
        return "InvalidKeyId", _kms_error("DisabledException", f"{arn} is disabled.")
    if key.key_state == "PendingDeletion":
        return "InvalidKeyId", _kms_error("KMSInvalidStateException", f"{arn} is pending deletion.")
    if key.key_state != "Enabled":
        return "InvalidKeyId", _kms_error("KMSInvalidStateException", f"{arn} is {key.key_state.lower()}.")
    return None


def name_refusal(name: str, region: str, account: str, enabled: Callable[[str], bool]) -> Refusal | None:
    """parameter-name and parameter-hierarchy-depth for a PutParameter Name."""
    stripped = name.strip(" ")
    if enabled("parameter-name"):
        levels = stripped.split("/")
        if not NAME.match(stripped) or ("/" in stripped and (not stripped.startswith("/") or "" in levels[1:])):
            return "ValidationException", BAD_NAME
        arn_prefix = f"arn:aws:ssm:{region}:{account}:parameter/"
        if len(arn_prefix) + len(stripped.lstrip("/")) > MAX_NAME_WITH_ARN:
            return "ValidationException", (
                f"Parameter name {stripped[:40]}… is too long: with the ARN before it ({arn_prefix}) it may have at most "
                f"{MAX_NAME_WITH_ARN} characters")
    if enabled("parameter-hierarchy-depth") and len(stripped.strip("/").split("/")) > MAX_LEVELS:
        return "HierarchyLevelLimitExceededException", TOO_DEEP
    return None


def chosen_tier(requested: str | None, existing: Any, default: str, value: str | None, policies: str | None) -> str:
    """The tier Parameter Store puts the parameter in."""
    current = getattr(existing, "tier", None) if existing is not None else None
    if requested is None:
        return current or default
    if requested == INTELLIGENT:
        big = value is not None and len(value) > STANDARD_LIMIT
        return ADVANCED if big or policies or current == ADVANCED else STANDARD
    return requested


class Rules:
    """The Parameter Store rules, given moto's SSM and KMS backends of the call's account and region."""

    def __init__(self, ssm: Any, kms: Any, region: str, account: str, lenient: frozenset[str]) -> None:
        self.ssm, self.kms, self.region, self.account, self.lenient = ssm, kms, region, account, lenient

    def enabled(self, rule: str) -> bool:
        return rule not in self.lenient

    def existing(self, name: str) -> Any:
        if not name:
            return None
        versions = self.ssm._parameters.get(self.ssm._parameters.normalize_name(name.strip(" ")))
        return versions[-1] if versions else None

    def put_parameter(self, param: Callable[[str], Any]) -> Refusal | None:
        name = param("Name") or ""
        value, description = param("Value"), param("Description")
        found = name_refusal(name, self.region, self.account, self.enabled)
        if found:
            return found
        if description is not None and len(description) > MAX_DESCRIPTION and self.enabled("parameter-description-length"):
            return "ValidationException", (
                f"1 validation error detected: Value '{description}' at 'description' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_DESCRIPTION}")
        if value is not None and NESTED.search(value) and self.enabled("parameter-nested-reference"):
            return "ValidationException", NESTED_VALUE
        existing = self.existing(name)
        policies = param("Policies")
        default = getattr(self.ssm, "default_parameter_tier", None) or STANDARD
        tier = chosen_tier(param("Tier"), existing, default, value, policies)
        if existing is not None and existing.tier == ADVANCED and tier == STANDARD and self.enabled("parameter-tier-downgrade"):
            return "ValidationException", DOWNGRADE
        if value is not None and self.enabled("parameter-value-size"):
            if tier == STANDARD and len(value) > STANDARD_LIMIT:
                return "ValidationException", STANDARD_TOO_BIG
            if tier == ADVANCED and len(value) > ADVANCED_LIMIT:
                return "ValidationException", ADVANCED_TOO_BIG
        if policies and tier == STANDARD and self.enabled("parameter-policies-tier"):
            return "ValidationException", POLICIES_ON_STANDARD
        kind = param("Type") or getattr(existing, "parameter_type", None)
        key_id = param("KeyId")
        if kind == "SecureString" and key_id and self.enabled("parameter-kms-key"):
            return kms_refusal(self.kms, key_id, self.region, self.account)
        return None

    def decrypted(self, names: list[str]) -> Refusal | None:
        """GetParameter(s) / GetParametersByPath WithDecryption: every SecureString's key usable."""
        if not self.enabled("parameter-kms-key"):
            return None
        for name in names:
            parameter = self.existing(name.split(":")[0])
            if parameter is not None and parameter.parameter_type == "SecureString" and parameter.keyid:
                found = kms_refusal(self.kms, parameter.keyid, self.region, self.account)
                if found:
                    return found
        return None

    def by_path(self, param: Callable[[str], Any]) -> Refusal | None:
        path = param("Path") or ""
        if self.enabled("parameter-path"):
            levels = path.rstrip("/").split("/")
            if not path.startswith("/") or not NAME.match(path) or "" in levels[1:] or len(levels) - 1 > MAX_LEVELS:
                return "ValidationException", BAD_PATH
        if param("WithDecryption"):
            prefix = path.rstrip("/") + "/"
            names = [n for n in self.ssm._parameters if n.startswith(prefix)]
            return self.decrypted(names)
        return None

    def refusal(self, action: str, param: Callable[[str], Any]) -> Refusal | None:
        if action == "PutParameter":
            return self.put_parameter(param)
        if action == "GetParameter" and param("WithDecryption"):
            return self.decrypted([param("Name") or ""])
        if action == "GetParameters" and param("WithDecryption"):
            return self.decrypted(list(param("Names") or []))
        if action == "GetParametersByPath":
            return self.by_path(param)
        if action == "DeleteParameters" and self.enabled("parameter-batch-size"):
            names = list(param("Names") or [])
            if len(names) > MAX_BATCH:
                return "ValidationException", (
                    f"1 validation error detected: Value '[{', '.join(names)}]' at 'names' failed to satisfy "
                    f"constraint: Member must have length less than or equal to {MAX_BATCH}")
        return None


def settle_tier(ssm: Any, param: Callable[[str], Any]) -> None:
    """After a PutParameter that passed: the tier moto stored is the one Parameter Store chose
    (moto keeps "Intelligent-Tiering" as given)."""
    if param("Tier") != INTELLIGENT:
        return
    versions = ssm._parameters.get((param("Name") or "").strip(" "))
    if not versions:
        return
    latest = versions[-1]
    previous = versions[-2] if len(versions) > 1 else None
    latest.tier = chosen_tier(INTELLIGENT, previous, STANDARD, param("Value"), param("Policies"))


def install(faults: Any) -> None:
    """Wraps moto's action dispatch: a Parameter Store request that breaks a rule gets AWS's refusal."""
    from moto.kms.models import kms_backends
    from moto.ssm.models import ssm_backends

    original = BaseResponse.call_action

    def call_action(self: BaseResponse) -> Any:
        if (getattr(self, "service_name", None) or "").lower() != "ssm":
            return original(self)
        action = self._get_action()
        if action not in ACTIONS:
            return original(self)
        try:
            body = json.loads(self.body or "{}")
        except ValueError:
            return original(self)

        def param(key: str) -> Any:
            return body.get(key)

        ssm = ssm_backends[self.current_account][self.region]
        rules = Rules(ssm, kms_backends[self.current_account][self.region], self.region, self.current_account,
                      frozenset(faults.current().get("lenient") or ()))
        found = rules.refusal(action, param)
        if found:
            code, message = found
            return aws_error(self, 400, code, message)
        answer = original(self)
        if action == "PutParameter" and isinstance(answer, tuple) and str(answer[0]) == "200":
            settle_tier(ssm, param)
        return answer

    BaseResponse.call_action = call_action  # type: ignore[method-assign]
