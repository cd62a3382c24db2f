#!/usr/bin/env python3
"""Checks each function's list of IAM actions (functions/<f>/iam-actions.txt) against its code.

Every AWS call in the function's code (its own crate plus the shared modules it uses, followed
through `crate::` references) must be listed, and every listed action must be called — except the
lines marked `# implied`, which AWS requires for a call without the code naming it (tag on create,
PassRole, KMS for SecureString). The Terraform test (infra/modules/pipeline/tests) checks the same
lists against the IAM policies, so code, list and policy agree.

Usage: python3 tests/lint/check_iam_actions.py [--print]   (--print: show what the code calls)
Prints one line per function, then "N passed, M failed".
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
SHARED = FUNCTIONS / "shared" / "src"
NOT_FUNCTIONS = {"shared", "testkit"}
# Re-exports at the shared crate's root, and the module they come from.
REEXPORTS = {"Aws": "aws", "MecError": "error", "Settings": "settings", "EnvironmentSpec": "spec"}
# Client methods that call no AWS API.
LOCAL_METHODS = {"config", "clone", "with_config"}
CALL = re.compile(r"\b(ec2|ssm|scheduler|sfn|dynamodb)\s*\.\s*([a-z][a-z0-9_]*)\s*\(")
# The client's name in the code, and the service prefix of its IAM actions.
SERVICE_PREFIX = {"ec2": "ec2", "ssm": "ssm", "scheduler": "scheduler", "sfn": "states", "dynamodb": "dynamodb"}
SHARED_USE = re.compile(r"mec_shared::(\{[^}]*\}|\w+)")
CRATE_USE = re.compile(r"crate::(\{[^}]*\}|\w+)")


def pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def names_in(match: str) -> list[str]:
    return re.findall(r"\w+", match)


def module_files(name: str) -> list[Path]:
    """A shared module's source: `name.rs`, or every file of the folder `name/` (`mod.rs` and
    its submodules)."""
    single = SHARED / f"{name}.rs"
    return [single] if single.exists() else sorted((SHARED / name).glob("*.rs"))


def shared_modules_used(sources: list[Path]) -> set[str]:
    modules = ({p.stem for p in SHARED.glob("*.rs")} - {"lib"}) | {p.parent.name for p in SHARED.glob("*/mod.rs")}
    used: set[str] = set()
    for path in sources:
        for group in SHARED_USE.findall(path.read_text()):
            for name in names_in(group):
                name = REEXPORTS.get(name, name)
                if name in modules:
                    used.add(name)
    # Follow shared modules' own `crate::` references.
    pending = list(used)
    while pending:
        text = "\n".join(f.read_text() for f in module_files(pending.pop()))
        for group in CRATE_USE.findall(text):
            for name in names_in(group):
                name = REEXPORTS.get(name, name)
                if name in modules and name not in used:
                    used.add(name)
                    pending.append(name)
    return used


def code_actions(function: Path) -> set[str]:
    own = sorted((function / "src").glob("*.rs"))
    sources = own + [f for m in sorted(shared_modules_used(own)) for f in module_files(m)]
    actions: set[str] = set()
    for path in sources:
        text = path.read_text()
        # Test modules call AWS to set up fixtures; they are not the function's code.
        text = text.split("#[cfg(test)]")[0]
        for service, call in CALL.findall(text):
            if call not in LOCAL_METHODS:
                actions.add(f"{SERVICE_PREFIX[service]}:{pascal(call)}")
    return actions


def listed_actions(function: Path) -> tuple[set[str], set[str]]:
    listed, implied = set(), set()
    path = function / "iam-actions.txt"
    if not path.exists():
        return listed, implied
    for line in path.read_text().splitlines():
        action, _, comment = line.partition("#")
        action = action.strip()
        if not action:
            continue
        listed.add(action)
        if comment.strip().startswith("implied"):
            implied.add(action)
    return listed, implied


def main(argv: list[str]) -> int:
    show = "--print" in argv[1:]
    passed = failed = 0
    for function in sorted(p for p in FUNCTIONS.iterdir() if (p / "Cargo.toml").exists()):
        if function.name in NOT_FUNCTIONS:
            continue
        called = code_actions(function)
        listed, implied = listed_actions(function)
        problems = []
        if not (function / "iam-actions.txt").exists():
            problems.append("iam-actions.txt is missing")
        for action in sorted(called - listed):
            problems.append(f"the code calls {action}, which iam-actions.txt does not list")
        for action in sorted(listed - called - implied):
            problems.append(f"iam-actions.txt lists {action}, which the code never calls (mark it `# implied` if AWS needs it anyway)")
        if show:
            print(f"{function.name}: {' '.join(sorted(called))}")
        if problems:
            failed += 1
            print(f"FAIL functions/{function.name}")
            for p in problems:
                print(f"  {p}")
        else:
            passed += 1
            print(f"ok functions/{function.name} ({len(listed)} actions)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
