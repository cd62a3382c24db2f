"""The local AWS world in one process: moto with mec's extensions, Step Functions executing,
Lambda invocations running the real binaries, Run Command running the real documents.

Usage: .venv/bin/python local/world/serve.py --port PORT --binaries DIR --state DIR
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "moto"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--binaries", type=Path, required=True, help="folder of the mec-<step> binaries")
    parser.add_argument("--state", type=Path, required=True, help="folder for logs and simulated nodes")
    parser.add_argument("--api-port", type=int, help="port of the HTTP API front (default: PORT + 1)")
    parser.add_argument("--api-function", default="mec-api", help="the deployed api function the front invokes")
    parser.add_argument("--faults", type=Path, help="faults and latencies file (default: STATE/faults.json)")
    args = parser.parse_args()

    # The Step Functions engine calls Lambda back through this port.
    os.environ["MOTO_PORT"] = str(args.port)
    # The simulated nodes' `aws` stand-in calls back here (the master stores its kubeconfig).
    os.environ["MEC_SIM_AWS_ENDPOINT"] = f"http://127.0.0.1:{args.port}"
    import server as extensions  # local/moto/server.py
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.core.config import default_user_config
    from moto.server import main as moto_main

    from world import counting
    from world import faults as world_faults
    from world.api_gateway import ApiGateway
    from world.lambda_host import LambdaHost
    from world.runcommand import RunCommand, install

    # Modes first: switching later would use other stores (research/local-emulation.md).
    default_user_config["lambda"] = {"use_docker": False}
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    extensions.install_extensions()

    host = LambdaHost(args.binaries, f"http://127.0.0.1:{args.port}", args.state / "logs")

    def invoke(self, function_name, qualifier, body, headers, response_headers):  # noqa: ANN001
        function = self.get_function(function_name, qualifier)
        return host.invoke(function, body if isinstance(body, bytes) else (body or "{}").encode(), response_headers)

    LambdaSimpleBackend.invoke = invoke
    faults = world_faults.Faults(args.faults or args.state / "faults.json")
    world_faults.install(faults)
    counting.install(args.state / "logs" / "api-calls.jsonl")
    install(RunCommand(args.state, faults))
    # The HTTP API on its own port, through the deployed api function (mec-api binary).
    api = None
    try:
        api = ApiGateway(args.api_port or args.port + 1, f"http://127.0.0.1:{args.port}", args.api_function)
        api.start()
    except OSError as err:
        if args.api_port:
            raise
        # Only the default port: the emulator is still useful without the API front.
        print(f"HTTP API front not started on port {args.port + 1}: {err}", file=sys.stderr)
    try:
        moto_main(["-H", "127.0.0.1", "-p", str(args.port)])
    finally:
        if api:
            api.stop()
        host.stop()


if __name__ == "__main__":
    main()
