"""Renders an SSM Command document (schema 2.2, aws:runShellScript) as the agent would.

SendCommand checks the parameters against the document (unknown names, missing values without a
default, allowedValues, allowedPattern) and fails the whole call on a violation; the agent then
resolves `{{ssm-secure:NAME}}` references on the node and substitutes `{{ name }}` textually into
the script lines. The simulator must reproduce exactly that, since the scripts rely on it (quoting,
the token here-document).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

SECURE_REFERENCE = re.compile(r"\{\{\s*ssm-secure:([A-Za-z0-9_./-]+)\s*\}\}")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
# The agent's default when a step gives no timeoutSeconds.
DEFAULT_TIMEOUT_SECONDS = 3600

Resolver = Callable[[str], str]


class InvalidParameters(ValueError):
    """SendCommand's InvalidParameters: nothing runs anywhere."""


class SecureResolutionError(RuntimeError):
    """The agent could not resolve an ssm-secure reference: the command fails on that node."""


@dataclass(frozen=True)
class Rendered:
    script: str
    timeout_seconds: int


def load(document_path: Path | str) -> dict[str, Any]:
    import yaml  # PyYAML (ships with moto in the venv); only the caller's process needs it

    doc = yaml.safe_load(Path(document_path).read_text())
    if not isinstance(doc, dict) or doc.get("schemaVersion") != "2.2":
        raise ValueError(f"{document_path}: not a schemaVersion 2.2 Command document")
    return doc


def check_parameters(doc: dict[str, Any], parameters: Mapping[str, str]) -> dict[str, str]:
    """The values SendCommand accepts, defaults filled in; raises InvalidParameters otherwise."""
    declared: dict[str, Any] = doc.get("parameters") or {}
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise InvalidParameters(f"parameters not defined by the document: {', '.join(unknown)}")
    values: dict[str, str] = {}
    for name, spec in declared.items():
        if name in parameters:
            value = parameters[name]
        elif "default" in spec:
            value = spec["default"]
        else:
            raise InvalidParameters(f"parameter {name!r} is required")
        if not isinstance(value, str):
            raise InvalidParameters(f"parameter {name!r} must be a String")
        allowed = spec.get("allowedValues")
        if allowed is not None and value not in [str(a) for a in allowed]:
            raise InvalidParameters(f"parameter {name!r}: {value!r} is not one of {allowed}")
        pattern = spec.get("allowedPattern")
        if pattern is not None and not re.search(pattern, value):
            raise InvalidParameters(
                f"parameter {name!r}: value does not match allowedPattern {pattern}"
            )
        values[name] = value
    return values


def resolve_secure_references(values: Mapping[str, str], resolve_secure: Resolver) -> dict[str, str]:
    def one(match: re.Match[str]) -> str:
        try:
            return resolve_secure(match.group(1))
        except Exception as e:  # any resolver failure is the agent's failure on this node
            raise SecureResolutionError(
                f"cannot resolve ssm-secure parameter {match.group(1)}: {type(e).__name__}"
            ) from None

    return {name: SECURE_REFERENCE.sub(one, value) for name, value in values.items()}


def substitute(text: str, values: Mapping[str, str]) -> str:
    """One textual pass: a value containing `{{ x }}` is not expanded again."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def render_document(
    document_path: Path | str, parameters: Mapping[str, str], resolve_secure: Resolver
) -> Rendered:
    doc = load(document_path)
    values = check_parameters(doc, parameters)
    steps = doc.get("mainSteps") or []
    if len(steps) != 1 or steps[0].get("action") != "aws:runShellScript":
        raise ValueError(f"{document_path}: expected one aws:runShellScript step")
    inputs = steps[0].get("inputs") or {}
    timeout = int(substitute(str(inputs.get("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS)), values))
    resolved = resolve_secure_references(values, resolve_secure)
    lines = inputs.get("runCommand") or []
    # The agent writes the runCommand lines, one per line, into _script.sh.
    script = "\n".join(substitute(line, resolved) for line in lines)
    return Rendered(script=script, timeout_seconds=timeout)


def render(
    document_path: Path | str, parameters: Mapping[str, str], resolve_secure: Resolver
) -> str:
    """The script the agent would run for these parameters."""
    return render_document(document_path, parameters, resolve_secure).script
