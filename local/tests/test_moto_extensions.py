"""The moto extensions of local/moto/server.py, exercised over HTTP with boto3."""

from __future__ import annotations

import json
import os

import boto3
import pytest

@pytest.fixture()
def sfn(endpoint):
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    return boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1")


def test_validate_state_machine_definition_answers_ok(sfn):
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    answer = sfn.validate_state_machine_definition(definition=json.dumps(definition))
    assert answer["result"] == "OK"
    assert answer["diagnostics"] == []


def test_list_state_machine_versions_is_empty(sfn):
    created = sfn.create_state_machine(
        name="ext-test",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/ext-test",
    )
    answer = sfn.list_state_machine_versions(stateMachineArn=created["stateMachineArn"])
    assert answer["stateMachineVersions"] == []


def test_every_instance_of_a_launch_gets_the_instance_profile(endpoint):
    """EC2 launches each instance of a RunInstances call with its IamInstanceProfile; moto alone
    associates the first one only (a worker batch's other nodes would have no credentials)."""
    options = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    iam, ec2 = boto3.client("iam", **options), boto3.client("ec2", **options)
    iam.create_role(RoleName="ext-node", AssumeRolePolicyDocument="{}")
    iam.create_instance_profile(InstanceProfileName="ext-node")
    iam.add_role_to_instance_profile(InstanceProfileName="ext-node", RoleName="ext-node")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    launched = ec2.run_instances(ImageId=image, MinCount=3, MaxCount=3, IamInstanceProfile={"Name": "ext-node"})
    ids = {i["InstanceId"] for i in launched["Instances"]}
    associations = ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"]
    assert {a["InstanceId"] for a in associations if a["IamInstanceProfile"]["Arn"].endswith("/ext-node")} == ids
