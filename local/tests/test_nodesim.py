"""The node simulator (local/nodesim) running the real mec-install and mec-join documents."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "local"))

from nodesim import (  # noqa: E402
    Cluster,
    InvalidParameters,
    Node,
    Result,
    render,
    run_command,
    run_shell,
)
from nodesim.document import AgentDocumentError  # noqa: E402
from nodesim.parameterstore import ParameterStore  # noqa: E402

INSTALL = ROOT / "functions/install/document.yaml"
JOIN = ROOT / "functions/join/document.yaml"
TOKEN_PARAMETER = "/mec/lab-1/join-token"
TOKEN_REF = "{{ssm-secure:%s}}" % TOKEN_PARAMETER
CHANNEL = "1.32/stable"
# What mec's documents add to the agent's PATH to reach what snaps install (the agent's has no
# /snap/bin: nodesim/runner.py); for the tests' own shell commands on a node.
SNAP_PATH = 'export PATH="$PATH:${MEC_ROOT:-}/snap/bin"\n'


_STORE: list[ParameterStore] = []


def parameter_store() -> ParameterStore:
    """One stand-in SSM endpoint for the module's environments (a daemon thread)."""
    if not _STORE:
        _STORE.append(ParameterStore())
    return _STORE[0]


class Env:
    """One simulated environment with a parameter store, driven through the documents. mint and
    join name the token's parameter (tokenParameter): the node reads it with `aws ssm
    get-parameter`, as the agent resolves no SecureString (test_a_secure_reference_...)."""

    def __init__(self, directory: Path, masters: int = 1, workers: int = 2,
                 zones: dict[str, str] | None = None) -> None:
        """`zones`: instance id (i-m0, i-w0, ...) -> its availability zone, as the world hands
        it (the IMDS placement and state["zones"]); a node not named has no zone known."""
        zones = zones or {}
        self.cluster = Cluster(directory, "lab-1")
        self.cluster.set_time_scale(0.01)
        self.secrets: dict[str, str] = {}
        self.strings: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.masters: list[Node] = []
        self.workers: list[Node] = []
        for i in range(masters):
            node = self.cluster.add_node(f"i-m{i}", f"10.42.0.{10 + i}", f"203.0.113.{10 + i}",
                                         availability_zone=zones.get(f"i-m{i}"))
            self.masters.append(node)
            self.names[node.instance_id] = f"lab-1-master-{i}"
        for i in range(workers):
            node = self.cluster.add_node(f"i-w{i}", f"10.42.1.{10 + i}", availability_zone=zones.get(f"i-w{i}"))
            self.workers.append(node)
            self.names[node.instance_id] = f"lab-1-worker-{i}"
        self.outputs: list[str] = []
        # The nodes' `aws` (snap aws-cli) reads the token from SSM with the instance role's
        # credentials: a stand-in endpoint (nodesim/parameterstore.py) and IMDS credentials.
        self.store = parameter_store()
        self.store.values.clear()
        os.environ["MEC_SIM_AWS_ENDPOINT"] = self.store.url
        for node in self.nodes:
            self.cluster.set_credentials(node.instance_id, "mec-node", self.store.credentials)

    @property
    def nodes(self) -> list[Node]:
        return self.masters + self.workers

    def hosts(self) -> str:
        return ",".join(f"{n.private_ip}={self.names[n.instance_id]}" for n in self.nodes)

    def lookup(self, name: str) -> tuple[str, str] | None:
        """GetParameters as the agent calls it: (Type, Value) or None."""
        if name in self.secrets:
            return "SecureString", self.secrets[name]
        if name in self.strings:
            return "String", self.strings[name]
        return None

    def run(self, doc: Path, parameters: dict[str, str], nodes: list[Node]) -> list[Result]:
        results = run_command(doc, parameters, nodes, self.lookup)
        self.outputs += [r.stdout + r.stderr for r in results]
        return results

    def install(self, nodes: list[Node] | None = None, **extra: str) -> list[Result]:
        params = {"channel": CHANNEL, "hosts": self.hosts(), **extra}
        return self.run(INSTALL, params, self.nodes if nodes is None else nodes)

    def new_token(self, token: str = "Zq8wK2mN4pR6tV1xY3bD5fH7jL9cE0gA") -> str:
        self.secrets[TOKEN_PARAMETER] = token
        self.store.put(TOKEN_PARAMETER, token)
        return token

    def mint(self, ttl: str = "900") -> Result:
        self.new_token()
        return self.run(JOIN, {"action": "mint", "tokenParameter": TOKEN_PARAMETER, "tokenTtl": ttl},
                        self.masters[:1])[0]

    def join(self, nodes: list[Node], as_worker: str = "true",
             master: str | None = None) -> list[Result]:
        params = {
            "action": "join",
            "tokenParameter": TOKEN_PARAMETER,
            "masterAddress": master or self.masters[0].private_ip,
            "asWorker": as_worker,
        }
        return self.run(JOIN, params, nodes)

    def verify(self, names: list[str] | None = None, timeout: str = "5") -> Result:
        expected = ",".join(names or [self.names[n.instance_id] for n in self.nodes])
        params = {"action": "verify", "expectedNodes": expected, "verifyTimeout": timeout}
        return self.run(JOIN, params, self.masters[:1])[0]

    def shell(self, node: Node, script: str) -> Result:
        result = run_shell(node, SNAP_PATH + script)
        self.outputs.append(result.stdout + result.stderr)
        return result


# mec's cluster group (functions/network/src/lib.rs CLUSTER_PORTS): every MicroK8s port from the
# group itself, as (protocol, first port, last port).
CLUSTER_GROUP = "sg-cluster"
MEC_RULES: tuple[tuple[str, int, int], ...] = (
    ("tcp", 16443, 16443), ("tcp", 25000, 25000), ("tcp", 19001, 19001), ("tcp", 12379, 12379),
    ("tcp", 10250, 10250), ("tcp", 10255, 10255), ("tcp", 10257, 10257), ("tcp", 10259, 10259),
    ("udp", 4789, 4789), ("tcp", 30000, 32767), ("udp", 30000, 32767),
)


def security_groups(env: Env, rules: dict[str, list[tuple[str, int, int, str]]] | None = None,
                    membership: dict[str, list[str]] | None = None,
                    states: dict[str, str] | None = None) -> None:
    """Gives the environment a network as the world computes it from EC2 security groups
    (world/network.py): `rules` maps a group to its ingress rules (protocol, first port, last
    port, source group id or CIDR), by default mec's cluster group; `membership` maps an instance
    to its groups (default: every node in the cluster group); `states` the instances' EC2 states."""
    sys.path.insert(0, str(ROOT / "local"))
    from world.network import Group, Host, Network, Permission

    if rules is None:
        rules = {CLUSTER_GROUP: [(p, a, b, CLUSTER_GROUP) for p, a, b in MEC_RULES]}
    groups = {}
    for group_id, ingress in rules.items():
        permissions = tuple(Permission(p, a, b, frozenset([s]) if s.startswith("sg-") else frozenset(),
                                       () if s.startswith("sg-") else (s,)) for p, a, b, s in ingress)
        groups[group_id] = Group(group_id, permissions)
    membership = membership or {}
    states = states or {}
    hosts = [Host(n.instance_id, n.private_ip, frozenset(membership.get(n.instance_id, [CLUSTER_GROUP])),
                  states.get(n.instance_id, "running")) for n in env.nodes]
    view = Network(hosts, groups).view()
    env.cluster.set_network(view["flows"], view["instances"])


def without(*dropped: tuple[str, int]) -> dict[str, list[tuple[str, int, int, str]]]:
    """mec's cluster group without the rules for these (protocol, port)."""
    return {CLUSTER_GROUP: [(p, a, b, CLUSTER_GROUP) for p, a, b in MEC_RULES if (p, a) not in dropped]}


def ok(results: list[Result]) -> None:
    for r in results:
        assert (r.status, r.exit_code) == ("Success", 0), (r.instance_id, r.stdout, r.stderr)


def failed(result: Result, message: str) -> None:
    assert (result.status, result.exit_code) == ("Failed", 1), (result.stdout, result.stderr)
    assert message in result.stdout + result.stderr, (result.stdout, result.stderr)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


@pytest.fixture
def installed(env: Env) -> Env:
    ok(env.install())
    return env


# --- rendering -------------------------------------------------------------------------------

def strings(values: dict[str, tuple[str, str]]):
    return values.get


def test_render_defaults_and_patterns() -> None:
    script = render(JOIN, {"action": "mint", "tokenParameter": TOKEN_PARAMETER}, strings({}))
    assert f"TOKEN_PARAMETER='{TOKEN_PARAMETER}'" in script
    assert "TOKEN_TTL='900'" in script and "AS_WORKER='true'" in script
    assert "{{" not in script
    assert script.startswith("#!/bin/bash\n")
    with pytest.raises(InvalidParameters):
        render(JOIN, {"action": "leave"}, strings({}))
    with pytest.raises(InvalidParameters):
        render(JOIN, {"action": "join", "masterAddress": "10.0.0.1; rm -rf /"}, strings({}))
    with pytest.raises(InvalidParameters):
        render(JOIN, {"action": "join", "surprise": "x"}, strings({}))
    with pytest.raises(InvalidParameters):
        render(INSTALL, {"hosts": "10.0.0.1=a"}, strings({}))  # channel has no default
    with pytest.raises(InvalidParameters):
        render(INSTALL, {"channel": "1.32", "hosts": "10.0.0.1=a"}, strings({}))
    # What mec sent before: a SecureString reference as a value SendCommand checks.
    with pytest.raises(InvalidParameters):
        render(JOIN, {"action": "mint", "tokenParameter": TOKEN_REF}, strings({}))


# A document of the tests' own: `value` free-form (no pattern), `address` with one.
ECHO_DOC = """schemaVersion: "2.2"
description: prints its parameters
parameters:
  value:
    type: String
  address:
    type: String
    default: "10.0.0.1"
    allowedPattern: '^([0-9]{1,3}\\.){3}[0-9]{1,3}$'
mainSteps:
  - action: aws:runShellScript
    name: echo
    inputs:
      timeoutSeconds: "60"
      runCommand:
        - "#!/bin/bash"
        - "printf '%s\\n' '{{ value }}' '{{ address }}'"
"""


@pytest.fixture
def echo_doc(tmp_path: Path) -> Path:
    path = tmp_path / "echo.yaml"
    path.write_text(ECHO_DOC)
    return path


def test_the_agent_leaves_ssm_secure_references_alone(echo_doc: Path) -> None:
    """parameterstore.go resolves only `{{ssm:NAME}}`: `{{ssm-secure:NAME}}` reaches the script."""
    script = render(echo_doc, {"value": TOKEN_REF}, strings({TOKEN_PARAMETER: ("SecureString", "secret")}))
    assert f"'{TOKEN_REF}'" in script
    assert "secret" not in script


def test_the_agent_resolves_ssm_references_to_strings_only(echo_doc: Path) -> None:
    found = strings({"/mec/lab-1/address": ("String", "10.42.0.10"), TOKEN_PARAMETER: ("SecureString", "s" * 32)})
    script = render(echo_doc, {"value": "x", "address": "{{ssm:/mec/lab-1/address}}"}, found)
    assert "'10.42.0.10'" in script
    with pytest.raises(AgentDocumentError, match=r"^Parameters \[/mec/lab-1/join-token\] of type SecureString are not supported$"):
        render(echo_doc, {"value": "{{ssm:%s}}" % TOKEN_PARAMETER}, found)
    with pytest.raises(AgentDocumentError, match=r"^Input contains invalid parameters \[/mec/none\]$"):
        render(echo_doc, {"value": "{{ssm:/mec/none}}"}, found)
    # The resolved value meets allowedPattern on the node (the agent's mandatory validator).
    bad = strings({"/mec/lab-1/address": ("String", "10.0.0.1; reboot")})
    with pytest.raises(AgentDocumentError, match="AllowedRegexParamValidator.*/address/"):
        render(echo_doc, {"value": "x", "address": "{{ssm:/mec/lab-1/address}}"}, bad)


def test_a_secure_reference_reaches_the_script_literally(env: Env, echo_doc: Path) -> None:
    env.new_token()
    result = env.run(echo_doc, {"value": TOKEN_REF}, env.masters)[0]
    assert (result.status, result.exit_code) == ("Success", 0)
    assert result.stdout == f"{TOKEN_REF}\n10.0.0.1\n"


def test_a_securestring_reference_fails_before_the_script(env: Env, echo_doc: Path) -> None:
    env.new_token()
    result = env.run(echo_doc, {"value": "{{ssm:%s}}" % TOKEN_PARAMETER}, env.masters)[0]
    assert (result.status, result.exit_code, result.stdout, result.stderr) == ("Failed", -1, "", "")
    assert result.trace_output == f"Parameters [{TOKEN_PARAMETER}] of type SecureString are not supported"


def test_a_failed_script_ends_its_stderr_with_the_agents_note(env: Env, echo_doc: Path) -> None:
    result = run_shell(env.masters[0], "echo out\necho err >&2\nexit 4")
    assert (result.status, result.exit_code, result.stdout) == ("Failed", 4, "out\n")
    assert result.stderr == "err\nfailed to run commands: exit status 4"


# --- the whole cluster -----------------------------------------------------------------------

def test_one_master_two_workers(installed: Env) -> None:
    env = installed
    for node in env.nodes:
        hosts = (node.root / "etc/hosts").read_text()
        assert hosts.startswith("127.0.0.1 localhost\n# BEGIN mec nodes\n")
        assert "10.42.1.11 lab-1-worker-1\n# END mec nodes\n" in hosts
        assert (node.root / "etc/hostname").read_text().strip() == env.names[node.instance_id]
    state = env.cluster.state()
    assert state["nodes"]["i-m0"]["extra_sans"] == ["203.0.113.10", "10.42.0.10"]
    assert all(n["held"] and n["channel"] == CHANNEL for n in state["nodes"].values())

    minted = env.mint()
    ok([minted])
    assert "token minted, ttl 900s" in minted.stdout
    joined = env.join(env.workers)
    ok(joined)
    assert all("joined 10.42.0.10" in r.stdout for r in joined)
    for worker in env.workers:
        assert (worker.root / "var/snap/microk8s/current/var/lock/clustered.lock").is_file()

    verified = env.verify()
    ok([verified])
    assert verified.stdout.splitlines()[-4:] == [
        "node lab-1-master-0 Ready",
        "node lab-1-worker-0 Ready",
        "node lab-1-worker-1 Ready",
        "ready 3/3",
    ]
    nodes = json.loads(env.shell(env.masters[0], "microk8s kubectl get nodes -o json").stdout)
    labels = {n["metadata"]["name"]: n["metadata"]["labels"] for n in nodes["items"]}
    assert "node.kubernetes.io/microk8s-controlplane" in labels["lab-1-master-0"]
    assert "node.kubernetes.io/microk8s-worker" in labels["lab-1-worker-1"]

    config = env.shell(env.masters[0], "microk8s config && microk8s enable ingress")
    # microk8s-config.wrapper: the default interface's address unless -l (--use-loopback).
    assert "server: https://10.42.0.10:16443" in config.stdout and "ingress is enabled" in config.stdout
    # microk8s-kubectl.wrapper on a worker: its message, exit 0.
    on_worker = env.shell(env.workers[0], "microk8s kubectl get nodes -o json")
    assert on_worker.exit_code == 0 and "acting as a node in a cluster" in on_worker.stdout

    token = env.secrets[TOKEN_PARAMETER]
    assert not any(token in out for out in env.outputs)
    assert token not in env.cluster.dump()


def test_ha_three_masters(tmp_path: Path) -> None:
    env = Env(tmp_path, masters=3, workers=1)
    ok(env.install())
    ok([env.mint()])
    ok(env.join(env.masters[1:], as_worker="false"))
    ok(env.join(env.workers))
    ok([env.verify()])
    for master in env.masters:
        dqlite = (master.root / "var/snap/microk8s/current/var/kubernetes/backend/cluster.yaml")
        assert dqlite.read_text().count("Address: 10.42.0.") == 3
    assert "high-availability: yes" in env.shell(env.masters[0], "microk8s status").stdout
    again = env.join(env.masters[1:], as_worker="false")
    ok(again)
    assert all("already joined" in r.stdout for r in again)


# --- failures --------------------------------------------------------------------------------

def test_join_before_install(env: Env) -> None:
    ok(env.install(env.masters))
    ok([env.mint()])
    failed(env.join(env.workers[:1])[0], "microk8s is not installed on this node")


def test_join_to_a_master_without_microk8s(env: Env) -> None:
    ok(env.install(env.workers[:1]))
    env.new_token()
    failed(env.join(env.workers[:1])[0], "Connection refused")


def test_wrong_token(installed: Env) -> None:
    ok([installed.mint()])
    installed.new_token("W" * 32)
    result = installed.join(installed.workers[:1])[0]
    failed(result, "Invalid token (500)")
    assert "after 3 attempts" in result.stderr
    assert "W" * 32 not in result.stdout + result.stderr


def test_expired_token(installed: Env) -> None:
    ok([installed.mint(ttl="1")])
    time.sleep(1.1)
    failed(installed.join(installed.workers[:1])[0], "Invalid token (500)")


def test_ttl_token_serves_several_joins_single_use_token_one(installed: Env) -> None:
    env = installed
    token = env.new_token()
    ok([env.shell(env.masters[0], f"microk8s add-node --token {token} >/dev/null")])
    ok(env.join(env.workers[:1]))
    failed(env.join(env.workers[1:])[0], "Invalid token (500)")


def test_failed_join_consumes_a_single_use_token(installed: Env) -> None:
    env = installed
    token = env.new_token()
    ok([env.shell(env.masters[0], f"microk8s add-node --token {token} >/dev/null")])
    hosts = env.masters[0].root / "etc/hosts"
    original = hosts.read_text()
    hosts.write_text(original.replace("10.42.1.10 lab-1-worker-0\n", ""))
    result = env.join(env.workers[:1])[0]
    failed(result, "Refusing join (400)")
    assert "Invalid token (500)" in result.stdout  # the retries: the first attempt consumed it
    hosts.write_text(original)
    failed(env.join(env.workers[:1])[0], "Invalid token (500)")


def test_join_to_a_non_master_address(installed: Env) -> None:
    env = installed
    ok([env.mint()])
    worker_0, worker_1 = env.workers
    # A fresh MicroK8s is a one-node control plane of its own, which never saw the token.
    failed(env.join([worker_0], master=worker_1.private_ip)[0], "Invalid token (500)")
    ok(env.join([worker_1]))
    # A joined worker runs no control plane to join.
    failed(env.join([worker_0], master=worker_1.private_ip)[0], "Connection refused")
    failed(env.join([worker_0], master="10.42.9.9")[0], "Timeout")


def test_closed_agent_port(installed: Env) -> None:
    """The security groups without tcp 25000 (the cluster agent): the join times out; with
    mec's rules it goes through."""
    env = installed
    ok([env.mint()])
    security_groups(env, without(("tcp", 25000)))
    assert not env.cluster.reachable("i-w0", "i-m0", "tcp", 25000)
    failed(env.join(env.workers[:1])[0], "Timeout connecting to 10.42.0.10:25000")
    security_groups(env)
    ok(env.join(env.workers[:1]))


def test_channel_skew(env: Env) -> None:
    ok(env.install(env.masters))
    ok(env.run(INSTALL, {"channel": "1.31/stable", "hosts": env.hosts()}, env.workers[:1]))
    ok([env.mint()])
    failed(env.join(env.workers[:1])[0], "Version skew")


def test_verify_with_a_missing_node(installed: Env) -> None:
    ok([installed.mint()])
    ok(installed.join(installed.workers))
    names = ["lab-1-master-0", "lab-1-worker-0", "lab-1-worker-1", "lab-1-worker-9"]
    result = installed.verify(names, timeout="1")
    assert (result.status, result.exit_code) == ("Failed", 1)
    assert "node lab-1-worker-9 NotReady" in result.stdout
    assert "ready 3/4" in result.stdout
    assert "not every expected node is Ready" in result.stderr


def test_install_and_join_are_idempotent(installed: Env) -> None:
    env = installed
    again = env.install()
    ok(again)
    assert all("already installed from 1.32/stable" in r.stdout for r in again)
    assert env.cluster.state()["nodes"]["i-m0"]["install_attempts"] == 1
    ok([env.mint()])
    ok(env.join(env.workers))
    rejoined = env.join(env.workers)
    ok(rejoined)
    assert all("already joined" in r.stdout for r in rejoined)
    ok([env.verify()])


def test_install_rerun_on_a_joined_worker(installed: Env) -> None:
    ok([installed.mint()])
    ok(installed.join(installed.workers[:1]))
    ok(installed.install(installed.workers[:1]))


def test_injected_install_failure(env: Env) -> None:
    env.cluster.fail_install("i-w1")
    results = env.install()
    ok(results[:2])
    failed(results[2], "snap install microk8s --channel=1.32/stable failed 5 times")
    assert env.cluster.state()["nodes"]["i-w1"]["install_attempts"] == 5
    env.cluster.fail_install("i-w1", times=0)
    ok(env.install(env.workers[1:]))


def test_node_never_ready(env: Env) -> None:
    env.cluster.never_ready("i-w0")
    results = env.install(waitReadyTimeout="1")
    ok([results[0], results[2]])
    failed(results[1], "MicroK8s was not ready within 1s")


def test_latency_and_execution_timeout(env: Env) -> None:
    env.cluster.set_latency(install_seconds=300)  # 3 s at time scale 0.01
    params = {"channel": CHANNEL, "hosts": env.hosts()}
    result = run_command(INSTALL, params, env.masters, env.lookup, timeout=1)[0]
    # The agent SIGKILLs the script's process group: exit code 137, TimedOut (executers.go).
    assert (result.status, result.exit_code) == ("TimedOut", 137)
    assert "installing microk8s from 1.32/stable" in result.stdout


# --- the snap downloaded at boot (user data) ---------------------------------------------------

USER_DATA = ROOT / "functions/shared/userdata/prefetch-microk8s.sh"


def boot(env: Env, node: Node, channel: str = CHANNEL) -> Result:
    """What cloud-init does with the user data mec-master/mec-workers launch nodes with: it
    executes the file (its `#!` line chooses bash)."""
    result = run_shell(node, USER_DATA.read_text().replace("@CHANNEL@", channel), user_data=True)
    env.outputs.append(result.stdout + result.stderr)
    return result


def prefetch_dir(node: Node) -> Path:
    return node.root / "var/lib/mec/prefetch"


def test_install_uses_the_snap_downloaded_at_boot(env: Env) -> None:
    ok([boot(env, n) for n in env.nodes])
    assert (prefetch_dir(env.masters[0]) / "channel").read_text() == CHANNEL + "\n"
    results = env.install()
    ok(results)
    assert all(f"installed microk8s from the snap downloaded at boot ({CHANNEL})" in r.stdout for r in results)
    nodes = env.cluster.state()["nodes"]
    # Installed from the file, then tracking the channel as a store install would.
    assert all(n["installed"] and n["channel"] == CHANNEL and n["tracking"] == CHANNEL for n in nodes.values())
    assert not (prefetch_dir(env.masters[0]) / "microk8s.snap").exists(), "the download is removed once installed"
    again = env.install()
    ok(again)
    assert all(f"already installed from {CHANNEL}" in r.stdout for r in again)
    # A clustered environment works as before.
    ok([env.mint()])
    ok(env.join(env.workers))
    ok([env.verify()])


def test_a_download_of_another_channel_or_none_falls_back_to_the_store(env: Env) -> None:
    ok([boot(env, env.masters[0], channel="1.31/stable")])
    results = env.install(env.nodes[:2])  # the master (other channel) and a worker never booted with it
    ok(results)
    for result in results:
        assert f"installing microk8s from {CHANNEL}" in result.stdout
    assert "no complete download of 1.32/stable from boot" in results[0].stdout
    assert all(n["tracking"] == CHANNEL for n in list(env.cluster.state()["nodes"].values())[:2])


def test_the_user_data_does_nothing_on_a_node_that_has_microk8s(installed: Env) -> None:
    node = installed.workers[0]
    ok([boot(installed, node)])
    assert not (prefetch_dir(node) / "microk8s.snap").exists()


def test_a_failing_download_leaves_the_store_install(env: Env) -> None:
    env.cluster.fail_install("i-w0", times=1)  # the store fails once: the download at boot
    ok([boot(env, env.workers[0])])  # user data never fails the boot
    assert not (prefetch_dir(env.workers[0]) / "channel").exists()
    env.cluster.fail_install("i-w0", times=0)
    result = env.install(env.workers[:1])[0]
    ok([result])
    assert f"installing microk8s from {CHANNEL}" in result.stdout


def test_the_install_waits_for_a_download_still_running(env: Env) -> None:
    import threading

    env.cluster.set_latency(install_seconds=60, download_seconds=50)  # 0.5 s of download at 0.01
    node = env.masters[0]
    booting = threading.Thread(target=boot, args=(env, node))
    booting.start()
    deadline = time.time() + 10
    while not (prefetch_dir(node) / "lock").exists() and time.time() < deadline:
        time.sleep(0.02)
    result = env.install([node])[0]
    booting.join()
    ok([result])
    assert f"installed microk8s from the snap downloaded at boot ({CHANNEL})" in result.stdout
