"""Extract the third-party .proto files Runwire's contract imports into build/proto-deps.

Sources (registry packages, never vendored into the repo):
- google/rpc/*.proto: the `googleapis-common-protos` PyPI package (installed in the venv).
- buf/validate/validate.proto: the `build.buf:protovalidate` jar from Maven Central,
  fetched with `mvn dependency:copy` into build/ (the jar ships the .proto).

Usage: python scripts/proto_deps.py  (idempotent; exits non-zero with a message on failure)
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import zipfile

import google.rpc

PROTOVALIDATE_JAVA = "build.buf:protovalidate:1.3.0"
ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "proto-deps"


def _google_rpc() -> None:
    src = pathlib.Path(next(iter(google.rpc.__path__)))
    dst = OUT / "google" / "rpc"
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("status.proto", "error_details.proto"):
        shutil.copyfile(src / name, dst / name)


def _protovalidate() -> None:
    dst = OUT / "buf" / "validate" / "validate.proto"
    if dst.exists():
        return
    jar_dir = ROOT / "build" / "jars"
    jar_dir.mkdir(parents=True, exist_ok=True)
    _, artifact, version = PROTOVALIDATE_JAVA.split(":")
    jar = jar_dir / f"{artifact}-{version}.jar"
    if not jar.exists():
        subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "dependency:copy",
                f"-Dartifact={PROTOVALIDATE_JAVA}",
                f"-DoutputDirectory={jar_dir}",
            ],
            check=True,
            cwd=jar_dir,
        )
    dst.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(jar) as zf:
        dst.write_bytes(zf.read("buf/validate/validate.proto"))


def main() -> int:
    try:
        _google_rpc()
        _protovalidate()
    except (OSError, subprocess.CalledProcessError, KeyError) as exc:
        print(f"proto_deps: could not prepare {OUT}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
