"""The local AWS world in one process: moto with mec's extensions, Step Functions executing,
Lambda invocations running the real binaries, Run Command running the real documents.

Usage: .venv/bin/python local/world/serve.py --port PORT --binaries DIR --state DIR

Stopping (SIGTERM or SIGINT) is bounded and complete: the world exits within SHUTDOWN_SECONDS,
and every process it started (Lambda environments, node scripts, user data, and what they
started) is stopped first (world/processes.py), whatever executions are still running.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "moto"))

from world import processes  # noqa: E402

SHUTDOWN_SECONDS = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--binaries", type=Path, required=True, help="folder of the mec-<step> binaries")
    parser.add_argument("--state", type=Path, required=True, help="folder for logs and simulated nodes")
    parser.add_argument("--api-port", type=int, help="port of the HTTP API front (default: PORT + 1)")
    parser.add_argument("--api-function", default="mec-api", help="the deployed api function the front invokes")
    parser.add_argument("--faults", type=Path, help="faults and latencies file (default: STATE/faults.json)")
    args = parser.parse_args()

    # Stoppable at any point, even while starting: SIGTERM/SIGINT end the `try` below.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(0))
    world: dict[str, Any] = {}
    code = 1
    try:
        build(args, world)
        from moto.server import main as moto_main

        # moto's main turns SIGTERM and SIGINT into SystemExit(0) in this thread, which ends it.
        moto_main(["-H", "127.0.0.1", "-p", str(args.port)])
    except SystemExit as stopped:
        code = stopped.code if isinstance(stopped.code, int) else 1
    except BaseException:  # noqa: BLE001 - reported, then the world stops all the same
        traceback.print_exc()
    finally:
        stop(world, code)


def build(args: argparse.Namespace, world: dict[str, Any]) -> None:
    """Installs mec's extensions into moto, in order; `world` collects what `stop` stops."""
    # Every process the world starts carries this id: a test can prove none outlives the world.
    os.environ.setdefault(processes.WORLD_ID_VARIABLE, uuid.uuid4().hex)
    # The Step Functions engine calls Lambda back through this port.
    os.environ["MOTO_PORT"] = str(args.port)
    # The simulated nodes' `aws` stand-in calls back here (the master stores its kubeconfig).
    os.environ["MEC_SIM_AWS_ENDPOINT"] = f"http://127.0.0.1:{args.port}"
    import server as extensions  # local/moto/server.py
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.core.config import default_user_config

    from nodesim import runner
    from world import counting, ec2_rules, ec2_time
    from world import faults as world_faults
    from world import invoke_faults
    from world.api_gateway import ApiGateway
    from world.lambda_host import LambdaHost
    from world.runcommand import RunCommand, install

    # Modes first: switching later would use other stores (moto's config switches the backends' stores).
    default_user_config["lambda"] = {"use_docker": False}
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    extensions.install_extensions()

    host = LambdaHost(args.binaries, f"http://127.0.0.1:{args.port}", args.state / "logs")

    def invoke(self, function_name, qualifier, body, headers, response_headers):  # noqa: ANN001
        function = self.get_function(function_name, qualifier)
        return host.invoke(function, body if isinstance(body, bytes) else (body or "{}").encode(), response_headers)

    LambdaSimpleBackend.invoke = invoke
    faults = world_faults.Faults(args.faults or args.state / "faults.json", args.state / "logs" / "faults.jsonl")
    world_faults.install(faults)
    # EC2 as strict as AWS, for every caller: in time (consistency, lifecycles, dependencies),
    # then its request constraints, checked first (outermost); the faults come after both.
    ec2_time.install(faults)
    ec2_rules.install(faults)
    # Local Zones and Wavelength Zones, with AWS's rules for them (world/edge_rules.py).
    from world import edge_rules

    edge_rules.install(faults)
    # Parameter Store's limits, for every caller, like the EC2 rules (world/parameters.py).
    from world import parameters as world_parameters

    world_parameters.install(faults)
    # Step Functions' own Lambda invokes meet the Lambda service's faults (world/invoke_faults.py).
    invoke_faults.install(faults, host)
    # IAM, outside the faults (a denied call is never faulted) and inside the counter (it counts).
    from world import iam as world_iam

    world_iam.install(args.state, faults)
    counting.install(args.state / "logs" / "api-calls.jsonl")
    install(RunCommand(args.state, faults))
    # Node scripts and user data are the world's processes too: stopped with it.
    runner.spawn = processes.start
    runner.reaped = processes.forget

    # The HTTP API on its own port, through the deployed api function (mec-api binary).
    try:
        api = ApiGateway(args.api_port or args.port + 1, f"http://127.0.0.1:{args.port}", args.api_function)
        api.start()
        world["api"] = api
    except OSError as err:
        if args.api_port:
            raise
        # Only the default port: the emulator is still useful without the API front.
        print(f"HTTP API front not started on port {args.port + 1}: {err}", file=sys.stderr)


def stop(world: dict[str, Any], code: int) -> None:
    """Stops the world within SHUTDOWN_SECONDS: the API front, then every process it started,
    then this process, without waiting for the threads of running executions and commands."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    # Whatever hangs below, the world is gone in SHUTDOWN_SECONDS.
    watchdog = threading.Timer(SHUTDOWN_SECONDS, lambda: os._exit(code or 1))
    watchdog.daemon = True
    watchdog.start()
    try:
        if "api" in world:
            world["api"].stop()
        processes.stop_all(grace_seconds=SHUTDOWN_SECONDS / 2)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    main()
