#!/usr/bin/env python3
"""Checks that every Terraform root's `required_version` floor is one that runs its code.

Terraform features and the first release that has them (Terraform's CHANGELOG):
- 1.9: a variable's `validation` condition may refer to other variables (before 1.9 it may refer
  only to the variable itself: "The condition for variable X can only refer to the variable
  itself").
- 1.11: `override_during` in `terraform test` mocks (the module's tests).

A root that uses the pipeline module inherits the module's needs. The README's requirement line
must name the floor of the tests (`make test` runs them).

Usage: python3 tests/lint/check_terraform_floor.py   (exit 1 with one line per problem)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "infra/modules/pipeline"
ROOTS = [MODULE, ROOT / "infra/examples/aws", ROOT / "infra/local"]

VARIABLE = re.compile(r'^variable\s+"([^"]+)"\s*\{', re.M)
CONDITION = re.compile(r"condition\s*=\s*(.+)")
REFERENCE = re.compile(r"\bvar\.([A-Za-z0-9_]+)")
FLOOR = re.compile(r'required_version\s*=\s*">=\s*([0-9]+)\.([0-9]+)')


def version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def cross_variable_validations(folder: Path) -> list[str]:
    """`name -> other` for each validation of `name` that reads another variable."""
    found = []
    for path in folder.glob("*.tf"):
        text = path.read_text()
        starts = [(m.start(), m.group(1)) for m in VARIABLE.finditer(text)] + [(len(text), "")]
        for (start, name), (end, _) in zip(starts, starts[1:]):
            for condition in CONDITION.findall(text[start:end]):
                for other in set(REFERENCE.findall(condition)) - {name}:
                    found.append(f"{path.relative_to(ROOT)}: validation of {name} reads var.{other}")
    return found


def needed(folder: Path) -> tuple[tuple[int, int], list[str]]:
    reasons = cross_variable_validations(folder)
    return ((1, 9) if reasons else (0, 0)), reasons


def main() -> int:
    problems = []
    module_floor, module_reasons = needed(MODULE)
    for folder in ROOTS:
        floor, reasons = needed(folder)
        if folder != MODULE and "modules/pipeline" in "".join(p.read_text() for p in folder.glob("*.tf")):
            floor, reasons = max(floor, module_floor), reasons + module_reasons
        declared = next((FLOOR.search(p.read_text()) for p in folder.glob("*.tf") if FLOOR.search(p.read_text())), None)
        if declared is None:
            problems.append(f"{folder.relative_to(ROOT)}: no required_version floor")
            continue
        have = (int(declared.group(1)), int(declared.group(2)))
        if have < floor:
            problems.append(f"{folder.relative_to(ROOT)}: required_version >= {have[0]}.{have[1]}, but it needs "
                            f">= {floor[0]}.{floor[1]} ({reasons[0]})")
    uses_override_during = any("override_during" in p.read_text() for p in (MODULE / "tests").glob("*.tftest.hcl"))
    readme = (ROOT / "README.md").read_text()
    if uses_override_during and not re.search(r"Terraform ≥ 1\.11", readme):
        problems.append("README.md: the module's tests use override_during (Terraform 1.11): say 'Terraform ≥ 1.11'")
    for problem in problems:
        print(problem)
    print(f"terraform floor: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
