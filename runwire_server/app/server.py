"""The gRPC server: Runwire's four services, health and reflection.

``RunwireServer`` binds every ``listen`` address (``host:port`` or
``unix:PATH``), serves ``runwire.v1`` plus ``grpc.health.v1.Health`` (Check,
Watch and List, ``runwire_server.app.health``) and server reflection
(``grpc.reflection.v1alpha`` and ``grpc.reflection.v1``), and stops
gracefully: health turns NOT_SERVING, open calls get
``shutdown_grace_seconds`` to end, in-process runs are stopped.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2
from runwire.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    approval_pb2,
    approval_pb2_grpc,
    run_service_pb2,
    run_service_pb2_grpc,
    thread_pb2,
    thread_pb2_grpc,
    tool_pb2,
    tool_pb2_grpc,
)

from runwire_server.app.config import Settings
from runwire_server.app.health import HealthServicer
from runwire_server.app.http_server import HttpListener
from runwire_server.app.tls import bind_listeners
from runwire_server.app.wiring import Runwire
from runwire_server.service.api.admission import Admission
from runwire_server.service.api.approvals import ApprovalServicer
from runwire_server.service.api.interceptor import AuthInterceptor, wire_checks
from runwire_server.service.api.runs import RunServicer
from runwire_server.service.api.threads import ThreadServicer
from runwire_server.service.api.tools import ToolServicer
from runwire_server.service.auth.authenticate import Authenticator
from runwire_server.service.core.telemetry import instrument_grpc_server, tracing_configured
from runwire_server.service.http.agui import agui_application
from runwire_server.service.http.asgi import http_app
from runwire_server.service.http.calls import Calls
from runwire_server.service.http.connect import connect_applications
from runwire_server.service.tools.mcp import pool_of

logger = logging.getLogger(__name__)

SERVICE_NAMES = (
    agent_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name,
    run_service_pb2.DESCRIPTOR.services_by_name["RunService"].full_name,
    approval_pb2.DESCRIPTOR.services_by_name["ApprovalService"].full_name,
    thread_pb2.DESCRIPTOR.services_by_name["ThreadService"].full_name,
    tool_pb2.DESCRIPTOR.services_by_name["ToolService"].full_name,
)
_REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"
#: The services whose requests may not hold a Struct over ``max_struct_bytes``
#: (AgentService's requests are bounded as a whole by ``max_agent_bytes``).
STRUCT_LIMITED_SERVICES = (
    run_service_pb2.DESCRIPTOR.services_by_name["RunService"],
    approval_pb2.DESCRIPTOR.services_by_name["ApprovalService"],
)
#: The services whose requests' repeated fields and maps are counted before they are
#: parsed (each item costs an object; AgentService's requests are bounded by bytes).
COUNTED_SERVICES = (
    *STRUCT_LIMITED_SERVICES,
    thread_pb2.DESCRIPTOR.services_by_name["ThreadService"],
)
#: Modules a server may import on demand later (the provider SDKs, on a first model
#: call), imported at start instead, before ``gc.freeze()``: imported after it, their
#: objects (some 170,000) would be traversed by every full garbage collection.
WARM_MODULES = ("runwire_server.service.llm.openai", "runwire_server.service.llm.anthropic")
#: The shortest interval between client keepalive pings the server accepts.
_MIN_CLIENT_PING_INTERVAL_MS = 10_000


#: Slack over ``max_agent_bytes`` for the rest of an agent request (ids, mask, framing).
_AGENT_REQUEST_SLACK_BYTES = 4096


def request_limits(settings: Settings) -> dict[str, tuple[str, int]]:
    """Requests refused unparsed past a size: agent definitions (``max_agent_bytes``)."""
    if not settings.max_agent_bytes:
        return {}
    size = settings.max_agent_bytes + _AGENT_REQUEST_SLACK_BYTES
    return {
        "/runwire.v1.AgentService/CreateAgent": ("max_agent_bytes", size),
        "/runwire.v1.AgentService/UpdateAgent": ("max_agent_bytes", size),
    }


def _service(module: Any, name: str) -> ServiceDescriptor:
    service: ServiceDescriptor = module.DESCRIPTOR.services_by_name[name]
    return service


def _import_warm_modules() -> None:
    """Imports ``WARM_MODULES`` (once per process; later calls find them loaded)."""
    for name in WARM_MODULES:
        importlib.import_module(name)


class RunwireServer:
    """A grpc.aio server around a ``Runwire`` app. Use ``start``/``stop``."""

    def __init__(self, app: Runwire, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        limit = settings.max_message_bytes
        if tracing_configured():
            instrument_grpc_server()
        authenticator = Authenticator(settings.auth) if settings.auth.enabled else None
        limits = request_limits(settings)
        checks = wire_checks(
            app.router.quotas, counted=COUNTED_SERVICES, struct_limited=STRUCT_LIMITED_SERVICES
        )
        interceptor = AuthInterceptor(authenticator, request_limits=limits, wire_checks=checks)
        self._server = grpc.aio.server(
            interceptors=[interceptor],
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                # RPCs one connection may have open at once (HTTP/2
                # SETTINGS_MAX_CONCURRENT_STREAMS); more wait for a free slot.
                ("grpc.max_concurrent_streams", settings.max_concurrent_streams),
                ("grpc.keepalive_time_ms", int(settings.keepalive_time_seconds * 1000)),
                ("grpc.keepalive_timeout_ms", int(settings.keepalive_timeout_seconds * 1000)),
                # Accept client keepalive pings this often, also on idle connections
                # (long event streams sit idle between heartbeats).
                ("grpc.http2.min_ping_interval_without_data_ms", _MIN_CLIENT_PING_INTERVAL_MS),
                ("grpc.keepalive_permit_without_calls", 1),
                # A second server on a taken port must fail, not share it.
                ("grpc.so_reuseport", 0),
            ],
        )
        self.health = HealthServicer()
        self.addresses: list[str] = []
        self.http_addresses: list[str] = []
        self.runs = RunServicer(
            router=app.router,
            quotas=app.router.quotas,
            events=app.router.events,
            heartbeat_interval=settings.heartbeat_interval_seconds,
        )
        approvals = ApprovalServicer(router=app.router)
        threads = ThreadServicer(threads=app.router.threads, quotas=app.router.quotas)
        tools = ToolServicer(tools=app.tools)
        agent_pb2_grpc.add_AgentServiceServicer_to_server(app.agent_servicer, self._server)
        run_service_pb2_grpc.add_RunServiceServicer_to_server(self.runs, self._server)
        approval_pb2_grpc.add_ApprovalServiceServicer_to_server(approvals, self._server)
        thread_pb2_grpc.add_ThreadServiceServicer_to_server(threads, self._server)
        tool_pb2_grpc.add_ToolServiceServicer_to_server(tools, self._server)
        # The HTTP listener calls the same servicers, admitted and checked the same way.
        self.calls = Calls(
            {
                _service(agent_pb2, "AgentService"): app.agent_servicer,
                _service(run_service_pb2, "RunService"): self.runs,
                _service(approval_pb2, "ApprovalService"): approvals,
                _service(thread_pb2, "ThreadService"): threads,
                _service(tool_pb2, "ToolService"): tools,
            },
            Admission(authenticator),
            request_limits=limits,
            wire_checks=checks,
        )
        self._http: HttpListener | None = None
        if settings.http_listen:
            self._http = HttpListener(
                http_app(
                    connect_applications(self.calls, read_max_bytes=limit),
                    readiness=self.health.readiness,
                    agui=agui_application(
                        self.calls,
                        prefix=settings.agui_path,
                        max_request_bytes=settings.http_max_request_bytes,
                    ),
                    agui_path=settings.agui_path,
                    cors_origins=settings.http_cors_allowed_origins,
                ),
                settings,
            )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        if settings.reflection:
            self._add_reflection()

    def _add_reflection(self) -> None:
        """Serves grpc.reflection.v1alpha and grpc.reflection.v1."""
        names = (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME, _REFLECTION_V1)
        servicer = reflection.aio.ReflectionServicer(names)
        reflection.enable_server_reflection(names, self._server)
        # grpcio-reflection serves only v1alpha; v1 has the same messages on
        # the wire (the v1 proto is a copy under a new package), so the same
        # servicer answers grpc.reflection.v1 as well (grpcurl asks v1 first).
        self._server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    _REFLECTION_V1,
                    {
                        "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                            servicer.ServerReflectionInfo,
                            request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
                        )
                    },
                ),
            )
        )

    async def start(self) -> list[str]:
        """Binds the listen addresses and starts serving; returns the bound
        addresses (``host:port`` with the real port, or ``unix:PATH``).

        With ``http_listen``, the HTTP listener (``http_addresses``, the real
        ports) is started too. gRPC listeners are bound by
        ``runwire_server.app.tls.bind_listeners``: TLS on ``host:port`` when
        configured, Unix sockets plaintext with ``unix_socket_mode``. Before
        serving, ``WARM_MODULES`` are imported (once per process: the first start
        pays for them); once serving, everything loaded so far is frozen out of
        the garbage collector's full passes (``gc.freeze``).

        Raises:
            runwire_server.app.tls.ListenConfigError: before anything is bound, when the
                settings are refused (a non-loopback address without auth or
                ``insecure``; a bad TLS configuration or file).
            RuntimeError: an address cannot be bound (in use, bad path).
        """
        self.addresses = bind_listeners(self._server, self.settings)
        if self._http is not None:
            self.http_addresses = await self._http.start()
        # In a thread: the event loop may be serving something else meanwhile.
        await asyncio.to_thread(_import_warm_modules)
        await self._server.start()
        await self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        for name in SERVICE_NAMES:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        pool = pool_of(self.app.tools)
        if pool is not None:
            # One health entry per MCP server ("runwire.mcp.<name>"), kept as it
            # connects and disconnects; the server's own status does not depend on them.
            for status in pool.statuses():
                await self.health.report_mcp(status)
            pool.listen(self.health.report_mcp)
        # What starting made (modules, registries, schemas) lives as long as the
        # process: take it out of the cyclic collector's full passes, whose
        # time grows with the heap and would otherwise hold the event loop.
        gc.collect()
        gc.freeze()
        logger.info("serving on %s", ", ".join(self.addresses))
        return self.addresses

    async def stop(self, grace_seconds: float | None = None) -> None:
        """Drains, then stops.

        1. Health turns NOT_SERVING and new runs are refused (UNAVAILABLE, DRAINING).
        2. In-process runs get ``drain_timeout_seconds`` to finish; their
           streams go on meanwhile.
        3. After ``grace_seconds`` (default ``shutdown_grace_seconds``) open
           streams end with UNAVAILABLE (DRAINING) and the sequence to resume
           after, so clients reconnect to another replica.
        4. Remaining calls are cancelled, remaining in-process runs are
           cancelled (they end CANCELLED), clients and pools are closed.
        """
        grace = self.settings.shutdown_grace_seconds if grace_seconds is None else grace_seconds
        drain = self.settings.drain_timeout_seconds if grace_seconds is None else grace_seconds
        await self.health.enter_graceful_shutdown()
        self.app.router.draining = True
        loop = asyncio.get_running_loop()
        start = loop.time()
        logger.info(
            "draining: %d in-process runs, %d open streams",
            self.app.inprocess.active_runs,
            self.runs.open_streams,
        )
        while True:
            elapsed = loop.time() - start
            if elapsed >= grace:
                self.runs.close_streams()
            runs_done = self.app.inprocess.active_runs == 0
            streams_done = self.runs.open_streams == 0 or self.runs.closing.is_set()
            if (runs_done and streams_done) or elapsed >= max(drain, grace):
                break
            await asyncio.sleep(0.05)
        self.runs.close_streams()
        if self._http is not None:
            await self._http.stop()
        await self._server.stop(1.0)
        await self.app.aclose()
        logger.info("stopped")

    async def wait_for_termination(self) -> None:
        """Returns when the server has stopped."""
        await self._server.wait_for_termination()
