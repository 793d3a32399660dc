"""The tools a run of an agent offers its model, in order: one list for both the
run snapshot (``RunRouter._snapshot``) and ``AgentService.ListAgentTools``, so
what a client is told is exactly what the model is offered.

Order: the agent's server tools (``Agent.tools``, in its order), then the tools
of its MCP toolsets (``Agent.toolsets`` in order, each server's tools by name),
then its sub-agents (``Agent.sub_agents``), whose rows the caller builds (they
need the agent store) and passes as ``sub_agents``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf import struct_pb2
from runwire.v1 import agent_pb2

from runwire_server.service.core.errors import FailedPreconditionError
from runwire_server.service.core.messages import ToolSpec
from runwire_server.service.tools.mcp import pool_of
from runwire_server.service.tools.registry import ToolRegistry

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class OfferedTool:
    """One tool as a run of an agent offers it.

    Attributes:
        spec: Name, description and JSON Schema, as the model sees them.
        source: ``agent_pb2.TOOL_SOURCE_*``.
        mcp_server: TOOL_SOURCE_MCP: the MCP server's name.
        sub_agent_id: TOOL_SOURCE_SUB_AGENT: the agent delegated to.
    """

    spec: ToolSpec
    source: agent_pb2.ToolSource
    mcp_server: str = ""
    sub_agent_id: str = ""


def needs_approval(policy: agent_pb2.ApprovalPolicy, tool_name: str) -> bool:
    """Whether a call of ``tool_name`` waits for a decision under ``policy``
    (the rule of ``RunSpec.needs_approval``)."""
    if policy.mode == agent_pb2.APPROVAL_MODE_AUTO:
        return False
    if policy.mode == agent_pb2.APPROVAL_MODE_ALLOWLIST:
        return tool_name not in policy.auto_approved_tools
    return True


def agent_tools(
    agent: agent_pb2.Agent,
    registry: ToolRegistry,
    *,
    sub_agents: Sequence[OfferedTool] = (),
) -> list[OfferedTool]:
    """The tools a run of ``agent`` offers its model, in the order it offers them.

    MCP tools are those the pool listed (the last listing when the server is
    down now; none when it never connected: a run started then is offered none
    of them and the server is reported UNAVAILABLE). A tool whose name an
    earlier one already took is left out (logged).

    Args:
        agent: The agent.
        registry: The server's tools, with the MCP pool attached (``external``).
        sub_agents: The rows of ``agent.sub_agents`` (TOOL_SOURCE_SUB_AGENT),
            built by the sub-agent code (it reads the agents they name); they
            come last.

    Raises:
        FailedPreconditionError: ``TOOL_NOT_FOUND``: the agent names a server
            tool the server does not have, or a toolset the configuration no
            longer declares (metadata ``agent_id`` and ``tool`` or ``toolset``).
    """
    offered: list[OfferedTool] = []
    for name in agent.tools:
        tool = registry.get(name)
        if tool is None:
            raise FailedPreconditionError(
                f"agent {agent.agent_id!r} names tool {name!r}, which this server does not "
                "have; update the agent or load the tool module",
                reason="TOOL_NOT_FOUND",
                metadata={"agent_id": agent.agent_id, "tool": name},
            )
        source = agent_pb2.TOOL_SOURCE_BUILTIN if tool.builtin else agent_pb2.TOOL_SOURCE_PYTHON
        offered.append(OfferedTool(spec=tool.spec(), source=source))
    pool = pool_of(registry)
    for toolset in agent.toolsets:
        if pool is None or pool.config(toolset) is None:
            raise FailedPreconditionError(
                f"agent {agent.agent_id!r} names toolset {toolset!r}, which is not an MCP "
                "server of this server's configuration; update the agent or the configuration",
                reason="TOOL_NOT_FOUND",
                metadata={"agent_id": agent.agent_id, "toolset": toolset},
            )
        for mcp_tool in pool.server_tools(toolset):
            offered.append(
                OfferedTool(
                    spec=ToolSpec(
                        name=mcp_tool.name,
                        description=mcp_tool.description,
                        parameters=mcp_tool.parameters,
                    ),
                    source=agent_pb2.TOOL_SOURCE_MCP,
                    mcp_server=toolset,
                )
            )
    # Sub-agents (agent-as-tool) plug in here: their rows come last.
    offered.extend(sub_agents)
    unique: list[OfferedTool] = []
    seen: set[str] = set()
    for row in offered:
        if row.spec.name in seen:
            logger.warning(
                "agent %s: tool %s offered twice; the later one is left out",
                agent.agent_id,
                row.spec.name,
            )
            continue
        seen.add(row.spec.name)
        unique.append(row)
    return unique


def agent_tool_pb(tool: OfferedTool, policy: agent_pb2.ApprovalPolicy) -> agent_pb2.AgentTool:
    """The ``AgentTool`` row of ``tool`` under the agent's approval ``policy``."""
    parameters = struct_pb2.Struct()
    parameters.update(tool.spec.parameters)
    return agent_pb2.AgentTool(
        name=tool.spec.name,
        description=tool.spec.description,
        parameters=parameters,
        source=tool.source,
        requires_approval=needs_approval(policy, tool.spec.name),
        mcp_server=tool.mcp_server,
        sub_agent_id=tool.sub_agent_id,
    )
