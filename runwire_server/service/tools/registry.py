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
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol, Union, get_args, get_origin

import pydantic
import pydantic_core
from pydantic.fields import FieldInfo

from runwire_server.service.core.errors import InvalidArgumentError, safe_error_text
from runwire_server.service.core.messages import ToolSpec
from runwire_server.service.tools.context import ToolContext

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
        context_parameter: The parameter annotated ``ToolContext`` (given the
            call's context, never shown to the model), or ``""``.
        builtin: One of Runwire's built-in tools (else a registered Python tool).
    """

    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any]
    arguments_model: type[pydantic.BaseModel] = field(repr=False, compare=False)
    context_parameter: str = ""
    builtin: bool = False

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


def _is_context(annotation: object) -> bool:
    """Whether ``annotation`` is ``ToolContext`` (or ``ToolContext | None``,
    ``Annotated[ToolContext, ...]``)."""
    if annotation is ToolContext:
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_context(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return any(_is_context(arg) for arg in get_args(annotation))
    return False


def _arguments_model(fn: Callable[..., Any], name: str) -> tuple[type[pydantic.BaseModel], str]:
    """A model of ``fn``'s parameters, and the name of its ``ToolContext``
    parameter (``""``: none). Fields are named ``p0, p1, ...`` with the parameter
    names as aliases, so parameters such as ``json`` or ``model_x`` cannot clash
    with ``BaseModel`` attributes."""
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
        parameters = inspect.signature(fn).parameters.values()
    except (NameError, TypeError, ValueError) as error:
        raise ValueError(f"tool {name!r}: cannot read the signature: {error}") from error
    fields: dict[str, Any] = {}
    context_parameter = ""
    for position, parameter in enumerate(parameters):
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            raise ValueError(
                f"tool {name!r}: parameter {parameter.name!r} must be passable by keyword"
                " (no positional-only parameters, *args or **kwargs)"
            )
        annotation = hints.get(parameter.name, Any)
        if _is_context(annotation):
            if context_parameter:
                raise ValueError(f"tool {name!r}: more than one ToolContext parameter")
            context_parameter = parameter.name
            continue
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
    return model, context_parameter


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


class ExternalTools(Protocol):
    """Tools the registry runs but does not hold (the MCP pool,
    ``runwire_server.service.tools.mcp.McpPool``): named ``<server>_<tool>``."""

    def has_tool(self, name: str) -> bool:
        """Whether ``name`` is one of its tools (listed at least once)."""
        ...

    async def call(
        self, name: str, arguments: dict[str, object], context: ToolContext
    ) -> ToolOutcome | None:
        """Calls tool ``name`` (None: not one of its tools); every failure is an
        outcome with ``is_error``."""
        ...

    async def aclose(self) -> None:
        """Closes its sessions."""
        ...


class ToolRegistry:
    """The server tools, by name; with ``external`` (the MCP pool) attached,
    also the tools of the MCP servers (``execute`` runs both)."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}
        self.external: ExternalTools | None = None

    def attach(self, external: ExternalTools) -> None:
        """Runs ``external``'s tools too (``execute``); ``aclose`` closes it."""
        self.external = external

    async def aclose(self) -> None:
        """Closes the attached external tools (MCP sessions and processes)."""
        if self.external is not None:
            await self.external.aclose()

    def register(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        builtin: bool = False,
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
            builtin: Runwire's own tool (``ToolService.ListTools`` says so).

        A parameter annotated ``ToolContext`` is given the call's context
        (``runwire_server.service.tools.context``) and is not an argument the
        model sees.

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
        model, context_parameter = _arguments_model(fn, tool_name)
        tool = Tool(
            name=tool_name,
            description=_description(fn) if description is None else description,
            parameters=model.model_json_schema(),
            fn=fn,
            arguments_model=model,
            context_parameter=context_parameter,
            builtin=builtin,
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

    def tools(self) -> list[Tool]:
        """The registered tools, sorted by name."""
        return [self._tools[name] for name in sorted(self._tools)]

    async def execute(
        self, name: str, arguments: dict[str, object], context: ToolContext | None = None
    ) -> ToolOutcome:
        """Validates ``arguments`` and calls the tool.

        Sync tools run in a worker thread (``asyncio.to_thread``), so a blocking
        tool does not stall every run and stream of the process; async tools are
        awaited on the event loop (write a tool that never blocks as ``async def``
        to skip the thread hop). A ``str`` result is returned as is, anything else
        as JSON.

        A name that is not a registered tool goes to the attached external
        tools (MCP) when they have it.

        Args:
            name: The tool's name.
            arguments: The model's arguments (a parsed JSON object).
            context: The call's context, given to a ``ToolContext`` parameter
                (None: an empty one).

        Returns:
            The result, or ``is_error=True`` with a message for the model when the tool
            is unknown, the arguments are invalid, or the tool raised. Never raises
            for those.

        Raises:
            asyncio.CancelledError: the run was cancelled while the tool ran.
        """
        tool = self._tools.get(name)
        context = context if context is not None else ToolContext()
        if tool is None and self.external is not None:
            outcome = await self.external.call(name, arguments, context)
            if outcome is not None:
                return outcome
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
        if tool.context_parameter:
            kwargs[tool.context_parameter] = context
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
