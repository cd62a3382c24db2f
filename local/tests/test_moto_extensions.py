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
