"""``get_weather``, the tool of ``runwire demo --local-model`` (a ``tool_modules`` entry).

Only the demo's embedded server loads this module
(``tool_modules=["devtools.local_model.weather"]``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from runwire_server.service.tools.registry import ToolRegistry

__all__ = ["DEMO_FORECAST", "get_weather", "register_tools"]

#: The demo's made-up forecast (the demo has no network).
DEMO_FORECAST = "sunny, 22 °C, light wind from the west"


def get_weather(
    city: Annotated[str, Field(description="The city, e.g. Paris")],
) -> str:
    """Returns the weather forecast for a city.

    A demo stand-in: always the same made-up forecast.

    Args:
        city: The city's name.
    """
    return f"Weather in {city}: {DEMO_FORECAST} (demo forecast)."


def register_tools(registry: ToolRegistry) -> None:
    """Registers ``get_weather`` (a ``tool_modules`` entry point; the local-model demo's
    embedded server loads this module, no other server does by default).

    Raises:
        ValueError: ``get_weather`` is already registered.
    """
    registry.register(get_weather)
