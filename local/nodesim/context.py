"""What a stand-in knows about the node it runs on, from the environment the runner set.

MEC_ROOT (the node's file-system root, the scripts' own hook), MEC_SIM_STATE (the environment's
state file) and MEC_SIM_NODE (this node's instance id).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

from . import state as st


class Context:
    """A plain class, not a dataclass: every stand-in call is a new process, and importing
    dataclasses (with inspect) costs more than the rest of the call."""

    __slots__ = ("root", "state_path", "instance_id")

    def __init__(self, root: Path, state_path: Path, instance_id: str) -> None:
        self.root = root
        self.state_path = state_path
        self.instance_id = instance_id

    @classmethod
    def from_environment(cls) -> "Context":
        try:
            return cls(
                root=Path(os.environ["MEC_ROOT"]),
                state_path=Path(os.environ["MEC_SIM_STATE"]),
                instance_id=os.environ["MEC_SIM_NODE"],
            )
        except KeyError as e:
            raise SystemExit(f"nodesim: {e.args[0]} is not set: run through nodesim.run_command")

    def lock(self) -> contextlib.AbstractContextManager[dict[str, Any]]:
        return st.locked_state(self.state_path)

    def read(self) -> dict[str, Any]:
        return st.read_state(self.state_path)

    def hostname(self) -> str:
        """This node's hostname (lowercase, as MicroK8s sends it), from its /etc/hostname."""
        try:
            return (self.root / "etc/hostname").read_text().strip().lower()
        except FileNotFoundError:
            return "localhost"

    @staticmethod
    def out(text: str) -> None:
        print(text, flush=True)

    @staticmethod
    def error(text: str, code: int = 1) -> int:
        print(text, file=sys.stderr, flush=True)
        return code


def scaled_sleep(seconds: float) -> None:
    """Latencies are already multiplied by time_scale by the caller."""
    if seconds > 0:
        time.sleep(seconds)

