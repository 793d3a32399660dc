"""``grpc.health.v1.Health`` with all three of its methods: Check, Watch and List.

grpcio-health-checking's asyncio servicer answers Check and Watch; its List is the
generated stub's, which answers UNIMPLEMENTED and makes grpcio log a traceback at
ERROR per call. ``HealthServicer`` adds List as ``grpc/health/v1/health.proto``
defines it: a snapshot of the status of every service the server registered
(``""``, the server as a whole, included), keyed by service name.
"""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2

from runwire_server.service.tools.mcp import McpServerStatus, McpState

#: The health service name of MCP server NAME: ``runwire.mcp.NAME``.
MCP_HEALTH_PREFIX = "runwire.mcp."

#: The most services List reports; with more it answers RESOURCE_EXHAUSTED, as the
#: health proto allows. Runwire registers seven, and one per MCP server.
MAX_LISTED_SERVICES = 100


class HealthServicer(health.aio.HealthServicer):  # type: ignore[misc]  # grpc_health is untyped
    """The health service: ``set`` a service's status, ``enter_graceful_shutdown``
    to turn every one NOT_SERVING; Check, Watch and List answer from them."""

    def __init__(self) -> None:
        super().__init__()
        # What List reports, kept through the public methods only (the base class
        # starts with the server itself SERVING).
        self._listed: dict[str, health_pb2.HealthCheckResponse.ServingStatus] = {
            "": health_pb2.HealthCheckResponse.SERVING
        }
        self._shutting_down = False

    async def set(self, service: str, status: health_pb2.HealthCheckResponse.ServingStatus) -> None:
        """Sets the status of ``service`` (``""``: the server); ignored once the
        server is shutting down, as the base class does."""
        if not self._shutting_down:
            self._listed[service] = status
        await super().set(service, status)

    async def report_mcp(self, status: McpServerStatus) -> None:
        """Sets ``runwire.mcp.<name>``: SERVING while the MCP server is connected,
        NOT_SERVING while it is unavailable."""
        serving = status.state is McpState.CONNECTED
        await self.set(
            MCP_HEALTH_PREFIX + status.name,
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING,
        )

    def readiness(self) -> tuple[bool, dict[str, str]]:
        """Whether the server and every service it registered are SERVING, and
        each one's status name (``""`` is the server), for HTTP ``/readyz``.
        MCP servers (``runwire.mcp.*``) are listed but do not make it unready."""
        names = {
            service: health_pb2.HealthCheckResponse.ServingStatus.Name(status)
            for service, status in self._listed.items()
        }
        ready = not self._shutting_down and all(
            status == "SERVING"
            for service, status in names.items()
            if not service.startswith(MCP_HEALTH_PREFIX)
        )
        return ready, names

    async def enter_graceful_shutdown(self) -> None:
        """Turns every service NOT_SERVING for good."""
        if not self._shutting_down:
            self._shutting_down = True
            for service in self._listed:
                self._listed[service] = health_pb2.HealthCheckResponse.NOT_SERVING
        await super().enter_graceful_shutdown()

    async def List(
        self, request: health_pb2.HealthListRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthListResponse:
        """Every registered service's status (``statuses``: name -> response).

        Errors: RESOURCE_EXHAUSTED when more than ``MAX_LISTED_SERVICES`` are registered.
        """
        if len(self._listed) > MAX_LISTED_SERVICES:
            context.set_code(grpc.StatusCode.RESOURCE_EXHAUSTED)
            context.set_details(f"more than {MAX_LISTED_SERVICES} services; use Check")
            return health_pb2.HealthListResponse()
        return health_pb2.HealthListResponse(
            statuses={
                name: health_pb2.HealthCheckResponse(status=status)
                for name, status in self._listed.items()
            }
        )


__all__ = ["MAX_LISTED_SERVICES", "MCP_HEALTH_PREFIX", "HealthServicer"]
