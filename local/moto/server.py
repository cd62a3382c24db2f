"""moto's server with the few extensions mec's local world needs.

Run: .venv/bin/python local/moto/server.py -H 127.0.0.1 -p PORT  (same flags as moto_server).

Extensions (each covered by local/tests/test_moto_extensions.py):
- AWS managed IAM policies loaded (MOTO_IAM_LOAD_MANAGED_POLICIES), so that the node role can attach
  AmazonSSMManagedInstanceCore as on AWS.
- Step Functions `ValidateStateMachineDefinition` and `ListStateMachineVersions`: the Terraform AWS
  provider calls both for `aws_sfn_state_machine`; moto 5.2 lacks them and the apply hangs on
  retries. Validation is answered OK here: the definitions are validated by asl-validator in the
  tests, not by the emulator.
"""

from __future__ import annotations

import os
import sys

# AWS managed policies (AmazonSSMManagedInstanceCore for the nodes) exist only when asked for.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

from moto.core.responses import ActionResult
from moto.server import main
from moto.stepfunctions.responses import StepFunctionResponse


def validate_state_machine_definition(self: StepFunctionResponse) -> ActionResult:
    return ActionResult({"result": "OK", "diagnostics": [], "truncated": False})


def list_state_machine_versions(self: StepFunctionResponse) -> ActionResult:
    return ActionResult({"stateMachineVersions": []})


def install_extensions() -> None:
    """Adds the missing operations; moto dispatches an action to the method of the same name."""
    StepFunctionResponse.validate_state_machine_definition = validate_state_machine_definition  # type: ignore[attr-defined]
    StepFunctionResponse.list_state_machine_versions = list_state_machine_versions  # type: ignore[attr-defined]


if __name__ == "__main__":
    install_extensions()
    main(sys.argv[1:])
