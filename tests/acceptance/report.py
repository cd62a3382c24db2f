"""The timing tables: the suite's own steps, and the provisioning execution's states read from
Step Functions (ListExecutions finds the run the API started, `<env>--c-<ms>`; its history gives
each state's time), with time to READY against the latency model of docs/benchmarks.md (bench/model.py)."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def lower_bound(workers: int) -> float:
    """bench/model.py's critical path with the snap prefetch (what mec does), loaded by path: the
    bench folder is not a package."""
    spec = importlib.util.spec_from_file_location("mec_bench_model", ROOT / "bench/model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return float(module.lower_bound(workers, prefetch=True))


@dataclass
class StateTime:
    """One state of the provisioning machine: its kind, how often it was entered, the seconds
    between each *StateEntered and its *StateExited, summed (a polling state runs many times)."""

    name: str
    kind: str
    entries: int = 0
    seconds: float = 0.0


@dataclass
class Execution:
    name: str
    arn: str
    status: str
    started: datetime
    stopped: datetime | None
    states: list[StateTime] = field(default_factory=list)

    @property
    def seconds(self) -> float | None:
        return (self.stopped - self.started).total_seconds() if self.stopped else None


def newest_create_execution(sfn: Any, machine_arn: str, environment: str) -> dict[str, Any] | None:
    """The environment's newest provisioning run as the API and the CLI name it: `<env>--c-<ms>`."""
    prefix = f"{environment}--c-"
    found = [e for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine_arn)
             for e in page["executions"] if e["name"].startswith(prefix)]
    return max(found, key=lambda e: e["startDate"]) if found else None


def execution_times(sfn: Any, listed: dict[str, Any]) -> Execution:
    """Each state's time from the history: a *StateEntered is closed by the next *StateExited of the
    same state name (states of parallel branches have names of their own)."""
    events = [e for page in sfn.get_paginator("get_execution_history").paginate(executionArn=listed["executionArn"])
              for e in page["events"]]
    described = sfn.describe_execution(executionArn=listed["executionArn"])
    open_: dict[str, list[datetime]] = {}
    states: dict[str, StateTime] = {}
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            states.setdefault(name, StateTime(name, kind[: -len("StateEntered")]))
            states[name].entries += 1
            open_.setdefault(name, []).append(event["timestamp"])
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            if open_.get(name):
                states[name].seconds += (event["timestamp"] - open_[name].pop(0)).total_seconds()
    return Execution(listed["name"], listed["executionArn"], described["status"], described["startDate"],
                     described.get("stopDate"), list(states.values()))


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (readable as text, pasteable into a report)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def steps_table(steps: list[tuple[str, float, str]]) -> str:
    return table(["suite step", "seconds", "result"], [[name, f"{seconds:.1f}", result] for name, seconds, result in steps])


def execution_table(execution: Execution, workers: int, scaled_note: str | None) -> str:
    """The provisioning states (Task states: their Lambda calls, polls summed; Wait states: the
    machine's own waits), then time to READY and, on AWS, the ratio to the model's lower bound.
    `scaled_note`: the local world's clock is scaled, so its seconds are not comparable to the
    model: the note is printed instead of the ratio."""
    rows = [[s.name, s.kind, str(s.entries), f"{s.seconds:.1f}"] for s in execution.states
            if s.kind in ("Task", "Wait", "Parallel")]
    text = [f"provisioning execution {execution.name} ({execution.status})",
            table(["state", "kind", "entries", "seconds (summed)"], rows)]
    bound = lower_bound(workers)
    total = execution.seconds
    tasks = sum(s.seconds for s in execution.states if s.kind == "Task")
    waits = sum(s.seconds for s in execution.states if s.kind == "Wait")
    summary = [["Task states, summed (parallel branches overlap)", f"{tasks:.1f}"],
               ["Wait states, summed", f"{waits:.1f}"],
               ["time to READY (execution start to stop)", f"{total:.1f}" if total is not None else "-"],
               [f"model lower bound, 1 master + {workers} worker(s) (bench/model.py lower_bound({workers}, prefetch=True))",
                f"{bound:.0f}"]]
    if scaled_note is None and total is not None and execution.status == "SUCCEEDED":
        summary.append(["time to READY / lower bound", f"{total / bound:.2f}x"])
    text.append(table(["", "seconds"], summary))
    if scaled_note is not None:
        text.append(scaled_note)
    return "\n\n".join(text)
