#!/usr/bin/env python3
"""Checks every Lambda zip the way Lambda reads it, before Terraform deploys it.

For each function (every functions/<name> with an iam-actions.txt) in a folder of zips laid out as
cargo-lambda lays them out (<dir>/mec-<name>/bootstrap.zip):
- the archive holds a file named `bootstrap` at its root: the OS-only runtimes (provided.al2023)
  run that file (Lambda Developer Guide, "Building Lambda functions with Rust" and "OS-only
  runtimes");
- it is a regular file with the executable bit set (a zip entry's Unix mode, external_attr >> 16):
  Lambda fails with "permission denied" (Runtime.InvalidEntrypoint) otherwise;
- it is a 64-bit ELF for the declared architecture (e_machine 0x3E x86_64, 0xB7 arm64): the
  function's `architectures` must match the binary, or it fails with Runtime.InvalidEntrypoint;
- the zip is at most 50 MB and its contents at most 250 MB unzipped (Lambda quotas, "Deployment
  package (.zip file archive) size": 50 MB zipped for a direct upload, 250 MB unzipped).

Usage: check_lambda_zips.py DIR ARCH [DIR ARCH ...]   (ARCH: x86_64 or arm64; a missing DIR is an
error, except with --if-present for folders that only exist when built, such as the arm64 zips)
"""

from __future__ import annotations

import stat
import struct
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "iam-actions.txt").exists())
ELF_MACHINE = {"x86_64": 0x3E, "arm64": 0xB7}
MAX_ZIPPED = 50 * 1024 * 1024
MAX_UNZIPPED = 250 * 1024 * 1024


def check_zip(path: Path, architecture: str) -> list[str]:
    problems = []
    if not path.is_file():
        return [f"{path}: missing"]
    if path.stat().st_size > MAX_ZIPPED:
        problems.append(f"{path}: {path.stat().st_size} bytes zipped, over Lambda's 50 MB")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        return [f"{path}: not a zip ({error})"]
    with archive:
        names = archive.namelist()
        if "bootstrap" not in names:
            return problems + [f"{path}: no `bootstrap` at the archive's root (entries: {names[:5]})"]
        unzipped = sum(i.file_size for i in archive.infolist())
        if unzipped > MAX_UNZIPPED:
            problems.append(f"{path}: {unzipped} bytes unzipped, over Lambda's 250 MB")
        info = archive.getinfo("bootstrap")
        mode = info.external_attr >> 16
        if not stat.S_ISREG(mode) and mode & 0o170000:
            problems.append(f"{path}: bootstrap is not a regular file (mode {oct(mode)})")
        if not mode & 0o111:
            problems.append(f"{path}: bootstrap is not executable (mode {oct(mode)})")
        header = archive.open(info).read(20)
    if header[:4] != b"\x7fELF":
        return problems + [f"{path}: bootstrap is not an ELF executable"]
    if header[4] != 2:
        problems.append(f"{path}: bootstrap is not a 64-bit ELF")
    order = "<" if header[5] == 1 else ">"
    machine = struct.unpack(f"{order}H", header[18:20])[0]
    if machine != ELF_MACHINE[architecture]:
        problems.append(f"{path}: bootstrap is built for ELF machine {machine:#x}, not {architecture} "
                        f"({ELF_MACHINE[architecture]:#x})")
    return problems


def check_folder(folder: Path, architecture: str) -> list[str]:
    return [p for f in FUNCTIONS for p in check_zip(folder / f"mec-{f}" / "bootstrap.zip", architecture)]


def main(argv: list[str]) -> int:
    if_present = "--if-present" in argv
    args = [a for a in argv if a != "--if-present"]
    if not args or len(args) % 2 or any(a not in ELF_MACHINE for a in args[1::2]):
        print(__doc__, file=sys.stderr)
        return 2
    problems, checked = [], 0
    for folder, architecture in zip(map(Path, args[0::2]), args[1::2]):
        if not folder.is_dir():
            if not if_present:
                problems.append(f"{folder}: no zips (build them first)")
            continue
        checked += 1
        problems += check_folder(folder, architecture)
        print(f"{folder}: {len(FUNCTIONS)} zips for {architecture}")
    for problem in problems:
        print(problem)
    print(f"lambda zips: {checked} folder(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
