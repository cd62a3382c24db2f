#!/usr/bin/env python3
"""The add-on catalogue (functions/shared/catalogue/addons.json) and the two texts made from it.

1. The `mec-join` document (functions/join/document.yaml) carries one shell case per add-on
   (its commands, its health check, its timeout, what it needs), between the markers
   `# --- add-on catalogue` and `# --- end of the add-on catalogue ---`. The commands live in the
   document, never in a command parameter; this check makes sure that every catalogue entry has
   its case and every case its entry, exactly as generated.
2. The catalogue table of docs/addons.md, between `<!-- add-on catalogue -->` and
   `<!-- end of the add-on catalogue -->`.

Usage, from the repository root:
    python3 tests/lint/check_addon_catalogue.py           # exits 1 when a text is stale
    python3 tests/lint/check_addon_catalogue.py --update  # rewrites both (`make catalogue`)
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "functions/shared/catalogue/addons.json"
DOCUMENT = ROOT / "functions/join/document.yaml"
PAGE = ROOT / "docs/addons.md"

DOC_BEGIN = "# --- add-on catalogue"
DOC_END = "# --- end of the add-on catalogue ---"
PAGE_BEGIN = "<!-- add-on catalogue -->"
PAGE_END = "<!-- end of the add-on catalogue -->"
INDENT = " " * 10  # the script's indentation inside the document's YAML block


def load() -> list[dict]:
    return json.loads(CATALOGUE.read_text())["addons"]


def document_block(addons: list[dict]) -> list[str]:
    """The generated shell functions, one case per add-on, unindented."""
    lines = [
        f"{DOC_BEGIN}: generated from functions/shared/catalogue/addons.json by",
        "# `make catalogue`; tests/lint/check_addon_catalogue.py fails when it is stale. ---",
        "# The commands that install an add-on, in order; the first failure ends the case.",
        "addon_install() {",
        "  case $1 in",
    ]
    for a in addons:
        lines.append(f"    {a['name']})")
        lines += [f"      {command} || return" for command in a["commands"]]
        lines.append("      ;;")
    lines += ["    *) return 64 ;;", "  esac", "}", "",
              "# One check of an add-on's health: exit code 0 once it is healthy.",
              "addon_health() {", "  case $1 in"]
    lines += [f"    {a['name']}) {a['health']['command']} ;;" for a in addons]
    lines += ["    *) return 64 ;;", "  esac", "}", "",
              "# Seconds an add-on may take to turn healthy; fails for an add-on not in the catalogue.",
              "addon_timeout() {", "  case $1 in"]
    lines += [f"    {a['name']}) echo {int(a['health']['timeout_seconds'])} ;;" for a in addons]
    lines += ["    *) return 64 ;;", "  esac", "}", "",
              "# The add-ons that must be healthy before this one.",
              "addon_requires() {", "  case $1 in"]
    lines += [f"    {a['name']}) echo \"{' '.join(a['requires'])}\" ;;" for a in addons if a["requires"]]
    lines += ["    *) echo \"\" ;;", "  esac", "}", DOC_END]
    return lines


def render_document(text: str, addons: list[dict]) -> str:
    lines = text.split("\n")
    try:
        begin = next(i for i, line in enumerate(lines) if line.strip().startswith(DOC_BEGIN))
        end = next(i for i, line in enumerate(lines) if line.strip() == DOC_END)
    except StopIteration:
        raise SystemExit(f"{DOCUMENT}: the markers {DOC_BEGIN!r} … {DOC_END!r} are missing")
    block = [(INDENT + line) if line else "" for line in document_block(addons)]
    return "\n".join(lines[:begin] + block + lines[end + 1:])


def gib(value: int) -> str:
    return "—" if value == 0 else f"{value} GiB"


def page_block(addons: list[dict]) -> list[str]:
    rows = [
        PAGE_BEGIN,
        "| add-on | installs | needs first | min. nodes | memory per node / in all | architectures | MicroK8s tracks | health check (timeout) | ports |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for a in addons:
        tracks = f"{a['min_track']}–{a['max_track']}" if a["max_track"] else f"{a['min_track']}+"
        ports = ", ".join(f"{p['port']}/{p['protocol']} ({p['what']})" for p in a["ports"]) or "—"
        needs = ", ".join(f"`{r}`" for r in a["requires"]) or "—"
        health = a["health"]["command"].replace("|", "\\|")
        rows.append(
            f"| `{a['name']}` | {a['installs']} | {needs} | {a['min_nodes']} | "
            f"{gib(a['min_node_memory_gib'])} / {gib(a['min_total_memory_gib'])} | "
            f"{', '.join(a['architectures'])} | {tracks} | `{health}` ({a['health']['timeout_seconds']} s) | {ports} |"
        )
    rows.append(PAGE_END)
    return rows


def render_page(text: str, addons: list[dict]) -> str:
    pattern = re.compile(re.escape(PAGE_BEGIN) + ".*?" + re.escape(PAGE_END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{PAGE}: the markers {PAGE_BEGIN} … {PAGE_END} are missing")
    return pattern.sub(lambda _: "\n".join(page_block(addons)), text, count=1)


def document_cases(text: str) -> list[str]:
    """The case labels of addon_install in the document as it is."""
    body = text.split("addon_install() {", 1)[-1].split("\n          }", 1)[0]
    return re.findall(r"^ {14}([a-z0-9-]+)\)$", body, re.M)


def main(argv: list[str]) -> int:
    addons = load()
    update = "--update" in argv
    problems = []
    for path, render in ((DOCUMENT, render_document), (PAGE, render_page)):
        current = path.read_text()
        wanted = render(current, addons)
        if update and wanted != current:
            path.write_text(wanted)
            print(f"updated {path.relative_to(ROOT)}")
        elif wanted != current:
            problems.append(f"{path.relative_to(ROOT)} is stale: run `make catalogue` and commit the result")
    names = [a["name"] for a in addons]
    cases = document_cases(DOCUMENT.read_text())
    missing = [n for n in names if n not in cases]
    extra = [c for c in cases if c not in names]
    if missing:
        problems.append(f"catalogue entries without a case in the document: {', '.join(missing)}")
    if extra:
        problems.append(f"document cases without a catalogue entry: {', '.join(extra)}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"ok add-on catalogue: {len(names)} entries, each with its document case and docs/addons.md row")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
