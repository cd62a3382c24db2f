"""Renders an SSM Command document (schema 2.2, aws:runShellScript) as SSM and its agent do.

Two sides, as on AWS:

- SendCommand (the service, `check_parameters`): unknown names, missing values without a
  default, allowedValues and allowedPattern; a violation fails the whole call (InvalidParameters)
  and nothing runs anywhere. A value holding an `{{ssm:NAME}}` reference is checked by the
  agent once resolved, not here (the agent's validation runs on resolved values, see below).
- The agent, on each node (`render_document`): resolves `{{ssm:NAME}}` references, validates
  allowedPattern on the resolved values, substitutes `{{ name }}` into the step's inputs, then
  resolves the `{{ssm:NAME}}` references the substitution brought in. A failure there fails the
  command on that node before any script runs (`AgentDocumentError`).

| rule | what the agent does | source (aws/amazon-ssm-agent) |
|---|---|---|
| `agent-parameter-references` | only `{{ssm:NAME}}` (also `NAME:VERSION`) is resolved, by GetParameters; a SecureString among them fails the document with "Parameters [NAME] of type SecureString are not supported"; an unknown one with "Input contains invalid parameters [NAME]"; `{{ssm-secure:NAME}}` does not match the agent's pattern `\\{\\{ *ssm:[/\\w.:-]+ *\\}\\}` and reaches the script as literal text (only aws:downloadContent resolves `ssm-secure:`, for its own tokenInfo) | agent/framework/docparser/parameterstore/parameterstore.go (Resolve, getValidSSMParamRegexCompiler, getSSMParameterValues); docparser.go (getValidatedParameters, replaceValidatedPluginParameters); agent/plugins/downloadcontent/gitresource/github/privategithub/privategithub.go; Systems Manager User Guide, "About Systems Manager parameters" ("SSM documents currently don't support references to Secure String parameters") |
| (model) | allowedPattern is the agent's one mandatory validator, on resolved values: "all errors during param validation errors: error thrown in 'AllowedRegexParamValidator' while validating parameter /NAME/: parameter value /V/ does not match the allowed pattern /P/" | parameterstore.go (ValidateSSMParameters), paramvalidator/paramvalidator.go, allowedregexparamvalidator.go |
| (model) | `{{ name }}` placeholders of declared names (`^[a-zA-Z0-9]+$`) are replaced in one pass; `$$` in a value becomes `$`; a string that is exactly one placeholder takes the value as is | agent/framework/docparser/parameters/parameters.go (ReplaceParameters, ReplaceParameter) |
| (model) | timeoutSeconds: an integer (or a float, truncated) between 5 and 172800, anything else is 3600 | agent/plugins/pluginutil/pluginutil.go (ValidateExecutionTimeout, extractIntFromString) |

With the rule lenient (faults.json `"lenient": ["agent-parameter-references"]`), the world does
what it used to: `{{ssm-secure:NAME}}` resolved to the decrypted value, SecureStrings allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

# The agent's pattern of a parameter reference (parameterstore.go, getValidSSMParamRegexCompiler).
SSM_REFERENCE = re.compile(r"\{\{ *ssm:([/\w.:-]+) *\}\}")
# What the world resolved before the rule (lenient only): `{{ssm-secure:NAME}}`.
SECURE_REFERENCE = re.compile(r"\{\{\s*ssm-secure:([A-Za-z0-9_./-]+)\s*\}\}")
# Document parameter names the agent substitutes (parameters.go, paramNameRegex).
PARAMETER_NAME = re.compile(r"^[a-zA-Z0-9]+$")
PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z0-9]+)\s*\}\}")
# The agent's execution timeout bounds and default (pluginutil.go).
DEFAULT_TIMEOUT_SECONDS = 3600
MIN_TIMEOUT_SECONDS = 5
MAX_TIMEOUT_SECONDS = 172800
SECURE_STRING = "SecureString"

# Looks a parameter up as GetParameters would: NAME or NAME:VERSION -> (Type, Value), the value
# decrypted; None when there is no such parameter (or version).
Resolver = Callable[[str], "tuple[str, str] | None"]


class InvalidParameters(ValueError):
    """SendCommand's InvalidParameters: nothing runs anywhere."""


class AgentDocumentError(RuntimeError):
    """The agent could not prepare the document on a node: the invocation fails there, with
    this text as its trace output, and no script runs."""


# The name the simulator used before; nodesim/__init__.py still exports it.
SecureResolutionError = AgentDocumentError


@dataclass(frozen=True)
class Rendered:
    script: str
    timeout_seconds: int
    step_name: str = "runShellScript"


def load(document_path: Path | str) -> dict[str, Any]:
    import yaml  # PyYAML (ships with moto in the venv); only the caller's process needs it

    doc = yaml.safe_load(Path(document_path).read_text())
    if not isinstance(doc, dict) or doc.get("schemaVersion") != "2.2":
        raise ValueError(f"{document_path}: not a schemaVersion 2.2 Command document")
    return doc


def has_reference(value: str) -> bool:
    """True when the agent would resolve something in `value` (so SendCommand leaves its
    patterns to the agent)."""
    return SSM_REFERENCE.search(value) is not None


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
        if not has_reference(value):
            _check_value(name, spec, value)
        values[name] = value
    return values


def _check_value(name: str, spec: Mapping[str, Any], value: str) -> None:
    allowed = spec.get("allowedValues")
    if allowed is not None and value not in [str(a) for a in allowed]:
        raise InvalidParameters(f"parameter {name!r}: {value!r} is not one of {allowed}")
    pattern = spec.get("allowedPattern")
    if pattern is not None and not re.search(pattern, value):
        raise InvalidParameters(f"parameter {name!r}: value does not match allowedPattern {pattern}")


def resolve_references(texts: list[str], lookup: Resolver) -> dict[str, str]:
    """The agent's getSSMParameterValues: every `{{ssm:...}}` reference in `texts` -> its value.
    Raises AgentDocumentError with the agent's messages."""
    names: list[str] = []
    for text in texts:
        for match in SSM_REFERENCE.finditer(text):
            if match.group(1) not in names:
                names.append(match.group(1))
    if not names:
        return {}
    found = {name: lookup(name) for name in names}
    invalid = [name for name, parameter in found.items() if parameter is None]
    if invalid:
        # Go's %v of a []string: "[a b]".
        raise AgentDocumentError(f"Input contains invalid parameters [{' '.join(invalid)}]")
    secure = [name.split(":")[0] for name, parameter in found.items() if parameter and parameter[0] == SECURE_STRING]
    if secure:
        raise AgentDocumentError(f"Parameters [{' '.join(secure)}] of type SecureString are not supported")
    return {name: parameter[1] for name, parameter in found.items() if parameter}


def replace_references(text: str, values: Mapping[str, str]) -> str:
    return SSM_REFERENCE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _agent_values(declared: Mapping[str, Any], values: Mapping[str, str], lookup: Resolver) -> None:
    """ValidateSSMParameters: resolve the references in the values, then allowedPattern."""
    resolved_refs = resolve_references(list(values.values()), lookup)
    errors = []
    for name, spec in declared.items():
        pattern = spec.get("allowedPattern")
        value = replace_references(values.get(name, ""), resolved_refs)
        if pattern is not None and not re.search(pattern, value):
            errors.append(
                f"error thrown in 'AllowedRegexParamValidator' while validating parameter /{name}/: "
                f"parameter value /{value}/ does not match the allowed pattern /{pattern}/"
            )
    if errors:
        raise AgentDocumentError("all errors during param validation errors: " + "\n".join(errors))


def _lenient_values(values: Mapping[str, str], lookup: Resolver) -> dict[str, str]:
    """The world before the rule: `{{ssm-secure:NAME}}` replaced by the decrypted value."""

    def one(match: re.Match[str]) -> str:
        found = lookup(match.group(1))
        if found is None:
            raise AgentDocumentError(f"cannot resolve ssm-secure parameter {match.group(1)}")
        return found[1]

    return {name: SECURE_REFERENCE.sub(one, value) for name, value in values.items()}


def substitute(text: str, values: Mapping[str, str]) -> str:
    """parameters.go ReplaceParameter: one textual pass over declared names; a value containing
    `{{ x }}` is not expanded again; `$$` in a value is written `$`."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values or not PARAMETER_NAME.match(name):
            return match.group(0)
        return values[name].replace("$$", "$")

    return PLACEHOLDER.sub(one, text)


def execution_timeout(value: object) -> int:
    """pluginutil.ValidateExecutionTimeout: the seconds the agent lets the script run."""
    number: int
    if isinstance(value, bool):
        number = DEFAULT_TIMEOUT_SECONDS
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float):
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value)
        except ValueError:
            try:
                number = int(float(value))
            except ValueError:
                number = DEFAULT_TIMEOUT_SECONDS
    else:
        number = DEFAULT_TIMEOUT_SECONDS
    if number < MIN_TIMEOUT_SECONDS or number > MAX_TIMEOUT_SECONDS:
        return DEFAULT_TIMEOUT_SECONDS
    return number


def step_of(doc: dict[str, Any], document_path: Path | str = "document") -> dict[str, Any]:
    steps = doc.get("mainSteps") or []
    if len(steps) != 1 or steps[0].get("action") != "aws:runShellScript":
        raise ValueError(f"{document_path}: expected one aws:runShellScript step")
    return steps[0]


def render_document(
    document_path: Path | str,
    parameters: Mapping[str, str],
    lookup: Resolver,
    strict: bool = True,
) -> Rendered:
    """What the agent runs for these SendCommand parameters. Raises InvalidParameters (what
    SendCommand refuses) or AgentDocumentError (what fails on the node). `strict=False` is the
    lenient `agent-parameter-references`."""
    doc = load(document_path)
    values = check_parameters(doc, parameters)
    step = step_of(doc, document_path)
    inputs = step.get("inputs") or {}
    lines = [str(line) for line in inputs.get("runCommand") or []]
    raw_timeout = inputs.get("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS)
    if strict:
        _agent_values(doc.get("parameters") or {}, values, lookup)
        lines = [substitute(line, values) for line in lines]
        timeout_text = substitute(str(raw_timeout), values)
        references = resolve_references(lines + [timeout_text], lookup)
        lines = [replace_references(line, references) for line in lines]
        timeout_text = replace_references(timeout_text, references)
    else:
        resolved = _lenient_values(values, lookup)
        lines = [substitute(line, resolved) for line in lines]
        timeout_text = substitute(str(raw_timeout), resolved)
    # pluginutil.CreateScriptFile writes the runCommand lines joined by "\n", plus "\n".
    script = "\n".join(lines)
    return Rendered(script=script, timeout_seconds=execution_timeout(timeout_text), step_name=str(step.get("name") or "runShellScript"))


def render(document_path: Path | str, parameters: Mapping[str, str], lookup: Resolver) -> str:
    """The script the agent would run for these parameters."""
    return render_document(document_path, parameters, lookup).script
