"""Security groups as the simulated clusters' network (world/network.py, nodesim/state.py FLOWS).

Each MicroK8s flow (MicroK8s docs, "Services and ports") goes through only when the groups admit
it from that source, as EC2 evaluates them (EC2 User Guide, "Security group rules"), and dropping
only that rule breaks exactly what MicroK8s uses it for: tcp 25000 the join (it times out), tcp
16443 a worker's Ready (its kubelet cannot post its status), tcp 19001 a control-plane joiner's
datastore (it never turns Ready, HA verify fails), tcp 10250 the API server's calls to a kubelet
(node proxy, logs, exec: the node stays Ready), udp 4789 pod-to-pod traffic between nodes (an
application whose parts call each other never becomes Available). A stopped or terminated
instance drops out: it answers nothing, it is NotReady, its dqlite vote goes.

The first part drives the node simulator with the real documents and a network computed from
groups by world/network.py; the last part runs the bare local world: moto's groups, Run Command
and TerminateInstances, the network refreshed by the world itself.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from conftest import client
from test_nodesim import (
    CLUSTER_GROUP,
    JOIN,
    MEC_RULES,
    Env,
    failed,
    ok,
    security_groups,
    without,
)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "local"))

from world.network import Group, Host, Network, Permission  # noqa: E402

EDGEX = ("microk8s helm3 upgrade --install edgex-napa "
         "https://github.com/edgexfoundry/edgex-helm/releases/download/v3.1.0/edgex-helm.tar.gz "
         "--namespace edgex --create-namespace")
EDGEX_HEALTH = "microk8s kubectl -n edgex wait --for=condition=Available deployment --all --timeout=30s"
DNS_HEALTH = "microk8s kubectl -n kube-system rollout status deployment/coredns --timeout=30s"


def joined(env: Env) -> Env:
    """Installed, every worker joined, every node Ready."""
    ok(env.install())
    ok([env.mint()])
    ok(env.join(env.workers))
    return env


def verify_ha(env: Env, timeout: str = "1"):
    names = ",".join(env.names[n.instance_id] for n in env.nodes)
    control = ",".join(m.private_ip for m in env.masters)
    params = {"action": "verify", "expectedNodes": names, "verifyTimeout": timeout, "controlPlane": control}
    return env.run(JOIN, params, env.masters[:1])[0]


def kubelet_health(env: Env, name: str):
    return env.shell(env.masters[0], f"microk8s kubectl get --raw /api/v1/nodes/{name}/proxy/healthz")


# --- the rules, as EC2 evaluates them ------------------------------------------------------------

A = Host("i-a", "10.42.0.10", frozenset(["sg-a"]))
B = Host("i-b", "10.42.1.10", frozenset(["sg-b"]))


def network(ingress_of_b: list[Permission], egress_of_a: tuple[Permission, ...] | None = None) -> Network:
    a = Group("sg-a") if egress_of_a is None else Group("sg-a", egress=egress_of_a)
    return Network([A, B], {"sg-a": a, "sg-b": Group("sg-b", tuple(ingress_of_b))})


@pytest.mark.parametrize("rule, admitted", [
    (Permission("tcp", 25000, 25000, frozenset(["sg-a"])), {("tcp", 25000)}),
    (Permission("6", 25000, 25000, frozenset(["sg-a"])), {("tcp", 25000)}),  # protocol number
    (Permission("tcp", 10000, 20000, frozenset(["sg-a"])), {("tcp", 16443), ("tcp", 10250), ("tcp", 19001)}),
    (Permission("udp", 4789, 4789, frozenset(["sg-a"])), {("udp", 4789)}),
    (Permission("udp", 25000, 25000, frozenset(["sg-a"])), set()),  # the wrong protocol
    (Permission("-1", None, None, frozenset(["sg-a"])), {("tcp", 25000), ("tcp", 16443), ("tcp", 10250),
                                                        ("tcp", 19001), ("udp", 4789)}),  # all traffic
    (Permission("tcp", 25000, 25000, frozenset(["sg-b"])), set()),  # another group: not A's
    (Permission("tcp", 25000, 25000, cidrs=("10.42.0.0/24",)), {("tcp", 25000)}),  # A's private IP
    (Permission("tcp", 25000, 25000, cidrs=("10.42.0.11/32",)), set()),  # a range without it
])
def test_a_rule_admits_its_protocol_ports_and_source_only(rule: Permission, admitted: set) -> None:
    net = network([rule])
    found = {(p, port) for p, port in [("tcp", 25000), ("tcp", 16443), ("tcp", 10250), ("tcp", 19001), ("udp", 4789)]
             if net.admits(A, B, p, port)}
    assert found == admitted
    assert not any(net.admits(B, A, p, port) for p, port in admitted), "ingress is per destination"


def test_the_senders_outbound_rules_count_too() -> None:
    rule = Permission("tcp", 25000, 25000, frozenset(["sg-a"]))
    assert network([rule]).admits(A, B, "tcp", 25000), "a new group may send anything (0.0.0.0/0)"
    assert not network([rule], egress_of_a=()).admits(A, B, "tcp", 25000)
    only_b = (Permission("tcp", 0, 65535, frozenset(["sg-b"])),)
    assert network([rule], egress_of_a=only_b).admits(A, B, "tcp", 25000)


@pytest.mark.parametrize("state", ["pending", "stopping", "stopped", "shutting-down", "terminated"])
def test_an_instance_that_is_not_running_sends_and_answers_nothing(state: str) -> None:
    everything = Permission("-1", None, None, frozenset(["sg-a", "sg-b"]))
    down = Host("i-b", "10.42.1.10", frozenset(["sg-b"]), state)
    net = Network([A, down], {"sg-a": Group("sg-a", (everything,)), "sg-b": Group("sg-b", (everything,))})
    assert not net.admits(A, down, "tcp", 25000) and not net.admits(down, A, "tcp", 16443)
    assert net.view()["flows"]["tcp/25000"]["i-b"] == ["i-b"], "itself only (loopback)"


# --- each flow on the simulated cluster ----------------------------------------------------------

def test_mecs_cluster_group_admits_every_flow_the_cluster_uses(tmp_path: Path) -> None:
    env = Env(tmp_path, masters=1, workers=2)
    security_groups(env)
    joined(env)
    ok([env.verify()])
    for worker in env.workers:
        assert kubelet_health(env, env.names[worker.instance_id]).stdout.strip() == "ok"
    ok([env.shell(env.masters[0], f"{EDGEX} >/dev/null && {EDGEX_HEALTH}")])


def test_without_25000_a_join_times_out(tmp_path: Path) -> None:
    env = Env(tmp_path, masters=1, workers=1)
    security_groups(env, without(("tcp", 25000)))
    ok(env.install())
    ok([env.mint()])
    failed(env.join(env.workers)[0], "Timeout connecting to 10.42.0.10:25000 (is the port open?)")
    security_groups(env)
    ok(env.join(env.workers))


def test_25000_admits_only_the_rules_source(tmp_path: Path) -> None:
    env = Env(tmp_path, masters=1, workers=1)
    others = [(p, a, b, CLUSTER_GROUP) for p, a, b in MEC_RULES if (p, a) != ("tcp", 25000)]
    ok(env.install())
    ok([env.mint("900")])
    # From another group: the worker is not in it.
    security_groups(env, {CLUSTER_GROUP: [*others, ("tcp", 25000, 25000, "sg-other")]})
    failed(env.join(env.workers)[0], "Timeout connecting to 10.42.0.10:25000")
    # A range without the worker's private address (10.42.1.10), then one with it.
    security_groups(env, {CLUSTER_GROUP: [*others, ("tcp", 25000, 25000, "10.42.0.0/24")]})
    failed(env.join(env.workers)[0], "Timeout connecting to 10.42.0.10:25000")
    security_groups(env, {CLUSTER_GROUP: [*others, ("tcp", 25000, 25000, "10.42.1.0/24")]})
    ok(env.join(env.workers))


def test_without_16443_workers_join_but_never_turn_ready(tmp_path: Path) -> None:
    env = Env(tmp_path, masters=1, workers=2)
    security_groups(env, without(("tcp", 16443)))
    joined(env)  # the join itself goes through the cluster agent only
    result = env.verify(timeout="1")
    assert (result.status, result.exit_code) == ("Failed", 1)
    assert "node lab-1-master-0 Ready" in result.stdout
    assert "node lab-1-worker-0 NotReady" in result.stdout and "node lab-1-worker-1 NotReady" in result.stdout
    assert kubelet_health(env, "lab-1-worker-0").stdout.strip() == "ok", "10250 still answers"
    security_groups(env)
    ok([env.verify()])


def test_without_10250_nodes_stay_ready_but_the_api_server_cannot_reach_their_kubelets(tmp_path: Path) -> None:
    env = Env(tmp_path, masters=1, workers=2)
    security_groups(env, without(("tcp", 10250)))
    joined(env)
    ok([env.verify()])  # Ready is the kubelet posting its status: kubelet -> API server
    refused = kubelet_health(env, "lab-1-worker-1")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error from server (ServiceUnavailable): error trying to reach service: "
                                     "dial tcp 10.42.1.11:10250: i/o timeout\n")
    assert kubelet_health(env, "lab-1-master-0").stdout.strip() == "ok", "its own kubelet: no network"
    ok([env.shell(env.masters[0], f"{EDGEX} >/dev/null && {EDGEX_HEALTH}")])


def test_without_19001_control_plane_joiners_get_no_datastore(tmp_path: Path) -> None:
    env = Env(tmp_path, masters=3, workers=1)
    security_groups(env, without(("tcp", 19001)))
    ok(env.install())
    ok([env.mint()])
    from nodesim import run_command

    params = {"action": "join", "tokenParameter": "/mec/lab-1/join-token", "masterAddress": env.masters[0].private_ip,
              "asWorker": "false"}
    masters = run_command(JOIN, params, env.masters[1:], env.lookup, max_concurrency=1)
    # update_dqlite waits for the node in the datastore, then goes on: the join ends well...
    ok(masters)
    assert all(".. .. .. .. .. .. .. .. .. .." in r.stdout for r in masters), masters[0].stdout
    ok(env.join(env.workers))
    result = verify_ha(env)
    # ...but the joiners' API servers have no datastore: they never turn Ready.
    assert (result.status, result.exit_code) == ("Failed", 1)
    assert "node lab-1-master-1 NotReady" in result.stdout and "node lab-1-master-2 NotReady" in result.stdout
    assert "node lab-1-worker-0 Ready" in result.stdout, "the worker reaches the first master's API server"
    status = env.shell(env.masters[0], "microk8s status").stdout
    assert "high-availability: no" in status and "datastore master nodes: 127.0.0.1:19001" in status
    # With the rule, their k8s-dqlite gets in (it keeps trying to join): three voters.
    security_groups(env)
    ok([verify_ha(env)])


def test_without_4789_pods_cannot_reach_each_other_across_nodes(tmp_path: Path) -> None:
    env = Env(tmp_path, masters=1, workers=1)
    security_groups(env, without(("udp", 4789)))
    joined(env)
    ok([env.verify()])
    master = env.masters[0]
    assert env.shell(master, EDGEX).exit_code == 0
    health = env.shell(master, EDGEX_HEALTH)
    assert health.exit_code == 1 and "timed out waiting for the condition" in health.stderr
    ok([env.shell(master, DNS_HEALTH)])  # CoreDNS talks to the API server only
    assert kubelet_health(env, "lab-1-worker-0").stdout.strip() == "ok"
    security_groups(env)
    ok([env.shell(master, EDGEX_HEALTH)])


def test_one_node_needs_no_pod_network(tmp_path: Path) -> None:
    env = Env(tmp_path, masters=1, workers=0)
    security_groups(env, without(("udp", 4789)))
    ok(env.install())
    ok([env.shell(env.masters[0], f"{EDGEX} >/dev/null && {EDGEX_HEALTH}")])


# --- a node that is not running drops out --------------------------------------------------------

@pytest.mark.parametrize("state", ["shutting-down", "terminated", "stopped"])
def test_a_worker_that_is_not_running_is_not_ready(tmp_path: Path, state: str) -> None:
    env = Env(tmp_path, masters=1, workers=2)
    security_groups(env)
    joined(env)
    ok([env.verify()])
    security_groups(env, states={"i-w1": state})
    result = env.verify(timeout="1")
    assert result.status == "Failed"
    assert "node lab-1-worker-0 Ready" in result.stdout and "node lab-1-worker-1 NotReady" in result.stdout
    nodes = json.loads(env.shell(env.masters[0], "microk8s kubectl get nodes -o json").stdout)["items"]
    condition = {n["metadata"]["name"]: n["status"]["conditions"][0] for n in nodes}["lab-1-worker-1"]
    assert (condition["status"], condition["reason"]) == ("Unknown", "NodeStatusUnknown")
    unreachable = kubelet_health(env, "lab-1-worker-1")
    assert "dial tcp 10.42.1.11:10250: i/o timeout" in unreachable.stderr


def test_a_join_to_a_terminated_master_times_out(tmp_path: Path) -> None:
    env = Env(tmp_path, masters=1, workers=1)
    security_groups(env)
    ok(env.install())
    ok([env.mint()])
    env.cluster.set_instance_state("i-m0", "terminated")
    failed(env.join(env.workers)[0], "Timeout connecting to 10.42.0.10:25000")


def test_a_terminated_master_loses_its_vote_and_ha_verify_notices(tmp_path: Path) -> None:
    env = Env(tmp_path, masters=3, workers=0)
    security_groups(env)
    ok(env.install())
    ok([env.mint()])
    from nodesim import run_command

    params = {"action": "join", "tokenParameter": "/mec/lab-1/join-token", "masterAddress": env.masters[0].private_ip,
              "asWorker": "false"}
    ok(run_command(JOIN, params, env.masters[1:], env.lookup, max_concurrency=1))
    ok([verify_ha(env)])
    env.cluster.set_instance_state("i-m2", "terminated")
    result = verify_ha(env)
    assert result.status == "Failed" and "node lab-1-master-2 NotReady" in result.stdout


def test_with_five_masters_a_lost_voter_is_replaced_by_a_standby(tmp_path: Path) -> None:
    """go-dqlite's roles adjustment: an online stand-by is promoted, the offline voter demoted."""
    env = Env(tmp_path, masters=5, workers=0)
    security_groups(env)
    ok(env.install())
    ok([env.mint()])
    from nodesim import run_command

    params = {"action": "join", "tokenParameter": "/mec/lab-1/join-token", "masterAddress": env.masters[0].private_ip,
              "asWorker": "false"}
    ok(run_command(JOIN, params, env.masters[1:], env.lookup, max_concurrency=1))
    ip = [m.private_ip for m in env.masters]
    status = env.shell(env.masters[0], "microk8s status").stdout
    assert f"datastore master nodes: {ip[0]}:19001 {ip[1]}:19001 {ip[2]}:19001" in status
    env.cluster.set_instance_state("i-m1", "terminated")
    status = env.shell(env.masters[0], "microk8s status").stdout
    assert f"datastore master nodes: {ip[0]}:19001 {ip[2]}:19001 {ip[3]}:19001" in status, status
    assert f"datastore standby nodes: {ip[4]}:19001" in status, status
    result = verify_ha(env)
    assert result.status == "Failed" and "node lab-1-master-1 NotReady" in result.stdout


# --- the bare world: moto's groups, Run Command, TerminateInstances ---------------------------

SCRIPT_DOC = "t-net-script"
SCRIPT_CONTENT = """schemaVersion: "2.2"
description: runs its body
parameters:
  body:
    type: String
    description: the whole script
mainSteps:
  - action: aws:runShellScript
    name: runBody
    inputs:
      runCommand:
        - "{{ body }}"
"""
TOKEN = "Zq8wK2mN4pR6tV1xY3bD5fH7jL9cE0gA"


@pytest.fixture(scope="module")
def net_world(bare_world):
    """The bare world with the real mec-install document and a script document."""
    endpoint, state = bare_world
    ssm = client(endpoint, "ssm")
    ssm.create_document(Content=(ROOT / "functions/install/document.yaml").read_text(), Name="mec-install",
                        DocumentType="Command", DocumentFormat="YAML")
    ssm.create_document(Content=SCRIPT_CONTENT, Name=SCRIPT_DOC, DocumentType="Command", DocumentFormat="YAML")
    return endpoint, state


def retried(call, *args, **kwargs):
    """EC2 eventual consistency (world/ec2_time.py): a new ID is unknown for a moment."""
    deadline = time.time() + 10
    while True:
        try:
            return call(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - NotFound while the ID propagates
            if "NotFound" not in str(error) or time.time() > deadline:
                raise
            time.sleep(0.2)


def run(endpoint: str, document: str, ids: list[str], parameters: dict[str, str]) -> dict[str, dict]:
    ssm = client(endpoint, "ssm")
    command = retried(ssm.send_command, DocumentName=document, InstanceIds=ids,
                      Parameters={k: [v] for k, v in parameters.items()})["Command"]["CommandId"]
    deadline = time.time() + 120
    while True:
        found = ssm.list_command_invocations(CommandId=command, Details=True)["CommandInvocations"]
        if found and all(i["Status"] in ("Success", "Failed", "TimedOut", "Cancelled") for i in found):
            return {i["InstanceId"]: i for i in found}
        assert time.time() < deadline
        time.sleep(0.2)


def script(endpoint: str, instance_id: str, body: str) -> dict:
    body = 'export PATH="$PATH:$MEC_ROOT/snap/bin"\n' + body
    return run(endpoint, SCRIPT_DOC, [instance_id], {"body": body})[instance_id]


def output(invocation: dict) -> str:
    return invocation["CommandPlugins"][0]["Output"]


def test_the_world_applies_the_groups_and_the_instances_states(net_world) -> None:
    endpoint, state = net_world
    ec2 = client(endpoint, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = retried(ec2.create_subnet, VpcId=vpc, CidrBlock="10.42.0.0/24")["Subnet"]["SubnetId"]
    group = retried(ec2.create_security_group, GroupName="net-1-cluster", Description="cluster", VpcId=vpc)["GroupId"]
    permissions = [{"IpProtocol": p, "FromPort": a, "ToPort": b, "UserIdGroupPairs": [{"GroupId": group}]}
                   for p, a, b in MEC_RULES]
    retried(ec2.authorize_security_group_ingress, GroupId=group, IpPermissions=permissions)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "mec:environment", "Value": "net-1"}]}]
    launched = retried(ec2.run_instances, ImageId=image, MinCount=3, MaxCount=3, InstanceType="t3.medium",
                       SubnetId=subnet, SecurityGroupIds=[group], TagSpecifications=tags)["Instances"]
    ids = [i["InstanceId"] for i in launched]
    ips = {i["InstanceId"]: i["PrivateIpAddress"] for i in launched}
    master, worker, late = ids
    hosts = ",".join(f"{ips[i]}={name}" for i, name in zip(ids, ["net-1-master-0", "net-1-worker-0", "net-1-worker-1"]))
    installed = run(endpoint, "mec-install", ids, {"channel": "1.32/stable", "hosts": hosts})
    assert {i["Status"] for i in installed.values()} == {"Success"}, [output(i) for i in installed.values()]
    cluster_state = state / "clusters" / "net-1" / "state.json"
    flows = json.loads(cluster_state.read_text())["network"]["flows"]
    assert sorted(flows["tcp/25000"][master]) == sorted(ids), "the group admits its own members"

    minted = script(endpoint, master, f"microk8s add-node --token {TOKEN} --token-ttl 900 --format short")
    assert minted["Status"] == "Success", output(minted)
    joined = script(endpoint, worker, f"microk8s join {ips[master]}:25000/{TOKEN} --worker --skip-verify")
    assert joined["Status"] == "Success", output(joined)

    # Revoking the rule reaches the cluster at once (the world refreshes after the call).
    retried(ec2.revoke_security_group_ingress, GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 25000, "ToPort": 25000, "UserIdGroupPairs": [{"GroupId": group}]}])
    assert json.loads(cluster_state.read_text())["network"]["flows"]["tcp/25000"][master] == [master]
    refused = script(endpoint, late, f"microk8s join {ips[master]}:25000/{TOKEN} --worker --skip-verify")
    assert refused["Status"] == "Failed" and f"Timeout connecting to {ips[master]}:25000" in output(refused)

    nodes = script(endpoint, master, "microk8s kubectl get nodes")
    assert " Ready " in output(nodes).splitlines()[2], output(nodes)
    ec2.terminate_instances(InstanceIds=[worker])
    assert json.loads(cluster_state.read_text())["instances"][worker] == "shutting-down"
    nodes = script(endpoint, master, "microk8s kubectl get nodes")
    table = {line.split()[0]: line.split()[1] for line in output(nodes).splitlines()[1:]}
    assert table == {"net-1-master-0": "Ready", "net-1-worker-0": "NotReady"}, output(nodes)


def test_the_closed_ports_fault_revokes_the_groups_rules(net_world) -> None:
    endpoint, state = net_world
    ec2 = client(endpoint, "ec2")
    group = retried(ec2.create_security_group, GroupName="net-2-cluster", Description="cluster")["GroupId"]
    retried(ec2.authorize_security_group_ingress, GroupId=group, IpPermissions=[
        {"IpProtocol": p, "FromPort": a, "ToPort": b, "UserIdGroupPairs": [{"GroupId": group}]} for p, a, b in MEC_RULES])
    image = ec2.describe_images()["Images"][0]["ImageId"]
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "mec:environment", "Value": "net-2"}]}]
    ids = [i["InstanceId"] for i in retried(ec2.run_instances, ImageId=image, MinCount=2, MaxCount=2,
                                            InstanceType="t3.medium", SecurityGroupIds=[group],
                                            TagSpecifications=tags)["Instances"]]
    faults = state / "faults.json"
    faults.write_text(json.dumps({"closed_ports": [4789]}))
    try:
        assert script(endpoint, ids[0], "true")["Status"] == "Success"
    finally:
        faults.unlink()
    rules = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    assert not any(r["IpProtocol"] == "udp" and r["FromPort"] <= 4789 <= r["ToPort"] for r in rules)
    assert any(r["IpProtocol"] == "tcp" and r["FromPort"] == 25000 for r in rules), "only that port's rules go"
    flows = json.loads((state / "clusters" / "net-2" / "state.json").read_text())["network"]["flows"]
    assert flows["udp/4789"][ids[1]] == [ids[1]] and sorted(flows["tcp/25000"][ids[1]]) == sorted(ids)
