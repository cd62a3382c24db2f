"""The local world's API Gateway: an HTTP front on loopback for the HTTP API.

Each request becomes an API Gateway HTTP API event (payload format 2.0, the `$default` stage)
and is handed to the deployed api function through the emulator's Lambda Invoke API, which
runs the real `mec-api` binary (lambda_host.py). The function's answer ({statusCode, headers,
body, isBase64Encoded}) becomes the HTTP response.

No authentication: the front listens on 127.0.0.1 only. On AWS, API Gateway checks a JWT or a
SigV4 signature before the function sees the request; the function never does.

As on AWS: bodies above 10 MB are refused (413) before the function is invoked, and a function
that fails or answers with something that is not a proxy response is a 502.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

MAX_BODY = 10 * 1024 * 1024


def event(method: str, raw_path: str, query: str, headers: dict[str, str], body: bytes, source_ip: str) -> dict[str, Any]:
    """The payload 2.0 event API Gateway sends a Lambda proxy integration."""
    now = time.time()
    text: str | None = None
    encoded = False
    if body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
    cookies = [c.strip() for c in headers.get("cookie", "").split(";") if c.strip()]
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": query,
        **({"cookies": cookies} if cookies else {}),
        "headers": {k: v for k, v in headers.items() if k != "cookie"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": headers.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
        },
        **({"body": text} if text is not None else {}),
        "isBase64Encoded": encoded,
    }


class ApiGateway:
    """Serves `port`, invoking `function` in the emulator at `lambda_endpoint` for each request."""

    def __init__(self, port: int, lambda_endpoint: str, function: str) -> None:
        self.invoke_url = f"{lambda_endpoint}/2015-03-31/functions/{function}/invocations"
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()

    def invoke(self, payload: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            self.invoke_url,
            data=json.dumps(payload).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                # Any SigV4-shaped header: the emulator routes by it, credentials are dummies.
                "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=x",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                failed = response.headers.get("X-Amz-Function-Error")
                answer = response.read()
        except (urllib.error.URLError, TimeoutError) as err:
            return bad_gateway(f"the api function could not be invoked: {err}")
        if failed:
            return bad_gateway(f"the api function failed: {answer[:500].decode(errors='replace')}")
        try:
            reply = json.loads(answer)
            status = int(reply["statusCode"])
            body = reply.get("body") or ""
            data = base64.b64decode(body) if reply.get("isBase64Encoded") else body.encode()
            headers = {str(k): str(v) for k, v in (reply.get("headers") or {}).items()}
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            return bad_gateway(f"the api function's answer is not a proxy response: {err}")
        return status, headers, data

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self.close_connection = True
                    return self._reply(413, {}, json.dumps({"message": "Request Entity Too Large"}).encode())
                body = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                payload = event(self.command, url.path or "/", url.query, headers, body, self.client_address[0])
                self._reply(*gateway.invoke(payload))

            def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def __getattr__(self, name: str) -> Any:
                # Every method (TRACE, QUERY, ...) reaches the function, as through a `$default`
                # route: the function answers 405 for the ones no route has.
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

        return Handler


def bad_gateway(message: str) -> tuple[int, dict[str, str], bytes]:
    return 502, {"Content-Type": "application/json"}, json.dumps({"message": message}).encode()
