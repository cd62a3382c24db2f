"""EC2 request constraints of the local world: what AWS refuses, refused here too, for every caller.

moto accepts almost any EC2 request it can parse, so requests AWS refuses (a security group rule
description with an apostrophe, an `aws:` tag key, a too long ClientToken...) used to pass every
test. Each rule below reads the request's parameters as sent (EC2 query protocol, moto's
`response.querystring`: `IpPermissions.1.Groups.1.Description`, `TagSpecification.1.Tag.1.Key`...)
and refuses with AWS's error code and message (`world.errors.aws_error`), before moto sees the
call. Rules apply to every caller (Terraform, tests, the Lambda binaries, the nodes' `aws`), as AWS
refuses everyone; faults.json `"lenient": [names]` switches rules off (only for a test that studies
a rule's absence).

| rule | what AWS refuses (code) | source |
|---|---|---|
| sg-group-name | CreateSecurityGroup GroupName starting `sg-`; beyond ASCII; other than `a-zA-Z0-9 ._-:/()#,@[]+=&;{}!$*` or over 255 characters (InvalidParameterValue); `default` (InvalidGroup.Reserved) | botocore ec2 CreateSecurityGroupRequest.GroupName ("Can't start with sg-", the character set, 255); message "Group names may not be in the format sg-*" as observed (deployment logs found by find_string); errors-overview: InvalidGroup.Reserved |
| sg-description | CreateSecurityGroup GroupDescription beyond ASCII, outside the set or over 255 (InvalidParameterValue) | botocore CreateSecurityGroupRequest.Description; messages "Character sets beyond ASCII are not supported." and "Invalid security group description. Valid descriptions are strings less than 256 characters from the following set: ..." as observed (Terraform apply logs) |
| sg-rule-description | Authorize/UpdateSecurityGroupRuleDescriptions* rule Description (IpRanges, Ipv6Ranges, PrefixListIds, Groups = UserIdGroupPairs) outside the set or over 255 (InvalidParameterValue) | botocore IpRange/Ipv6Range/UserIdGroupPair/PrefixListId.Description; message "Invalid rule description. Valid descriptions are strings less than 256 characters from the following set:  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*" as observed (aws-cloudformation/cfn-lint#173, CLI output) |
| client-token-length | ClientToken over 64 characters or beyond ASCII (InvalidParameterValue) | botocore RunInstancesRequest.ClientToken "Constraints: Maximum 64 ASCII characters"; EC2 devguide "Ensuring idempotency" (up to 64 ASCII characters) |
| tag-key-length | tag key over 128 characters (InvalidParameterValue) | EC2 User Guide "Tag restrictions" (key 128 Unicode characters; botocore Tag.Key says 127) |
| tag-value-length | tag value over 256 characters (InvalidParameterValue) | EC2 User Guide "Tag restrictions"; botocore Tag.Value (256) |
| tag-aws-prefix | tag key starting `aws:` (InvalidParameterValue, "Tag keys starting with 'aws:' are reserved for internal use") | botocore Tag.Key "May not begin with aws:"; message as observed |
| tag-count | over 50 tags for one resource in one request (TagLimitExceeded) | EC2 User Guide "Tag restrictions" (50 per resource); moto's own TagLimitExceeded text |
| subnet-cidr-size | CreateSubnet CidrBlock not between /16 and /28 (InvalidSubnet.Range "The CIDR '…' is invalid.") | VPC User Guide "Subnet CIDR blocks" (between /28 and /16); moto checks VPC sizes, containment and overlaps itself |
| max-results | MaxResults outside the operation's range (InvalidParameterValue "Value ( n ) for parameter MaxResults is invalid. Expecting a value …") | botocore min/max of every operation's MaxResults shape (DescribeRouteTables 5–100, DescribeInstanceTypes 5–100, DescribeVpcs 5–1000…); DescribeInstances 5–1000 and DescribeVolumes ≥ 5 from the API reference's MaxResults text (older models) |
| max-results-with-ids | MaxResults with InstanceId.N (InvalidParameterCombination "The parameter instancesSet cannot be used with the parameter maxResults") | botocore DescribeInstancesRequest/DescribeInstanceStatusRequest.MaxResults "You cannot specify this parameter and the instance IDs parameter in the same request" |
| id-list-length | more than 100 InstanceType.N (DescribeInstanceTypes), 1000 ResourceId.N (CreateTags), 1000 InstanceId.N (TerminateInstances) (InvalidParameterValue) | botocore RequestInstanceTypeList max 100; CreateTagsRequest.Resources and TerminateInstancesRequest.InstanceIds "Up to 1000" |
| run-instances-count | MinCount or MaxCount below 1, MinCount above MaxCount (InvalidParameterValue) | botocore RunInstancesRequest.MinCount/MaxCount "Between 1 and the quota"; MaxCount launches "the largest possible number of instances above the specified minimum" |
| one-attribute-per-call | ModifyVpcAttribute / ModifySubnetAttribute with more than one attribute (InvalidParameterCombination "Fields for multiple attribute types specified: …") | botocore ModifyVpcAttributeRequest.EnableDnsHostnames "You cannot modify the DNS resolution and DNS hostnames attributes in the same request"; ModifySubnetAttribute "You can only modify one attribute at a time" |

Messages: where no AWS answer was found for a case, the message follows EC2's usual shape
("Value (…) for parameter … is invalid. …") and says so next to the rule. moto already refuses, with
AWS's codes, VPC blocks outside /16–/28 (InvalidVpc.Range), subnets outside their VPC
(InvalidSubnet.Range) or overlapping another (InvalidSubnet.Conflict), and more than 50 tags on a
resource over several calls (TagLimitExceeded); those are moto's, not switchable here.

Still forgiven (no source found for AWS's exact answer, or nothing mec sends comes near): empty or
duplicate tag keys in one request; group names that differ from an existing one only in case; EBS
VolumeSize outside its type's range (gp3 1–65,536 GiB...); tcp/udp rules without a port range;
DescribeImages' MaxResults (no documented range); unknown instance types and AMIs (moto's
MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION / MOTO_ENABLE_AMI_VALIDATION, off).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Network
from typing import Any

from moto.core.responses import BaseResponse

from world.errors import aws_error

Params = dict[str, list[str]]
# (code, message) of a refusal.
Refusal = tuple[str, str]

# --- security groups -------------------------------------------------------------------------

# The set EC2 prints in its refusals ("a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*"); botocore's docs of
# UserIdGroupPair and PrefixListId leave out `&`, the observed refusal text lists it: the text wins.
SG_CHARS = frozenset(string.ascii_letters + string.digits + " ._-:/()#,@[]+=&;{}!$*")
SG_SET_TEXT = "a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*"
SG_MAX = 255
RULE_DESCRIPTION = re.compile(r"^IpPermissions\.\d+\.(IpRanges|Ipv6Ranges|PrefixListIds|Groups)\.\d+\.Description$")


def first(params: Params, name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def is_ascii(text: str) -> bool:
    return text.isascii()


def in_sg_set(text: str) -> bool:
    return len(text) <= SG_MAX and all(c in SG_CHARS for c in text)


def check_group_name(params: Params) -> Refusal | None:
    name = first(params, "GroupName")
    if name is None:
        return None
    if name.startswith("sg-"):
        return "InvalidParameterValue", f"Value ({name}) for parameter GroupName is invalid. Group names may not be in the format sg-*."
    if not is_ascii(name):
        return "InvalidParameterValue", f"Value ({name}) for parameter GroupName is invalid. Character sets beyond ASCII are not supported."
    if not in_sg_set(name):
        # Shape of the description's refusal (no observed answer for names).
        return ("InvalidParameterValue", "Invalid security group name. Valid names are strings less than 256 characters "
                f"from the following set:  {SG_SET_TEXT}")
    if name == "default":
        # Code: errors-overview (InvalidGroup.Reserved, "The name 'default' is reserved").
        return "InvalidGroup.Reserved", "The security group 'default' is reserved"
    return None


def check_group_description(params: Params) -> Refusal | None:
    text = first(params, "GroupDescription")
    if text is None:
        return None
    if not is_ascii(text):
        return "InvalidParameterValue", f"Value ({text}) for parameter GroupDescription is invalid. Character sets beyond ASCII are not supported."
    if not in_sg_set(text):
        return ("InvalidParameterValue", "Invalid security group description. Valid descriptions are strings less than 256 "
                f"characters from the following set:  {SG_SET_TEXT}")
    return None


def check_rule_descriptions(params: Params) -> Refusal | None:
    for key, values in params.items():
        if RULE_DESCRIPTION.match(key) and not all(in_sg_set(v) for v in values):
            return ("InvalidParameterValue", "Invalid rule description. Valid descriptions are strings less than 256 "
                    f"characters from the following set:  {SG_SET_TEXT}")
    return None


# --- idempotency tokens ----------------------------------------------------------------------

CLIENT_TOKEN_MAX = 64


def check_client_token(params: Params) -> Refusal | None:
    token = first(params, "ClientToken")
    if token is None or (len(token) <= CLIENT_TOKEN_MAX and is_ascii(token)):
        return None
    # EC2's usual shape; the tail is ours (no observed answer).
    return ("InvalidParameterValue", f"Value ({token}) for parameter clientToken is invalid. "
            f"A client token is at most {CLIENT_TOKEN_MAX} ASCII characters.")


# --- tags ------------------------------------------------------------------------------------

TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
TAGS_PER_RESOURCE = 50
# CreateTags: Tag.N.Key; tag-on-create: TagSpecification.N.Tag.M.Key (any Create*/RunInstances).
TAG_PARAM = re.compile(r"^(?:TagSpecification\.(\d+)\.)?Tag\.(\d+)\.(Key|Value)$")


def request_tags(action: str, params: Params) -> Iterable[tuple[str, str, str]]:
    """(group, field, text) for every tag key and value the request creates: CreateTags' own tags
    (group ""), and every TagSpecification's (group = its index). DeleteTags is not creating."""
    for key, values in params.items():
        match = TAG_PARAM.match(key)
        if not match or not values:
            continue
        spec, _, field = match.groups()
        if spec is None and action != "CreateTags":
            continue
        yield spec or "", field, values[0]


def tag_check(action: str, params: Params, test: Callable[[str, str], Refusal | None]) -> Refusal | None:
    for _, field, text in request_tags(action, params):
        refused = test(field, text)
        if refused:
            return refused
    return None


def key_length(field: str, text: str) -> Refusal | None:
    if field == "Key" and len(text) > TAG_KEY_MAX:
        return "InvalidParameterValue", f"Tag key exceeds the maximum length of {TAG_KEY_MAX} characters"
    return None


def value_length(field: str, text: str) -> Refusal | None:
    if field == "Value" and len(text) > TAG_VALUE_MAX:
        return "InvalidParameterValue", f"Tag value exceeds the maximum length of {TAG_VALUE_MAX} characters"
    return None


def aws_prefix(field: str, text: str) -> Refusal | None:
    if field == "Key" and text.lower().startswith("aws:"):
        return "InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use"
    return None


def check_tag_count(action: str, params: Params) -> Refusal | None:
    keys: dict[str, set[str]] = {}
    for group, field, text in request_tags(action, params):
        if field == "Key":
            keys.setdefault(group, set()).add(text)
    if any(len(k) > TAGS_PER_RESOURCE for k in keys.values()):
        return "TagLimitExceeded", "The maximum number of Tags for a resource has been reached."
    return None


# --- CIDR blocks -----------------------------------------------------------------------------

def check_subnet_size(params: Params) -> Refusal | None:
    block = first(params, "CidrBlock")
    if block is None:
        return None
    try:
        prefix = IPv4Network(block, strict=False).prefixlen
    except ValueError:
        return None  # moto answers a malformed block itself (InvalidParameterValue)
    if 16 <= prefix <= 28:
        return None
    return "InvalidSubnet.Range", f"The CIDR '{block}' is invalid."


# --- pagination and list lengths -------------------------------------------------------------

# Ranges the botocore model does not carry: the API reference's MaxResults text of older models
# ("This value can be between 5 and 1000" for DescribeInstances; "between 5 and 500 (later 1,000);
# if larger, only that many are returned" for DescribeVolumes: no upper refusal).
EXTRA_RANGES: dict[str, tuple[int, int | None]] = {
    "DescribeInstances": (5, 1000),
    "DescribeVolumes": (5, None),
}


@lru_cache(maxsize=1)
def max_results_ranges() -> dict[str, tuple[int, int | None]]:
    """Every EC2 operation's MaxResults range, from botocore's model (min/max of the shape)."""
    import botocore.loaders

    model = botocore.loaders.create_loader().load_service_model("ec2", "service-2")
    shapes = model["shapes"]
    ranges: dict[str, tuple[int, int | None]] = {}
    for operation, spec in model["operations"].items():
        shape_name = spec.get("input", {}).get("shape")
        member = shapes.get(shape_name, {}).get("members", {}).get("MaxResults") if shape_name else None
        if member:
            shape = shapes[member["shape"]]
            if "min" in shape or "max" in shape:
                ranges[operation] = (int(shape.get("min", 0)), int(shape["max"]) if "max" in shape else None)
    return {**ranges, **EXTRA_RANGES}


def check_max_results(action: str, params: Params) -> Refusal | None:
    raw = first(params, "MaxResults")
    bounds = max_results_ranges().get(action)
    if raw is None or bounds is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        return None  # not a number: the SDKs never send one; moto answers
    low, high = bounds
    if value < low:
        return "InvalidParameterValue", f"Value ( {value} ) for parameter MaxResults is invalid. Expecting a value greater than or equal to {low}."
    if high is not None and value > high:
        return "InvalidParameterValue", f"Value ( {value} ) for parameter MaxResults is invalid. Expecting a value smaller than or equal to {high}."
    return None


def count(params: Params, prefix: str) -> int:
    return sum(1 for key in params if key.startswith(prefix) and key[len(prefix):].isdigit())


def check_max_results_with_ids(params: Params) -> Refusal | None:
    if "MaxResults" in params and count(params, "InstanceId.") > 0:
        return "InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults"
    return None


# (action, list prefix, most) — messages in EC2's usual shape (no observed answer).
LIST_LIMITS: dict[str, tuple[str, int, str]] = {
    "DescribeInstanceTypes": ("InstanceType.", 100, "instanceType"),
    "CreateTags": ("ResourceId.", 1000, "resourceId"),
    "TerminateInstances": ("InstanceId.", 1000, "instanceId"),
}


def check_list_length(action: str, params: Params) -> Refusal | None:
    prefix, most, name = LIST_LIMITS[action]
    given = count(params, prefix)
    if given <= most:
        return None
    return "InvalidParameterValue", f"Value ({given}) for parameter {name} is invalid. At most {most} values may be specified."


# --- RunInstances counts ---------------------------------------------------------------------

def check_counts(params: Params) -> Refusal | None:
    try:
        low, high = int(first(params, "MinCount") or "1"), int(first(params, "MaxCount") or "1")
    except ValueError:
        return None
    # EC2's usual shape; no observed answer for these cases.
    if low < 1:
        return "InvalidParameterValue", f"Value ({low}) for parameter minCount is invalid. Expecting a value greater than or equal to 1."
    if high < 1:
        return "InvalidParameterValue", f"Value ({high}) for parameter maxCount is invalid. Expecting a value greater than or equal to 1."
    if low > high:
        return "InvalidParameterValue", f"Value ({low}) for parameter minCount is invalid. minCount must be less than or equal to maxCount ({high})."
    return None


# --- one attribute per Modify*Attribute call --------------------------------------------------

VPC_ATTRIBUTES = {"EnableDnsSupport": "enableDnsSupport", "EnableDnsHostnames": "enableDnsHostnames",
                  "EnableNetworkAddressUsageMetrics": "enableNetworkAddressUsageMetrics"}
# MapCustomerOwnedIpOnLaunch and CustomerOwnedIpv4Pool "act as a single attribute" (botocore).
SUBNET_ATTRIBUTES = {"MapPublicIpOnLaunch": "mapPublicIpOnLaunch", "AssignIpv6AddressOnCreation": "assignIpv6AddressOnCreation",
                     "MapCustomerOwnedIpOnLaunch": "mapCustomerOwnedIpOnLaunch", "EnableDns64": "enableDns64",
                     "PrivateDnsHostnameTypeOnLaunch": "privateDnsHostnameTypeOnLaunch",
                     "EnableResourceNameDnsARecordOnLaunch": "enableResourceNameDnsARecordOnLaunch",
                     "EnableResourceNameDnsAAAARecordOnLaunch": "enableResourceNameDnsAAAARecordOnLaunch",
                     "EnableLniAtDeviceIndex": "enableLniAtDeviceIndex", "DisableLniAtDeviceIndex": "disableLniAtDeviceIndex"}


def check_one_attribute(action: str, params: Params) -> Refusal | None:
    attributes = VPC_ATTRIBUTES if action == "ModifyVpcAttribute" else SUBNET_ATTRIBUTES
    given = [wire for name, wire in attributes.items() if name in params or f"{name}.Value" in params]
    if len(given) > 1:
        return "InvalidParameterCombination", f"Fields for multiple attribute types specified: {', '.join(given)}"
    return None


# --- the table -------------------------------------------------------------------------------

Check = Callable[[str, Params], Refusal | None]


@dataclass(frozen=True)
class Rule:
    """One AWS constraint: `check(action, params)` answers the refusal, if any. `actions`: the
    operations it applies to (None: every EC2 operation)."""
    name: str
    actions: frozenset[str] | None
    check: Check


def on_params(check: Callable[[Params], Refusal | None]) -> Check:
    return lambda _action, params: check(params)


def on_tags(test: Callable[[str, str], Refusal | None]) -> Check:
    return lambda action, params: tag_check(action, params, test)


RULES: tuple[Rule, ...] = (
    Rule("sg-group-name", frozenset({"CreateSecurityGroup"}), on_params(check_group_name)),
    Rule("sg-description", frozenset({"CreateSecurityGroup"}), on_params(check_group_description)),
    Rule("sg-rule-description", frozenset({"AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
                                            "UpdateSecurityGroupRuleDescriptionsIngress",
                                            "UpdateSecurityGroupRuleDescriptionsEgress"}),
         on_params(check_rule_descriptions)),
    Rule("client-token-length", None, on_params(check_client_token)),
    Rule("tag-key-length", None, on_tags(key_length)),
    Rule("tag-value-length", None, on_tags(value_length)),
    Rule("tag-aws-prefix", None, on_tags(aws_prefix)),
    Rule("tag-count", None, check_tag_count),
    Rule("subnet-cidr-size", frozenset({"CreateSubnet"}), on_params(check_subnet_size)),
    Rule("max-results", None, check_max_results),
    Rule("max-results-with-ids", frozenset({"DescribeInstances", "DescribeInstanceStatus"}), on_params(check_max_results_with_ids)),
    Rule("id-list-length", frozenset(LIST_LIMITS), check_list_length),
    Rule("run-instances-count", frozenset({"RunInstances"}), on_params(check_counts)),
    Rule("one-attribute-per-call", frozenset({"ModifyVpcAttribute", "ModifySubnetAttribute"}), check_one_attribute),
)

RULE_NAMES = frozenset(rule.name for rule in RULES)


@lru_cache(maxsize=None)
def rules_for(action: str) -> tuple[Rule, ...]:
    return tuple(rule for rule in RULES if rule.actions is None or action in rule.actions)


def refusal(action: str, params: Params, lenient: Callable[[], frozenset[str]]) -> tuple[str, Refusal] | None:
    """The first rule `action` with `params` breaks, as (rule name, (code, message)); `lenient` is
    asked only once something breaks (it reads faults.json), and at most once."""
    switched_off: list[frozenset[str]] = []
    for rule in rules_for(action):
        refused = rule.check(action, params)
        if not refused:
            continue
        if not switched_off:
            switched_off.append(lenient())
        if rule.name not in switched_off[0]:
            return rule.name, refused
    return None


def lenient_names(faults: Any) -> frozenset[str]:
    """The rules faults.json switches off (`"lenient": [names]`)."""
    return frozenset(faults.current().get("lenient") or ())


def install(faults: Any) -> None:
    """Wraps moto's action dispatch: an EC2 request that breaks a rule gets AWS's refusal."""
    max_results_ranges()  # load the model now, not on the first call
    original = BaseResponse.call_action

    def call_action(self: BaseResponse) -> Any:
        if (getattr(self, "service_name", None) or "").lower() == "ec2":
            found = refusal(self._get_action(), self.querystring, lambda: lenient_names(faults))
            if found:
                _, (code, message) = found
                return aws_error(self, 400, code, message)
        return original(self)

    BaseResponse.call_action = call_action  # type: ignore[method-assign]
