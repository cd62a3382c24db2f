"""The benchmarks' latency and price model: every figure with its source, and the arithmetic on it.

The local world is run with these latencies (scaled by a time scale, see bench/run.py), and the
same figures give the critical-path lower bound and the Akraino IEC Type 2 estimate, so that the
three columns of the time-to-Ready table rest on one model.

Modelled time to Ready = (wall seconds - control seconds) / time scale. The world sleeps every
modelled latency and every Wait for scale x its seconds. The pipeline waits for the nodes only
through its polls (Wait, then a check); while those run the nodes progress in real time, so the
polling loops' real time converts back through the scale. The action steps (validate, network,
launch, send a command) are control-plane work nothing runs beside: in the wall time only
because the emulator and the Lambdas take real time for them, so their real time is taken out
and reported as overhead (on AWS they take ~0.1-0.3 s each). Counting only the Waits would
under-count (the nodes also progress during each check); counting the whole wall time would
scale the emulator's overhead up by 1/scale. What remains is the simulated nodes' own real
overhead (their processes), which shrinks as the scale grows: each size runs at two scales and
the larger one is reported.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    seconds: float
    source: str


# --- latencies (modelled seconds) -------------------------------------------------------------

LATENCY: dict[str, Figure] = {
    # EC2 RunInstances -> running. brevdev/ec2-coldboot-research (2025): pending->running
    # 16.4-16.6 s whatever the instance family, 25.8 s to SSH; daemonology.net ec2-boot-bench
    # (2021-08-12): 4.9 s pending->running, ~23 s more to SSH. Launches of one batch run in parallel.
    "boot_seconds": Figure(17.0, "brevdev/ec2-coldboot-research; daemonology.net 2021-08-12 ec2-boot-bench"),
    # SSM agent Online after the instance runs: "randomly from 30s to several minutes"
    # (DataDog/stratus-red-team#108, 2022); Ubuntu 24.04's snap agent "tens of seconds to minutes"
    # (aws-samples/sample-one-click-generative-ai-solutions#92). The low end is taken.
    "registration_seconds": Figure(30.0, "DataDog/stratus-red-team#108; aws-samples/sample-one-click-generative-ai-solutions#92"),
    # snap install microk8s (download ~180-220 MB + install hooks). canonical/microk8s#3230: the
    # store snap's install waits for the services (2.5 min saved by not waiting); microk8s#1623:
    # ~5 min on a Core 2 Duo. On a current EC2 instance: ~45 s, of which the download below.
    "install_seconds": Figure(45.0, "canonical/microk8s#3230, #1623 (weak machine: 5 min)"),
    # Share of install_seconds that is the snap download (~200 MB at ~100 Mbit/s from the store).
    "download_seconds": Figure(20.0, "snap size 170-220 MB (snapcraft.io/microk8s) at ~100 Mbit/s"),
    # install to `microk8s status --wait-ready`: cold boot to /readyz 45-70 s on a Raspberry Pi 5
    # (linux-digest.com); an EC2 instance is faster: 30 s.
    "ready_seconds": Figure(30.0, "linux-digest.com MicroK8s cold boot 45-70 s (RPi 5)"),
    # `microk8s join`: "a few seconds" (microk8s.io/docs/clustering); the worker restarts its services.
    "join_seconds": Figure(10.0, "microk8s.io/docs/clustering ('a few seconds')"),
    # join -> node Ready on the master: the join prints "will appear in the nodes list in a few
    # seconds" (MicroK8s join output); kubelet registration + Calico: 15 s.
    "joined_ready_seconds": Figure(15.0, "MicroK8s join output; estimate"),
    # per `microk8s enable` (dns, hostpath-storage): applies manifests, waits for the rollout.
    # canonical/microk8s#174: enabling within 10-20 s of install fails. No published figure: 15 s.
    "addon_seconds": Figure(15.0, "estimate (canonical/microk8s#174: add-ons need 10-20 s after start)"),
}

# Edge workers (Local Zones, Wavelength Zones): no published boot or SSM registration figure
# differs from the region's. Their instances are the same Nitro types and AMIs (Wavelength
# Developer Guide, "Quotas and considerations": t3, r5, g4dn), launched by the same RunInstances;
# the SSM agent registers with the region's endpoint through the carrier or internet gateway, a
# few more milliseconds of round trip (AWS Local Zones: "single-digit millisecond latency" to
# users; the parent region is farther), nothing on the scale of the 30 s registration figure.
# So the world gives them the region's latencies, and the benchmark measures what mec adds.
EDGE = Figure(0.0, "no published edge-specific boot/registration figure: the region's figures apply")

# Add-ons of the benchmark's spec (the pipeline's default set: dns, hostpath-storage) that cost
# time: MicroK8s (1.28+) comes with dns, ha-cluster, helm and helm3 enabled (so does the node
# simulator), so `microk8s enable dns` returns at once and only hostpath-storage waits.
ADDONS = ["hostpath-storage"]
# Akraino IEC Type 2: master first, then the workers one by one, with a fixed 60 s wait
# (Akraino IEC Type 2 blueprint documentation, "Master and Worker nodes are provisioned in this order").
IEC_FIXED_WAIT = 60.0

PUBLISHED: list[tuple[str, str, str]] = [
    ("EKS (control plane only)", "~9 min", "AWS What's New 2021-03-19 (EKS cluster creation 40% faster); aws-samples/eks-workshop#1101"),
    ("EKS (end to end, with nodes)", "14-21 min", "aws/containers-roadmap#1227 (2021-10 to 2022-03 comments)"),
    ("Cluster API MicroK8s on AWS", "~10-14 min", "canonical/cluster-api-bootstrap-provider-microk8s README example"),
    ("k3s on AWS via Terraform", "~5 min", "garutilorenzo/k3s-aws-terraform-cluster README"),
]


def seconds(name: str, latency: dict[str, Figure] | None = None) -> float:
    return (latency or LATENCY)[name].seconds


def lower_bound(workers: int, prefetch: bool = False, latency: dict[str, Figure] | None = None) -> float:
    """The stages that cannot overlap, for one master and `workers` workers (all launched at once).

    A node must run and register before Run Command reaches it, install before it is ready; the
    join needs the master's token and the worker's MicroK8s; add-ons need every node Ready. With
    `prefetch` (what mec does: functions/shared/userdata/prefetch-microk8s.sh) the snap download
    starts from user data at boot, while the agent registers; without, it is part of the install.
    """
    s = lambda name: seconds(name, latency)  # noqa: E731
    reachable = s("boot_seconds") + s("registration_seconds")
    install = s("install_seconds")
    if prefetch:
        download = min(s("download_seconds"), install)
        # The download overlaps the registration; what is left of it (if longer) still waits.
        reachable = s("boot_seconds") + max(s("registration_seconds"), download)
        install -= download
    total = reachable + install + s("ready_seconds")
    if workers > 0:
        total += s("join_seconds") + s("joined_ready_seconds")
    return total + len(ADDONS) * s("addon_seconds")


def install_phase(prefetch: bool = True, latency: dict[str, Figure] | None = None) -> float:
    """From the install command (sent once every node is registered) to every node ready: what is
    left of the install after a download that finished during the registration, then wait-ready."""
    s = lambda name: seconds(name, latency)  # noqa: E731
    download = min(s("download_seconds"), s("install_seconds")) if prefetch else 0.0
    # A download longer than the registration is still running when the command arrives.
    still_downloading = max(0.0, download - s("registration_seconds")) if prefetch else 0.0
    return still_downloading + s("install_seconds") - download + s("ready_seconds")


def iec_type2(workers: int, latency: dict[str, Figure] | None = None) -> float:
    """The same model on the IEC Type 2 order: the master installed and ready, the fixed wait,
    then each worker installed, joined and Ready before the next starts (instances launched
    together, so boot and registration are paid once), then the same add-ons."""
    s = lambda name: seconds(name, latency)  # noqa: E731
    master = s("boot_seconds") + s("registration_seconds") + s("install_seconds") + s("ready_seconds")
    per_worker = s("install_seconds") + s("ready_seconds") + s("join_seconds") + s("joined_ready_seconds")
    return master + IEC_FIXED_WAIT + workers * per_worker + len(ADDONS) * s("addon_seconds")


def faults(time_scale: float, latency: dict[str, Figure] | None = None) -> dict[str, float]:
    """The world's faults.json for a time-scaled run of this model (no faults, only latencies)."""
    keys = ["boot_seconds", "registration_seconds", "install_seconds", "download_seconds", "ready_seconds", "join_seconds",
            "joined_ready_seconds", "addon_seconds"]
    values = {key: seconds(key, latency) for key in keys}
    return {**values, "time_scale": time_scale, "wait_scale": time_scale}


# --- the fault profile (bench part `faults`) ----------------------------------------------------

@dataclass(frozen=True)
class Setting:
    value: object
    reason: str


# Layered over `faults(scale)` (the latencies): what a create meets on a bad day on AWS. Keys are
# local/world/faults.py's faults.json keys.
FAULT_PROFILE: dict[str, Setting] = {
    "aws_error_rate": Setting(0.1, "10% of the steps' AWS calls answered throttling or a 5xx (half each), before they apply"),
    "consistency_seconds": Setting(0.5, "EC2's eventual consistency window, the world's default: a new ID is NotFound for 0.5 real s"),
    "lost_response_rate": Setting(0.1, "~32 mutating calls a create at 2 workers, ~40 at 10, more with the retries: 5-8 lost a run (measured)"),
    "lost_response_kinds": Setting(["error", "drop"], "the lost answer is a 5xx or a cut connection, at random"),
    "invoke_service_exception_rate": Setting(0.02, "Lambda.ServiceException on 2% of Step Functions' ~55 Lambda invokes a create"),
    "invoke_throttle_rate": Setting(0.015, "Lambda.TooManyRequestsException on 1.5% more: ~3.5% in all, 2-3 a run"),
    "invoke_faults_after_run": Setting(True, "the function runs, then its invoke fails: the Retry runs an applied step again"),
}


def fault_profile(time_scale: float, latency: dict[str, Figure] | None = None) -> dict[str, object]:
    """faults.json for a faulted run: the model's latencies at `time_scale`, then FAULT_PROFILE."""
    return {**faults(time_scale, latency), **{key: s.value for key, s in FAULT_PROFILE.items()}}


# Real seconds the wall clock may run ahead of the monotonic clock during a run: more, and the
# machine stood still (a virtual machine paused or snapshotted), so the run's wall time is void.
PAUSE_TOLERANCE = 1.0


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between the closest ranks (numpy's
    default, statistics.quantiles' "inclusive"): p50 is the median, p95 of 5 runs lies between
    the two slowest."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    at = (len(ordered) - 1) * q / 100
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


# The polls: while one runs, the nodes make progress (their latencies are slept in real time).
POLL_STATES = {"CheckNodes", "InstallStatus", "JoinStatus"}


def control_seconds(events: list[dict]) -> float:
    """Real seconds an execution spent in its action steps (every Task but the polls, the launch's
    Parallel as a whole): control-plane work that nothing waits on in parallel, so that it stands
    in the wall time only because the emulator and the Lambdas take real time for it. Events in
    order, timestamps as datetimes."""
    total, entered, depth = 0.0, None, 0
    for event in events:
        kind = event["type"]
        name = (event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails") or {}).get("name")
        if kind == "ParallelStateEntered":
            depth += 1
            if depth == 1:
                entered = event["timestamp"]
        elif kind == "ParallelStateExited":
            depth -= 1
            if depth == 0 and entered is not None:
                total += (event["timestamp"] - entered).total_seconds()
                entered = None
        elif depth == 0 and kind == "TaskStateEntered" and name not in POLL_STATES:
            entered = event["timestamp"]
        elif depth == 0 and kind == "TaskStateExited" and name not in POLL_STATES and entered is not None:
            total += (event["timestamp"] - entered).total_seconds()
            entered = None
    return total


def waited_seconds(events: list[dict]) -> float:
    """Real seconds an execution spent in Wait states (events in order, timestamps as datetimes)."""
    total, entered = 0.0, None
    for event in events:
        if event["type"] == "WaitStateEntered":
            entered = event["timestamp"]
        elif event["type"] == "WaitStateExited" and entered is not None:
            total += (event["timestamp"] - entered).total_seconds()
            entered = None
    return total


FAILED_ATTEMPTS = {"TaskFailed", "TaskTimedOut"}


def _state_names(events: list[dict]) -> dict[int, str | None]:
    """Each event's state: each event names the one before it in its own branch
    (previousEventId), back to its state's entry, even among a Parallel's branches."""
    name_of: dict[int, str | None] = {}
    for event in events:
        entered = event.get("stateEnteredEventDetails") or {}
        name_of[event["id"]] = entered.get("name") if entered else name_of.get(event.get("previousEventId"))
    return name_of


def _retried(events: list[dict]) -> list[tuple[dict, dict, str]]:
    """Every Task retry as (failed attempt's event, the next TaskScheduled, the Task's name): a
    TaskScheduled whose previous event in its branch is a failed attempt."""
    by_id = {event["id"]: event for event in events}
    name_of = _state_names(events)
    found = []
    for event in events:
        previous = by_id.get(event.get("previousEventId"))
        if event["type"] == "TaskScheduled" and previous is not None and previous["type"] in FAILED_ATTEMPTS:
            found.append((previous, event, name_of.get(previous["id"]) or "?"))
    return found


def _failure(event: dict) -> dict:
    return event.get("taskFailedEventDetails") or event.get("taskTimedOutEventDetails") or {}


def gave_up(events: list[dict]) -> list[dict[str, str | None]]:
    """The failed attempts that were not retried (caught, or the end of the Retry): where a run
    that did not reach READY failed, as {state, error, cause}."""
    retried = {failed["id"] for failed, _, _ in _retried(events)}
    name_of = _state_names(events)
    return [{"state": name_of.get(e["id"]), "error": _failure(e).get("error"), "cause": (_failure(e).get("cause") or "")[:300]}
            for e in events if e["type"] in FAILED_ATTEMPTS and e["id"] not in retried]


def retries_by_error(events: list[dict]) -> dict[str, int]:
    """Task retries by the error that caused them (events in order)."""
    counts: dict[str, int] = {}
    for failed, _, _ in _retried(events):
        error = _failure(failed).get("error") or failed["type"]
        counts[error] = counts.get(error, 0) + 1
    return dict(sorted(counts.items()))


def _parallel_tasks(events: list[dict]) -> set[str]:
    """Names of the Tasks entered inside a Parallel (its branches run side by side)."""
    names, depth = set(), 0
    for event in events:
        if event["type"] == "ParallelStateEntered":
            depth += 1
        elif event["type"] == "ParallelStateExited":
            depth -= 1
        elif event["type"] == "TaskStateEntered" and depth > 0:
            names.add(event["stateEnteredEventDetails"]["name"])
    return names


def retry_interval_seconds(events: list[dict]) -> float:
    """Real seconds the action steps (not the polls) spent in their Retry intervals, from each
    failed attempt to the next: the world sleeps them x wait_scale, so they convert back through
    the scale, but control_seconds counts them in the action steps. A Parallel's branches retry
    side by side: only its longest branch's intervals count."""
    gaps: dict[str, float] = {}
    for failed, again, name in _retried(events):
        if name not in POLL_STATES:
            gaps[name] = gaps.get(name, 0.0) + (again["timestamp"] - failed["timestamp"]).total_seconds()
    parallel = _parallel_tasks(events)
    return sum(v for k, v in gaps.items() if k not in parallel) + max((v for k, v in gaps.items() if k in parallel), default=0.0)


def modelled_with_faults(wall: float, control: float, intervals: float, baseline_control: float, time_scale: float) -> float:
    """Modelled time to Ready of a faulted run. As without faults, (wall - control) / scale, but the
    faults' cost inside the action steps is kept rather than taken out as overhead: their Retry
    intervals (`intervals`, slept x scale) convert back through the scale, and what else they
    took beyond the same size's fault-free control time (the SDK's own backoffs, the EC2
    consistency window, the steps run again: real seconds here as on AWS) counts as it is."""
    extra = max(0.0, control - intervals - baseline_control)
    return (wall - control + intervals) / time_scale + extra


# --- prices -----------------------------------------------------------------------------------

PRICES_DATE = "2026-11-28"
PRICES_SOURCE = ("aws.amazon.com/step-functions/pricing, /lambda/pricing, /systems-manager/pricing, /kms/pricing, "
                 "/ec2/pricing: US East (N. Virginia), as read on " + PRICES_DATE)
PRICES = {
    "sfn_transition": 0.025 / 1000,  # Standard workflows, per state transition (retries count)
    "lambda_request": 0.20 / 1_000_000,
    "lambda_gb_second_arm64": 0.0000133334,  # first 7.5 billion GB-s per month
    "kms_request": 0.03 / 10_000,  # Decrypt/Encrypt/GenerateDataKey on a SecureString
    "kms_key_month": 1.00,  # the pipeline's customer managed key, shared by every environment
    "ec2_api": 0.0,  # EC2 API calls are free (instances are billed per second, not counted here)
    "ssm_run_command": 0.0,  # Run Command on EC2 instances is free
    "ssm_standard_parameter": 0.0,  # standard parameters and standard throughput are free
}


def dollars(transitions: int, invocations: int, billed_ms: int, memory_mb: int, kms_requests: int) -> dict[str, float]:
    gb_seconds = billed_ms / 1000 * memory_mb / 1024
    cost = {
        "step_functions": transitions * PRICES["sfn_transition"],
        "lambda_requests": invocations * PRICES["lambda_request"],
        "lambda_duration": gb_seconds * PRICES["lambda_gb_second_arm64"],
        "kms": kms_requests * PRICES["kms_request"],
    }
    cost["total"] = sum(cost.values())
    return cost
