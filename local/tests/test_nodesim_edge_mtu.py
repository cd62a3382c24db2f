"""Worker nodes in AWS edge zones: Calico's VXLAN and the 1,300-byte path to the region
(nodesim/calico.py, world/edge_zones.py `path_mtu`, world/network.py zones).

Between an instance in a Local Zone or Wavelength Zone and one in the Region the MTU is 1,300
bytes (EC2 User Guide, "Network maximum transmission unit (MTU) for your EC2 instance"). Calico
in MicroK8s encapsulates pod traffic in VXLAN (50 bytes) and sizes the pods' interfaces from the
host interface (9,001 on EC2: veth 8,951) unless the founding node's launch configuration sets
`extraCNIEnv: {CALICO_VETH_MTU: ...}` (MicroK8s docs, "Launch configurations reference";
scripts/generate-cni.sh). Pods across the edge boundary then reach each other only with
veth_mtu + 50 <= 1,300; DNS (CoreDNS talks to the API server only) is unaffected.

The install document writes `extraCNIEnv: CALICO_VETH_MTU` from its `calicoVethMtu` parameter;
`install_with_cni_env` runs a copy of it whose launch configuration has other keys or values
(those the parameter's allowedPattern refuses, or a document without the parameter).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from test_nodesim import CHANNEL, INSTALL, JOIN, TOKEN_PARAMETER, Env, ok, security_groups
from test_world_network import DNS_HEALTH, EDGEX, EDGEX_HEALTH

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "local"))

from nodesim import calico  # noqa: E402
from nodesim.microk8s import read_launch_configuration  # noqa: E402
from world.network import Group, Host, Network  # noqa: E402

REGION_ZONE = "us-east-1a"
WAVELENGTH = "us-east-1-wl1-bos-wlz-1"
LOCAL_ZONE = "us-east-1-bos-1a"
# Where the install document writes the launch configuration, then puts it in place.
LAUNCH_WRITTEN = 'replace_file_content "$LAUNCH_CONFIG" "$launch_new" || true'


def install_with_cni_env(env: Env, tmp_path: Path, cni_env: str | None) -> None:
    """Installs every node with the install document, its launch configuration extended by
    `cni_env` (YAML lines, e.g. 'extraCNIEnv:\\n  CALICO_VETH_MTU: "1250"\\n'); None: as is."""
    document = INSTALL
    if cni_env is not None:
        text = INSTALL.read_text()
        assert text.count(LAUNCH_WRITTEN) == 1, "the install document no longer writes its launch configuration so"
        indent = text.split(LAUNCH_WRITTEN)[0].rsplit("\n", 1)[1]
        extra = "".join(f"{indent}printf '%s\\n' '{line}' >>\"$launch_new\"\n" for line in cni_env.splitlines())
        document = tmp_path / "install-with-cni-env.yaml"
        document.write_text(text.replace(indent + LAUNCH_WRITTEN, extra + indent + LAUNCH_WRITTEN))
    ok(env.run(document, {"channel": CHANNEL, "hosts": env.hosts()}, env.nodes))


def install_with_mtu(env: Env, tmp_path: Path, mtu: str) -> None:
    """The document's own parameter when it has one, else the same launch configuration."""
    if "calicoVethMtu:" in INSTALL.read_text():
        ok(env.run(INSTALL, {"channel": CHANNEL, "hosts": env.hosts(), "calicoVethMtu": mtu}, env.nodes))
    else:
        install_with_cni_env(env, tmp_path, f'extraCNIEnv:\n  CALICO_VETH_MTU: "{mtu}"\n')


def join_workers(env: Env) -> None:
    """mint and join as the join Lambda sends them (with the region: the AWS CLI's region from
    an edge zone's name is not the region's)."""
    env.new_token()
    ok(env.run(JOIN, {"action": "mint", "tokenParameter": TOKEN_PARAMETER, "tokenTtl": "900", "region": "us-east-1"},
               env.masters[:1]))
    ok(env.run(JOIN, {"action": "join", "tokenParameter": TOKEN_PARAMETER, "masterAddress": env.masters[0].private_ip,
                      "asWorker": "true", "region": "us-east-1"}, env.workers))
    ok([env.verify()])


def edge_cluster(tmp_path: Path, worker_zone: str, cni_env: str | None, master_zone: str = REGION_ZONE,
                 mtu: str | None = None) -> Env:
    """`mtu`: through the document's parameter; `cni_env`: launch configuration lines."""
    env = Env(tmp_path, masters=1, workers=1, zones={"i-m0": master_zone, "i-w0": worker_zone})
    security_groups(env)
    if mtu is not None:
        install_with_mtu(env, tmp_path, mtu)
    else:
        install_with_cni_env(env, tmp_path, cni_env)
    join_workers(env)
    return env


def peers_health(env: Env):
    master = env.masters[0]
    assert env.shell(master, EDGEX).exit_code == 0
    return env.shell(master, EDGEX_HEALTH)


# --- through the documents ------------------------------------------------------------------------

@pytest.mark.parametrize("edge", [WAVELENGTH, LOCAL_ZONE])
def test_an_edge_worker_with_the_detected_mtu_cuts_pod_traffic_to_the_region(tmp_path: Path, edge: str) -> None:
    env = edge_cluster(tmp_path, edge, cni_env=None)
    assert env.cluster.state()["calico"]["i-m0"] == {"veth_mtu": 8951, "calico_veth_mtu": None}
    health = peers_health(env)
    assert health.exit_code == 1 and "timed out waiting for the condition" in health.stderr
    ok([env.shell(env.masters[0], DNS_HEALTH)])  # CoreDNS talks to the API server only


@pytest.mark.parametrize("edge", [WAVELENGTH, LOCAL_ZONE])
def test_an_edge_worker_with_a_veth_mtu_of_1250_reaches_the_region(tmp_path: Path, edge: str) -> None:
    env = edge_cluster(tmp_path, edge, cni_env=None, mtu="1250")
    assert env.cluster.state()["calico"]["i-m0"] == {"veth_mtu": 1250, "calico_veth_mtu": "1250"}
    cni_env = env.shell(env.masters[0], "cat \"$MEC_ROOT/var/snap/microk8s/current/args/cni-env\"")
    assert cni_env.stdout == "CALICO_VETH_MTU=1250\n"
    ok([peers_health(env)])
    ok([env.shell(env.masters[0], DNS_HEALTH)])


def test_one_zone_with_the_detected_mtu_is_whole(tmp_path: Path) -> None:
    env = edge_cluster(tmp_path, REGION_ZONE, cni_env=None)
    ok([peers_health(env)])


def test_the_regions_zones_carry_jumbo_frames_between_them(tmp_path: Path) -> None:
    env = edge_cluster(tmp_path, "us-east-1b", cni_env=None)
    ok([peers_health(env)])


def test_one_wavelength_zone_with_the_detected_mtu_is_whole(tmp_path: Path) -> None:
    """Both nodes in the same edge zone: 9,001 bytes between them."""
    env = edge_cluster(tmp_path, WAVELENGTH, cni_env=None, master_zone=WAVELENGTH)
    ok([peers_health(env)])


def test_an_mtu_too_large_for_the_edge_path_cuts_it_too(tmp_path: Path) -> None:
    env = edge_cluster(tmp_path, WAVELENGTH, cni_env="extraCNIEnv:\n  CALICO_VETH_MTU: 1251\n")  # an int
    assert env.cluster.state()["calico"]["i-m0"]["veth_mtu"] == 1251
    assert peers_health(env).exit_code == 1


def test_an_mtu_that_fits_through_a_launch_configuration_of_its_own(tmp_path: Path) -> None:
    env = edge_cluster(tmp_path, LOCAL_ZONE, cni_env="extraCNIEnv: {CALICO_VETH_MTU: 1250}\n")
    assert env.cluster.state()["calico"]["i-m0"]["veth_mtu"] == 1250
    ok([peers_health(env)])


def test_the_documents_parameter_reaches_the_launch_configuration(tmp_path: Path) -> None:
    if "calicoVethMtu:" not in INSTALL.read_text():
        pytest.skip("the install document has no calicoVethMtu parameter")
    env = edge_cluster(tmp_path, WAVELENGTH, cni_env=None, mtu="1250")
    launch = read_launch_configuration(env.masters[0].root)
    assert launch["extraCNIEnv"] == {"CALICO_VETH_MTU": "1250"}
    assert read_launch_configuration(env.workers[0].root) == {}, "workers get no launch configuration"


def test_the_mtu_is_the_founding_nodes_and_heals_with_the_path(tmp_path: Path) -> None:
    """A worker's own extraCNIEnv does not matter: the founding node's install chose the
    cluster's veth MTU. Fixing the zones (the world's view) heals the workload."""
    env = Env(tmp_path, masters=1, workers=1, zones={"i-m0": REGION_ZONE, "i-w0": WAVELENGTH})
    security_groups(env)
    worker_config = env.workers[0].root / "var/snap/microk8s/common/.microk8s.yaml"
    worker_config.parent.mkdir(parents=True)
    worker_config.write_text('---\nversion: 0.1.0\nextraCNIEnv:\n  CALICO_VETH_MTU: "1250"\n')
    install_with_cni_env(env, tmp_path, None)
    assert env.cluster.state()["calico"]["i-w0"]["veth_mtu"] == 1250, "its own one-node cluster, until it joins"
    join_workers(env)
    assert peers_health(env).exit_code == 1
    env.cluster.set_zone("i-w0", REGION_ZONE)
    ok([env.shell(env.masters[0], EDGEX_HEALTH)])
    assert set(env.cluster.state()["calico"]) == {"i-m0"}, "the worker's own one-node cluster is gone"


def test_without_zones_known_the_simulator_behaves_as_before(tmp_path: Path) -> None:
    env = Env(tmp_path, masters=1, workers=1)
    security_groups(env)
    install_with_cni_env(env, tmp_path, None)
    join_workers(env)
    assert env.cluster.state()["zones"] == {}
    ok([peers_health(env)])


def test_an_unusable_veth_mtu_cuts_pod_traffic_between_nodes(tmp_path: Path) -> None:
    env = edge_cluster(tmp_path, REGION_ZONE, cni_env="extraCNIEnv:\n  CALICO_VETH_MTU: \"1250b\"\n")
    assert env.cluster.state()["calico"]["i-m0"] == {"veth_mtu": None, "calico_veth_mtu": "1250b"}
    assert peers_health(env).exit_code == 1


# --- the world's view: zones from the instances' placement ----------------------------------------

def test_the_worlds_view_carries_the_zones() -> None:
    hosts = [Host("i-a", "10.42.0.10", frozenset(["sg-a"]), zone=REGION_ZONE),
             Host("i-b", "10.42.1.10", frozenset(["sg-a"]), zone=WAVELENGTH),
             Host("i-c", "10.42.1.11", frozenset(["sg-a"]))]
    view = Network(hosts, {"sg-a": Group("sg-a")}).view()
    assert view["zones"] == {"i-a": REGION_ZONE, "i-b": WAVELENGTH}


def test_set_network_hands_the_zones_to_the_state(tmp_path: Path) -> None:
    env = Env(tmp_path, masters=1, workers=1)
    env.cluster.set_network(None, {"i-m0": "running", "i-w0": "running"}, {"i-w0": LOCAL_ZONE})
    state = env.cluster.state()
    assert state["zones"] == {"i-w0": LOCAL_ZONE}
    assert calico.path_mtu(state, "i-m0", "i-w0") == 9001, "the master's zone is not known"
    env.cluster.set_zone("i-m0", REGION_ZONE)
    assert calico.path_mtu(env.cluster.state(), "i-m0", "i-w0") == 1300


# --- reading the launch configuration -------------------------------------------------------------

@pytest.mark.parametrize("written, found", [
    ('extraCNIEnv:\n  CALICO_VETH_MTU: "1250"\n', "1250"),
    ("extraCNIEnv:\n  CALICO_VETH_MTU: 1250\n", "1250"),  # yaml.v2: an integer's text
    ("extraCNIEnv:\n  CALICO_VETH_MTU: '1250'  # edge zones\n", "1250"),
    ('extraCNIEnv: {CALICO_VETH_MTU: "1250", IPv4_SUPPORT: "true"}\n', "1250"),
    ("extraCNIEnv:\n  IPv4_SUPPORT: \"true\"\n", None),
    ("extraCNIEnv:\n  CALICO_VETH_MTU: ~\n", None),
    ("", None),
])
def test_the_launch_configuration_is_read_as_microk8s_reads_it(tmp_path: Path, written: str, found) -> None:
    config = tmp_path / "var/snap/microk8s/common/.microk8s.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("---\nversion: 0.1.0\nextraSANs:\n  - 203.0.113.10\n  - 10.42.0.10\n" + written
                      + "addons:\n  - name: dns\n    args: [--x]\n")
    launch = read_launch_configuration(tmp_path)
    assert launch["extraSANs"] == ["203.0.113.10", "10.42.0.10"]
    assert (launch.get("extraCNIEnv") or {}).get("CALICO_VETH_MTU") == found
    assert launch["addons"] == ["name: dns"], "what is nested deeper is not read"


@pytest.mark.parametrize("value, veth", [
    (None, 8951), ("", 8951), ("0", 8951), ("1250", 1250), ("8951", 8951),
    ("-1", None), ("1250.0", None), ("auto", None), (" 1250", None),
])
def test_the_veth_mtu_of_a_value(value, veth) -> None:
    env = {} if value is None else {"CALICO_VETH_MTU": value}
    assert calico.veth_mtu_from(env)["veth_mtu"] == veth


@pytest.mark.parametrize("a, b, mtu", [
    (REGION_ZONE, WAVELENGTH, 1300), (WAVELENGTH, REGION_ZONE, 1300), (REGION_ZONE, LOCAL_ZONE, 1300),
    (WAVELENGTH, "us-east-1-wl1-nyc-wlz-1", 1300), (WAVELENGTH, WAVELENGTH, 9001),
    (REGION_ZONE, "us-east-1c", 9001), (None, WAVELENGTH, 9001),
])
def test_pods_reach_each_other_when_the_packet_fits(a, b, mtu) -> None:
    state = {"instances": {}, "network": None, "zones": {k: v for k, v in (("i-a", a), ("i-b", b)) if v},
             "calico": {"c": {"veth_mtu": 8951, "calico_veth_mtu": None}}}
    assert calico.path_mtu(state, "i-a", "i-b") == mtu
    assert calico.pods_reach(state, "c", "i-a", "i-b") == (mtu == 9001)
    state["calico"]["c"] = calico.veth_mtu_from({"CALICO_VETH_MTU": "1250"})
    assert calico.pods_reach(state, "c", "i-a", "i-b")
    assert json.dumps(state)  # the state stays JSON


# --- the bare world: the zones come from moto's placement ------------------------------------------

@pytest.fixture(scope="module")
def zone_world(bare_world):
    from conftest import client

    endpoint, state = bare_world
    client(endpoint, "ssm").create_document(Content=INSTALL.read_text(), Name="mec-install",
                                            DocumentType="Command", DocumentFormat="YAML")
    return endpoint, state


def test_the_world_hands_each_instances_zone_to_the_cluster(zone_world) -> None:
    from conftest import client
    from test_world_network import output, retried, run

    endpoint, state = zone_world
    ec2 = client(endpoint, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.43.0.0/16")["Vpc"]["VpcId"]
    subnets = {zone: retried(ec2.create_subnet, VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
               for zone, cidr in (("us-east-1a", "10.43.0.0/24"), ("us-east-1b", "10.43.1.0/24"))}
    image = ec2.describe_images()["Images"][0]["ImageId"]
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "mec:environment", "Value": "mtu-1"}]}]
    launched = {zone: retried(ec2.run_instances, ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.medium",
                              SubnetId=subnet, TagSpecifications=tags)["Instances"][0]
                for zone, subnet in subnets.items()}
    ids = {zone: i["InstanceId"] for zone, i in launched.items()}
    hosts = ",".join(f"{launched[z]['PrivateIpAddress']}=mtu-1-{role}-0"
                     for z, role in (("us-east-1a", "master"), ("us-east-1b", "worker")))
    installed = run(endpoint, "mec-install", list(ids.values()), {"channel": CHANNEL, "hosts": hosts})
    assert {i["Status"] for i in installed.values()} == {"Success"}, [output(i) for i in installed.values()]
    cluster = json.loads((state / "clusters" / "mtu-1" / "state.json").read_text())
    assert cluster["zones"] == {ids["us-east-1a"]: "us-east-1a", ids["us-east-1b"]: "us-east-1b"}
    assert cluster["calico"][ids["us-east-1a"]] == {"veth_mtu": 8951, "calico_veth_mtu": None}
    assert calico.path_mtu(cluster, ids["us-east-1a"], ids["us-east-1b"]) == 9001
