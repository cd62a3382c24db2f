"""AWS error answers in each service's own protocol, for the world's rules and faults.

A rule or fault that refuses a call returns `aws_error(response, status, code, message)` from
its wrapper of moto's dispatch (BaseResponse.call_action): the SDK then sees exactly what AWS
would send, and parses the code the same way.

- JSON protocols (SSM, Step Functions, DynamoDB, KMS: an `X-Amz-Target` header): a JSON body with
  `__type` and `message` (awsJson1_1 / awsJson1_0).
- EC2 (its own query protocol): `<Response><Errors><Error><Code>…`.
- REST-JSON (Lambda, Scheduler, API Gateway): a JSON body and the `x-amzn-ErrorType` header.
- Other query protocols (IAM, STS): `<ErrorResponse><Error><Type>…<Code>…`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

Answer = tuple[int, dict[str, str], str]

REST_JSON_SERVICES = {"awslambda", "lambda", "scheduler", "apigateway", "apigatewayv2"}


def aws_error(response: Any, status: int, code: str, message: str) -> Answer:
    request_id = str(uuid.uuid4())
    headers = {"status": str(status), "x-amzn-RequestId": request_id}
    if response.headers.get("X-Amz-Target"):
        body = json.dumps({"__type": code, "message": message})
        return status, {**headers, "content-type": "application/x-amz-json-1.1"}, body
    service = (getattr(response, "service_name", None) or "").lower()
    if service == "ec2":
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{_xml(code)}</Code>"
                f"<Message>{_xml(message)}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>")
        return status, {**headers, "content-type": "text/xml"}, body
    if service in REST_JSON_SERVICES:
        body = json.dumps({"Type": "User" if status < 500 else "Service", "message": message})
        return status, {**headers, "x-amzn-ErrorType": code, "content-type": "application/json"}, body
    kind = "Sender" if status < 500 else "Receiver"
    body = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{_xml(code)}</Code><Message>{_xml(message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    return status, {**headers, "content-type": "text/xml"}, body


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
