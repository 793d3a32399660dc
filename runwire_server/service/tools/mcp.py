"""MCP toolsets: the operator's MCP servers, one pooled session each.

The operator declares MCP servers (``[[mcp_servers]]``); agents name them in
``Agent.toolsets`` and their tools reach the model as ``<server>_<tool>`` with the
server's JSON Schemas. ``McpPool`` holds one client session per server for the
whole process (the official ``mcp`` SDK: ``ClientSession`` over ``stdio_client``
or ``streamable_http_client``):

- each server has a supervisor task that connects (initialize, list the tools,
  apply the allow/deny filter), then watches the session (a ping every
  ``PING_INTERVAL_SECONDS`` while idle) and reconnects when it is lost, with
  backoff from ``RECONNECT_INITIAL_DELAY_SECONDS`` doubling to
  ``RECONNECT_MAX_DELAY_SECONDS``;
- a server down at start is logged and reported (``statuses``: UNAVAILABLE with a
  safe error) and never stops the process;
- a call of a tool whose server is down, that crashes mid-call, or that times out
  is a tool error the model reads; the run goes on. A call made while the session
  is being re-established waits up to the server's connect timeout for it.

Commands, URLs, environment values and header values are the operator's: they
never appear in logs, errors or listings (``_Redactor``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

import anyio
import pydantic_core

from runwire_server.service.core.errors import safe_error_text
from runwire_server.service.tools.context import ToolContext
from runwire_server.service.tools.registry import TOOL_NAME_PATTERN, ToolOutcome, ToolRegistry

logger = logging.getLogger(__name__)

#: MCP server names (``[[mcp_servers]].name``, ``Agent.toolsets``).
MCP_SERVER_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"

#: First wait before reconnecting a lost or unreachable server, seconds.
RECONNECT_INITIAL_DELAY_SECONDS = 0.2
#: Longest wait between two connection attempts, seconds.
RECONNECT_MAX_DELAY_SECONDS = 30.0
#: How often an idle session is pinged to notice a server that went away, seconds.
PING_INTERVAL_SECONDS = 10.0
#: Most tools listed from one server (pages of ``tools/list`` followed).
MAX_TOOLS_PER_SERVER = 256
#: Longest tool result text kept, in characters (longer ones are cut, marked).
MAX_RESULT_CHARS = 100_000

#: JSON-RPC error codes after which the session is still sound (the call failed,
#: not the connection): parse error, invalid request, method not found, invalid
#: params, internal error, request timeout.
_SESSION_OK_CODES = frozenset({-32700, -32600, -32601, -32602, -32603, -32001})
_REQUEST_TIMEOUT = -32001


class McpState(StrEnum):
    """How the session with an MCP server is."""

    CONNECTED = "connected"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, kw_only=True)
class McpServerConfig:
    """One MCP server, with its secrets read (``runwire_server.app.config``).

    Attributes:
        name: What agents name in ``toolsets``; the prefix of its tools.
        transport: ``"stdio"`` (a child process) or ``"streamable_http"``.
        command, args, cwd: stdio: the process to start.
        env: stdio: variables set for the process (on top of a minimal
            environment: PATH, HOME, ...). Values are secrets.
        url: streamable_http: the endpoint.
        headers: streamable_http: headers of every request. Values are secrets.
        allow_tools: Tool names (or ``fnmatch`` patterns) offered; empty: all.
        deny_tools: Tool names (or patterns) never offered; wins over ``allow_tools``.
        connect_timeout_seconds: Longest connection (initialize and tool listing).
        call_timeout_seconds: Longest tool call before it fails as a tool error.
    """

    name: str
    transport: Literal["stdio", "streamable_http"]
    command: str = ""
    args: tuple[str, ...] = ()
    cwd: pathlib.Path | None = None
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    url: str = field(default="", repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    allow_tools: tuple[str, ...] = ()
    deny_tools: tuple[str, ...] = ()
    connect_timeout_seconds: float = 10.0
    call_timeout_seconds: float = 60.0

    def allows(self, tool: str) -> bool:
        """Whether the filter lets tool ``tool`` (the server's name) through."""
        if any(fnmatch.fnmatchcase(tool, pattern) for pattern in self.deny_tools):
            return False
        return not self.allow_tools or any(
            fnmatch.fnmatchcase(tool, pattern) for pattern in self.allow_tools
        )


@dataclass(frozen=True, kw_only=True)
class McpTool:
    """One tool of an MCP server, as offered to models.

    Attributes:
        name: The name the model calls: ``<server>_<tool>``.
        server: The MCP server's name.
        remote_name: The tool's name on the server.
        description: Its description (may be empty).
        parameters: Its input JSON Schema (an object schema).
    """

    name: str
    server: str
    remote_name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class McpServerStatus:
    """What ``ToolService.ListTools`` and health tell about one server.

    Attributes:
        name: The server's name.
        transport: ``"stdio"`` or ``"streamable_http"``.
        state: CONNECTED or UNAVAILABLE.
        error: Why it is UNAVAILABLE (redacted); ``""`` when CONNECTED.
        tool_names: Its tools after the filter, as models see them, sorted.
        update_time: When it last connected or last failed to (UTC); None before
            the first attempt ended.
    """

    name: str
    transport: str
    state: McpState
    error: str = ""
    tool_names: tuple[str, ...] = ()
    update_time: datetime | None = None


#: Called on every change of a server's status (connected, lost, failed).
StatusListener = Callable[[McpServerStatus], Awaitable[None]]


class McpUnavailableError(Exception):
    """The server has no session now (the message is safe to show)."""


class _Lost(Exception):
    """The session went away (the server died, a ping or call failed)."""


class _Redactor:
    """Removes a server's secrets (env and header values, URL, command) from texts."""

    def __init__(self, config: McpServerConfig) -> None:
        secrets = [*config.env.values(), *config.headers.values()]
        self._secrets = sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True)
        self._places = [(config.url, "[url]")] if config.url else []
        if config.command:
            self._places.append((config.command, "[command]"))

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        for place, mark in self._places:
            text = text.replace(place, mark)
        return safe_error_text(text)


def _leaf(error: BaseException) -> BaseException:
    """The first non-group exception inside ``error`` (anyio task groups wrap them)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    if isinstance(error, _Lost) and error.__cause__ is not None:
        return _leaf(error.__cause__)
    return error


def _describe(error: BaseException) -> str:
    leaf = _leaf(error)
    text = str(leaf).strip()
    if isinstance(leaf, TimeoutError) and not text:
        text = "timed out"
    return f"{type(leaf).__name__}: {text}" if text else type(leaf).__name__


def _result_text(result: Any) -> str:
    """The text a model reads of a ``CallToolResult``: its text blocks joined,
    other blocks as JSON, the structured content when there is nothing else."""
    parts: list[str] = []
    for block in getattr(result, "content", None) or []:
        text = getattr(block, "text", None)
        if getattr(block, "type", "") == "text" and isinstance(text, str):
            parts.append(text)
        else:
            parts.append(
                pydantic_core.to_json(
                    block.model_dump(mode="json", by_alias=True, exclude_none=True)
                ).decode()
            )
    if not parts and getattr(result, "structured_content", None) is not None:
        parts.append(pydantic_core.to_json(result.structured_content).decode())
    text = "\n".join(parts)
    if len(text) > MAX_RESULT_CHARS:
        text = text[:MAX_RESULT_CHARS] + "… [cut]"
    return text


class _Server:
    """One MCP server: its supervisor task, session, state and tools."""

    def __init__(self, config: McpServerConfig, notify: StatusListener) -> None:
        self.config = config
        self._notify = notify
        self._redact = _Redactor(config)
        self.state = McpState.UNAVAILABLE
        self.error = "not connected yet"
        self.update_time: datetime | None = None
        self.tools: dict[str, McpTool] = {}
        self.session: Any = None
        self._connected = asyncio.Event()
        self._attempted = asyncio.Event()
        self._broken = asyncio.Event()
        self._wake = asyncio.Event()
        self._lost_reason = ""
        self._task: asyncio.Task[None] | None = None

    def status(self) -> McpServerStatus:
        return McpServerStatus(
            name=self.config.name,
            transport=self.config.transport,
            state=self.state,
            error="" if self.state is McpState.CONNECTED else self.error,
            tool_names=tuple(sorted(self.tools)),
            update_time=self.update_time,
        )

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"mcp:{self.config.name}")

    async def wait_attempted(self) -> None:
        await self._attempted.wait()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _supervise(self) -> None:
        delay = RECONNECT_INITIAL_DELAY_SECONDS
        while True:
            try:
                await self._session_lifetime()
                delay = RECONNECT_INITIAL_DELAY_SECONDS
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a failed or lost connection: reported, retried
                await self._unavailable(error)
            self._attempted.set()
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            delay = min(delay * 2, RECONNECT_MAX_DELAY_SECONDS)

    @contextlib.asynccontextmanager
    async def _transport(self) -> AsyncIterator[tuple[Any, Any]]:
        config = self.config
        if config.transport == "stdio":
            from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: PLC0415

            parameters = StdioServerParameters(
                command=config.command,
                args=list(config.args),
                env=dict(config.env) or None,
                cwd=config.cwd,
            )
            async with stdio_client(parameters) as streams:
                yield streams
            return
        from mcp.client.streamable_http import streamable_http_client  # noqa: PLC0415
        from mcp.shared._httpx_utils import create_mcp_http_client  # noqa: PLC0415

        async with (
            create_mcp_http_client(headers=dict(config.headers)) as http,
            streamable_http_client(config.url, http_client=http) as streams,
        ):
            yield streams

    async def _session_lifetime(self) -> None:
        """Connects, lists the tools, serves calls until the session is lost.

        Raises:
            _Lost: the session went away after connecting.
            Exception: connecting failed.
        """
        from mcp import ClientSession  # noqa: PLC0415 - the SDK loads with the first server

        config = self.config
        async with self._transport() as (read, write), ClientSession(read, write) as session:
            with anyio.fail_after(config.connect_timeout_seconds):
                await session.initialize()
                tools = await self._list_tools(session)
            self.tools = tools
            self.session = session
            self.state = McpState.CONNECTED
            self.error = ""
            self.update_time = datetime.now(UTC)
            self._broken.clear()
            self._connected.set()
            self._attempted.set()
            logger.info("MCP server %s connected: %d tools", config.name, len(tools))
            await self._notify(self.status())
            try:
                await self._watch(session)
            finally:
                self.session = None
                self._connected.clear()

    async def _list_tools(self, session: Any) -> dict[str, McpTool]:
        config = self.config
        tools: dict[str, McpTool] = {}
        cursor: str | None = None
        listed = 0
        while True:
            if cursor is None:
                page = await session.list_tools()
            else:
                from mcp import types  # noqa: PLC0415

                page = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor))
            for tool in page.tools:
                listed += 1
                if listed > MAX_TOOLS_PER_SERVER or not config.allows(tool.name):
                    continue
                name = f"{config.name}_{tool.name}"
                if not TOOL_NAME_PATTERN.fullmatch(name):
                    logger.warning(
                        "MCP server %s: tool %r left out: %r is not a valid tool name",
                        config.name,
                        tool.name[:100],
                        name[:100],
                    )
                    continue
                schema = dict(tool.input_schema or {})
                schema.setdefault("type", "object")
                tools[name] = McpTool(
                    name=name,
                    server=config.name,
                    remote_name=tool.name,
                    description=tool.description or "",
                    parameters=schema,
                )
            cursor = page.next_cursor
            if not cursor or listed >= MAX_TOOLS_PER_SERVER:
                return tools

    async def _watch(self, session: Any) -> None:
        """Returns never; raises ``_Lost`` when a call reported the session lost
        or an idle ping fails."""
        while True:
            try:
                async with asyncio.timeout(PING_INTERVAL_SECONDS):
                    await self._broken.wait()
            except TimeoutError:
                try:
                    with anyio.fail_after(self.config.connect_timeout_seconds):
                        await session.send_ping()
                except Exception as error:
                    raise _Lost(f"ping failed: {_describe(error)}") from error
                continue
            raise _Lost(self._lost_reason)

    async def _unavailable(self, error: BaseException) -> None:
        was_connected = self.state is McpState.CONNECTED
        self.state = McpState.UNAVAILABLE
        reason = self._lost_reason if isinstance(_leaf(error), _Lost) else _describe(error)
        before = self.error
        self.error = self._redact(
            f"connection lost: {reason}" if was_connected else f"cannot connect: {reason}"
        )
        self.update_time = datetime.now(UTC)
        # Logged when it changes; the same failure again (a retry) at DEBUG.
        level = logging.WARNING if was_connected or self.error != before else logging.DEBUG
        logger.log(level, "MCP server %s unavailable: %s", self.config.name, self.error)
        await self._notify(self.status())

    def lost(self, reason: str) -> None:
        """Marks the session lost (a call failed on it): the supervisor reconnects."""
        if self.session is not None and not self._broken.is_set():
            self._lost_reason = reason
            self._connected.clear()
            self._broken.set()
        self._wake.set()

    async def session_for_call(self) -> Any:
        """The session, waiting up to the connect timeout while one is being made.

        Raises:
            McpUnavailableError: none came.
        """
        if self.session is not None and self._connected.is_set():
            return self.session
        self._wake.set()
        try:
            async with asyncio.timeout(self.config.connect_timeout_seconds):
                await self._connected.wait()
        except TimeoutError:
            raise McpUnavailableError(self.error or "not connected") from None
        if self.session is None:
            raise McpUnavailableError(self.error or "not connected")
        return self.session

    async def call(
        self, tool: McpTool, arguments: dict[str, object], context: ToolContext
    ) -> ToolOutcome:
        from mcp import MCPError  # noqa: PLC0415

        server = self.config.name
        try:
            session = await self.session_for_call()
        except McpUnavailableError as error:
            return ToolOutcome(
                f"error: MCP server {server!r} is unavailable ({error}); the tool "
                f"{tool.name!r} was not run",
                True,
            )
        meta: dict[str, Any] = {}
        if context.run_id:
            meta = {
                "dev.runwire/run_id": context.run_id,
                "dev.runwire/tool_call_id": context.tool_call_id,
                "dev.runwire/idempotency_key": context.idempotency_key,
            }
        timeout = self.config.call_timeout_seconds
        try:
            result = await session.call_tool(
                tool.remote_name,
                arguments,
                read_timeout_seconds=timeout,
                meta=meta or None,
            )
        except MCPError as error:
            if error.code == _REQUEST_TIMEOUT:
                return ToolOutcome(
                    f"error: MCP tool {tool.name!r} did not answer within {timeout:g} s", True
                )
            if error.code not in _SESSION_OK_CODES:
                self.lost(f"{type(error).__name__}: {error}")
                return self._crashed(tool, error)
            return ToolOutcome(
                self._redact(f"error: MCP tool {tool.name!r} failed: {error.message}"), True
            )
        except Exception as error:  # the transport broke under the call
            self.lost(_describe(error))
            return self._crashed(tool, error)
        return ToolOutcome(_result_text(result), bool(getattr(result, "is_error", False)))

    def _crashed(self, tool: McpTool, error: BaseException) -> ToolOutcome:
        logger.warning(
            "MCP server %s: call of %s failed, reconnecting: %s",
            self.config.name,
            tool.remote_name[:100],
            self._redact(_describe(error)),
        )
        return ToolOutcome(
            self._redact(
                f"error: MCP server {self.config.name!r} failed during the call of "
                f"{tool.name!r} ({_describe(error)}); it may or may not have run"
            ),
            True,
        )


class McpPool:
    """The MCP servers of the configuration, one session each, for one process.

    ``start`` connects them all (a server that does not answer is reported and
    retried, never fatal); ``call`` runs a tool (``ExternalTools`` of the
    ``ToolRegistry``), starting the pool first when nobody did (a standalone
    worker); ``aclose`` ends the sessions and stdio processes.
    """

    def __init__(self, configs: list[McpServerConfig]) -> None:
        names = [config.name for config in configs]
        if len(set(names)) != len(names):
            raise ValueError("MCP server names must be unique")
        self._listeners: list[StatusListener] = []
        self._servers = {config.name: _Server(config, self._notify) for config in configs}
        self._started = False
        self._start_lock = asyncio.Lock()

    def listen(self, listener: StatusListener) -> None:
        """Calls ``listener`` on every status change (from the supervisor tasks)."""
        self._listeners.append(listener)

    async def _notify(self, status: McpServerStatus) -> None:
        for listener in self._listeners:
            try:
                await listener(status)
            except Exception:
                logger.exception("MCP status listener failed")

    def server_names(self) -> list[str]:
        """The configured servers' names, sorted."""
        return sorted(self._servers)

    def config(self, server: str) -> McpServerConfig | None:
        """The configuration of ``server``, or None."""
        found = self._servers.get(server)
        return found.config if found is not None else None

    async def start(self) -> None:
        """Starts every server's supervisor and waits until each has connected or
        failed once (each bounded by its connect timeout). Idempotent; never
        raises for a server that is down."""
        async with self._start_lock:
            if self._started:
                return
            self._started = True
            for server in self._servers.values():
                server.start()
        await asyncio.gather(*(s.wait_attempted() for s in self._servers.values()))

    def statuses(self) -> list[McpServerStatus]:
        """Every server's status, ordered by name."""
        return [self._servers[name].status() for name in sorted(self._servers)]

    def server_tools(self, server: str) -> list[McpTool]:
        """The tools of ``server`` after its filter, sorted by name (the last ones
        listed if it is down now; empty if it never connected or is unknown)."""
        found = self._servers.get(server)
        if found is None:
            return []
        return [found.tools[name] for name in sorted(found.tools)]

    def tools(self) -> list[McpTool]:
        """Every server's tools, sorted by name."""
        every = [tool for server in self._servers.values() for tool in server.tools.values()]
        return sorted(every, key=lambda tool: tool.name)

    def find(self, name: str) -> McpTool | None:
        """The tool models call ``name``, or None."""
        for server in self._servers.values():
            tool = server.tools.get(name)
            if tool is not None:
                return tool
        return None

    def has_tool(self, name: str) -> bool:
        """Whether ``name`` is a known MCP tool."""
        return self.find(name) is not None

    async def call(
        self, name: str, arguments: dict[str, object], context: ToolContext
    ) -> ToolOutcome | None:
        """Calls MCP tool ``name``; None when no server has it. Every failure
        (server down, crashed mid-call, timed out, the tool's own error) is an
        outcome with ``is_error``.

        Raises:
            asyncio.CancelledError: the run was cancelled during the call.
        """
        if not self._started:
            await self.start()
        tool = self.find(name)
        if tool is None:
            return None
        return await self._servers[tool.server].call(tool, arguments, context)

    async def aclose(self) -> None:
        """Stops the supervisors: sessions closed, stdio processes stopped."""
        await asyncio.gather(*(server.aclose() for server in self._servers.values()))


def pool_of(registry: ToolRegistry) -> McpPool | None:
    """The MCP pool attached to ``registry``, or None (no ``[[mcp_servers]]``)."""
    return registry.external if isinstance(registry.external, McpPool) else None
