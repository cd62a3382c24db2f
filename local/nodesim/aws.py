"""The `aws` stand-in: the AWS CLI v2 of the `aws-cli` snap, on a simulated node.

It is absent until `snap install aws-cli --classic` links it into the node's /snap/bin (the
Ubuntu 24.04 AMI has no AWS CLI). It parses its command line as the CLI does (argparse, the
same parsers), builds the operation's options from botocore's service model, takes credentials
and region where the CLI takes them on EC2, signs the request with SigV4 and sends it with
SSM's JSON protocol to the local world (MEC_SIM_AWS_ENDPOINT), then prints the answer (or the
error) as the CLI does. Only the `ssm` service is simulated; the CLI's other services exist
(their names are accepted) but answer a simulator error.

Sources: aws/aws-cli branch v2 (73fb33bb171a) and the botocore service model in the venv.

| rule                 | what                                                                  | source |
|----------------------|-----------------------------------------------------------------------|--------|
| aws-global-options   | --debug, --endpoint-url, --no-verify-ssl, --no-paginate, --output {json,text,table,yaml,yaml-stream,off}, --query, --profile, --region, --version, --color, --no-sign-request, --ca-bundle, --cli-read-timeout, --cli-connect-timeout, --cli-binary-format, --no-cli-pager, --cli-auto-prompt, --no-cli-auto-prompt, --cli-error-format; anywhere on the line | awscli/data/cli.json; clidriver.py CLIDriver.main (parse_known_args) |
| aws-operation-options| an operation's options are its input members in kebab-case (botocore xform_name), booleans as --x/--no-x, required members required, lists nargs='*'; plus --cli-input-json, --cli-input-yaml, --generate-cli-skeleton | clidriver.py ServiceOperation, arguments.py (CLIArgument, ListArgument, BooleanArgument), customizations/cliinput |
| aws-usage-errors     | an invalid choice, a missing required option: "An error occurred (ParamValidation): ..." and the usage, exit 252 | argparser.py CLIArgParser.error/_check_value; errorhandler.py ParamValidationErrorsHandler; constants.py PARAM_VALIDATION_ERROR_RC |
| aws-unknown-options  | options the operation does not have: the usage, "Unknown options: a, b", exit 252 | clidriver.py ServiceOperation.__call__; errorhandler.py UnknownArgumentErrorHandler |
| aws-param-validation | botocore's validation of the parameters (required, types, min length/value), exit 252 | botocore validate.py ParamValidator; errorhandler.py |
| aws-paramfile        | file:// and fileb:// values are read from files; a missing file: "Error parsing parameter '--x': Unable to load paramfile ...", exit 252 | paramfile.py get_file |
| aws-region           | --region, AWS_REGION, AWS_DEFAULT_REGION, then the IMDS availability zone minus its letter; none: NoRegion, exit 253 | clidriver.py _construct_cli_region_chain; utils.py InstanceMetadataRegionFetcher |
| aws-credentials      | AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY[/AWS_SESSION_TOKEN], else the IMDS role's credentials; none: NoCredentials, exit 253 | botocore credentials.py (EnvProvider, InstanceMetadataProvider); errorhandler.py NoCredentialsErrorHandler |
| aws-service-errors   | "An error occurred (Code) when calling the Op operation: message", exit 254 | botocore exceptions.py ClientError; errorhandler.py ClientErrorHandler |
| aws-retries          | standard retry mode: 3 attempts for throttling and transient errors, jittered backoff | botocore retries/standard.py (the CLI v2 default retry_mode) |
| aws-error-prefix     | every error on stderr as "\\naws: [ERROR]: <message>\\n" | errorformat.py write_error |

The request carries SigV4 (Credential=<AccessKeyId>/..., X-Amz-Security-Token) and a user agent
containing `mec-nodesim` (the world's API-call counter tells node calls by it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .context import Context

CLI_VERSION = "2.27.50"
PARAM_VALIDATION_ERROR_RC, CONFIGURATION_ERROR_RC, CLIENT_ERROR_RC, GENERAL_ERROR_RC = 252, 253, 254, 255
HELP_BLURB = "To see help text, you can run:\n\n  aws help\n  aws <command> help\n  aws <command> <subcommand> help\n"
USAGE = "aws [options] <command> <subcommand> [<subcommand> ...] [parameters]\n" + HELP_BLURB
SIMULATED_SERVICES = ("ssm",)
# botocore retries/standard.py: the error codes and statuses the standard mode retries.
THROTTLING = {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
              "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
              "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
              "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException"}
TRANSIENT = {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
TRANSIENT_STATUS = {500, 502, 503, 504}
MAX_ATTEMPTS = 3


class ArgParseException(Exception):
    """argparser.py: a parser error, the usage appended."""


class UnknownArgumentError(Exception):
    """arguments.py: options the operation does not have."""


class ParamError(Exception):
    """argprocess.py: "Error parsing parameter '--x': ..."."""

    def __init__(self, cli_name: str, message: str) -> None:
        super().__init__(f"Error parsing parameter '{cli_name}': {message}")


class ConfigurationError(Exception):
    """NoCredentials / NoRegion: (code, message), exit 253."""


class SimulatorError(Exception):
    """What the simulator does not do: exit 255 with a `nodesim:` message."""


class CLIArgParser(argparse.ArgumentParser):
    """argparser.py CLIArgParser: raises instead of exiting; the CLI's invalid-choice message."""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is not None and value not in action.choices:
            import difflib

            msg = [f"Found invalid choice '{value}'\n"]
            possible = difflib.get_close_matches(value, list(action.choices), cutoff=0.8)
            if possible:
                msg.append("Maybe you meant:\n")
                msg += [f"  * {word}" for word in possible]
            raise argparse.ArgumentError(action, "\n".join(msg))

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ArgParseException(f"{message}\n\n{self.format_usage()}")


def new_parser() -> CLIArgParser:
    return CLIArgParser(formatter_class=argparse.RawTextHelpFormatter, add_help=False, usage=USAGE,
                        conflict_handler="resolve")


def main_parser(services: list[str]) -> CLIArgParser:
    """MainArgParser with the global options of awscli/data/cli.json."""
    parser = new_parser()
    add = parser.add_argument
    add("--debug", action="store_true")
    add("--endpoint-url")
    add("--no-verify-ssl", action="store_false", dest="verify_ssl")
    add("--no-paginate", action="store_false", dest="paginate")
    add("--output", choices=["json", "text", "table", "yaml", "yaml-stream", "off"])
    add("--query")
    add("--profile")
    add("--region")
    add("--version", action="store_true")
    add("--color", choices=["on", "off", "auto"], default="auto")
    add("--no-sign-request", action="store_false", dest="sign_request")
    add("--ca-bundle", dest="ca_bundle")
    add("--cli-read-timeout", dest="read_timeout", type=int)
    add("--cli-connect-timeout", dest="connect_timeout", type=int)
    add("--cli-binary-format", choices=["base64", "raw-in-base64-out"])
    add("--no-cli-pager", action="store_true")
    add("--cli-auto-prompt", action="store_true")
    add("--no-cli-auto-prompt", action="store_true")
    add("--cli-error-format", choices=["legacy", "json", "yaml", "text", "table", "enhanced"])
    add("command", choices=services)
    return parser


def main(ctx: Context, args: list[str]) -> int:
    try:
        return run(ctx, args)
    except ArgParseException as e:
        return write_error(f"An error occurred (ParamValidation): {e}", PARAM_VALIDATION_ERROR_RC)
    except UnknownArgumentError as e:
        sys.stderr.write(f"\nusage: {USAGE}\n")
        return write_error(str(e), PARAM_VALIDATION_ERROR_RC)
    except ParamError as e:
        return write_error(f"An error occurred (ParamValidation): {e}", PARAM_VALIDATION_ERROR_RC)
    except ConfigurationError as e:
        code, message = e.args
        return write_error(f"An error occurred ({code}): {message}", CONFIGURATION_ERROR_RC)
    except ServiceError as e:
        return write_error(str(e), CLIENT_ERROR_RC, e.extra)
    except SimulatorError as e:
        return write_error(f"nodesim: {e}", GENERAL_ERROR_RC)
    except Exception as e:  # noqa: BLE001 - GeneralExceptionHandler
        return write_error(str(e), GENERAL_ERROR_RC)


def write_error(message: str, code: int, extra: dict[str, Any] | None = None) -> int:
    """errorformat.py write_error, then EnhancedErrorFormatter's additional fields."""
    sys.stderr.write(f"\naws: [ERROR]: {message.strip()}\n")
    if extra:
        sys.stderr.write("\nAdditional error details:\n" + "".join(f"{k}: {v}\n" for k, v in extra.items()))
    sys.stderr.flush()
    return code


# Commands of the CLI that are not services (awscli/customizations): real, not simulated.
CLI_COMMANDS = ("configure", "history", "login", "logout", "ddb", "cli-dev")


def services() -> list[str]:
    """The CLI's commands: botocore's service models and the CLI's own commands."""
    import botocore

    data = Path(botocore.__file__).parent / "data"
    return sorted([p.name for p in data.iterdir() if p.is_dir()] + list(CLI_COMMANDS))


def run(ctx: Context, args: list[str]) -> int:
    if "--version" in args:
        print(f"aws-cli/{CLI_VERSION} Python/3.13.7 Linux/6.8.0-1024-aws exe/{os.uname().machine}.ubuntu.24")
        return 0
    if args and args[0] == "help" or args[-1:] == ["help"]:
        raise SimulatorError("aws help is not simulated")
    parsed_globals, remaining = main_parser(services()).parse_known_args(args)
    if parsed_globals.command not in SIMULATED_SERVICES:
        raise SimulatorError(f"aws {parsed_globals.command} is not simulated")
    profile = parsed_globals.profile or os.environ.get("AWS_PROFILE")
    if profile:  # the node has no ~/.aws/config: botocore's ProfileNotFound
        raise Exception(f"The config profile ({profile}) could not be found")
    model = service_model(parsed_globals.command)
    operations = {xform(name): name for name in model.operation_names}
    service_parser = new_parser()
    service_parser.add_argument("operation", choices=list(operations))
    parsed_service, remaining = service_parser.parse_known_args(remaining)
    operation = model.operation_model(operations[parsed_service.operation])
    params = operation_parameters(operation, remaining)
    region = resolve_region(ctx, parsed_globals)  # creating the client: before the validation
    validate(operation, params)
    response = call(ctx, parsed_globals, model, operation, params, region)
    output(response, parsed_globals)
    return 0


def xform(name: str) -> str:
    from botocore import xform_name

    return xform_name(name, "-")


def service_model(name: str) -> Any:
    import botocore.loaders
    import botocore.model

    return botocore.model.ServiceModel(botocore.loaders.Loader().load_service_model(name, "service-2"), name)


def operation_parameters(operation: Any, args: list[str]) -> dict[str, Any]:
    """The argument table of the operation (ServiceOperation), parsed and unpacked."""
    shape = operation.input_shape
    members = shape.members if shape is not None else {}
    required = set(shape.required_members) if shape is not None else set()
    from_json = "--cli-input-json" in args or "--cli-input-yaml" in args  # override_required_args
    parser = new_parser()
    for member, member_shape in members.items():
        cli = xform(member)
        if member_shape.type_name == "boolean":
            parser.add_argument(f"--{cli}", action="store_true", default=None, dest=member)
            parser.add_argument(f"--no-{cli}", action="store_false", default=None, dest=member)
        elif member_shape.type_name == "list":
            parser.add_argument(f"--{cli}", nargs="*", dest=member, required=member in required and not from_json)
        else:
            parser.add_argument(f"--{cli}", dest=member, required=member in required and not from_json,
                                type=int if member_shape.type_name == "long" else None)
    parser.add_argument("--cli-input-json", dest="cli_input_json")
    parser.add_argument("--cli-input-yaml", dest="cli_input_yaml")
    parser.add_argument("--generate-cli-skeleton", nargs="?", const="input", choices=["input", "output", "yaml-input"])
    parsed, remaining = parser.parse_known_args(args)
    if remaining:
        raise UnknownArgumentError(f"Unknown options: {', '.join(remaining)}")
    if parsed.generate_cli_skeleton or parsed.cli_input_yaml:
        raise SimulatorError("--generate-cli-skeleton and --cli-input-yaml are not simulated")
    params: dict[str, Any] = {}
    if parsed.cli_input_json:
        text = load_paramfile("--cli-input-json", parsed.cli_input_json)
        try:
            params.update(json.loads(text))
        except ValueError as e:
            raise ParamError("--cli-input-json", f"Invalid JSON: {e}\nJSON received: {text}") from None
    for member, member_shape in members.items():
        value = getattr(parsed, member)
        if value is not None:
            params[member] = unpack(member_shape, value, f"--{xform(member)}")
    return params


def load_paramfile(cli_name: str, value: Any) -> Any:
    """paramfile.py: file:// (text) and fileb:// (bytes) values come from files."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str):
        return value
    for prefix, mode in (("file://", "r"), ("fileb://", "rb")):
        if value.startswith(prefix):
            path = os.path.expandvars(os.path.expanduser(value[len(prefix):]))
            try:
                with open(path, mode) as f:
                    return f.read()
            except UnicodeDecodeError:
                raise ParamError(cli_name, f"Unable to load paramfile ({path}), text contents could not be decoded.  "
                                 "If this is a binary file, please use the fileb:// prefix instead of the file:// "
                                 "prefix.") from None
            except OSError as e:
                raise ParamError(cli_name, f"Unable to load paramfile {value}: {e}") from None
    return value


def unpack(shape: Any, value: Any, cli_name: str) -> Any:
    """argprocess.py unpack_cli_arg (JSON for structures and maps; no shorthand syntax)."""
    value = load_paramfile(cli_name, value)
    kind = shape.type_name
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else not (isinstance(value, str) and value.lower() == "false")
    if kind in ("structure", "map"):
        if isinstance(value, str) and value.lstrip()[:1] == "{":
            try:
                return json.loads(value)
            except ValueError as e:
                raise ParamError(cli_name, f"Invalid JSON: {e}\nJSON received: {value}") from None
        raise SimulatorError(f"{cli_name}: the CLI's shorthand syntax is not simulated; pass JSON")
    if kind == "list":
        items = value if isinstance(value, list) else [value]
        if len(items) == 1 and isinstance(items[0], str) and items[0].lstrip()[:1] == "[":
            try:
                return json.loads(items[0])
            except ValueError as e:
                raise ParamError(cli_name, f"Invalid JSON: {e}\nJSON received: {items[0]}") from None
        return [unpack(shape.member, item, cli_name) for item in items]
    return value


def validate(operation: Any, params: dict[str, Any]) -> None:
    """botocore's ParamValidator, as the client runs it before sending."""
    from botocore.validate import ParamValidator

    report = ParamValidator().validate(params, operation.input_shape)
    if report.has_errors():
        raise ArgParseException(f"Parameter validation failed:\n{report.generate_report()}")


# --- region and credentials ------------------------------------------------------------------

def imds_read(path: str) -> str | None:
    """A metadata key from the node's IMDS (a file:// folder); None when it has none."""
    endpoint = os.environ.get("MEC_IMDS_ENDPOINT", "")
    if not endpoint.startswith("file://"):
        return None
    target = Path(urllib.request.url2pathname(endpoint[len("file://"):])) / path
    try:
        if target.is_dir():
            return "\n".join(sorted(p.name for p in target.iterdir() if not p.name.startswith(".")))
        return target.read_text()
    except OSError:
        return None


def resolve_region(ctx: Context, parsed_globals: argparse.Namespace) -> str:
    region = parsed_globals.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        zone = imds_read("latest/meta-data/placement/availability-zone")
        region = zone.strip()[:-1] if zone and zone.strip() else None
    if not region:
        raise ConfigurationError("NoRegion", 'You must specify a region. You can also configure your region by running '
                                             '"aws configure".')
    return region


def resolve_credentials() -> Any:
    """The CLI's chain as it runs on EC2: the environment, then the instance profile (IMDS)."""
    from botocore.credentials import Credentials

    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return Credentials(key, secret, os.environ.get("AWS_SESSION_TOKEN"))
    roles = imds_read("latest/meta-data/iam/security-credentials/")
    role = roles.splitlines()[0].strip() if roles and roles.strip() else None
    document = imds_read(f"latest/meta-data/iam/security-credentials/{role}") if role else None
    try:
        data = json.loads(document) if document else {}
    except ValueError:
        data = {}
    if not all(data.get(k) for k in ("AccessKeyId", "SecretAccessKey", "Token")):
        raise ConfigurationError("NoCredentials", 'Unable to locate credentials. You can configure credentials by '
                                                  'running "aws login".')
    return Credentials(data["AccessKeyId"], data["SecretAccessKey"], data["Token"])


# --- the call ----------------------------------------------------------------------------------

class ServiceError(Exception):
    """botocore ClientError: its message, and the error's other modeled fields."""

    def __init__(self, message: str, extra: dict[str, Any]) -> None:
        super().__init__(message)
        self.extra = extra


def user_agent(ctx: Context, service: str, operation: str) -> str:
    return (f"aws-cli/{CLI_VERSION} md/awscrt#0.27.6 ua/2.1 os/linux#6.8.0-1024-aws md/arch#{os.uname().machine} "
            "lang/python#3.13.7 md/pyimpl#CPython m/E cfg/retry-mode#standard md/installer#snap md/distrib#ubuntu.24 "
            f"md/prompt#off md/command#{service}.{xform(operation)} mec-nodesim")


def call(ctx: Context, parsed_globals: argparse.Namespace, model: Any, operation: Any, params: dict[str, Any],
         region: str) -> dict[str, Any]:
    """Serialize, sign, send (with the standard retries) and parse one operation."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.exceptions import ClientError
    from botocore.parsers import create_parser
    from botocore.serialize import create_serializer

    endpoint = parsed_globals.endpoint_url or os.environ.get("MEC_SIM_AWS_ENDPOINT") or \
        f"https://{model.endpoint_prefix}.{region}.amazonaws.com"
    serialized = create_serializer(model.metadata["protocol"]).serialize_to_request(params, operation)
    credentials = resolve_credentials() if parsed_globals.sign_request else None
    if not os.environ.get("MEC_SIM_AWS_ENDPOINT") and not parsed_globals.endpoint_url:
        raise Exception(f'Could not connect to the endpoint URL: "{endpoint}/"')  # not in the local world
    parser = create_parser(model.metadata["protocol"])
    scale = float(os.environ.get("MEC_SIM_TIME_SCALE", "1") or 1)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        request = AWSRequest(method=serialized["method"], url=endpoint.rstrip("/") + serialized["url_path"],
                             data=serialized["body"], headers=dict(serialized["headers"]))
        request.headers["User-Agent"] = user_agent(ctx, model.endpoint_prefix, operation.name)
        if credentials is not None:
            SigV4Auth(credentials, model.signing_name or model.endpoint_prefix, region).add_auth(request)
        status, headers, body = send(request, parsed_globals)
        parsed = parser.parse({"status_code": status, "headers": headers, "body": body}, operation.output_shape)
        if status < 300:
            parsed.pop("ResponseMetadata", None)
            return parsed
        code = parsed.get("Error", {}).get("Code", "")
        retryable = code in THROTTLING or code in TRANSIENT or status in TRANSIENT_STATUS
        if not retryable or attempt == MAX_ATTEMPTS:
            parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = attempt - 1
            if attempt > 1:
                parsed["ResponseMetadata"]["MaxAttemptsReached"] = True
            error = ClientError(parsed, operation.name)
            extra = {k: v for k, v in parsed.get("Error", {}).items() if k not in ("Code", "Message")}
            raise ServiceError(str(error), extra)
        time.sleep(random.random() * min(20.0, 2.0 ** (attempt - 1)) * scale)  # full jitter
    raise AssertionError("unreachable")


def send(request: Any, parsed_globals: argparse.Namespace) -> tuple[int, dict[str, str], bytes]:
    prepared = request.prepare()
    http = urllib.request.Request(prepared.url, data=prepared.body, method=prepared.method,
                                  headers=dict(prepared.headers.items()))
    timeout = parsed_globals.read_timeout or 60
    try:
        with urllib.request.urlopen(http, timeout=timeout) as answer:
            return answer.status, dict(answer.headers.items()), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()
    except (urllib.error.URLError, OSError) as error:
        raise Exception(f'Could not connect to the endpoint URL: "{prepared.url}"') from error


# --- output ------------------------------------------------------------------------------------

def output(response: dict[str, Any], parsed_globals: argparse.Namespace) -> None:
    """The formatter of --output (AWS_DEFAULT_OUTPUT, default json) after --query (jmespath)."""
    result: Any = response
    if parsed_globals.query:
        import jmespath

        try:
            result = jmespath.search(parsed_globals.query, response)
        except jmespath.exceptions.JMESPathError as e:
            raise ArgParseException(f"argument --query: Bad value for --query {parsed_globals.query}: {e}") from None
    kind = parsed_globals.output or os.environ.get("AWS_DEFAULT_OUTPUT") or "json"
    if kind == "off":
        return
    if kind == "text":
        lines: list[str] = []
        format_text(result, lines)
        sys.stdout.write("".join(lines))
    elif kind == "json":
        if result != {}:
            sys.stdout.write(json.dumps(result, indent=4, ensure_ascii=False, default=encode) + "\n")
    else:
        raise SimulatorError(f"--output {kind} is not simulated")
    sys.stdout.flush()


def encode(value: Any) -> Any:
    """utils.py json_encoder: datetimes as ISO 8601, bytes as base64."""
    import base64
    import datetime

    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError("Encountered unrecognized type in JSON encoder.")


def format_text(item: Any, out: list[str], identifier: str | None = None, scalar_keys: list[str] | None = None) -> None:
    """text.py: scalars as they are, dicts' scalars tab-separated, lists element by element."""
    if isinstance(item, dict):
        scalars, others = partition(item, scalar_keys)
        if scalars:
            if identifier is not None:
                scalars.insert(0, identifier.upper())
            out.append("\t".join(scalars) + "\n")
        for key, value in others:
            format_text(value, out, identifier=key)
    elif isinstance(item, list):
        if not item:
            return
        if any(isinstance(e, dict) for e in item):
            keys = sorted({k for e in item if isinstance(e, dict) for k, v in e.items() if not isinstance(v, (dict, list))})
            for element in item:
                format_text(element, out, identifier=identifier, scalar_keys=keys)
        elif any(isinstance(e, list) for e in item):
            scalars = [e for e in item if not isinstance(e, (list, dict))]
            if scalars:
                scalar_list(scalars, identifier, out)
            for element in (e for e in item if isinstance(e, (list, dict))):
                format_text(element, out, identifier=identifier)
        else:
            scalar_list(item, identifier, out)
    else:
        out.append(f"{item}\n")


def scalar_list(elements: list[Any], identifier: str | None, out: list[str]) -> None:
    if identifier is not None:
        out += [f"{identifier.upper()}\t{e}\n" for e in elements]
    else:
        out.append("\t".join(str(e) for e in elements) + "\n")


def partition(item: dict[str, Any], scalar_keys: list[str] | None) -> tuple[list[str], list[tuple[str, Any]]]:
    if scalar_keys is None:
        scalars = [str(v) for k, v in sorted(item.items()) if not isinstance(v, (dict, list))]
        others = [(k, v) for k, v in sorted(item.items()) if isinstance(v, (dict, list))]
        return scalars, others
    return [str(item.get(k, "")) for k in scalar_keys], [(k, item[k]) for k in sorted(set(item) - set(scalar_keys))]
