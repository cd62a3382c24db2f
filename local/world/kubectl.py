"""`microk8s kubectl` on an environment's first master in the local world's simulated cluster.

Usage: kubectl.py STATE_DIR ENVIRONMENT [kubectl arguments, default: get nodes]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import nodesim  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    state_dir, environment, args = Path(argv[0]).resolve(), argv[1], argv[2:] or ["get", "nodes"]
    directory = state_dir / "clusters" / environment
    if not (directory / "state.json").exists():
        print(f"no simulated cluster for {environment} in {state_dir}", file=sys.stderr)
        return 1
    cluster = nodesim.Cluster(directory, environment)
    masters = sorted(i for i, n in cluster.state()["nodes"].items() if (n.get("node_name") or "").endswith("-master-0"))
    if not masters:
        print(f"{environment} has no installed master", file=sys.stderr)
        return 1
    # The node's /snap/bin is not on the agent's PATH (as on EC2): call the snap's command by path.
    command = '"$MEC_ROOT/snap/bin/microk8s" kubectl ' + " ".join(map(_quote, args))
    result = nodesim.run_shell(cluster.node(masters[0]), command)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.exit_code


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
