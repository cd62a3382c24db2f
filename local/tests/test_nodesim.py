"""The node simulator (local/nodesim) running the real mec-install and mec-join documents."""

from __future__ import annotations

import json
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

INSTALL = ROOT / "functions/install/document.yaml"
JOIN = ROOT / "functions/join/document.yaml"
TOKEN_PARAMETER = "/mec/lab-1/join-token"
TOKEN_REF = "{{ssm-secure:%s}}" % TOKEN_PARAMETER
CHANNEL = "1.32/stable"


class Env:
    """One simulated environment with a SecureString store, driven through the documents."""

    def __init__(self, directory: Path, masters: int = 1, workers: int = 2) -> None:
        self.cluster = Cluster(directory, "lab-1")
        self.cluster.set_time_scale(0.01)
        self.secrets: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.masters: list[Node] = []
        self.workers: list[Node] = []
        for i in range(masters):
            node = self.cluster.add_node(f"i-m{i}", f"10.42.0.{10 + i}", f"203.0.113.{10 + i}")
            self.masters.append(node)
            self.names[node.instance_id] = f"lab-1-master-{i}"
        for i in range(workers):
            node = self.cluster.add_node(f"i-w{i}", f"10.42.1.{10 + i}")
            self.workers.append(node)
            self.names[node.instance_id] = f"lab-1-worker-{i}"
        self.outputs: list[str] = []

    @property
    def nodes(self) -> list[Node]:
        return self.masters + self.workers

    def hosts(self) -> str:
        return ",".join(f"{n.private_ip}={self.names[n.instance_id]}" for n in self.nodes)

    def run(self, doc: Path, parameters: dict[str, str], nodes: list[Node]) -> list[Result]:
        results = run_command(doc, parameters, nodes, self.secrets.__getitem__)
        self.outputs += [r.stdout + r.stderr for r in results]
        return results

    def install(self, nodes: list[Node] | None = None, **extra: str) -> list[Result]:
        params = {"channel": CHANNEL, "hosts": self.hosts(), **extra}
        return self.run(INSTALL, params, self.nodes if nodes is None else nodes)

    def new_token(self, token: str = "Zq8wK2mN4pR6tV1xY3bD5fH7jL9cE0gA") -> str:
        self.secrets[TOKEN_PARAMETER] = token
        return token

    def mint(self, ttl: str = "900") -> Result:
        self.new_token()
        return self.run(JOIN, {"action": "mint", "token": TOKEN_REF, "tokenTtl": ttl},
                        self.masters[:1])[0]

    def join(self, nodes: list[Node], as_worker: str = "true",
             master: str | None = None) -> list[Result]:
        params = {
            "action": "join",
            "token": TOKEN_REF,
            "masterAddress": master or self.masters[0].private_ip,
            "asWorker": as_worker,
        }
        return self.run(JOIN, params, nodes)

    def verify(self, names: list[str] | None = None, timeout: str = "5") -> Result:
        expected = ",".join(names or [self.names[n.instance_id] for n in self.nodes])
        params = {"action": "verify", "expectedNodes": expected, "verifyTimeout": timeout}
        return self.run(JOIN, params, self.masters[:1])[0]

    def shell(self, node: Node, script: str) -> Result:
        result = run_shell(node, script)
        self.outputs.append(result.stdout + result.stderr)
        return result


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

def test_render_defaults_patterns_and_secure_references() -> None:
    script = render(JOIN, {"action": "mint", "token": TOKEN_REF}, lambda name: f"<{name}>")
    assert f"<{TOKEN_PARAMETER}>\nMEC_TOKEN_EOF" in script
    assert "TOKEN_TTL='900'" in script and "AS_WORKER='true'" in script
    assert "{{" not in script
    assert script.startswith("#!/bin/bash\n")
    with pytest.raises(InvalidParameters):
        render(JOIN, {"action": "leave"}, str)
    with pytest.raises(InvalidParameters):
        render(JOIN, {"action": "join", "masterAddress": "10.0.0.1; rm -rf /"}, str)
    with pytest.raises(InvalidParameters):
        render(JOIN, {"action": "join", "surprise": "x"}, str)
    with pytest.raises(InvalidParameters):
        render(INSTALL, {"hosts": "10.0.0.1=a"}, str)  # channel has no default
    with pytest.raises(InvalidParameters):
        render(INSTALL, {"channel": "1.32", "hosts": "10.0.0.1=a"}, str)


def test_unresolvable_secure_reference_fails_on_the_node(env: Env) -> None:
    result = env.run(JOIN, {"action": "mint", "token": TOKEN_REF}, env.masters)[0]
    assert result.status == "Failed" and TOKEN_PARAMETER in result.stderr


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
    assert "server: https://127.0.0.1:16443" in config.stdout and "ingress is enabled" in config.stdout
    on_worker = env.shell(env.workers[0], "microk8s kubectl get nodes -o json")
    failed(on_worker, "acting as a node in a cluster")

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
    env = installed
    ok([env.mint()])
    env.cluster.close_port(25000, to_ip=env.masters[0].private_ip)
    assert not env.cluster.port_open("10.42.1.10", "10.42.0.10", 25000)
    failed(env.join(env.workers[:1])[0], "Timeout connecting to 10.42.0.10:25000")
    env.cluster.open_port(25000, to_ip=env.masters[0].private_ip)
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
    result = run_command(INSTALL, params, env.masters, env.secrets.__getitem__, timeout=1)[0]
    assert (result.status, result.exit_code) == ("TimedOut", -1)
    assert "installing microk8s from 1.32/stable" in result.stdout


# --- the snap downloaded at boot (user data) ---------------------------------------------------

USER_DATA = ROOT / "functions/shared/userdata/prefetch-microk8s.sh"


def boot(env: Env, node: Node, channel: str = CHANNEL) -> Result:
    """What cloud-init does with the user data mec-master/mec-workers launch nodes with."""
    return env.shell(node, USER_DATA.read_text().replace("@CHANNEL@", channel))


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
