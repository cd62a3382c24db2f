"""HA control plane, spot and availability-zone fallback (issue #7).

The first half drives the node simulator with the real mec-join document: control-plane joins,
dqlite voters and `microk8s status`' HA report. The second half runs the whole pipeline in the
local world with capacity errors injected into RunInstances (faults.json `capacity`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_nodesim import CLUSTER_GROUP, JOIN, MEC_RULES, Env, ok, security_groups
from conftest import client, run, tagged
from test_pipeline_e2e import kubectl_nodes

# --- the simulator: quorum, voters, a broken control plane ---------------------------------------


def verify_ha(env: Env, timeout: str = "2"):
    names = ",".join(env.names[n.instance_id] for n in env.nodes)
    control = ",".join(m.private_ip for m in env.masters)
    params = {"action": "verify", "expectedNodes": names, "verifyTimeout": timeout, "controlPlane": control}
    return env.run(JOIN, params, env.masters[:1])[0]


def join_params(env: Env, as_worker: str) -> dict[str, str]:
    return {"action": "join", "tokenParameter": "/mec/lab-1/join-token", "region": "us-east-1",
            "masterAddress": env.masters[0].private_ip, "asWorker": as_worker}


def test_three_masters_joined_one_at_a_time_reach_quorum(tmp_path: Path) -> None:
    env = Env(tmp_path, masters=3, workers=2)
    env.cluster.set_latency(join_seconds=20)  # 0.2 s at the test time scale: joins overlap if sent together
    ok(env.install())
    ok([env.mint()])
    # As the join step sends them: control-plane joins with MaxConcurrency 1, workers at once.
    from nodesim import run_command

    masters = run_command(JOIN, join_params(env, "false"), env.masters[1:], env.lookup, max_concurrency=1)
    ok(masters)
    assert not any("membership change is in progress" in r.stdout + r.stderr for r in masters)
    ok(env.join(env.workers))
    result = verify_ha(env)
    ok([result])
    for master in env.masters:
        assert f"control-plane {master.private_ip} voter" in result.stdout
    assert "high-availability yes" in result.stdout
    status = env.shell(env.masters[0], "microk8s status").stdout
    assert "high-availability: yes" in status
    voters = " ".join(f"{m.private_ip}:19001" for m in env.masters)
    assert f"datastore master nodes: {voters}" in status, status
    dqlite = (env.masters[2].root / "var/snap/microk8s/current/var/kubernetes/backend/cluster.yaml").read_text()
    assert dqlite.count("Role: 0") == 3, dqlite


def test_concurrent_control_plane_joins_collide_in_dqlite_and_retry(tmp_path: Path) -> None:
    env = Env(tmp_path, masters=3, workers=0)
    env.cluster.set_latency(join_seconds=50)
    ok(env.install())
    ok([env.mint()])
    together = env.join(env.masters[1:], as_worker="false")
    ok(together)  # the join script's retry gets the second one in after the first
    assert any("membership change is in progress" in r.stdout + r.stderr for r in together)
    ok([verify_ha(env)])


def test_a_master_joined_as_worker_is_ready_but_not_ha(tmp_path: Path) -> None:
    env = Env(tmp_path, masters=3, workers=0)
    ok(env.install())
    ok([env.mint()])
    ok(env.join(env.masters[1:2], as_worker="false"))
    ok(env.join(env.masters[2:], as_worker="true"))  # the mistake HA verify must catch
    ok([env.verify()])  # every node Ready...
    result = verify_ha(env, timeout="1")  # ...but only two dqlite voters
    assert (result.status, result.exit_code) == ("Failed", 1), result.stdout
    assert f"control-plane {env.masters[2].private_ip} missing" in result.stdout
    assert "high-availability no" in result.stdout
    assert "no high availability" in result.stderr


def test_a_master_that_cannot_join_fails_verify(tmp_path: Path) -> None:
    env = Env(tmp_path, masters=3, workers=1)
    ok(env.install())
    ok([env.mint()])
    # The third master is in another group, which the cluster group's rules do not name: its
    # packets to the first master's cluster agent (tcp 25000) are dropped.
    security_groups(env, {CLUSTER_GROUP: [(p, a, b, CLUSTER_GROUP) for p, a, b in MEC_RULES],
                          "sg-other": [(p, a, b, CLUSTER_GROUP) for p, a, b in MEC_RULES]},
                    membership={env.masters[2].instance_id: ["sg-other"]})
    ok(env.join(env.masters[1:2], as_worker="false"))
    assert env.join(env.masters[2:], as_worker="false")[0].status == "Failed"
    ok(env.join(env.workers))
    result = verify_ha(env, timeout="1")
    assert result.status == "Failed"
    assert "node lab-1-master-2 NotReady" in result.stdout


def test_standbys_beyond_three_voters(tmp_path: Path) -> None:
    env = Env(tmp_path, masters=5, workers=0)
    ok(env.install())
    ok([env.mint()])
    from nodesim import run_command

    ok(run_command(JOIN, join_params(env, "false"), env.masters[1:], env.lookup, max_concurrency=1))
    status = env.shell(env.masters[0], "microk8s status").stdout
    assert "high-availability: yes" in status
    standbys = " ".join(f"{m.private_ip}:19001" for m in env.masters[3:])
    assert f"datastore standby nodes: {standbys}" in status, status


# --- the pipeline: HA, spot and zone fallback with injected capacity errors ----------------------


@pytest.fixture()
def capacity(world):
    """Sets faults.json's `capacity` for one test, and clears it after."""
    _, state = world
    path = state / "faults.json"

    def set_capacity(**values):
        path.write_text(json.dumps({"capacity": values}))

    yield set_capacity
    path.unlink(missing_ok=True)


def instance_tags(endpoint: str, instance_id: str) -> dict[str, str]:
    reservations = client(endpoint, "ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]
    instance = reservations[0]["Instances"][0]
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])} | {"_az": instance["Placement"]["AvailabilityZone"]}


def create_and_delete(endpoint: str, name: str, spec: dict) -> dict:
    done = run(endpoint, "mec-provision", f"{name}--c-1", {"name": name, **spec})
    assert done["status"] == "SUCCEEDED", f"{done.get('error')}: {done.get('cause')}"
    return json.loads(done["output"])


def delete(endpoint: str, name: str) -> None:
    assert run(endpoint, "mec-teardown", f"{name}--d-1", {"name": name})["status"] == "SUCCEEDED"
    assert tagged(endpoint, name) == [], "teardown leaves nothing, fallback subnets included"


def test_three_masters_and_two_workers_reach_ready_with_quorum(world):  # noqa: F811
    endpoint, state = world
    record = create_and_delete(endpoint, "ha-ready", {"masters": 3, "workers": 2, "addons": []})
    assert record["status"] == "READY"
    assert [m["role"] for m in record["masters"]] == ["master"] * 3, "the control plane"
    assert [w["role"] for w in record["workers"]] == ["worker"] * 2
    assert len({m["availability_zone"] for m in record["masters"]}) == 3, "one zone per master"
    table = kubectl_nodes(state, "ha-ready")
    assert table.count(" Ready ") == 5, table
    # Verify passed only with every master a dqlite voter: its output says so.
    ssm = client(endpoint, "ssm")
    master = record["masters"][0]["instance_id"]
    verifies = [c for c in ssm.list_commands(InstanceId=master)["Commands"]
                if c["DocumentName"] == "mec-join" and c["Parameters"]["action"] == ["verify"]]
    assert verifies, "verify ran on the first master"
    assert verifies[0]["Parameters"]["controlPlane"] == [",".join(m["private_ip"] for m in record["masters"])]
    output = ssm.get_command_invocation(CommandId=verifies[0]["CommandId"], InstanceId=master)["StandardOutputContent"]
    assert "high-availability yes" in output, output
    delete(endpoint, "ha-ready")


def test_spot_without_capacity_falls_back_to_on_demand(world, capacity):  # noqa: F811
    endpoint, _ = world
    capacity(spot=True)
    record = create_and_delete(endpoint, "spot-fb", {"workers": 2, "spot": True, "addons": []})
    assert record["status"] == "READY"
    for worker in record["workers"]:
        assert worker["market"] == "on-demand", worker
        assert instance_tags(endpoint, worker["instance_id"])["mec:market"] == "on-demand"
    assert record["masters"][0]["market"] == "on-demand"
    delete(endpoint, "spot-fb")


def test_spot_with_capacity_stays_spot(world, capacity):  # noqa: F811
    endpoint, _ = world
    capacity(on_demand=True, azs=["nowhere-1z"])  # a fault for another zone changes nothing
    record = create_and_delete(endpoint, "spot-ok", {"workers": 1, "spot": True, "addons": []})
    assert [w["market"] for w in record["workers"]] == ["spot"]
    delete(endpoint, "spot-ok")


def test_a_zone_without_capacity_falls_back_to_the_next_zone(world, capacity):  # noqa: F811
    endpoint, _ = world
    # The network step picks zones by name: the first zone offering the types is the primary.
    zones = sorted(z["ZoneName"] for z in client(endpoint, "ec2").describe_availability_zones()["AvailabilityZones"])
    offered = {o["Location"] for o in client(endpoint, "ec2").describe_instance_type_offerings(
        LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": ["t4g.medium"]}])["InstanceTypeOfferings"]}
    primary = next(z for z in zones if z in offered)
    capacity(spot=True, on_demand=True, azs=[primary])
    record = create_and_delete(endpoint, "az-fb", {"masters": 1, "workers": 2, "spot": True, "addons": []})
    assert record["status"] == "READY"
    nodes = record["masters"] + record["workers"]
    fallback = {n["availability_zone"] for n in nodes}
    assert len(fallback) == 1 and primary not in fallback, fallback
    for node in nodes:
        assert instance_tags(endpoint, node["instance_id"])["_az"] == node["availability_zone"]
    # Spot is tried first in the next zone too, and that zone has it.
    assert [w["market"] for w in record["workers"]] == ["spot", "spot"]
    delete(endpoint, "az-fb")
