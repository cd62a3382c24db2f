"""The `snap` stand-in: seeding, install/refresh/list/info of the microk8s snap, refresh holds,
and the offline install's steps (download at boot, ack, install from the file, switch channel).

Installing puts `microk8s` into the node's own /snap/bin (under MEC_ROOT), so that before an
install `command -v microk8s` fails on that node exactly as on a fresh instance.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from .context import Context, scaled_sleep

SNAPBIN_MICROK8S = Path(__file__).resolve().parent / "snapbin" / "microk8s"
CHANNEL = re.compile(r"^(latest|[0-9]+\.[0-9]+)/(stable|candidate|beta|edge)$")


def version(channel: str) -> str:
    track = channel.split("/")[0]
    return "v1.32.3" if track == "latest" else f"v{track}.0"


def main(ctx: Context, args: list[str]) -> int:
    if args[:3] == ["wait", "system", "seed.loaded"]:
        return 0
    if not args:
        return ctx.error("error: no command given")
    command, rest = args[0], args[1:]
    if command == "list":
        return snap_list(ctx, rest)
    if command == "info":
        return snap_info(ctx, rest)
    if command == "install":
        return snap_install(ctx, rest)
    if command == "refresh":
        return snap_refresh(ctx, rest)
    if command == "download":
        return snap_download(ctx, rest)
    if command == "ack":
        return snap_ack(ctx, rest)
    if command == "switch":
        return snap_switch(ctx, rest)
    return ctx.error(f'error: unknown command "{command}", see \'snap help\'.')


def parse(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """Positional names and --options (`--channel=X`, `--channel X`, `--hold[=D]`, `--classic`)."""
    names: list[str] = []
    options: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            key, eq, value = arg[2:].partition("=")
            if not eq and key == "channel" and i + 1 < len(args):
                i += 1
                value = args[i]
            options[key] = value
        else:
            names.append(arg)
        i += 1
    return names, options


def snap_list(ctx: Context, args: list[str]) -> int:
    node = ctx.read()["nodes"][ctx.instance_id]
    if args and args != ["microk8s"] or not node["installed"]:
        return ctx.error("error: no matching snaps installed")
    notes = "held,classic" if node["held"] else "classic"
    tracking = node.get("tracking") or "-"
    ctx.out("Name      Version  Rev   Tracking     Publisher   Notes")
    ctx.out(f"microk8s  {version(node['channel'])}  7964  {tracking:<11}  canonical** {notes}")
    return 0


def snap_info(ctx: Context, args: list[str]) -> int:
    if args != ["microk8s"]:
        return ctx.error(f"error: no snap found for {' '.join(args)!r}")
    node = ctx.read()["nodes"][ctx.instance_id]
    ctx.out("name:      microk8s\nsummary:   Kubernetes for workstations and appliances")
    ctx.out("publisher: Canonical**\nlicense:   Apache-2.0")
    if node["installed"]:
        ctx.out(f"tracking:     {node.get('tracking') or '-'}\ninstalled:    {version(node['channel'])}")
    ctx.out("channels:\n  1.32/stable: v1.32.3\n  1.31/stable: v1.31.7")
    return 0


CLASSIC_ERROR = ('error: This revision of snap "microk8s" was published using classic '
                 "confinement and thus may perform arbitrary system changes outside of "
                 "the security sandbox. Use --classic.")


def snap_install(ctx: Context, args: list[str]) -> int:
    names, options = parse(args)
    if len(names) == 1 and names[0].endswith(".snap"):
        return install_file(ctx, Path(names[0]), options)
    if names != ["microk8s"]:
        return ctx.error(f"error: the simulator only knows the microk8s snap, not {names}")
    channel = options.get("channel", "latest/stable")
    if not CHANNEL.match(channel):
        return ctx.error(f'error: requested a non-existing branch on {channel} for snap "microk8s"')
    if "classic" not in options:
        return ctx.error(CLASSIC_ERROR)
    with ctx.lock() as s:
        node = s["nodes"][ctx.instance_id]
        if node["installed"]:
            ctx.out('snap "microk8s" is already installed, see \'snap help refresh\'')
            return 0
        node["install_attempts"] += 1
        failing = take_install_fault(s, ctx.instance_id)
        delay = s["latency"]["install_seconds"] * s["time_scale"]
    scaled_sleep(delay)  # the download, outside the lock: nodes install in parallel
    if failing:
        return ctx.error('error: cannot perform the following tasks:\n- Download snap "microk8s" '
                         "(7964) from channel \"%s\" (persistent network error)" % channel)
    mark_installed(ctx, channel, tracking=channel)
    ctx.out(f"microk8s ({channel}) {version(channel)} from Canonical** installed")
    return 0


def install_file(ctx: Context, path: Path, options: dict[str, str]) -> int:
    """`snap install <file>.snap`: the download of `snap download`, its assertions acknowledged.
    Takes what is left of install_seconds after the download; tracks no channel until `switch`."""
    if not path.is_file():
        return ctx.error(f'error: cannot open "{path}": no such file or directory')
    channel = downloaded_channel(path)
    if channel is None:
        return ctx.error(f'error: cannot read "{path}": not a snap file')
    if "classic" not in options:
        return ctx.error(CLASSIC_ERROR)
    with ctx.lock() as s:
        node = s["nodes"][ctx.instance_id]
        if node["installed"]:
            ctx.out('snap "microk8s" is already installed')
            return 0
        if not node.get("acked"):
            return ctx.error(f'error: cannot find signatures with metadata for snap "{path}"')
        node["install_attempts"] += 1
        failing = take_install_fault(s, ctx.instance_id)
        latency = s["latency"]
        delay = max(0.0, latency["install_seconds"] - latency.get("download_seconds", 0.0)) * s["time_scale"]
    scaled_sleep(delay)  # the install hooks, outside the lock
    if failing:
        return ctx.error('error: cannot perform the following tasks:\n- Run install hook of "microk8s" snap '
                         "if present (run hook \"install\": exit status 1)")
    mark_installed(ctx, channel, tracking=None)
    ctx.out(f"microk8s {version(channel)} installed")
    return 0


def take_install_fault(s: dict, instance_id: str) -> bool:
    """True when this install attempt fails (fault `fail_install`: a count, negative = always)."""
    fail = s["faults"]["fail_install"].get(instance_id, 0)
    if fail > 0:
        s["faults"]["fail_install"][instance_id] = fail - 1
    return fail != 0


def mark_installed(ctx: Context, channel: str, tracking: str | None) -> None:
    hostname = ctx.hostname()
    with ctx.lock() as s:
        node = s["nodes"][ctx.instance_id]
        node.update(
            installed=True,
            channel=channel,
            tracking=tracking,
            installed_at=time.time(),
            # kubelite registers the node under the hostname it has when it first starts.
            node_name=hostname,
            extra_sans=read_extra_sans(ctx.root),
            cluster=ctx.instance_id,
            role="control-plane",
        )
        s["addons"].setdefault(ctx.instance_id, ["dns", "ha-cluster", "helm", "helm3"])
    write_fresh_node_files(ctx.root)


def snap_download(ctx: Context, args: list[str]) -> int:
    """`snap download microk8s --channel=C [--target-directory=D] [--basename=B]`: B.snap and
    B.assert in D, after download_seconds. A node whose store installs fail cannot download."""
    names, options = parse(args)
    if names != ["microk8s"]:
        return ctx.error(f"error: the simulator only knows the microk8s snap, not {names}")
    channel = options.get("channel", "latest/stable")
    if not CHANNEL.match(channel):
        return ctx.error(f'error: requested a non-existing branch on {channel} for snap "microk8s"')
    target = Path(options.get("target-directory") or ".")
    base = options.get("basename") or "microk8s_7964"
    with ctx.lock() as s:
        failing = s["faults"]["fail_install"].get(ctx.instance_id, 0) != 0
        delay = s["latency"].get("download_seconds", 0.0) * s["time_scale"]
    scaled_sleep(delay)
    if failing:
        return ctx.error('error: cannot download snap "microk8s": persistent network error')
    ctx.out('Fetching snap "microk8s"')
    (target / f"{base}.snap").write_text(f"simulated microk8s snap\nchannel={channel}\n")
    ctx.out('Fetching assertions for "microk8s"')
    (target / f"{base}.assert").write_text("type: snap-revision\nsnap-revision: 7964\n")
    ctx.out(f"Install the snap with:\n   snap ack {base}.assert\n   snap install {base}.snap")
    return 0


def downloaded_channel(path: Path) -> str | None:
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("channel="):
            return line.partition("=")[2]
    return None


def snap_ack(ctx: Context, args: list[str]) -> int:
    if len(args) != 1 or not Path(args[0]).is_file():
        return ctx.error(f"error: cannot read assertion file: open {' '.join(args)}: no such file or directory")
    with ctx.lock() as s:
        s["nodes"][ctx.instance_id]["acked"] = True
    return 0


def snap_switch(ctx: Context, args: list[str]) -> int:
    """`snap switch microk8s --channel=C`: what refreshes follow; the installed revision stays."""
    names, options = parse(args)
    channel = options.get("channel")
    if names != ["microk8s"] or channel is None:
        return ctx.error("error: the simulator switches only microk8s, to a --channel")
    if not CHANNEL.match(channel):
        return ctx.error(f"error: requested a non-existing branch on {channel}")
    with ctx.lock() as s:
        node = s["nodes"][ctx.instance_id]
        if not node["installed"]:
            return ctx.error('error: snap "microk8s" is not installed')
        node["tracking"] = channel
    ctx.out(f'"microk8s" switched to the "{channel}" channel')
    return 0


def snap_refresh(ctx: Context, args: list[str]) -> int:
    names, options = parse(args)
    if "hold" in options:
        with ctx.lock() as s:
            node = s["nodes"][ctx.instance_id]
            if names and names != ["microk8s"] or not node["installed"]:
                return ctx.error('error: snap "microk8s" is not installed')
            node["held"] = True
        ctx.out('General refreshes of "microk8s" held indefinitely')
        return 0
    if names != ["microk8s"]:
        return ctx.error("error: the simulator refreshes only microk8s")
    channel = options.get("channel")
    with ctx.lock() as s:
        node = s["nodes"][ctx.instance_id]
        if not node["installed"]:
            return ctx.error('error: snap "microk8s" is not installed')
        if channel is None or channel == node["channel"]:
            if channel is not None:
                node["tracking"] = channel  # the same revision, now tracking that channel
            ctx.out('snap "microk8s" has no updates available')
            return 0
        if not CHANNEL.match(channel):
            return ctx.error(f"error: requested a non-existing branch on {channel}")
        node["channel"] = channel
        node["tracking"] = channel
    ctx.out(f"microk8s ({channel}) {version(channel)} from Canonical** refreshed")
    return 0


def read_extra_sans(root: Path) -> list[str]:
    """The extraSANs of the launch configuration, read by MicroK8s at its first start."""
    config = root / "var/snap/microk8s/common/.microk8s.yaml"
    if not config.is_file():
        return []
    sans, inside = [], False
    for line in config.read_text().splitlines():
        if line.startswith("extraSANs:"):
            inside = True
        elif inside and line.startswith("  - "):
            sans.append(line[4:].strip())
        elif inside and line and not line.startswith(" "):
            inside = False
    return sans


def write_fresh_node_files(root: Path) -> None:
    """A fresh MicroK8s is a one-node cluster whose dqlite listens on 127.0.0.1 only."""
    data = root / "var/snap/microk8s/current"
    (data / "var/lock").mkdir(parents=True, exist_ok=True)
    backend = data / "var/kubernetes/backend"
    backend.mkdir(parents=True, exist_ok=True)
    (backend / "cluster.yaml").write_text("- Address: 127.0.0.1:19001\n  ID: 1\n  Role: 0\n")
    bin_dir = root / "snap/bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    link = bin_dir / "microk8s"
    if not link.exists():
        link.symlink_to(SNAPBIN_MICROK8S)

