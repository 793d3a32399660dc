"""The HTTP listener's one ASGI application: Connect services, AG-UI, health, CORS.

Routes, by path:

- ``/runwire.v1.<Service>/<Method>``: the Connect protocol (JSON and binary),
  gRPC-Web and gRPC (``connect.connect_applications``);
- ``{agui_path}/{agent_id}``: the AG-UI endpoint, when given;
- ``GET /healthz``: 200 while the process serves (liveness);
- ``GET /readyz``: 200 while every Runwire service is SERVING, 503 otherwise
  (draining, stopping), with each service's status as JSON (readiness);
- anything else: 404 (JSON).

With ``cors_origins``, Starlette's ``CORSMiddleware`` answers preflight requests
and adds CORS headers for those origins only (the Connect, gRPC-Web and
authorization headers allowed, the gRPC status trailers exposed); without, no
CORS header is sent and browsers refuse cross-origin calls.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any

from starlette.middleware.cors import CORSMiddleware

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Headers a browser may send cross-origin: Connect's, gRPC-Web's, authorization.
CORS_ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "connect-protocol-version",
    "connect-timeout-ms",
    "connect-accept-encoding",
    "connect-content-encoding",
    "grpc-timeout",
    "x-grpc-web",
    "x-user-agent",
    "accept",
    "last-event-id",
)
#: Response headers a cross-origin page may read: the status of gRPC-Web calls.
CORS_EXPOSED_HEADERS = ("grpc-status", "grpc-message", "grpc-status-details-bin")
#: How long a browser may cache a preflight answer, in seconds.
CORS_MAX_AGE_SECONDS = 7200


async def json_response(send: Send, status: int, body: object) -> None:
    """Sends ``body`` as a JSON response with HTTP ``status``."""
    data = json.dumps(body, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def http_app(
    connect: Mapping[str, ASGIApp],
    *,
    readiness: Callable[[], tuple[bool, Mapping[str, str]]],
    agui: ASGIApp | None = None,
    agui_path: str = "/agui",
    cors_origins: Sequence[str] = (),
) -> ASGIApp:
    """The listener's application.

    Args:
        connect: Path prefix (``/runwire.v1.RunService/``) -> its Connect application.
        readiness: Whether the server is ready, and each service's status name.
        agui: The AG-UI endpoint, served under ``agui_path + "/"``; None: not served.
        agui_path: Its path prefix.
        cors_origins: Origins allowed cross-origin calls (``*``: any); empty: none.
    """
    agui_prefix = agui_path.rstrip("/") + "/"

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        prefix = path[: path.find("/", 1) + 1] if path.count("/") >= 2 else ""
        target = connect.get(prefix)
        if target is not None:
            await target(scope, receive, send)
            return
        if agui is not None and path.startswith(agui_prefix):
            await agui(scope, receive, send)
            return
        if path in ("/healthz", "/readyz") and scope["method"] in ("GET", "HEAD"):
            ready, services = readiness()
            if path == "/healthz":
                await json_response(send, 200, {"status": "SERVING"})
            else:
                body = {"status": "SERVING" if ready else "NOT_SERVING", "services": services}
                await json_response(send, 200 if ready else 503, body)
            return
        await json_response(send, 404, {"code": "not_found", "message": f"no route for {path}"})

    if not cors_origins:
        return app
    wrapped: ASGIApp = CORSMiddleware(
        app,
        allow_origins=list(cors_origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=list(CORS_ALLOWED_HEADERS),
        expose_headers=list(CORS_EXPOSED_HEADERS),
        max_age=CORS_MAX_AGE_SECONDS,
    )
    return wrapped


__all__ = ["CORS_ALLOWED_HEADERS", "CORS_EXPOSED_HEADERS", "ASGIApp", "http_app", "json_response"]
