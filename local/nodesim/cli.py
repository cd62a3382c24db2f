"""Entry point of the stand-ins: `python -m nodesim.cli aws|snap|microk8s ARGS...`.

The bash stand-ins in bin/ and snapbin/ exec this with the node's environment (see runner.py).
"""

from __future__ import annotations

import sys

from . import aws, microk8s, snap
from .context import Context

COMMANDS = {"aws": aws.main, "snap": snap.main, "microk8s": microk8s.main}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m nodesim.cli {{{'|'.join(COMMANDS)}}} ARGS...", file=sys.stderr)
        return 2
    return COMMANDS[argv[0]](Context.from_environment(), argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
