"""The HTTP API as a portal calls it: JSON over HTTPS, each request signed with SigV4 for the
`execute-api` service (API Gateway's IAM authorization, the module's default `api_auth = "iam"`).

In the local world the front (local/world/api_gateway.py) checks no signature: the suite signs
anyway, so that both targets send the same requests.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


class ApiUnreachable(Exception):
    """No HTTP answer at all (connection refused, DNS, timeout): the API may be gone."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]

    def describe(self) -> str:
        return f"HTTP {self.status} {json.dumps(self.body)}"


class HttpApi:
    """One API stage: `base` is the stage URL (Terraform's `api_url`, with or without the final /)."""

    def __init__(self, base: str, region: str, credentials: Credentials, timeout: float = 60.0,
                 backoff: float = 2.0) -> None:
        self.base = base.rstrip("/")
        self.region = region
        self.credentials = credentials
        self.timeout = timeout
        self.backoff = backoff  # the first retry's wait, doubled at each next one

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Answer:
        """One signed request; the answer's status and JSON body (every answer of the API is JSON)."""
        data = json.dumps(body).encode() if body is not None else None
        request = AWSRequest(method=method, url=self.base + path, data=data,
                             headers={"Content-Type": "application/json"} if data else {})
        # Signed with the credentials' current values: temporary ones carry X-Amz-Security-Token.
        SigV4Auth(self.credentials.get_frozen_credentials(), "execute-api", self.region).add_auth(request)
        prepared = urllib.request.Request(self.base + path, data=data, method=method, headers=dict(request.headers.items()))
        try:
            with urllib.request.urlopen(prepared, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            raise ApiUnreachable(f"{method} {path}: {err}") from err
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"raw": raw.decode(errors="replace")[:500]}
        return Answer(status, parsed if isinstance(parsed, dict) else {"value": parsed})

    def call_with_retries(self, method: str, path: str, body: dict[str, Any] | None = None,
                          attempts: int = 5) -> Answer:
        """Throttling (429) and AWS trouble (502/503) are the API's retryable answers (openapi.json),
        and a request that got no answer may be a network blip: each is retried with backoff (a
        POST or DELETE again is safe: the API answers the same spec or a deletion under way with
        202 and starts nothing). Anything else is returned as is; no answer after the last
        attempt raises ApiUnreachable."""
        for attempt in range(attempts):
            if attempt:
                time.sleep(min(self.backoff * 2 ** (attempt - 1), 20.0))
            try:
                answer = self.call(method, path, body)
            except ApiUnreachable:
                if attempt == attempts - 1:
                    raise
                continue
            if answer.status not in (429, 502, 503) or attempt == attempts - 1:
                return answer
        raise AssertionError("unreachable: the last attempt returns or raises")
