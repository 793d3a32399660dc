"""Configuration, loaded once at the edge (pydantic-settings).

Sources, highest first: keyword overrides (CLI flags), ``RUNWIRE_*``
environment variables, the TOML config file (``RUNWIRE_CONFIG_FILE`` or
``--config``), defaults. docs/configuration.md (generated from this model) lists every setting.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from runwire_server.service.auth.config import AuthSettings
from runwire_server.service.llm.endpoints import ENDPOINT_NAME_PATTERN, origin_of
from runwire_server.service.tools.mcp import MCP_SERVER_NAME_PATTERN, McpServerConfig

DEFAULT_LISTEN = "127.0.0.1:50051"


class ModelEndpointSettings(BaseModel):
    """A ``[[model_endpoints]]`` table: a model endpoint and its key, named by agents
    (``model.options.endpoint``). The key comes from an environment variable or a
    file the operator chooses, read once at start; callers never see or name it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=ENDPOINT_NAME_PATTERN,
        description="What agents call it (model.options.endpoint): letters, digits, _ . -; "
        "1 to 64 characters; unique.",
    )
    provider: Literal["openai", "anthropic"] = Field(
        description="The provider that speaks its API (agents of that provider may name it)."
    )
    base_url: str = Field(
        description="The API's base URL, http:// or https:// (openai: with the version path, "
        "e.g. https://api.openai.com/v1; anthropic: without /v1)."
    )
    api_key_env: str | None = Field(
        default=None,
        min_length=1,
        description="Environment variable of the server (and of its workers) holding the key; "
        "unset with api_key_file unset: no key.",
    )
    api_key_file: pathlib.Path | None = Field(
        default=None, description="File holding the key (surrounding whitespace ignored)."
    )
    models: list[str] = Field(
        default_factory=list,
        description="Model names it serves (Agent.model.name); empty: any.",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if origin_of(value) is None:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @model_validator(mode="after")
    def _one_key_source(self) -> ModelEndpointSettings:
        if self.api_key_env is not None and self.api_key_file is not None:
            raise ValueError("give api_key_env or api_key_file, not both")
        return self

    def read_api_key(self) -> str | None:
        """The endpoint's key, read now; None when it has none configured.

        Raises:
            ValueError: the variable is unset or empty, or the file cannot be read or is
                empty (the message names the endpoint and the source, never the key).
        """
        if self.api_key_env is not None:
            key = os.environ.get(self.api_key_env, "").strip()
            if not key:
                raise ValueError(
                    f"model endpoint {self.name!r}: environment variable "
                    f"{self.api_key_env} is unset or empty"
                )
            return key
        if self.api_key_file is not None:
            try:
                key = self.api_key_file.read_text().strip()
            except OSError as exc:
                raise ValueError(
                    f"model endpoint {self.name!r}: cannot read api_key_file "
                    f"{self.api_key_file}: {exc.strerror or exc}"
                ) from None
            if not key:
                raise ValueError(
                    f"model endpoint {self.name!r}: api_key_file {self.api_key_file} is empty"
                )
            return key
        return None


def _read_secrets(
    server: str,
    what: str,
    literal: dict[str, str],
    from_env: dict[str, str],
    from_files: dict[str, pathlib.Path],
) -> dict[str, str]:
    """``literal``, then each ``from_env`` key read from its variable, then each
    ``from_files`` key from its file (stripped).

    Raises:
        ValueError: a variable is unset or empty, a file unreadable or empty (the
            message names the server and the source, never a value).
    """
    values = dict(literal)
    for key, variable in from_env.items():
        value = os.environ.get(variable, "")
        if not value:
            raise ValueError(
                f"MCP server {server!r}: {what} {key}: environment variable {variable} is "
                "unset or empty"
            )
        values[key] = value
    for key, path in from_files.items():
        try:
            value = path.read_text().strip()
        except OSError as exc:
            raise ValueError(
                f"MCP server {server!r}: {what} {key}: cannot read {path}: {exc.strerror or exc}"
            ) from None
        if not value:
            raise ValueError(f"MCP server {server!r}: {what} {key}: {path} is empty")
        values[key] = value
    return values


class McpServerSettings(BaseModel):
    """A ``[[mcp_servers]]`` table: an MCP server whose tools agents may use
    (``Agent.toolsets``), as ``<name>_<tool>``. Its command, URL, environment and
    headers are the operator's: callers never see or name them, and the values of
    the environment and headers never reach a log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=MCP_SERVER_NAME_PATTERN,
        description="What agents name in toolsets, and the prefix of its tools: lower-case "
        "letters, digits, _ and -; 1 to 32 characters; unique.",
    )
    transport: Literal["stdio", "streamable_http"] = Field(
        description="stdio (a process the server starts) or streamable_http (a URL)."
    )
    command: str | None = Field(
        default=None, min_length=1, description="stdio: the program to start."
    )
    args: list[str] = Field(default_factory=list, description="stdio: its arguments.")
    cwd: pathlib.Path | None = Field(
        default=None, description="stdio: its working directory (default: the server's)."
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        description="stdio: variables set for it (over a minimal PATH, HOME, ... environment).",
    )
    env_from_env: dict[str, str] = Field(
        default_factory=dict,
        description='stdio: variables set for it from the server\'s own: NAME = "SERVER_VAR".',
    )
    env_from_files: dict[str, pathlib.Path] = Field(
        default_factory=dict,
        description='stdio: variables set for it from files: NAME = "/run/secrets/x".',
    )
    url: str | None = Field(
        default=None, description="streamable_http: the endpoint, http:// or https://."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="streamable_http: headers sent with every request."
    )
    headers_from_env: dict[str, str] = Field(
        default_factory=dict,
        description="streamable_http: headers from the server's environment variables: "
        'Header = "VAR".',
    )
    headers_from_files: dict[str, pathlib.Path] = Field(
        default_factory=dict,
        description='streamable_http: headers from files: Header = "/run/secrets/x".',
    )
    allow_tools: list[str] = Field(
        default_factory=list,
        description="Its tools (names as the server lists them, or fnmatch patterns) agents "
        "are offered; empty: all.",
    )
    deny_tools: list[str] = Field(
        default_factory=list,
        description="Its tools (names or fnmatch patterns) never offered; wins over allow_tools.",
    )
    connect_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Longest connection (start, initialize, tool listing); a call waits as "
        "long for a reconnection.",
    )
    call_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Longest tool call; a slower one fails as a tool error the model sees.",
    )

    @model_validator(mode="after")
    def _transport_fields(self) -> McpServerSettings:
        if self.transport == "stdio":
            if self.command is None:
                raise ValueError("a stdio MCP server needs command")
            if self.url is not None or self.headers or self.headers_from_env:
                raise ValueError("url and headers are for streamable_http MCP servers")
            if self.headers_from_files:
                raise ValueError("url and headers are for streamable_http MCP servers")
        else:
            if self.url is None or origin_of(self.url) is None:
                raise ValueError("a streamable_http MCP server needs url, http:// or https://")
            if self.command is not None or self.args or self.cwd is not None:
                raise ValueError("command, args and cwd are for stdio MCP servers")
            if self.env or self.env_from_env or self.env_from_files:
                raise ValueError("env is for stdio MCP servers")
        return self

    def resolve(self) -> McpServerConfig:
        """The server's configuration with its secrets read now.

        Raises:
            ValueError: a variable is unset or empty, a file unreadable or empty
                (the message names the server and the source, never a value).
        """
        return McpServerConfig(
            name=self.name,
            transport=self.transport,
            command=self.command or "",
            args=tuple(self.args),
            cwd=self.cwd,
            env=_read_secrets(self.name, "env", self.env, self.env_from_env, self.env_from_files),
            url=self.url or "",
            headers=_read_secrets(
                self.name, "header", self.headers, self.headers_from_env, self.headers_from_files
            ),
            allow_tools=tuple(self.allow_tools),
            deny_tools=tuple(self.deny_tools),
            connect_timeout_seconds=self.connect_timeout_seconds,
            call_timeout_seconds=self.call_timeout_seconds,
        )


class Settings(BaseSettings):
    """Runwire's settings. Units are in the names (``_seconds``, ``_bytes``)."""

    model_config = SettingsConfigDict(env_prefix="RUNWIRE_", extra="forbid", frozen=True)

    listen: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [DEFAULT_LISTEN],
        description="Addresses to serve on: host:port, or unix:PATH for a Unix socket.",
    )
    http_listen: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses (host:port) to also serve every Runwire service on over HTTP: "
        "the Connect protocol (JSON and binary), gRPC-Web and gRPC, over HTTP/1.1 and HTTP/2, "
        "with the AG-UI endpoint and /healthz, /readyz (docs/http.md). Empty: no HTTP "
        "listener. TLS and the loopback-only rule without auth apply as on listen.",
    )
    http_cors_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port]) whose web pages may call the HTTP "
        "listener (CORS); '*' allows any. Empty: none (browsers refuse cross-origin calls).",
    )
    agui_path: str = Field(
        default="/agui",
        pattern=r"^/[A-Za-z0-9._~/-]{0,63}[A-Za-z0-9._~-]$",
        description="Path prefix of the AG-UI endpoint on the HTTP listener: "
        "POST {agui_path}/{agent_id} (docs/agui.md).",
    )
    http_max_request_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="Largest HTTP request body the HTTP listener reads (a Connect request "
        "message, an AG-UI RunAgentInput); larger is refused.",
    )
    tool_modules: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Python modules imported at start; each defines register_tools(registry).",
    )
    default_runtime: Literal["in_process", "temporal"] = Field(
        default="in_process", description="Runtime of runs whose run and agent name none."
    )
    max_iterations: int = Field(default=5, ge=1, le=100, description="Default LLM rounds.")
    run_timeout_seconds: float = Field(default=300.0, gt=0, description="Default run timeout.")
    thread_history_messages: int = Field(
        default=20, ge=0, le=1000, description="Thread messages included in the model context."
    )
    heartbeat_interval_seconds: float = Field(
        default=15.0, gt=0, description="Silence after which an event stream gets a heartbeat."
    )
    stream_coalesce_ms: float = Field(
        default=0.0,
        ge=0,
        le=10_000,
        description="Merge a model's consecutive text deltas for up to this many milliseconds "
        "into one text_message_content event (fewer, larger events for fast token streams; "
        "adds at most this latency per delta); 0 sends every delta as it comes.",
    )
    stream_coalesce_chars: int = Field(
        default=256,
        ge=1,
        description="With stream_coalesce_ms, a merged delta is sent once it has this many "
        "characters.",
    )
    retained_runs: int = Field(
        default=10_000, ge=1, description="Runs (records and event logs) kept in memory."
    )
    watch_changes_kept: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description="Changes of runs and approvals kept per tenant for WatchRuns and "
        "WatchApprovals (memory: exactly; Redis: about, MAXLEN ~). A watch resumed from an "
        "older cursor, or one that falls this far behind, gets OUT_OF_RANGE (CURSOR_EXPIRED).",
    )
    max_message_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="Largest gRPC message received or sent."
    )
    shutdown_grace_seconds: float = Field(
        default=10.0,
        ge=0,
        description="On SIGTERM/SIGINT: health turns NOT_SERVING and new runs are refused at "
        "once; after this long, open event streams end with UNAVAILABLE (DRAINING) so clients "
        "resume on another replica.",
    )
    drain_timeout_seconds: float = Field(
        default=30.0,
        ge=0,
        description="On SIGTERM/SIGINT, how long in-process runs (service) and running "
        "activities (worker) get to finish before they are cancelled.",
    )
    keepalive_time_seconds: float = Field(
        default=30.0, gt=0, description="gRPC keepalive ping interval on idle connections."
    )
    keepalive_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Time to wait for a keepalive ping's answer."
    )
    log_level: str = Field(default="INFO", description="Python logging level name.")
    log_format: Literal["text", "json"] = Field(default="text", description="Log line format.")
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "RUNWIRE_OPENAI_BASE_URL", "OPENAI_BASE_URL", "openai_base_url"
        ),
        description="Default base URL of the openai provider.",
    )
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("RUNWIRE_OPENAI_API_KEY", "OPENAI_API_KEY", "openai_api_key"),
        description="Default API key of the openai provider.",
    )
    model_endpoints: list[ModelEndpointSettings] = Field(
        default_factory=list,
        description="Model endpoints agents may name (model.options.endpoint), each with its "
        "key: [[model_endpoints]] tables (below); agents that name none use their provider's "
        "default endpoint.",
    )
    mcp_servers: list[McpServerSettings] = Field(
        default_factory=list,
        description="MCP servers whose tools agents may use (Agent.toolsets): [[mcp_servers]] "
        "tables (below). Workers need the same ones.",
    )
    model_base_url_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port]) an agent's model.options.base_url may "
        "point at; such calls are sent no key. Empty: agents cannot name a URL.",
    )
    model_retry_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Calls of a failing model (the first included) before the run falls back "
        "to its next model; in-process runs only (on Temporal the activity retry policy "
        "retries). Only retryable failures are retried: HTTP 408/409/429/5xx, timeouts, "
        "connection errors.",
    )
    model_retry_initial_delay_seconds: float = Field(
        default=0.5,
        ge=0,
        description="Backoff before the first retry of a model call, seconds; doubles per "
        "retry, with up to half taken off at random (jitter).",
    )
    model_retry_max_delay_seconds: float = Field(
        default=8.0, ge=0, description="Longest backoff between retries of a model call, seconds."
    )
    model_retry_after_max_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Longest wait a provider's retry-after header can ask for before a "
        "retry, seconds (a longer hint is cut to this).",
    )
    breaker_failure_threshold: int = Field(
        default=5,
        ge=1,
        description="Consecutive retryable failures of a model endpoint (provider and base "
        "URL) that open its circuit breaker: runs then skip to their fallback models at once.",
    )
    breaker_cooldown_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long an open circuit breaker refuses calls before one trial call, "
        "seconds.",
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description="Redis URL (redis://host:port/db, rediss:// for TLS); enables the Redis "
        "stores, so several service replicas and separate workers share runs, events and "
        "threads. A password may be in the URL (redis://:PASSWORD@host:port/db) or in "
        "redis_password_file, not both.",
    )
    redis_password_file: pathlib.Path | None = Field(
        default=None,
        description="File holding the Redis password (a mounted secret; surrounding whitespace "
        "ignored), read at start by the server and by workers.",
    )
    redis_prefix: str = Field(default="runwire", description="Prefix of every Redis key.")
    event_retention_seconds: float = Field(
        default=7 * 24 * 3600.0,
        gt=0,
        description="How long Redis keeps an ended run's events and records.",
    )
    temporal_address: str | None = Field(
        default=None,
        description="Temporal frontend host:port; setting it enables the Temporal runtime.",
    )
    temporal_namespace: str = Field(default="default", description="Temporal namespace.")
    temporal_task_queue: str = Field(
        default="runwire", description="Task queue of runwire.AgentRun workflows and activities."
    )
    temporal_api_key: SecretStr | None = Field(
        default=None, description="API key for Temporal Cloud (implies TLS)."
    )
    temporal_tls: bool = Field(default=False, description="Connect to Temporal over TLS.")
    temporal_embedded_worker: bool = Field(
        default=True,
        description="With Temporal, `runwire serve` also runs a worker in its process; set "
        "false when separate workers (`runwire worker`) serve the task queue.",
    )
    temporal_sticky_timeout_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How long a workflow task waits for the worker that cached the run "
        "before another worker takes it (bounds recovery after a worker dies).",
    )
    tls_cert_file: pathlib.Path | None = Field(
        default=None,
        description="PEM certificate chain the server presents on host:port listeners; with "
        "tls_key_file, turns on TLS. Re-read when the file changes (rotation without restart).",
    )
    tls_key_file: pathlib.Path | None = Field(
        default=None, description="PEM private key of tls_cert_file."
    )
    tls_client_ca_file: pathlib.Path | None = Field(
        default=None,
        description="PEM CA bundle that signs client certificates; when set, every TLS client "
        "must present a certificate it signs (mutual TLS).",
    )
    unix_socket_mode: str = Field(
        default="0600",
        pattern=r"^0?[0-7]{3}$",
        description="File mode (octal) of unix:PATH listeners' socket files.",
    )
    reflection: bool = Field(
        default=True,
        description="Serve gRPC server reflection (to authenticated callers when auth is on).",
    )
    insecure: bool = Field(
        default=False,
        description="Allow listening on a non-loopback address without authentication "
        "(refused otherwise).",
    )
    auth: AuthSettings = Field(
        default_factory=AuthSettings,
        description="Authentication: API keys, JWT (OIDC) and client certificates; the "
        "[auth] table of the config file (docs/security.md).",
    )
    agents: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Agents created at start: runwire.v1.Agent in proto JSON, with agent_id "
        '(and tenant, default "default").',
    )
    max_agents_per_tenant: int = Field(
        default=1_000, ge=0, description="Agents one tenant may keep (0: no limit)."
    )
    max_agent_bytes: int = Field(
        default=256 * 1024,
        ge=0,
        description="Largest agent definition (the serialized runwire.v1.Agent, options and "
        "schemas included), bytes (0: only max_message_bytes).",
    )
    max_active_runs_per_tenant: int = Field(
        default=500,
        ge=0,
        description="Runs of one tenant not yet ended (queued, running, waiting for an "
        "action); more are refused with RESOURCE_EXHAUSTED (0: no limit).",
    )
    max_open_streams_per_principal: int = Field(
        default=200,
        ge=0,
        description="Event streams (StreamRun, StreamRunEvents) one principal may hold open "
        "on one replica (0: no limit).",
    )
    max_list_response_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="A List response is cut to a shorter page (with a next_page_token) "
        "before it grows past this many bytes.",
    )
    max_struct_bytes: int = Field(
        default=256 * 1024,
        ge=0,
        description="Largest google.protobuf.Struct in a run or approval request (a client "
        "tool's parameters, an approval's edited_arguments), serialized bytes; larger is "
        "refused with RESOURCE_EXHAUSTED before it is parsed further (0: only "
        "max_message_bytes).",
    )
    max_threads_per_tenant: int = Field(
        default=10_000, ge=0, description="Threads one tenant may keep (0: no limit)."
    )
    max_pending_approvals_per_tenant: int = Field(
        default=1_000,
        ge=0,
        description="Approvals of one tenant waiting for a decision; a pending approval is "
        "never evicted: at the limit, new runs are refused with RESOURCE_EXHAUSTED (0: no "
        "limit).",
    )
    max_events_per_run: int = Field(
        default=50_000,
        ge=0,
        description="Events one run may log; a run that reaches it fails with reason "
        "EVENT_LIMIT_EXCEEDED (its run_error is logged past the limit) (0: no limit).",
    )
    retained_event_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=0,
        description="Memory stores: bytes of event logs kept; past it the oldest ended runs "
        "are dropped first, like retained_runs (0: no byte limit). Redis keeps ended runs "
        "for event_retention_seconds.",
    )
    max_concurrent_streams: int = Field(
        default=100,
        ge=1,
        description="RPCs (event streams included) one client connection may have open at "
        "once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); more wait for a free slot.",
    )
    run_lease_seconds: float = Field(
        default=20.0,
        gt=0,
        description="With Redis stores, an in-process run is owned by its replica under a "
        "lease of this many seconds, renewed every quarter of it; once a lease expires "
        "(replica killed or cut off), any replica ends the run FAILED with reason "
        "REPLICA_LOST within about a quarter more.",
    )
    request_id_ttl_seconds: float = Field(
        default=24 * 3600.0,
        gt=0,
        description="How long a run's request_id is remembered (a repeat within it returns "
        "the same run).",
    )

    @field_validator("model_endpoints")
    @classmethod
    def _unique_endpoint_names(
        cls, value: list[ModelEndpointSettings]
    ) -> list[ModelEndpointSettings]:
        names = [endpoint.name for endpoint in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"model endpoint names must be unique: {', '.join(twice)}")
        return value

    @field_validator("mcp_servers")
    @classmethod
    def _unique_mcp_names(cls, value: list[McpServerSettings]) -> list[McpServerSettings]:
        names = [server.name for server in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"MCP server names must be unique: {', '.join(twice)}")
        return value

    @model_validator(mode="after")
    def _one_redis_password(self) -> Settings:
        if self.redis_password_file is None:
            return self
        if self.redis_url is None:
            raise ValueError("redis_password_file needs redis_url")
        if urlsplit(self.redis_url.get_secret_value()).password is not None:
            raise ValueError(
                "give the Redis password in redis_url or redis_password_file, not both"
            )
        return self

    @field_validator("model_base_url_allowlist", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        return _origin_list(value, any_origin=False)

    @field_validator("http_cors_allowed_origins", mode="before")
    @classmethod
    def _cors_origins(cls, value: Any) -> Any:
        return _origin_list(value, any_origin=True)

    @field_validator("listen", "http_listen", "tool_modules", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _CONFIG_FILE.get("path")
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)


def _origin_list(value: Any, *, any_origin: bool) -> Any:
    """A list setting of origins (a JSON list, or comma-separated text) as
    ``scheme://host[:port]`` each; with ``any_origin``, ``*`` stands too.

    Raises:
        ValueError: an entry is not an origin.
    """
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            value = json.loads(value)
        else:
            value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        return value
    origins: list[str] = []
    for entry in value:
        if any_origin and entry == "*":
            origins.append(entry)
            continue
        origin = origin_of(entry) if isinstance(entry, str) else None
        if origin is None or not _only_origin(entry):
            wanted = "an origin (scheme://host[:port])" + (" or '*'" if any_origin else "")
            raise ValueError(f"{entry!r} is not {wanted}")
        origins.append(origin)
    return origins


def _only_origin(url: str) -> bool:
    """True when ``url`` has no path (other than ``/``), query or fragment."""
    parts = urlsplit(url)
    return parts.path in ("", "/") and not (parts.query or parts.fragment or "?" in url)


_CONFIG_FILE: dict[str, pathlib.Path | None] = {}


def load_settings(config_file: pathlib.Path | None = None, **overrides: Any) -> Settings:
    """Loads settings from overrides, the environment and the TOML file.

    Args:
        config_file: TOML file; default ``$RUNWIRE_CONFIG_FILE`` if set.
        overrides: Settings that win over every other source (CLI flags).

    Raises:
        pydantic.ValidationError: a setting is malformed (the message names it).
        FileNotFoundError: ``config_file`` does not exist.
    """
    path = config_file or (
        pathlib.Path(os.environ["RUNWIRE_CONFIG_FILE"])
        if os.environ.get("RUNWIRE_CONFIG_FILE")
        else None
    )
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    _CONFIG_FILE["path"] = path
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    finally:
        _CONFIG_FILE.clear()
