"""Who calls, and what they may do: principals, tenants, roles, authentication.

``config`` holds the ``[auth]`` settings, ``authenticate`` turns credentials
into a ``principal.Principal``, ``permissions`` maps RPCs to permissions and
roles to permissions. The gRPC interceptor that applies them to every call is
``runwire_server.service.api.interceptor``.
"""

__all__ = ["authenticate", "config", "permissions", "principal"]
