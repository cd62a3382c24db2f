"""One scenario through every door (issue: one registry and one service behind every door): an
environment started console-style (a bare StartExecution, any execution name), then read and
managed through the HTTP API and the CLI; both doors give the same answers because both call the
same service (mec_shared::environments), and the state machines keep the registry whoever started
them. Runs in the shared local world: real Lambdas, the real state machines, moto's DynamoDB."""

from __future__ import annotations

import json

import pytest

from conftest import client, mec, run, tagged
from test_api import call, error_of, executions, wait_for


@pytest.fixture()
def world(world_with_api):
    return world_with_api


def states_entered(endpoint: str, execution: str) -> list[str]:
    events = client(endpoint, "stepfunctions").get_execution_history(executionArn=execution, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def cli_json(endpoint: str, *args: str) -> dict:
    done = mec(endpoint, *args, "-o", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_a_console_run_is_seen_and_managed_the_same_through_the_api_and_the_cli(world):
    endpoint, api, _ = world
    # The console door: a run named as people name them, with the smallest input.
    done = run(endpoint, "mec-provision", "console-run-1", {"name": "console-1", "workers": 0})
    assert done["status"] == "SUCCEEDED", done

    # Every door sees it, with one record.
    status, record, _ = call(api, "GET", "/environments/console-1")
    assert status == 200 and record["status"] == "READY", record
    assert record == cli_json(endpoint, "status", "console-1"), "the API and the CLI read the same record"
    assert [n["role"] for n in record["nodes"]] == ["master"]
    _, listing, _ = call(api, "GET", "/environments")
    assert any(e["name"] == "console-1" and e["status"] == "READY" for e in listing["environments"]), listing
    assert listing == cli_json(endpoint, "list")
    table = mec(endpoint, "list")
    assert table.stdout.splitlines()[0].split() == ["NAME", "STATUS", "AGE"], table.stdout
    assert any(line.split()[:2] == ["console-1", "READY"] for line in table.stdout.splitlines()), table.stdout

    # The same spec again: nothing started, through either door; another spec: a conflict.
    status, again, _ = call(api, "POST", "/environments", json.dumps({"name": "console-1", "workers": 0}))
    assert (status, again["status"]) == (202, "READY"), again
    same = mec(endpoint, "create", "--name", "console-1", "--workers", "0")
    assert same.returncode == 0 and "nothing started" in same.stderr, same.stdout + same.stderr
    error_of(*call(api, "POST", "/environments", json.dumps({"name": "console-1", "workers": 3}))[:2], 409, "NameTaken", "name")
    other = mec(endpoint, "create", "--name", "console-1", "--workers", "3")
    assert other.returncode == 5 and "NameTaken" in other.stderr, other.stdout + other.stderr
    assert executions(endpoint, "mec-provision", "console-1--") == [], "no door started a second create"

    # A second console run for the live name fails at the registry, before creating anything.
    vpcs_before = tagged(endpoint, "console-1")
    second = run(endpoint, "mec-provision", "console-run-2", {"name": "console-1", "workers": 2})
    assert (second["status"], second.get("error")) == ("FAILED", "NameTaken"), second
    assert "Network" not in states_entered(endpoint, second["executionArn"])
    assert tagged(endpoint, "console-1") == vpcs_before
    assert call(api, "GET", "/environments/console-1")[1]["status"] == "READY"

    # Deleted through the API; the CLI then finds it deleting or deleted and starts nothing.
    status, deleting, _ = call(api, "DELETE", "/environments/console-1")
    assert (status, deleting["status"]) == (202, "DELETING"), deleting
    again = mec(endpoint, "delete", "console-1")
    assert again.returncode == 0 and "nothing started" in again.stderr, again.stdout + again.stderr
    gone = mec(endpoint, "status", "console-1", "-o", "json")
    wait_for(api, "console-1", "DELETED")
    assert cli_json(endpoint, "status", "console-1")["status"] == "DELETED", gone.stdout
    assert len(executions(endpoint, "mec-teardown", "console-1--")) == 1, "two doors, one teardown"
    assert tagged(endpoint, "console-1") == []


def test_a_creating_environment_cannot_be_deleted_through_any_door(world):
    endpoint, api, _ = world
    status, creating, _ = call(api, "POST", "/environments", json.dumps({"name": "door-2", "workers": 1}))
    assert (status, creating["status"]) == (202, "CREATING"), creating
    # The record is CREATING at once, for every door (the door claimed the name before starting).
    assert cli_json(endpoint, "status", "door-2")["status"] == "CREATING"

    error_of(*call(api, "DELETE", "/environments/door-2")[:2], 409, "EnvironmentCreating", "name")
    refused = mec(endpoint, "delete", "door-2")
    assert refused.returncode == 5 and "EnvironmentCreating" in refused.stderr, refused.stdout + refused.stderr
    # The console door: the teardown machine refuses too, and deletes nothing.
    teardown = run(endpoint, "mec-teardown", "console-delete-1", {"name": "door-2"})
    assert (teardown["status"], teardown.get("error")) == ("FAILED", "EnvironmentCreating"), teardown
    assert "Teardown" not in states_entered(endpoint, teardown["executionArn"])

    ready = wait_for(api, "door-2", "READY")
    assert len(ready["nodes"]) == 2
    deleted = mec(endpoint, "delete", "door-2", "--wait", "--timeout", "4m", "-o", "json")
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    assert json.loads(deleted.stdout)["status"] == "DELETED"
    assert "Teardown" in deleted.stderr, "the progress of the teardown, on stderr"
    assert tagged(endpoint, "door-2") == []


def test_unknown_names_and_bad_input_answer_alike(world):
    endpoint, api, _ = world
    error_of(*call(api, "GET", "/environments/door-none")[:2], 404, "NotFound", "name")
    missing = mec(endpoint, "status", "door-none")
    assert missing.returncode == 4 and "no environment named door-none" in missing.stderr
    assert mec(endpoint, "delete", "door-none").returncode == 4
    error_of(*call(api, "GET", "/environments/Bad_Name")[:2], 400, "InvalidSpec", "name")
    bad = mec(endpoint, "status", "Bad_Name")
    assert bad.returncode == 2 and "`name`" in bad.stderr, bad.stderr
