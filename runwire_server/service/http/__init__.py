"""Runwire over HTTP: the Connect protocol (with gRPC and gRPC-Web), the AG-UI
endpoint, health, on one ASGI application (``asgi.http_app``).

Every call goes through ``calls.Calls``: the same servicers, admission, request
checks and error mapping as the gRPC server."""

__all__ = ["agui", "agui_translate", "asgi", "calls", "connect"]
