"""``[[mcp_servers]]`` settings: validation, secrets read at start, never shown."""

from __future__ import annotations

import pathlib

import pydantic
import pytest

from runwire_server.app.config import McpServerSettings, Settings
from runwire_server.app.wiring import build_tools
from runwire_server.service.core.errors import InvalidArgumentError
from runwire_server.service.tools.mcp import McpServerConfig, pool_of


def stdio(**extra: object) -> dict[str, object]:
    return {"name": "files", "transport": "stdio", "command": "mcp-files", **extra}


def settings(*servers: dict[str, object]) -> Settings:
    return Settings.model_validate({"mcp_servers": list(servers)})


def test_stdio_needs_a_command_and_http_a_url() -> None:
    with pytest.raises(pydantic.ValidationError, match="needs command"):
        McpServerSettings.model_validate({"name": "a", "transport": "stdio"})
    with pytest.raises(pydantic.ValidationError, match="needs url"):
        McpServerSettings.model_validate({"name": "a", "transport": "streamable_http"})
    with pytest.raises(pydantic.ValidationError, match="needs url"):
        McpServerSettings.model_validate(
            {"name": "a", "transport": "streamable_http", "url": "ftp://x"}
        )
    with pytest.raises(pydantic.ValidationError, match="for streamable_http"):
        McpServerSettings.model_validate(stdio(headers={"A": "b"}))
    with pytest.raises(pydantic.ValidationError, match="for stdio"):
        McpServerSettings.model_validate(
            {"name": "a", "transport": "streamable_http", "url": "http://h/mcp", "env": {"A": "b"}}
        )


@pytest.mark.parametrize("name", ["", "Upper", "-lead", "x" * 33, "a.b"])
def test_names_follow_the_toolset_pattern(name: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        McpServerSettings.model_validate(stdio(name=name))


def test_names_are_unique() -> None:
    with pytest.raises(pydantic.ValidationError, match="must be unique: files"):
        settings(stdio(), stdio())


def test_secrets_come_from_variables_and_files(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = tmp_path / "token"
    secret_file.write_text("  file-secret\n")
    monkeypatch.setenv("HOST_TOKEN", "env-secret")
    config = McpServerSettings.model_validate(
        stdio(
            env={"PLAIN": "p"},
            env_from_env={"TOKEN": "HOST_TOKEN"},
            env_from_files={"OTHER": str(secret_file)},
        )
    ).resolve()
    assert dict(config.env) == {"PLAIN": "p", "TOKEN": "env-secret", "OTHER": "file-secret"}
    assert "env-secret" not in repr(config) and "file-secret" not in repr(config)
    http = McpServerSettings.model_validate(
        {
            "name": "web",
            "transport": "streamable_http",
            "url": "https://mcp.example/mcp",
            "headers_from_files": {"Authorization": str(secret_file)},
        }
    ).resolve()
    assert dict(http.headers) == {"Authorization": "file-secret"}
    assert "mcp.example" not in repr(http)


def test_a_missing_secret_stops_the_start_naming_its_source(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    configured = settings(stdio(env_from_env={"TOKEN": "NOT_SET_ANYWHERE"}))
    with pytest.raises(InvalidArgumentError, match="'files': env TOKEN: environment variable"):
        build_tools(configured)
    empty = tmp_path / "empty"
    empty.write_text("\n")
    configured = settings(stdio(env_from_files={"TOKEN": str(empty)}))
    with pytest.raises(InvalidArgumentError, match="is empty"):
        build_tools(configured)


def test_build_tools_attaches_a_pool_only_with_servers() -> None:
    assert pool_of(build_tools(Settings())) is None
    pool = pool_of(build_tools(settings(stdio())))
    assert pool is not None and pool.server_names() == ["files"]


def test_filter_allow_then_deny() -> None:
    config = McpServerConfig(
        name="s",
        transport="stdio",
        command="x",
        allow_tools=("read_*", "list"),
        deny_tools=("read_secret",),
    )
    assert [t for t in ("read_file", "read_secret", "list", "write") if config.allows(t)] == [
        "read_file",
        "list",
    ]
    everything = McpServerConfig(name="s", transport="stdio", command="x", deny_tools=("rm",))
    assert everything.allows("anything") and not everything.allows("rm")
