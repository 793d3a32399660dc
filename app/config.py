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

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_LISTEN = "127.0.0.1:50051"


class Settings(BaseSettings):
    """Runwire's settings. Units are in the names (``_seconds``, ``_bytes``)."""

    model_config = SettingsConfigDict(env_prefix="RUNWIRE_", extra="forbid", frozen=True)

    listen: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [DEFAULT_LISTEN],
        description="Addresses to serve on: host:port, or unix:PATH for a Unix socket.",
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
        description="On SIGTERM/SIGINT, how long in-process runs get to finish before they "
        "are cancelled.",
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
    redis_url: str | None = Field(
        default=None,
        description="Redis URL (redis://host:port/db); enables the Redis stores, so several "
        "service replicas and separate workers share runs, events and threads.",
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
    agents: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Agents created at start: runwire.v1.Agent in proto JSON, with agent_id.",
    )

    @field_validator("listen", "tool_modules", mode="before")
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
