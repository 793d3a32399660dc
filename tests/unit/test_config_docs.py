"""docs/configuration.md is generated from the settings model and committed.

The drift check: the committed page must be exactly what
scripts/gen_config_docs.py generates from runwire_server/app/config.py today, so a new or
changed setting cannot ship without its documentation.
"""

from __future__ import annotations

import importlib.util
import pathlib
from types import ModuleType

from runwire_server.app.config import Settings

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gen_config_docs.py"
PAGE = ROOT / "docs" / "configuration.md"


def load_generator() -> ModuleType:
    """scripts/gen_config_docs.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("gen_config_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_page_is_what_the_script_generates() -> None:
    generated: str = load_generator().render()
    assert PAGE.read_text() == generated, (
        "docs/configuration.md is out of date with runwire_server/app/config.py: "
        "run `.venv/bin/python scripts/gen_config_docs.py` and commit the page"
    )


def test_page_has_one_row_per_setting_with_its_variable_and_default() -> None:
    settings_table = PAGE.read_text().split("## Tables")[0]
    rows = [line for line in settings_table.splitlines() if line.startswith("| `")]
    assert len(rows) == len(Settings.model_fields)
    by_key = {row.split(" | ")[1].strip("`"): row for row in rows}
    assert "`RUNWIRE_RUN_TIMEOUT_SECONDS`" in by_key["run_timeout_seconds"]
    assert "| `300` |" in by_key["run_timeout_seconds"]
    assert "`OPENAI_API_KEY`" in by_key["openai_api_key"]
    assert "| `127.0.0.1:50051` |" in by_key["listen"]


def test_page_lists_every_auth_key() -> None:
    auth_table = PAGE.read_text().split("## Tables")[1]
    assert "| `[[auth.api_keys]]` | `key_sha256` |" in auth_table
    assert "| `[auth.jwt]` | `audience` | string | required |" in auth_table
    assert "| `[[auth.client_certificates]]` | `subject` |" in auth_table


def test_check_mode_reports_a_stale_page(tmp_path: pathlib.Path) -> None:
    generator = load_generator()
    stale = tmp_path / "configuration.md"
    stale.write_text("# Configuration\n")
    assert generator.main(["--check"], page=stale) == 1
    assert generator.main([], page=stale) == 0
    assert generator.main(["--check"], page=stale) == 0
    assert stale.read_text() == generator.render()
