"""The composed service: stores, registries, runtimes and the run router.

``Runwire.create(settings)`` wires the in-memory stores, the provider and
tool registries, the in-process runtime and the router, loads tool modules
and creates the agents declared in configuration. Nothing starts at import.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from google.protobuf import json_format
from runwire.v1 import agent_pb2

from service.api.agents import AgentServicer
from service.api.errors import validate
from service.config import Settings
from service.errors import AlreadyExistsError, InvalidArgumentError
from service.llm.registry import ProviderRegistry
from service.runtimes.inprocess import InProcessRuntime
from service.runtimes.recorder import RunRecorder
from service.runtimes.router import RunDefaults, RunRouter
from service.stores.agents import MemoryAgentStore
from service.stores.approvals import MemoryApprovalStore
from service.stores.events import MemoryEventLog
from service.stores.runs import MemoryRunStore
from service.stores.threads import MemoryThreadStore
from service.tools.builtin import register_builtin_tools
from service.tools.registry import ToolRegistry, load_modules

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

    @classmethod
    async def create(cls, settings: Settings) -> Runwire:
        """Builds the service from ``settings``.

        Raises:
            InvalidArgumentError: a tool module or a configured agent is invalid
                (the message names it).
        """
        providers = ProviderRegistry(
            openai_base_url=settings.openai_base_url,
            openai_api_key=(
                settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
            ),
        )
        tools = ToolRegistry()
        register_builtin_tools(tools)
        load_modules(tools, list(settings.tool_modules))
        events = MemoryEventLog(max_runs=settings.retained_runs)
        runs = MemoryRunStore(max_runs=settings.retained_runs)
        approvals = MemoryApprovalStore()
        threads = MemoryThreadStore()
        agents = MemoryAgentStore()
        recorder = RunRecorder(events=events, runs=runs, approvals=approvals)
        inprocess = InProcessRuntime(
            recorder=recorder, providers=providers, tools=tools, threads=threads
        )
        router = RunRouter(
            agents=agents,
            runs=runs,
            events=events,
            approvals=approvals,
            threads=threads,
            tools=tools,
            runtimes={agent_pb2.RUNTIME_IN_PROCESS: inprocess},
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
            agent_servicer=AgentServicer(agents=agents, providers=providers, tools=tools),
        )
        await app._create_configured_agents()
        return app

    async def _create_configured_agents(self) -> None:
        for index, declared in enumerate(self.settings.agents):
            body = dict(declared)
            agent_id = str(body.pop("agent_id", body.pop("agentId", "")))
            try:
                agent = json_format.ParseDict(body, agent_pb2.Agent())
                request = agent_pb2.CreateAgentRequest(agent_id=agent_id, agent=agent)
                validate(request)
                self.agent_servicer.check(agent)
            except (json_format.ParseError, InvalidArgumentError) as exc:
                raise InvalidArgumentError(
                    f"configured agent #{index} ({agent_id or 'no agent_id'}) is invalid: {exc}"
                ) from exc
            agent.agent_id = agent_id
            try:
                await self.router.agents.create(agent)
            except AlreadyExistsError as exc:
                raise InvalidArgumentError(
                    f"configured agent {agent_id!r} is declared twice"
                ) from exc
            logger.info("agent %s created from configuration", agent_id)

    async def aclose(self) -> None:
        """Stops in-process runs and closes provider clients."""
        await self.inprocess.aclose()
        await self.providers.aclose()
