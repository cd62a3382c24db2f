"""Faults and latencies of the local world, read from a JSON file on every decision so that a
test (or a person) can change them while the world runs.

    {
      "aws_error_rate": 0.1,                       # share of the Lambdas' AWS calls answered with
                                                   #   throttling or a 5xx (before moto sees them)
      "fail_operations": {"CreateSubnet": "UnauthorizedOperation"},   # always fail these calls
      "never_register": ["lab-1-worker-0"],        # SSM never reports these nodes Online
      "fail_install": ["lab-1-worker-1"],          # the install document fails on these nodes
      "never_ready": ["lab-1-worker-1"],           # joined, but never Ready on the master
      "closed_ports": [25000],                     # the cluster's security group lacks these ports
      "capacity": {"spot": true, "on_demand": false,   # RunInstances answers "no capacity" for
                   "azs": ["us-east-1a"]},             #   these markets in these zones (empty or
                                                   #   absent azs: every zone); "code" overrides
                                                   #   the error (e.g. MaxSpotInstanceCountExceeded)
      "fail_addons": ["edgex"],                    # these catalogue add-ons fail to install
      "unhealthy_addons": ["openebs"],             # installed, but never healthy
      "boot_seconds": 0,                           # RunInstances to running (EC2)
      "registration_seconds": 0,                   # then until the SSM agent is Online
      "install_seconds": 0, "join_seconds": 0,     # MicroK8s install and join latencies
      "download_seconds": 0,                       # the share of install_seconds that is the
                                                   #   snap download (user data runs it at boot)
      "ready_seconds": 0,                          # install to `microk8s status --wait-ready`
      "joined_ready_seconds": 0,                   # join to the node Ready on the master
      "addon_seconds": 0,                          # per `microk8s enable`
      "time_scale": 0.01,                          # the scripts' own sleeps and every latency
                                                   #   above, scaled
      "wait_scale": 1.0                            # Step Functions Wait states sleep Seconds x
                                                   #   this (the benchmarks set it = time_scale)
    }

Only calls from the Lambda binaries are faulted (their user agent carries exec-env/AWS_Lambda),
never Terraform's or the tests' own.
"""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path
from typing import Any

from moto.core.responses import BaseResponse

from world.errors import aws_error

DEFAULTS: dict[str, Any] = {
    "aws_error_rate": 0.0,
    "fail_operations": {},
    "never_register": [],
    "fail_install": [],
    "never_ready": [],
    "closed_ports": [],
    "capacity": {},
    "fail_addons": [],
    "unhealthy_addons": [],
    "boot_seconds": 0.0,
    "registration_seconds": 0.0,
    "install_seconds": 0.0,
    "join_seconds": 0.0,
    "ready_seconds": 0.0,
    "joined_ready_seconds": 0.0,
    "addon_seconds": 0.0,
    "download_seconds": 0.0,
    "time_scale": 0.01,
    "wait_scale": 1.0,
}


class Faults:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.random = random.Random(7)

    def current(self) -> dict[str, Any]:
        try:
            loaded = json.loads(self.path.read_text())
        except (OSError, ValueError):
            loaded = {}
        return {**DEFAULTS, **loaded}

    def roll(self, rate: float) -> bool:
        with self.lock:
            return self.random.random() < rate


def _capacity_error(response: BaseResponse, capacity: dict[str, Any]) -> tuple[int, dict[str, str], str] | None:
    """EC2's answer when `capacity` says the requested market has nothing in the requested zone."""
    def param(name: str) -> str:
        return (response.querystring.get(name) or [""])[0]

    spot = param("InstanceMarketOptions.MarketType").lower() == "spot"
    if not capacity.get("spot" if spot else "on_demand", False):
        return None
    zone = param("Placement.AvailabilityZone")
    subnet_id = param("SubnetId")
    if not zone and subnet_id:
        from moto.ec2.models import ec2_backends

        try:
            zone = ec2_backends[response.current_account][response.region].get_subnet(subnet_id).availability_zone
        except Exception:  # noqa: BLE001 - an unknown subnet is moto's error to give
            return None
    zones = capacity.get("azs") or []
    if zones and zone not in zones:
        return None
    code = capacity.get("code") or "InsufficientInstanceCapacity"
    if spot:
        message = "There is no Spot capacity available that matches your request."
    else:
        message = (f"We currently do not have sufficient {param('InstanceType')} capacity "
                   f"in the Availability Zone you requested ({zone}).")
    # EC2 lists the Insufficient* codes among its server errors.
    return aws_error(response, 500 if code.startswith("Insufficient") else 400, code, message + " (injected)")


def install(faults: Faults) -> None:
    """Wraps every moto service's action dispatch with the configured faults."""
    original = BaseResponse.call_action

    def call_action(self: BaseResponse) -> Any:
        agent = self.headers.get("User-Agent") or ""
        if "exec-env/AWS_Lambda" in agent:
            now = faults.current()
            action = self._get_action()
            if action in now["fail_operations"]:
                return aws_error(self, 400, now["fail_operations"][action], f"{action} refused (injected fault)")
            if action == "RunInstances" and now["capacity"]:
                refused = _capacity_error(self, now["capacity"])
                if refused is not None:
                    return refused
            if now["aws_error_rate"] and faults.roll(now["aws_error_rate"]):
                if faults.roll(0.5):
                    throttling = "ThrottlingException" if self.headers.get("X-Amz-Target") else "RequestLimitExceeded"
                    return aws_error(self, 400 if self.headers.get("X-Amz-Target") else 503, throttling, "Rate exceeded (injected)")
                return aws_error(self, 500, "InternalError", "injected 5xx")
        return original(self)

    BaseResponse.call_action = call_action  # type: ignore[method-assign]
    _scale_waits(faults)


def _scale_waits(faults: Faults) -> None:
    """Step Functions Wait states and Retry intervals sleep their seconds x wait_scale, so that a
    time-scaled world polls and retries at the deployed intervals, scaled like everything else."""
    import time

    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    def wait_interval(self: WaitFunction, env: Any, wait_seconds: int) -> None:
        deadline = time.monotonic() + max(wait_seconds, 0) * float(faults.current()["wait_scale"])
        while env.is_running():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            env.program_state_event.wait(remaining)

    WaitFunction._wait_interval = wait_interval  # type: ignore[method-assign]

    class ScaledTime:
        """The retrier's `time`, with its sleep between attempts scaled like the Wait states."""

        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

        def sleep(self, seconds: float) -> None:
            time.sleep(seconds * float(faults.current()["wait_scale"]))

    retrier_decl.time = ScaledTime()  # type: ignore[assignment]
