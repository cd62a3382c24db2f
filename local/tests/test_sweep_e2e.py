"""`mec sweep` in the local world: it refuses without the opt-in, finds what an environment left
(by tags and parameters, whoever started it), deletes it through the teardown machine — or with
the teardown step's own code when no pipeline is deployed — and leaves nothing."""

from __future__ import annotations

import json
import os

from conftest import client, mec, run, tagged


def sweep(endpoint: str, *args: str, opt_in: bool = True, prefix: str = "mec"):
    """`mec --prefix PREFIX sweep ARGS`, with or without the opt-in."""
    previous = os.environ.get("MEC_SWEEP")
    os.environ["MEC_SWEEP"] = "1" if opt_in else "0"
    try:
        return mec(endpoint, "--prefix", prefix, "sweep", *args)
    finally:
        if previous is None:
            os.environ.pop("MEC_SWEEP", None)
        else:
            os.environ["MEC_SWEEP"] = previous


def test_sweep_needs_the_opt_in_and_touches_nothing_without_it(world):
    endpoint, _ = world
    refused = sweep(endpoint, "--yes", opt_in=False)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "MEC_SWEEP=1" in refused.stderr


def test_sweep_finds_and_deletes_left_environments(world):
    endpoint, _ = world
    done = run(endpoint, "mec-provision", "sweep-a--c-1", {"name": "sweep-a", "workers": 0})
    assert done["status"] == "SUCCEEDED", done
    # Minutes old: an age limit of two days keeps it.
    young = sweep(endpoint, "--older-than", "2d", "--json")
    assert young.returncode == 0, young.stderr
    assert "sweep-a" not in [e["name"] for e in json.loads(young.stdout)["environments"]]
    # Not confirmed (no terminal, no --yes): listed, nothing deleted.
    listed = sweep(endpoint)
    assert listed.returncode == 2 and "sweep-a" in listed.stdout, listed.stdout + listed.stderr
    assert tagged(endpoint, "sweep-a") != []
    swept = sweep(endpoint, "--yes")
    assert swept.returncode == 0, swept.stdout + swept.stderr
    assert tagged(endpoint, "sweep-a") == []


def test_sweep_without_a_pipeline_uses_the_teardown_code_itself(world):
    """A pipeline destroyed under a running environment: no teardown machine to start."""
    endpoint, _ = world
    done = run(endpoint, "mec-provision", "sweep-b--c-1", {"name": "sweep-b", "workers": 1})
    assert done["status"] == "SUCCEEDED", done
    swept = sweep(endpoint, "--yes", prefix="no-such-pipeline")
    assert swept.returncode == 0, swept.stdout + swept.stderr
    assert "sweep-b" in swept.stdout
    assert tagged(endpoint, "sweep-b") == []
    assert client(endpoint, "ssm").get_parameters_by_path(Path="/mec/sweep-b", Recursive=True)["Parameters"] == []
