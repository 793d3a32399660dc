"""``runwire.v1.AgentService``: create, read, list, update and delete agents."""

from __future__ import annotations

import asyncio

import grpc
from google.protobuf import field_mask_pb2
from runwire.v1 import agent_pb2, agent_pb2_grpc

from runwire_server.service.api.convert import checked_schema, struct_to_dict
from runwire_server.service.api.errors import unary
from runwire_server.service.auth.principal import current_principal
from runwire_server.service.auth.quotas import Quotas, fit_bytes
from runwire_server.service.core.errors import InvalidArgumentError, NotFoundError
from runwire_server.service.core.spec import sub_agent_tool_name
from runwire_server.service.llm.registry import ProviderRegistry
from runwire_server.service.runtimes.router import sub_agent_refs
from runwire_server.service.stores.agents import AgentStore
from runwire_server.service.stores.paging import encode_token, page_size
from runwire_server.service.stores.tenants import PerTenant
from runwire_server.service.tools.catalog import OfferedTool, agent_tool_pb, agent_tools
from runwire_server.service.tools.mcp import pool_of
from runwire_server.service.tools.registry import ToolRegistry

#: Agent fields the server sets; an update mask naming them is refused.
OUTPUT_ONLY_FIELDS = frozenset({"agent_id", "etag", "create_time", "update_time"})


class AgentServicer(agent_pb2_grpc.AgentServiceServicer):
    """Agent CRUD in the caller's tenant; checks models and tools against the registries."""

    def __init__(
        self,
        *,
        agents: PerTenant[AgentStore],
        providers: ProviderRegistry,
        tools: ToolRegistry,
        quotas: Quotas | None = None,
    ) -> None:
        self._agents = agents
        self._quotas = quotas or Quotas()
        self._providers = providers
        self._tools = tools

    def _store(self) -> AgentStore:
        """The agents of the caller's tenant."""
        return self._agents(current_principal().tenant)

    def check(self, agent: agent_pb2.Agent, *, prefix: str = "agent") -> None:
        """Checks what protovalidate cannot: the provider, its options and endpoint
        (the operator's ``[[model_endpoints]]`` and base URL allowlist), tool names.

        Raises:
            InvalidArgumentError: with field violations under ``prefix``.
        """
        violations: dict[str, str] = {}
        if not agent.HasField("model"):
            violations[f"{prefix}.model"] = "required"
        elif agent.model.provider not in self._providers.names():
            violations[f"{prefix}.model.provider"] = (
                f"unknown provider; available: {', '.join(self._providers.names())}"
            )
        else:
            model = self._providers.validate_model(
                agent.model.provider,
                agent.model.name,
                struct_to_dict(agent.model.options, field=f"{prefix}.model.options"),
            )
            violations.update({f"{prefix}.model.{k}": v for k, v in model.items()})
        for i, fallback in enumerate(agent.fallback_models):
            where = f"{prefix}.fallback_models[{i}]"
            if fallback.provider not in self._providers.names():
                violations[f"{where}.provider"] = (
                    f"unknown provider; available: {', '.join(self._providers.names())}"
                )
                continue
            raw = struct_to_dict(fallback.options, field=f"{where}.options")
            model = self._providers.validate_model(fallback.provider, fallback.name, raw)
            violations.update({f"{where}.{k}": v for k, v in model.items()})
        for i, name in enumerate(agent.tools):
            if self._tools.get(name) is None:
                violations[f"{prefix}.tools[{i}]"] = (
                    f"unknown tool {name!r}; available: {', '.join(self._tools.names())}"
                )
        pool = pool_of(self._tools)
        configured = pool.server_names() if pool is not None else []
        for i, toolset in enumerate(agent.toolsets):
            if toolset not in configured:
                violations[f"{prefix}.toolsets[{i}]"] = (
                    f"unknown MCP server {toolset!r}; available: {', '.join(configured) or 'none'}"
                )
        if agent.HasField("response_format"):
            try:
                checked_schema(agent.response_format, field=f"{prefix}.response_format")
            except InvalidArgumentError as exc:
                violations.update(exc.field_violations)
        if violations:
            raise InvalidArgumentError(
                "invalid agent: " + "; ".join(f"{k}: {v}" for k, v in violations.items()),
                field_violations=violations,
            )

    async def check_sub_agents(self, agent: agent_pb2.Agent, *, prefix: str = "agent") -> None:
        """Checks ``agent.sub_agents`` against the caller's agents: each names a
        known agent, no tool name is taken twice (by another sub-agent or by one
        of ``agent.tools``), and no delegation leads back to ``agent`` (a cycle,
        followed through the stored agents, ``agent`` as given).

        Raises:
            InvalidArgumentError: with field violations under ``prefix``.
        """
        if not agent.sub_agents:
            return
        store = self._store()
        violations: dict[str, str] = {}
        names = set(agent.tools)
        for i, sub in enumerate(agent.sub_agents):
            where = f"{prefix}.sub_agents[{i}]"
            name = sub.tool_name or sub_agent_tool_name(sub.agent_id)
            if name in names:
                violations[f"{where}.tool_name"] = (
                    f"tool name {name!r} is taken by another tool of the agent"
                )
            names.add(name)
            if sub.agent_id == agent.agent_id:
                violations[f"{where}.agent_id"] = "an agent cannot delegate to itself (a cycle)"
                continue
            try:
                await store.get(sub.agent_id)
            except NotFoundError:
                violations[f"{where}.agent_id"] = f"unknown agent {sub.agent_id!r}"
                continue
            path = await self._path_back(agent.agent_id, sub.agent_id)
            if path is not None:
                chain = " -> ".join([agent.agent_id, *path])
                violations[f"{where}.agent_id"] = f"delegation would form a cycle: {chain}"
        if violations:
            raise InvalidArgumentError(
                "invalid agent: " + "; ".join(f"{k}: {v}" for k, v in violations.items()),
                field_violations=violations,
            )

    async def _path_back(self, origin: str, start: str) -> list[str] | None:
        """A delegation path from ``start`` through the stored agents' sub-agents
        that reaches ``origin`` (``start`` first, ``origin`` last), or None."""
        store = self._store()
        parents: dict[str, str] = {start: ""}
        queue = [start]
        while queue:
            current = queue.pop(0)
            try:
                stored = await store.get(current)
            except NotFoundError:
                continue
            for sub in stored.sub_agents:
                if sub.agent_id == origin:
                    path = [origin, current]
                    while parents[path[-1]]:
                        path.append(parents[path[-1]])
                    return [*path[:0:-1], origin]
                if sub.agent_id not in parents:
                    parents[sub.agent_id] = current
                    queue.append(sub.agent_id)
        return None

    @unary
    async def CreateAgent(
        self, request: agent_pb2.CreateAgentRequest, context: grpc.aio.ServicerContext
    ) -> agent_pb2.CreateAgentResponse:
        agent = agent_pb2.Agent()
        agent.CopyFrom(request.agent)
        agent.agent_id = request.agent_id
        agent.ClearField("etag")
        agent.ClearField("create_time")
        agent.ClearField("update_time")
        self._check_size(agent)
        # The checks' work grows with the agent (options, schemas): off the event loop.
        await asyncio.to_thread(self.check, agent)
        await self.check_sub_agents(agent)
        tenant = current_principal().tenant
        store = self._store()
        self._quotas.check(
            "max_agents_per_tenant", used=await store.count(), subject=f"tenant:{tenant}"
        )
        return agent_pb2.CreateAgentResponse(agent=await store.create(agent))

    def _check_size(self, agent: agent_pb2.Agent) -> None:
        self._quotas.check_size(
            "max_agent_bytes", size=agent.ByteSize(), subject=f"agent {agent.agent_id!r}"
        )

    @unary
    async def GetAgent(
        self, request: agent_pb2.GetAgentRequest, context: grpc.aio.ServicerContext
    ) -> agent_pb2.GetAgentResponse:
        return agent_pb2.GetAgentResponse(agent=await self._store().get(request.agent_id))

    @unary
    async def ListAgents(
        self, request: agent_pb2.ListAgentsRequest, context: grpc.aio.ServicerContext
    ) -> agent_pb2.ListAgentsResponse:
        agents, token = await self._store().list(
            page_size=page_size(request.page_size),
            page_token=request.page_token,
            labels=dict(request.labels),
        )
        kept = fit_bytes(agents, self._quotas.max_list_response_bytes)
        if kept < len(agents):
            agents, token = agents[:kept], encode_token(agents[kept - 1].agent_id)
        return agent_pb2.ListAgentsResponse(agents=agents, next_page_token=token)

    @unary
    async def UpdateAgent(
        self, request: agent_pb2.UpdateAgentRequest, context: grpc.aio.ServicerContext
    ) -> agent_pb2.UpdateAgentResponse:
        if not request.agent.agent_id:
            raise InvalidArgumentError(
                "agent.agent_id names the agent to update",
                field_violations={"agent.agent_id": "required"},
            )
        current = await self._store().get(request.agent.agent_id)
        updated = _apply_mask(current, request.agent, request.update_mask)
        self._check_size(updated)
        await asyncio.to_thread(self.check, updated)
        await self.check_sub_agents(updated)
        stored = await self._store().replace(updated, expected_etag=request.agent.etag)
        return agent_pb2.UpdateAgentResponse(agent=stored)

    @unary
    async def ListAgentTools(
        self, request: agent_pb2.ListAgentToolsRequest, context: grpc.aio.ServicerContext
    ) -> agent_pb2.ListAgentToolsResponse:
        agent = await self._store().get(request.agent_id)
        offered = agent_tools(agent, self._tools, sub_agents=await self.sub_agent_tools(agent))
        return agent_pb2.ListAgentToolsResponse(
            tools=[agent_tool_pb(tool, agent.approval_policy) for tool in offered]
        )

    async def sub_agent_tools(self, agent: agent_pb2.Agent) -> list[OfferedTool]:
        """The rows of ``agent.sub_agents`` for ListAgentTools (TOOL_SOURCE_SUB_AGENT,
        ``sub_agent_id`` set, the tool name, description and parameters the model
        sees), in order; they come after the server and MCP tools
        (``runwire_server.service.tools.catalog.agent_tools``).

        Built as a run's snapshot builds them (``router.sub_agent_refs``: the
        description defaults to the sub-agent's own, read from the store).
        """
        store = self._store()
        known: dict[str, agent_pb2.Agent] = {}
        for sub in agent.sub_agents:
            try:
                known[sub.agent_id] = await store.get(sub.agent_id)
            except NotFoundError:
                continue  # deleted since: a call fails as a tool error
        return [
            OfferedTool(
                spec=ref.tool_spec(),
                source=agent_pb2.TOOL_SOURCE_SUB_AGENT,
                sub_agent_id=ref.agent_id,
            )
            for ref in sub_agent_refs(agent, known)
        ]

    @unary
    async def DeleteAgent(
        self, request: agent_pb2.DeleteAgentRequest, context: grpc.aio.ServicerContext
    ) -> agent_pb2.DeleteAgentResponse:
        await self._store().delete(request.agent_id)
        return agent_pb2.DeleteAgentResponse()


def _apply_mask(
    current: agent_pb2.Agent, patch: agent_pb2.Agent, mask: field_mask_pb2.FieldMask
) -> agent_pb2.Agent:
    updated = agent_pb2.Agent()
    updated.CopyFrom(current)
    if not mask.paths:
        for field in agent_pb2.Agent.DESCRIPTOR.fields:
            if field.name not in OUTPUT_ONLY_FIELDS:
                updated.ClearField(field.name)
        patch_copy = agent_pb2.Agent()
        patch_copy.CopyFrom(patch)
        for name in OUTPUT_ONLY_FIELDS:
            patch_copy.ClearField(name)
        updated.MergeFrom(patch_copy)
        return updated
    bad = {
        f"update_mask.paths[{i}]": "not a field of Agent that may be updated"
        for i, path in enumerate(mask.paths)
        if path.split(".")[0] in OUTPUT_ONLY_FIELDS
        or not field_mask_pb2.FieldMask(paths=[path]).IsValidForDescriptor(
            agent_pb2.Agent.DESCRIPTOR  # type: ignore[arg-type]
        )
    }
    if bad:
        raise InvalidArgumentError("invalid update_mask", field_violations=bad)
    mask.MergeMessage(patch, updated, replace_message_field=True, replace_repeated_field=True)
    return updated
