"""A tool module for the real-model tests (``tool_modules``): ``get_weather``.

Returns a fixed forecast and records each call's city in ``CALLS`` (this process:
enough for the in-process runtime and for Temporal's embedded worker).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from runwire_server.service.tools.registry import ToolRegistry

#: The forecast ``get_weather`` returns; the tests find it in the tool result.
FORECAST = "sunny, 22 degrees Celsius, light wind"

#: The ``city`` argument of every call, in call order.
CALLS: list[str] = []


def get_weather(city: Annotated[str, Field(description="The city, e.g. Paris")]) -> str:
    """Returns the weather forecast for a city.

    Args:
        city: The city's name.
    """
    CALLS.append(city)
    return f"The weather in {city}: {FORECAST}."


def register_tools(registry: ToolRegistry) -> None:
    """Registers ``get_weather``."""
    registry.register(get_weather)
