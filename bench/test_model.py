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
