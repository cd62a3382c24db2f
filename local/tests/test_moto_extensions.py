"""The moto extensions of local/moto/server.py, exercised over HTTP with boto3."""

from __future__ import annotations

import json
import os
import re

import boto3
import pytest

from conftest import ROOT

@pytest.fixture()
def sfn(endpoint):
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    return boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1")


def rendered(template: str) -> str:
    """A state machine template of statemachine/ filled in as Terraform fills it: function ARNs
    for ${functions.*}, a number for every other placeholder (seconds, attempts)."""
    text = (ROOT / "statemachine" / template).read_text()
    text = re.sub(r"\$\{functions\.(\w+)\}", r"arn:aws:lambda:us-east-1:123456789012:function:mec-\1", text)
    return re.sub(r"\$\{[^}]+\}", "5", text)


def provider_plan_error(answer: dict) -> str | None:
    """What the Terraform AWS provider's plan does with the answer (internal/service/sfn/
    state_machine.go stateMachineDefinitionValidate): None when `result` is OK, else its error
    built from each diagnostic's severity, code and message (all three required members)."""
    if answer["result"] == "OK":
        return None
    return "invalid Step Functions State Machine definition: " + "; ".join(
        f"{d['severity']} ({d['code']}): {d['message']}" for d in answer["diagnostics"])


@pytest.mark.parametrize("template", ["provision.asl.json", "teardown.asl.json"])
def test_mecs_state_machines_pass_the_providers_validation(sfn, template):
    answer = sfn.validate_state_machine_definition(definition=rendered(template), type="STANDARD")
    assert provider_plan_error(answer) is None, answer["diagnostics"]
    assert answer["diagnostics"] == [] and answer["truncated"] is False


@pytest.mark.parametrize("definition,code,words", [
    ("{not json", "SCHEMA_VALIDATION_FAILED", "ASLParserException"),
    (json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Bogus"}}}), "SCHEMA_VALIDATION_FAILED", "Bogus"),
    (json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Gone"}, "B": {"Type": "Succeed"}}}),
     "MISSING_TRANSITION_TARGET", "Missing 'Next' target: Gone at /States/A/Next"),
])
def test_a_broken_definition_fails_the_providers_plan_with_its_diagnostics(sfn, definition, code, words):
    answer = sfn.validate_state_machine_definition(definition=definition)
    error = provider_plan_error(answer)
    assert error is not None and f"ERROR ({code}): " in error and words in error, answer


def test_an_unreachable_state_is_reported_where_it_is(sfn):
    branch = {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": True}, "Lost": {"Type": "Succeed"}}}
    definition = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [branch], "End": True}}}
    answer = sfn.validate_state_machine_definition(definition=json.dumps(definition))
    assert answer["result"] == "FAIL"
    assert [(d["code"], d["location"]) for d in answer["diagnostics"]] == [
        ("MISSING_TRANSITION_TARGET", "/States/P/Branches[0]/States/Lost")]


def test_list_state_machine_versions_gives_the_provider_the_latest_version_first(sfn):
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    role = "arn:aws:iam::123456789012:role/ext-test"
    plain = sfn.create_state_machine(name="ext-plain", definition=definition, roleArn=role)["stateMachineArn"]
    assert sfn.list_state_machine_versions(stateMachineArn=plain)["stateMachineVersions"] == []

    machine = sfn.create_state_machine(name="ext-versioned", definition=definition, roleArn=role, publish=True)
    assert machine["stateMachineVersionArn"] == machine["stateMachineArn"] + ":1"
    updated = sfn.update_state_machine(stateMachineArn=machine["stateMachineArn"], publish=True,
                                       definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}))
    versions = sfn.list_state_machine_versions(stateMachineArn=machine["stateMachineArn"])["stateMachineVersions"]
    # The provider's Read sets state_machine_version_arn from versions[0].
    assert [v["stateMachineVersionArn"] for v in versions] == [updated["stateMachineVersionArn"], machine["stateMachineVersionArn"]]
    assert versions[0]["creationDate"] >= versions[1]["creationDate"]

    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.list_state_machine_versions(stateMachineArn=plain.replace("ext-plain", "ext-none"))


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


def executing(endpoint: str) -> None:
    """Turns on moto's Step Functions engine (off by default: executions would only be recorded)."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(
        f"{endpoint}/moto-api/config", data=b'{"stepfunctions": {"execute_state_machine": true}}',
        headers={"Content-Type": "application/json"}, method="POST"), timeout=10).read()


def finished(sfn, machine: dict, name: str, payload: dict) -> dict:
    import time

    arn = sfn.create_state_machine(name=name, definition=json.dumps(machine),
                                   roleArn="arn:aws:iam::123456789012:role/t")["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name=f"{name}-1", input=json.dumps(payload))["executionArn"]
    for _ in range(100):
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    raise AssertionError(f"{name} still running")


AWS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_context_times_are_iso_8601_text_as_aws_writes_them(sfn, endpoint):
    executing(endpoint)
    machine = {"StartAt": "Times", "States": {"Times": {"Type": "Pass", "Parameters": {
        "started.$": "$$.Execution.StartTime", "entered.$": "$$.State.EnteredTime"}, "End": True}}}
    done = finished(sfn, machine, "times", {})
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert AWS_TIME.match(output["started"]) and AWS_TIME.match(output["entered"]), output


def test_aws_sdk_integrations_take_and_give_pascal_case(sfn, endpoint):
    executing(endpoint)
    waiting = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 30, "End": True}}}
    arn = sfn.create_state_machine(name="waits", definition=json.dumps(waiting),
                                   roleArn="arn:aws:iam::123456789012:role/t")["stateMachineArn"]
    running = sfn.start_execution(stateMachineArn=arn, name="waits-1")["executionArn"]
    describe = {"StartAt": "Describe", "States": {"Describe": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:describeExecution",
        "Parameters": {"ExecutionArn.$": "$.arn"}, "End": True}}}
    done = finished(sfn, describe, "describes", {"arn": running})
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["Status"] == "RUNNING" and AWS_TIME.match(output["StartDate"]), output
    # A modelled error keeps its name, prefixed by the service: what a Catch matches on.
    done = finished(sfn, describe, "describes-missing", {"arn": running + "-gone"})
    assert (done["status"], done.get("error")) == ("FAILED", "Sfn.ExecutionDoesNotExistException"), done
