"""Server tools: Python callables offered to models, with schemas from type hints.

A tool is a plain function (sync or ``async``) whose parameters are annotated;
pydantic turns the hints (including ``Annotated[..., Field(...)]`` constraints
and descriptions) into the JSON Schema shown to the model and validates the
model's arguments against it before the call.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import pydantic
import pydantic_core
from pydantic.fields import FieldInfo

from runwire_server.service.core.errors import InvalidArgumentError, safe_error_text
from runwire_server.service.core.messages import ToolSpec

#: Tool names the Chat Completions API accepts.
TOOL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Tool:
    """A registered tool.

    Attributes:
        name: The name the model calls.
        description: What it does, shown to the model.
        parameters: JSON Schema (object) of its arguments.
        fn: The callable, sync or async, called with keyword arguments.
        arguments_model: The pydantic model validating the arguments (field aliases
            are the parameter names).
    """

    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any]
    arguments_model: type[pydantic.BaseModel] = field(repr=False, compare=False)

    def spec(self) -> ToolSpec:
        """The tool as offered to a model."""
        return ToolSpec(name=self.name, description=self.description, parameters=self.parameters)


@dataclass(frozen=True)
class ToolOutcome:
    """What a tool call produced.

    Attributes:
        content: The result text (sent to the model as the tool message), or an
            error message the model can read.
        is_error: The call failed (unknown tool, invalid arguments, exception).
    """

    content: str
    is_error: bool


def _description(fn: Callable[..., Any]) -> str:
    doc = inspect.getdoc(fn) or ""
    paragraph = doc.strip().split("\n\n", 1)[0]
    return " ".join(line.strip() for line in paragraph.splitlines())


def _arguments_model(fn: Callable[..., Any], name: str) -> type[pydantic.BaseModel]:
    """A model of ``fn``'s parameters. Fields are named ``p0, p1, ...`` with the
    parameter names as aliases, so parameters such as ``json`` or ``model_x`` cannot
    clash with ``BaseModel`` attributes."""
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
        parameters = inspect.signature(fn).parameters.values()
    except (NameError, TypeError, ValueError) as error:
        raise ValueError(f"tool {name!r}: cannot read the signature: {error}") from error
    fields: dict[str, Any] = {}
    for position, parameter in enumerate(parameters):
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            raise ValueError(
                f"tool {name!r}: parameter {parameter.name!r} must be passable by keyword"
                " (no positional-only parameters, *args or **kwargs)"
            )
        annotation = hints.get(parameter.name, Any)
        if isinstance(parameter.default, FieldInfo):  # def f(x: int = Field(3, ge=0))
            annotation = Annotated[annotation, parameter.default]
            fields[f"p{position}"] = (annotation, pydantic.Field(alias=parameter.name))
            continue
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[f"p{position}"] = (annotation, pydantic.Field(default, alias=parameter.name))
    model: type[pydantic.BaseModel] = pydantic.create_model(
        name,
        __config__=pydantic.ConfigDict(extra="forbid"),
        **fields,
    )
    return model


def _format_validation_error(error: pydantic.ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "arguments"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def _to_text(result: object) -> str:
    if isinstance(result, str):
        return result
    return pydantic_core.to_json(result, serialize_unknown=True).decode()


class ToolRegistry:
    """The server tools, by name."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def register(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> Tool:
        """Registers ``fn`` as a tool.

        Args:
            fn: A sync or async callable with annotated parameters, all passable by
                keyword (no positional-only parameters, ``*args`` or ``**kwargs``);
                unannotated parameters accept any JSON value.
            name: The tool's name; defaults to ``fn.__name__``. Must match
                ``TOOL_NAME_PATTERN``.
            description: Shown to the model; defaults to the docstring's first
                paragraph.

        Returns:
            The registered tool.

        Raises:
            ValueError: the name is taken or invalid, or the signature is unsupported.
        """
        tool_name = name or str(getattr(fn, "__name__", ""))
        if not TOOL_NAME_PATTERN.fullmatch(tool_name):
            raise ValueError(f"invalid tool name {tool_name!r}: use 1-64 of [A-Za-z0-9_-]")
        if tool_name in self._tools:
            raise ValueError(f"tool {tool_name!r} is already registered")
        model = _arguments_model(fn, tool_name)
        tool = Tool(
            name=tool_name,
            description=_description(fn) if description is None else description,
            parameters=model.model_json_schema(),
            fn=fn,
            arguments_model=model,
        )
        self._tools[tool_name] = tool
        return tool

    def get(self, name: str) -> Tool | None:
        """The tool called ``name``, or None."""
        return self._tools.get(name)

    def names(self) -> list[str]:
        """The tool names, sorted."""
        return sorted(self._tools)

    def spec(self, name: str) -> ToolSpec:
        """The spec of the tool called ``name``, as offered to a model.

        Raises:
            KeyError: no such tool.
        """
        tool = self._tools.get(name)
        if tool is None:
            raise KeyError(name)
        return tool.spec()

    async def execute(self, name: str, arguments: dict[str, object]) -> ToolOutcome:
        """Validates ``arguments`` and calls the tool.

        Sync tools run in a worker thread (``asyncio.to_thread``), so a blocking
        tool does not stall every run and stream of the process; async tools are
        awaited on the event loop (write a tool that never blocks as ``async def``
        to skip the thread hop). A ``str`` result is returned as is, anything else
        as JSON.

        Args:
            name: The tool's name.
            arguments: The model's arguments (a parsed JSON object).

        Returns:
            The result, or ``is_error=True`` with a message for the model when the tool
            is unknown, the arguments are invalid, or the tool raised. Never raises
            for those.

        Raises:
            asyncio.CancelledError: the run was cancelled while the tool ran.
        """
        tool = self._tools.get(name)
        if tool is None:
            available = ", ".join(self.names()) or "none"
            return ToolOutcome(f"unknown tool {name!r}; available tools: {available}", True)
        try:
            validated = tool.arguments_model.model_validate(arguments)
        except pydantic.ValidationError as error:
            details = _format_validation_error(error)
            return ToolOutcome(f"invalid arguments for tool {name!r}: {details}", True)
        kwargs = {
            info.alias or key: getattr(validated, key)
            for key, info in type(validated).model_fields.items()
        }
        try:
            if inspect.iscoroutinefunction(tool.fn):
                result = await tool.fn(**kwargs)
            else:
                result = await asyncio.to_thread(tool.fn, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
            return ToolOutcome(_to_text(result), False)
        except Exception as error:  # CancelledError is a BaseException: it propagates.
            # The model sees this: what failed, bounded and without credentials.
            return ToolOutcome(
                safe_error_text(f"tool {name!r} failed: {type(error).__name__}: {error}"), True
            )


def load_modules(registry: ToolRegistry, module_names: list[str]) -> None:
    """Imports tool modules and lets each register its tools.

    Each module must define ``register_tools(registry: ToolRegistry) -> None``.

    Args:
        registry: Where the tools go.
        module_names: Dotted module names (``mypkg.tools``), imported in order.

    Raises:
        InvalidArgumentError: a module cannot be imported, has no callable
            ``register_tools``, or its ``register_tools`` raised (reason
            ``TOOL_MODULE_INVALID``, metadata ``module``).
    """
    for module_name in module_names:
        try:
            module = importlib.import_module(module_name)
        except Exception as error:
            raise _module_error(module_name, f"cannot be imported: {error}") from error
        register_tools = getattr(module, "register_tools", None)
        if not callable(register_tools):
            raise _module_error(
                module_name, "has no register_tools(registry: ToolRegistry) function"
            )
        try:
            register_tools(registry)
        except Exception as error:
            raise _module_error(
                module_name, f"register_tools failed: {type(error).__name__}: {error}"
            ) from error


def _module_error(module_name: str, problem: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"tool module {module_name!r} {problem}",
        reason="TOOL_MODULE_INVALID",
        metadata={"module": module_name},
    )
