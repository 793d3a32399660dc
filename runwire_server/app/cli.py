"""The server's commands of ``runwire``: ``serve``, ``health``, ``worker``, ``run``,
``demo`` and ``local-model``.

The ``runwire`` console script belongs to the client distribution
(``runwire.cli:main``, with the operator commands ``agents``, ``runs``,
``approvals`` and ``threads``); this module's ``app`` joins it through the
entry point ``server = "runwire_server.app.cli:app"`` of the group ``runwire.cli``
(pyproject.toml). ``main`` runs these commands alone (``python -m runwire_server.app``).

* ``runwire serve`` runs the gRPC server until SIGINT/SIGTERM; it prints
  ``serving on ADDRESS[, ADDRESS]`` on stdout once it accepts calls
  (``python -m runwire_server.app`` is the same).
* ``runwire health`` asks a server's ``grpc.health.v1`` service and exits 0 when
  it is SERVING (for container health checks).
* ``runwire worker`` runs a Temporal worker for ``runwire.AgentRun`` until
  SIGINT/SIGTERM.
* ``runwire run AGENT_ID PROMPT`` streams one run from a server, asking at the
  terminal about every tool call that needs an approval.
* ``runwire demo`` starts an embedded server and streams a scripted run
  through it, approving its one tool call; it needs nothing else running.
  ``--local-model`` runs it on a real model instead (see ``local-model``).
* ``runwire local-model`` runs a small real model (SmolLM2-135M on llama.cpp's
  OpenAI-compatible server) in the foreground and prints its base URL, for
  agents on the ``openai`` provider (a ``[[model_endpoints]]`` entry with that
  ``base_url``, named by ``model.options.endpoint``).

``run`` and ``health`` connect with ``--token``, ``--ca-file`` (TLS),
``--client-cert``/``--client-key`` (mutual TLS) and ``--tls-server-name``; each
option left out comes from the environment (``RUNWIRE_TOKEN``,
``RUNWIRE_CA_FILE``, ``RUNWIRE_CLIENT_CERT_FILE``, ``RUNWIRE_CLIENT_KEY_FILE``,
``RUNWIRE_TLS_SERVER_NAME``); without a CA file or client certificate the
connection is plaintext.

``run`` and ``demo`` stream through the Python client (``runwire.AsyncClient``) and
draw with ``runwire_server.app.render``. ``local-model`` and ``demo --local-model`` use
``devtools.local_model``, dev tooling outside the server's wheel: when it is not
installed (``scripts/install_local_model.sh``; never in the Docker image) they
exit 1 with one line saying so.

Exit codes: 0 success; 1 the run did not succeed, a call failed or the local
model cannot run; 2 bad usage, settings or config file, or an address that
cannot be bound; 130 interrupted. Expected failures print one line on stderr,
never a traceback.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import pathlib
import secrets
import signal
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import grpc
import pydantic
import typer
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rich.console import Console
from rich.text import Text
from runwire import (
    AsyncClient,
    Credentials,
    Decide,
    Decision,
    Resume,
    Retry,
    RunOutcome,
    open_channel,
    run_outcome,
)
from runwire import RunwireError as ClientError
from runwire.cli.options import (
    AddressOption,
    CaFileOption,
    ClientCertOption,
    ClientKeyOption,
    ServerNameOption,
    TokenOption,
    credentials_from_options,
    error_line,
    resolve_address,
)
from runwire.v1 import agent_pb2, event_pb2, run_service_pb2

from runwire_server.app.config import DEFAULT_LISTEN, Settings, load_settings
from runwire_server.app.render import REJECT_REASON, Renderer, terminal_decider
from runwire_server.app.tls import ListenConfigError, check_listen
from runwire_server.service.core.errors import RunwireError
from runwire_server.service.core.logs import configure_logging

if TYPE_CHECKING:
    from types import ModuleType

    from runwire_server.app.server import RunwireServer

# The app, its server and OpenTelemetry load on demand (in ``_start`` and the
# commands that serve): ``runwire health`` and ``runwire run`` only need a
# channel, and a container health check runs every few seconds.

logger = logging.getLogger("runwire_server.app.cli")

#: How ``runwire run`` resumes a broken stream (and retries a server it cannot
#: reach): a few quick attempts, so an unreachable address fails in seconds.
RUN_RETRY = Retry(max_attempts=3, backoff_seconds=0.5)

#: Exit codes.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

app = typer.Typer(
    name="runwire",
    help="Runwire: a gRPC service that runs tool-calling AI agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def fail(message: str, code: int) -> typer.Exit:
    """Prints ``error: MESSAGE`` on stderr and returns the ``typer.Exit`` to raise."""
    err.print(Text(f"error: {message}", style="bold red"), soft_wrap=True)
    return typer.Exit(code)


# --------------------------------------------------------------------------- serve


def _settings_error(exc: pydantic.ValidationError) -> str:
    problems = []
    for item in exc.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "settings"
        problems.append(f"{where}: {item['msg']}")
    return "invalid settings: " + "; ".join(problems)


def _check_bindable(address: str) -> None:
    """Fails early, with a clear reason, for a listen address that cannot work.

    Checks the form (``host:port``, ``unix:PATH``), that a Unix socket's
    directory exists, and that a TCP port is free: gRPC binds with
    SO_REUSEPORT, so a port held by another gRPC server would be shared
    silently instead of failing; this probe binds without it first. Port 0
    (any free port) is not probed.

    Raises:
        OSError: the address cannot be bound (``strerror`` says why).
    """
    if address.startswith("unix:"):
        parent = pathlib.Path(address.removeprefix("unix:").removeprefix("//")).parent
        if not parent.is_dir():
            raise OSError(errno.ENOENT, f"directory {parent} does not exist")
        return
    if address.startswith("unix-abstract:"):
        return
    host, _, port_text = address.rpartition(":")
    host = host.strip("[]")
    if not port_text.isdigit() or int(port_text) > 65535:
        raise OSError(errno.EINVAL, "expected host:port or unix:PATH")
    if int(port_text) == 0:
        return
    try:
        infos = socket.getaddrinfo(
            host or None, int(port_text), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise OSError(errno.EADDRNOTAVAIL, f"cannot resolve host {host!r}") from exc
    for family, kind, proto, _, sockaddr in infos:
        try:
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(sockaddr)
        except OSError as exc:
            # Other failures (say, no IPv6 for "localhost") are left to gRPC,
            # which binds what it can.
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise


async def _start(settings: Settings) -> tuple[RunwireServer, list[str]]:
    """Builds the app and starts its server; returns it and the bound addresses.

    Raises:
        typer.Exit: (code 2, after printing why) the listen settings are
            refused (``runwire_server.app.tls.check_listen``: a non-loopback address without
            auth or ``--insecure``, a bad TLS file), an address cannot be bound
            or the app cannot be built from ``settings``.
    """
    try:
        check_listen(settings)
    except ListenConfigError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    for address in (*settings.listen, *settings.http_listen):
        try:
            _check_bindable(address)
        except OSError as exc:
            raise fail(f"cannot listen on {address}: {exc.strerror or exc}", EXIT_USAGE) from None
    from runwire_server.app.server import RunwireServer  # noqa: PLC0415
    from runwire_server.app.wiring import Runwire  # noqa: PLC0415 - see the module imports

    try:
        runwire = await Runwire.create(settings)
    except RunwireError as exc:
        raise fail(exc.message, EXIT_USAGE) from None
    server = RunwireServer(runwire, settings)
    try:
        addresses = await server.start()
    except ListenConfigError as exc:  # a TLS file changed since check_listen
        await runwire.aclose()
        raise fail(str(exc), EXIT_USAGE) from None
    except RuntimeError as exc:
        await runwire.aclose()
        reason = str(exc).split(";", 1)[0]  # drop gRPC's "set GRPC_VERBOSITY=debug" hint
        raise fail(f"cannot listen: {reason}", EXIT_USAGE) from None
    return server, addresses


async def _serve(settings: Settings) -> int:
    server, addresses = await _start(settings)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    forced: set[asyncio.Task[None]] = set()
    signals = (signal.SIGINT, signal.SIGTERM)

    def on_signal(signum: signal.Signals) -> None:
        if stop.is_set():
            logger.warning("%s again: stopping without grace", signum.name)
            forced.add(loop.create_task(server.stop(0)))
            return
        logger.info("%s received: stopping", signum.name)
        stop.set()

    for signum in signals:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        scheme = "https" if settings.tls_cert_file else "http"
        http = [f"{scheme}://{address}" for address in server.http_addresses]
        out.print(Text(f"serving on {', '.join([*addresses, *http])}"), soft_wrap=True)
        out.file.flush()
        await stop.wait()
        await server.stop()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
    return EXIT_OK


@app.command()
def serve(
    listen: Annotated[
        list[str] | None,
        typer.Option(
            "--listen",
            "-l",
            metavar="ADDRESS",
            help=f"host:port or unix:PATH; repeatable. Default: {DEFAULT_LISTEN} "
            "(or RUNWIRE_LISTEN / the config file).",
        ),
    ] = None,
    http_listen: Annotated[
        list[str] | None,
        typer.Option(
            "--http-listen",
            metavar="ADDRESS",
            help="host:port to also serve over HTTP (Connect, gRPC-Web, gRPC, AG-UI, "
            "/healthz, /readyz; docs/http.md); repeatable. Default: none "
            "(or RUNWIRE_HTTP_LISTEN / the config file).",
        ),
    ] = None,
    config: Annotated[
        pathlib.Path | None,
        typer.Option("--config", "-c", metavar="FILE", help="TOML config file."),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option("--log-level", metavar="LEVEL", help="DEBUG, INFO, WARNING or ERROR."),
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Allow listening on addresses other than loopback and unix: sockets "
            "without authentication (or RUNWIRE_INSECURE=true). Refused otherwise.",
        ),
    ] = False,
) -> None:
    """Serve the Runwire gRPC API until SIGINT or SIGTERM.

    Without authentication configured (the auth tables of the config file,
    docs/security.md), only loopback addresses and unix: sockets are served,
    unless --insecure.
    """
    try:
        settings = load_settings(
            config,
            listen=listen or None,
            http_listen=http_listen or None,
            log_level=log_level,
            insecure=insecure or None,
        )
    except pydantic.ValidationError as exc:
        raise fail(_settings_error(exc), EXIT_USAGE) from None
    except FileNotFoundError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    except (OSError, ValueError) as exc:  # unreadable file, TOML syntax error
        path = config or os.environ.get("RUNWIRE_CONFIG_FILE", "")
        raise fail(f"cannot read config file {path}: {exc}", EXIT_USAGE) from None
    try:
        configure_logging(settings.log_level, settings.log_format)
    except ValueError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    from runwire_server.service.core.telemetry import configure_telemetry  # noqa: PLC0415 - see the module imports

    configure_telemetry(service_name="runwire")
    raise typer.Exit(asyncio.run(_serve(settings)))


# --------------------------------------------------------------------------- connection

# The commands that call a server (``run``, ``health``) take the connection options
# every Runwire command shares (``runwire.cli.options``).


# --------------------------------------------------------------------------- health


async def _health(address: str, service: str, wait_seconds: float, credentials: Credentials) -> str:
    async with open_channel(address, credentials) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service=service)
        response = await stub.Check(request, timeout=wait_seconds)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


@app.command()
def health(
    *,
    address: AddressOption = None,
    service: Annotated[
        str, typer.Option("--service", help='Service to check; "" is the whole server.')
    ] = "",
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait.")] = 3.0,
    token: TokenOption = None,
    ca_file: CaFileOption = None,
    client_cert: ClientCertOption = None,
    client_key: ClientKeyOption = None,
    tls_server_name: ServerNameOption = None,
) -> None:
    """Check a server's grpc.health.v1 status: exit 0 when SERVING, 1 otherwise.

    For container health checks and operators; prints the status.
    """
    credentials = credentials_from_options(token, ca_file, client_cert, client_key, tls_server_name)
    try:
        status = asyncio.run(_health(resolve_address(address), service, timeout, credentials))
    except grpc.aio.AioRpcError as exc:
        out.print(f"{exc.code().name}: {exc.details()}")
        raise typer.Exit(EXIT_FAILED) from None
    out.print(status)
    raise typer.Exit(EXIT_OK if status == "SERVING" else EXIT_FAILED)


# --------------------------------------------------------------------------- worker


@app.command()
def worker(
    config: Annotated[
        pathlib.Path | None,
        typer.Option("--config", "-c", metavar="FILE", help="TOML config file."),
    ] = None,
    task_queue: Annotated[
        str | None,
        typer.Option("--task-queue", "-q", help="Default: RUNWIRE_TEMPORAL_TASK_QUEUE (runwire)."),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option("--log-level", metavar="LEVEL", help="DEBUG, INFO, WARNING or ERROR."),
    ] = None,
) -> None:
    """Run a Temporal worker for runwire.AgentRun until SIGINT or SIGTERM.

    Needs RUNWIRE_TEMPORAL_ADDRESS and RUNWIRE_REDIS_URL.
    """
    from runwire_server.app.worker_process import run_worker  # noqa: PLC0415 - the worker package loads on demand

    try:
        settings = load_settings(config, temporal_task_queue=task_queue, log_level=log_level)
    except pydantic.ValidationError as exc:
        raise fail(_settings_error(exc), EXIT_USAGE) from None
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read config: {exc}", EXIT_USAGE) from None
    configure_logging(settings.log_level, settings.log_format)
    from runwire_server.service.core.telemetry import configure_telemetry  # noqa: PLC0415 - see the module imports

    configure_telemetry(service_name="runwire-worker")
    try:
        asyncio.run(run_worker(settings))
    except RunwireError as exc:
        raise fail(exc.message, EXIT_USAGE) from None
    raise typer.Exit(EXIT_OK)


# --------------------------------------------------------------------------- run


def _print_outcome(renderer: Renderer, outcome: RunOutcome, extra: str = "") -> None:
    if outcome.error:
        renderer.line(f"error: {outcome.error}", style="red")
    summary = renderer.summary(outcome)
    if extra:
        summary.append(extra)
    renderer.line(summary)


def _show(renderer: Renderer, event: event_pb2.RunEvent, run_ids: list[str]) -> None:
    if not run_ids:
        run_ids.append(event.run_id)
    renderer.render(event)


async def _stream(
    client: AsyncClient,
    request: run_service_pb2.StreamRunRequest,
    *,
    decide: Decide,
    renderer: Renderer,
    on_event: Callable[[event_pb2.RunEvent], None],
) -> RunOutcome:
    """Streams a run to its end with the Python client (approvals by ``decide``,
    resumed by itself after a broken stream, each resume a notice).

    Raises:
        runwire.RunwireError: the run could not be started or followed.
    """

    async def on_approval(requested: event_pb2.ApprovalRequested) -> Decision:
        return Decision(True) if await decide(requested) else Decision.rejected(REJECT_REASON)

    def on_resume(resume: Resume) -> None:
        renderer.notice(
            f"stream interrupted ({error_line(resume.error, client.address)}); resuming after "
            f"event {resume.after_sequence} (attempt {resume.attempt}/{resume.max_attempts})"
        )

    stream = client.runs.stream(
        request.agent_id,
        request.prompt,
        thread_id=request.thread_id,
        on_approval=on_approval,
        on_resume=on_resume,
    )
    events = 0
    async for event in stream:
        events += 1
        on_event(event)
    outcome = run_outcome(stream.terminal_event, events) if stream.terminal_event else None
    assert outcome is not None, "a run's stream ends after its terminal event"
    return outcome


async def _run(
    address: str,
    request: run_service_pb2.StreamRunRequest,
    *,
    yes: bool,
    renderer: Renderer,
    run_ids: list[str],
    credentials: Credentials,
) -> int:
    async with AsyncClient(address, credentials=credentials, retry=RUN_RETRY) as client:
        try:
            outcome = await _stream(
                client,
                request,
                decide=terminal_decider(renderer, yes=yes),
                renderer=renderer,
                on_event=lambda event: _show(renderer, event, run_ids),
            )
        except ClientError as exc:
            renderer.line_break()
            raise fail(error_line(exc, address), EXIT_FAILED) from None
    _print_outcome(renderer, outcome, f" · run {outcome.run_id}")
    return EXIT_OK if outcome.succeeded else EXIT_FAILED


@app.command()
def run(
    agent_id: Annotated[str, typer.Argument(metavar="AGENT_ID", help="The agent to run.")],
    prompt: Annotated[str, typer.Argument(metavar="PROMPT", help="The user message.")],
    *,
    address: AddressOption = None,
    thread: Annotated[
        str | None,
        typer.Option("--thread", "-t", metavar="THREAD_ID", help="Thread to continue."),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Approve every tool call without asking.")
    ] = False,
    token: TokenOption = None,
    ca_file: CaFileOption = None,
    client_cert: ClientCertOption = None,
    client_key: ClientKeyOption = None,
    tls_server_name: ServerNameOption = None,
) -> None:
    """Run an agent on a prompt and stream its answer; exit 0 if the run SUCCEEDED."""
    credentials = credentials_from_options(token, ca_file, client_cert, client_key, tls_server_name)
    request = run_service_pb2.StreamRunRequest(
        agent_id=agent_id, prompt=prompt, thread_id=thread or ""
    )
    run_ids: list[str] = []
    renderer = Renderer(out)
    try:
        code = asyncio.run(
            _run(
                resolve_address(address),
                request,
                yes=yes,
                renderer=renderer,
                run_ids=run_ids,
                credentials=credentials,
            )
        )
    except KeyboardInterrupt:
        renderer.line_break()
        goes_on = f"; run {run_ids[0]} goes on on the server" if run_ids else ""
        raise fail(f"interrupted{goes_on}", EXIT_INTERRUPTED) from None
    raise typer.Exit(code)


# --------------------------------------------------------------------------- demo

DEMO_PROMPT = "What is 6 × 7?"  # noqa: RUF001 - the multiplication sign is meant
DEMO_SCRIPT: list[dict[str, Any]] = [
    {
        "text": "Let me work that out.",
        "tool_calls": [{"name": "calculator", "arguments": {"expression": "6 * 7"}}],
    },
    {"text": "6 × 7 = 42. The answer is 42."},  # noqa: RUF001
]


LOCAL_DEMO_PROMPT = "What is the weather in Paris?"
#: The tool module of ``demo --local-model`` (``get_weather``), loaded by its embedded server.
LOCAL_DEMO_TOOL_MODULE = "devtools.local_model.weather"
LOCAL_DEMO_INSTRUCTIONS = (
    "You are a weather assistant. Always call get_weather for weather questions. "
    "After the tool result, answer in one short sentence."
)


#: The model endpoint ``demo --local-model`` configures for the local model.
LOCAL_ENDPOINT = "local"


def local_demo_agent(model_name: str) -> agent_pb2.Agent:
    """The ``demo --local-model`` agent: the local model (``model_name`` at the
    ``LOCAL_ENDPOINT`` model endpoint) on the ``openai`` provider, the demo tool
    ``get_weather``, every call approved by hand.

    One tool round (``max_iterations: 1``): the final answer is asked without tools,
    since llama.cpp's ``chatml-function-calling`` cannot answer in text while tools are
    offered. ``stream_tools: false`` asks the tool round in one response (the server
    cannot stream tool calls; the provider would otherwise find out on the first call).
    """
    options = struct_pb2.Struct()
    options.update(
        {"endpoint": LOCAL_ENDPOINT, "temperature": 0, "max_tokens": 256, "stream_tools": False}
    )
    return agent_pb2.Agent(
        display_name="Runwire demo (local model)",
        instructions=LOCAL_DEMO_INSTRUCTIONS,
        model=agent_pb2.Model(provider="openai", name=model_name, options=options),
        tools=["get_weather"],
        approval_policy=agent_pb2.ApprovalPolicy(mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL),
        limits=agent_pb2.Limits(max_iterations=1),
        runtime=agent_pb2.RUNTIME_IN_PROCESS,
    )


def demo_agent() -> agent_pb2.Agent:
    """The demo agent: scripted model, the calculator tool, every call approved by hand."""
    options = struct_pb2.Struct()
    options.update({"script": DEMO_SCRIPT, "chunk_chars": 3, "delay_ms": 15})
    return agent_pb2.Agent(
        display_name="Runwire demo",
        instructions="Answer arithmetic questions with the calculator tool.",
        model=agent_pb2.Model(provider="scripted", options=options),
        tools=["calculator"],
        approval_policy=agent_pb2.ApprovalPolicy(mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL),
        runtime=agent_pb2.RUNTIME_IN_PROCESS,  # whatever RUNWIRE_DEFAULT_RUNTIME says
    )


async def _demo(listen: str, *, local_model: bool = False) -> int:
    if not local_model:
        return await _demo_on(listen, demo_agent(), DEMO_PROMPT, "scripted model, tool calculator")
    tooling = _local_model()
    model_name: str = tooling.MODEL_NAME
    model_server = tooling.LocalModelServer()
    out.print(Text(f"starting the local model ({model_name} on llama.cpp)…", style="dim"))
    try:
        base_url = await asyncio.to_thread(model_server.start)
    except tooling.LocalModelError as exc:
        raise fail(str(exc), EXIT_FAILED) from None
    try:
        return await _demo_on(
            listen,
            local_demo_agent(model_name),
            LOCAL_DEMO_PROMPT,
            f"{model_name} on llama.cpp at {base_url}, tool get_weather",
            tool_modules=[LOCAL_DEMO_TOOL_MODULE],
            model_endpoints=[{"name": LOCAL_ENDPOINT, "provider": "openai", "base_url": base_url}],
        )
    finally:
        await asyncio.to_thread(model_server.stop)


async def _demo_on(
    listen: str,
    agent: agent_pb2.Agent,
    prompt: str,
    description: str,
    *,
    tool_modules: list[str] | None = None,
    model_endpoints: list[dict[str, Any]] | None = None,
) -> int:
    extra: dict[str, Any] = {"tool_modules": tool_modules} if tool_modules else {}
    if model_endpoints:
        extra["model_endpoints"] = model_endpoints
    try:
        settings = Settings(listen=[listen], shutdown_grace_seconds=1.0, **extra)
    except pydantic.ValidationError as exc:
        raise fail(_settings_error(exc), EXIT_USAGE) from None
    server, addresses = await _start(settings)
    # The embedded server is plaintext on loopback: the client settings of the
    # environment (RUNWIRE_CA_FILE, RUNWIRE_TOKEN ...) are for other servers.
    client = AsyncClient(addresses[0], credentials=Credentials())
    renderer = Renderer(out)
    try:
        agent_id = f"demo-{secrets.token_hex(3)}"
        await client.agents.create(agent_id, agent)
        renderer.line(
            Text.assemble(("Runwire demo", "bold"), f" · embedded server on {addresses[0]}")
        )
        renderer.line(
            f"agent {agent_id}: {description}, every tool call needs approval", style="dim"
        )
        renderer.line(Text.assemble(("you: ", "bold"), prompt))

        async def approve(requested: event_pb2.ApprovalRequested) -> bool:
            label = renderer.tool_label(
                requested.tool_call_id, requested.tool_name, requested.arguments
            )
            renderer.line(f"approval requested for {label} → approving (demo)", style="yellow")
            return True

        started = time.monotonic()
        outcome = await _stream(
            client,
            run_service_pb2.StreamRunRequest(agent_id=agent_id, prompt=prompt),
            decide=approve,
            renderer=renderer,
            on_event=renderer.render,
        )
        elapsed = time.monotonic() - started
    except ClientError as exc:
        raise fail(error_line(exc, addresses[0]), EXIT_FAILED) from None
    finally:
        await client.close()
        await server.stop()
    out.print()
    if outcome.output:
        renderer.line(Text.assemble(("answer: ", "bold"), outcome.output))
    _print_outcome(
        renderer,
        outcome,
        f" · {outcome.events} events · run {outcome.run_id} · {elapsed:.2f} s",
    )
    return EXIT_OK if outcome.succeeded else EXIT_FAILED


@app.command()
def demo(
    listen: Annotated[
        str,
        typer.Option("--listen", "-l", metavar="ADDRESS", help="Address of the embedded server."),
    ] = "127.0.0.1:0",
    local_model: Annotated[
        bool,
        typer.Option(
            "--local-model",
            help="Run on a real model: SmolLM2-135M on a local llama.cpp server, asked "
            "about the weather (tool get_weather). Needs scripts/install_local_model.sh.",
        ),
    ] = False,
) -> None:
    """Start an embedded server and stream a scripted run with one approved tool call."""
    configure_logging("WARNING", "text")
    try:
        code = asyncio.run(_demo(listen, local_model=local_model))
    except KeyboardInterrupt:
        out.print()
        raise fail("interrupted", EXIT_INTERRUPTED) from None
    raise typer.Exit(code)


# --------------------------------------------------------------------------- local-model

#: Why ``local-model`` and ``demo --local-model`` cannot run without ``devtools``.
NO_DEVTOOLS = (
    "the local model tooling (devtools.local_model) is not installed: it is dev tooling, "
    "not part of the runwire wheel; from a source checkout run scripts/install_local_model.sh"
)


def _local_model() -> ModuleType:
    """``devtools.local_model``, imported on demand.

    ``devtools`` is a dev-only distribution (``runwire-devtools``), outside the
    server's wheel: this is the one place the server's code imports it, and
    tests/deploy/test_manifests.py lists it as the one package the image's
    wheels leave out on purpose.

    Raises:
        typer.Exit: (code 1, after printing ``NO_DEVTOOLS``) it is not installed.
    """
    try:
        from devtools import local_model  # noqa: PLC0415 - dev-only, loaded on demand
    except ModuleNotFoundError as exc:
        if exc.name not in ("devtools", "devtools.local_model"):
            raise
        raise fail(NO_DEVTOOLS, EXIT_FAILED) from None
    return local_model


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@app.command("local-model")
def local_model_command(
    port: Annotated[
        int, typer.Option("--port", "-p", min=0, max=65535, help="TCP port; 0 picks a free one.")
    ] = 0,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
) -> None:
    """Serve a small real model (SmolLM2-135M, llama.cpp) with an OpenAI-compatible API.

    Prints the base URL (for a [[model_endpoints]] entry of the openai provider)
    and runs until SIGINT or SIGTERM. Needs scripts/install_local_model.sh.
    """
    tooling = _local_model()
    model_name: str = tooling.MODEL_NAME
    model_server = tooling.LocalModelServer(host=host, port=port)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        err.print(Text(f"starting {model_name} on llama.cpp…", style="dim"))
        try:
            base_url = model_server.start()
        except tooling.LocalModelError as exc:
            raise fail(str(exc), EXIT_FAILED) from None
        out.print(Text(base_url), soft_wrap=True)
        out.file.flush()
        err.print(
            Text(
                f'model "{model_name}" · server config: [[model_endpoints]] name = "local", '
                f'provider = "openai", base_url = "{base_url}" · agent model: '
                f'{{"provider": "openai", "name": "{model_name}", "options": '
                f'{{"endpoint": "local"}}}} · server log {model_server.log_path} · Ctrl-C stops it',
                style="dim",
            ),
            soft_wrap=True,
        )
        code = model_server.wait()
        raise fail(f"the llama.cpp server exited with code {code}", EXIT_FAILED)
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_OK) from None
    finally:
        model_server.stop()
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> None:
    """The ``runwire`` console entry point; exits the process with the command's code.

    Args:
        argv: Arguments after the program name; default ``sys.argv[1:]``.
    """
    app(args=argv, prog_name="runwire")
