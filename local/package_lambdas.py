#!/usr/bin/env python3
"""Zips host-built Lambda binaries the way cargo-lambda lays them out: <out>/<binary>/bootstrap.zip.

The local world deploys these with the same Terraform module that deploys the arm64 zips to AWS.
Binaries are stripped first (debug builds are large) and zipped with fixed timestamps, so the
same binary gives the same zip and Terraform sees no change.

Usage: package_lambdas.py BINARY_DIR OUT_DIR
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

FUNCTIONS = ["validate", "network", "master", "workers", "install", "join", "teardown", "api"]


def package(binary_dir: Path, out_dir: Path) -> None:
    for function in FUNCTIONS:
        binary = binary_dir / f"mec-{function}"
        if not binary.exists():
            sys.exit(f"{binary} is missing: build the workspace first (cargo test --workspace builds it)")
        target = out_dir / f"mec-{function}" / "bootstrap.zip"
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            bootstrap = Path(tmp) / "bootstrap"
            shutil.copy(binary, bootstrap)
            subprocess.run(["strip", str(bootstrap)], check=True)
            info = zipfile.ZipInfo("bootstrap", date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = 0o755 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with zipfile.ZipFile(target, "w") as archive:
                archive.writestr(info, bootstrap.read_bytes())
        print(f"{target.relative_to(out_dir.parent) if out_dir.parent in target.parents else target}: {target.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    package(Path(sys.argv[1]), Path(sys.argv[2]))
