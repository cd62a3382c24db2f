"""`microk8s kubectl` on an environment's first master in the local world's simulated cluster.

Usage: kubectl.py STATE_DIR ENVIRONMENT [--kubeconfig FILE] [kubectl arguments, default: get nodes]

With `--kubeconfig FILE` (as the real kubectl takes it, e.g. the file `mec kubeconfig NAME -o
FILE` wrote), the file must lead to this environment's API server, as it would have to for the
real kubectl: its `server` a control-plane node's address (public or private) on 16443, and its
`certificate-authority-data` that cluster's CA. Otherwise kubectl's own failures: a server nothing
answers at times out (`Unable to connect to the server: dial tcp ADDR: i/o timeout`), another
CA fails the TLS verification (`... x509: certificate signed by unknown authority`). The
commands then run on the first master as `microk8s kubectl`, without the file (the node's own
admin configuration, the same identity).
"""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import nodesim  # noqa: E402

# The MicroK8s CA on a node (nodesim/pki.py): certificate-authority-data is its base64.
CA_FILE = "var/snap/microk8s/current/certs/ca.crt"


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    state_dir, environment = Path(argv[0]).resolve(), argv[1]
    kubeconfig, args = without_kubeconfig(argv[2:])
    args = args or ["get", "nodes"]
    directory = state_dir / "clusters" / environment
    if not (directory / "state.json").exists():
        print(f"no simulated cluster for {environment} in {state_dir}", file=sys.stderr)
        return 1
    cluster = nodesim.Cluster(directory, environment)
    masters = sorted(i for i, n in cluster.state()["nodes"].items() if (n.get("node_name") or "").endswith("-master-0"))
    if not masters:
        print(f"{environment} has no installed master", file=sys.stderr)
        return 1
    if kubeconfig is not None:
        refused = connect(cluster, Path(kubeconfig))
        if refused:
            print(refused, file=sys.stderr)
            return 1
    # The node's /snap/bin is not on the agent's PATH (as on EC2): call the snap's command by path.
    command = '"$MEC_ROOT/snap/bin/microk8s" kubectl ' + " ".join(map(_quote, args))
    result = nodesim.run_shell(cluster.node(masters[0]), command)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.exit_code


def without_kubeconfig(args: list[str]) -> tuple[str | None, list[str]]:
    """kubectl's global `--kubeconfig FILE` / `--kubeconfig=FILE`, wherever it stands."""
    found: str | None = None
    rest: list[str] = []
    i = 0
    while i < len(args):
        if args[i] == "--":
            rest += args[i:]
            break
        if args[i] == "--kubeconfig" and i + 1 < len(args):
            found, i = args[i + 1], i + 2
            continue
        if args[i].startswith("--kubeconfig="):
            found = args[i].split("=", 1)[1]
        else:
            rest.append(args[i])
        i += 1
    return found, rest


def connect(cluster: nodesim.Cluster, kubeconfig: Path) -> str | None:
    """Why the real kubectl could not reach this cluster with this file, or None when it could."""
    try:
        text = kubeconfig.read_text()
    except OSError as e:
        return f'error: stat {kubeconfig}: {e.strerror.lower() if e.strerror else "cannot read"}'
    server = re.search(r"^\s*server:\s*(\S+)\s*$", text, re.MULTILINE)
    ca = re.search(r"^\s*certificate-authority-data:\s*(\S+)\s*$", text, re.MULTILINE)
    if server is None:
        return "The connection to the server localhost:8080 was refused - did you specify the right host or port?"
    match = re.fullmatch(r"https://([^:/]+):([0-9]+)/?", server.group(1))
    address = match.group(1) if match else server.group(1)
    state = cluster.state()
    serving = [(i, n) for i, n in state["nodes"].items() if n.get("installed") and n.get("role") == "control-plane"
               and address in (n.get("public_ip"), n.get("private_ip"))]
    if match is None or match.group(2) != "16443" or not serving:
        return f"Unable to connect to the server: dial tcp {address}:{match.group(2) if match else 443}: i/o timeout"
    _, node = serving[0]
    expected = (Path(node["root"]) / CA_FILE).read_bytes()
    try:
        given = base64.b64decode(ca.group(1), validate=True) if ca else None
    except ValueError:
        return "error: illegal base64 data in certificate-authority-data"
    if given != expected:
        return "Unable to connect to the server: tls: failed to verify certificate: x509: certificate signed by unknown authority"
    return None


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
