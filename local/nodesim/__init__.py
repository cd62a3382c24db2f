"""nodesim: runs the real mec SSM documents with bash on simulated nodes.

Stand-ins for `snap`, `microk8s`, `hostname`, `hostnamectl` and `sleep` keep a simulated
MicroK8s cluster in one JSON state file per environment (see state.py), so that a join before
install, a wrong or expired token, a wrong address or a closed port fails as it would on EC2.

    cluster = Cluster(tmp_dir, "lab-1")
    master = cluster.add_node("i-0", "10.42.0.10", "203.0.113.10")
    results = run_command(INSTALL_DOC, {"channel": "1.32/stable", "hosts": ...}, [master], resolver)
"""

from importlib import import_module

# Exported names and their modules, imported on first use: the stand-ins import this package
# on every `snap`/`microk8s` call and should not pay for the runner's imports.
_EXPORTS = {
    "Cluster": "cluster",
    "Node": "cluster",
    "InvalidParameters": "document",
    "SecureResolutionError": "document",
    "render": "document",
    "render_document": "document",
    "Result": "runner",
    "run_command": "runner",
    "run_shell": "runner",
}


def __getattr__(name: str) -> object:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Cluster",
    "InvalidParameters",
    "Node",
    "Result",
    "SecureResolutionError",
    "render",
    "render_document",
    "run_command",
    "run_shell",
]
