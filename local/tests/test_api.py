"""The HTTP API over HTTP in the local world: the front (local/world/api_gateway.py) turns each
request into an API Gateway payload 2.0 event for the Terraform-deployed api function (the real
mec-api binary), which starts and reads the real state machines. Then schemathesis generates
requests from the OpenAPI document: no 5xx, every answer as documented."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, client, mec, tagged

OPENAPI = ROOT / "functions/api/openapi.json"


@pytest.fixture()
def world(world_with_api):
    """Here the world comes with its API front: (endpoint, API URL, state folder)."""
    return world_with_api


def call(api: str, method: str, path: str, body: bytes | str | None = None) -> tuple[int, dict, dict]:
    """One request; returns (status, JSON body, headers)."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(api + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, raw, headers = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as err:
        status, raw, headers = err.code, err.read(), dict(err.headers)
    assert headers.get("Content-Type", headers.get("content-type")) == "application/json", (status, raw)
    return status, json.loads(raw), {k.lower(): v for k, v in headers.items()}


def wait_for(api: str, name: str, want: str, timeout: float = 240) -> dict:
    deadline = time.time() + timeout
    while True:
        status, record, _ = call(api, "GET", f"/environments/{name}")
        assert status == 200, record
        if record["status"] == want:
            return record
        assert record["status"] not in ("FAILED", "DELETED") or want in ("FAILED", "DELETED"), record
        assert time.time() < deadline, f"{name} never became {want}: {record}"
        time.sleep(0.5)


def executions(endpoint: str, machine: str, prefix: str) -> list[str]:
    """Names of the machine's executions starting with `prefix`, from Step Functions'
    ListExecutions (every status, every page)."""
    sfn = client(endpoint, "stepfunctions")
    arn = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == machine)
    return [e["name"] for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
            for e in page["executions"] if e["name"].startswith(prefix)]


def error_of(status: int, body: dict, want: int, code: str, field: str | None) -> None:
    assert status == want, body
    assert body["error"]["code"] == code, body
    assert body["error"]["field"] == field, body
    assert body["error"]["message"], body


def test_bad_requests_are_4xx_naming_the_field(world):
    _, api, _ = world
    status, body, _ = call(api, "GET", "/environments")
    assert status == 200 and isinstance(body["environments"], list)
    error_of(*call(api, "POST", "/environments", "{oops")[:2], 400, "InvalidJson", None)
    error_of(*call(api, "POST", "/environments", '{"name": "api-bad", "workers": "two"}')[:2], 400, "InvalidSpec", "workers")
    error_of(*call(api, "POST", "/environments", '{"name": "api-bad", "colour": "red"}')[:2], 400, "InvalidSpec", "colour")
    error_of(*call(api, "POST", "/environments", '{"name": "api-bad", "vpc_cidr": "8.8.0.0/16"}')[:2], 400, "InvalidSpec", "vpc_cidr")
    error_of(*call(api, "POST", "/environments", json.dumps({"name": "api-bad", "tags": {"x": "y" * 70000}}))[:2], 413, "BodyTooLarge", None)
    error_of(*call(api, "GET", "/environments/api-none")[:2], 404, "NotFound", "name")
    error_of(*call(api, "GET", "/environments/NOT_OK")[:2], 400, "InvalidSpec", "name")
    error_of(*call(api, "DELETE", "/environments/api-none")[:2], 404, "NotFound", "name")
    status, body, headers = call(api, "PUT", "/environments/api-none", "{}")
    error_of(status, body, 405, "MethodNotAllowed", None)
    assert headers["allow"] == "GET, DELETE"
    error_of(*call(api, "GET", "/nothing/here")[:2], 404, "RouteNotFound", None)
    assert tagged(world[0], "api-bad") == []


def test_create_ready_delete_through_the_api(world):
    endpoint, api, _ = world
    spec = {"name": "api-lab", "workers": 1}
    status, record, headers = call(api, "POST", "/environments", json.dumps(spec))
    assert status == 202, record
    assert headers["location"] == "/environments/api-lab"
    assert record["name"] == "api-lab" and record["status"] == "CREATING"

    # The same spec again: the same answer, no second execution. Another spec: 409.
    status, again, _ = call(api, "POST", "/environments", json.dumps({**spec, "masters": 1}))
    assert status == 202 and again["status"] in ("CREATING", "READY"), again
    error_of(*call(api, "POST", "/environments", json.dumps({**spec, "workers": 2}))[:2], 409, "NameTaken", "name")

    ready = wait_for(api, "api-lab", "READY")
    assert sorted(n["role"] for n in ready["nodes"]) == ["master", "worker"]
    assert ready["kubeconfig_parameter"] == "/mec/api-lab/kubeconfig"
    assert ready["vpc_id"].startswith("vpc-") and ready["api_endpoint"].startswith("https://")
    status, listing, _ = call(api, "GET", "/environments")
    assert {"name": "api-lab", "status": "READY"}.items() <= next(e for e in listing["environments"] if e["name"] == "api-lab").items()

    # The CLI sees the environment the API created; Step Functions itself (not mec's reading of
    # it) holds one provisioning execution for the name: the repeated POST and the 409 started none.
    cli = mec(endpoint, "status", "api-lab", "--json")
    assert cli.returncode == 0 and json.loads(cli.stdout)["status"] == "READY", cli.stdout + cli.stderr
    creates = executions(endpoint, "mec-provision", "api-lab--")
    assert len(creates) == 1 and creates[0].startswith("api-lab--c-"), creates

    status, deleting, headers = call(api, "DELETE", "/environments/api-lab")
    assert status == 202 and deleting["status"] == "DELETING", deleting
    assert headers["location"] == "/environments/api-lab"
    status, again, _ = call(api, "DELETE", "/environments/api-lab")
    assert status == 202 and again["status"] in ("DELETING", "DELETED"), again
    wait_for(api, "api-lab", "DELETED")
    status, again, _ = call(api, "DELETE", "/environments/api-lab")
    assert (status, again["status"]) == (202, "DELETED")
    deletes = executions(endpoint, "mec-teardown", "api-lab--")
    assert len(deletes) == 1 and deletes[0].startswith("api-lab--d-"), "three DELETEs, one teardown"
    assert executions(endpoint, "mec-provision", "api-lab--") == creates
    assert tagged(endpoint, "api-lab") == [], "nothing tagged for the environment is left"


def test_schemathesis_finds_no_5xx_and_only_documented_answers(world):
    endpoint, api, state = world
    started = time.monotonic()
    done = subprocess.run(
        [str(ROOT / ".venv/bin/st"), "run", str(OPENAPI), "--url", api,
         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,negative_data_rejection,unsupported_method",
         "--phases", "examples,coverage,fuzzing", "--max-examples", "50", "--seed", "5",
         "--generation-database", "none", "--no-color"],
        capture_output=True, text=True, timeout=300, cwd=state,
    )
    print(f"schemathesis: {time.monotonic() - started:.0f} s")
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]

    # Generated specs may have been valid: delete whatever they created, and check it is gone.
    _, listing, _ = call(api, "GET", "/environments")
    for env in listing["environments"]:
        name = env["name"]
        deadline = time.time() + 240
        while env["status"] in ("CREATING", "DELETING"):
            assert time.time() < deadline, env
            time.sleep(0.5)
            env = call(api, "GET", f"/environments/{name}")[1]
        if env["status"] in ("READY", "FAILED"):
            assert call(api, "DELETE", f"/environments/{name}")[0] == 202
            wait_for(api, name, "DELETED")
        assert tagged(endpoint, name) == [], name
