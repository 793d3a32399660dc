#!/usr/bin/env python3
"""Sets Runwire's version everywhere from one source: the VERSION file at the root.

VERSION is the one source. The server distribution reads it at build time
(pyproject.toml: ``dynamic = ["version"]``) and the client distribution reads
``runwire.__version__`` (clients/python/pyproject.toml), so neither pyproject.toml
holds a copy. Every other file that must hold the version literally is listed in
``COPIES``: the Python packages' ``__version__``, the npm package and its lock file,
the Maven project, and the docs and deployment files that name an artifact or the
image tag. tests/unit/test_version.py fails when any copy disagrees with VERSION.

Usage:
  scripts/set_version.py X.Y.Z    write X.Y.Z into VERSION and every copy
  scripts/set_version.py --check  exit 1 and list every copy that disagrees with VERSION

Versions are plain ``X.Y.Z`` (one form that PyPI, npm, Maven and Go tags all accept).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSION_FILE = ROOT / "VERSION"
#: A release version: three numbers.
VERSION = re.compile(r"\d+\.\d+\.\d+")
_V = r"(\d+\.\d+\.\d+)"


@dataclass(frozen=True)
class Copy:
    """One place that holds the version: ``pattern`` matches it, group 1 is the version.

    Attributes:
        path: Relative to the repository root.
        pattern: A regular expression (multi-line mode) that must match at least once.
    """

    path: str
    pattern: str

    def regex(self) -> re.Pattern[str]:
        """The compiled pattern (``re.MULTILINE``)."""
        return re.compile(self.pattern, re.MULTILINE)


_IMAGE_TAG = r"\brunwire:" + _V + r"\b"

COPIES: tuple[Copy, ...] = (
    Copy("clients/python/src/runwire/__init__.py", r'^__version__ = "' + _V + '"$'),
    Copy("runwire_server/service/__init__.py", r'^__version__ = "' + _V + '"$'),
    Copy("clients/typescript/package.json", r'^  "version": "' + _V + '",$'),
    Copy("clients/typescript/package-lock.json", r'^  "version": "' + _V + '",$'),
    Copy(
        "clients/typescript/package-lock.json",
        r'^    "": \{\n      "name": "@runwire/client",\n      "version": "' + _V + '",$',
    ),
    Copy(
        "clients/java/pom.xml",
        r"^  <artifactId>runwire-client</artifactId>\n  <version>" + _V + "</version>$",
    ),
    Copy("clients/java/README.md", r"\bdev\.runwire:runwire-client:" + _V + r"\b"),
    Copy(
        "clients/java/README.md",
        r"<artifactId>runwire-client</artifactId>\n  <version>" + _V + "</version>",
    ),
    Copy("docs/clients/java.md", r"\bdev\.runwire:runwire-client:" + _V + r"\b"),
    Copy("docs/clients/typescript.md", r"\brunwire-client-" + _V + r"\.tgz\b"),
    # The container image's tag in its build and deployment instructions.
    Copy(".dockerignore", _IMAGE_TAG),
    Copy("docker/Dockerfile", _IMAGE_TAG),
    Copy("docker/compose.yaml", _IMAGE_TAG),
    Copy("docker/k8s/fleet.yaml", _IMAGE_TAG),
    Copy("docker/k8s/sidecar.yaml", _IMAGE_TAG),
    Copy("docs/operations.md", _IMAGE_TAG),
)


def read_version(root: Path = ROOT) -> str:
    """The version in ``VERSION``.

    Raises:
        ValueError: the file does not hold ``X.Y.Z``.
    """
    text = (root / "VERSION").read_text(encoding="utf-8").strip()
    if not VERSION.fullmatch(text):
        raise ValueError(f"VERSION holds {text!r}, not X.Y.Z")
    return text


def disagreements(root: Path = ROOT) -> list[str]:
    """Every copy that does not hold VERSION, as ``path: found X (pattern)`` lines;
    a copy whose pattern matches nowhere is listed as missing. Empty when all agree."""
    version = read_version(root)
    problems = []
    for copy in COPIES:
        found = [m.group(1) for m in copy.regex().finditer((root / copy.path).read_text())]
        if not found:
            problems.append(f"{copy.path}: no match for {copy.pattern!r}")
        problems += [
            f"{copy.path}: {value} (expected {version}; pattern {copy.pattern!r})"
            for value in found
            if value != version
        ]
    return problems


def set_version(version: str, root: Path = ROOT) -> list[str]:
    """Writes ``version`` into VERSION and every copy; returns the files it changed.

    Raises:
        ValueError: ``version`` is not ``X.Y.Z``, or a copy's pattern matches nowhere
            (the file changed shape: update ``COPIES``); nothing is written then.
    """
    if not VERSION.fullmatch(version):
        raise ValueError(f"{version!r} is not a version X.Y.Z")
    texts: dict[str, str] = {}
    for copy in COPIES:
        text = texts.get(copy.path) or (root / copy.path).read_text(encoding="utf-8")
        new, count = copy.regex().subn(
            lambda m: (
                m.group(0)[: m.start(1) - m.start(0)]
                + version
                + m.group(0)[m.end(1) - m.start(0) :]
            ),
            text,
        )
        if not count:
            raise ValueError(f"{copy.path}: no match for {copy.pattern!r}")
        texts[copy.path] = new
    texts["VERSION"] = version + "\n"
    changed = []
    for path, text in texts.items():
        if (root / path).read_text(encoding="utf-8") != text:
            (root / path).write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: list[str]) -> int:
    """Command line: ``X.Y.Z`` or ``--check``; returns the exit status."""
    if argv == ["--check"]:
        problems = disagreements()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        changed = set_version(argv[0])
    except ValueError as error:
        print(f"set_version: {error}", file=sys.stderr)
        return 1
    print("\n".join(changed) if changed else "every copy already holds " + argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
