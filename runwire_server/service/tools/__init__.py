"""Server tools: an extension point.

A tool module (``RUNWIRE_TOOL_MODULES``) defines ``register_tools(registry)`` and
calls ``ToolRegistry.register(fn)`` for each plain Python function (sync or async,
annotated parameters: pydantic builds the JSON Schema the model sees and validates
the model's arguments). ``load_modules`` imports such modules;
``register_builtin_tools`` adds ``echo``, ``calculator``, ``current_time`` and ``sleep``.
"""

from runwire_server.service.tools.builtin import register_builtin_tools
from runwire_server.service.tools.registry import (
    TOOL_NAME_PATTERN,
    Tool,
    ToolOutcome,
    ToolRegistry,
    load_modules,
)

__all__ = [
    "TOOL_NAME_PATTERN",
    "Tool",
    "ToolOutcome",
    "ToolRegistry",
    "load_modules",
    "register_builtin_tools",
]
