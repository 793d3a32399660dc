"""Connecting to Temporal from settings (shared by the service and the worker)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.service import RPCError

from runwire_server.app.config import Settings
from runwire_server.service.core.errors import UnavailableError
from runwire_server.service.runtimes.payload_codec import claim_check_converter
from runwire_server.service.stores.claims import ClaimStore


async def connect_temporal(settings: Settings, *, claims: ClaimStore) -> Client:
    """A Temporal client for ``settings.temporal_address`` with the pydantic data
    converter and the claim-check codec on ``claims``.

    Args:
        settings: The Temporal address, namespace, API key and TLS.
        claims: The claim store (``Stores.claims``). The service and every
            worker of a task queue must share it: Redis when they are separate
            processes, this process's memory with the embedded worker. A worker
            built on this client (``runwire_server.worker.factory.build_worker``) inherits it.

    Raises:
        UnavailableError: Temporal cannot be reached (reason ``RUNTIME_UNAVAILABLE``).
    """
    assert settings.temporal_address, "temporal_address is not configured"
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=claim_check_converter(claims),
            # Workflow and activity spans, linked to the caller's (a no-op
            # unless a tracer provider is installed); workers inherit it.
            interceptors=[TracingInterceptor()],
            api_key=api_key,
            tls=settings.temporal_tls or api_key is not None,
        )
    except (RPCError, RuntimeError) as exc:
        raise UnavailableError(
            f"cannot connect to Temporal at {settings.temporal_address} "
            f"(namespace {settings.temporal_namespace}): {exc}",
            reason="RUNTIME_UNAVAILABLE",
        ) from exc
