"""One source for the version: the root VERSION file; every copy agrees with it.

scripts/set_version.py lists the copies (``COPIES``) and writes them; these tests
fail when one disagrees, when the distributions stop reading VERSION (or
``runwire.__version__``), or when the script does not write a new version into
every copy of a scratch tree.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
import runwire

from runwire_server import service

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "set_version.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    """scripts/set_version.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("set_version", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["set_version"] = module
    spec.loader.exec_module(module)
    return module


def test_every_copy_holds_the_version_of_the_version_file(script: ModuleType) -> None:
    problems: list[str] = script.disagreements()
    assert problems == [], "run scripts/set_version.py $(cat VERSION):\n" + "\n".join(problems)


def test_the_distributions_read_the_version_instead_of_copying_it() -> None:
    server = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in server["project"]
    assert "version" in server["project"]["dynamic"]
    assert server["tool"]["setuptools"]["dynamic"]["version"] == {"file": "VERSION"}
    client = tomllib.loads((ROOT / "clients/python/pyproject.toml").read_text())
    assert "version" not in client["project"]
    assert client["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "runwire.__version__"}


def test_the_installed_packages_report_the_version() -> None:
    version = (ROOT / "VERSION").read_text().strip()
    assert runwire.__version__ == version
    assert service.__version__ == version


def test_set_version_writes_every_copy(script: ModuleType, tmp_path: Path) -> None:
    """On a scratch copy of the files: every copy takes the new version, nothing else changes."""
    paths = {"VERSION", *(copy.path for copy in script.COPIES)}
    for path in paths:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    before = {path: (tmp_path / path).read_text() for path in paths}
    changed = script.set_version("12.34.56", tmp_path)
    assert sorted(changed) == sorted(paths)
    assert script.read_version(tmp_path) == "12.34.56"
    assert script.disagreements(tmp_path) == []
    old = script.read_version(ROOT)
    for path in paths - {"VERSION"}:
        # Only the version changed: putting the old one back gives the file as it was.
        after = (tmp_path / path).read_text()
        assert after != before[path]
        assert after.replace("12.34.56", old) == before[path]
    assert script.set_version("12.34.56", tmp_path) == []


@pytest.mark.parametrize("bad", ["1.2", "v1.2.3", "1.2.3-rc.1", ""])
def test_set_version_refuses_what_is_not_x_y_z(script: ModuleType, bad: str) -> None:
    with pytest.raises(ValueError, match=r"X\.Y\.Z"):
        script.set_version(bad, ROOT)
