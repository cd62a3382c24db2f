"""MicroK8s' certificates and admin kubeconfig on a simulated node, made with the real `openssl`.

What MicroK8s 1.32 does (canonical/microk8s, branch 1.32, microk8s-resources/actions/common/utils.sh):

| file (under $SNAP_DATA)      | how                                                           | source                   |
|------------------------------|---------------------------------------------------------------|--------------------------|
| certs/ca.key, ca.crt         | RSA 2048; self-signed, /CN=10.152.183.1, 3650 days, sha256     | produce_certs            |
| certs/server.key, server.crt | RSA 2048; csr.conf (CN=127.0.0.1, SANs kubernetes.*, 127.0.0.1, 10.152.183.1, the node's IPs and the launch configuration's extraSANs), 365 days, v3_ext | produce_certs, gen_server_cert, render_csr_conf, certs/csr.conf.template |
| certs/client.key, client.crt | RSA 2048; /CN=admin/O=system:masters signed by the CA, 3650 days | create_user_certificates, generate_csr, sign_certificate |
| credentials/client.config    | client-x509.config.template: base64 -w 0 of ca.crt, client.crt, client.key; server https://127.0.0.1:16443, user admin | create_kubeconfig_x509 |

A control-plane node that joins takes the cluster's CA (join.py join_dqlite_master_node) and
re-issues its own certificates with it; a worker keeps the cluster CA as certs/ca.remote.crt
(join.py store_remote_ca). So certificate-authority-data is the same on every node of a cluster.

Cost: an RSA 2048 key takes ~150 ms of CPU and a cluster test installs dozens of nodes on 2
cores. The keys come from a small pool generated once per machine (POOL_SIZE per role);
every certificate is still issued per node and signed by its cluster's CA. Only the private keys
repeat between nodes, which nothing in mec (or a kubeconfig reader) can observe.
The pool's folder is state["key_pool"] (see default_key_pool).

Standard library and the `openssl` CLI only: the stand-ins import this on the node.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SNAP_DATA = "var/snap/microk8s/current"
CA_SUBJECT = "/CN=10.152.183.1"
ADMIN_SUBJECT = "/CN=admin/O=system:masters"
API_PORT = 16443
# Keys per role in the pool; a node picks one by its instance id.
POOL_SIZE = 3
KUBECONFIG_TEMPLATE = """apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: {ca}
    server: https://127.0.0.1:{port}
  name: microk8s-cluster
contexts:
- context:
    cluster: microk8s-cluster
    user: admin
  name: microk8s
current-context: microk8s
kind: Config
preferences: {{}}
users:
- name: admin
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
"""
# certs/csr.conf.template of MicroK8s 1.32; the IPs are appended as IP.3, IP.4, ...
CSR_CONF = """[ req ]
default_bits = 2048
prompt = no
default_md = sha256
req_extensions = req_ext
distinguished_name = dn

[ dn ]
C = GB
ST = Canonical
L = Canonical
O = Canonical
OU = Canonical
CN = 127.0.0.1

[ req_ext ]
subjectAltName = @alt_names

[ alt_names ]
DNS.1 = kubernetes
DNS.2 = kubernetes.default
DNS.3 = kubernetes.default.svc
DNS.4 = kubernetes.default.svc.cluster
DNS.5 = kubernetes.default.svc.cluster.local
IP.1 = 127.0.0.1
IP.2 = 10.152.183.1
{more_ips}

[ v3_ext ]
authorityKeyIdentifier=keyid,issuer:always
basicConstraints=CA:FALSE
keyUsage=keyEncipherment,dataEncipherment,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=@alt_names
"""


def default_key_pool() -> Path:
    """The machine's cache (XDG), shared by every world and test; resolved where the cluster
    state is created (the world's or the test's process: a node's HOME is its own folder) and
    kept in the state (state["key_pool"])."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "mec" / "nodesim-keys"


def openssl(*args: str, stdin: bytes | None = None) -> bytes:
    """Runs the openssl CLI (MicroK8s' certificates are made with openssl.wrapper)."""
    done = subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def pooled_key(pool: Path, role: str, instance_id: str) -> bytes:
    """An RSA 2048 key in PKCS#1 PEM (what OpenSSL 1.1's genrsa writes, as in MicroK8s' core20
    base): generated once per pool slot, then reused."""
    slot = int(hashlib.sha256(f"{role}/{instance_id}".encode()).hexdigest(), 16) % POOL_SIZE
    path = pool / f"{role}-{slot}.key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = openssl("genrsa", "-traditional", "2048")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.replace(tmp, path)
    return pem


def certs_dir(root: Path) -> Path:
    return root / SNAP_DATA / "certs"


def write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o600)


def new_node_pki(root: Path, instance_id: str, ips: list[str], pool: Path) -> None:
    """What a fresh install makes: its own CA, the server and admin certificates, client.config."""
    certs = certs_dir(root)
    write_private(certs / "ca.key", pooled_key(pool, "ca", instance_id))
    write_private(certs / "server.key", pooled_key(pool, "server", instance_id))
    write_private(certs / "client.key", pooled_key(pool, "client", instance_id))
    (certs / "ca.crt").write_bytes(openssl(
        "req", "-x509", "-new", "-sha256", "-nodes", "-days", "3650", "-key", str(certs / "ca.key"),
        "-subj", CA_SUBJECT))
    issue_node_certificates(root, ips)


def issue_node_certificates(root: Path, ips: list[str]) -> None:
    """The server and admin certificates signed by the node's current CA, and client.config."""
    certs = certs_dir(root)
    more = "\n".join(f"IP.{3 + k} = {ip}" for k, ip in enumerate(dict.fromkeys(ips)))
    conf = certs / "csr.conf"
    conf.write_text(CSR_CONF.format(more_ips=more))
    csr = openssl("req", "-new", "-sha256", "-key", str(certs / "server.key"), "-config", str(conf))
    (certs / "server.crt").write_bytes(sign(certs, csr, "365", extfile=str(conf), extensions="v3_ext"))
    csr = openssl("req", "-new", "-sha256", "-subj", ADMIN_SUBJECT, "-key", str(certs / "client.key"))
    (certs / "client.crt").write_bytes(sign(certs, csr, "3650"))
    write_kubeconfig(root)


def sign(certs: Path, csr: bytes, days: str, extfile: str | None = None, extensions: str | None = None) -> bytes:
    args = ["x509", "-req", "-sha256", "-CA", str(certs / "ca.crt"), "-CAkey", str(certs / "ca.key"),
            "-CAcreateserial", "-CAserial", str(certs / "ca.srl"), "-days", days]
    if extfile:
        args += ["-extfile", extfile]
    if extensions:
        args += ["-extensions", extensions]
    return openssl(*args, stdin=csr)


def write_kubeconfig(root: Path) -> None:
    """credentials/client.config as create_kubeconfig_x509 writes it."""
    certs = certs_dir(root)

    def b64(name: str) -> str:
        return base64.b64encode((certs / name).read_bytes()).decode()

    text = KUBECONFIG_TEMPLATE.format(ca=b64("ca.crt"), cert=b64("client.crt"), key=b64("client.key"), port=API_PORT)
    path = root / SNAP_DATA / "credentials" / "client.config"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)


def adopt_cluster_ca(root: Path, cluster_root: Path, ips: list[str]) -> None:
    """A control-plane join: the cluster's CA replaces the node's own, its certificates are
    re-issued with it (join.py join_dqlite_master_node)."""
    source, certs = certs_dir(cluster_root), certs_dir(root)
    if not (source / "ca.crt").is_file():
        return
    shutil.copyfile(source / "ca.crt", certs / "ca.crt")
    write_private(certs / "ca.key", (source / "ca.key").read_bytes())
    issue_node_certificates(root, ips)


def store_remote_ca(root: Path, cluster_root: Path) -> None:
    """A worker join keeps the cluster's CA as ca.remote.crt (join.py store_remote_ca)."""
    source = certs_dir(cluster_root) / "ca.crt"
    if source.is_file():
        shutil.copyfile(source, certs_dir(root) / "ca.remote.crt")
