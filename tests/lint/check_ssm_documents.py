#!/usr/bin/env python3
"""Lint the SSM Command documents kept in functions/*/document.yaml.

For each document: the YAML loads (duplicate keys are an error); schemaVersion is "2.2"; every
parameter is a String with a description whose default satisfies its allowedPattern and
allowedValues; every mainStep is aws:runShellScript with a runCommand list of strings; every
{{ name }} in the steps is a declared parameter and every declared parameter is used; every
parameter is constrained by allowedPattern or allowedValues (so that no value can break out of
the script's quoting: no secret travels as a parameter, the nodes read secrets with their own
role), and inside the script a placeholder appears only as a single-quoted assignment
(NAME='{{ name }}'). The script is then rendered with a sample value per parameter (checked against the
parameter's constraints with re.fullmatch) and checked with `bash -n` and
`shellcheck -s bash -S style`. The nodes' user data scripts (functions/*/userdata/*.sh) get the
same two checks.

Usage, from the repository root: python3 tests/lint/check_ssm_documents.py
Prints "ok <document>" or the problems of each document, then "N passed, M failed"; exits 1 when
any document failed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover - depends on the environment
    print("PyYAML is required: pip install pyyaml (it ships with moto)", file=sys.stderr)
    sys.exit(2)

ROOT = Path(__file__).resolve().parents[2]

PARAMETER_TYPES = {"String", "StringList", "Boolean", "Integer", "MapList", "StringMap"}
PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
PARAMETER_NAME = re.compile(r"[A-Za-z0-9_]+")

# Sample values for parameters that have no non-empty default.
SAMPLES = {
    "channel": "1.32/stable",
    "hosts": "10.42.0.10=lab-1-master-0,10.42.0.11=lab-1-worker-0",
    "tokenParameter": "/mec/lab-1/join-token",
    "masterAddress": "10.42.0.10",
    "apiAddress": "203.0.113.10",
    "kubeconfigParameter": "/mec/lab-1/kubeconfig",
    "addons": "dns,hostpath-storage",
    "region": "eu-west-1",
    "expectedNodes": "lab-1-master-0,lab-1-worker-0",
    "controlPlane": "10.42.0.10,10.42.0.11,10.42.0.12",
    "action": "join",
    "asWorker": "true",
    "addons": "dns,hostpath-storage",
    "name": "lab-1",
    "calicoVethMtu": "1250",
}


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a mapping with the same key twice."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)


def constraint_problems(value: str, spec: dict) -> list[str]:
    """What is wrong with value for a parameter spec (allowedPattern, allowedValues)."""
    problems = []
    pattern = spec.get("allowedPattern")
    if pattern is not None:
        try:
            if re.fullmatch(pattern, value) is None:
                problems.append(f"{value!r} does not match allowedPattern {pattern!r}")
        except re.error as err:
            problems.append(f"allowedPattern {pattern!r} is not a valid regex: {err}")
    allowed = spec.get("allowedValues")
    if allowed is not None and value not in allowed:
        problems.append(f"{value!r} is not one of allowedValues {allowed!r}")
    return problems


def sample_value(name: str, spec: dict) -> str:
    default = spec.get("default")
    if isinstance(default, str) and default != "":
        return default
    if name in SAMPLES:
        return SAMPLES[name]
    allowed = spec.get("allowedValues")
    if allowed:
        return str(allowed[0])
    return "x"


def check_parameters(params) -> tuple[list[str], dict]:
    problems = []
    if params is None:
        return problems, {}
    if not isinstance(params, dict):
        return ["parameters is not a mapping"], {}
    for name, spec in params.items():
        where = f"parameter {name}"
        if not isinstance(name, str) or not PARAMETER_NAME.fullmatch(name):
            problems.append(f"{where}: name must be letters, digits and underscores")
        if not isinstance(spec, dict):
            problems.append(f"{where}: not a mapping")
            continue
        ptype = spec.get("type")
        if ptype not in PARAMETER_TYPES:
            problems.append(f"{where}: type {ptype!r} is not one of {sorted(PARAMETER_TYPES)}")
        if not spec.get("description"):
            problems.append(f"{where}: no description")
        if ptype == "String":
            for key in ("default", "allowedPattern"):
                if key in spec and not isinstance(spec[key], str):
                    problems.append(f"{where}: {key} must be a string, not {spec[key]!r}")
            allowed = spec.get("allowedValues")
            if allowed is not None and (
                not isinstance(allowed, list) or not all(isinstance(v, str) for v in allowed)
            ):
                problems.append(f"{where}: allowedValues must be a list of strings (quote them)")
            default = spec.get("default")
            if isinstance(default, str) and default != "":
                problems += [f"{where}: default {p}" for p in constraint_problems(default, spec)]
    return problems, params


def step_strings(value):
    """Every string inside a step (recursively)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from step_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from step_strings(item)


def check_placeholder_context(script: str, params: dict) -> list[str]:
    """Placeholders in a script only as NAME='{{ p }}', for constrained parameters."""
    problems = []
    assignment = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_]*='\{\{\s*(\w+)\s*\}\}'\s*")
    for number, line in enumerate(script.splitlines(), start=1):
        if not PLACEHOLDER.search(line):
            continue
        match = assignment.fullmatch(line)
        if not match:
            problems.append(
                f"script line {number}: a placeholder must stand alone in NAME='{{{{ name }}}}': {line.strip()}"
            )
            continue
        spec = params.get(match.group(1))
        if isinstance(spec, dict) and not (spec.get("allowedPattern") or spec.get("allowedValues")):
            problems.append(
                f"script line {number}: {match.group(1)} has no allowedPattern or allowedValues, so a "
                "quote in its value would break the single-quoted assignment"
            )
    return problems


def run_tool(argv: list[str]) -> tuple[int, str]:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def check_script(label: str, script: str, skip_shellcheck: bool) -> list[str]:
    problems = []
    if not script.startswith("#!/bin/bash\n"):
        problems.append(f"{label}: the script must start with #!/bin/bash")
    fd, path = tempfile.mkstemp(prefix="ssm-document-", suffix=".sh")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(script)
        code, out = run_tool(["bash", "-n", path])
        if code != 0:
            problems.append(f"{label}: bash -n failed:\n{out.replace(path, 'script')}")
        if not skip_shellcheck:
            code, out = run_tool(["shellcheck", "-s", "bash", "-S", "style", path])
            if code != 0:
                problems.append(f"{label}: shellcheck:\n{out.replace(path, 'script')}")
    finally:
        os.unlink(path)
    return problems


def check_document(path: Path, skip_shellcheck: bool) -> list[str]:
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=UniqueKeyLoader)
    except (OSError, yaml.YAMLError) as err:
        return [f"cannot load: {err}"]
    if not isinstance(doc, dict):
        return ["the document is not a mapping"]

    problems = []
    if doc.get("schemaVersion") != "2.2":
        problems.append(f'schemaVersion must be the string "2.2", not {doc.get("schemaVersion")!r}')
    if not doc.get("description"):
        problems.append("no description")
    param_problems, params = check_parameters(doc.get("parameters"))
    problems += param_problems

    steps = doc.get("mainSteps")
    if not isinstance(steps, list) or not steps:
        return problems + ["mainSteps must be a non-empty list"]

    samples = {}
    for name, spec in params.items():
        if isinstance(spec, dict):
            samples[name] = sample_value(name, spec)
            problems += [
                f"parameter {name}: sample {p}" for p in constraint_problems(samples[name], spec)
            ]

    used = set()
    step_names = set()
    for index, step in enumerate(steps):
        label = f"mainSteps[{index}]"
        if not isinstance(step, dict):
            problems.append(f"{label}: not a mapping")
            continue
        name = step.get("name")
        if not name or name in step_names:
            problems.append(f"{label}: needs a unique name")
        step_names.add(name)
        if step.get("action") != "aws:runShellScript":
            problems.append(f"{label}: action must be aws:runShellScript, not {step.get('action')!r}")
        for text in step_strings(step):
            for ref in PLACEHOLDER.findall(text):
                if ref not in params:
                    problems.append(f"{label}: {{{{ {ref} }}}} is not a declared parameter")
                used.add(ref)
        inputs = step.get("inputs")
        commands = inputs.get("runCommand") if isinstance(inputs, dict) else None
        if (
            not isinstance(commands, list)
            or not commands
            or not all(isinstance(c, str) for c in commands)
        ):
            problems.append(f"{label}: inputs.runCommand must be a non-empty list of strings")
            continue
        timeout = inputs.get("timeoutSeconds")
        if timeout is not None:
            rendered_timeout = PLACEHOLDER.sub(lambda m: samples.get(m.group(1), "x"), str(timeout))
            if not re.fullmatch(r"[1-9][0-9]*", rendered_timeout):
                problems.append(f"{label}: timeoutSeconds renders to {rendered_timeout!r}")
        script = "\n".join(commands)
        problems += [f"{label}: {p}" for p in check_placeholder_context(script, params)]
        rendered = PLACEHOLDER.sub(lambda m: samples.get(m.group(1), "x"), script)
        problems += check_script(label, rendered, skip_shellcheck)

    for name in params:
        if name not in used:
            problems.append(f"parameter {name} is declared but never used")
    return problems


def main(argv: list[str]) -> int:
    skip_shellcheck = False
    if argv[1:]:
        print(f"usage: {argv[0]}", file=sys.stderr)
        return 2
    if shutil.which("shellcheck") is None:
        print("shellcheck is not installed (apt-get install -y shellcheck)", file=sys.stderr)
        return 2
    if skip_shellcheck:
        print("note: shellcheck skipped")

    documents = sorted(ROOT.glob("functions/*/document.yaml"))
    user_data = sorted(ROOT.glob("functions/*/userdata/*.sh"))
    passed = failed = 0
    for path in documents + user_data:
        rel = path.relative_to(ROOT).as_posix()
        if path.suffix == ".sh":
            problems = check_script(rel, path.read_text(), skip_shellcheck)
        else:
            problems = check_document(path, skip_shellcheck)
        if problems:
            failed += 1
            print(f"FAIL {rel}")
            for problem in problems:
                print("  " + problem.replace("\n", "\n    "))
        else:
            passed += 1
            print(f"ok {rel}")
    if not documents:
        print("no functions/*/document.yaml found under " + str(ROOT))
        failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
