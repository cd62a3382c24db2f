#!/usr/bin/env python3
"""mec's acceptance suite: one environment's whole life, checked from outside, on a real account
(`--target aws`, what `make acceptance` runs) or in the local world (`--target local`, what
`make test` runs, so that a change that breaks the suite fails CI without an account).

    MEC_ACCEPTANCE=1 acceptance.py --target aws [--region R] [--name N]
    acceptance.py --target local --endpoint URL --api-url URL --state DIR [--name N]

The steps: deploy the pipeline (aws: `terraform apply` of infra/examples/aws; local: the world's
deployment stands in), create an environment (1 master + 1 worker, the default add-ons) through
the HTTP API with SigV4-signed requests, wait for READY, fetch the kubeconfig with `mec
kubeconfig NAME -o FILE`, check with kubectl (aws: the real one with that file; local: the
simulator's) that both nodes are Ready and that a pod pinned to the worker runs, delete the
environment through the API, check with the Resource Groups Tagging API (not mec's own
inventory code) that nothing tagged `mec:environment=NAME` remains, destroy the pipeline (aws).
Then the timing tables: the suite's steps, and the provisioning execution's states against the
latency model of docs/benchmarks.md (bench/model.py).

Every failure path deletes what the suite created: the environment (through the API, or with the
teardown state machine if the API does not answer), then the stack; when the environment could
not be removed, the stack is kept (its teardown machine is what deletes environments) and the
failure message says what is left and how to remove it.

Exit codes: 0 passed; 1 failed (the message says why and what was left behind, if anything);
2 refused to start (aws: no MEC_ACCEPTANCE=1, no credentials, a missing tool or zip, a region
that already has a mec pipeline): nothing was created.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import stat
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report  # noqa: E402
from http_api import ApiUnreachable, HttpApi  # noqa: E402
from targets import DATA_DIR, WORKSPACE, AwsTarget, LocalTarget, Pipeline, Refused, Target  # noqa: E402

WORKERS = 1
# How to finish by hand what the suite could not destroy (its data folder selects its workspace).
DESTROY = f"TF_DATA_DIR={DATA_DIR} terraform -chdir=infra/examples/aws destroy -var region={{region}}"
POD = "mec-acceptance"
# The kinds whose final states the Tagging API may still list for a while (EC2 shows a
# terminated instance for about an hour; a spot request outlives its instance).
GONE = {"instance": {"terminated"}, "spot-instances-request": {"closed", "cancelled"}}


class Failure(Exception):
    """A check that did not hold: the message says which, and what was seen instead."""


class Suite:
    def __init__(self, target: Target, environment: str) -> None:
        self.target = target
        self.environment = environment
        self.started = time.monotonic()
        self.steps: list[tuple[str, float, str]] = []
        self.pipeline: Pipeline | None = None
        self.api: HttpApi | None = None
        self.stack_applied = False  # set before the apply: a failed apply may have created some of it
        self.environment_requested = False  # set before the POST: a lost answer may still have started it
        self.environment_deleted = False
        self.leftovers: list[str] = []
        self.timing: str | None = None
        self.workdir = Path()  # made by run(): a refused suite writes nothing
        self.kubeconfig = Path()

    # --- output ------------------------------------------------------------------------------------

    def log(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:7.1f}s] {text}", flush=True)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A step of the table: its wall time and whether it held."""
        self.log(f"== {name}")
        began = time.monotonic()
        try:
            yield
        except BaseException:
            self.steps.append((name, time.monotonic() - began, "FAILED"))
            raise
        self.steps.append((name, time.monotonic() - began, "ok"))

    # --- the run -----------------------------------------------------------------------------------

    def run(self) -> int:
        self.workdir = Path(tempfile.mkdtemp(prefix="mec-acceptance-"))
        self.kubeconfig = self.workdir / "kubeconfig"
        failure: str | None = None
        try:
            self.scenario()
        except Failure as e:
            failure = str(e)
        except ApiUnreachable as e:
            failure = f"the HTTP API does not answer: {e}"
        except KeyboardInterrupt:
            failure = "interrupted"
        except Exception as e:  # a bug or an AWS error: shown in full, then the same cleanup
            traceback.print_exc()
            failure = f"unexpected error: {e!r}"
        if failure is not None:
            self.log(f"FAILED: {failure}")
        # From here on a SIGTERM (a cancelled CI job) must not cut the cleanup short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        left = self.cleanup()
        self.print_report()
        shutil.rmtree(self.workdir, ignore_errors=True)
        if failure is None and not left:
            print(f"\nacceptance ({self.target.kind}): PASSED — {self.environment} created, used and deleted; "
                  "nothing left behind", flush=True)
            return 0
        print(f"\nacceptance ({self.target.kind}): FAILED — {failure or 'cleanup left resources behind'}", flush=True)
        if left:
            print("left behind:\n" + "\n".join(f"  - {item}" for item in left), flush=True)
        else:
            print("left behind: nothing (everything the suite created was deleted)", flush=True)
        return 1

    def scenario(self) -> None:
        target, name = self.target, self.environment
        # 1 master (the default), 1 worker, the default add-ons; 16443 open to this machine only.
        spec = {"name": name, "workers": WORKERS, "api_allowed_cidrs": [target.caller_cidr(self.log)]}
        with self.step("deploy the pipeline"):
            self.stack_applied = target.applies_stack
            self.pipeline = target.deploy(self.log)
        self.api = target.api(self.pipeline)
        with self.step("create through the HTTP API"):
            self.environment_requested = True
            answer = self.api.call_with_retries("POST", "/environments", spec)
            self.log(f"POST /environments {json.dumps(spec)} -> {answer.describe()}")
            if answer.status != 202 or answer.body.get("status") != "CREATING":
                raise Failure(f"POST /environments answered {answer.describe()}, not 202 CREATING")
        with self.step("wait for READY"):
            record = self.wait_for("READY", target.ready_timeout)
        self.capture_timing()
        with self.step("mec kubeconfig"):
            self.fetch_kubeconfig(record)
        with self.step("kubectl: both nodes Ready"):
            self.check_nodes(record)
        with self.step("kubectl: a pod on the worker"):
            self.check_pod(record)
        with self.step("delete through the HTTP API"):
            answer = self.api.call_with_retries("DELETE", f"/environments/{name}")
            self.log(f"DELETE /environments/{name} -> {answer.describe()}")
            if answer.status != 202:
                raise Failure(f"DELETE answered {answer.describe()}, not 202")
            self.wait_for("DELETED", target.delete_timeout)
            self.environment_deleted = True
        with self.step("nothing tagged remains (Tagging API)"):
            self.leftovers = self.tagged_leftovers(target.tagging_settle)
            if self.leftovers:
                raise Failure(f"the Resource Groups Tagging API still lists {len(self.leftovers)} resource(s) tagged "
                              f"mec:environment={name}: {', '.join(self.leftovers)}")
        with self.step("destroy the pipeline"):
            target.destroy(self.log)
            self.stack_applied = False

    # --- the checks --------------------------------------------------------------------------------

    def wait_for(self, want: str, timeout: float) -> dict[str, Any]:
        """Polls GET /environments/{name} until `want`; a FAILED record (or any other end) fails the
        step with the record's error. A 404 right after the POST is tolerated for a while: the API
        reads the environment from Step Functions' list of executions."""
        assert self.api is not None
        deadline, poll = time.monotonic() + timeout, 10.0 if self.target.kind == "aws" else 1.0
        grace = time.monotonic() + 60
        shown = None
        while True:
            answer = self.api.call_with_retries("GET", f"/environments/{self.environment}")
            record = answer.body
            if answer.status == 404 and time.monotonic() < grace:
                time.sleep(poll)
                continue
            if answer.status != 200:
                raise Failure(f"GET /environments/{self.environment} answered {answer.describe()}")
            seen = (record.get("status"), record.get("step"))
            if seen != shown:
                self.log(f"{self.environment}: {seen[0]}" + (f" (step {seen[1]})" if seen[1] else ""))
                shown = seen
            if record["status"] == want:
                return record
            if record["status"] not in ("CREATING", "DELETING"):
                raise Failure(f"{self.environment} is {record['status']} (step {record.get('step')}), not {want}: "
                              f"error {json.dumps(record.get('error'))}")
            if time.monotonic() > deadline:
                raise Failure(f"{self.environment} not {want} after {timeout:.0f} s: {json.dumps(record)}")
            time.sleep(poll)

    def fetch_kubeconfig(self, record: dict[str, Any]) -> None:
        """`mec kubeconfig NAME -o FILE`: written mode 600, its server the record's API endpoint."""
        done = self.target.mec("kubeconfig", self.environment, "-o", str(self.kubeconfig))
        self.log(f"mec kubeconfig {self.environment} -o {self.kubeconfig} -> exit {done.returncode} "
                 f"{(done.stdout + done.stderr).strip()}")
        if done.returncode != 0 or not self.kubeconfig.is_file():
            raise Failure(f"mec kubeconfig failed (exit {done.returncode}): {done.stderr.strip()}")
        mode = stat.S_IMODE(self.kubeconfig.stat().st_mode)
        if mode != 0o600:
            raise Failure(f"the kubeconfig file has mode {mode:o}, not 600")
        server = re.search(r"^\s*server:\s*(\S+)\s*$", self.kubeconfig.read_text(), re.MULTILINE)
        if server is None or server.group(1) != record.get("api_endpoint"):
            raise Failure(f"the kubeconfig's server is {server.group(1) if server else None}, the record's "
                          f"api_endpoint {record.get('api_endpoint')}")

    def kubectl_json(self, *args: str) -> tuple[dict[str, Any] | None, str]:
        done = self.target.kubectl(self.environment, self.kubeconfig, *args)
        if done.returncode != 0:
            return None, (done.stderr or done.stdout).strip()
        return json.loads(done.stdout), ""

    def check_nodes(self, record: dict[str, Any]) -> None:
        """`kubectl get nodes -o json`: the record's two nodes, both Ready."""
        expected = sorted(n["name"] for n in record.get("nodes", []))
        if len(expected) != 1 + WORKERS:
            raise Failure(f"the record lists {expected}, not 1 master and {WORKERS} worker")
        deadline = time.monotonic() + (120 if self.target.kind == "aws" else 30)
        while True:
            nodes, error = self.kubectl_json("get", "nodes", "-o", "json")
            ready = {} if nodes is None else {
                n["metadata"]["name"]: any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
                for n in nodes["items"]}
            if sorted(ready) == expected and all(ready.values()):
                self.log(f"kubectl get nodes: {', '.join(f'{n} Ready' for n in expected)}")
                return
            if time.monotonic() > deadline:
                raise Failure(f"kubectl get nodes: {ready or error}, wanted {expected} all Ready")
            time.sleep(5)

    def check_pod(self, record: dict[str, Any]) -> None:
        """A pod pinned to the worker (spec.nodeName through --overrides) reaches Running or
        Succeeded there; then it is deleted."""
        worker = next(n["name"] for n in record["nodes"] if n["role"] == "worker")
        overrides = json.dumps({"apiVersion": "v1", "spec": {"nodeName": worker}})
        done = self.target.kubectl(self.environment, self.kubeconfig, "run", POD, f"--image={self.target.image}",
                                   "--restart=Never", f"--overrides={overrides}", "--", "sh", "-c", "echo mec-acceptance")
        self.log(f"kubectl run {POD} (nodeName {worker}) -> {(done.stdout + done.stderr).strip()}")
        if done.returncode != 0:
            raise Failure(f"kubectl run failed: {done.stderr.strip()}")
        deadline = time.monotonic() + self.target.pod_timeout
        while True:
            pod, error = self.kubectl_json("get", "pod", POD, "-o", "json")
            phase = pod["status"].get("phase") if pod else None
            node = pod["spec"].get("nodeName") if pod else None
            if phase in ("Running", "Succeeded") and node == worker:
                self.log(f"pod {POD}: {phase} on {node}")
                break
            if phase == "Failed" or (phase in ("Running", "Succeeded") and node != worker):
                raise Failure(f"pod {POD} is {phase} on {node}: {json.dumps(pod['status'])[:800]}")
            if time.monotonic() > deadline:
                raise Failure(f"pod {POD} not Running on {worker} after {self.target.pod_timeout:.0f} s: "
                              f"{json.dumps(pod['status'])[:800] if pod else error}")
            time.sleep(3 if self.target.kind == "aws" else 0.5)
        deleted = self.target.kubectl(self.environment, self.kubeconfig, "delete", "pod", POD)
        self.log(f"kubectl delete pod {POD} -> {(deleted.stdout + deleted.stderr).strip()}")
        if deleted.returncode != 0:
            raise Failure(f"kubectl delete pod failed: {deleted.stderr.strip()}")

    def tagged_leftovers(self, settle: float) -> list[str]:
        """What the Resource Groups Tagging API lists for mec:environment=NAME, less instances and
        spot requests in a final state (a plain describe by id says which); polled until empty or
        `settle` seconds, since the Tagging API's index follows deletions with a lag."""
        tagging, ec2 = self.target.client("resourcegroupstaggingapi"), self.target.client("ec2")
        deadline = time.monotonic() + settle
        while True:
            arns = [r["ResourceARN"] for page in tagging.get_paginator("get_resources").paginate(
                TagFilters=[{"Key": "mec:environment", "Values": [self.environment]}]) for r in page["ResourceTagMappingList"]]
            left = [arn for arn in arns if not self.in_final_state(ec2, arn)]
            if not left or time.monotonic() > deadline:
                self.log(f"Tagging API, mec:environment={self.environment}: "
                         + (", ".join(left) if left else f"nothing ({len(arns)} listed, all in a final state)"))
                return left
            time.sleep(15 if self.target.kind == "aws" else 1)

    @staticmethod
    def in_final_state(ec2: Any, arn: str) -> bool:
        kind, _, ident = arn.split(":", 5)[5].partition("/")
        if kind == "instance":
            found = ec2.describe_instances(Filters=[{"Name": "instance-id", "Values": [ident]}])["Reservations"]
            states = [i["State"]["Name"] for r in found for i in r["Instances"]]
            return not states or all(s in GONE["instance"] for s in states)
        if kind == "spot-instances-request":
            found = ec2.describe_spot_instance_requests(
                Filters=[{"Name": "spot-instance-request-id", "Values": [ident]}])["SpotInstanceRequests"]
            return not found or all(r["State"] in GONE[kind] for r in found)
        return False

    def capture_timing(self) -> None:
        """The provisioning execution's table, read while the state machine exists (on AWS the
        destroy deletes it, and its history with it)."""
        if self.timing is not None or self.pipeline is None:
            return
        sfn = self.target.client("stepfunctions")
        listed = report.newest_create_execution(sfn, self.pipeline.provision_arn, self.environment)
        if listed is None:
            self.timing = f"no provisioning execution {self.environment}--c-* was found"
            return
        execution = report.execution_times(sfn, listed)
        self.timing = report.execution_table(execution, WORKERS, self.target.scaled_note())

    # --- cleanup -----------------------------------------------------------------------------------

    def cleanup(self) -> list[str]:
        """Deletes what is still there: the environment, then the stack. Returns what is left."""
        left: list[str] = []
        if self.environment_requested and not self.environment_deleted:
            self.log(f"cleanup: deleting environment {self.environment}")
            try:
                self.remove_environment()
                self.leftovers = self.tagged_leftovers(self.target.tagging_settle)
            except Exception as e:  # reported as left behind, never swallowed
                traceback.print_exc()
                left.append(f"environment {self.environment}: its deletion did not finish ({e!r}); everything tagged "
                            f"mec:environment={self.environment} may remain")
        try:
            self.capture_timing()  # before the destroy below takes the state machine and its history
        except Exception as e:  # the table is a report, not a check: say why it is missing
            self.timing = f"(no timing table: {e!r})"
        left += [f"{arn} (tagged mec:environment={self.environment})" for arn in self.leftovers]
        if self.stack_applied:
            if left:
                left.append(f"the pipeline stack (Terraform workspace {WORKSPACE} of infra/examples/aws), kept so that "
                            f"its teardown machine can finish: `AWS_REGION={self.target.region} mec delete "
                            f"{self.environment} --wait`, then `{DESTROY.format(region=self.target.region)}`")
            else:
                self.log("cleanup: destroying the pipeline stack")
                try:
                    self.target.destroy(self.log)
                    self.stack_applied = False
                except Exception as e:  # reported as left behind, never swallowed
                    left.append(f"the pipeline stack: terraform destroy failed ({e!r}); run it again: "
                                f"`{DESTROY.format(region=self.target.region)}`")
        return left

    def remove_environment(self) -> None:
        """Through the API: wait out CREATING, DELETE, wait for DELETED. If the API does not
        answer (or the environment stays CREATING), with Step Functions directly: stop the
        provisioning run, start the teardown machine as the API would (`<env>--d-<ms>`)."""
        assert self.pipeline is not None and self.api is not None
        deadline = time.monotonic() + self.target.ready_timeout + self.target.delete_timeout
        try:
            while time.monotonic() < deadline:
                answer = self.api.call_with_retries("GET", f"/environments/{self.environment}")
                status = answer.body.get("status") if answer.status == 200 else None
                if answer.status == 404 or status == "DELETED":
                    self.log(f"cleanup: {self.environment} is {'unknown' if answer.status == 404 else 'DELETED'}")
                    return
                if answer.status != 200:
                    raise ApiUnreachable(f"GET answered {answer.describe()}")
                if status in ("READY", "FAILED"):
                    deleted = self.api.call_with_retries("DELETE", f"/environments/{self.environment}")
                    self.log(f"cleanup: DELETE -> {deleted.describe()}")
                    if deleted.status != 202:
                        raise ApiUnreachable(f"DELETE answered {deleted.describe()}")
                time.sleep(10 if self.target.kind == "aws" else 1)
            self.log(f"cleanup: {self.environment} still not deleted through the API: using Step Functions directly")
        except ApiUnreachable as e:
            self.log(f"cleanup: the API does not serve ({e}): using Step Functions directly")
        self.teardown_directly()

    def teardown_directly(self) -> None:
        assert self.pipeline is not None
        sfn = self.target.client("stepfunctions")
        running = [e for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self.pipeline.provision_arn, statusFilter="RUNNING") for e in page["executions"]
            if e["name"].startswith(f"{self.environment}--c-")]
        for execution in running:
            self.log(f"cleanup: stopping {execution['name']}")
            sfn.stop_execution(executionArn=execution["executionArn"], error="AcceptanceCleanup",
                               cause="the acceptance suite is deleting the environment")
        if running:
            # A stopped run does not stop the Lambda invocation it was waiting for: what that step
            # creates must exist before the teardown looks for it.
            self.log(f"cleanup: waiting {self.target.lambda_settle:.0f} s for the stopped run's last step to end")
            time.sleep(self.target.lambda_settle)
        name = f"{self.environment}--d-{int(time.time() * 1000)}"
        arn = sfn.start_execution(stateMachineArn=self.pipeline.teardown_arn, name=name,
                                  input=json.dumps({"name": self.environment}))["executionArn"]
        self.log(f"cleanup: started teardown {name}")
        deadline = time.monotonic() + self.target.delete_timeout
        while True:
            described = sfn.describe_execution(executionArn=arn)
            if described["status"] == "SUCCEEDED":
                return
            if described["status"] != "RUNNING":
                raise RuntimeError(f"teardown {name} ended {described['status']}: {described.get('cause', '')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"teardown {name} still running after {self.target.delete_timeout:.0f} s")
            time.sleep(10 if self.target.kind == "aws" else 1)

    # --- the report --------------------------------------------------------------------------------

    def print_report(self) -> None:
        print("\n## Timing\n\n" + report.steps_table(self.steps), flush=True)
        print("\n" + (self.timing or "(no provisioning execution was timed)"), flush=True)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="acceptance.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=("aws", "local"), required=True)
    parser.add_argument("--region", help="aws: the region (default: the standard chain's, else eu-west-1)")
    parser.add_argument("--endpoint", help="local: the emulator's URL")
    parser.add_argument("--api-url", help="local: the HTTP API front's URL")
    parser.add_argument("--state", type=Path, help="local: the world's state folder")
    parser.add_argument("--name", help="the environment's name (default: acc-<6 hex digits>)")
    args = parser.parse_args(argv)
    if args.target == "local" and not (args.endpoint and args.api_url and args.state):
        parser.error("--target local needs --endpoint, --api-url and --state")
    return args


def interrupted(signum: int, _frame: object) -> None:
    """SIGTERM (a cancelled CI job) ends the scenario as Ctrl-C does: the cleanup still runs."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, interrupted)
    args = parse(argv)
    target: Target = AwsTarget(args.region) if args.target == "aws" else LocalTarget(args.endpoint, args.api_url, args.state)
    suite = Suite(target, args.name or f"acc-{secrets.token_hex(3)}")
    suite.log(f"mec acceptance, target {target.kind}, environment {suite.environment}")
    try:
        target.preflight(suite.log)
    except Refused as e:
        print(f"acceptance: refused: {e}", file=sys.stderr, flush=True)
        return 2
    return suite.run()


if __name__ == "__main__":
    os.umask(0o077)  # the kubeconfig and Terraform's files are the caller's alone
    sys.exit(main(sys.argv[1:]))
