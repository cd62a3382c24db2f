"""Markdown tables of a benchmark run (bench/run.py's results), as printed and kept in docs/benchmarks.md."""

from __future__ import annotations

from typing import Any

import model


def _m(seconds: float) -> str:
    """Seconds as `m:ss`."""
    seconds = max(0.0, seconds)
    return f"{int(seconds // 60)}:{int(round(seconds % 60)):02d}" if seconds % 60 < 59.5 else f"{int(seconds // 60) + 1}:00"


def phase(r: dict[str, Any], start: str, end: str) -> str:
    """Modelled seconds from the first entry of Task `start` to that of `end`, at the largest scale."""
    tasks = list(r["tasks"].values())[-1]
    first = {}
    for name, at in tasks:
        first.setdefault(name, at)
    return f"{first[end] - first[start]:.0f}" if start in first and end in first else "-"


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _counts(counts: dict[str, int]) -> str:
    """{"b": 2, "a": 1} as "a 1, b 2"; nothing as "0"."""
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "0"


def _summed(dicts: list[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            total[k] = total.get(k, 0) + v
    return total


def fault_summary(row: dict[str, Any]) -> dict[str, Any]:
    """p50 and p95 of the runs that reached READY, against the bound; the faults and retries of
    all. A run during which the machine paused does not count (another ran in its place)."""
    runs = [r for r in row["runs"] if r.get("paused", 0.0) < model.PAUSE_TOLERANCE]
    ready = [r["modelled"] for r in runs if r["status"] == "SUCCEEDED"]
    bound = model.lower_bound(row["workers"], prefetch=True)
    p50 = model.percentile(ready, 50) if ready else None
    p95 = model.percentile(ready, 95) if ready else None
    return {
        "runs": len(runs), "ready": len(ready), "paused": len(row["runs"]) - len(runs), "p50": p50, "p95": p95, "bound": bound,
        "faults": _summed([r["faults"]["by_kind"] for r in runs]), "retries": _summed([r["retries"] for r in runs]),
    }


def fault_row(row: dict[str, Any]) -> list[Any]:
    s = fault_summary(row)
    ratio = lambda v: f"{v / s['bound']:.2f}×" if v is not None else "-"  # noqa: E731
    minutes = lambda v: _m(v) if v is not None else "-"  # noqa: E731
    retries = sum(s["retries"].values())
    runs = f"{s['runs']}" + (f" (+{s['paused']} void: machine paused)" if s["paused"] else "")
    return [row["workers"], runs, f"{s['ready']}/{s['runs']}", minutes(s["p50"]), minutes(s["p95"]), _m(s["bound"]),
            ratio(s["p50"]), ratio(s["p95"]), _m(row["baseline"]["modelled"]), _counts(s["faults"]),
            f"{retries} ({_counts(s['retries'])})" if retries else "0"]


def fault_findings(rows: list[dict[str, Any]]) -> list[str]:
    """Every run that did not reach READY, with its error: a finding, never dropped."""
    lines = []
    for row in rows:
        for r in row["runs"]:
            if r["status"] != "SUCCEEDED":
                where = ", ".join(f"{g['state']} ({g['error']})" for g in r.get("gave_up") or []) or "?"
                lines.append(f"- {r['name']} ({row['workers']} workers): {r['status']} in {where}: {r.get('error')}: "
                             f"{(r.get('cause') or '')[:500]}; teardown {r.get('teardown')}")
    return lines


def faults_section(f: dict[str, Any]) -> str:
    rows = [fault_row(row) for row in f["rows"]]
    text = "### Time to Ready with faults (modelled, m:ss)\n\n" + table(
        ["workers", "runs", "READY", "p50", "p95", "lower bound", "p50 / bound", "p95 / bound", "without faults (1 run)",
         "faults injected (all runs, by kind)", "Task retries (all runs, by error)"], rows)
    findings = fault_findings(f["rows"])
    text += "\n\n" + ("Runs that did not reach READY:\n" + "\n".join(findings) if findings else "Every run reached READY.")
    profile = table(["faults.json key", "value", "why"], [[k, f"`{v['value']}`", v["reason"]] for k, v in f["profile"].items()])
    return text + (f"\n\nFault profile (bench/model.py FAULT_PROFILE), over the latency model at time scale {f['time_scale']:g} "
                   f"({f.get('date', '')}):\n\n" + profile)


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    parts = [f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}; {m['date']}; `make bench`."]
    if results.get("ready"):
        rows = []
        for r in results["ready"]:
            # The model's columns from the model as it is now (the measured ones stay).
            r = {**r, "lower_bound": model.lower_bound(r["workers"], prefetch=True),
                 "lower_bound_store": model.lower_bound(r["workers"], prefetch=False), "iec": model.iec_type2(r["workers"])}
            r["ratio"] = r["modelled"] / r["lower_bound"]
            rows.append([
                r["workers"], _m(r["modelled"]), _m(r["lower_bound"]), f"{r['ratio']:.2f}×",
                _m(r["lower_bound_store"]), _m(r["iec"]), f"{r['iec'] / r['modelled']:.1f}×",
                " / ".join(_m(v) for v in r["modelled_at"].values()),
                " / ".join(f"{w:.1f}" for w in r["walls"].values()), f"{r['overhead']:.1f}",
                phase(r, "Install", "MintToken"), phase(r, "JoinNodes", "Verify") if r["workers"] else "-",
            ])
        scales = " and ".join(str(s) for s in results["scales"])
        parts.append("### Time to Ready (modelled, m:ss)\n\n" + table(
            ["workers", "mec", "lower bound", "mec / bound", "bound without the snap prefetch", "IEC Type 2 (model)", "IEC / mec",
             f"mec at scale {scales}", f"wall s at scale {scales}", "overhead s (real, largest scale)",
             f"install phase s (model: {model.install_phase():.0f})",
             f"join phase s (model: {model.seconds('join_seconds'):.0f})"], rows))
        published = table(["alternative", "published time to a cluster", "source"], [list(p) for p in model.PUBLISHED])
        parts.append(published)
        latency = table(["stage", "modelled s", "source"], [[k, f"{v.seconds:g}", v.source] for k, v in model.LATENCY.items()])
        parts.append("Latency model (bench/model.py):\n\n" + latency)
    if results.get("cost"):
        rows = []
        for workers, c in sorted(results["cost"].items(), key=lambda kv: int(kv[0])):
            d = c["dollars"]
            rows.append([
                workers, c["transitions"], c["invocations"], c["billed_ms"], c["kms_requests"],
                f"{c['calls_per_poll']['node check']:.1f}", f"{c['calls_per_poll']['command check']:.1f}",
                f"${d['step_functions']:.4f}", f"${d['lambda_requests'] + d['lambda_duration']:.5f}", f"${d['kms']:.5f}",
                f"**${d['total']:.4f}**",
            ])
        parts.append("### Cost per environment (one create to READY)\n\n" + table(
            ["workers", "state transitions", "Lambda invocations", "Lambda billed ms", "KMS requests",
             "API calls / node check", "API calls / command check", "Step Functions", "Lambda", "KMS", "total"], rows))
        ops = sorted({op for c in results["cost"].values() for op in c["api_calls"]})
        op_rows = [[op] + [c["api_calls"].get(op, 0) for _, c in sorted(results["cost"].items(), key=lambda kv: int(kv[0]))] for op in ops]
        sizes = [f"{w} workers" for w in sorted(results["cost"], key=int)]
        parts.append("AWS API calls of the pipeline's Lambdas, by operation:\n\n" + table(["operation"] + sizes, op_rows))
        parts.append(f"Prices: {model.PRICES_SOURCE}. Step Functions ${model.PRICES['sfn_transition'] * 1000:.3f}/1,000 transitions; "
                     f"Lambda ${model.PRICES['lambda_request'] * 1e6:.2f}/1M requests + ${model.PRICES['lambda_gb_second_arm64']}/GB-s (arm64); "
                     f"KMS ${model.PRICES['kms_request'] * 1e4:.2f}/10,000 requests (+ ${model.PRICES['kms_key_month']:.2f}/month for the "
                     "pipeline's key, shared); EC2 API calls, Run Command and standard parameters free. EC2 instance hours not included. "
                     f"Billed ms are measured here ({results.get('world_binaries', 'release')} binaries against the local emulator), "
                     "not on Lambda.")
    if results.get("cold"):
        rows = [[c["function"], f"{c.get('min_ms', 0):.1f}", f"{c['median_ms']:.1f}", f"{c['p90_ms']:.1f}", f"{c['max_ms']:.1f}",
                 f"{c['binary_bytes'] / 1e6:.1f} MB", f"{c['zip_bytes'] / 1e6:.1f} MB"] for c in results["cold"]]
        parts.append("### Cold start (release build, this machine, 20 starts)\n\n" + table(
            ["function", "init min ms", "median ms", "p90 ms", "max ms", "binary", "zip"], rows))
    if results.get("scale"):
        s = results["scale"]
        parts.append("### Scale\n\n" + table(
            ["environments at once", "READY", "throttling failures", "wall (real s)", "one alone (real s)", "ratio",
             "teardowns", "longest wait for an execution environment"],
            [[s["environments"], s["statuses"].get("SUCCEEDED", 0), s["throttled_failures"], f"{s['wall_all']:.1f}",
              f"{s['wall_one']:.1f}", f"{s['ratio']:.2f}×", s["teardowns"], f"{s['max_queued_ms']:.0f} ms"]]))
    if results.get("edge"):
        e = results["edge"]
        parts.append("### Edge workers (1 regional + 1 Wavelength worker, modelled)\n\n" + table(
            ["zone", "time to Ready", "lower bound (1 worker)", "edge worker Ready after the regional one", "goal"],
            [[e["zone"], _m(e["modelled"]), _m(e["lower_bound"]), f"{e['gap_seconds']:+.1f} s", "≤ 10 s"]])
            + f"\n\nEdge boot and registration: {model.EDGE.source}.")
    if results.get("faults"):
        parts.append(faults_section(results["faults"]))
    return "\n\n".join(parts) + "\n"
