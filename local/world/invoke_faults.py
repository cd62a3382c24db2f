"""Faults of the Lambda service as Step Functions' own Lambda tasks meet them.

A Task `arn:aws:states:::lambda:invoke` calls Lambda's Invoke; when Lambda answers with an error,
Step Functions fails the Task with `Lambda.<error code>` (moto's engine does the same:
moto/stepfunctions/parser/asl/component/state/exec/state_task/service/state_task_service_lambda.py
`_error_cause_from_client_error`, and its boto client makes one attempt only,
asl/utils/boto_client.py `retries={"total_max_attempts": 1}`). When the function itself fails,
the Task's error is the payload's errorType: Sandbox.Timedout, Runtime.ExitError, or the
handler's (lambda_eval_utils.LambdaFunctionErrorException; LocalStack's AWS-recorded snapshot
tests/aws/services/stepfunctions/v2/error_handling/test_task_service_lambda.snapshot.json
test_raise_exception: error "Exception", the payload as cause).

| faults.json key | the state machine sees | source |
|---|---|---|
| invoke_service_exception_rate | 500 ServiceException -> Task error `Lambda.ServiceException`, cause "<message> (Service: AWSLambda; Status Code: 500; Error Code: ServiceException; ...)" | botocore lambda/2015-03-31 Invoke errors, shape ServiceException (httpStatusCode 500, fault); Step Functions Developer Guide, "Handle Lambda service exceptions" |
| invoke_throttle_rate | 429 TooManyRequestsException (Retry-After header, Reason ConcurrentInvocationLimitExceeded) -> `Lambda.TooManyRequestsException` | botocore shape TooManyRequestsException (httpStatusCode 429, retryAfterSeconds in Retry-After, Reason enum ThrottleReason); same guide: "When Lambda hits the maximum number of invocations, the error is Lambda.TooManyRequestsException" |
| invoke_fault_functions | limits the two above to these function names (empty: all) | |
| invoke_faults_after_run | true: the function runs first, then the invoke is answered with the fault (its answer lost), so a Retry runs it again | "Handle Lambda service exceptions": transient 500s, to Retry; a Retry of a step that already acted needs that step to be idempotent |
| timeout_functions | the function runs, its answer is held until its configured timeout: 200 + X-Amz-Function-Error Unhandled + {"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: <id> Error: Task timed out after <t>.00 seconds"} -> Task error `Sandbox.Timedout` (world/lambda_host.py) | LocalStack's AWS-recorded tests/aws/services/lambda_/test_lambda.snapshot.json (Sandbox.Timedout payload) |

The Task's own TimeoutSeconds, when shorter than the function's timeout, ends it first with
`States.Timeout` (moto's engine, as AWS: LocalStack's AWS-recorded
test_task_service_lambda.snapshot.json test_invoke_timeout, TaskTimedOut with States.Timeout).

Still forgiven: a function error whose payload has no errorType is `Exception` in moto's engine
where AWS reports `Lambda.Unknown` ("Handle Lambda service exceptions": unhandled errors without a
type) - the world's host and mec's runtime always send one; a Task whose Resource is the
function's ARN (not lambda:invoke) gets `Exception` for Lambda service errors in moto's engine
(state_task_lambda.py) - mec uses lambda:invoke only; Runtime.OutOfMemory is never produced (no
memory limit); Lambda's 10 s init limit is not enforced (init and queueing count against the
timeout before the hand-over, the invocation gets its full timeout after it).

Step Functions' invokes are told from everyone else's by the credentials moto's engine signs
with (asl/utils/boto_client.py: aws_access_key_id "ak"); the tests, the HTTP API front and
Terraform sign with others. Every injected fault, and every timeout or exit the Lambda host
answers, is recorded in <state>/logs/faults.jsonl (world/faults.py `read_faults`).
"""

from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import unquote

from moto.core.responses import BaseResponse

from world.errors import aws_error
from world.faults import Faults
from world.lambda_host import LambdaHost

# moto's Step Functions engine signs its calls with this access key (asl/utils/boto_client.py).
ENGINE_CREDENTIAL = "Credential=ak/"


def from_step_functions(response: BaseResponse) -> bool:
    """Whether the call is one of moto's Step Functions engine's (a Task's Lambda invoke)."""
    return ENGINE_CREDENTIAL in (response.headers.get("Authorization") or "")


def function_name(response: BaseResponse) -> str:
    """The invoked function's name, from /2015-03-31/functions/<name or ARN>/invocations."""
    target = unquote(response.path.rstrip("/").rsplit("/", 2)[-2])
    if target.startswith("arn:"):
        parts = target.split(":")
        return parts[6] if len(parts) > 6 else target
    return target.split(":")[0]


def throttled(response: BaseResponse) -> Any:
    """Lambda's 429: the TooManyRequestsException shape, with its Retry-After header and Reason."""
    status, headers, body = aws_error(response, 429, "TooManyRequestsException", "Rate Exceeded. (injected)")
    fields = json.loads(body)
    fields["Reason"] = "ConcurrentInvocationLimitExceeded"
    return status, {**headers, "Retry-After": "1"}, json.dumps(fields)


def _invoke_fault(faults: Faults, response: BaseResponse, run: Callable[[], Any]) -> Any:
    """Runs this Step Functions invoke (`run`) unless the Lambda service fails it; with
    invoke_faults_after_run, the function runs and then its answer is replaced by the fault."""
    now = faults.current()
    exception_rate, throttle_rate = now["invoke_service_exception_rate"], now["invoke_throttle_rate"]
    name = function_name(response)
    chosen = now["invoke_fault_functions"]
    if (not exception_rate and not throttle_rate) or (chosen and name not in chosen):
        return run()
    if exception_rate and faults.roll(exception_rate):
        code = "ServiceException"
    elif throttle_rate and faults.roll(throttle_rate):
        code = "TooManyRequestsException"
    else:
        return run()
    after_run = bool(now["invoke_faults_after_run"])
    if after_run:
        run()
    if code == "ServiceException":
        answer = aws_error(response, 500, code, "An internal error occurred. (injected)")
    else:
        answer = throttled(response)
    faults.record("invoke-error", "lambda", "Invoke", name, code=code, status=answer[0], after_run=after_run)
    return answer


def install(faults: Faults, host: LambdaHost) -> None:
    """Wraps moto's dispatch for Step Functions' Lambda invokes, and gives the Lambda host the
    timeout_functions fault and a place to report the timeouts and exits it answers."""
    original = BaseResponse.call_action

    def call_action(self: BaseResponse) -> Any:
        if (self.service_name or "") == "awslambda" and from_step_functions(self) and self._get_action() == "Invoke":
            return _invoke_fault(faults, self, lambda: original(self))
        return original(self)

    BaseResponse.call_action = call_action  # type: ignore[method-assign]
    host.withhold = lambda name: name in (faults.current()["timeout_functions"] or [])
    host.on_host_error = lambda name, error_type, injected: faults.record(
        "invoke-timeout" if error_type == "Sandbox.Timedout" else "invoke-exit", "lambda", "Invoke", name,
        code=error_type, injected=injected)
