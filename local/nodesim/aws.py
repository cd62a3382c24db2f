"""The `aws` stand-in: the one AWS CLI call the documents make on a node, `aws ssm put-parameter`
(the master stores its own kubeconfig, so the secret never travels through command output).

It speaks SSM's JSON protocol to the world's endpoint (MEC_SIM_AWS_ENDPOINT) with the standard
library only; the emulator does not check signatures. Outside the world it refuses to run.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from .context import Context

USAGE = "usage: aws ssm put-parameter --name N --type SecureString --value file://PATH [--key-id K] [--overwrite] [--region R]"


def main(ctx: Context, args: list[str]) -> int:
    if args[:2] != ["ssm", "put-parameter"]:
        print(f"aws (simulated): only `ssm put-parameter` is simulated\n{USAGE}", file=sys.stderr)
        return 2
    options: dict[str, str] = {}
    flags: set[str] = set()
    rest = args[2:]
    while rest:
        key = rest.pop(0)
        if key in ("--overwrite", "--no-cli-pager"):
            flags.add(key)
        elif key.startswith("--") and rest:
            options[key[2:]] = rest.pop(0)
        else:
            print(USAGE, file=sys.stderr)
            return 2
    value = options.get("value", "")
    if value.startswith("file://"):
        path = Path(value[len("file://"):])
        if not path.is_absolute():
            path = Path.cwd() / path
        value = path.read_text()
    endpoint = os.environ.get("MEC_SIM_AWS_ENDPOINT")
    if not endpoint:
        print("aws (simulated): no MEC_SIM_AWS_ENDPOINT: not running in the local world", file=sys.stderr)
        return 255
    body = {"Name": options.get("name"), "Value": value, "Type": options.get("type", "String"), "Overwrite": "--overwrite" in flags}
    if "key-id" in options:
        body["KeyId"] = options["key-id"]
    region = options.get("region", "us-east-1")
    request = urllib.request.Request(
        endpoint,
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "User-Agent": "mec-nodesim aws",
            "X-Amz-Target": "AmazonSSM.PutParameter",
            "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/ssm/aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            print(answer.read().decode())
    except urllib.error.HTTPError as error:
        print(f"An error occurred when calling the PutParameter operation: {error.read().decode()}", file=sys.stderr)
        return 254
    return 0
