"""moto's server with the few extensions mec's local world needs.

Run: .venv/bin/python local/moto/server.py -H 127.0.0.1 -p PORT  (same flags as moto_server).

Extensions (each covered by local/tests/test_moto_extensions.py):
- AWS managed IAM policies loaded (MOTO_IAM_LOAD_MANAGED_POLICIES), so that the node role can attach
  AmazonSSMManagedInstanceCore as on AWS.
- Step Functions `ValidateStateMachineDefinition` and `ListStateMachineVersions`: the Terraform AWS
  provider calls both for `aws_sfn_state_machine`; moto 5.2 lacks them and the apply hangs on
  retries. Validation is answered OK here: the definitions are validated by asl-validator in the
  tests, not by the emulator.
- Every instance of a RunInstances call gets its instance profile: moto 5.2 associates it with
  the first instance only (moto/ec2/responses/instances.py run_instances), where EC2 launches
  each instance with it (EC2 API reference, RunInstances `IamInstanceProfile`).
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


def profile_for_every_instance() -> None:
    """Wraps EC2 RunInstances so that each instance of the reservation has the profile."""
    from moto.ec2.models import EC2Backend

    run_instances = EC2Backend.run_instances

    def launch(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        reservation = run_instances(self, *args, **kwargs)
        name, arn = kwargs.get("iam_instance_profile_name"), kwargs.get("iam_instance_profile_arn")
        if name or arn:
            # moto's response associates the first instance after this returns.
            for instance in reservation.instances[1:]:
                self.associate_iam_instance_profile(instance_id=instance.id, iam_instance_profile_name=name,
                                                    iam_instance_profile_arn=arn)
        return reservation

    EC2Backend.run_instances = launch  # type: ignore[method-assign]


def install_extensions() -> None:
    """Adds the missing operations (moto dispatches an action to the method of the same name) and
    fixes the gaps listed above."""
    StepFunctionResponse.validate_state_machine_definition = validate_state_machine_definition  # type: ignore[attr-defined]
    StepFunctionResponse.list_state_machine_versions = list_state_machine_versions  # type: ignore[attr-defined]
    profile_for_every_instance()


if __name__ == "__main__":
    install_extensions()
    main(sys.argv[1:])
