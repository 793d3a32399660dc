"""Model endpoints belong to the operator: the options agents may give, the routing of
a call (``runwire_server.service.llm.endpoints``), the settings that declare endpoints
(``[[model_endpoints]]``, ``model_base_url_allowlist``) and the bounded breakers.

The end-to-end checks (a real server, loopback listeners, canary keys) are in
``tests/integration/test_model_endpoints.py``.
"""

from __future__ import annotations

import pathlib
from typing import Any

import pydantic
import pytest

from runwire_server.app.config import ModelEndpointSettings, Settings, load_settings
from runwire_server.app.wiring import build_providers
from runwire_server.service.core.errors import InvalidArgumentError
from runwire_server.service.llm.anthropic import AnthropicProvider
from runwire_server.service.llm.base import ModelError, ModelRequest
from runwire_server.service.llm.breaker import CircuitBreakers
from runwire_server.service.llm.endpoints import (
    EndpointRouter,
    ModelEndpoint,
    caller_base_url,
    origin_of,
)
from runwire_server.service.llm.http_clients import PLACEHOLDER_API_KEY, Endpoint
from runwire_server.service.llm.openai import OpenAIProvider
from runwire_server.service.llm.options import AnthropicOptions, OpenAIOptions
from runwire_server.service.llm.registry import ProviderRegistry

DEFAULT = Endpoint(base_url="http://default/v1", api_key="operator-key")

TEAM = ModelEndpoint(
    name="team", provider="openai", base_url="https://llm.example/v1", api_key="team-key"
)
SMALL = ModelEndpoint(
    name="small",
    provider="openai",
    base_url="http://127.0.0.1:8081/v1",
    models=frozenset({"tiny", "mini"}),
)
CLAUDE = ModelEndpoint(
    name="claude", provider="anthropic", base_url="https://anthropic.example", api_key="a-key"
)


def router() -> EndpointRouter:
    return EndpointRouter([TEAM, SMALL, CLAUDE], base_url_allowlist=["http://127.0.0.1:8080"])


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize("options_model", [OpenAIOptions, AnthropicOptions])
@pytest.mark.parametrize("key", ["api_key_env", "api_key", "api_key_file"])
def test_no_option_names_a_key_a_variable_or_a_file(
    options_model: type[OpenAIOptions | AnthropicOptions], key: str
) -> None:
    violations = options_model.violations({key: "RUNWIRE_OPENAI_API_KEY"})
    assert list(violations) == [key]
    assert violations[key].startswith("not accepted: model keys belong to the server's")
    with pytest.raises(ModelError) as caught:
        options_model.parse({key: "X", "base_url": "http://127.0.0.1:1/v1"})
    assert not caught.value.retryable


def test_endpoint_option_is_a_name() -> None:
    assert OpenAIOptions.violations({"endpoint": "team-1.eu_west"}) == {}
    for bad in ("", "a b", "-x", "x" * 65, 3):
        assert list(OpenAIOptions.violations({"endpoint": bad})) == ["endpoint"]
    assert OpenAIOptions.violations({"base_url": "http://h/" + "a" * 3000}) == {
        "base_url": "must be at most 2048 characters"
    }


# --------------------------------------------------------------------------- URLs


def test_origin_of() -> None:
    assert origin_of("HTTP://Example.COM:80/v1") == "http://example.com"
    assert origin_of("https://example.com:443") == "https://example.com"
    assert origin_of("https://example.com:8443/x") == "https://example.com:8443"
    assert origin_of("http://[::1]:8080/v1") == "http://[::1]:8080"
    for bad in (
        "ftp://example.com",
        "http://",
        "example.com:80",
        "http://user:pw@example.com",
        "http://127.0.0.1:8080@evil.example/v1",
        "http://evil%2eexample/v1",
        "http://host:port/v1",
        "http://host:99999/v1",
    ):
        assert origin_of(bad) is None, bad


def test_caller_base_url_is_rebuilt_from_what_was_checked() -> None:
    assert caller_base_url("HTTP://127.0.0.1:8080/v1") == (
        "http://127.0.0.1:8080",
        "http://127.0.0.1:8080/v1",
    )
    for bad in (
        "http://127.0.0.1:8080/v1?key=x",
        "http://127.0.0.1:8080/v1#x",
        "http://127.0.0.1:8080/v1\\@evil.example",
        "http://127.0.0.1:8080/v 1",
        "http://127.0.0.1:8080/v1\x00",
        "http://u@127.0.0.1:8080/v1",
    ):
        with pytest.raises(ValueError):
            caller_base_url(bad)


# --------------------------------------------------------------------------- routing


def test_violations_of_an_agents_choice() -> None:
    routes = router()
    assert routes.violations("openai", "gpt", {}) == {}
    assert routes.violations("openai", "gpt", {"endpoint": "team"}) == {}
    assert routes.violations("openai", "tiny", {"endpoint": "small"}) == {}
    assert routes.violations("openai", "gpt", {"base_url": "http://127.0.0.1:8080/any/v1"}) == {}
    assert routes.violations("openai", "gpt", {"endpoint": "small"}) == {
        "name": "model 'gpt' is not served by endpoint 'small'; it serves: mini, tiny"
    }
    # An endpoint of another provider is unknown to this one.
    assert list(routes.violations("openai", "c", {"endpoint": "claude"})) == ["options.endpoint"]
    assert routes.violations("anthropic", "c", {"endpoint": "team"}) == {
        "options.endpoint": "unknown endpoint 'team'; anthropic endpoints: claude"
    }
    refused = routes.violations("openai", "gpt", {"base_url": "http://127.0.0.1:8081/v1"})
    assert "not in the server's model_base_url_allowlist" in refused["options.base_url"]
    both = {"endpoint": "team", "base_url": "http://127.0.0.1:8080/v1"}
    assert list(routes.violations("openai", "gpt", both)) == ["options.base_url"]
    nothing_allowed = EndpointRouter().violations("openai", "m", {"base_url": "http://a/v1"})
    assert "takes no model URL from agents" in nothing_allowed["options.base_url"]


def test_route_gives_each_endpoint_its_own_key_and_callers_none() -> None:
    routes = router()
    assert routes.route("openai", "m", endpoint=None, base_url=None, default=DEFAULT) is DEFAULT
    team = routes.route("openai", "m", endpoint="team", base_url=None, default=DEFAULT)
    assert team == Endpoint(base_url="https://llm.example/v1", api_key="team-key", name="team")
    small = routes.route("openai", "tiny", endpoint="small", base_url=None, default=DEFAULT)
    assert small.api_key == PLACEHOLDER_API_KEY and not small.caller
    caller = routes.route(
        "openai", "m", endpoint=None, base_url="HTTP://127.0.0.1:8080/v1", default=DEFAULT
    )
    assert caller == Endpoint(
        base_url="http://127.0.0.1:8080/v1", api_key=PLACEHOLDER_API_KEY, caller=True
    )
    for endpoint, base_url in (("nope", None), (None, "http://127.0.0.1:9/v1"), ("claude", None)):
        with pytest.raises(ModelError) as caught:
            routes.route("openai", "m", endpoint=endpoint, base_url=base_url, default=DEFAULT)
        assert not caught.value.retryable
        assert caught.value.message.startswith("openai: model.options.")
    with pytest.raises(ModelError, match=r"model\.name: model 'm' is not served"):
        routes.route("openai", "m", endpoint="small", base_url=None, default=DEFAULT)


async def test_no_default_endpoint_without_a_configured_url_or_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ModelError, match="must configure one for openai") as caught:
        EndpointRouter().route("openai", "m", endpoint=None, base_url=None, default=None)
    assert not caught.value.retryable
    with pytest.raises(ModelError, match=r"name one of its endpoints \(small, team\)"):
        router().route("openai", "m", endpoint=None, base_url=None, default=None)
    # The providers never reach for the SDK's public URL unconfigured: the call is
    # refused before any client exists (no network on this machine would also fail,
    # but later and with another error).
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    request = ModelRequest(model="m", instructions="", messages=(), tools=(), options={})
    for provider in (OpenAIProvider(), AnthropicProvider()):
        with pytest.raises(ModelError, match="no default") as caught:
            async for _ in provider.stream(request):
                pass
        assert caught.value.reason == "MODEL_ERROR"


def test_router_refuses_a_malformed_configuration() -> None:
    with pytest.raises(ValueError, match="twice"):
        EndpointRouter([TEAM, TEAM])
    with pytest.raises(ValueError, match="malformed"):
        EndpointRouter([ModelEndpoint(name="a b", provider="openai", base_url="http://a")])
    with pytest.raises(ValueError, match="http"):
        EndpointRouter([ModelEndpoint(name="a", provider="openai", base_url="a.example")])
    with pytest.raises(ValueError, match="not an origin"):
        EndpointRouter(base_url_allowlist=["http://127.0.0.1:8080/v1"])


def test_an_endpoints_key_stays_out_of_its_repr() -> None:
    assert "team-key" not in repr(TEAM)
    assert "team-key" not in repr(
        router().route("openai", "m", endpoint="team", base_url=None, default=DEFAULT)
    )


# --------------------------------------------------------------------------- the registry


def test_registry_checks_models_against_the_endpoints() -> None:
    registry = ProviderRegistry(endpoints=[TEAM, SMALL], base_url_allowlist=["http://a.example"])
    assert registry.validate_model("openai", "tiny", {"endpoint": "small"}) == {}
    assert registry.validate_model("openai", "big", {"endpoint": "small"}) == {
        "name": "model 'big' is not served by endpoint 'small'; it serves: mini, tiny"
    }
    violations = registry.validate_model(
        "openai", "m", {"base_url": "http://127.0.0.1:1/v1", "api_key_env": "SECRET"}
    )
    assert set(violations) == {"options.base_url", "options.api_key_env"}
    assert set(registry.validate_options("openai", {"endpoint": "nope"})) == {"endpoint"}
    assert registry.validate_model("scripted", "", {"script": [{"text": "a"}]}) == {}
    assert registry.validate_model("openai", "m", {"top_p": "x"}) == {
        "options.top_p": "must be a number"
    }


def test_breakers_are_per_endpoint_and_bounded() -> None:
    breakers = CircuitBreakers(failure_threshold=1, max_breakers=3)
    registry = ProviderRegistry(breakers=breakers, endpoints=[TEAM])
    team = registry.breaker_for("openai", {"endpoint": "team"})
    assert team is registry.breaker_for("openai", {"endpoint": "team", "temperature": 0})
    assert team is not registry.breaker_for("openai", {})
    team.record_failure()  # open: it has something to remember
    for index in range(10):
        registry.breaker_for("openai", {"base_url": f"http://127.0.0.1:8080/v{index}"})
    assert len(breakers) == 3
    # Idle breakers went first: the open one is still there.
    assert registry.breaker_for("openai", {"endpoint": "team"}) is team
    with pytest.raises(ValueError, match="max_breakers"):
        CircuitBreakers(max_breakers=0)


# --------------------------------------------------------------------------- settings


def test_settings_declare_endpoints_and_allowlist(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAM_MODEL_KEY", " from-env \n")
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    values: dict[str, Any] = dict(
        model_endpoints=[
            {
                "name": "team",
                "provider": "openai",
                "base_url": "https://llm.example/v1",
                "api_key_env": "TEAM_MODEL_KEY",
                "models": ["gpt"],
            },
            {
                "name": "claude",
                "provider": "anthropic",
                "base_url": "https://a.example",
                "api_key_file": str(key_file),
            },
            {"name": "local", "provider": "openai", "base_url": "http://127.0.0.1:8081/v1"},
        ],
        model_base_url_allowlist="HTTP://127.0.0.1:8080/, https://llm.internal:443",
    )
    settings = Settings(**values)
    assert settings.model_base_url_allowlist == ["http://127.0.0.1:8080", "https://llm.internal"]
    assert [e.read_api_key() for e in settings.model_endpoints] == [
        "from-env",
        "from-file",
        None,
    ]
    registry = build_providers(settings)
    configured = registry.endpoints.endpoints
    assert configured["team"].api_key == "from-env"
    assert configured["team"].models == frozenset({"gpt"})
    assert configured["claude"].api_key == "from-file"
    assert configured["local"].api_key is None
    assert registry.validate_model("openai", "gpt", {"endpoint": "team"}) == {}
    assert registry.validate_model("openai", "m", {"base_url": "http://127.0.0.1:8080/v1"}) == {}


@pytest.mark.parametrize(
    ("endpoints", "allowlist", "fragment"),
    [
        ([{"name": "a", "provider": "openai", "base_url": "http://a/v1"}] * 2, [], "unique"),
        ([{"name": "a", "provider": "other", "base_url": "http://a/v1"}], [], "provider"),
        ([{"name": "a", "provider": "openai", "base_url": "a.example/v1"}], [], "base_url"),
        ([{"name": "a b", "provider": "openai", "base_url": "http://a/v1"}], [], "name"),
        (
            [
                {
                    "name": "a",
                    "provider": "openai",
                    "base_url": "http://a/v1",
                    "api_key_env": "X",
                    "api_key_file": "/k",
                }
            ],
            [],
            "not both",
        ),
        ([{"name": "a", "provider": "openai", "base_url": "http://a", "key": "x"}], [], "key"),
        ([], ["http://127.0.0.1:8080/v1"], "not an origin"),
        ([], ["127.0.0.1:8080"], "not an origin"),
    ],
)
def test_settings_refuse_malformed_endpoints(
    endpoints: list[dict[str, str]], allowlist: list[str], fragment: str
) -> None:
    with pytest.raises(pydantic.ValidationError, match=fragment):
        values: dict[str, Any] = {
            "model_endpoints": endpoints,
            "model_base_url_allowlist": allowlist,
        }
        Settings(**values)


def test_an_unreadable_key_stops_the_start(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RW_MISSING_MODEL_KEY", raising=False)
    (tmp_path / "empty").write_text("\n")
    for source in (
        {"api_key_env": "RW_MISSING_MODEL_KEY"},
        {"api_key_file": str(tmp_path / "absent")},
        {"api_key_file": str(tmp_path / "empty")},
    ):
        endpoint = ModelEndpointSettings.model_validate(
            {"name": "team", "provider": "openai", "base_url": "http://a/v1", **source}
        )
        with pytest.raises(InvalidArgumentError, match="model endpoint 'team'"):
            build_providers(Settings(model_endpoints=[endpoint]))


def test_endpoints_and_allowlist_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "RUNWIRE_MODEL_ENDPOINTS",
        '[{"name": "local", "provider": "openai", "base_url": "http://127.0.0.1:8081/v1"}]',
    )
    monkeypatch.setenv("RUNWIRE_MODEL_BASE_URL_ALLOWLIST", "http://127.0.0.1:8080")
    settings = Settings()
    assert [e.name for e in settings.model_endpoints] == ["local"]
    assert settings.model_base_url_allowlist == ["http://127.0.0.1:8080"]


def test_endpoints_from_the_config_file(tmp_path: pathlib.Path) -> None:
    config = tmp_path / "runwire.toml"
    config.write_text(
        "model_base_url_allowlist = ['http://127.0.0.1:8080']\n"
        "\n"
        "[[model_endpoints]]\n"
        'name = "openai-prod"\n'
        'provider = "openai"\n'
        'base_url = "https://api.openai.com/v1"\n'
        f'api_key_file = "{tmp_path / "key"}"\n'
        'models = ["gpt-4o-mini"]\n'
        "\n"
        "[[agents]]\n"
        'agent_id = "helper"\n'
        'model = { provider = "openai", name = "gpt-4o-mini", '
        'options = { endpoint = "openai-prod" } }\n'
    )
    settings = load_settings(config)
    (endpoint,) = settings.model_endpoints
    assert (endpoint.name, endpoint.api_key_file) == ("openai-prod", tmp_path / "key")
    assert endpoint.models == ["gpt-4o-mini"]
    assert settings.model_base_url_allowlist == ["http://127.0.0.1:8080"]
