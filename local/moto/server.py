"""moto's server with the few extensions mec's local world needs.

Run: .venv/bin/python local/moto/server.py -H 127.0.0.1 -p PORT  (same flags as moto_server).

Extensions (each covered by local/tests/test_moto_extensions.py):
- AWS managed IAM policies loaded (MOTO_IAM_LOAD_MANAGED_POLICIES), so that the node role can attach
  AmazonSSMManagedInstanceCore as on AWS.
- Step Functions `ValidateStateMachineDefinition` and `ListStateMachineVersions`: the Terraform AWS
  provider calls both for `aws_sfn_state_machine` (internal/service/sfn/state_machine.go: the plan's
  CustomizeDiff `stateMachineDefinitionValidate` fails unless `result` is OK and prints each
  diagnostic's severity, code and message; Read takes `stateMachineVersions[0]` as the latest
  version); moto 5.2 lacks them and the apply hangs on retries.
  Validation answers what AWS answers for the two checks made here (botocore stepfunctions
  ValidateStateMachineDefinitionOutput: `result` OK | FAIL, `diagnostics` of severity / code /
  message / location, `truncated`): the definition must parse as ASL (moto's own static analyser,
  which CreateStateMachine runs too: code SCHEMA_VALIDATION_FAILED), and every StartAt / Next /
  Default / Catch target must be a state of its scope and every state reachable
  (MISSING_TRANSITION_TARGET, AWS's own message shapes: "Missing 'Next' target: X at
  /States/A/Next", "State \"X\" is not reachable.", as quoted from AWS in localstack PR #12487
  and serverless-step-functions issue #250). Other checks AWS makes are not emulated.
  Versions are moto's own (CreateStateMachine / UpdateStateMachine with `publish`), listed newest
  first as the API reference says, in one page.
- Step Functions' context object carries times as AWS writes them: `$$.Execution.StartTime` and
  `$$.State.EnteredTime` are ISO 8601 strings in UTC with milliseconds and `Z`
  ("2019-03-26T20:14:13.192Z", Step Functions developer guide, "Accessing execution data from the
  Context object"); moto 5.2 passes StartTime as a Python datetime (a DynamoDB integration that
  writes it fails: "Object of type datetime is not JSON serializable") and EnteredTime with
  microseconds and `+00:00`.
- Step Functions' AWS SDK integrations (`arn:aws:states:::aws-sdk:<service>:<action>`) take their
  parameters in PascalCase and answer in PascalCase, "even if the native service API is
  camelCase" (Step Functions developer guide, "Integrating other services: AWS SDK service
  integrations"); moto 5.2 passes the parameters to boto3 as written (`ExecutionArn` for
  stepfunctions' `executionArn`: the Task fails with States.Runtime) and the answer as boto3
  returns it. The names are mapped with the service's botocore model, both ways, and the
  answer's timestamps are written as text (boto3's datetimes cannot be a state's JSON output).
- Every instance of a RunInstances call gets its instance profile: moto 5.2 associates it with
  the first instance only (moto/ec2/responses/instances.py run_instances), where EC2 launches
  each instance with it (EC2 API reference, RunInstances `IamInstanceProfile`).
"""

from __future__ import annotations

import json
import os
import sys

# AWS managed policies (AmazonSSMManagedInstanceCore for the nodes) exist only when asked for.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

from moto.core.responses import ActionResult
from moto.server import main
from moto.stepfunctions.responses import StepFunctionResponse


def validate_state_machine_definition(self: StepFunctionResponse) -> ActionResult:
    """The definition's ERROR diagnostics; FAIL when there is one (nothing here is a WARNING)."""
    diagnostics = definition_errors(self._get_param("definition") or "", self._get_param("type") or "STANDARD")
    return ActionResult({"result": "FAIL" if diagnostics else "OK", "diagnostics": diagnostics, "truncated": False})


def definition_errors(definition: str, machine_type: str) -> list[dict[str, str]]:
    """SCHEMA_VALIDATION_FAILED when moto's ASL parser refuses the definition (as its
    CreateStateMachine does), else the MISSING_TRANSITION_TARGET diagnostics of every scope."""
    from moto.stepfunctions.parser.asl.static_analyser.express_static_analyser import ExpressStaticAnalyser
    from moto.stepfunctions.parser.asl.static_analyser.static_analyser import StaticAnalyser

    analyser = ExpressStaticAnalyser() if machine_type == "EXPRESS" else StaticAnalyser()
    try:
        analyser.analyse(definition)
    except Exception as refused:  # noqa: BLE001 - every parser failure is the definition's
        return [{"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": str(refused)[:1000]}]
    return [{"severity": "ERROR", "code": "MISSING_TRANSITION_TARGET", "message": message, "location": location}
            for message, location in transition_errors(json.loads(definition), "")]


def transition_errors(scope: dict, path: str) -> list[tuple[str, str]]:
    """(message, location) of each target missing from `scope`'s States and each state no
    target reaches; then the same inside its Parallel branches and Map processors."""
    states = scope.get("States") or {}
    targets = [(scope.get("StartAt"), f"{path}/StartAt", "Next")]
    for name, state in states.items():
        at = f"{path}/States/{name}"
        targets.append((state.get("Next"), f"{at}/Next", "Next"))
        targets.append((state.get("Default"), f"{at}/Default", "Default"))
        targets += [(c.get("Next"), f"{at}/Choices[{i}]/Next", "Next") for i, c in enumerate(state.get("Choices") or [])]
        targets += [(c.get("Next"), f"{at}/Catch[{i}]/Next", "Next") for i, c in enumerate(state.get("Catch") or [])]
    errors = [(f"Missing '{field}' target: {target} at {location}", location)
              for target, location, field in targets if target is not None and target not in states]
    reached = {target for target, _, _ in targets if target is not None}
    errors += [(f'State "{name}" is not reachable. at {path}/States/{name}', f"{path}/States/{name}")
               for name in states if name not in reached]
    for name, state in states.items():
        at = f"{path}/States/{name}"
        for i, branch in enumerate(state.get("Branches") or []):
            errors += transition_errors(branch, f"{at}/Branches[{i}]")
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                errors += transition_errors(state[key], f"{at}/{key}")
    return errors


def list_state_machine_versions(self: StepFunctionResponse) -> ActionResult:
    """moto's published versions of the machine, newest first (StateMachineDoesNotExist for an
    unknown machine, moto's own error)."""
    machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
    versions = sorted(getattr(machine, "versions", {}).values(), key=lambda v: (v.creation_date, v.version), reverse=True)
    return ActionResult({"stateMachineVersions": [
        {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date} for v in versions]})


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


def aws_time(value: object) -> object:
    """A context-object time as Step Functions writes it: `2019-03-26T20:14:13.192Z`."""
    import datetime

    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, datetime.datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    utc = value.astimezone(datetime.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def context_times_as_aws_writes_them() -> None:
    from moto.stepfunctions.parser.asl.component.state import state
    from moto.stepfunctions.parser.backend import execution_worker

    execution_data, state_data = execution_worker.ExecutionData, state.StateData

    def execution(**fields: object) -> object:
        return execution_data(**{**fields, "StartTime": aws_time(fields.get("StartTime"))})

    def entered(**fields: object) -> object:
        return state_data(**{**fields, "EnteredTime": aws_time(fields.get("EnteredTime"))})

    execution_worker.ExecutionData = execution  # type: ignore[assignment]
    state.StateData = entered  # type: ignore[assignment]


def times_as_text(value: object) -> None:
    """Timestamps in an SDK integration's answer as text (boto3 parses them into datetimes,
    which a state's JSON output cannot hold)."""
    import datetime

    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, member in list(items):
        if isinstance(member, datetime.datetime):
            value[key] = aws_time(member)  # type: ignore[index]
        else:
            times_as_text(member)


def aws_sdk_integrations_in_pascal_case() -> None:
    import botocore.session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )

    session = botocore.session.get_session()

    def operation(self: StateTaskServiceAwsSdk, boto_service_name: str | None, action: str | None) -> object:
        service = self._get_boto_service_name(boto_service_name)
        name = action or self.resource.api_action
        return session.get_service_model(service).operation_model(name[0].upper() + name[1:])

    def parameters(self: StateTaskServiceAwsSdk, parameters: dict, boto_service_name: str | None = None,
                   service_action_name: str | None = None) -> None:
        shape = operation(self, boto_service_name, service_action_name).input_shape
        if shape is not None:
            self._to_boto_request(parameters, shape)

    def response(self: StateTaskServiceAwsSdk, response: object, boto_service_name: str | None = None,
                 service_action_name: str | None = None) -> None:
        shape = operation(self, boto_service_name, service_action_name).output_shape
        if shape is not None:
            self._from_boto_response(response, shape)
        times_as_text(response)

    StateTaskServiceAwsSdk._normalise_parameters = parameters  # type: ignore[method-assign]
    StateTaskServiceAwsSdk._normalise_response = response  # type: ignore[method-assign]


def install_extensions() -> None:
    """Adds the missing operations (moto dispatches an action to the method of the same name) and
    fixes the gaps listed above."""
    StepFunctionResponse.validate_state_machine_definition = validate_state_machine_definition  # type: ignore[attr-defined]
    StepFunctionResponse.list_state_machine_versions = list_state_machine_versions  # type: ignore[attr-defined]
    profile_for_every_instance()
    context_times_as_aws_writes_them()
    aws_sdk_integrations_in_pascal_case()


if __name__ == "__main__":
    install_extensions()
    main(sys.argv[1:])
