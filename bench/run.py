"""`make bench`: time to Ready, cost per environment, cold starts and scale, measured in the local
world and printed as tables (also written to .build/bench/results.md and results.json).

The world (local/world/serve.py) runs the release Lambda binaries; the pipeline is deployed by
Terraform (infra/local with deployed_intervals: the module's default poll intervals, as on AWS)
and every latency of bench/model.py
is slept scaled by a time scale, Step Functions' Wait states too. Wall time = scale x modelled +
overhead (the emulator's and the binaries' own work, which does not scale): the modelled time is
(wall - the action steps' real time) / scale (bench/model.py explains why); each size runs at
two scales.

The part `edge` creates one environment with a worker in the region and one in a Wavelength Zone
and reports how much later the edge worker turns Ready (goal: within 10 s).

The part `faults` runs creates under bench/model.py's FAULT_PROFILE (throttling and 5xx, lost
answers, Lambda invoke errors, the EC2 consistency window) and reports p50 and p95 of their
modelled time to Ready against the lower bound.

Usage: .venv/bin/python bench/run.py   (env: MEC_LOCAL_PORT, CARGO_TARGET_DIR, MEC_BENCH_SCALES,
       MEC_BENCH_SIZES, MEC_BENCH_PARTS=ready,cost,cold,scale,faults,edge, MEC_BENCH_FAULT_RUNS,
       MEC_BENCH_FAULT_SIZES, MEC_BENCH_FAULT_SCALE, MEC_BENCH_BINARIES)
"""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import boto3

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import model  # noqa: E402
import report  # noqa: E402

TARGET = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/mec/target"))
RELEASE = TARGET / "release"
# The binaries the world runs (release by default: the cost table's billed ms are theirs).
WORLD_BINARIES = Path(os.environ.get("MEC_BENCH_BINARIES", RELEASE))
FUNCTIONS = ["validate", "network", "lifecycle", "master", "workers", "install", "join", "teardown", "reaper", "api"]
SCALES = [float(s) for s in os.environ.get("MEC_BENCH_SCALES", "0.25,1").split(",")]
SIZES = [int(s) for s in os.environ.get("MEC_BENCH_SIZES", "0,2,10,50").split(",")]
PARTS = set(os.environ.get("MEC_BENCH_PARTS", "ready,cost,cold,scale,faults,edge").split(","))
# The parts that run the local world.
WORLD_PARTS = {"ready", "cost", "scale", "faults", "edge"}
# The world's Wavelength Zone (local/world/edge_zones.py).
EDGE_ZONE = "us-east-1-wl1-bos-wlz-1"
COST_SIZES = (2, 50)
COLD_STARTS = 20
SCALE_ENVIRONMENTS = 20
FAULT_RUNS = int(os.environ.get("MEC_BENCH_FAULT_RUNS", "5"))
FAULT_SIZES = [int(s) for s in os.environ.get("MEC_BENCH_FAULT_SIZES", "2,10").split(",")]
FAULT_SCALE = float(os.environ.get("MEC_BENCH_FAULT_SCALE") or SCALES[-1])
# The faults part's teardowns are not measured: at scale 1 a teardown waits ~5 min for the
# instances to terminate and their volumes to go (faults.json shutdown_seconds, volume_delete_seconds).
TEARDOWN_SCALE = 0.05


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the world --------------------------------------------------------------------------------

class World:
    def __init__(self, state: Path, port: int) -> None:
        self.state = state
        self.endpoint = f"http://127.0.0.1:{port}"
        state.mkdir(parents=True, exist_ok=True)
        self.log = open(state / "world.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "local/world/serve.py"), "--port", str(port), "--binaries", str(WORLD_BINARIES), "--state", str(state)],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/data.json", timeout=1)
                break
            except OSError:
                if time.time() > deadline or self.process.poll() is not None:
                    raise SystemExit(f"the local world did not start: see {state / 'world.log'}")
                time.sleep(0.2)
        self.faults_path = state / "faults.json"

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def set_faults(self, values: dict[str, Any]) -> None:
        self.faults_path.write_text(json.dumps(values))

    def deploy(self, lambda_dir: Path) -> dict[str, str]:
        env = dict(os.environ, TF_DATA_DIR=str(self.state / "tf"), TF_IN_AUTOMATION="1", TF_CLI_ARGS="-no-color",
                   CHECKPOINT_DISABLE="1")
        rc = subprocess.run([str(ROOT / "local/terraformrc.sh"), str(self.state / "terraformrc")], capture_output=True, text=True, check=True)
        if rc.stdout.strip():
            env["TF_CLI_CONFIG_FILE"] = rc.stdout.strip()
        chdir = f"-chdir={ROOT / 'infra/local'}"
        for args in (["init", "-input=false", f"-backend-config=path={self.state / 'tfstate'}"],
                     ["apply", "-input=false", "-auto-approve", f"-var=endpoint={self.endpoint}", f"-var=lambda_dir={lambda_dir}",
                      "-var=deployed_intervals=true"]):
            done = subprocess.run(["terraform", chdir, *args], env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"terraform {args[0]} failed:\n{done.stdout}\n{done.stderr}")
        out = subprocess.run(["terraform", chdir, "output", "-json", "function_names"], env=env, capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()

    def records(self, name: str) -> list[dict[str, Any]]:
        path = self.state / "logs" / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def machine_arn(sfn: Any, name: str) -> str:
    return next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == name)


def start(sfn: Any, arn: str, name: str, payload: dict[str, Any]) -> str:
    return sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))["executionArn"]


def wait(sfn: Any, execution: str, timeout: float = 1800) -> dict[str, Any]:
    deadline = time.time() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        if time.time() > deadline:
            raise SystemExit(f"{execution} still running after {timeout} s")
        time.sleep(0.05)


def wall(described: dict[str, Any]) -> float:
    return (described["stopDate"] - described["startDate"]).total_seconds()


def history(sfn: Any, execution: str) -> list[dict[str, Any]]:
    events, token = [], None
    while True:
        page = sfn.get_execution_history(executionArn=execution, maxResults=1000, **({"nextToken": token} if token else {}))
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def transitions(events: list[dict[str, Any]]) -> tuple[int, Counter]:
    """Billed state transitions: every state entered, plus every retry of a Task."""
    entered = Counter(e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e)
    types = Counter(e["type"] for e in events)
    retries = max(0, types["TaskScheduled"] - types["TaskStateEntered"])
    return sum(entered.values()) + retries, entered


# --- 1 and 2: time to Ready and cost ----------------------------------------------------------

def provision(world: World, arns: dict[str, str], name: str, workers: int, scale: float,
              teardown_scale: float | None = None, extra: dict[str, Any] | None = None,
              inspect: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """One create to READY at `scale`, measured, then its teardown (at `teardown_scale`, which
    nothing measures: by default the same scale). `extra`: more spec fields; `inspect`: called
    with the result while the environment still exists."""
    sfn = world.client("stepfunctions")
    world.set_faults(model.faults(scale))
    execution = start(sfn, arns["provision"], f"{name}--c", {"name": name, "workers": workers, **(extra or {})})
    done = wait(sfn, execution)
    if done["status"] != "SUCCEEDED":
        raise SystemExit(f"{name} ({workers} workers, scale {scale}) {done['status']}: {done.get('error')}: {done.get('cause')}")
    result = {"execution": execution, "wall": wall(done), "start": done["startDate"].timestamp(), "stop": done["stopDate"].timestamp()}
    # Where the time went: each Task state's entries, in modelled seconds since the start.
    events = history(sfn, execution)
    began = events[0]["timestamp"]
    result["tasks"] = [(e["stateEnteredEventDetails"]["name"], round((e["timestamp"] - began).total_seconds() / scale, 1))
                       for e in events if e["type"] == "TaskStateEntered"]
    result["retries"] = sum(1 for e in events if e["type"] == "TaskScheduled") - len(result["tasks"])
    result["waited"] = model.waited_seconds(events)
    result["overhead"] = model.control_seconds(events)
    result["modelled"] = (result["wall"] - result["overhead"]) / scale
    if inspect is not None:
        inspect(result)
    time.sleep(1)  # keeps the teardown's calls out of the create's window
    if teardown_scale is not None:
        world.set_faults(model.faults(teardown_scale))
    gone = wait(sfn, start(sfn, arns["teardown"], f"{name}--d", {"name": name}))
    if gone["status"] != "SUCCEEDED":
        raise SystemExit(f"teardown of {name} {gone['status']}: {gone.get('error')}")
    time.sleep(1)  # and out of the next create's window
    return result


def cost_of(world: World, run: dict[str, Any], workers: int) -> dict[str, Any]:
    sfn = world.client("stepfunctions")
    events = history(sfn, run["execution"])
    billed_transitions, entered = transitions(events)
    window = lambda r: run["start"] <= r["time"] <= run["stop"] + 0.2  # noqa: E731
    invocations = [r for r in world.records("invocations.jsonl") if window(r)]
    calls = [r for r in world.records("api-calls.jsonl") if window(r) and r["source"] in ("lambda", "node")]
    by_operation = Counter(f"{r['service']}:{r['operation']}" for r in calls if r["source"] == "lambda")
    node_calls = Counter(f"{r['service']}:{r['operation']}" for r in calls if r["source"] == "node")
    billed_ms = sum(r["billed_ms"] for r in invocations)
    memory = max((r["memory_mb"] for r in invocations), default=256)
    # SecureStrings: the token written (PutParameter) and read by every joining worker
    # ({{ssm-secure}}), the kubeconfig written by the master: one KMS request each.
    kms = by_operation["ssm:PutParameter"] + node_calls["ssm:PutParameter"] + workers
    polls = {
        "node checks": entered["CheckNodes"],
        "command checks": entered["InstallStatus"] + entered["JoinStatus"],
    }
    per_poll = {
        "node check": (by_operation["ec2:DescribeInstances"] + by_operation["ssm:DescribeInstanceInformation"]) / max(1, polls["node checks"]),
        "command check": (by_operation["ssm:ListCommandInvocations"] + by_operation["ssm:GetCommandInvocation"]) / max(1, polls["command checks"]),
    }
    return {
        "workers": workers,
        "transitions": billed_transitions,
        "invocations": len(invocations),
        "billed_ms": billed_ms,
        "memory_mb": memory,
        "api_calls": dict(sorted(by_operation.items())),
        "node_api_calls": dict(sorted(node_calls.items())),
        "polls": polls,
        "calls_per_poll": per_poll,
        "kms_requests": kms,
        "dollars": model.dollars(billed_transitions, len(invocations), billed_ms, memory, kms),
    }


def time_to_ready(world: World, arns: dict[str, str]) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:
    rows, costs = [], {}
    # Every function started once before the measured runs: a cold start is overhead that
    # would land in one run only and skew the fit.
    provision(world, arns, "ttr-warmup", 1, SCALES[0])
    for workers in SIZES:
        runs = []
        for k, scale in enumerate(SCALES):
            log(f"{workers} workers at time scale {scale}")
            run = provision(world, arns, f"ttr-{workers}w-{k}", workers, scale)
            runs.append((scale, run))
            log(f"  wall {run['wall']:.2f} s, control {run['overhead']:.2f} s, in Waits {run['waited']:.2f} s: modelled {run['modelled']:.1f} s")
        # The largest scale's figure: the nodes' real overhead weighs least there.
        modelled, overhead = runs[-1][1]["modelled"], runs[-1][1]["overhead"]
        bound = model.lower_bound(workers, prefetch=True)
        rows.append({
            "workers": workers, "walls": {str(s): round(r["wall"], 3) for s, r in runs},
            "modelled_at": {str(s): r["modelled"] for s, r in runs},
            "modelled": modelled, "overhead": overhead, "lower_bound": bound,
            "lower_bound_store": model.lower_bound(workers, prefetch=False),
            "ratio": modelled / bound, "iec": model.iec_type2(workers),
            "tasks": {str(s): r["tasks"] for s, r in runs}, "retries": {str(s): r["retries"] for s, r in runs},
        })
        if workers in COST_SIZES and "cost" in PARTS:
            costs[workers] = cost_of(world, runs[-1][1], workers)
    return rows, costs


def node_ready_times(world: World, name: str) -> dict[str, dict[str, Any]]:
    """Each worker's zone and when it turned Ready on the master (epoch seconds), from the
    simulated cluster's state: its join plus the join-to-Ready latency, as nodesim/state.py
    decides readiness."""
    cluster = json.loads((world.state / "clusters" / name / "state.json").read_text())
    scale, latency = cluster["time_scale"], cluster["latency"]
    zones = cluster.get("zones", {})
    found = {}
    for instance_id, node in cluster["nodes"].items():
        if node.get("joined_at") and "-worker-" in (node.get("node_name") or ""):
            found[node["node_name"]] = {"zone": zones.get(instance_id),
                                        "ready": node["joined_at"] + latency.get("joined_ready_seconds", 0.0) * scale}
    return found


def edge_workers(world: World, arns: dict[str, str]) -> dict[str, Any]:
    """Time to Ready with a worker in the region and one in a Wavelength Zone, at the largest
    scale, and how much later (modelled seconds) the edge worker turned Ready than the
    regional one. The model gives edge nodes the region's boot and registration figures
    (bench/model.py EDGE)."""
    scale = SCALES[-1]
    name = "ttr-edge"
    seen: dict[str, Any] = {}
    spec = {"edge": {"zone": EDGE_ZONE, "workers": 1}}
    run = provision(world, arns, name, 1, scale, extra=spec,
                    inspect=lambda _: seen.update(node_ready_times(world, name)))
    regional = [n["ready"] for n in seen.values() if n["zone"] != EDGE_ZONE]
    edge = [n["ready"] for n in seen.values() if n["zone"] == EDGE_ZONE]
    if not regional or not edge:
        raise SystemExit(f"{name}: expected a regional and an edge worker, found {seen}")
    gap = (max(edge) - max(regional)) / scale
    log(f"edge: modelled {run['modelled']:.1f} s to Ready; the edge worker Ready {gap:+.1f} s after the regional one")
    return {"zone": EDGE_ZONE, "scale": scale, "modelled": run["modelled"], "gap_seconds": gap,
            "lower_bound": model.lower_bound(1, prefetch=True), "tasks": run["tasks"]}


def cost_only(world: World, arns: dict[str, str]) -> dict[int, dict[str, Any]]:
    """The cost part without the time-to-Ready table: one create per size, at the largest scale."""
    provision(world, arns, "cost-warmup", 1, SCALES[0])  # every function started once
    costs = {}
    for workers in COST_SIZES:
        log(f"cost of {workers} workers at time scale {SCALES[-1]}")
        costs[workers] = cost_of(world, provision(world, arns, f"cost-{workers}w", workers, SCALES[-1]), workers)
    return costs


# --- 3: cold starts ---------------------------------------------------------------------------

def first_request_ms(binary: Path, environment: dict[str, str]) -> float:
    """Process start to the first GET .../invocation/next on a Runtime API that never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        env = {**environment, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}"}
        started = time.perf_counter()
        process = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            server.settimeout(10)
            connection, _ = server.accept()
            with connection:
                data = b""
                while b"\r\n" not in data:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                elapsed = (time.perf_counter() - started) * 1000
            if not data.startswith(b"GET /2018-06-01/runtime/invocation/next"):
                raise SystemExit(f"{binary.name}: first request was {data[:80]!r}")
            return elapsed
        finally:
            process.kill()
            process.wait()


def cold_starts(zips: Path) -> list[dict[str, Any]]:
    """Init needs no AWS call (settings come from the environment; their defaults here), so no
    world: the endpoint is a closed port."""
    rows = []
    for function in FUNCTIONS:
        environment = {
            "PATH": "/usr/bin:/bin", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
            "AWS_LAMBDA_FUNCTION_NAME": f"mec-{function}", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_EXECUTION_ENV": "AWS_Lambda_rust",
            # The API reads the state machines' ARNs at init (Terraform sets them).
            "MEC_PROVISION_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:mec-provision",
            "MEC_TEARDOWN_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:mec-teardown",
        }
        binary = RELEASE / f"mec-{function}"
        first_request_ms(binary, environment)  # page cache warm, as on a Lambda host's second start
        times = sorted(first_request_ms(binary, environment) for _ in range(COLD_STARTS))
        rows.append({
            "function": f"mec-{function}", "min_ms": times[0], "median_ms": statistics.median(times), "p90_ms": times[int(0.9 * len(times)) - 1],
            "max_ms": times[-1], "binary_bytes": binary.stat().st_size,
            "zip_bytes": (zips / f"mec-{function}" / "bootstrap.zip").stat().st_size,
        })
        log(f"cold start mec-{function}: median {rows[-1]['median_ms']:.1f} ms")
    return rows


# --- 4: scale ---------------------------------------------------------------------------------

def scale(world: World, arns: dict[str, str], single_wall: float | None) -> dict[str, Any]:
    sfn = world.client("stepfunctions")
    time_scale = SCALES[-1]
    world.set_faults(model.faults(time_scale))
    if single_wall is None:
        single_wall = provision(world, arns, "scale-one", 2, time_scale)["wall"]
    log(f"{SCALE_ENVIRONMENTS} environments of 2 workers at once, time scale {time_scale}")
    began = time.time()
    executions = [start(sfn, arns["provision"], f"scale-{i:02d}--c", {"name": f"scale-{i:02d}", "workers": 2})
                  for i in range(SCALE_ENVIRONMENTS)]
    results = [wait(sfn, e) for e in executions]
    all_wall = max(r["stopDate"].timestamp() for r in results) - min(r["startDate"].timestamp() for r in results)
    statuses = Counter(r["status"] for r in results)
    throttled = 0
    for execution in executions:
        for event in history(sfn, execution):
            details = event.get("taskFailedEventDetails") or event.get("lambdaFunctionFailedEventDetails") or {}
            if any(word in (details.get("error") or "") + (details.get("cause") or "") for word in ("Throttl", "TooManyRequests", "Rate exceeded")):
                throttled += 1
    invocations = [r for r in world.records("invocations.jsonl") if r["time"] >= began]
    log(f"  {dict(statuses)} in {all_wall:.1f} s; tearing down")
    teardowns = [start(sfn, arns["teardown"], f"scale-{i:02d}--d", {"name": f"scale-{i:02d}"}) for i in range(SCALE_ENVIRONMENTS)]
    torn = Counter(wait(sfn, e)["status"] for e in teardowns)
    return {
        "environments": SCALE_ENVIRONMENTS, "time_scale": time_scale, "statuses": dict(statuses), "throttled_failures": throttled,
        "wall_all": all_wall, "wall_one": single_wall, "ratio": all_wall / single_wall,
        "teardowns": dict(torn),
        "max_queued_ms": max((r["queued_ms"] for r in invocations), default=0.0),
        "cold_environments": sum(1 for r in invocations if r["init_ms"] is not None),
    }


# --- 5: time to Ready with faults -------------------------------------------------------------

def read_faults(state: Path, since: float) -> list[dict[str, Any]]:
    """The faults the world injected since `since` (local/world/faults.py, imported here only:
    it needs the world's modules on the path)."""
    sys.path.insert(0, str(ROOT / "local"))
    from world.faults import read_faults as read  # noqa: PLC0415

    return read(state, since=since)


def teardown(world: World, arns: dict[str, str], name: str) -> str:
    """Deletes environment `name` with faults cleared (latencies only), as provision() does, at
    TEARDOWN_SCALE."""
    world.set_faults(model.faults(TEARDOWN_SCALE))
    time.sleep(1)  # keeps the teardown's calls out of the create's window
    sfn = world.client("stepfunctions")
    gone = wait(sfn, start(sfn, arns["teardown"], f"{name}--d", {"name": name}))
    time.sleep(1)  # and out of the next create's window
    return gone["status"]


def faulted_create(world: World, arns: dict[str, str], name: str, workers: int, baseline_control: float) -> dict[str, Any]:
    """One create under the fault profile at FAULT_SCALE, measured, then torn down. A run that
    does not reach READY is kept with its error (a finding), never dropped."""
    sfn = world.client("stepfunctions")
    world.set_faults(model.fault_profile(FAULT_SCALE))
    clocks = time.time(), time.monotonic()
    done = wait(sfn, start(sfn, arns["provision"], f"{name}--c", {"name": name, "workers": workers}))
    events = history(sfn, done["executionArn"])
    (world.state / "histories").mkdir(exist_ok=True)
    (world.state / "histories" / f"{name}.json").write_text(json.dumps(events, default=str))
    began, ended = done["startDate"].timestamp(), done["stopDate"].timestamp()
    control, intervals = model.control_seconds(events), model.retry_interval_seconds(events)
    run = {
        "name": name, "status": done["status"], "wall": wall(done), "control": control, "retry_intervals": intervals,
        "modelled": model.modelled_with_faults(wall(done), control, intervals, baseline_control, FAULT_SCALE),
        "modelled_plain": (wall(done) - control) / FAULT_SCALE,
        "retries": model.retries_by_error(events),
        "faults": injected(world, began, ended),
        "paused": paused_since(*clocks),
    }
    if done["status"] != "SUCCEEDED":
        run.update(error=done.get("error"), cause=done.get("cause"), gave_up=model.gave_up(events))
    run["teardown"] = teardown(world, arns, name)
    return run


def injected(world: World, began: float, ended: float) -> dict[str, dict[str, int]]:
    """The faults injected during a create: by kind, and by kind, operation and code."""
    records = [r for r in read_faults(world.state, began) if r["time"] <= ended + 0.2]
    detail = Counter(f"{r['kind']} {r['service']}:{r['operation']} {r.get('code') or r.get('mode') or ''}".strip() for r in records)
    return {"by_kind": dict(sorted(Counter(r["kind"] for r in records).items())), "detail": dict(sorted(detail.items()))}


def paused_since(wall_then: float, monotonic_then: float) -> float:
    """Seconds the machine stood still since then (a virtual machine paused or snapshotted: the
    wall clock jumps, the monotonic clock does not), which no figure may count."""
    return max(0.0, (time.time() - wall_then) - (time.monotonic() - monotonic_then))


def baseline_run(world: World, arns: dict[str, str], workers: int) -> dict[str, Any]:
    """The same size without faults: its control steps' real time is the emulator's own work,
    which a faulted run's figure leaves out (its figure is shown beside). Again if the machine
    paused meanwhile."""
    for attempt in range(3):
        log(f"{workers} workers without faults at time scale {FAULT_SCALE}")
        clocks = time.time(), time.monotonic()
        baseline = provision(world, arns, f"flt-{workers}w-base{attempt or ''}", workers, FAULT_SCALE, TEARDOWN_SCALE)
        if paused_since(*clocks) < model.PAUSE_TOLERANCE:
            break
        log(f"  the machine paused {paused_since(*clocks):.1f} s during the run: again")
    return {k: baseline[k] for k in ("wall", "overhead", "modelled", "retries")}


def fault_runs(world: World, arns: dict[str, str], workers: int, baseline_control: float) -> list[dict[str, Any]]:
    """FAULT_RUNS faulted creates; one during which the machine paused is kept (marked) but does
    not count, and another is run in its place (at most FAULT_RUNS more)."""
    runs: list[dict[str, Any]] = []
    while sum(1 for r in runs if r["paused"] < model.PAUSE_TOLERANCE) < FAULT_RUNS and len(runs) < 2 * FAULT_RUNS:
        log(f"{workers} workers with faults, run {len(runs) + 1}, time scale {FAULT_SCALE}")
        run = faulted_create(world, arns, f"flt-{workers}w-{len(runs)}", workers, baseline_control)
        runs.append(run)
        log(f"  {run['status']}: wall {run['wall']:.2f} s, control {run['control']:.2f} s (of which Retry intervals "
            f"{run['retry_intervals']:.2f} s): modelled {run['modelled']:.1f} s; faults {run['faults']['by_kind']}, "
            f"retries {run['retries']}" + (f"; {run.get('error')}: {run.get('cause')}" if run["status"] != "SUCCEEDED" else "")
            + (f"; the machine paused {run['paused']:.1f} s: not counted" if run["paused"] >= model.PAUSE_TOLERANCE else ""))
    return runs


def with_faults(world: World, arns: dict[str, str], warm: bool) -> dict[str, Any]:
    if not warm:
        provision(world, arns, "faults-warmup", 1, SCALES[0], TEARDOWN_SCALE)
    rows = []
    for workers in FAULT_SIZES:
        baseline = baseline_run(world, arns, workers)
        rows.append({"workers": workers, "baseline": baseline, "lower_bound": model.lower_bound(workers, prefetch=True),
                     "runs": fault_runs(world, arns, workers, baseline["overhead"])})
    profile = {k: {"value": s.value, "reason": s.reason} for k, s in model.FAULT_PROFILE.items()}
    return {"time_scale": FAULT_SCALE, "profile": profile, "rows": rows, "date": machine()["date"]}


# --- main -------------------------------------------------------------------------------------

def machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.processor())
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    return {"cpu": cpu, "cores": str(os.cpu_count()), "memory": f"{memory_kb / 1024 / 1024:.0f} GB",
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def main() -> None:
    needed = ([WORLD_BINARIES] if PARTS & WORLD_PARTS else []) + ([RELEASE] if "cold" in PARTS else [])
    missing = [str(d / f"mec-{f}") for d in needed for f in FUNCTIONS if not (d / f"mec-{f}").exists()]
    if missing:
        raise SystemExit(f"missing binaries {missing}: cargo build --release --workspace --bins")
    out = ROOT / ".build" / "bench"
    state = out / datetime.now(timezone.utc).strftime("world-%Y%m%dT%H%M%S")
    zips = out / "zips"
    if PARTS & WORLD_PARTS:
        subprocess.run([sys.executable, str(ROOT / "local/package_lambdas.py"), str(WORLD_BINARIES), str(zips)], check=True, stdout=subprocess.DEVNULL)
    # Parts not run this time keep their last results (each part says when it ran).
    previous = out / "results.json"
    results: dict[str, Any] = json.loads(previous.read_text()) if previous.exists() else {}
    results.update({"machine": machine(), "latency": {k: v.seconds for k, v in model.LATENCY.items()}})
    if "cold" in PARTS:
        subprocess.run([sys.executable, str(ROOT / "local/package_lambdas.py"), str(RELEASE), str(out / "zips-release")],
                       check=True, stdout=subprocess.DEVNULL)
        results["cold"] = cold_starts(out / "zips-release")
    if PARTS & WORLD_PARTS:
        port = int(os.environ.get("MEC_LOCAL_PORT") or 0) or _free_port()
        log(f"local world on port {port}, state {state}")
        world = World(state, port)
        try:
            log("deploying the pipeline (infra/local at the module's default poll intervals)")
            world.deploy(zips)
            sfn = world.client("stepfunctions")
            arns = {"provision": machine_arn(sfn, "mec-provision"), "teardown": machine_arn(sfn, "mec-teardown")}
            single = None
            if "ready" in PARTS:
                results["scales"] = SCALES
                results["world_binaries"] = WORLD_BINARIES.name  # "release" unless MEC_BENCH_BINARIES says otherwise
                results["ready"], costs = time_to_ready(world, arns)
                if costs:
                    results["cost"] = costs
                two = next((r for r in results["ready"] if r["workers"] == 2), None)
                single = two["walls"][str(SCALES[-1])] if two else None
            elif "cost" in PARTS:
                results["cost"] = cost_only(world, arns)
            if "edge" in PARTS:
                results["edge"] = edge_workers(world, arns)
            if "scale" in PARTS:
                results["scale"] = scale(world, arns, single)
            if "faults" in PARTS:
                # Every function started once, unless a part above did it.
                results["faults"] = with_faults(world, arns, warm=bool(PARTS & {"ready", "cost"}))
        finally:
            world.stop()
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    text = report.render(results)
    (out / "results.md").write_text(text)
    print(text)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    threading.excepthook = lambda args: None  # quiet daemon threads at exit
    main()
