"""A stand-in SSM endpoint for node tests without the local world: the nodes' `aws` stand-in
(the AWS CLI) reads and writes parameters here, over SSM's JSON protocol.

    with ParameterStore({"/mec/lab-1/join-token": token}) as store:
        monkeypatch.setenv("MEC_SIM_AWS_ENDPOINT", store.url)   # read by nodesim/runner.py
        cluster.set_credentials(node.instance_id, "mec-node", store.credentials)

It keeps SecureString values in a dict and answers GetParameter, GetParameters, PutParameter and
DeleteParameter with SSM's shapes and error codes (ParameterNotFound, ParameterAlreadyExists,
InvalidRequest for an unknown operation). It does not check signatures, IAM or KMS: the local
world (moto with mec's rules) is the strict one; this is for tests of the documents and the
stand-ins. Every request is recorded (headers and body), and `answers` scripts raw replies
(status, body) ahead of the store, e.g. throttling.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ParameterStore:
    """A parameter store on 127.0.0.1, until `close()` (or the end of the `with` block)."""

    def __init__(self, values: dict[str, str] | None = None, region: str = "us-east-1",
                 account: str = "123456789012") -> None:
        self.values: dict[str, dict[str, Any]] = {}
        for name, value in (values or {}).items():
            self.put(name, value)
        self.region, self.account = region, account
        self.requests: list[dict[str, Any]] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.lock = threading.Lock()
        store = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                target = self.headers.get("X-Amz-Target", "")
                status, answer = store.handle(target, dict(self.headers.items()), json.loads(body or b"{}"))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # What a node's instance profile gives it (any key: nothing here checks it).
        self.credentials = {"AccessKeyId": "ASIANODESIMSTORE0001", "SecretAccessKey": "nodesim",
                            "Token": "nodesim-session", "Expiration": "2099-01-01T00:00:00Z"}

    def put(self, name: str, value: str, kind: str = "SecureString", tier: str = "Standard") -> None:
        previous = self.values.get(name)
        self.values[name] = {"Name": name, "Type": kind, "Value": value, "Tier": tier,
                             "Version": previous["Version"] + 1 if previous else 1, "LastModifiedDate": time.time()}

    def handle(self, target: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append({"target": target, "headers": headers, "body": body})
            if self.answers:
                return self.answers.pop(0)
            operation = target.rpartition(".")[2]
            if operation == "GetParameter":
                found = self.values.get(body.get("Name", ""))
                if found is None:
                    return 400, {"__type": "ParameterNotFound", "message": ""}
                return 200, {"Parameter": self.shape(found)}
            if operation == "GetParameters":
                names = body.get("Names", [])
                return 200, {"Parameters": [self.shape(self.values[n]) for n in names if n in self.values],
                             "InvalidParameters": [n for n in names if n not in self.values]}
            if operation == "PutParameter":
                name = body.get("Name", "")
                if name in self.values and not body.get("Overwrite"):
                    return 400, {"__type": "ParameterAlreadyExists", "message": "The parameter already exists. "
                                 "To overwrite this value, set the overwrite option in the request to true."}
                tier = body.get("Tier", "Standard")
                self.put(name, body.get("Value", ""), body.get("Type", "String"), tier)
                return 200, {"Version": self.values[name]["Version"], "Tier": tier}
            if operation == "DeleteParameter":
                if self.values.pop(body.get("Name", ""), None) is None:
                    return 400, {"__type": "ParameterNotFound", "message": ""}
                return 200, {}
            return 400, {"__type": "InvalidRequest", "message": f"nodesim: {operation} is not simulated"}

    def shape(self, parameter: dict[str, Any]) -> dict[str, Any]:
        """GetParameter's Parameter (no Tier: DescribeParameters has it)."""
        arn = f"arn:aws:ssm:{self.region}:{self.account}:parameter{parameter['Name']}"
        return {k: v for k, v in parameter.items() if k != "Tier"} | {"ARN": arn, "DataType": "text"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "ParameterStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
