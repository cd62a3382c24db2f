"""The benchmark's arithmetic (no timing here: benchmarks print figures, tests never time)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import model  # noqa: E402
import report  # noqa: E402

FLAT = {key: model.Figure(10.0, "test") for key in model.LATENCY}


def test_lower_bound_sums_the_stages_that_cannot_overlap():
    # boot + registration + install + ready + 1 add-on; workers add join + joined-ready.
    assert model.lower_bound(0, latency=FLAT) == 50
    assert model.lower_bound(2, latency=FLAT) == 70
    assert model.lower_bound(50, latency=FLAT) == 70, "workers install in parallel: the bound does not grow"


def test_prefetch_overlaps_the_download_with_the_registration():
    latency = {**FLAT, "download_seconds": model.Figure(4.0, "test")}
    assert model.lower_bound(2, prefetch=True, latency=latency) == 70 - 4
    longer = {**FLAT, "download_seconds": model.Figure(25.0, "test"), "install_seconds": model.Figure(30.0, "test")}
    # boot 10 + max(registration 10, download 25) + install rest 5 + ready 10 + join 10 + joined 10 + add-on 10
    assert model.lower_bound(2, prefetch=True, latency=longer) == 80


def test_iec_installs_workers_one_by_one_after_a_fixed_wait():
    assert model.iec_type2(0, latency=FLAT) == 40 + 60 + 10
    assert model.iec_type2(2, latency=FLAT) == 40 + 60 + 2 * 40 + 10


def test_waited_seconds_pairs_wait_entries_and_exits():
    from datetime import datetime, timedelta

    t0 = datetime(2026, 1, 1)
    at = lambda s: t0 + timedelta(seconds=s)  # noqa: E731
    events = [
        {"type": "TaskStateEntered", "timestamp": at(0)},
        {"type": "WaitStateEntered", "timestamp": at(1)},
        {"type": "WaitStateExited", "timestamp": at(1.5)},
        {"type": "TaskStateEntered", "timestamp": at(2)},
        {"type": "WaitStateEntered", "timestamp": at(3)},
        {"type": "WaitStateExited", "timestamp": at(3.25)},
    ]
    assert model.waited_seconds(events) == pytest.approx(0.75)


def test_control_seconds_counts_action_steps_and_the_launch_not_the_polls():
    from datetime import datetime, timedelta

    t0 = datetime(2026, 1, 1)

    def ev(kind, name, s):
        key = "stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"
        return {"type": kind, "timestamp": t0 + timedelta(seconds=s), key: {"name": name}}

    events = [
        ev("TaskStateEntered", "Network", 0), ev("TaskStateExited", "Network", 1),
        ev("ParallelStateEntered", "LaunchNodes", 1), ev("TaskStateEntered", "Masters", 1.1),
        ev("TaskStateExited", "Masters", 1.5), ev("ParallelStateExited", "LaunchNodes", 2),
        ev("TaskStateEntered", "CheckNodes", 2), ev("TaskStateExited", "CheckNodes", 3),
        ev("TaskStateEntered", "Install", 3), ev("TaskStateExited", "Install", 3.5),
    ]
    assert model.control_seconds(events) == pytest.approx(1 + 1 + 0.5)


def test_faults_scale_latencies_and_waits_alike():
    faults = model.faults(0.05)
    assert faults["time_scale"] == faults["wait_scale"] == 0.05
    assert faults["install_seconds"] == model.LATENCY["install_seconds"].seconds


def test_dollars():
    cost = model.dollars(transitions=1000, invocations=1_000_000, billed_ms=1000 * 1024, memory_mb=1024, kms_requests=10_000)
    assert cost["step_functions"] == pytest.approx(0.025)
    assert cost["lambda_requests"] == pytest.approx(0.20)
    assert cost["lambda_duration"] == pytest.approx(1024 * 0.0000133334)
    assert cost["kms"] == pytest.approx(0.03)


def test_minutes_format():
    assert report._m(59.6) == "1:00"
    assert report._m(125) == "2:05"


def test_the_install_phase_is_what_the_download_at_boot_leaves():
    # download 4 of install 10, done during the registration: install 6 + ready 10.
    latency = {**FLAT, "download_seconds": model.Figure(4.0, "test")}
    assert model.install_phase(prefetch=True, latency=latency) == 16
    assert model.install_phase(prefetch=False, latency=latency) == 20
    # A download longer than the registration (25 > 10) still runs for 15 s when the command comes.
    longer = {**FLAT, "download_seconds": model.Figure(25.0, "test"), "install_seconds": model.Figure(30.0, "test")}
    assert model.install_phase(prefetch=True, latency=longer) == 15 + 5 + 10


# --- the faults part ----------------------------------------------------------------------------

def test_percentile_interpolates_between_the_closest_ranks():
    runs = [150.0, 130.0, 140.0, 170.0, 160.0]
    assert model.percentile(runs, 50) == 150
    assert model.percentile(runs, 95) == pytest.approx(160 + 0.8 * 10)
    assert model.percentile(runs, 100) == 170 and model.percentile(runs, 0) == 130
    assert model.percentile([42.0], 95) == 42
    assert model.percentile([1.0, 2.0], 50) == 1.5
    with pytest.raises(ValueError):
        model.percentile([], 50)


def test_the_fault_profile_is_layered_over_the_latencies():
    profile = model.fault_profile(0.5)
    assert profile["time_scale"] == profile["wait_scale"] == 0.5
    assert profile["boot_seconds"] == model.LATENCY["boot_seconds"].seconds
    assert profile["aws_error_rate"] == 0.1 and profile["invoke_faults_after_run"] is True
    assert all(s.reason for s in model.FAULT_PROFILE.values()), "every value says why"


def _history():
    """A create with a retried Network step and a Parallel whose branches both retry."""
    from datetime import datetime, timedelta

    t0 = datetime(2026, 1, 1)
    events, last = [], {}

    def ev(kind, at, branch="main", name=None, error=None):
        event = {"id": len(events) + 1, "type": kind, "timestamp": t0 + timedelta(seconds=at), "previousEventId": last.get(branch, 0)}
        if name:
            event["stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"] = {"name": name}
        if error:
            event["taskFailedEventDetails"] = {"error": error, "cause": "injected"}
        events.append(event)
        last[branch] = event["id"]

    ev("TaskStateEntered", 0, name="Network")
    ev("TaskScheduled", 0)
    ev("TaskFailed", 0.5, error="Lambda.ServiceException")
    ev("TaskScheduled", 1.5)  # a 1 s Retry interval
    ev("TaskSucceeded", 2)
    ev("TaskStateExited", 2, name="Network")
    ev("ParallelStateEntered", 2, name="LaunchNodes")
    last["a"] = last["b"] = last["main"]
    ev("TaskStateEntered", 2, "a", name="Masters")
    ev("TaskStateEntered", 2, "b", name="Workers")
    ev("TaskScheduled", 2, "a")
    ev("TaskScheduled", 2, "b")
    ev("TaskFailed", 2.1, "a", error="Throttled")
    ev("TaskFailed", 2.2, "b", error="Throttled")
    ev("TaskScheduled", 2.6, "b")  # 0.4 s
    ev("TaskScheduled", 3.1, "a")  # 1 s: the longer branch
    ev("TaskSucceeded", 3.3, "a")
    ev("TaskSucceeded", 3.3, "b")
    ev("TaskStateExited", 3.3, "a", name="Masters")
    ev("TaskStateExited", 3.3, "b", name="Workers")
    ev("ParallelStateExited", 3.4, name="LaunchNodes")
    ev("TaskStateEntered", 3.4, name="CheckNodes")
    ev("TaskScheduled", 3.4)
    ev("TaskFailed", 3.5, error="Throttled")
    ev("TaskScheduled", 5.5)  # a poll's interval: already in the polls' time
    ev("TaskSucceeded", 6)
    ev("TaskStateExited", 6, name="CheckNodes")
    ev("TaskStateEntered", 6, name="Install")
    ev("TaskScheduled", 6)
    ev("TaskFailed", 6.2, error="States.TaskFailed")  # caught: the run gives up here
    return events


def test_retries_are_counted_by_error_across_parallel_branches():
    assert model.retries_by_error(_history()) == {"Lambda.ServiceException": 1, "Throttled": 3}


def test_retry_intervals_of_the_action_steps_count_the_longest_branch_and_no_poll():
    assert model.retry_interval_seconds(_history()) == pytest.approx(1.0 + 1.0)


def test_gave_up_names_the_failure_that_was_not_retried():
    assert model.gave_up(_history()) == [{"state": "Install", "error": "States.TaskFailed", "cause": "injected"}]


def test_modelled_with_faults_keeps_the_faults_cost_of_the_action_steps():
    # wall 40 s at scale 0.25: polls 36 s; action steps 4 s of which 1 s Retry intervals, the
    # same size without faults 1.5 s of action steps: 1.5 s more (SDK backoffs...) count as is.
    assert model.modelled_with_faults(40, 4, 1, 1.5, 0.25) == pytest.approx((36 + 1) / 0.25 + 1.5)
    # No faults: the usual (wall - control) / scale.
    assert model.modelled_with_faults(40, 1.5, 0, 1.5, 0.25) == pytest.approx(38.5 / 0.25)
    # Faster action steps than the baseline's: nothing negative.
    assert model.modelled_with_faults(40, 1, 0, 1.5, 1) == pytest.approx(39)


def _faults_results(statuses):
    bound = model.lower_bound(2, prefetch=True)
    runs = [{"name": f"flt-2w-{k}", "status": status, "modelled": bound * (1.05 + 0.05 * k),
             "faults": {"by_kind": {"aws-error": 3, "lost-response": 1}}, "retries": {"Lambda.ServiceException": 1} if k else {},
             "teardown": "SUCCEEDED", **({"error": "States.TaskFailed", "cause": "join failed", "gave_up": [{"state": "JoinNodes", "error": "X", "cause": "y"}]}
                                           if status == "FAILED" else {})}
            for k, status in enumerate(statuses)]
    profile = {k: {"value": s.value, "reason": s.reason} for k, s in model.FAULT_PROFILE.items()}
    return {"time_scale": 1.0, "profile": profile, "date": "today",
            "rows": [{"workers": 2, "baseline": {"modelled": bound * 1.1}, "lower_bound": bound, "runs": runs}]}


def test_fault_summary_takes_percentiles_of_the_ready_runs_only():
    summary = report.fault_summary(_faults_results(["SUCCEEDED", "SUCCEEDED", "FAILED", "SUCCEEDED"])["rows"][0])
    bound = model.lower_bound(2, prefetch=True)
    assert (summary["runs"], summary["ready"]) == (4, 3)
    assert summary["p50"] == pytest.approx(bound * 1.10)
    assert summary["p95"] == pytest.approx(bound * (1.10 + 0.9 * 0.10))
    assert summary["faults"] == {"aws-error": 12, "lost-response": 4}
    assert summary["retries"] == {"Lambda.ServiceException": 3}


def test_the_faults_table_shows_ratios_faults_retries_and_every_failed_run():
    text = report.faults_section(_faults_results(["SUCCEEDED", "FAILED"]))
    header, _, row = text.splitlines()[2:5]
    assert header.startswith("| workers | runs | READY | p50 | p95 | lower bound | p50 / bound | p95 / bound |")
    assert row == "| 2 | 2 | 1/2 | 2:29 | 2:29 | 2:22 | 1.05× | 1.05× | 2:36 | aws-error 6, lost-response 2 | 1 (Lambda.ServiceException 1) |"
    assert "- flt-2w-1 (2 workers): FAILED in JoinNodes (X): States.TaskFailed: join failed; teardown SUCCEEDED" in text
    assert "| aws_error_rate | `0.1` |" in text


def test_no_ready_run_leaves_the_percentiles_empty():
    row = report.fault_row(_faults_results(["FAILED"])["rows"][0])
    assert row[2:8] == ["0/1", "-", "-", "2:22", "-", "-"]


def test_a_run_during_which_the_machine_paused_does_not_count():
    results = _faults_results(["SUCCEEDED", "FAILED", "SUCCEEDED"])
    results["rows"][0]["runs"][2]["paused"] = 27.0
    summary = report.fault_summary(results["rows"][0])
    assert (summary["runs"], summary["ready"], summary["paused"]) == (2, 1, 1)
    assert summary["faults"] == {"aws-error": 6, "lost-response": 2}
    assert report.fault_row(results["rows"][0])[1] == "2 (+1 void: machine paused)"
