"""The AG-UI endpoint (being written: see issue 18)."""

from __future__ import annotations

from runwire_server.service.http.asgi import ASGIApp, Receive, Scope, Send, json_response
from runwire_server.service.http.calls import Calls


def agui_application(calls: Calls, *, prefix: str, max_request_bytes: int) -> ASGIApp:
    """``POST {prefix}/{agent_id}``: AG-UI's RunAgentInput in, AG-UI events out over SSE."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await json_response(send, 501, {"code": "unimplemented", "message": "not yet"})

    return app
