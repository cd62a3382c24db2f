"""The simulated nodes' stand-ins are as strict as the real tools: snap (snapd's client and
go-flags), microk8s (MicroK8s 1.32's wrappers: argparse, click 7.0, getopt), systemctl,
hostnamectl, hostname (systemd 255, the hostname package) and aws (the AWS CLI v2 of the
aws-cli snap). For each rule: the wrong thing fails with the real tool's message and exit code,
the right thing passes. Sources: the module docstrings of local/nodesim/{snap,microk8s,aws}.py
and the headers of local/nodesim/bin/*."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "local"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import client  # noqa: E402
from nodesim import Cluster, Node, Result, run_shell  # noqa: E402
from nodesim.parameterstore import ParameterStore  # noqa: E402

TOKEN = "Zq8wK2mN4pR6tV1xY3bD5fH7jL9cE0gA"
HOSTS = "10.42.0.10 lab-1-master-0\n10.42.0.11 lab-1-master-1\n10.42.1.10 lab-1-worker-0\n"


def sh(node: Node, script: str) -> Result:
    """A bash script on the node as its documents run one: the agent's PATH plus the node's
    /snap/bin (which the documents add themselves)."""
    return run_shell(node, '#!/bin/bash\nexport PATH="$PATH:$MEC_ROOT/snap/bin"\n' + script)


def fails(result: Result, code: int, message: str, stream: str = "stderr") -> None:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert message in getattr(result, stream), (result.stdout, result.stderr)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    cluster = Cluster(tmp_path / "env", "lab-1")
    cluster.set_time_scale(0.01)
    return cluster


@pytest.fixture
def node(cluster: Cluster) -> Node:
    return cluster.add_node("i-m0", "10.42.0.10", "203.0.113.10")


def boot(node: Node, name: str, *, microk8s: bool = True) -> None:
    """What mec-install leaves: /etc/hosts, the hostname, the launch configuration (masters) and
    MicroK8s."""
    config = "" if "-master-" not in name else (
        "mkdir -p $MEC_ROOT/var/snap/microk8s/common && printf -- '---\\nversion: 0.1.0\\nextraSANs:\\n"
        "  - 203.0.113.10\\n  - 10.42.0.10\\n' >$MEC_ROOT/var/snap/microk8s/common/.microk8s.yaml\n")
    install = "snap install microk8s --classic --channel=1.32/stable >/dev/null\n" if microk8s else ""
    ok(sh(node, f"printf '{HOSTS}' >>$MEC_ROOT/etc/hosts\nhostnamectl set-hostname {name}\n{config}{install}"))


@pytest.fixture
def master(node: Node) -> Node:
    boot(node, "lab-1-master-0")
    return node


# --- what the AMI ships ------------------------------------------------------------------------

def test_the_stand_ins_on_the_path_are_the_tools_the_ami_ships(node: Node) -> None:
    """nodesim/bin holds stand-ins of tools an Ubuntu 24.04 server AMI has; the AWS CLI and
    MicroK8s arrive as snaps, in the node's /snap/bin, off the agent's PATH."""
    shipped = sorted(p.name for p in (ROOT / "local/nodesim/bin").iterdir())
    assert shipped == ["hostname", "hostnamectl", "sleep", "snap", "systemctl"]
    fails(sh(node, "command -v aws"), 1, "")
    fails(sh(node, "command -v microk8s"), 1, "")
    fails(run_shell(node, "#!/bin/bash\naws --version"), 127, "aws: command not found")


# --- snap ------------------------------------------------------------------------------------

def test_snap_refuses_unknown_flags_and_commands(node: Node) -> None:
    fails(sh(node, "snap install microk8s --chanel=1.32/stable --classic"), 64, "error: unknown flag `chanel'")
    fails(sh(node, "snap instal microk8s"), 64, "error: unknown command \"instal\", see 'snap help'.")
    fails(sh(node, "snap install microk8s --classic=yes"), 64, "error: bool flag `--classic' cannot have an argument")
    fails(sh(node, "snap install microk8s --channel --classic"), 64,
          "error: expected argument for flag `--channel', but got option `--classic'")
    fails(sh(node, "snap install"), 64, "error: the required argument `<snap> (at least 1 argument)` was not provided")
    fails(sh(node, "snap install microk8s --classic --color=sometimes"), 64,
          "error: Invalid value `sometimes' for option `--color'. Allowed values are: auto, never or always")
    fails(sh(node, "snap install microk8s --classic --channel=1.32/stabel"), 1,
          "error: cannot parse channel: invalid risk in channel name: 1.32/stabel")
    fails(sh(node, "snap install microk8s --classic --channel=9.99/stable"), 1,
          "error: snap \"microk8s\" not available on channel \"9.99/stable\" (see 'snap info microk8s')")
    fails(sh(node, "snap install microk8s --channel=1.32/stable"), 1,
          'error: This revision of snap "microk8s" was published using classic confinement')


def test_snap_takes_both_value_forms_and_tracks_the_channel(node: Node) -> None:
    out = ok(sh(node, "snap install microk8s --classic --channel 1.32/stable")).stdout
    assert out.strip() == "microk8s (1.32/stable) v1.32.0 from Canonical** installed"
    again = ok(sh(node, "snap install microk8s --classic --channel=1.32/stable"))
    assert "snap \"microk8s\" is already installed, see 'snap help refresh'" in again.stderr
    listed = ok(sh(node, "snap list microk8s")).stdout.splitlines()
    assert listed[0].split() == ["Name", "Version", "Rev", "Tracking", "Publisher", "Notes"]
    assert listed[1].split() == ["microk8s", "v1.32.0", "7964", "1.32/stable", "canonical**", "classic"]
    fails(sh(node, "snap list aws-cli"), 1, "error: no matching snaps installed")


def test_snap_hold_takes_its_value_only_after_an_equals_sign(master: Node) -> None:
    assert ok(sh(master, "snap refresh --hold microk8s")).stdout.strip() == \
        'General refreshes of "microk8s" held indefinitely'
    assert "held until " in ok(sh(master, "snap refresh --hold=72h microk8s")).stdout
    ok(sh(master, "snap refresh --hold=forever microk8s"))
    # go-flags: an optional value is never the next argument, which is a snap name instead.
    fails(sh(master, "snap refresh --hold forever microk8s"), 1, 'error: snap "forever" is not installed')
    fails(sh(master, "snap refresh --hold=5d microk8s"), 1,
          'error: hold value must be a number of hours, minutes or seconds, or "forever": '
          'time: unknown unit "d" in duration "5d"')
    fails(sh(master, "snap refresh --hold=0.5s microk8s"), 1, "cannot hold refreshes for less than a second: 0.5s")
    fails(sh(master, "snap refresh --hold --unhold microk8s"), 1, "cannot use --hold with other flags")
    assert "classic,held" in ok(sh(master, "snap list microk8s")).stdout


def test_snap_offline_install_of_the_aws_cli(node: Node) -> None:
    """`snap download` + `snap ack` + `snap install FILE` (mec's user data prefetches this way);
    a file without its acknowledged assertions is refused."""
    prefetch = "$MEC_ROOT/var/lib/mec/prefetch"
    ok(sh(node, f"mkdir -p {prefetch} && snap download aws-cli --target-directory={prefetch} --basename=aws-cli"))
    fails(sh(node, f"snap install {prefetch}/aws-cli.snap --classic"), 1,
          "error: cannot find signatures with metadata for snap/component")
    ok(sh(node, f"snap ack {prefetch}/aws-cli.assert"))
    fails(sh(node, f"snap install {prefetch}/aws-cli.snap"), 1, 'published using classic confinement')
    assert ok(sh(node, f"snap install {prefetch}/aws-cli.snap --classic")).stdout.startswith("aws-cli 2.")
    ok(sh(node, "snap switch aws-cli --channel=latest/stable"))
    assert ok(sh(node, "command -v aws")).stdout.strip().endswith("/snap/bin/aws")
    assert "latest/stable" in ok(sh(node, "snap list aws-cli")).stdout
    fails(sh(node, "snap ack /nonexistent.assert"), 1, "error: cannot assert: open /nonexistent.assert: no such file or directory")


# --- microk8s --------------------------------------------------------------------------------

def test_microk8s_status_parses_as_status_py(master: Node) -> None:
    fails(sh(master, "microk8s status --wait-redy"), 2, "microk8s status: error: unrecognized arguments: --wait-redy")
    fails(sh(master, "microk8s status --wait-ready --timeout 1.5"), 2,
          "argument -t/--timeout: invalid int value: '1.5'")
    fails(sh(master, "microk8s status --format=json"), 2, "argument --format: invalid choice: 'json'")
    for line in ("microk8s status --wait-ready --timeout 30", "microk8s status -w -t 30", "microk8s status --timeout=30 -w"):
        out = ok(sh(master, line)).stdout
        assert out.startswith("microk8s is running\nhigh-availability: no\n  datastore master nodes: 127.0.0.1:19001\n")
        assert "    dns                  # (core) CoreDNS\n" in out
    assert ok(sh(master, "microk8s status -a dns")).stdout.strip() == "enabled"
    assert ok(sh(master, "microk8s status --addon rbac")).stdout.strip() == "disabled"
    wrong = sh(master, "microk8s statuz")
    assert wrong.exit_code == 1 and wrong.stdout.startswith("'statuz' is not a valid MicroK8s subcommand.\nAvailable subcommands are:")


def test_microk8s_add_node_and_join_parse_as_their_scripts(cluster: Cluster, master: Node) -> None:
    worker = cluster.add_node("i-w0", "10.42.1.10")
    boot(worker, "lab-1-worker-0")
    fails(sh(master, "microk8s add-node --tokn " + TOKEN), 2, "microk8s add-node: error: unrecognized arguments: --tokn")
    fails(sh(master, "microk8s add-node --token short"), 1, "Invalid token size.  It must be 32 characters long.", "stdout")
    fails(sh(master, "microk8s add-node --token-ttl soon"), 2, "argument --token-ttl/-l: invalid int value: 'soon'")
    minted = ok(sh(master, f"microk8s add-node -t {TOKEN} -l 900")).stdout
    assert f"microk8s join 10.42.0.10:25000/{TOKEN}/" in minted
    fails(sh(worker, f"microk8s join 10.42.0.10:25000/{TOKEN} --wroker"), 2,
          "Usage: microk8s join [OPTIONS] CONNECTION\nTry \"microk8s join -h\" for help.\n\n"
          "Error: Got unexpected extra argument (--wroker)")
    fails(sh(worker, "microk8s join --worker"), 2, 'Error: Missing argument "CONNECTION".')
    fails(sh(worker, f"microk8s join 10.42.0.10:25000/{TOKEN} --skip-verify=yes"), 2,
          "Error: --skip-verify option does not take a value")
    fails(sh(worker, "microk8s join 10.42.0.10/" + TOKEN), 1,
          "Invalid connection: Expected format: <master_IP>:<master_PORT>/<token>[/<fingerprint>]", "stdout")
    fails(sh(worker, "microk8s join 10.42.0.10:25000/short"), 1,
          "Invalid connection: Cluster token size should be at least 32 bytes", "stdout")
    fails(sh(worker, f"microk8s join 10.42.0.10:25000/{TOKEN}/000000000000 --worker"), 4,
          "Could not verify the identity of 10.42.0.10. Use '--skip-verify' to skip server certificate check.", "stdout")
    fails(sh(worker, f"microk8s join 10.42.0.10:25000/{'W' * 32} --worker"), 6,
          "Connection failed. Invalid token (500).", "stdout")
    joined = ok(sh(worker, f"microk8s join 10.42.0.10:25000/{TOKEN} --worker --disable-low-memory-guard"))
    assert joined.stdout.rstrip().endswith("Successfully joined the cluster.")
    # A worker's wrappers: a message and exit 0 (kubectl, status), exit 1 (add-node, enable).
    assert ok(sh(worker, "microk8s kubectl get nodes")).stdout.startswith("This MicroK8s deployment is acting as a node")
    assert "Please use the control plane node." in ok(sh(worker, "microk8s status")).stdout
    fails(sh(worker, "microk8s add-node"), 1, "Please use the microk8s add-node on the master.", "stdout")
    fails(sh(worker, "microk8s enable dns"), 1, "Please use the master node.", "stdout")


def test_microk8s_enable_follows_xable(master: Node) -> None:
    fails(sh(master, "microk8s enable"), 2, 'Error: Missing argument "ADDONS...".')
    fails(sh(master, "microk8s enable storidge"), 1, "Addon storidge was not found in any repository")
    unavailable = ok(sh(master, "microk8s enable community/argocd"))  # the repository is not enabled
    assert unavailable.stdout.strip() == "Addon community/argocd not found"
    enabled = ok(sh(master, "microk8s enable metrics-server"))
    assert "Infer repository core for addon metrics-server" in enabled.stderr
    assert ok(sh(master, "microk8s enable core/metrics-server")).stdout.strip() == "Addon core/metrics-server is already enabled"
    assert ok(sh(master, "microk8s disable metrics-server")).exit_code == 0
    assert ok(sh(master, "microk8s status -a metrics-server")).stdout.strip() == "disabled"


def decoded(config: dict[str, Any], section: str, key: str) -> bytes:
    entry = config[section][0]["cluster" if section == "clusters" else "user"]
    return base64.b64decode(entry[key])


def openssl(*args: str, data: bytes) -> str:
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout.decode()


def test_microk8s_config_is_a_real_admin_kubeconfig(cluster: Cluster, master: Node, tmp_path: Path) -> None:
    fails(sh(master, "microk8s config --use-loopbak"), 1, "unrecognized option '--use-loopbak'")
    text = ok(sh(master, "microk8s config")).stdout
    assert 5300 <= len(text.encode()) <= 5800, len(text)
    config = yaml.safe_load(text)
    assert config["clusters"][0]["cluster"]["server"] == "https://10.42.0.10:16443"  # get_default_ip
    assert config["users"][0]["name"] == "admin" and config["current-context"] == "microk8s"
    assert yaml.safe_load(ok(sh(master, "microk8s config -l")).stdout)["clusters"][0]["cluster"]["server"] == \
        "https://127.0.0.1:16443"
    ca = decoded(config, "clusters", "certificate-authority-data")
    cert = decoded(config, "users", "client-certificate-data")
    key = decoded(config, "users", "client-key-data")
    assert "CN = 10.152.183.1" in openssl("x509", "-noout", "-subject", data=ca)
    assert "CN = admin, O = system:masters" in openssl("x509", "-noout", "-subject", data=cert)
    assert key.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert "Private-Key: (2048 bit" in openssl("rsa", "-noout", "-text", data=key)
    (tmp_path / "ca.crt").write_bytes(ca)
    assert "OK" in openssl("verify", "-CAfile", str(tmp_path / "ca.crt"), data=cert)
    # The API server certificate lists the launch configuration's extraSANs (the public IP).
    server = (master.root / "var/snap/microk8s/current/certs/server.crt").read_bytes()
    assert "IP Address:203.0.113.10" in openssl("x509", "-noout", "-text", data=server)
    # A control-plane node that joins takes the cluster's CA: the same on every node.
    second = cluster.add_node("i-m1", "10.42.0.11")
    boot(second, "lab-1-master-1")
    ok(sh(master, f"microk8s add-node --token {TOKEN} --token-ttl 900 >/dev/null"))
    ok(sh(second, f"microk8s join 10.42.0.10:25000/{TOKEN} --controlplane"))
    other = yaml.safe_load(ok(sh(second, "microk8s config")).stdout)
    assert decoded(other, "clusters", "certificate-authority-data") == ca


# --- systemctl, hostnamectl, hostname ----------------------------------------------------------

def test_systemctl_hostnamectl_and_hostname_parse_as_the_real_ones(node: Node) -> None:
    fails(sh(node, "systemctl enable --nwo iscsid"), 1, "systemctl: unrecognized option '--nwo'")
    fails(sh(node, "systemctl enabel iscsid"), 1, "Unknown command verb 'enabel'.")
    fails(sh(node, "systemctl enable nosuchd"), 1, "Failed to enable unit: Unit file nosuchd.service does not exist.")
    ok(sh(node, "systemctl enable --now iscsid"))
    assert ok(sh(node, "systemctl is-enabled iscsid.service")).stdout.strip() == "enabled"
    fails(sh(node, "hostnamectl set-hostname"), 1, "Too few arguments.")
    fails(sh(node, "hostnamectl set-hostnam lab-1-master-0"), 1, "Unknown command verb 'set-hostnam'.")
    fails(sh(node, "hostnamectl --statc set-hostname lab-1-master-0"), 1, "hostnamectl: unrecognized option '--statc'")
    ok(sh(node, "hostnamectl --static set-hostname lab-1-master-0"))
    assert ok(sh(node, "hostname")).stdout.strip() == "lab-1-master-0"
    fails(sh(node, "hostname --shrot"), 255, "hostname: unrecognized option '--shrot'")
    fails(sh(node, "hostname a b"), 255, "Usage: hostname [-b] {hostname|-F file}")
    assert ok(sh(node, "hostname -I")).stdout == "10.42.0.10 \n"


# --- aws -------------------------------------------------------------------------------------

@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[ParameterStore]:
    """A stand-in SSM endpoint that records every request (nodesim/parameterstore.py)."""
    with ParameterStore() as store:
        monkeypatch.setenv("MEC_SIM_AWS_ENDPOINT", store.url)
        yield store


CREDENTIALS = {"AccessKeyId": "ASIANODEROLEKEY00001", "SecretAccessKey": "secret", "Token": "session-token",
               "Expiration": "2099-01-01T00:00:00Z"}
GET = "aws ssm get-parameter --name /mec/lab-1/join-token --with-decryption --query Parameter.Value --output text"


@pytest.fixture
def cli_node(cluster: Cluster) -> Node:
    """A node in eu-west-1b with the AWS CLI installed and an instance profile role."""
    node = cluster.add_node("i-a0", "10.42.0.20", region="eu-west-1", availability_zone="eu-west-1b")
    ok(sh(node, "snap install aws-cli --classic >/dev/null"))
    cluster.set_credentials("i-a0", "mec-node", CREDENTIALS)
    return node


def test_aws_signs_with_the_instance_role_and_the_imds_region(store: ParameterStore, cli_node: Node) -> None:
    store.put("/mec/lab-1/join-token", TOKEN)
    assert ok(sh(cli_node, GET)).stdout == TOKEN + "\n"
    request = store.requests[-1]
    headers = request["headers"]
    assert headers["X-Amz-Target"] == "AmazonSSM.GetParameter"
    assert "Credential=ASIANODEROLEKEY00001/" in headers["Authorization"]
    assert "/eu-west-1/ssm/aws4_request" in headers["Authorization"]  # placement/availability-zone minus its letter
    assert headers["X-Amz-Security-Token"] == "session-token"
    assert "mec-nodesim" in headers["User-Agent"] and headers["User-Agent"].startswith("aws-cli/2.")
    assert request["body"] == {"Name": "/mec/lab-1/join-token", "WithDecryption": True}
    put = ("umask 077; printf 'apiVersion: v1\\n' >kubeconfig; aws ssm put-parameter --name /mec/lab-1/kubeconfig "
           "--type SecureString --tier Advanced --overwrite --value file://kubeconfig --key-id alias/mec "
           "--region us-east-2")
    assert json.loads(ok(sh(cli_node, put)).stdout) == {"Version": 1, "Tier": "Advanced"}
    request = store.requests[-1]
    assert "/us-east-2/ssm/aws4_request" in request["headers"]["Authorization"]
    assert request["body"] == {"Name": "/mec/lab-1/kubeconfig", "Type": "SecureString", "Tier": "Advanced",
                               "Overwrite": True, "Value": "apiVersion: v1\n", "KeyId": "alias/mec"}


def test_aws_refuses_what_the_cli_refuses(store: ParameterStore, cluster: Cluster, cli_node: Node) -> None:
    usage = "usage: aws [options] <command> <subcommand> [<subcommand> ...] [parameters]"
    wrong = sh(cli_node, "aws ssm get-parameter --name x --with-decrypton")
    fails(wrong, 252, "aws: [ERROR]: Unknown options: --with-decrypton")
    assert usage in wrong.stderr
    fails(sh(cli_node, "aws ssm get-parameter --nmae x"), 252,
          "aws: [ERROR]: An error occurred (ParamValidation): the following arguments are required: --name")
    fails(sh(cli_node, "aws ssm get-paramter --name x"), 252, "argument operation: Found invalid choice 'get-paramter'")
    fails(sh(cli_node, "aws ssm get-parameter --name x --output txt"), 252, "argument --output: Found invalid choice 'txt'")
    fails(sh(cli_node, "aws ssm put-parameter --name x --type SecureString --value file:///nonexistent"), 252,
          "Error parsing parameter '--value': Unable to load paramfile file:///nonexistent")
    fails(sh(cli_node, "aws ssm put-parameter --name '' --value v"), 252,
          "Parameter validation failed:\nInvalid length for parameter Name, value: 0, valid min length: 1")
    fails(sh(cli_node, GET), 254,
          "aws: [ERROR]: An error occurred (ParameterNotFound) when calling the GetParameter operation:\n")
    assert len(store.requests) == 1, "nothing refused on the node reaches the service"
    cluster.remove_credentials("i-a0")
    fails(sh(cli_node, GET), 253, "aws: [ERROR]: An error occurred (NoCredentials): Unable to locate credentials.")
    assert len(store.requests) == 1


def test_aws_retries_throttling_as_the_standard_mode(store: ParameterStore, cli_node: Node) -> None:
    store.answers += [(400, {"__type": "ThrottlingException", "message": "Rate exceeded"})] * 3
    fails(sh(cli_node, GET), 254, "An error occurred (ThrottlingException) when calling the GetParameter operation "
                                  "(reached max retries: 2): Rate exceeded")
    assert len(store.requests) == 3


def test_aws_against_the_world(bare_world: tuple[str, Path], cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI on a node reads and writes the world's SecureStrings with the node role's session
    credentials, and its calls count as the node's."""
    endpoint, state = bare_world
    monkeypatch.setenv("MEC_SIM_AWS_ENDPOINT", endpoint)
    iam, sts, ssm = client(endpoint, "iam"), client(endpoint, "sts"), client(endpoint, "ssm")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="mec-standins-node", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
        "ssm:GetParameter", "ssm:PutParameter", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]}]}
    iam.put_role_policy(RoleName="mec-standins-node", PolicyName="parameters", PolicyDocument=json.dumps(allow))
    session = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="i-w1")["Credentials"]
    node = cluster.add_node("i-w1", "10.42.0.30")
    ok(sh(node, "snap install aws-cli --classic >/dev/null"))
    cluster.set_credentials("i-w1", "mec-standins-node", {
        "AccessKeyId": session["AccessKeyId"], "SecretAccessKey": session["SecretAccessKey"],
        "Token": session["SessionToken"], "Expiration": session["Expiration"].isoformat()})
    ssm.put_parameter(Name="/mec/standins/join-token", Type="SecureString", Value=TOKEN)
    got = ok(sh(node, "aws ssm get-parameter --name /mec/standins/join-token --with-decryption "
                      "--query Parameter.Value --output text"))
    assert got.stdout == TOKEN + "\n"
    fails(sh(node, "aws ssm get-parameter --name /mec/standins/nothing"), 254,
          "An error occurred (ParameterNotFound) when calling the GetParameter operation")
    ok(sh(node, "printf 'x: 1\\n' >value; aws ssm put-parameter --name /mec/standins/kubeconfig --type SecureString "
                "--tier Advanced --overwrite --value file://value >/dev/null"))
    stored = ssm.get_parameter(Name="/mec/standins/kubeconfig", WithDecryption=True)["Parameter"]
    assert stored["Value"] == "x: 1\n"
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": ["/mec/standins/kubeconfig"]}])
    assert described["Parameters"][0]["Tier"] == "Advanced"
    calls = [json.loads(line) for line in (state / "logs" / "api-calls.jsonl").read_text().splitlines()]
    assert sum(c["source"] == "node" and c["service"] == "ssm" for c in calls) >= 3
    assert os.environ["MEC_SIM_AWS_ENDPOINT"] == endpoint
