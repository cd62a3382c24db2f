"""Contracts that AWS holds mec to and the strict local world now enforces, each shown end to end
(issue #8's defects): what a node may reach with its own role, the kubeconfig's parameter tier,
a spot launch the account may not make, and the join token's path. Each of these passed before
in a lenient world while it would have failed on AWS."""

from __future__ import annotations

import json
import time

import pytest

from conftest import client, run, tagged

PROBE = "mec-test-probe"
# A document of the test's own, run by the world's SSM agent on a node like mec's documents: its
# `aws` calls are signed with the node's instance-profile credentials and decided by the node
# role's policies.
PROBE_DOCUMENT = {
    "schemaVersion": "2.2",
    "description": "Test probe: one AWS CLI call as the node.",
    "parameters": {"call": {"type": "String", "allowedValues": ["get", "put"]}, "name": {"type": "String"}},
    "mainSteps": [{
        "action": "aws:runShellScript", "name": "probe",
        "inputs": {"runCommand": [
            "#!/bin/bash",
            'export PATH="$PATH:${MEC_ROOT:-}/snap/bin"',
            'if [ "{{ call }}" = get ]; then',
            '  aws ssm get-parameter --name "{{ name }}" --with-decryption --query Parameter.Value --output text --region us-east-1 >/dev/null',
            "else",
            '  printf "stolen" > /tmp/mec-probe-value',
            '  aws ssm put-parameter --name "{{ name }}" --type SecureString --overwrite --value file:///tmp/mec-probe-value --region us-east-1 >/dev/null',
            "fi",
        ]},
    }],
}


def probe(endpoint: str, instance_id: str, call: str, name: str) -> dict:
    """Runs the probe on the node and returns its invocation once finished."""
    ssm = client(endpoint, "ssm")
    if not any(d["Name"] == PROBE for d in ssm.list_documents(Filters=[{"Key": "Owner", "Values": ["Self"]}])["DocumentIdentifiers"]):
        ssm.create_document(Name=PROBE, DocumentType="Command", DocumentFormat="JSON", Content=json.dumps(PROBE_DOCUMENT))
    command = ssm.send_command(DocumentName=PROBE, InstanceIds=[instance_id], Parameters={"call": [call], "name": [name]})
    command_id = command["Command"]["CommandId"]
    deadline = time.time() + 60
    while True:
        invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        if invocation["Status"] not in ("Pending", "InProgress", "Delayed"):
            return invocation
        assert time.time() < deadline, invocation
        time.sleep(0.3)


@pytest.fixture(scope="module")
def two_environments(world):
    """Two READY environments (a master each), torn down after the module."""
    endpoint, _ = world
    records = {}
    for name in ("own-a", "own-b"):
        done = run(endpoint, "mec-provision", f"{name}--c-1", {"name": name, "workers": 0})
        assert done["status"] == "SUCCEEDED", done
        records[name] = json.loads(done["output"])
    yield records
    for name in records:
        assert run(endpoint, "mec-teardown", f"{name}--d-1", {"name": name})["status"] == "SUCCEEDED"
        assert tagged(endpoint, name) == []


def test_a_node_reaches_its_own_environments_secrets_and_no_others(world, two_environments):
    """Defect 11: one node role serves every environment, so a node is bound to its own
    environment's parameters by their `mec:vpc` tag and `aws:Ec2InstanceSourceVpc`."""
    endpoint, _ = world
    a, b = two_environments["own-a"], two_environments["own-b"]
    ssm = client(endpoint, "ssm")
    # A join token for B, as the join step writes it (mec's key, tagged with B's VPC).
    key = client(endpoint, "lambda").get_function_configuration(FunctionName="mec-join")["Environment"]["Variables"]["MEC_PARAMETER_KMS_KEY"]
    ssm.put_parameter(Name="/mec/own-b/join-token", Type="SecureString", Value="b" * 32, KeyId=key,
                      Tags=[{"Key": "mec:vpc", "Value": b["vpc_id"]}, {"Key": "mec:environment", "Value": "own-b"}])
    try:
        master_a, master_b = a["masters"][0]["instance_id"], b["masters"][0]["instance_id"]
        own = probe(endpoint, master_b, "get", "/mec/own-b/join-token")
        assert own["Status"] == "Success", own["StandardErrorContent"]
        for call, name in [("get", "/mec/own-b/join-token"), ("get", "/mec/own-b/kubeconfig"), ("put", "/mec/own-b/kubeconfig")]:
            stolen = probe(endpoint, master_a, call, name)
            assert stolen["Status"] == "Failed", f"{call} {name} from the other environment's node: {stolen}"
            assert "AccessDenied" in stolen["StandardErrorContent"], stolen["StandardErrorContent"]
        # B's kubeconfig is still the one B's master stored.
        assert "stolen" not in ssm.get_parameter(Name="/mec/own-b/kubeconfig", WithDecryption=True)["Parameter"]["Value"]
    finally:
        ssm.delete_parameter(Name="/mec/own-b/join-token")


def test_the_kubeconfig_is_a_real_size_advanced_parameter(world, two_environments):
    """Defect 2: a MicroK8s admin kubeconfig (CA, client certificate and key) is over the 4 KB a
    Standard parameter holds."""
    endpoint, _ = world
    name = two_environments["own-a"]["kubeconfig_parameter"]
    ssm = client(endpoint, "ssm")
    value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    assert 4096 < len(value) <= 8192, len(value)
    assert "client-key-data" in value and "certificate-authority-data" in value
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"][0]
    assert described["Tier"] == "Advanced" and described["Type"] == "SecureString"


def test_the_join_token_travels_by_name_only(world):
    """Defect 1: the nodes read the token with their own role; no command carries it or a
    SecureString reference, which the SSM agent does not resolve."""
    endpoint, _ = world
    done = run(endpoint, "mec-provision", "token-path--c-1", {"name": "token-path", "workers": 1})
    assert done["status"] == "SUCCEEDED", done
    ssm = client(endpoint, "ssm")
    record = json.loads(done["output"])
    joins = [c for c in ssm.list_commands(InstanceId=record["workers"][0]["instance_id"])["Commands"]
             if c["DocumentName"].endswith("join")]
    assert joins, "the worker joined through the join document"
    for command in joins:
        parameters = json.dumps(command["Parameters"])
        assert "ssm-secure" not in parameters and "{{" not in parameters, parameters
        assert command["Parameters"]["tokenParameter"] == ["/mec/token-path/join-token"]
    assert run(endpoint, "mec-teardown", "token-path--d-1", {"name": "token-path"})["status"] == "SUCCEEDED"
    assert tagged(endpoint, "token-path") == []


def test_a_spot_launch_the_account_may_not_make_falls_back_to_on_demand(world, faults):
    """Defect 5: EC2 refuses the spot request (no permission for spot-instances-request, or no
    EC2 Spot service-linked role): the worker is bought on demand, the environment reaches READY."""
    endpoint, _ = world
    faults(capacity={"spot": True, "code": "UnauthorizedOperation"})
    done = run(endpoint, "mec-provision", "spot-denied--c-1", {"name": "spot-denied", "workers": 1, "spot": True})
    assert done["status"] == "SUCCEEDED", done
    worker = json.loads(done["output"])["workers"][0]
    assert worker["market"] == "on-demand"
    faults()
    assert run(endpoint, "mec-teardown", "spot-denied--d-1", {"name": "spot-denied"})["status"] == "SUCCEEDED"
    assert tagged(endpoint, "spot-denied") == []
