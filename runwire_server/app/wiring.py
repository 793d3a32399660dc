"""The composed service: stores, registries, runtimes and the run router.

``Runwire.create(settings)`` wires the in-memory stores, the provider and
tool registries, the in-process runtime and the router, loads tool modules
and creates the agents declared in configuration. Nothing starts at import.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format
from runwire.v1 import agent_pb2

from runwire_server.app.config import Settings
from runwire_server.app.temporal_client import connect_temporal
from runwire_server.service.agent.resilient_turn import RetryPolicy
from runwire_server.service.api.agents import AgentServicer
from runwire_server.service.api.errors import validate
from runwire_server.service.api.watches import Watches, attach, detach
from runwire_server.service.auth.config import DEFAULT_TENANT, TENANT_PATTERN
from runwire_server.service.auth.quotas import Quotas
from runwire_server.service.core.errors import AlreadyExistsError, InvalidArgumentError
from runwire_server.service.llm.breaker import CircuitBreakers
from runwire_server.service.llm.coalesce import Coalescing
from runwire_server.service.llm.endpoints import ModelEndpoint
from runwire_server.service.llm.registry import ProviderRegistry
from runwire_server.service.runtimes.base import Runtime
from runwire_server.service.runtimes.inprocess import InProcessRuntime
from runwire_server.service.runtimes.recorder import RunRecorder
from runwire_server.service.runtimes.router import RunDefaults, RunRouter
from runwire_server.service.runtimes.temporal import TemporalRuntime
from runwire_server.service.stores import factory as store_factory
from runwire_server.service.stores.factory import Stores
from runwire_server.service.tools.builtin import register_builtin_tools
from runwire_server.service.tools.mcp import McpPool, pool_of
from runwire_server.service.tools.registry import ToolRegistry, load_modules

if TYPE_CHECKING:
    from temporalio.client import Client
    from temporalio.worker import Worker

logger = logging.getLogger(__name__)

_RUNTIMES = {"in_process": agent_pb2.RUNTIME_IN_PROCESS, "temporal": agent_pb2.RUNTIME_TEMPORAL}


@dataclass(kw_only=True)
class Runwire:
    """Everything one service process holds. Close with ``aclose()``."""

    settings: Settings
    providers: ProviderRegistry
    tools: ToolRegistry
    router: RunRouter
    inprocess: InProcessRuntime
    agent_servicer: AgentServicer
    stores: Stores
    #: The embedded Temporal worker's task, when one runs in this process.
    worker_task: asyncio.Task[None] | None = field(default=None)
    worker: Any = field(default=None)
    #: The embedded worker's providers (SDK retries off), closed with the app.
    worker_providers: ProviderRegistry | None = field(default=None)

    @classmethod
    async def create(cls, settings: Settings) -> Runwire:
        """Builds the service from ``settings``.

        Raises:
            InvalidArgumentError: a tool module or a configured agent is invalid
                (the message names it).
        """
        breakers = build_breakers(settings)
        providers = build_providers(settings, breakers=breakers)
        tools = build_tools(settings)
        stores = build_stores(settings)
        recorder = RunRecorder(
            events=stores.events,
            runs=stores.runs,
            approvals=stores.approvals,
            max_events_per_run=settings.max_events_per_run,
        )
        inprocess = InProcessRuntime(
            recorder=recorder,
            providers=providers,
            tools=tools,
            threads=stores.threads,
            model_retry=build_retry_policy(settings),
            leases=stores.leases,
        )
        runtimes: dict[int, Runtime] = {agent_pb2.RUNTIME_IN_PROCESS: inprocess}
        worker: Any = None
        worker_providers: ProviderRegistry | None = None
        if settings.temporal_address:
            client = await connect_temporal(settings, claims=stores.claims)
            runtimes[agent_pb2.RUNTIME_TEMPORAL] = TemporalRuntime(
                client, task_queue=settings.temporal_task_queue, recorder=recorder
            )
            if settings.temporal_embedded_worker:
                # The composition root embeds a worker; the runtime itself never
                # imports the worker package.
                worker_providers = build_providers(settings, breakers=breakers)
                worker = build_worker(
                    client,
                    settings,
                    stores=stores,
                    providers=worker_providers,
                    tools=tools,
                )
        quotas = build_quotas(settings)
        router = RunRouter(
            quotas=quotas,
            agents=stores.agents,
            runs=stores.runs,
            events=stores.events,
            approvals=stores.approvals,
            threads=stores.threads,
            tools=tools,
            providers=providers,
            runtimes=runtimes,
            recorder=recorder,
            defaults=RunDefaults(
                max_iterations=settings.max_iterations,
                run_timeout_seconds=settings.run_timeout_seconds,
                thread_history_messages=settings.thread_history_messages,
                runtime=_RUNTIMES[settings.default_runtime],
            ),
        )
        app = cls(
            settings=settings,
            providers=providers,
            tools=tools,
            router=router,
            inprocess=inprocess,
            agent_servicer=AgentServicer(
                agents=stores.agents, providers=providers, tools=tools, quotas=quotas
            ),
            stores=stores,
            worker=worker,
            worker_providers=worker_providers,
        )
        # The watches both servicers serve (WatchRuns, WatchApprovals) share one hub.
        attach(
            router,
            Watches(
                changes=stores.changes,
                runs=stores.runs,
                approvals=stores.approvals,
                quotas=quotas,
                heartbeat_interval=settings.heartbeat_interval_seconds,
                draining=lambda: router.draining,
            ),
        )
        await app._create_configured_agents()
        pool = pool_of(tools)
        if pool is not None:
            # Each MCP server connects (or is reported UNAVAILABLE, and retried in the
            # background) within its connect timeout; none stops the start.
            await pool.start()
        # Lease heartbeat and sweeper of in-process runs (Redis only); stopped by aclose.
        inprocess.keep_leases()
        if worker is not None:
            app.worker_task = asyncio.create_task(worker.run(), name="embedded-temporal-worker")
            logger.info("embedded Temporal worker polling %s", settings.temporal_task_queue)
        return app

    async def _create_configured_agents(self) -> None:
        for index, declared in enumerate(self.settings.agents):
            body = dict(declared)
            agent_id = str(body.pop("agent_id", body.pop("agentId", "")))
            tenant = str(body.pop("tenant", DEFAULT_TENANT))
            try:
                agent = json_format.ParseDict(body, agent_pb2.Agent())
                request = agent_pb2.CreateAgentRequest(agent_id=agent_id, agent=agent)
                validate(request)
                self.agent_servicer.check(agent)
                if not re.match(TENANT_PATTERN, tenant):
                    raise InvalidArgumentError(f"tenant {tenant!r} must match {TENANT_PATTERN}")
            except (json_format.ParseError, InvalidArgumentError) as exc:
                raise InvalidArgumentError(
                    f"configured agent #{index} ({agent_id or 'no agent_id'}) is invalid: {exc}"
                ) from exc
            agent.agent_id = agent_id
            agents = self.router.agents(tenant)
            try:
                await agents.create(agent)
            except AlreadyExistsError:
                # Declared twice, or already stored by another replica (Redis).
                current = await agents.get(agent_id)
                await agents.replace(agent, expected_etag=current.etag)
            logger.info("agent %s created from configuration", agent_id, extra={"tenant": tenant})

    async def aclose(self) -> None:
        """Stops the embedded worker and in-process runs; closes clients and pools."""
        if self.worker is not None and self.worker_task is not None:
            await self.worker.shutdown()
            with contextlib.suppress(asyncio.CancelledError):
                await self.worker_task
        await self.inprocess.aclose()
        await self.tools.aclose()
        detach(self.router)
        await self.providers.aclose()
        if self.worker_providers is not None:
            await self.worker_providers.aclose()
        await self.stores.aclose()


def build_providers(
    settings: Settings, *, max_retries: int = 0, breakers: CircuitBreakers | None = None
) -> ProviderRegistry:
    """The provider registry from settings.

    Args:
        settings: The settings.
        max_retries: The provider SDKs' own retries. 0 by default: retries are
            Runwire's (``runwire_server.service.agent.resilient_turn`` in-process, the activity
            retry policy on Temporal), so retry-after hints, circuit breakers and
            fallbacks see every failure.
        breakers: Circuit breakers to share (e.g. with an embedded worker); None
            for new ones from settings.

    Raises:
        InvalidArgumentError: the key of a ``[[model_endpoints]]`` entry cannot be read
            (its variable is unset or empty, its file unreadable or empty); the
            message names the endpoint and the source, never a key.
    """
    endpoints: list[ModelEndpoint] = []
    for configured in settings.model_endpoints:
        try:
            api_key = configured.read_api_key()
        except ValueError as exc:
            raise InvalidArgumentError(str(exc)) from None
        endpoints.append(
            ModelEndpoint(
                name=configured.name,
                provider=configured.provider,
                base_url=configured.base_url,
                api_key=api_key,
                models=frozenset(configured.models),
            )
        )
    return ProviderRegistry(
        openai_base_url=settings.openai_base_url,
        openai_api_key=(
            settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        ),
        openai_max_retries=max_retries,
        anthropic_max_retries=max_retries,
        breakers=breakers if breakers is not None else build_breakers(settings),
        coalescing=Coalescing.from_settings(
            settings.stream_coalesce_ms, settings.stream_coalesce_chars
        ),
        endpoints=endpoints,
        base_url_allowlist=settings.model_base_url_allowlist,
    )


def build_breakers(settings: Settings) -> CircuitBreakers:
    """The circuit breakers of model endpoints, from settings."""
    return CircuitBreakers(
        failure_threshold=settings.breaker_failure_threshold,
        cooldown_seconds=settings.breaker_cooldown_seconds,
    )


def build_retry_policy(settings: Settings) -> RetryPolicy:
    """The in-process runtime's retries of a failing model, from settings."""
    return RetryPolicy(
        max_attempts=settings.model_retry_attempts,
        initial_delay_seconds=settings.model_retry_initial_delay_seconds,
        max_delay_seconds=settings.model_retry_max_delay_seconds,
        max_retry_after_seconds=settings.model_retry_after_max_seconds,
    )


def build_tools(settings: Settings) -> ToolRegistry:
    """The built-in tools plus those of ``settings.tool_modules``, and the MCP pool
    of ``settings.mcp_servers`` attached (not started: ``McpPool.start``, or the
    first MCP call starts it); ``ToolRegistry.aclose`` closes it.

    Raises:
        InvalidArgumentError: a tool module is invalid, or a secret of an MCP
            server cannot be read (its variable unset or empty, its file
            unreadable or empty; the message names the server and the source).
    """
    tools = ToolRegistry()
    register_builtin_tools(tools)
    load_modules(tools, list(settings.tool_modules))
    if settings.mcp_servers:
        try:
            configs = [server.resolve() for server in settings.mcp_servers]
        except ValueError as exc:
            raise InvalidArgumentError(str(exc)) from None
        tools.attach(McpPool(configs))
    return tools


def build_quotas(settings: Settings) -> Quotas:
    """The quotas and size limits of ``settings`` (docs/security.md, "Limits")."""
    return Quotas(**{limit.name: getattr(settings, limit.name) for limit in fields(Quotas)})


def build_stores(settings: Settings) -> Stores:
    """Memory stores, or Redis ones when ``settings.redis_url`` is set.

    With Redis, the password is read now from ``settings.redis_password_file`` (else the
    URL's is used), and one PING checks the credentials before anything is served
    (``store_factory.check_redis_credentials``; it blocks, up to
    ``store_factory.CHECK_TIMEOUT_SECONDS`` to connect and as long for the answer).

    Raises:
        InvalidArgumentError: the URL is malformed, the password file cannot be read or
            is empty, or Redis refuses the credentials; the message names the setting to
            fix, never the password.
    """
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else ""
    password = _redis_password(settings)
    if redis_url:
        try:
            store_factory.check_redis_credentials(redis_url, password=password)
        except ValueError as exc:  # redis-py's refusal of the URL's form
            raise InvalidArgumentError(f"RUNWIRE_REDIS_URL is not a Redis URL: {exc}") from None
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"{exc.message}: {_password_source(settings)}") from None
    return store_factory.build_stores(
        redis_url=redis_url,
        redis_password=password,
        redis_prefix=settings.redis_prefix,
        retention_seconds=settings.event_retention_seconds,
        retained_runs=settings.retained_runs,
        retained_event_bytes=settings.retained_event_bytes,
        request_ttl_seconds=settings.request_id_ttl_seconds,
        run_lease_seconds=settings.run_lease_seconds,
        max_changes=settings.watch_changes_kept,
    )


def _redis_password(settings: Settings) -> str | None:
    """The content of ``settings.redis_password_file``, stripped; None when it is unset.

    Raises:
        InvalidArgumentError: the file cannot be read or holds only whitespace.
    """
    path = settings.redis_password_file
    if path is None:
        return None
    try:
        password = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidArgumentError(
            f"cannot read RUNWIRE_REDIS_PASSWORD_FILE {path}: {reason}"
        ) from None
    if not password:
        raise InvalidArgumentError(f"RUNWIRE_REDIS_PASSWORD_FILE {path} is empty")
    return password


def _password_source(settings: Settings) -> str:
    """Where the refused Redis password came from, as advice to the operator."""
    if settings.redis_password_file is not None:
        return f"check the password in RUNWIRE_REDIS_PASSWORD_FILE {settings.redis_password_file}"
    if settings.redis_url is not None and "@" in settings.redis_url.get_secret_value():
        return "check the credentials in RUNWIRE_REDIS_URL"
    return "set RUNWIRE_REDIS_PASSWORD_FILE to a file holding the password"


def build_worker(
    client: Client,
    settings: Settings,
    *,
    stores: Stores,
    providers: ProviderRegistry,
    tools: ToolRegistry,
) -> Worker:
    """A Temporal worker on ``settings.temporal_task_queue``
    (``runwire_server.worker.factory.build_worker``).

    The worker package loads only here, on demand: a server without Temporal never imports it.
    """
    from runwire_server.worker.factory import build_worker as build  # noqa: PLC0415 - only with Temporal

    return build(
        client,
        task_queue=settings.temporal_task_queue,
        sticky_queue_timeout=timedelta(seconds=settings.temporal_sticky_timeout_seconds),
        stores=stores,
        providers=providers,
        tools=tools,
        max_events_per_run=settings.max_events_per_run,
        graceful_shutdown_timeout=timedelta(seconds=settings.drain_timeout_seconds),
    )
