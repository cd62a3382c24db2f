"""Entry point of the stand-ins: `python -m nodesim.cli aws|snap|microk8s ARGS...`.

The bash stand-ins in bin/ (tools the Ubuntu 24.04 AMI ships: snap) and snapbin/ (what snaps
install into the node's /snap/bin: microk8s, aws) exec this with the node's environment (see
runner.py); all with `python -S` but aws, which uses botocore and jmespath from the venv.
"""

from __future__ import annotations

import importlib
import sys

from .context import Context

# Imported on use: every stand-in call is a new process, and `aws` alone pulls in botocore
# (~0.3 s a call), which snap and microk8s must not pay for.
COMMANDS = ("aws", "snap", "microk8s")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m nodesim.cli {{{'|'.join(COMMANDS)}}} ARGS...", file=sys.stderr)
        return 2
    module = importlib.import_module(f".{argv[0]}", __package__)
    return module.main(Context.from_environment(), argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
