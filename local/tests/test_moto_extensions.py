"""The moto extensions of local/moto/server.py, exercised over HTTP with boto3."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def endpoint():
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "local/moto/server.py"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/data.json", timeout=1)
            break
        except OSError:
            assert time.time() < deadline, "moto server did not start"
            time.sleep(0.1)
    yield url
    server.terminate()
    server.wait(timeout=10)


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
