"""Runwire's in-tree PEP 517 build backend: ``setuptools.build_meta`` plus one dependency.

The server distribution (``runwire``) depends on the client distribution
(``runwire-client[cli]``), which lives in the same repository (``clients/python``).
pyproject.toml names it without a version or a location, and this backend decides
where it comes from when it writes the metadata (``METADATA`` of a wheel, an
editable wheel or ``prepare_metadata_*``; ``PKG-INFO`` of an sdist):

* **checkout mode** (the default when ``clients/python/pyproject.toml`` is next to
  the project): a direct reference to the checkout,
  ``runwire-client[cli] @ file:///ABSOLUTE/PATH/clients/python``, so that
  ``pip install .`` and ``pip install -e .`` work from a fresh checkout without
  any index holding runwire-client;
* **release mode** (the config setting ``runwire-release=true``, as in
  ``pip wheel -C runwire-release=true``, or ``RUNWIRE_RELEASE=1`` in the environment;
  always for an sdist, and whenever ``clients/python`` is absent, as when a wheel is
  built from the sdist): ``runwire-client[cli]==VERSION``, VERSION being the root ``VERSION``
  file, the one source of every artifact's version (scripts/set_version.py).

A wheel built in checkout mode names a path on the machine that built it: never
publish one, and never copy one to another machine (docker/Dockerfile builds in
release mode). docs/releasing.md has the whole story.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile
from pathlib import Path

from setuptools import build_meta as _setuptools  # type: ignore[import-untyped]
from setuptools.build_meta import (  # type: ignore[import-untyped]
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
)

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]

#: The dependency as pyproject.toml writes it; the backend replaces this line of the metadata.
PLACEHOLDER = "Requires-Dist: runwire-client[cli]"
#: The placeholder, or a line this backend wrote already (setuptools may reuse the metadata
#: of ``prepare_metadata_for_build_wheel`` when it builds the wheel).
_CLIENT_LINE = re.compile(r"Requires-Dist: runwire-client\[cli\](?:| @ \S+|==\S+)")
#: Set to 1 (or true/yes) for a build that may leave this machine.
RELEASE_VARIABLE = "RUNWIRE_RELEASE"
#: The same as a PEP 517 config setting (``pip wheel -C runwire-release=true``).
RELEASE_SETTING = "runwire-release"
_TRUE = ("1", "true", "yes")
#: The client project inside a checkout, relative to the project root.
CLIENT_PROJECT = Path("clients") / "python"
#: Files the backend needs to run again from an sdist (setuptools leaves them out).
SDIST_EXTRAS = ("VERSION", "build_backend/runwire_build.py")


def release_mode(config_settings: dict[str, object] | None = None) -> bool:
    """True when the config setting ``runwire-release`` or the environment variable
    ``RUNWIRE_RELEASE`` is 1, true or yes (any case)."""
    setting = (config_settings or {}).get(RELEASE_SETTING, "")
    variable = os.environ.get(RELEASE_VARIABLE, "")
    return any(str(value).strip().lower() in _TRUE for value in (setting, variable))


def version(root: Path | None = None) -> str:
    """The release version, from ``VERSION`` at the project root (``X.Y.Z``).

    Raises:
        ValueError: the file does not hold a version.
    """
    text = ((root or Path.cwd()) / "VERSION").read_text(encoding="utf-8").strip()
    if not re.fullmatch(r"\d+\.\d+\.\d+", text):
        raise ValueError(f"VERSION holds {text!r}, not a version such as 1.2.3")
    return text


def client_requirement(
    *,
    release: bool | None = None,
    root: Path | None = None,
    config_settings: dict[str, object] | None = None,
) -> str:
    """The ``Requires-Dist`` value for the client: a pin (release mode) or a file URL.

    Args:
        release: Force release mode (True) or checkout mode (False); default:
            ``release_mode(config_settings)``, or release mode when ``clients/python``
            is missing.
        root: The project root; default: the current directory (PEP 517 runs
            every hook in the project's root).
    """
    root = (root or Path.cwd()).resolve()
    client = root / CLIENT_PROJECT
    if release is None:
        release = release_mode(config_settings) or not (client / "pyproject.toml").is_file()
    if release:
        return f"runwire-client[cli]=={version(root)}"
    return f"runwire-client[cli] @ {client.as_uri()}"


def rewrite_metadata(text: str, requirement: str) -> str:
    """``METADATA``/``PKG-INFO`` text with the client's line (the placeholder, or a
    requirement written before) replaced by ``Requires-Dist: REQUIREMENT``.

    Raises:
        ValueError: the line is not there exactly once (pyproject.toml changed).
    """
    lines = text.split("\n")
    found = [i for i, line in enumerate(lines) if _CLIENT_LINE.fullmatch(line)]
    if len(found) != 1:
        raise ValueError(
            f"expected one {PLACEHOLDER!r} line in the metadata, found {len(found)}: "
            "pyproject.toml must list the client as plain 'runwire-client[cli]'"
        )
    lines[found[0]] = f"Requires-Dist: {requirement}"
    return "\n".join(lines)


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()},{len(data)}"


def _rewrite_wheel(path: Path, requirement: str) -> None:
    """Replaces the placeholder in a wheel's ``METADATA`` and fixes its ``RECORD`` line."""
    with zipfile.ZipFile(path) as source:
        entries = [(info, source.read(info)) for info in source.infolist()]
    metadata_name = next(
        info.filename
        for info, _ in entries
        if re.fullmatch(r"[^/]+\.dist-info/METADATA", info.filename)
    )
    record_name = metadata_name.removesuffix("METADATA") + "RECORD"
    contents = dict((info.filename, data) for info, data in entries)
    metadata = rewrite_metadata(contents[metadata_name].decode("utf-8"), requirement)
    contents[metadata_name] = metadata.encode("utf-8")
    record = [
        f"{metadata_name},{_record_hash(contents[metadata_name])}"
        if line.startswith(f"{metadata_name},")
        else line
        for line in contents[record_name].decode("utf-8").splitlines()
    ]
    contents[record_name] = ("\n".join(record) + "\n").encode("utf-8")
    temporary = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(temporary, "w") as target:
        for info, _ in entries:
            target.writestr(info, contents[info.filename], compress_type=zipfile.ZIP_DEFLATED)
    temporary.replace(path)


def _rewrite_metadata_directory(
    metadata_directory: str, dist_info: str, config_settings: dict[str, object] | None
) -> None:
    metadata = Path(metadata_directory) / dist_info / "METADATA"
    text = metadata.read_text(encoding="utf-8")
    requirement = client_requirement(config_settings=config_settings)
    metadata.write_text(rewrite_metadata(text, requirement), encoding="utf-8")


def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: dict[str, object] | None = None
) -> str:
    """PEP 517 hook: setuptools' ``.dist-info``, with the client requirement filled in."""
    name: str = _setuptools.prepare_metadata_for_build_wheel(metadata_directory, config_settings)
    _rewrite_metadata_directory(metadata_directory, name, config_settings)
    return name


def prepare_metadata_for_build_editable(
    metadata_directory: str, config_settings: dict[str, object] | None = None
) -> str:
    """PEP 660 hook: as ``prepare_metadata_for_build_wheel``."""
    name: str = _setuptools.prepare_metadata_for_build_editable(metadata_directory, config_settings)
    _rewrite_metadata_directory(metadata_directory, name, config_settings)
    return name


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, object] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """PEP 517 hook: setuptools' wheel, with the client requirement filled in."""
    name: str = _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)
    _rewrite_wheel(
        Path(wheel_directory) / name, client_requirement(config_settings=config_settings)
    )
    return name


def build_editable(
    wheel_directory: str,
    config_settings: dict[str, object] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """PEP 660 hook: setuptools' editable wheel, with the client requirement filled in."""
    name: str = _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)
    _rewrite_wheel(
        Path(wheel_directory) / name, client_requirement(config_settings=config_settings)
    )
    return name


def build_sdist(sdist_directory: str, config_settings: dict[str, object] | None = None) -> str:
    """PEP 517 hook: setuptools' sdist in release mode (an sdist is for other machines),
    plus the files this backend needs to build a wheel from it (``SDIST_EXTRAS``)."""
    name: str = _setuptools.build_sdist(sdist_directory, config_settings)
    path = Path(sdist_directory) / name
    requirement = client_requirement(release=True)
    with tarfile.open(path, "r:gz") as source:
        members = [(m, source.extractfile(m).read() if m.isfile() else None) for m in source]  # type: ignore[union-attr]
    top = members[0][0].name.split("/")[0]
    present = {member.name for member, _ in members}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as target:
        for member, data in members:
            content = data
            if content is not None and member.name.endswith("/PKG-INFO"):
                content = rewrite_metadata(content.decode("utf-8"), requirement).encode("utf-8")
                member.size = len(content)
            target.addfile(member, io.BytesIO(content) if content is not None else None)
        for extra in SDIST_EXTRAS:
            if f"{top}/{extra}" not in present:
                data = Path(extra).read_bytes()
                info = tarfile.TarInfo(f"{top}/{extra}")
                info.size, info.mode, info.mtime = len(data), 0o644, members[0][0].mtime
                target.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())
    return name
