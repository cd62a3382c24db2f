"""The pipeline module applied for real to the local emulator: apply, a plan with no changes,
destroy, and nothing left — every resource type listed in the emulator, not inferred."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import boto3
import pytest

from conftest import ROOT, terraform_env

LOCAL_ROOT = ROOT / "infra" / "local"
LAMBDAS = ROOT / ".build" / "lambdas" / "local"


@pytest.fixture(scope="module")
def terraform(endpoint, tmp_path_factory):
    assert (LAMBDAS / "mec-network" / "bootstrap.zip").exists(), "run `make local-lambdas` first"
    work = tmp_path_factory.mktemp("terraform")
    env = terraform_env(work)

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        started = time.monotonic()
        result = subprocess.run(["terraform", f"-chdir={LOCAL_ROOT}", *args], env=env, capture_output=True, text=True)
        print(f"terraform {args[0]}: {time.monotonic() - started:.1f} s")
        if check and result.returncode != 0:
            pytest.fail(f"terraform {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    run("init", "-input=false", f"-backend-config=path={work / 'terraform.tfstate'}")
    return run


def clients(endpoint: str) -> dict:
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    return {name: session.client(name, endpoint_url=endpoint) for name in ["lambda", "stepfunctions", "iam", "ssm", "logs", "scheduler", "kms", "apigatewayv2"]}


def inventory(endpoint: str) -> dict:
    """Everything the module creates, listed type by type."""
    c = clients(endpoint)
    roles = [r["RoleName"] for r in c["iam"].list_roles()["Roles"] if r["RoleName"].startswith("mec-")]
    # AWS managed keys (alias/aws/...) are not the module's: the provider's read of a DynamoDB
    # table describes alias/aws/dynamodb, and DescribeKey on a predefined AWS alias creates that
    # key (KMS API Reference, DescribeKey); it costs nothing and cannot be deleted.
    keys = [k["KeyId"] for k in c["kms"].list_keys()["Keys"]
            if c["kms"].describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion"
            and not any(a["AliasName"].startswith("alias/aws/")
                        for a in c["kms"].list_aliases(KeyId=k["KeyId"])["Aliases"])]
    return {
        "functions": sorted(f["FunctionName"] for f in c["lambda"].list_functions()["Functions"]),
        "state_machines": sorted(m["name"] for m in c["stepfunctions"].list_state_machines()["stateMachines"]),
        "roles": sorted(roles),
        "role_policies": sorted(p for r in roles for p in c["iam"].list_role_policies(RoleName=r)["PolicyNames"]),
        "instance_profiles": sorted(p["InstanceProfileName"] for p in c["iam"].list_instance_profiles()["InstanceProfiles"]),
        "documents": sorted(d["Name"] for d in c["ssm"].list_documents(Filters=[{"Key": "Owner", "Values": ["Self"]}])["DocumentIdentifiers"]),
        "log_groups": sorted(g["logGroupName"] for g in c["logs"].describe_log_groups()["logGroups"]),
        "schedules": sorted(s["Name"] for s in c["scheduler"].list_schedules()["Schedules"]),
        "schedule_groups": sorted(g["Name"] for g in c["scheduler"].list_schedule_groups()["ScheduleGroups"] if g["Name"] != "default"),
        "kms_keys": keys,
        "http_apis": sorted(a["Name"] for a in c["apigatewayv2"].get_apis()["Items"]),
    }


def test_apply_plan_destroy_leaves_nothing(terraform, endpoint):
    terraform("apply", "-input=false", "-auto-approve", f"-var=endpoint={endpoint}")

    made = inventory(endpoint)
    steps = ["validate", "network", "lifecycle", "master", "workers", "install", "join", "teardown", "reaper"]
    assert made["functions"] == sorted([f"mec-{s}" for s in steps] + ["mec-api"])
    assert made["http_apis"] == ["mec-api"]
    api = clients(endpoint)["apigatewayv2"]
    api_id = api.get_apis()["Items"][0]["ApiId"]
    assert sorted(r["RouteKey"] for r in api.get_routes(ApiId=api_id)["Items"]) == [
        "DELETE /environments/{name}", "GET /environments", "GET /environments/{name}", "POST /environments"]
    assert made["state_machines"] == ["mec-provision", "mec-teardown"]
    assert made["documents"] == ["mec-install", "mec-join"]
    assert made["instance_profiles"] == ["mec-node"]
    assert made["schedules"] == ["lab-local-create", "lab-local-destroy", "reaper"]
    assert len(made["kms_keys"]) == 1
    assert {f"/aws/lambda/mec-{s}" for s in [*steps, "api"]} | {"/aws/apigateway/mec-api"} <= set(made["log_groups"])

    # Every IAM statement names its actions; none is "*" or "service:*".
    iam = clients(endpoint)["iam"]
    for role in made["roles"]:
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            if isinstance(document, str):
                document = json.loads(document)
            for statement in document["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert all(a != "*" and not a.endswith(":*") for a in actions), (role, statement)

    # The deployed definitions (templates filled by Terraform) pass asl-validator.
    sfn = clients(endpoint)["stepfunctions"]
    validator = ROOT / "node_modules" / ".bin" / "asl-validator"
    assert validator.exists(), "run `npm ci` (make test does) to install asl-validator"
    for machine in sfn.list_state_machines()["stateMachines"]:
        definition = sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])["definition"]
        checked = subprocess.run([str(validator), "--json-definition", definition], capture_output=True, text=True)
        assert checked.returncode == 0, f"{machine['name']}: {checked.stdout}{checked.stderr}"

    # A second plan finds nothing to change.
    plan = terraform("plan", "-input=false", "-detailed-exitcode", f"-var=endpoint={endpoint}", check=False)
    assert plan.returncode == 0, f"plan after apply shows changes:\n{plan.stdout}"

    terraform("destroy", "-input=false", "-auto-approve", f"-var=endpoint={endpoint}")
    left = inventory(endpoint)
    assert all(not v for v in left.values()), f"left after destroy: { {k: v for k, v in left.items() if v} }"
