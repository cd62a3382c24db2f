"""The `snap` stand-in: the snapd of one simulated Ubuntu 24.04 node, as strict as the real one.

Every command takes exactly the options snapd's client declares, parsed the way go-flags parses
them; anything else fails with snap's own message and exit code. The store knows the snaps mec
installs (microk8s, aws-cli); the AMI's own snaps are there from the start. Installing a snap
links its commands into the node's own /snap/bin ($MEC_ROOT/snap/bin), so before an install
`command -v microk8s` (or `aws`) fails on that node exactly as on a fresh instance.

Sources: canonical/snapd at 1a2152a27d0c (the last commit with the client in cmd/snap/; later
moved to cmd/snapd/cli/), its go-flags jessevdk/go-flags v1.5.1-0.20210607101731-3927b71304df.

| rule                | what                                                                   | source |
|---------------------|------------------------------------------------------------------------|--------|
| snap-commands       | only snapd's commands; another: `error: unknown command "x", see 'snap help'.`, exit 64 | cmd/snap/main.go run (ErrUnknownCommand), exitCodeFromError |
| snap-flags          | each command's options exactly (table COMMANDS); `error: unknown flag `x'`, exit 64 | cmd_snap_op.go cmdInstall/cmdRefresh/cmdSwitch/cmdRemove, cmd_download.go, cmd_ack.go, cmd_list.go, cmd_info.go, cmd_wait.go; mixins wait.go, color.go, times.go; go-flags parser.go parseLong |
| snap-flag-values    | `--flag=value` and `--flag value`; a value that looks like an option, `=` on a bool flag, a missing value, a value outside the choices: go-flags' messages, exit 64 | go-flags parser.go parseOption, option.go isValidValue/Set |
| snap-hold           | `--hold` takes a value only as `--hold=D` (optional value, default forever); D a Go duration ≥ 1 s | cmdRefresh.Hold `optional:"yes" optional-value:"forever"`, holdRefreshes; go-flags parseLong (canarg) |
| snap-positionals    | required positional arguments, extra ones refused | go-flags checkRequired; main.go ErrExtraArgs |
| snap-channel        | channel names parse as track/risk/branch | snap/channel/channel.go ParseVerbatim; channelMixin.setChannelFromCommandline |
| snap-classic        | a classic snap installs only with --classic | cmd/snap/error.go ErrorKindSnapNeedsClassic |
| snap-assertions     | `snap install FILE` needs `snap ack` of that revision's assertions (sha3-384) | daemon/api_sideload_n_try.go ("cannot find signatures with metadata for snap/component") |
| snap-already        | installing an installed snap: a note on stderr, exit 0 | error.go ErrorKindSnapAlreadyInstalled |
| snap-path-warning   | an install warns on stderr when /snap/bin is not on PATH | cmd_snap_op.go showDone, isSnapInPath |

Faults (state["faults"]["fail_install"]: MicroK8s' downloads and installs fail) and latencies
(state["latency"], MicroK8s' install and download) are the simulator's.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from pathlib import Path
from typing import Any

from .context import Context, scaled_sleep

SNAPBIN = Path(__file__).resolve().parent / "snapbin"
EX_USAGE = 64  # main.go exitCodeFromError: go-flags errors and unknown commands
RISKS = ("stable", "candidate", "beta", "edge")
VERIFIED = "**"  # color.go: the verified mark without unicode (stdout is not a terminal under SSM)

# --- the store and the AMI -------------------------------------------------------------------

MICROK8S_TRACKS = ("latest", *(f"1.{minor}" for minor in range(20, 35)))
STORE: dict[str, dict[str, Any]] = {
    "microk8s": {"publisher": ("Canonical", "canonical"), "confinement": "classic", "tracks": MICROK8S_TRACKS,
                 "summary": "Kubernetes for workstations and appliances", "license": "Apache-2.0",
                 "commands": {"microk8s": "microk8s"}, "base": "core20"},
    "aws-cli": {"publisher": ("Amazon Web Services", "aws"), "confinement": "classic", "tracks": ("latest", "v1"),
                "summary": "Universal Command Line Interface for Amazon Web Services", "license": "Apache-2.0",
                "commands": {"aws": "aws"}, "base": "core22"},
}
# An Ubuntu 24.04 server AMI on EC2 ships snapd, the SSM agent as a classic snap and its base.
PREINSTALLED: dict[str, dict[str, Any]] = {
    "amazon-ssm-agent": {"version": "3.3.1142.0", "revision": "9881", "tracking": "latest/stable",
                         "publisher": "aws", "notes": "classic"},
    "core22": {"version": "20250315", "revision": "1908", "tracking": "latest/stable",
               "publisher": "canonical", "notes": "base"},
    "snapd": {"version": "2.67.1", "revision": "23771", "tracking": "latest/stable",
              "publisher": "canonical", "notes": "snapd"},
}
BASES = {"core20": {"version": "20250213", "revision": "2501", "tracking": "latest/stable",
                    "publisher": "canonical", "notes": "base"}}


def release(name: str, channel: str) -> tuple[str, str]:
    """(version, revision) of a snap on a channel."""
    track = channel.split("/")[0]
    if name == "microk8s":
        return ("v1.32.3" if track == "latest" else f"v{track}.0"), "7964"
    return ("1.40.0" if track == "v1" else "2.27.50"), ("1302" if track == "v1" else "1473")


def version(channel: str) -> str:
    """microk8s' version on a channel (kept for microk8s.py)."""
    return release("microk8s", channel)[0]


# --- go-flags --------------------------------------------------------------------------------

class FlagError(Exception):
    """A go-flags error: snap prints `error: <message>` and exits 64."""


class CommandError(Exception):
    """Any other error of a command: `error: <message>`, exit 1."""


# Options of the mixins (name -> kind): "bool", "value", ("choice", choices), ("optional", default).
WAIT = {"no-wait": "bool"}
COLOR = {"color": ("choice", ("auto", "never", "always")), "unicode": ("choice", ("auto", "never", "always"))}
CHANNEL = {"channel": "value", "edge": "bool", "beta": "bool", "candidate": "bool", "stable": "bool"}
MODE = {"devmode": "bool", "jailmode": "bool", "classic": "bool"}
TRANSACTION = {"transaction": ("choice", ("all-snaps", "per-snap"))}
# command -> (options, positional name, minimum positionals, maximum positionals (None: any))
COMMANDS: dict[str, tuple[dict[str, Any], str, int, int | None]] = {
    "install": ({**COLOR, **WAIT, **CHANNEL, **MODE, "revision": "value", "dangerous": "bool",
                 "force-dangerous": "bool", "unaliased": "bool", "prefer": "bool", "name": "value",
                 "cohort": "value", "ignore-validation": "bool", "ignore-running": "bool", **TRANSACTION,
                 "quota-group": "value"}, "<snap>", 1, None),
    "refresh": ({**COLOR, "abs-time": "bool", **WAIT, **CHANNEL, **MODE, "amend": "bool", "revision": "value",
                 "cohort": "value", "leave-cohort": "bool", "list": "bool", "time": "bool",
                 "ignore-validation": "bool", "ignore-running": "bool", "tracking": "bool", **TRANSACTION,
                 "hold": ("optional", "forever"), "unhold": "bool"}, "<snap>", 0, None),
    "remove": ({**WAIT, "revision": "value", "purge": "bool", "terminate": "bool"}, "<snap>", 1, None),
    "switch": ({**WAIT, **CHANNEL, "cohort": "value", "leave-cohort": "bool"}, "<snap>", 1, 1),
    "download": ({**CHANNEL, "revision": "value", "basename": "value", "target-directory": "value",
                  "only-components": "bool", "cohort": "value"}, "<snap>", 1, 1),
    "ack": ({}, "<assertion file>", 1, 1),
    "list": ({**COLOR, "all": "bool"}, "<snap>", 0, None),
    "info": ({**COLOR, "abs-time": "bool", "verbose": "bool"}, "<snap>", 1, None),
    "wait": ({}, "<snap>", 1, 2),
}


def is_option(arg: str) -> bool:
    """go-flags optstyle_other.go argumentIsOption: `-x`, `--xy`; not `-`, `--`, `---x`."""
    return (len(arg) > 1 and arg[0] == "-" and arg[1] != "-") or (len(arg) > 2 and arg[:2] == "--" and arg[2] != "-")


def parse(command: str, args: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The options and positional arguments of `snap <command> args`, as go-flags parses them."""
    spec, _, _, _ = COMMANDS[command]
    options: dict[str, Any] = {}
    positional: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--":  # flags.PassDoubleDash
            positional += rest
            break
        if not is_option(arg):
            positional.append(arg)
            continue
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if name == "help":
                raise HelpRequested(command)
            parse_long(spec, name, value if eq else None, rest, options)
        else:
            parse_short(arg[1:], rest)
    check_positionals(command, positional)
    return options, positional


class HelpRequested(Exception):
    """`-h`/`--help` (cmd_help.go addHelp): the command's help on stdout, exit 0."""


def parse_short(names: str, rest: list[str]) -> None:
    """Only -h exists among the commands simulated here (cmd_help.go addHelp)."""
    for letter in names.split("=", 1)[0]:
        if letter != "h":
            raise FlagError(f"unknown flag `{letter}'")
    raise HelpRequested("")


def parse_long(spec: dict[str, Any], name: str, value: str | None, rest: list[str], options: dict[str, Any]) -> None:
    """go-flags parseLong + parseOption."""
    kind = spec.get(name)
    if kind is None:
        raise FlagError(f"unknown flag `{name}'")
    flag = f"--{name}"
    if kind == "bool":
        if value is not None:
            raise FlagError(f"bool flag `{flag}' cannot have an argument")
        options[name] = True
        return
    if isinstance(kind, tuple) and kind[0] == "optional":
        # An optional value is only ever taken from `--name=value` (canarg is false).
        options[name] = kind[1] if value is None else value
        return
    if value is None:
        if not rest:
            raise FlagError(f"expected argument for flag `{flag}'")
        if is_option(rest[0]):
            raise FlagError(f"expected argument for flag `{flag}', but got option `{rest[0]}'")
        if rest[0] == "--":
            raise FlagError(f"expected argument for flag `{flag}', but got double dash `--'")
        value = rest.pop(0)
    if isinstance(kind, tuple) and kind[0] == "choice" and value not in kind[1]:
        choices = kind[1]
        allowed = ", ".join(choices[:-1]) + " or " + choices[-1]
        raise FlagError(f"Invalid value `{value}' for option `{flag}'. Allowed values are: {allowed}")
    options[name] = value


def check_positionals(command: str, positional: list[str]) -> None:
    """go-flags checkRequired for the positional arguments; extra ones are ErrExtraArgs."""
    _, name, minimum, maximum = COMMANDS[command]
    if len(positional) < minimum:
        if maximum is None:
            raise FlagError(f"the required argument `{name} (at least {minimum} argument)` was not provided")
        raise FlagError(f"the required argument `{name}` was not provided")
    if maximum is not None and len(positional) > maximum:
        raise CommandError("too many arguments for command")


def channel_from(options: dict[str, Any]) -> str | None:
    """channelMixin.setChannelFromCommandline: --channel or one of --stable/--candidate/...;
    the name must parse (snap/channel/channel.go ParseVerbatim). Returns the full name."""
    chosen = options.get("channel")
    for risk in RISKS:
        if options.get(risk):
            if chosen:
                raise CommandError("please specify a single channel")
            chosen = risk
    if chosen is None or chosen == "":
        return None
    return full_channel(chosen)


def full_channel(name: str) -> str:
    """track/risk[/branch], 'latest' for no track, 'stable' for no risk (channel.Clean)."""
    parts = name.split("/")
    if len(parts) > 3:
        raise CommandError(f"cannot parse channel: channel name has too many components: {name}")
    track = risk = branch = None
    if len(parts) == 3:
        track, risk, branch = parts
    elif len(parts) == 2:
        track, risk = (None, parts[0]) if parts[0] in RISKS else (parts[0], parts[1])
        if parts[0] in RISKS:
            branch = parts[1]
    elif parts[0] in RISKS:
        risk = parts[0]
    else:
        track = parts[0]
    if risk is not None and risk not in RISKS:
        raise CommandError(f"cannot parse channel: invalid risk in channel name: {name}")
    if track == "":
        raise CommandError(f"cannot parse channel: invalid track in channel name: {name}")
    if branch == "":
        raise CommandError(f"cannot parse channel: invalid branch in channel name: {name}")
    full = f"{track or 'latest'}/{risk or 'stable'}"
    return f"{full}/{branch}" if branch else full


# --- entry point -----------------------------------------------------------------------------

def main(ctx: Context, args: list[str]) -> int:
    try:
        return run(ctx, args)
    except HelpRequested as help_for:
        ctx.out(help_text(str(help_for)))
        return 0
    except FlagError as e:
        return ctx.error(f"error: {e}", EX_USAGE)
    except CommandError as e:
        return ctx.error(f"error: {e}", 1)


def run(ctx: Context, args: list[str]) -> int:
    # Top-level options before the command: -h/--help and --version only (main.go optionsData).
    while args and is_option(args[0]):
        flag = args.pop(0)
        if flag in ("-h", "--help"):
            raise HelpRequested("")
        if flag == "--version":
            ctx.out(f"snap    {PREINSTALLED['snapd']['version']}\nsnapd   {PREINSTALLED['snapd']['version']}\n"
                    "series  16\nubuntu  24.04")
            return 0
        name = flag[2:].split("=")[0] if flag.startswith("--") else flag[1]
        raise FlagError(f"unknown flag `{name}'")
    if not args:
        ctx.out(help_text(""))
        return 0  # ErrCommandRequired: the short help
    command, rest = args[0], args[1:]
    if command == "help":
        ctx.out(help_text(rest[0] if rest else ""))
        return 0
    handler = HANDLERS.get(command)
    if handler is None and command in SNAPD_COMMANDS:
        raise CommandError(f"nodesim: snap {command} is not simulated")
    if handler is None:
        return ctx.error(f"error: unknown command \"{command}\", see 'snap help'.", EX_USAGE)
    options, positional = parse(command, rest)
    return handler(ctx, options, positional)


def help_text(command: str) -> str:
    if command in COMMANDS:
        spec, name, minimum, maximum = COMMANDS[command]
        many = "..." if maximum is None else ""
        return f"Usage:\n  snap {command} [{command}-OPTIONS] {name}{many}\n\n[{command} command options]\n" + \
            "\n".join(f"      --{option}" for option in spec)
    return ("The snap command lets you install, configure, refresh and remove snaps.\n\n"
            "Usage: snap <command> [<options>...]\n\nCommands: " + ", ".join(sorted(COMMANDS)))


# --- what is installed -------------------------------------------------------------------------

def installed(node: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The installed snap's record, or None (the AMI's snaps and bases are records too)."""
    if name in PREINSTALLED:
        return {**PREINSTALLED[name], "channel": PREINSTALLED[name]["tracking"], "hold": None}
    record = node.get("snaps", {}).get(name)
    if record is None and name == "microk8s" and node.get("installed"):
        # A state written before snaps{} existed.
        record = {"channel": node["channel"], "tracking": node.get("tracking"), "hold": "forever" if node.get("held") else None}
    return record


def held(record: dict[str, Any]) -> bool:
    hold = record.get("hold")
    return hold == "forever" or (isinstance(hold, (int, float)) and hold > time.time())


def store_entry(name: str) -> dict[str, Any]:
    entry = STORE.get(name)
    if entry is None:
        raise CommandError(f'snap "{name}" not found')
    return entry


def check_available(name: str, channel: str) -> None:
    """The store has the channel's track (errorToCmdMessage ErrorKindSnapChannelNotAvailable)."""
    if channel.split("/")[0] not in store_entry(name)["tracks"]:
        raise CommandError(f"snap \"{name}\" not available on channel \"{channel}\" (see 'snap info {name}')")


def classic_error(name: str) -> CommandError:
    """error.go ErrorKindSnapNeedsClassic, filled to 79 columns after the `error: ` prefix."""
    import textwrap

    paragraphs = [f'This revision of snap "{name}" was published using classic confinement and thus may '
                  "perform arbitrary system changes outside of the security sandbox that snaps are "
                  "usually confined to, which may put your system at risk.",
                  "If you understand and want to proceed repeat the command including --classic."]
    indent = " " * len("error: ")
    text = "\n\n".join(textwrap.fill(p, width=79, initial_indent=indent, subsequent_indent=indent)
                       for p in paragraphs)
    return CommandError(text.strip())


def path_warning(ctx: Context) -> None:
    """showDone: a warning when /snap/bin is not on $PATH (the node's is $MEC_ROOT/snap/bin)."""
    paths = {os.path.normpath(p) for p in os.environ.get("PATH", "").split(":") if p}
    if "/snap/bin" not in paths and os.path.normpath(str(ctx.root / "snap/bin")) not in paths:
        ctx.error("Warning: /snap/bin was not found in your $PATH. If you've not restarted your session since you\n"
                  "         installed snapd, try doing that. Please see https://forum.snapcraft.io/t/9469 for\n"
                  "         more details.\n")


def shown_channel(channel: str) -> str:
    """showDone prints the channel unless it is plain stable."""
    return "" if channel == "latest/stable" else f" ({channel})"


def publisher(name: str) -> str:
    display, username = STORE[name]["publisher"]
    return f"{display} ({username}{VERIFIED})" if display.lower() != username else f"{display}{VERIFIED}"


# --- commands ----------------------------------------------------------------------------------

def snap_wait(ctx: Context, options: dict[str, Any], positional: list[str]) -> int:
    if positional == ["system", "seed.loaded"]:
        return 0  # a launched node is seeded by the time its agent runs anything
    raise CommandError(f"nodesim: snap wait {' '.join(positional)} is not simulated")


def snap_list(ctx: Context, options: dict[str, Any], positional: list[str]) -> int:
    node = ctx.read()["nodes"][ctx.instance_id]
    names = sorted(set(PREINSTALLED) | set(node.get("snaps", {})))
    if positional:
        names = [n for n in names if n in positional]
        if not names:
            raise CommandError("no matching snaps installed")
    rows = [("Name", "Version", "Rev", "Tracking", "Publisher", "Notes")]
    for name in names:
        record = installed(node, name) or {}
        if name in PREINSTALLED or name in BASES:
            info = PREINSTALLED.get(name) or BASES[name]
            rows.append((name, info["version"], info["revision"], info["tracking"], info["publisher"] + VERIFIED, info["notes"]))
            continue
        notes = ",".join(n for n, on in (("classic", STORE[name]["confinement"] == "classic"), ("held", held(record))) if on)
        rows.append((name, record["version"], record["revision"], record.get("tracking") or "-",
                     STORE[name]["publisher"][1] + VERIFIED, notes or "-"))
    ctx.out(tabulate(rows))
    return 0


def tabulate(rows: list[tuple[str, ...]]) -> str:
    """tabwriter.NewWriter(Stdout, 5, 3, 2, ' ', 0): cells padded by 2, at least 5 wide."""
    widths = [max(max(len(r[i]) for r in rows) + 2, 5) for i in range(len(rows[0]) - 1)]
    return "\n".join("".join(c.ljust(w) for c, w in zip(r, widths)) + r[-1] for r in rows)


def snap_info(ctx: Context, options: dict[str, Any], positional: list[str]) -> int:
    node = ctx.read()["nodes"][ctx.instance_id]
    for name in positional:
        entry = STORE.get(name)
        if entry is None:
            raise CommandError(f'no snap found for "{name}"')
        ctx.out(f"name:      {name}\nsummary:   {entry['summary']}\npublisher: {publisher(name)}\n"
                f"license:   {entry['license']}")
        record = installed(node, name)
        if record:
            ctx.out(f"tracking:     {record.get('tracking') or '-'}\ninstalled:    {record['version']} ({record['revision']})")
        ctx.out("channels:")
        for track in entry["tracks"][:4]:
            ctx.out(f"  {track}/stable: {release(name, track + '/stable')[0]}")
    return 0


def snap_install(ctx: Context, options: dict[str, Any], positional: list[str]) -> int:
    channel = channel_from(options)
    if options.get("devmode") and options.get("jailmode"):
        raise CommandError("cannot use devmode and jailmode flags together")
    local = [is_local(n) for n in positional]
    if len(positional) > 1:
        if any(local) != all(local):
            raise CommandError("cannot install local and store snaps at the same time")
        if channel:
            raise CommandError("a single snap name is needed to specify channel flags")
        if not all(local) and (options.get("classic") or options.get("devmode") or options.get("jailmode")):
            raise CommandError("cannot specify mode for multiple store snaps (only for one store snap or several local ones)")
    code = 0
    for name, from_file in zip(positional, local):
        if from_file:
            code = install_file(ctx, Path(name), options) or code
        else:
            code = install_store(ctx, name, channel or "latest/stable", options) or code
    return code


def is_local(name: str) -> bool:
    """cmd_snap_op.go isLocalContainer."""
    return "/" in name or name.endswith(".snap") or ".snap." in name


def install_store(ctx: Context, name: str, channel: str, options: dict[str, Any]) -> int:
    if options.get("name"):
        raise CommandError("cannot use explicit name when installing from store")
    entry = store_entry(name)
    with ctx.lock() as s:
        node = s["nodes"][ctx.instance_id]
        if installed(node, name):
            ctx.error(f"snap \"{name}\" is already installed, see 'snap help refresh'")
            return 0
    check_available(name, channel)
    if entry["confinement"] == "classic" and not (options.get("classic") or options.get("dangerous")):
        raise classic_error(name)
    with ctx.lock() as s:
        node = s["nodes"][ctx.instance_id]
        if name == "microk8s":
            node["install_attempts"] += 1
        failing = name == "microk8s" and take_install_fault(s, ctx.instance_id)
        delay = s["latency"]["install_seconds"] * s["time_scale"] if name == "microk8s" else 0.0
    scaled_sleep(delay)  # the download, outside the lock: nodes install in parallel
    if failing:
        version_, revision = release(name, channel)
        raise CommandError(f"cannot perform the following tasks:\n- Download snap \"{name}\" ({revision}) from channel "
                           f"\"{channel}\" (persistent network error)")
    mark_installed(ctx, name, channel, tracking=channel)
    path_warning(ctx)
    ctx.out(f"{name}{shown_channel(channel)} {release(name, channel)[0]} from {publisher(name)} installed")
    return 0


def install_file(ctx: Context, path: Path, options: dict[str, Any]) -> int:
    """`snap install FILE`: the download of `snap download`, its assertions acknowledged (or
    --dangerous). Takes what is left of install_seconds after the download; tracks no channel
    until `snap switch`."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CommandError(f'cannot open "{path}": open {path}: {e.strerror.lower() if e.strerror else e}') from None
    meta = snap_file_metadata(data)
    if meta is None:
        raise CommandError(f"cannot read snap file: cannot process snap or snapdir: file \"{path}\" is invalid")
    name = options.get("name") or meta["name"]
    with ctx.lock() as s:
        node = s["nodes"][ctx.instance_id]
        acked = digest(data) in node.get("acked", [])
    if not acked and not (options.get("dangerous") or options.get("force-dangerous") or options.get("devmode")):
        raise CommandError(f'cannot find signatures with metadata for snap/component "{path}"')
    if STORE[meta["name"]]["confinement"] == "classic" and not options.get("classic"):
        raise classic_error(name)
    with ctx.lock() as s:
        node = s["nodes"][ctx.instance_id]
        if name == "microk8s":
            node["install_attempts"] += 1
        failing = name == "microk8s" and take_install_fault(s, ctx.instance_id)
        latency = s["latency"]
        delay = max(0.0, latency["install_seconds"] - latency.get("download_seconds", 0.0)) * s["time_scale"] \
            if name == "microk8s" else 0.0
    scaled_sleep(delay)  # the install hooks, outside the lock
    if failing:
        raise CommandError(f"cannot perform the following tasks:\n- Run install hook of \"{name}\" snap if present "
                           "(run hook \"install\": exit status 1)")
    mark_installed(ctx, name, meta["channel"], tracking=None, revision=meta["revision"] if acked else "x1")
    path_warning(ctx)
    ctx.out(f"{name} {meta['version']} from {publisher(meta['name'])} installed")
    return 0


def take_install_fault(s: dict[str, Any], instance_id: str) -> bool:
    """True when this install attempt fails (fault `fail_install`: a count, negative = always)."""
    fail = s["faults"]["fail_install"].get(instance_id, 0)
    if fail > 0:
        s["faults"]["fail_install"][instance_id] = fail - 1
    return fail != 0


def mark_installed(ctx: Context, name: str, channel: str, tracking: str | None, revision: str | None = None) -> None:
    from . import microk8s

    version_, store_revision = release(name, channel)
    hostname = ctx.hostname()
    sans = microk8s.read_extra_sans(ctx.root) if name == "microk8s" else []
    cni_env = microk8s.read_cni_env(ctx.root) if name == "microk8s" else {}
    with ctx.lock() as s:
        node = s["nodes"][ctx.instance_id]
        snaps = node.setdefault("snaps", {})
        previous = snaps.get(name) or {}
        snaps[name] = {"channel": channel, "tracking": tracking, "version": version_,
                       "revision": revision or store_revision, "hold": previous.get("hold"),
                       "installed_at": time.time()}
        base = STORE[name]["base"]
        if base in BASES and base not in snaps:
            snaps[base] = {**BASES[base], "channel": "latest/stable", "hold": None, "installed_at": time.time()}
        fresh = name == "microk8s" and not node["installed"]
        if fresh:
            microk8s.first_start_state(s, ctx.instance_id, hostname, sans, cni_env)
        if name == "microk8s":
            mirror_microk8s(node)
        ips = [node["private_ip"], *sans]
        key_pool = s.get("key_pool") or str(ctx.state_path.parent / "keys")
    if fresh:
        microk8s.first_start_files(ctx, Path(key_pool), ips, cni_env)
    link_commands(ctx.root, name)


def mirror_microk8s(node: dict[str, Any]) -> None:
    """The microk8s fields the other modules read (state.new_node)."""
    record = node.get("snaps", {}).get("microk8s")
    node["installed"] = record is not None
    node["channel"] = record["channel"] if record else None
    node["tracking"] = record["tracking"] if record else None
    node["held"] = bool(record and held(record))


def link_commands(root: Path, name: str) -> None:
    """The snap's commands in the node's /snap/bin."""
    bin_dir = root / "snap/bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for command, target in STORE[name]["commands"].items():
        link = bin_dir / command
        if not link.exists() and not link.is_symlink():
            link.symlink_to(SNAPBIN / target)


def snap_remove(ctx: Context, options: dict[str, Any], positional: list[str]) -> int:
    for name in positional:
        with ctx.lock() as s:
            node = s["nodes"][ctx.instance_id]
            if name in PREINSTALLED:
                raise CommandError(f'snap "{name}" is not removable: snap is being used by snap amazon-ssm-agent.'
                                   if name == "core22" else f'snap "{name}" is not removable')
            if name not in node.get("snaps", {}):
                ctx.error(f'snap "{name}" is not installed')
                continue
            del node["snaps"][name]
            if name == "microk8s":
                mirror_microk8s(node)
                node.update(cluster=None, role=None, node_name=None, joined_at=None, installed_at=None)
        for command in STORE.get(name, {}).get("commands", {}):
            (ctx.root / "snap/bin" / command).unlink(missing_ok=True)
        if name == "microk8s":
            import shutil

            shutil.rmtree(ctx.root / "var/snap/microk8s", ignore_errors=True)
        ctx.out(f"{name} removed" if options.get("purge") else f"{name} removed (snap data snapshot saved)")
    return 0


def snap_download(ctx: Context, options: dict[str, Any], positional: list[str]) -> int:
    """`snap download NAME [--channel=C] [--target-directory=D] [--basename=B]`: B.snap and
    B.assert in D (default NAME_REVISION in the current folder), after download_seconds. A node
    whose store installs fail cannot download either."""
    basename = options.get("basename") or ""
    if "/" in basename:
        raise CommandError("cannot specify a path in basename (use --target-dir for that)")
    channel = channel_from(options) or "latest/stable"
    if options.get("revision") and options.get("channel"):
        raise CommandError("cannot specify both channel and revision")
    name = positional[0]
    store_entry(name)
    check_available(name, channel)
    version_, revision = release(name, channel)
    target = Path(options.get("target-directory") or ".")
    base = basename or f"{name}_{revision}"
    with ctx.lock() as s:
        failing = name == "microk8s" and s["faults"]["fail_install"].get(ctx.instance_id, 0) != 0
        delay = s["latency"].get("download_seconds", 0.0) * s["time_scale"] if name == "microk8s" else 0.0
    ctx.out(f'Fetching snap "{name}"')
    scaled_sleep(delay)
    if failing:
        raise CommandError(f'cannot download snap "{name}": persistent network error')
    if not target.is_dir():
        raise CommandError(f"open {target / (base + '.snap.partial')}: no such file or directory")
    data = (f"nodesim snap file\nname={name}\nrevision={revision}\nversion={version_}\nchannel={channel}\n"
            f"confinement={STORE[name]['confinement']}\n").encode()
    (target / f"{base}.snap").write_bytes(data)
    ctx.out(f'Fetching assertions for "{name}"')
    (target / f"{base}.assert").write_text(assertions(name, revision, data))
    rel = lambda p: os.path.relpath(p, Path.cwd())  # noqa: E731 - printInstallHint's filepath.Rel
    ctx.out(f"Install the snap with:\n   snap ack {rel(target / (base + '.assert'))}\n   snap install {rel(target / (base + '.snap'))}")
    return 0


def digest(data: bytes) -> str:
    """snap-sha3-384: base64url (no padding) of the file's SHA3-384 (asserts/snap_asserts.go)."""
    return base64.urlsafe_b64encode(hashlib.sha3_384(data).digest()).decode().rstrip("=")


def assertions(name: str, revision: str, data: bytes) -> str:
    """The snap-declaration and snap-revision assertions of a download (simplified: no account
    keys, no signatures)."""
    snap_id = hashlib.sha256(name.encode()).hexdigest()[:32]
    return (f"type: snap-declaration\nauthority-id: canonical\nseries: 16\nsnap-id: {snap_id}\nsnap-name: {name}\n\n"
            f"type: snap-revision\nauthority-id: canonical\nsnap-sha3-384: {digest(data)}\nsnap-id: {snap_id}\n"
            f"snap-revision: {revision}\nsnap-size: {len(data)}\n")


def snap_file_metadata(data: bytes) -> dict[str, str] | None:
    if not data.startswith(b"nodesim snap file\n"):
        return None
    meta = dict(line.split("=", 1) for line in data.decode(errors="replace").splitlines()[1:] if "=" in line)
    return meta if {"name", "revision", "version", "channel"} <= set(meta) and meta["name"] in STORE else None


def snap_ack(ctx: Context, options: dict[str, Any], positional: list[str]) -> int:
    path = positional[0]
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise CommandError(f"cannot assert: open {path}: {(e.strerror or str(e)).lower()}") from None
    found = re.findall(r"^snap-sha3-384: (\S+)$", text, flags=re.M)
    if not found:
        raise CommandError("cannot assert: assertion content/signature separator not found")
    with ctx.lock() as s:
        acked = s["nodes"][ctx.instance_id].setdefault("acked", [])
        acked.extend(d for d in found if d not in acked)
    return 0


def snap_switch(ctx: Context, options: dict[str, Any], positional: list[str]) -> int:
    """`snap switch NAME --channel=C`: what refreshes follow; the installed revision stays."""
    channel = channel_from(options)
    if options.get("cohort") and options.get("leave-cohort"):
        raise CommandError("cannot specify both --cohort and --leave-cohort")
    if channel is None and not options.get("cohort") and not options.get("leave-cohort"):
        raise CommandError("nothing to switch; specify --channel (and/or one of --cohort/--leave-cohort)")
    name = positional[0]
    with ctx.lock() as s:
        node = s["nodes"][ctx.instance_id]
        record = node.get("snaps", {}).get(name)
        if record is None:
            raise CommandError(f'snap "{name}" is not installed')
        if channel:
            record["tracking"] = channel
        if name == "microk8s":
            mirror_microk8s(node)
        tracking = record["tracking"]
    ctx.out(f'"{name}" switched to the "{tracking}" channel\n')
    return 0


def snap_refresh(ctx: Context, options: dict[str, Any], positional: list[str]) -> int:
    channel = channel_from(options)
    if options.get("devmode") and options.get("jailmode"):
        raise CommandError("cannot use devmode and jailmode flags together")
    other = any(options.get(k) for k in ("amend", "revision", "cohort", "leave-cohort", "list", "time",
                                          "ignore-validation", "ignore-running")) or \
        options.get("transaction", "per-snap") != "per-snap"
    if "hold" in options:
        if options.get("unhold") or other or options.get("tracking"):
            raise CommandError("cannot use --hold with other flags")
        return hold_refreshes(ctx, options["hold"], positional)
    if options.get("unhold"):
        return hold_refreshes(ctx, None, positional)
    if len(positional) != 1:
        if channel or options.get("classic") or options.get("devmode") or options.get("jailmode"):
            raise CommandError("a single snap name is needed to specify mode or channel flags")
        ctx.error("All snaps up to date.")
        return 0
    name = positional[0]
    with ctx.lock() as s:
        node = s["nodes"][ctx.instance_id]
        record = node.get("snaps", {}).get(name)
        if record is None:
            raise CommandError(f'snap "{name}" is not installed')
        target = channel or record.get("tracking") or record["channel"]
        check_available(name, target)
        if target == record["channel"]:
            record["tracking"] = target  # the same revision, now tracking that channel
            if name == "microk8s":
                mirror_microk8s(node)
            ctx.error(f'snap "{name}" has no updates available')
            return 0
        record.update(channel=target, tracking=target, version=release(name, target)[0], revision=release(name, target)[1])
        if name == "microk8s":
            mirror_microk8s(node)
    ctx.out(f"{name}{shown_channel(target)} {release(name, target)[0]} from {publisher(name)} refreshed")
    return 0


def hold_refreshes(ctx: Context, hold: str | None, positional: list[str]) -> int:
    """cmdRefresh.holdRefreshes / unholdRefreshes. `hold` None: --unhold."""
    until: str | float | None = None
    if hold is not None:
        if hold == "forever":
            until = "forever"
        else:
            try:
                seconds = go_duration(hold)
            except ValueError as e:
                raise CommandError(f'hold value must be a number of hours, minutes or seconds, or "forever": {e}') from None
            if seconds < 1:
                raise CommandError(f"cannot hold refreshes for less than a second: {hold}")
            until = time.time() + seconds
    with ctx.lock() as s:
        node = s["nodes"][ctx.instance_id]
        for name in positional:
            if node.get("snaps", {}).get(name) is None and name not in PREINSTALLED:
                raise CommandError(f'snap "{name}" is not installed')
        for name in positional:
            if name in node.get("snaps", {}):
                node["snaps"][name]["hold"] = until
        mirror_microk8s(node)
    quoted = ", ".join(f'"{n}"' for n in positional)
    if hold is None:
        ctx.out("Removed auto-refresh hold on all snaps" if not positional else f"Removed general refresh hold of {quoted}")
        return 0
    when = "indefinitely" if until == "forever" else "until " + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until))  # type: ignore[arg-type]
    ctx.out(f"Auto-refresh of all snaps held {when}" if not positional else f"General refreshes of {quoted} held {when}")
    return 0


GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds, with its error messages."""
    quoted = f'"{text}"'
    s = text
    negative = s[:1] == "-"
    if s[:1] in ("-", "+"):
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f"time: invalid duration {quoted}")
    total = 0.0
    while s:
        number = re.match(r"([0-9]*)(\.[0-9]*)?", s)
        whole, fraction = number.group(1), number.group(2) or ""  # type: ignore[union-attr]
        if not whole and fraction in ("", "."):
            raise ValueError(f"time: invalid duration {quoted}")
        s = s[number.end():]  # type: ignore[union-attr]
        unit = re.match(r"[^0-9.]*", s).group(0)  # type: ignore[union-attr]
        if not unit:
            raise ValueError(f"time: missing unit in duration {quoted}")
        if unit not in GO_UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration {quoted}')
        total += float((whole or "0") + (fraction if fraction != "." else "")) * GO_UNITS[unit]
        s = s[len(unit):]
    return -total if negative else total


# Every command of snapd's client (cmd/snap addCommand names): real, but not simulated here.
SNAPD_COMMANDS = frozenset((
    "abort advise-snap alias aliases auto-import booted buy changes check-snapshot component components connect "
    "connections create-cohort create-key create-user delete-key delta disable disconnect enable export-key "
    "export-snapshot find firstboot forget get handle-link import-snapshot interface interfaces keys known login "
    "logout logs managed model okay pack prefer prepare-image quota quotas reboot recovery remodel remove-quota "
    "remove-user repair repairs report-issue restart restore revert run save saved services set set-quota sign "
    "sign-build start stop tasks try unalias unset userd validate version warnings watch whoami").split())

HANDLERS = {
    "install": snap_install,
    "refresh": snap_refresh,
    "remove": snap_remove,
    "switch": snap_switch,
    "download": snap_download,
    "ack": snap_ack,
    "list": snap_list,
    "info": snap_info,
    "wait": snap_wait,
}
