"""IAM enforced in the local world (local/world/iam).

First the evaluator on its own (local/world/iam/policy.py: AWS's documented evaluation logic),
then a bare world: a role and its policy made with boto3, a session from STS AssumeRole, an
allowed call that passes and each kind of denial answered as AWS answers it (wrong resource,
failed tag condition, missing implied CreateTags / PassRole / KMS, key policy, explicit deny,
unmapped operation, missing session token), then instance-profile credentials with their
request-context keys, in process.
"""

from __future__ import annotations

import base64
import io
import json
import sys
import time
import uuid
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import BINARIES, ROOT, client

sys.path.insert(0, str(ROOT / "local"))
sys.path.insert(0, str(ROOT / "local" / "moto"))

from world.iam import policy  # noqa: E402

ACCOUNT = "123456789012"
SESSION_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/r"


# --- the evaluator --------------------------------------------------------------------------------


def principal(*statements: dict, version: str = "2012-10-17", boundary: list[dict] | None = None,
              session: list[dict] | None = None) -> policy.Principal:
    def compiled(items: list[dict], name: str) -> tuple[policy.Statement, ...]:
        return policy.compile_policy({"Version": version, "Statement": items}, name)

    return policy.Principal(SESSION_ARN, ROLE_ARN, ACCOUNT, compiled(list(statements), "inline"),
                            compiled(boundary, "boundary") if boundary is not None else None,
                            compiled(session, "session") if session is not None else None)


def allowed(who: policy.Principal, action: str, resource: str = "*", **context: list[str] | str) -> bool:
    ctx = {k.replace("__", ":").replace("_slash_", "/").lower(): v if isinstance(v, list) else [v]
           for k, v in context.items()}
    return policy.decide(who, policy.Request(action, resource, ctx)).allowed


def request(action: str, resource: str = "*", **ctx: list[str]) -> policy.Request:
    return policy.Request(action, resource, {k.lower(): v for k, v in ctx.items()})


def test_explicit_deny_beats_allow_and_no_allow_is_implicit_deny() -> None:
    who = principal({"Effect": "Allow", "Action": "ssm:*", "Resource": "*"},
                    {"Sid": "NoDelete", "Effect": "Deny", "Action": "ssm:DeleteParameter", "Resource": "*"})
    assert policy.decide(who, request("ssm:GetParameter")).allowed
    denied = policy.decide(who, request("ssm:DeleteParameter"))
    assert (denied.allowed, denied.reason, denied.statement) == (False, "explicit-identity", "inline#NoDelete")
    assert denied.because("ssm:DeleteParameter") == "with an explicit deny in an identity-based policy"
    nothing = policy.decide(who, request("ec2:RunInstances"))
    assert (nothing.allowed, nothing.reason) == (False, "no-identity")
    assert nothing.because("ec2:RunInstances") == "because no identity-based policy allows the ec2:RunInstances action"


def test_actions_match_case_insensitively_with_wildcards_and_not_action() -> None:
    who = principal({"Effect": "Allow", "Action": ["EC2:describe*", "ssm:Get?arameter"], "Resource": "*"},
                    {"Effect": "Allow", "NotAction": ["iam:*", "ec2:*"], "Resource": "*"})
    assert policy.decide(who, request("ec2:DescribeVpcs")).allowed
    assert policy.decide(who, request("ssm:GetParameter")).allowed
    assert policy.decide(who, request("states:StartExecution")).allowed  # NotAction leaves it in
    assert not policy.decide(who, request("ec2:RunInstances")).allowed
    assert not policy.decide(who, request("iam:PassRole")).allowed


def test_resources_match_per_arn_part_case_sensitively_and_not_resource() -> None:
    who = principal({"Effect": "Allow", "Action": "ec2:TerminateInstances", "Resource": "arn:aws:ec2:*:*:instance/*"},
                    {"Effect": "Allow", "Action": "ssm:GetParameter", "NotResource": "arn:aws:ssm:*:*:parameter/secret/*"})
    assert policy.decide(who, request("ec2:TerminateInstances", f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-1")).allowed
    assert not policy.decide(who, request("ec2:TerminateInstances", f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-1")).allowed
    assert not policy.decide(who, request("ec2:TerminateInstances", f"arn:aws:ec2:us-east-1:{ACCOUNT}:Instance/i-1")).allowed
    assert policy.decide(who, request("ssm:GetParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/x")).allowed
    assert not policy.decide(who, request("ssm:GetParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/secret/x")).allowed
    # Each ARN part on its own: a `*` in the region part does not reach across a colon.
    assert not policy.arn_match("arn:aws:ec2:*:instance/*", f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-1")
    assert policy.arn_match("arn:aws:ec2:*:*:*", f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-1")
    # An action without resource types is asked on "*": a specific ARN does not cover it.
    narrow = principal({"Effect": "Allow", "Action": "ssm:DescribeInstanceInformation", "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:*"})
    assert not policy.decide(narrow, request("ssm:DescribeInstanceInformation", "*")).allowed


def cond(block: dict, **ctx: list[str]) -> bool:
    statement = policy.compile_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": block}]}, "t")[0]
    return not statement.failed_conditions({k.lower(): v for k, v in ctx.items()})


def test_string_conditions_and_absent_keys() -> None:
    tag = "aws:RequestTag/mec:managed-by"
    assert cond({"StringEquals": {tag: "mec"}}, **{tag: ["mec"]})
    assert not cond({"StringEquals": {tag: "mec"}}, **{tag: ["MEC"]})
    assert cond({"StringEqualsIgnoreCase": {tag: "mec"}}, **{tag: ["MEC"]})
    assert cond({"StringLike": {tag: ["m?c", "other"]}}, **{tag: ["mec"]})  # values: OR
    assert not cond({"StringEquals": {tag: "mec"}})  # absent key: false
    assert cond({"StringNotEquals": {tag: "mec"}})  # ... but true for a negated operator
    assert not cond({"StringNotEquals": {tag: ["mec", "x"]}}, **{tag: ["x"]})  # negated values: NOR
    assert cond({"StringNotLike": {tag: "m*"}}, **{tag: ["other"]})
    # Condition key names are case-insensitive.
    assert cond({"StringEquals": {"AWS:REQUESTTAG/MEC:MANAGED-BY": "mec"}}, **{tag: ["mec"]})
    # Two keys in one operator, and two operators: AND.
    both = {"StringEquals": {tag: "mec", "ec2:CreateAction": "RunInstances"}}
    assert cond(both, **{tag: ["mec"], "ec2:CreateAction": ["RunInstances"]})
    assert not cond(both, **{tag: ["mec"], "ec2:CreateAction": ["CreateVpc"]})
    assert not cond({"StringEquals": {tag: "mec"}, "Bool": {"aws:SecureTransport": "true"}}, **{tag: ["mec"]})


def test_if_exists_and_null() -> None:
    key = "ec2:InstanceType"
    assert cond({"StringEqualsIfExists": {key: "t4g.medium"}})
    assert cond({"StringEqualsIfExists": {key: "t4g.medium"}}, **{key: ["t4g.medium"]})
    assert not cond({"StringEqualsIfExists": {key: "t4g.medium"}}, **{key: ["m5.large"]})
    assert cond({"Null": {key: "true"}})
    assert not cond({"Null": {key: "true"}}, **{key: ["m5.large"]})
    assert cond({"Null": {key: "false"}}, **{key: ["m5.large"]})


def test_set_operators_on_tag_keys() -> None:
    keys = ["mec:managed-by", "Name"]
    assert cond({"ForAllValues:StringLike": {"aws:TagKeys": ["mec:*", "Name"]}}, **{"aws:TagKeys": keys})
    assert not cond({"ForAllValues:StringLike": {"aws:TagKeys": ["mec:*"]}}, **{"aws:TagKeys": keys})
    assert cond({"ForAllValues:StringLike": {"aws:TagKeys": ["mec:*"]}})  # absent: true
    assert cond({"ForAnyValue:StringEquals": {"aws:TagKeys": "Name"}}, **{"aws:TagKeys": keys})
    assert not cond({"ForAnyValue:StringEquals": {"aws:TagKeys": "Name"}})  # absent: false
    assert cond({"ForAnyValue:StringNotEquals": {"aws:TagKeys": "Name"}}, **{"aws:TagKeys": keys})
    assert not cond({"ForAllValues:StringNotEquals": {"aws:TagKeys": "Name"}}, **{"aws:TagKeys": keys})


def test_numeric_date_bool_ip_arn_binary_operators() -> None:
    assert cond({"NumericLessThanEquals": {"ec2:VolumeSize": "30"}}, **{"ec2:VolumeSize": ["30"]})
    assert not cond({"NumericLessThan": {"ec2:VolumeSize": "30"}}, **{"ec2:VolumeSize": ["31"]})
    assert not cond({"NumericEquals": {"ec2:VolumeSize": "30"}}, **{"ec2:VolumeSize": ["many"]})
    assert cond({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}, **{"aws:CurrentTime": ["2026-06-01T12:00:00Z"]})
    assert cond({"DateGreaterThan": {"aws:EpochTime": "1000"}}, **{"aws:EpochTime": ["2000"]})
    assert cond({"Bool": {"aws:SecureTransport": True}}, **{"aws:SecureTransport": ["true"]})
    assert not cond({"Bool": {"aws:SecureTransport": "false"}}, **{"aws:SecureTransport": ["true"]})
    assert cond({"IpAddress": {"aws:SourceIp": "10.0.0.0/16"}}, **{"aws:SourceIp": ["10.0.3.4"]})
    assert cond({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/16"}}, **{"aws:SourceIp": ["10.1.3.4"]})
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/mec-join"
    assert cond({"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:*"}},
                **{"kms:EncryptionContext:aws:logs:arn": [arn]})
    assert cond({"ArnEquals": {"aws:SourceArn": "arn:aws:*:us-east-1:*:*"}}, **{"aws:SourceArn": [arn]})
    assert not cond({"ArnNotLike": {"aws:SourceArn": "arn:aws:logs:*:*:*"}}, **{"aws:SourceArn": [arn]})
    data = base64.b64encode(b"x").decode()
    assert cond({"BinaryEquals": {"k": data}}, k=[data])


def test_policy_variables_in_resources_and_conditions() -> None:
    vpc = "vpc-0abc"
    who = principal({"Effect": "Allow", "Action": "ssm:GetParameters",
                     "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/mec/${{aws:Ec2InstanceSourceVpc}}/*"},
                    {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*",
                     "Condition": {"StringEquals": {"aws:ResourceTag/owner": "${aws:userid}"}}},
                    {"Effect": "Allow", "Action": "s3:GetObject",
                     "Resource": "arn:aws:s3:::b/${aws:PrincipalTag/team, 'none'}/${*}"})
    own = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/mec/{vpc}/join-token"
    other = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/mec/vpc-other/join-token"
    ctx = {"aws:ec2instancesourcevpc": [vpc]}
    assert policy.decide(who, policy.Request("ssm:GetParameters", own, ctx)).allowed
    assert not policy.decide(who, policy.Request("ssm:GetParameters", other, ctx)).allowed
    # No such key in the request: the variable matches nothing.
    assert not policy.decide(who, policy.Request("ssm:GetParameters", own, {})).allowed
    assert policy.decide(who, policy.Request("ec2:CreateTags", "*", {"aws:userid": ["AROA:s"], "aws:resourcetag/owner": ["AROA:s"]})).allowed
    assert not policy.decide(who, policy.Request("ec2:CreateTags", "*", {"aws:userid": ["AROA:s"], "aws:resourcetag/owner": ["x"]})).allowed
    # A default value, and ${*} as a literal star.
    assert policy.decide(who, policy.Request("s3:GetObject", "arn:aws:s3:::b/none/*", {})).allowed
    assert not policy.decide(who, policy.Request("s3:GetObject", "arn:aws:s3:::b/none/x", {})).allowed
    # Version 2008-10-17: no variables, the text is literal.
    old = principal({"Effect": "Allow", "Action": "ssm:GetParameters",
                     "Resource": "arn:aws:ssm:us-east-1:1:parameter/${aws:username}"}, version="2008-10-17")
    assert policy.decide(old, policy.Request("ssm:GetParameters", "arn:aws:ssm:us-east-1:1:parameter/${aws:username}",
                                             {"aws:username": ["bob"]})).allowed


def key_policy(*statements: dict) -> tuple[policy.Statement, ...]:
    return policy.compile_policy({"Version": "2012-10-17", "Statement": list(statements)}, "key policy")


def test_kms_key_policy_joins_the_decision() -> None:
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k"
    use = {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": key}
    root = key_policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"})
    direct = key_policy({"Effect": "Allow", "Principal": {"AWS": ROLE_ARN}, "Action": "kms:Encrypt", "Resource": "*"})
    others = key_policy({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "kms:*", "Resource": "*"},
                        {"Effect": "Allow", "Principal": {"Service": "logs.us-east-1.amazonaws.com"}, "Action": "kms:*", "Resource": "*"})
    req = policy.Request("kms:Encrypt", key, {})
    # The account root in the key policy: IAM decides.
    assert policy.decide(principal(use), req, root, True).allowed
    assert policy.decide(principal(), req, root, True).reason == "no-identity"
    # The role named in the key policy: no IAM statement needed.
    assert policy.decide(principal(), req, direct, True).allowed
    # A key policy that names neither: IAM cannot help.
    refused = policy.decide(principal(use), req, others, True)
    assert (refused.allowed, refused.reason) == (False, "no-resource")
    assert refused.because("kms:Encrypt") == "because no resource-based policy allows the kms:Encrypt action"
    deny = key_policy({"Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*"})
    assert policy.decide(principal(use), req, root + deny, True).reason == "explicit-resource"


def test_permissions_boundary_and_session_policy_bound_the_role() -> None:
    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    only_ssm = [{"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}]
    bounded = principal(everything, boundary=only_ssm)
    assert policy.decide(bounded, request("ssm:GetParameter")).allowed
    assert policy.decide(bounded, request("ec2:RunInstances")).reason == "no-boundary"
    scoped = principal(everything, session=only_ssm)
    assert policy.decide(scoped, request("ec2:RunInstances")).reason == "no-session"
    # The boundary limits, it does not grant.
    assert policy.decide(principal(boundary=only_ssm), request("ssm:GetParameter")).reason == "no-identity"


def test_denials_explain_the_near_misses() -> None:
    who = principal({"Sid": "Tagged", "Effect": "Allow", "Action": "ec2:CreateVpc", "Resource": "arn:aws:ec2:*:*:vpc/*",
                     "Condition": {"StringEquals": {"aws:RequestTag/mec:managed-by": "mec"}}})
    refused = policy.decide(who, request("ec2:CreateVpc", f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/*"))
    assert refused.near == ("inline#Tagged: condition fails: StringEquals aws:RequestTag/mec:managed-by ['mec'] "
                            "(absent from the request context)",)


# --- in a bare world --------------------------------------------------------------------------------

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


class Session:
    """A role made with boto3 (admin key), its session from STS AssumeRole, and clients signed with it."""

    def __init__(self, endpoint: str, *statements: dict, managed: tuple[str, ...] = ()) -> None:
        self.endpoint = endpoint
        self.role = f"test-{uuid.uuid4().hex[:10]}"
        iam = client(endpoint, "iam")
        self.role_arn = iam.create_role(RoleName=self.role, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        if statements:
            self.put(*statements)
        for arn in managed:
            iam.attach_role_policy(RoleName=self.role, PolicyArn=arn)
        credentials = client(endpoint, "sts").assume_role(RoleArn=self.role_arn, RoleSessionName="tester")["Credentials"]
        self.keys = {"aws_access_key_id": credentials["AccessKeyId"], "aws_secret_access_key": credentials["SecretAccessKey"],
                     "aws_session_token": credentials["SessionToken"]}
        self.arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{self.role}/tester"

    def put(self, *statements: dict) -> None:
        document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
        client(self.endpoint, "iam").put_role_policy(RoleName=self.role, PolicyName="test", PolicyDocument=document)

    def client(self, service: str, **overrides: str):
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1", **{**self.keys, **overrides})


def refusal(call, *args, **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return {"code": caught.value.response["Error"]["Code"], "message": caught.value.response["Error"].get("Message", ""),
            "status": caught.value.response["ResponseMetadata"]["HTTPStatusCode"]}


def denied_log(state: Path, principal: str) -> list[dict]:
    path = state / "logs" / "iam-denied.jsonl"
    return [r for r in map(json.loads, path.read_text().splitlines()) if r["principal"] == principal] if path.exists() else []


def set_lenient(state: Path, *rules: str) -> None:
    (state / "faults.json").write_text(json.dumps({"lenient": list(rules)}))


@pytest.fixture()
def lenient(bare_world):
    _, state = bare_world
    yield lambda *rules: set_lenient(state, *rules)
    (state / "faults.json").unlink(missing_ok=True)


EC2 = f"arn:aws:ec2:us-east-1:{ACCOUNT}"
TAG = [{"ResourceType": "vpc", "Tags": [{"Key": "mec:managed-by", "Value": "mec"}]}]
CREATE_TAGGED_VPC = {"Sid": "CreateTaggedVpc", "Effect": "Allow", "Action": "ec2:CreateVpc", "Resource": f"{EC2}:vpc/*",
                     "Condition": {"StringEquals": {"aws:RequestTag/mec:managed-by": "mec"}}}
TAG_AT_CREATION = {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": f"{EC2}:vpc/*",
                   "Condition": {"StringEquals": {"ec2:CreateAction": "CreateVpc"}}}


def test_an_allowed_call_passes(bare_world) -> None:
    endpoint, _ = bare_world
    session = Session(endpoint, CREATE_TAGGED_VPC, TAG_AT_CREATION)
    vpc = session.client("ec2").create_vpc(CidrBlock="10.7.0.0/16", TagSpecifications=TAG)["Vpc"]
    assert {"Key": "mec:managed-by", "Value": "mec"} in vpc["Tags"]
    # Calls that need no permission pass; the admin key is never refused.
    assert session.client("sts").get_caller_identity()["Arn"] == session.arn


def test_a_failed_tag_condition_is_refused_as_ec2_refuses(bare_world) -> None:
    endpoint, state = bare_world
    session = Session(endpoint, CREATE_TAGGED_VPC, TAG_AT_CREATION)
    got = refusal(session.client("ec2").create_vpc, CidrBlock="10.8.0.0/16")
    assert (got["code"], got["status"]) == ("UnauthorizedOperation", 403)
    prefix = (f"You are not authorized to perform this operation. User: {session.arn} is not authorized to perform: "
              f"ec2:CreateVpc on resource: {EC2}:vpc/* because no identity-based policy allows the ec2:CreateVpc "
              "action. Encoded authorization failure message: ")
    assert got["message"].startswith(prefix)
    encoded = got["message"][len(prefix):]
    decoded = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    assert decoded["allowed"] is False and decoded["context"]["action"] == "ec2:CreateVpc"
    time.sleep(1)  # past EC2's eventual consistency: nothing was created
    assert not client(endpoint, "ec2").describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.8.0.0/16"]}])["Vpcs"]
    record = denied_log(state, session.arn)[-1]
    assert (record["action"], record["resource"], record["reason"]) == ("ec2:CreateVpc", f"{EC2}:vpc/*", "no-identity")
    assert record["missing_statement"] == {"Effect": "Allow", "Action": "ec2:CreateVpc", "Resource": f"{EC2}:vpc/*"}
    assert any("CreateTaggedVpc: condition fails: StringEquals aws:RequestTag/mec:managed-by" in n for n in record["near_misses"])


def test_a_missing_implied_create_tags_is_refused(bare_world) -> None:
    endpoint, state = bare_world
    session = Session(endpoint, CREATE_TAGGED_VPC)
    got = refusal(session.client("ec2").create_vpc, CidrBlock="10.9.0.0/16", TagSpecifications=TAG)
    assert got["code"] == "UnauthorizedOperation"
    assert f"is not authorized to perform: ec2:CreateTags on resource: {EC2}:vpc/* because no identity-based " \
           "policy allows the ec2:CreateTags action" in got["message"]
    assert denied_log(state, session.arn)[-1]["implied_by"] == "TagSpecifications on CreateVpc"


def test_a_wrong_resource_is_refused_as_ssm_refuses(bare_world) -> None:
    endpoint, state = bare_world
    session = Session(endpoint, {"Effect": "Allow", "Action": "ssm:PutParameter",
                                 "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/mec/*"})
    ssm = session.client("ssm")
    ssm.put_parameter(Name="/mec/lab-1/note", Value="x", Type="String")
    got = refusal(ssm.put_parameter, Name="/other/note", Value="x", Type="String")
    assert got == {"code": "AccessDeniedException", "status": 400, "message":
                   f"User: {session.arn} is not authorized to perform: ssm:PutParameter on resource: "
                   f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/other/note because no identity-based policy allows "
                   "the ssm:PutParameter action"}
    assert denied_log(state, session.arn)[-1]["near_misses"] == ["inline test: action matches, resource does not"]


def test_tags_on_put_parameter_need_add_tags_to_resource(bare_world) -> None:
    endpoint, _ = bare_world
    put = {"Effect": "Allow", "Action": "ssm:PutParameter", "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/mec/*"}
    session = Session(endpoint, put)
    tags = [{"Key": "mec:vpc", "Value": "vpc-1"}]
    got = refusal(session.client("ssm").put_parameter, Name="/mec/t/join-token", Value="x", Type="String", Tags=tags)
    assert "ssm:AddTagsToResource on resource: " f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/mec/t/join-token" in got["message"]
    session.put(put, {**put, "Action": "ssm:AddTagsToResource"})
    session.client("ssm").put_parameter(Name="/mec/t/join-token", Value="x", Type="String", Tags=tags)


def test_an_explicit_deny_wins(bare_world) -> None:
    endpoint, _ = bare_world
    session = Session(endpoint, {"Effect": "Allow", "Action": "ssm:*", "Resource": "*"},
                      {"Sid": "KeepIt", "Effect": "Deny", "Action": "ssm:DeleteParameter", "Resource": "*"})
    ssm = session.client("ssm")
    ssm.put_parameter(Name="/deny/x", Value="x", Type="String")
    got = refusal(ssm.delete_parameter, Name="/deny/x")
    assert got["message"].endswith("ssm:DeleteParameter on resource: "
                                   f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/deny/x with an explicit deny in an identity-based policy")


def eventually(call, *args, **kwargs):
    """EC2 is eventually consistent (the world says so too): a new id may be unknown for a moment."""
    deadline = time.time() + 5
    while True:
        try:
            return call(*args, **kwargs)
        except ClientError as error:
            if not error.response["Error"]["Code"].endswith(".NotFound") or time.time() > deadline:
                raise
            time.sleep(0.2)


def launchable(endpoint: str) -> dict:
    """What a RunInstances needs, made with the admin key: a tagged subnet and group, an image,
    an instance profile and its role."""
    ec2, iam = client(endpoint, "ec2"), client(endpoint, "iam")
    tags = [{"Key": "mec:managed-by", "Value": "mec"}]
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = eventually(ec2.create_subnet, VpcId=vpc, CidrBlock="10.20.1.0/24",
                        TagSpecifications=[{"ResourceType": "subnet", "Tags": tags}])["Subnet"]["SubnetId"]
    group = eventually(ec2.create_security_group, VpcId=vpc, GroupName=f"g-{uuid.uuid4().hex[:6]}", Description="g",
                       TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}])["GroupId"]
    time.sleep(0.6)  # the subnet and group known everywhere before the launches name them
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    name = f"node-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return {"vpc": vpc, "subnet": subnet, "group": group, "image": image, "profile": name, "role": role}


def launch_statements(with_spot: bool = False, with_pass_role: bool = True, role: str = "*") -> list[dict]:
    """mec's launch statements (infra/modules/pipeline/iam.tf launch_statements), trimmed."""
    resources = [f"{EC2}:instance/*", f"{EC2}:volume/*", f"{EC2}:network-interface/*", f"{EC2}:subnet/*",
                 f"{EC2}:security-group/*", "arn:aws:ec2:us-east-1::image/*", "arn:aws:ec2:us-east-1::snapshot/*"]
    statements = [
        {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": resources + ([f"{EC2}:spot-instances-request/*"] if with_spot else [])},
        {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": [f"{EC2}:instance/*", f"{EC2}:volume/*"],
         "Condition": {"StringEquals": {"ec2:CreateAction": "RunInstances"}}},
    ]
    if with_pass_role:
        statements.append({"Effect": "Allow", "Action": "iam:PassRole", "Resource": role,
                           "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}})
    return statements


def run(ec2, world: dict, spot: bool = False):
    options = {"InstanceMarketOptions": {"MarketType": "spot"}} if spot else {}
    return ec2.run_instances(ImageId=world["image"], InstanceType="t3.micro", MinCount=1, MaxCount=1,
                             SubnetId=world["subnet"], SecurityGroupIds=[world["group"]],
                             IamInstanceProfile={"Name": world["profile"]},
                             TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "mec:managed-by", "Value": "mec"}]}],
                             **options)


def test_a_missing_pass_role_is_refused_and_granted_it_launches(bare_world) -> None:
    endpoint, state = bare_world
    world = launchable(endpoint)
    session = Session(endpoint, *launch_statements(with_pass_role=False))
    got = refusal(run, session.client("ec2"), world)
    assert got["code"] == "UnauthorizedOperation"
    assert (f"User: {session.arn} is not authorized to perform: iam:PassRole on resource: {world['role']} "
            "because no identity-based policy allows the iam:PassRole action") in got["message"]
    assert denied_log(state, session.arn)[-1]["implied_by"] == "IamInstanceProfile on RunInstances"
    session.put(*launch_statements(role=world["role"]))  # an IAM write: the next call reads it
    assert run(session.client("ec2"), world)["Instances"][0]["IamInstanceProfile"]


def test_a_spot_launch_needs_the_spot_instances_request_resource(bare_world) -> None:
    endpoint, _ = bare_world
    world = launchable(endpoint)
    session = Session(endpoint, *launch_statements())
    got = refusal(run, session.client("ec2"), world, spot=True)
    assert f"ec2:RunInstances on resource: {EC2}:spot-instances-request/* because no identity-based policy" in got["message"]
    session.put(*launch_statements(with_spot=True))
    assert run(session.client("ec2"), world, spot=True)["Instances"][0]["InstanceLifecycle"] == "spot"


def test_a_secure_string_needs_kms_through_ssm_and_the_key_policy(bare_world) -> None:
    endpoint, state = bare_world
    kms = client(endpoint, "kms")
    key = kms.create_key(Description="t")["KeyMetadata"]["Arn"]  # default key policy: the account root
    parameters = {"Effect": "Allow", "Action": ["ssm:PutParameter", "ssm:GetParameter"],
                  "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/mec/*"}
    session = Session(endpoint, parameters)
    ssm = session.client("ssm")
    name = f"/mec/{uuid.uuid4().hex[:6]}/join-token"
    got = refusal(ssm.put_parameter, Name=name, Value="s3cret", Type="SecureString", KeyId=key)
    assert (got["code"], got["status"]) == ("AccessDeniedException", 400)
    assert got["message"].startswith(f"User: {session.arn} is not authorized to perform: kms:Encrypt on resource: {key} "
                                     "because no identity-based policy allows the kms:Encrypt action (Service: AWSKMS; "
                                     "Status Code: 400; Error Code: AccessDeniedException; Request ID: ")
    record = denied_log(state, session.arn)[-1]
    assert record["context"]["kms:viaservice"] == ["ssm.us-east-1.amazonaws.com"]
    assert record["context"]["kms:encryptioncontext:parameter_arn"] == [f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter{name}"]
    via_ssm = {"StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}}
    session.put(parameters, {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": key, "Condition": via_ssm})
    ssm.put_parameter(Name=name, Value="s3cret", Type="SecureString", KeyId=key)
    assert ssm.get_parameter(Name=name)["Parameter"]["Type"] == "SecureString"  # no decryption: no KMS
    got = refusal(ssm.get_parameter, Name=name, WithDecryption=True)
    assert got["message"].startswith("The ciphertext refers to a customer master key that does not exist, does not exist "
                                     "in this region, or you are not allowed to access. (Service: AWSKMS;")
    session.put(parameters, {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": key, "Condition": via_ssm})
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "s3cret"
    # Called directly, not through SSM, the same statement does not apply.
    assert refusal(session.client("kms").encrypt, KeyId=key, Plaintext=b"x")["code"] == "AccessDeniedException"
    # A key policy that trusts neither the role nor the account root: IAM's allow does not count.
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "kms:*", "Resource": "*"}]}))
    got = refusal(ssm.put_parameter, Name=name, Value="new", Type="SecureString", KeyId=key, Overwrite=True)
    assert "because no resource-based policy allows the kms:Encrypt action" in got["message"]


def test_a_schedule_needs_pass_role_for_its_role(bare_world) -> None:
    endpoint, _ = bare_world
    schedules = f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/default/*"
    session = Session(endpoint, {"Effect": "Allow", "Action": "scheduler:CreateSchedule", "Resource": schedules})
    target = {"Arn": f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:m", "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/scheduler"}
    got = refusal(session.client("scheduler").create_schedule, Name="lab-1-expiry", ScheduleExpression="at(2030-01-01T00:00:00)",
                  FlexibleTimeWindow={"Mode": "OFF"}, Target=target)
    assert got == {"code": "AccessDeniedException", "status": 403, "message":
                   f"User: {session.arn} is not authorized to perform: iam:PassRole on resource: {target['RoleArn']} "
                   "because no identity-based policy allows the iam:PassRole action"}


def test_step_functions_calls_are_decided_per_state_machine(bare_world) -> None:
    endpoint, _ = bare_world
    machine = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:allowed"
    session = Session(endpoint, {"Effect": "Allow", "Action": "states:StartExecution", "Resource": machine})
    other = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:other"
    got = refusal(session.client("stepfunctions").start_execution, stateMachineArn=other, input="{}")
    assert got == {"code": "AccessDeniedException", "status": 400, "message":
                   f"User: {session.arn} is not authorized to perform: states:StartExecution on resource: {other} "
                   "because no identity-based policy allows the states:StartExecution action"}


def test_an_unmapped_operation_is_refused_and_reported(bare_world, lenient) -> None:
    endpoint, state = bare_world
    session = Session(endpoint, {"Effect": "Allow", "Action": "*", "Resource": "*"})
    got = refusal(session.client("stepfunctions").list_activities)
    assert (got["code"], got["status"]) == ("AccessDeniedException", 400)
    assert "states:ListActivities" in got["message"]
    lines = [json.loads(line) for line in (state / "logs" / "iam-unmapped.jsonl").read_text().splitlines()]
    assert {"principal": session.arn, "operation": "ListActivities", "action": "states:ListActivities", "refused": True} \
        .items() <= lines[-1].items()
    lenient("iam-unmapped")  # studying the rule's absence: the call goes through, still reported
    session.client("stepfunctions").list_activities()
    assert json.loads((state / "logs" / "iam-unmapped.jsonl").read_text().splitlines()[-1])["refused"] is False


def test_lenient_iam_policies_lets_everything_through(bare_world, lenient) -> None:
    endpoint, _ = bare_world
    session = Session(endpoint, {"Effect": "Deny", "Action": "*", "Resource": "*"})
    assert refusal(session.client("ssm").put_parameter, Name="/lenient/x", Value="x", Type="String")
    lenient("iam-policies")
    session.client("ssm").put_parameter(Name="/lenient/x", Value="x", Type="String")


def test_a_session_key_needs_its_token(bare_world) -> None:
    endpoint, _ = bare_world
    session = Session(endpoint, {"Effect": "Allow", "Action": "*", "Resource": "*"})
    ssm = session.client("ssm", aws_session_token=None)
    got = refusal(ssm.describe_parameters)
    assert got["code"] == "UnrecognizedClientException"
    assert got["message"] == "The security token included in the request is invalid."
    assert refusal(session.client("ec2", aws_session_token="forged").describe_vpcs)["code"] == "AuthFailure"


def test_attached_aws_managed_policies_count(bare_world) -> None:
    """AmazonSSMManagedInstanceCore (moto loads AWS managed policies) allows ssm:GetParameter on
    every parameter: what mec's node role holds."""
    endpoint, _ = bare_world
    client(endpoint, "ssm").put_parameter(Name="/mec/other-env/kubeconfig", Value="k", Type="String", Overwrite=True)
    session = Session(endpoint, managed=("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",))
    assert session.client("ssm").get_parameter(Name="/mec/other-env/kubeconfig")["Parameter"]["Value"] == "k"
    assert refusal(session.client("ssm").put_parameter, Name="/mec/x", Value="v", Type="String")["code"] == "AccessDeniedException"


@pytest.mark.skipif(not (BINARIES / "mec-reaper").exists(), reason=f"no mec-reaper binary in {BINARIES}")
def test_a_step_binary_calls_with_its_own_role(bare_world) -> None:
    """lambda_host gives each function a session of its role: the real binary's calls are decided
    by that role's policy (here: DescribeInstances only, so the reaper's DescribeVpcs is refused)."""
    endpoint, state = bare_world
    iam, lam = client(endpoint, "iam"), client(endpoint, "lambda")
    role = iam.create_role(RoleName="t-reaper-function", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    iam.put_role_policy(RoleName="t-reaper-function", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}]}))
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("bootstrap", "")  # the host runs the binary named after the step: mec-reaper
    machine = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:mec-"
    lam.create_function(FunctionName="t-reaper", Runtime="provided.al2023", Role=role, Handler="bootstrap",
                        Code={"ZipFile": code.getvalue()}, Timeout=20, Environment={"Variables": {
                            "MEC_PROVISION_STATE_MACHINE_ARN": machine + "provision",
                            "MEC_TEARDOWN_STATE_MACHINE_ARN": machine + "teardown"}})
    answer = lam.invoke(FunctionName="t-reaper", Payload=json.dumps({"dry_run": True}))
    assert answer.get("FunctionError") == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert "UnauthorizedOperation" in error["errorMessage"]
    assert f"User: arn:aws:sts::{ACCOUNT}:assumed-role/t-reaper-function/t-reaper is not authorized to perform: " \
           "ec2:DescribeVpcs because no identity-based policy allows the ec2:DescribeVpcs action" in error["errorMessage"]
    assert denied_log(state, f"arn:aws:sts::{ACCOUNT}:assumed-role/t-reaper-function/t-reaper")[-1]["action"] == "ec2:DescribeVpcs"


# --- instance credentials, in process -------------------------------------------------------------


@pytest.fixture()
def in_process(tmp_path):
    """moto in this process with the IAM check installed around its dispatch, and removed after."""
    from moto import mock_aws
    from moto.core.responses import BaseResponse

    from world import iam

    original = BaseResponse.call_action

    class NoFaults:
        def current(self) -> dict:
            return {"lenient": []}

    with mock_aws():
        iam.install(tmp_path, NoFaults())
        try:
            yield iam, tmp_path
        finally:
            BaseResponse.call_action = original  # type: ignore[method-assign]


def test_instance_credentials_carry_the_instance_context(in_process) -> None:
    iam_world, logs = in_process
    admin = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    ec2, iam, ssm = (boto3.client(s, **admin) for s in ("ec2", "iam", "ssm"))
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24")["Subnet"]["SubnetId"]
    iam.create_role(RoleName="node", AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName="node", PolicyName="own-vpc", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ssm:GetParameter",
         "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/mec/${{aws:Ec2InstanceSourceVpc}}/*"}]}))
    iam.create_instance_profile(InstanceProfileName="node")
    iam.add_role_to_instance_profile(InstanceProfileName="node", RoleName="node")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet,
                                 IamInstanceProfile={"Name": "node"})["Instances"][0]
    for name in (f"/mec/{vpc}/join-token", "/mec/vpc-other/join-token"):
        ssm.put_parameter(Name=name, Value="t", Type="String")

    role, creds = iam_world.credentials_for_instance(ACCOUNT, "us-east-1", instance["InstanceId"])
    assert role == "node"
    assert {"Code", "LastUpdated", "Type", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"} <= set(creds)
    node = boto3.client("ssm", region_name="us-east-1", aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["Token"])
    assert node.get_parameter(Name=f"/mec/{vpc}/join-token")["Parameter"]["Value"] == "t"
    got = refusal(node.get_parameter, Name="/mec/vpc-other/join-token")
    assert f"assumed-role/node/{instance['InstanceId']} is not authorized to perform: ssm:GetParameter" in got["message"]
    record = [json.loads(line) for line in (logs / "logs" / "iam-denied.jsonl").read_text().splitlines()][-1]
    assert record["context"]["aws:ec2instancesourcevpc"] == [vpc]
    assert record["context"]["aws:ec2instancesourceprivateipv4"] == [instance["PrivateIpAddress"]]
    assert record["context"]["ec2:sourceinstancearn"] == [f"{EC2}:instance/{instance['InstanceId']}"]
    # The same session again (IMDS serves the same credentials until it rotates them).
    assert iam_world.credentials_for_instance(ACCOUNT, "us-east-1", instance["InstanceId"])[1]["AccessKeyId"] == creds["AccessKeyId"]
    # In process, as the SSM agent resolving {{ssm-secure:...}} would ask.
    assert iam_world.authorize_instance_call(ACCOUNT, "us-east-1", instance["InstanceId"], "ssm", "GetParameter",
                                             {"Name": f"/mec/{vpc}/join-token"}) is None
    assert "ssm:GetParameter" in iam_world.authorize_instance_call(
        ACCOUNT, "us-east-1", instance["InstanceId"], "ssm", "GetParameter", {"Name": "/mec/vpc-other/join-token"})


def test_role_credentials_for_a_function(in_process) -> None:
    iam_world, _ = in_process
    iam = boto3.client("iam", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    arn = iam.create_role(RoleName="mec-validate-function", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    env = iam_world.credentials_for_role(ACCOUNT, "us-east-1", arn, "mec-validate")
    assert set(env) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    sts = boto3.client("sts", region_name="us-east-1", aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], aws_session_token=env["AWS_SESSION_TOKEN"])
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/mec-validate-function/mec-validate"


def test_evaluation_is_fast_enough_for_every_call() -> None:
    """Compiled once, a decision over mec's largest policy shape costs well under a millisecond."""
    statements = [{"Effect": "Allow", "Action": [f"ec2:Action{i}", "ec2:RunInstances"], "Resource": [f"{EC2}:instance/*"],
                   "Condition": {"StringEquals": {"aws:RequestTag/mec:managed-by": "mec"}}} for i in range(30)]
    who = principal(*statements)
    req = policy.Request("ec2:RunInstances", f"{EC2}:instance/*", {"aws:requesttag/mec:managed-by": ["mec"]})
    started = time.perf_counter()
    for _ in range(1000):
        assert policy.decide(who, req).allowed
    assert (time.perf_counter() - started) / 1000 < 0.001
