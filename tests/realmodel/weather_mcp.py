"""An MCP server for the real-model tests: ``forecast(city)`` over stdio, written
with the official SDK's ``MCPServer``. Configured as the ``[[mcp_servers]]`` entry
``wx`` (tests/realmodel/conftest.py), so agents see the tool as ``wx_forecast``.

Run: ``python -m tests.realmodel.weather_mcp``.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

#: What ``forecast`` answers; the test finds it in the tool result.
MCP_FORECAST = "cloudy, 14 degrees Celsius, no rain"

server: MCPServer[Any] = MCPServer("runwire-weather", log_level="WARNING")


@server.tool()
def forecast(city: str) -> str:
    """Returns the weather forecast for a city (the city's name, e.g. Paris)."""
    return f"The weather in {city}: {MCP_FORECAST}."


if __name__ == "__main__":
    server.run("stdio")
