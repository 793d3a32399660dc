"""docs/security.md says what the code does: its role tables are
runwire_server/service/auth/permissions.py,
it explains every field of the ``[auth]`` tables, its TOML examples are valid ``[auth]``
tables, and every RUNWIRE_* name it uses exists.

(tests/integration/test_authorization.py checks the server against its own copy of the
table; this checks the page against the code, so the three cannot drift apart.)
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pydantic import BaseModel

from runwire_server.service.auth.config import ApiKey, AuthSettings, ClientCertificate, JwtSettings
from runwire_server.service.auth.permissions import METHOD_PERMISSIONS, ROLE_PERMISSIONS
from tests.deploy.test_manifests import ROOT, known_variables

PAGE = ROOT / "docs" / "security.md"


def tables(path: Path) -> list[list[list[str]]]:
    """Every Markdown table of ``path``: rows of cells, the header row first, the
    separator row dropped, backquotes removed."""
    found: list[list[list[str]]] = []
    previous_was_row = False
    for line in path.read_text().splitlines():
        if not line.startswith("|"):
            previous_was_row = False
            continue
        cells = [cell.strip().replace("`", "") for cell in line.strip().strip("|").split("|")]
        if all(re.fullmatch(r":?-+:?", cell) for cell in cells):
            continue
        if not previous_was_row:
            found.append([])
        found[-1].append(cells)
        previous_was_row = True
    return found


def table_with_header(header: list[str]) -> list[list[str]]:
    (table,) = [t for t in tables(PAGE) if t[0][: len(header)] == header]
    return table[1:]


def test_the_rpc_table_is_method_permissions() -> None:
    roles = list(ROLE_PERMISSIONS)
    rows = table_with_header(["RPC", "permission", *roles])
    printed = {}
    for rpc, permission, *marks in rows:
        printed[rpc] = permission
        granted = {role for role, mark in zip(roles, marks, strict=True) if mark == "✓"}
        assert all(mark in ("✓", "") for mark in marks), rpc
        assert granted == {r for r in roles if permission in ROLE_PERMISSIONS[r]}, rpc
    assert len(printed) == len(rows)  # each RPC once
    expected = {
        method.strip("/").split(".")[-1]: permission
        for method, permission in METHOD_PERMISSIONS.items()
    }
    assert printed == expected


def test_the_role_table_is_role_permissions() -> None:
    rows = table_with_header(["role", "permissions"])
    printed = {role: {p.strip() for p in permissions.split(",")} for role, permissions in rows}
    assert printed == {role: set(permissions) for role, permissions in ROLE_PERMISSIONS.items()}


def test_every_auth_field_is_explained() -> None:
    text = PAGE.read_text()
    models: list[type[BaseModel]] = [ApiKey, JwtSettings, ClientCertificate]
    missing = [
        f"{model.__name__}.{name}"
        for model in models
        for name in model.model_fields
        if not re.search(rf"\b{name}\b", text)
    ]
    assert missing == []


def test_every_runwire_variable_on_the_page_exists() -> None:
    used = set(re.findall(r"\bRUNWIRE_[A-Z0-9_]*[A-Z0-9]\b(?!_)", PAGE.read_text()))
    assert used - known_variables() == set()


def test_the_toml_examples_are_valid_auth_tables() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", PAGE.read_text(), re.S)
    assert len(blocks) >= 3
    for block in blocks:
        auth = AuthSettings.model_validate(tomllib.loads(block)["auth"])
        assert auth.enabled
