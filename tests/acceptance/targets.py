"""The two places the acceptance suite runs: a real AWS account (`aws`: Terraform applies and
destroys infra/examples/aws, the real kubectl talks to the real MicroK8s) and an already running
local world (`local`: its Terraform deployment stands in for the apply, the node simulator's
`microk8s kubectl` for kubectl). The suite (acceptance.py) only talks to a Target."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError

from http_api import HttpApi

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "infra/examples/aws"
LAMBDA_ZIPS = ROOT / ".build/lambdas/arm64"
# The workspace the suite applies in: the example root's default state (a deployment of yours)
# is never read, changed or destroyed by the suite.
WORKSPACE = "mec-acceptance"
DATA_DIR = ROOT / ".build/acceptance/tf"  # the suite's TF_DATA_DIR: its plugins and its selected workspace
PREFIX = "mec"  # the example root keeps the module's default name_prefix
Log = Callable[[str], None]


class Refused(Exception):
    """The suite will not start: what is missing (exit 2, nothing created)."""


@dataclass
class Pipeline:
    """What the deployment gives the suite: the API's URL and the two machines."""

    api_url: str
    provision_arn: str
    teardown_arn: str


def run(command: list[str], log: Log, env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 3600, quiet: bool = False) -> subprocess.CompletedProcess:
    """A command with its output shown as it comes (Terraform's take minutes), and kept."""
    log("$ " + " ".join(command))
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        lines.append(line)
        if not quiet:
            log("  " + line.rstrip())
        if time.monotonic() > deadline:
            process.kill()
            break
    code = process.wait()
    return subprocess.CompletedProcess(command, code, "".join(lines), "")


def mec_binary() -> tuple[Path, str]:
    """The `mec` CLI and how it was found: $MEC_CLI, else the newer of the release and debug
    builds in $CARGO_TARGET_DIR (default ~/.cache/mec/target, the Makefile's), else `mec` on PATH."""
    if os.environ.get("MEC_CLI"):
        return Path(os.environ["MEC_CLI"]), "$MEC_CLI"
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/mec/target"))
    built = [p for p in (target / "release/mec", target / "debug/mec") if p.is_file()]
    if built:
        newest = max(built, key=lambda p: p.stat().st_mtime)
        return newest, f"the newer of $CARGO_TARGET_DIR/{{release,debug}}/mec ({target})"
    on_path = shutil.which("mec")
    if on_path:
        return Path(on_path), "PATH"
    raise Refused(f"no mec CLI: build it (`cargo build -p mec-cli`, into {target}) or set MEC_CLI")


class Target:
    """What differs between AWS and the local world."""

    kind: str
    region: str
    applies_stack: bool
    ready_timeout: float
    delete_timeout: float
    pod_timeout: float
    tagging_settle: float
    lambda_settle: float  # the longest a step's Lambda runs (an invocation outlives a stopped run)
    image = "public.ecr.aws/docker/library/busybox:1.36.1"

    def client(self, service: str) -> Any:
        raise NotImplementedError

    def credentials(self) -> Credentials:
        raise NotImplementedError

    backoff: float  # the API client's first retry wait

    def api(self, pipeline: Pipeline) -> HttpApi:
        return HttpApi(pipeline.api_url, self.region, self.credentials(), backoff=self.backoff)

    def preflight(self, log: Log) -> None:
        raise NotImplementedError

    def deploy(self, log: Log) -> Pipeline:
        raise NotImplementedError

    def destroy(self, log: Log) -> None:
        raise NotImplementedError

    def caller_cidr(self, log: Log) -> str:
        raise NotImplementedError

    def mec(self, *args: str) -> subprocess.CompletedProcess:
        raise NotImplementedError

    def kubectl(self, environment: str, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess:
        raise NotImplementedError

    def scaled_note(self) -> str | None:
        """None when the clock is real (the ratio to the model means something)."""
        return None


class AwsTarget(Target):
    """A real account: `make acceptance`. Refuses without MEC_ACCEPTANCE=1 and credentials."""

    kind = "aws"
    applies_stack = True
    ready_timeout = 40 * 60.0  # the node wait (1200 s) and every command budget fit in it
    delete_timeout = 40 * 60.0  # teardown_wait_seconds (1200 s) and instance termination
    pod_timeout = 5 * 60.0  # pulling busybox from ECR Public
    tagging_settle = 15 * 60.0  # the Tagging API's index follows deletions with a lag
    lambda_settle = 240.0  # the workers function's timeout, the longest (infra/modules/pipeline/main.tf)
    backoff = 2.0

    def __init__(self, region: str | None) -> None:
        # The region: --region, else AWS_REGION (what the mec CLI and Terraform's provider read),
        # else botocore's chain (AWS_DEFAULT_REGION, the profile), else the example root's default.
        self.region = region or os.environ.get("AWS_REGION") or boto3.Session().region_name or "eu-west-1"
        self.session = boto3.Session(region_name=self.region)
        self.kubectl_path = os.environ.get("KUBECTL") or shutil.which("kubectl") or ""
        self.mec_path: Path | None = None
        self.env = dict(os.environ, TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1",
                        TF_DATA_DIR=str(DATA_DIR), AWS_REGION=self.region)

    def client(self, service: str) -> Any:
        return self.session.client(service, config=Config(retries={"mode": "standard", "max_attempts": 8}))

    def credentials(self) -> Credentials:
        found = self.session.get_credentials()
        assert found is not None
        return found

    def preflight(self, log: Log) -> None:
        """Opt-in, then credentials (STS GetCallerIdentity), then the tools and zips, then that
        the region has no mec pipeline yet; nothing is created before all of them pass."""
        if os.environ.get("MEC_ACCEPTANCE") != "1":
            raise Refused("MEC_ACCEPTANCE=1 is not set: this suite creates billable resources in a real AWS account "
                          "(the pipeline, a VPC and 2 EC2 instances for ~30 min) and deletes them. "
                          "Run `MEC_ACCEPTANCE=1 make acceptance` in a fresh account to opt in.")
        if self.session.get_credentials() is None:
            raise Refused("no AWS credentials resolve (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO, "
                          "an instance role): the suite needs credentials for the target account")
        try:
            identity = self.client("sts").get_caller_identity()
        except (BotoCoreError, ClientError) as e:
            raise Refused(f"AWS credentials do not work: STS GetCallerIdentity failed: {e}") from e
        missing = []
        if not shutil.which("terraform"):
            missing.append("terraform (>= 1.9) on PATH")
        if not self.kubectl_path:
            missing.append("kubectl on PATH (or $KUBECTL)")
        functions = sorted(p.name for p in (ROOT / "functions").iterdir()
                           if p.is_dir() and p.name not in ("shared", "testkit") and (p / "Cargo.toml").exists())
        zips = [LAMBDA_ZIPS / f"mec-{f}/bootstrap.zip" for f in functions]
        absent = [str(z.relative_to(ROOT)) for z in zips if not z.is_file()]
        if absent:
            missing.append(f"the arm64 Lambda zips of `make lambdas` ({len(absent)} missing, e.g. {absent[0]}): "
                           "run `make lambdas` first")
        try:
            self.mec_path, how = mec_binary()
        except Refused as e:
            missing.append(str(e))
        if missing:
            raise Refused("missing: " + "; ".join(missing))
        machines = [m["name"] for page in self.client("stepfunctions").get_paginator("list_state_machines").paginate()
                    for m in page["stateMachines"]]
        if f"{PREFIX}-provision" in machines:
            raise Refused(f"the account already has a mec pipeline in {self.region} ({PREFIX}-provision): the suite "
                          "applies and destroys its own, so it needs a region without one (a fresh account)")
        log(f"account {identity['Account']} as {identity['Arn']}, region {self.region}")
        log(f"mec CLI: {self.mec_path} (found as {how}); kubectl: {self.kubectl_path}")
        log("will create: the pipeline of infra/examples/aws (10 Lambda functions, 2 state machines, IAM roles, "
            "SSM documents, a KMS key, log groups, schedules, an HTTP API with IAM auth) in Terraform workspace "
            f"`{WORKSPACE}`; then one environment (its VPC, subnets, internet gateway, security group, 2 t4g.medium "
            "instances with 30 GiB gp3 each and public IPv4 addresses, 2 SSM parameters); all deleted at the end")
        log("rough cost of a run (~30 min): under $0.50 — EC2 2 x t4g.medium on demand (~$0.07/h together), 2 public "
            "IPv4 addresses ($0.005/h each), 60 GiB gp3 for the run, an Advanced-tier parameter and the KMS key "
            "prorated (the key is scheduled for deletion, 30-day window), Step Functions, Lambda and API requests: "
            "cents (aws.amazon.com/ec2/pricing, /vpc/pricing, /kms/pricing, /systems-manager/pricing)")

    def terraform(self, log: Log, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess:
        return run(["terraform", f"-chdir={EXAMPLE}", *args, "-no-color"], log, env=self.env, timeout=timeout)

    def deploy(self, log: Log) -> Pipeline:
        for args in (["init", "-input=false"], ["workspace", "select", "-or-create=true", WORKSPACE],
                     ["apply", "-auto-approve", "-input=false", f"-var=region={self.region}"]):
            done = self.terraform(log, *args)
            if done.returncode != 0:
                raise RuntimeError(f"terraform {args[0]} failed (exit {done.returncode})")
        outputs = run(["terraform", f"-chdir={EXAMPLE}", "output", "-json"], log, env=self.env, quiet=True)
        if outputs.returncode != 0:
            raise RuntimeError(f"terraform output failed: {outputs.stdout[-2000:]}")
        values = {k: v["value"] for k, v in json.loads(outputs.stdout).items()}
        log(f"api_url {values['api_url']}")
        return Pipeline(values["api_url"], values["provision_state_machine_arn"], values["teardown_state_machine_arn"])

    def destroy(self, log: Log) -> None:
        done = self.terraform(log, "destroy", "-auto-approve", "-input=false", f"-var=region={self.region}")
        if done.returncode != 0:
            raise RuntimeError(f"terraform destroy failed (exit {done.returncode}): the stack is still in workspace "
                               f"{WORKSPACE} of {EXAMPLE.relative_to(ROOT)}")

    def caller_cidr(self, log: Log) -> str:
        """This machine's public address (AWS's checkip service), so that kubectl reaches 16443:
        the cluster's security group opens it only to the spec's api_allowed_cidrs."""
        with urllib.request.urlopen("https://checkip.amazonaws.com", timeout=20) as answer:
            address = answer.read().decode().strip()
        log(f"this machine's public address: {address} (api_allowed_cidrs)")
        return f"{address}/32"

    def mec(self, *args: str) -> subprocess.CompletedProcess:
        assert self.mec_path is not None
        env = dict(os.environ, AWS_REGION=self.region)
        return subprocess.run([str(self.mec_path), *args], env=env, capture_output=True, text=True, timeout=300)

    def kubectl(self, environment: str, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.kubectl_path, "--kubeconfig", str(kubeconfig), "--request-timeout=30s", *args],
                              capture_output=True, text=True, timeout=120)


class LocalTarget(Target):
    """An already running local world with the pipeline deployed (conftest's `world_with_api`,
    or `mec local up`): the same steps, no Terraform of the suite's own."""

    kind = "local"
    applies_stack = False
    ready_timeout = 300.0
    delete_timeout = 300.0
    pod_timeout = 60.0
    tagging_settle = 30.0
    lambda_settle = 5.0  # the world's Lambdas end in about a second
    backoff = 0.2

    def __init__(self, endpoint: str, api_url: str, state: Path) -> None:
        self.endpoint, self.api_url, self.state = endpoint, api_url, state
        self.region = "us-east-1"
        self.mec_path: Path | None = None

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def credentials(self) -> Credentials:
        return Credentials("testing", "testing")

    def preflight(self, log: Log) -> None:
        self.mec_path, how = mec_binary()
        if not self.state.is_dir():
            raise Refused(f"no local world state in {self.state}")
        log(f"local world: emulator {self.endpoint}, HTTP API front {self.api_url} (no authentication: requests "
            f"are signed anyway, and the signature is ignored), state {self.state}")
        log(f"mec CLI: {self.mec_path} (found as {how}); kubectl: the node simulator's `microk8s kubectl` on the "
            "first master (local/world/kubectl.py)")

    def deploy(self, log: Log) -> Pipeline:
        log("no Terraform apply: the world's own deployment (infra/local, the same pipeline module, applied when the "
            "world started) stands in for infra/examples/aws")
        machines = {m["name"]: m["stateMachineArn"] for page in self.client("stepfunctions").get_paginator(
            "list_state_machines").paginate() for m in page["stateMachines"]}
        for name in (f"{PREFIX}-provision", f"{PREFIX}-teardown"):
            if name not in machines:
                raise RuntimeError(f"the local world has no {name}: is the pipeline deployed?")
        return Pipeline(self.api_url, machines[f"{PREFIX}-provision"], machines[f"{PREFIX}-teardown"])

    def destroy(self, log: Log) -> None:
        log("no Terraform destroy: the world's deployment stays (whoever started the world stops it)")

    def caller_cidr(self, log: Log) -> str:
        address = "192.0.2.10"  # RFC 5737 documentation address: nothing reaches the simulated nodes from outside
        log(f"caller address: {address} (local: a documentation address; the simulated API server is reached "
            "through the master, not the network)")
        return f"{address}/32"

    def mec(self, *args: str) -> subprocess.CompletedProcess:
        assert self.mec_path is not None
        env = dict(os.environ, AWS_ENDPOINT_URL=self.endpoint, AWS_REGION=self.region,
                   AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
        return subprocess.run([str(self.mec_path), *args], env=env, capture_output=True, text=True, timeout=300)

    def kubectl(self, environment: str, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, str(ROOT / "local/world/kubectl.py"), str(self.state), environment,
                   "--kubeconfig", str(kubeconfig), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    def scaled_note(self) -> str | None:
        faults = self.state / "faults.json"
        settings = json.loads(faults.read_text()) if faults.is_file() else {}
        sys.path.insert(0, str(ROOT / "local"))
        from world.faults import DEFAULTS  # the world's defaults (needs moto: the project's venv has it)

        scale = settings.get("time_scale", DEFAULTS["time_scale"])
        waits = settings.get("wait_scale", DEFAULTS["wait_scale"])
        latencies = {k: settings.get(k, DEFAULTS[k]) for k in ("boot_seconds", "registration_seconds", "install_seconds",
                                                              "ready_seconds", "join_seconds", "addon_seconds")}
        return (f"The local world's clock is scaled (time_scale {scale}, wait_scale {waits}; modelled latencies "
                f"{latencies}) and its intervals are the local root's (1 s polls): these seconds are not AWS's, so "
                "they are printed without the ratio to the model.")
