"""``runwire.v1.ToolService``: the server's tools and MCP servers, with their status."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import struct_pb2
from runwire.v1 import agent_pb2, tool_pb2, tool_pb2_grpc

from runwire_server.service.api.errors import unary
from runwire_server.service.tools.mcp import McpServerStatus, McpState, pool_of
from runwire_server.service.tools.registry import ToolRegistry

_TRANSPORTS = {
    "stdio": tool_pb2.MCP_SERVER_TRANSPORT_STDIO,
    "streamable_http": tool_pb2.MCP_SERVER_TRANSPORT_STREAMABLE_HTTP,
}
_STATES = {
    McpState.CONNECTED: tool_pb2.MCP_SERVER_STATE_CONNECTED,
    McpState.UNAVAILABLE: tool_pb2.MCP_SERVER_STATE_UNAVAILABLE,
}


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def mcp_server_pb(status: McpServerStatus) -> tool_pb2.McpServer:
    """The ``McpServer`` message of ``status`` (no command, URL, env or header in it)."""
    server = tool_pb2.McpServer(
        name=status.name,
        transport=_TRANSPORTS[status.transport],
        state=_STATES[status.state],
        error=status.error,
        tool_names=list(status.tool_names),
    )
    if status.update_time is not None:
        server.update_time.FromDatetime(status.update_time)
    return server


class ToolServicer(tool_pb2_grpc.ToolServiceServicer):
    """ListTools: the registered tools (built-in, Python) and the tools and state of
    every configured MCP server. The same for every tenant: tools are the server's."""

    def __init__(self, *, tools: ToolRegistry) -> None:
        self._tools = tools

    def list_tools(self) -> tool_pb2.ListToolsResponse:
        """The response of ListTools: tools and MCP servers, each ordered by name."""
        rows = [
            tool_pb2.Tool(
                name=tool.name,
                description=tool.description,
                parameters=_struct(tool.parameters),
                source=agent_pb2.TOOL_SOURCE_BUILTIN
                if tool.builtin
                else agent_pb2.TOOL_SOURCE_PYTHON,
            )
            for tool in self._tools.tools()
        ]
        pool = pool_of(self._tools)
        servers: list[tool_pb2.McpServer] = []
        if pool is not None:
            rows += [
                tool_pb2.Tool(
                    name=tool.name,
                    description=tool.description,
                    parameters=_struct(tool.parameters),
                    source=agent_pb2.TOOL_SOURCE_MCP,
                    mcp_server=tool.server,
                )
                for tool in pool.tools()
            ]
            servers = [mcp_server_pb(status) for status in pool.statuses()]
        rows.sort(key=lambda row: row.name)
        return tool_pb2.ListToolsResponse(tools=rows, mcp_servers=servers)

    @unary
    async def ListTools(
        self, request: tool_pb2.ListToolsRequest, context: grpc.aio.ServicerContext
    ) -> tool_pb2.ListToolsResponse:
        return self.list_tools()
