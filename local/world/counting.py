"""Counts the AWS API calls of the world, by service and operation, for the benchmarks' cost table.

Each call that reaches moto's dispatch is appended as one JSON line to <state>/api-calls.jsonl:
{"time", "service", "operation", "source"}, where source is "lambda" for the pipeline's steps
(their SDK user agent names the Lambda execution environment), "node" for the simulated nodes'
`aws` stand-in and "other" for everything else (Terraform, tests, the Step Functions engine's own
Lambda invokes). Installed before the faults, so a faulted call counts too (AWS counts it).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from moto.core.responses import BaseResponse


def source_of(user_agent: str) -> str:
    if "exec-env/AWS_Lambda" in user_agent:
        return "lambda"
    if "mec-nodesim" in user_agent:
        return "node"
    return "other"


def install(path: Path) -> None:
    """Wraps moto's action dispatch (under whatever already wraps it) with a counter."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = open(path, "a")  # noqa: SIM115 - lives as long as the world
    lock = threading.Lock()
    original = BaseResponse.call_action

    def call_action(self: BaseResponse) -> Any:
        try:
            operation = self._get_action()
        except Exception:  # noqa: BLE001 - counting never breaks a call
            operation = "unknown"
        line = json.dumps({
            "time": time.time(),
            "service": self.service_name or "unknown",
            "operation": operation,
            "source": source_of(self.headers.get("User-Agent") or ""),
        })
        with lock:
            out.write(line + "\n")
            out.flush()
        return original(self)

    BaseResponse.call_action = call_action  # type: ignore[method-assign]
