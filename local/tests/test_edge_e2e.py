"""Workers at the edge (docs/edge.md), end to end in the local world: a master in the region and
workers in a Wavelength Zone or a Local Zone reach READY through the real state machine, Lambdas
and SSM documents; the record says what the edge workers got and why; the teardown leaves
nothing, carrier gateway included. Every refusal of an edge spec comes back through the HTTP API
and the CLI as a 4xx / exit 2 naming the field, with nothing created.

The world's edge zones (world/edge_zones.py): us-east-1-wl1-bos-wlz-1 (Wavelength, t3.medium
offered, gp2 only, no spot) and us-east-1-bos-1a (a Local Zone without t3.medium)."""

from __future__ import annotations

import json

import pytest

from conftest import client, mec, run, tagged
from test_api import call, error_of

WAVELENGTH = "us-east-1-wl1-bos-wlz-1"
LOCAL_ZONE = "us-east-1-bos-1a"


@pytest.fixture()
def world(world_with_api):
    return world_with_api


def ready(endpoint: str, state, name: str, spec: dict) -> dict:
    done = run(endpoint, "mec-provision", f"{name}-run-1", {"name": name, **spec}, timeout=300)
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in (state / "logs").glob("*.log"))
    assert done["status"] == "SUCCEEDED", f"{done.get('error')}: {done.get('cause')}\n{logs}"
    return json.loads(done["output"])


def torn_down(endpoint: str, name: str) -> None:
    deleted = run(endpoint, "mec-teardown", f"{name}-delete-1", {"name": name})
    assert deleted["status"] == "SUCCEEDED", deleted
    assert tagged(endpoint, name) == [], "nothing tagged for the environment is left"


def instances(endpoint: str, nodes: list[dict]) -> dict[str, dict]:
    ids = [n["instance_id"] for n in nodes]
    described = client(endpoint, "ec2").describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i for r in described for i in r["Instances"]}


def test_a_master_in_the_region_and_two_wavelength_workers_reach_ready_and_leave_nothing(world):
    endpoint, api, state = world
    # EdgeX's services call each other pod to pod, across the nodes: healthy only when Calico's
    # MTU fits the 1,300-byte path between the region and the zone (nodesim/calico.py).
    record = ready(endpoint, state, "edge-wl", {"workers": 0, "addons": ["dns", "edgex"],
                                                "edge": {"zone": WAVELENGTH, "workers": 2}})
    assert {a["name"]: a["status"] for a in record["addons"]}["edgex"] == "READY", record["addons"]
    edge = record["edge"]
    assert edge["zone"] == WAVELENGTH and edge["zone_type"] == "wavelength-zone"
    assert edge["carrier_gateway_id"].startswith("cagw-")
    assert (edge["instance_type"], edge["volume_type"]) == ("t3.medium", "gp2")
    assert "no Spot" in edge["reason"], edge["reason"]
    assert [m["availability_zone"] for m in record["masters"]] != [WAVELENGTH]
    assert [w["availability_zone"] for w in record["workers"]] == [WAVELENGTH, WAVELENGTH]
    assert [w["name"] for w in record["workers"]] == ["edge-wl-worker-0", "edge-wl-worker-1"]
    described = instances(endpoint, record["workers"])
    for worker in record["workers"]:
        instance = described[worker["instance_id"]]
        assert instance["InstanceType"] == "t3.medium"
        carrier = instance["NetworkInterfaces"][0]["Association"]["CarrierIp"]
        assert worker["public_ip"] == carrier, "a Wavelength worker is reached at its carrier address"
    # The Wavelength subnet routes through the carrier gateway, the region's through the IGW.
    ec2 = client(endpoint, "ec2")
    tables = ec2.describe_route_tables(Filters=[{"Name": "tag:mec:environment", "Values": ["edge-wl"]}])["RouteTables"]
    edge_table = next(t for t in tables if any(r.get("CarrierGatewayId") for r in t["Routes"]))
    edge_subnet = described[record["workers"][0]["instance_id"]]["SubnetId"]
    assert [a["SubnetId"] for a in edge_table["Associations"]] == [edge_subnet]
    # The API and the CLI show the same record, edge included.
    status, body, _ = call(api, "GET", "/environments/edge-wl")
    assert status == 200 and body["edge"] == edge, body
    # The install wrote Calico's MTU for the 1,300-byte path into the master's launch configuration.
    ssm = client(endpoint, "ssm")
    master = record["masters"][0]["instance_id"]
    outputs = [ssm.get_command_invocation(CommandId=c["CommandId"], InstanceId=master)["StandardOutputContent"]
               for c in ssm.list_commands(InstanceId=master)["Commands"] if "install" in c["DocumentName"]]
    assert any("Calico MTU 1250" in o for o in outputs), outputs
    torn_down(endpoint, "edge-wl")
    gateways = ec2.describe_carrier_gateways(CarrierGatewayIds=[edge["carrier_gateway_id"]])["CarrierGateways"]
    assert all(g["State"] in ("deleting", "deleted") for g in gateways), gateways


def test_local_zone_workers_fall_back_to_the_first_offered_type_and_leave_nothing(world):
    endpoint, _, state = world
    record = ready(endpoint, state, "edge-lz", {"workers": 1, "edge": {"zone": LOCAL_ZONE, "workers": 2}})
    edge = record["edge"]
    assert (edge["zone_type"], edge["carrier_gateway_id"]) == ("local-zone", None)
    assert edge["instance_type"] == "t3.xlarge" and "t3.medium not offered" in edge["reason"], edge
    regional, *at_edge = record["workers"]
    assert regional["availability_zone"] != LOCAL_ZONE and regional["name"] == "edge-lz-worker-0"
    assert [w["availability_zone"] for w in at_edge] == [LOCAL_ZONE, LOCAL_ZONE]
    assert [w["name"] for w in at_edge] == ["edge-lz-worker-1", "edge-lz-worker-2"]
    described = instances(endpoint, at_edge)
    assert {i["InstanceType"] for i in described.values()} == {"t3.xlarge"}
    assert all(w["public_ip"] for w in at_edge), "a Local Zone worker gets its subnet's public address"
    torn_down(endpoint, "edge-lz")


REFUSALS = [
    ({"zone": "us-east-1-xyz-9z", "workers": 1}, "edge.zone", "no zone us-east-1-xyz-9z"),
    ({"zone": "us-west-2-lax-1a", "workers": 1}, "edge.zone", "not a zone of the environment's region"),
    ({"zone": "us-east-1a", "workers": 1}, "edge.zone", "Local Zone"),
    ({"zone": WAVELENGTH, "workers": 0}, "edge.workers", "between 1 and 100"),
    ({"zone": WAVELENGTH, "workers": 100}, "edge.workers", "at most 100 workers in all"),
    ({"zone": WAVELENGTH}, "edge.workers", "is required"),
]


@pytest.mark.parametrize(("edge", "field", "rule"), REFUSALS)
def test_every_edge_refusal_names_the_field_through_the_api_and_the_cli_and_creates_nothing(world, edge, field, rule):
    endpoint, api, _ = world
    name = "edge-bad"
    status, body, _ = call(api, "POST", "/environments", json.dumps({"name": name, "edge": edge}))
    error_of(status, body, 400, "InvalidSpec", field)
    assert rule in body["error"]["message"], body
    args = ["create", "--name", name]
    if "workers" in edge:
        args += ["--edge-zone", edge["zone"], "--edge-workers", str(edge["workers"])]
        done = mec(endpoint, *args)
        assert done.returncode == 2 and f"`{field}`" in done.stderr and rule in done.stderr, done.stderr
    assert tagged(endpoint, name) == []
    assert call(api, "GET", f"/environments/{name}")[0] == 404


def test_the_network_step_twice_creates_the_edge_network_once(world):
    endpoint, _, _ = world
    name = "edge-twice"
    payload = json.dumps({"spec": {"name": name, "edge": {"zone": WAVELENGTH, "workers": 1}}, "run_id": "twice-1"})
    lam = client(endpoint, "lambda")
    outputs = []
    for _ in range(2):
        answer = lam.invoke(FunctionName="mec-network", Payload=payload.encode())
        body = json.loads(answer["Payload"].read())
        assert "FunctionError" not in answer, body
        outputs.append(body)
    assert outputs[0] == outputs[1], "the second call finds what the first created"
    ec2 = client(endpoint, "ec2")
    mine = [{"Name": "tag:mec:environment", "Values": [name]}]
    assert len(ec2.describe_carrier_gateways(Filters=mine)["CarrierGateways"]) == 1
    zones = [s["AvailabilityZone"] for s in ec2.describe_subnets(Filters=mine)["Subnets"]]
    assert zones.count(WAVELENGTH) == 1 and len(zones) == len(set(zones))
    assert len(ec2.describe_route_tables(Filters=mine)["RouteTables"]) == 2, "public and edge"
    torn_down(endpoint, name)


def test_a_small_vpc_keeps_a_block_for_the_edge_subnet(world):
    """A /23 VPC holds two subnet blocks: the region's primary and the edge zone's, not a second
    regional zone (spec.rs refuses a /24 with edge: one block only)."""
    endpoint, _, _ = world
    name = "edge-small"
    spec = {"name": name, "vpc_cidr": "10.7.0.0/23", "edge": {"zone": LOCAL_ZONE, "workers": 1}}
    answer = client(endpoint, "lambda").invoke(FunctionName="mec-network",
                                               Payload=json.dumps({"spec": spec, "run_id": "small-1"}).encode())
    network = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, network
    assert network["edge"]["zone"] == LOCAL_ZONE and len(network["subnets"]) == 1, network
    torn_down(endpoint, name)
