#!/usr/bin/env python3
"""Checks that every wait of the state machines ends by its own bound, before the execution's.

An execution that reaches its TimeoutSeconds ends TIMED_OUT, which skips every Catch: the
rollback never runs. So each state of the templates (statemachine/*.asl.json) must be bounded on
its own:
- every Task has a TimeoutSeconds and every Retry a MaxAttempts;
- every cycle of the state graph (a wait loop) passes through a Choice that leaves the loop when
  a step reports `expired` (the wait's deadline, functions/shared/src/deadline.rs), and its
  polling Tasks are the ones infra/modules/pipeline/budget.tf counts as polls (`poll_tasks`), so
  that the derived execution timeout counts them as polls and everything else as run once;
- a Task inside a loop that is not a poll (the join document's phases: join, verify, add-ons,
  which share one wait loop) is entered only from Choice rules that require a phase to be done
  (`$.progress.phase` equal to one value, a different value for each such Task): the phases
  advance, so each of these Tasks runs once.

Usage: python3 tests/lint/check_state_machine_bounds.py   (exit 1 with one line per problem)
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "statemachine"
BUDGET = ROOT / "infra/modules/pipeline/budget.tf"


def load(path: Path) -> dict:
    """The template with its Terraform placeholders filled with stand-ins."""
    text = re.sub(r'"\$\{[^}]+\}"', '"x"', path.read_text())
    text = re.sub(r"\$\{[^}]+\}", "1", text)
    return json.loads(text)


def states_of(machine: dict) -> dict[str, dict]:
    states = dict(machine["States"])
    for state in machine["States"].values():
        for branch in state.get("Branches", []):
            states.update(states_of(branch))
    return states


def successors(state: dict) -> set[str]:
    found = {state.get("Next"), state.get("Default")}
    found |= {c.get("Next") for c in state.get("Choices", [])}
    found |= {c.get("Next") for c in state.get("Catch", [])}
    return {n for n in found if n}


def cycles(machine: dict) -> list[set[str]]:
    """Strongly connected components of the top-level graph that hold a cycle (Tarjan)."""
    states = machine["States"]
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(name: str) -> None:
        index[name] = low[name] = counter[0]
        counter[0] += 1
        stack.append(name)
        on_stack.add(name)
        for nxt in successors(states[name]):
            if nxt not in index:
                visit(nxt)
                low[name] = min(low[name], low[nxt])
            elif nxt in on_stack:
                low[name] = min(low[name], index[nxt])
        if low[name] == index[name]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == name:
                    break
            if len(component) > 1 or name in successors(states[name]):
                found.append(component)

    for name in states:
        if name not in index:
            visit(name)
    return found


def poll_tasks(kind: str) -> set[str]:
    block = re.search(rf"{kind}\s*=\s*\[([^\]]*)\]", BUDGET.read_text())
    return set(re.findall(r'"([A-Za-z]+)"', block.group(1))) if block else set()


def exits_on_expiry(component: set[str], states: dict[str, dict]) -> bool:
    for name in component:
        for rule in states[name].get("Choices", []):
            if (rule.get("Variable", "").endswith(".expired") and rule.get("BooleanEquals") is True
                    and rule.get("Next") not in component):
                return True
    return False


def phase_guards(component: set[str], states: dict[str, dict]) -> dict[str, set[str]]:
    """For each state of the loop, the phase values of the Choice rules that lead to it (a rule
    with no phase condition counts as "*")."""
    guards: dict[str, set[str]] = {}
    for name in component:
        state = states[name]
        for rule in state.get("Choices", []):
            conditions = rule.get("And", [rule])
            phases = [c.get("StringEquals") for c in conditions if c.get("Variable") == "$.progress.phase"]
            guards.setdefault(rule.get("Next"), set()).update(phases or {"*"})
        for nxt in {state.get("Next"), state.get("Default")} - {None}:
            guards.setdefault(nxt, set()).add("*")
    return guards


def once_per_phase(tasks: set[str], component: set[str], states: dict[str, dict]) -> list[str]:
    """Problems with loop Tasks that are not polls: each must be entered from phase-guarded
    Choice rules only, with a phase of its own."""
    problems, seen = [], {}
    guards = phase_guards(component, states)
    for task in sorted(tasks):
        phases = guards.get(task, set())
        if not phases or "*" in phases or len(phases) != 1:
            problems.append(f"{task} is entered other than after one finished phase ({sorted(phases)})")
            continue
        phase = next(iter(phases))
        if phase in seen:
            problems.append(f"{task} and {seen[phase]} both follow the phase {phase}")
        seen[phase] = task
    return problems


def main() -> int:
    problems = []
    for path in sorted(TEMPLATES.glob("*.asl.json")):
        kind = path.name.split(".")[0]
        machine = load(path)
        if "TimeoutSeconds" not in machine:
            problems.append(f"{path.name}: no execution TimeoutSeconds")
        states = states_of(machine)
        for name, state in states.items():
            if state["Type"] == "Task" and not isinstance(state.get("TimeoutSeconds"), int):
                problems.append(f"{path.name}: Task {name} has no TimeoutSeconds")
            for rule in state.get("Retry", []):
                if not isinstance(rule.get("MaxAttempts"), int):
                    problems.append(f"{path.name}: Task {name} retries without MaxAttempts")
        polls = poll_tasks(kind)
        for component in cycles(machine):
            loop = ", ".join(sorted(component))
            if not exits_on_expiry(component, machine["States"]):
                problems.append(f"{path.name}: the loop {{{loop}}} has no Choice that leaves it on `expired`")
            tasks = {n for n in component if machine["States"][n]["Type"] == "Task"}
            if not tasks & polls:
                problems.append(f"{path.name}: the loop {{{loop}}} has no polling Task that budget.tf counts (poll_tasks)")
            for problem in once_per_phase(tasks - polls, component, machine["States"]):
                problems.append(f"{path.name}: in the loop {{{loop}}}, {problem}")
    for problem in problems:
        print(problem)
    print(f"state machine bounds: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
