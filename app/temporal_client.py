"""Connecting to Temporal from settings (shared by the service and the worker)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from app.config import Settings
from service.core.errors import UnavailableError


async def connect_temporal(settings: Settings) -> Client:
    """A Temporal client for ``settings.temporal_address`` with the pydantic data converter.

    Raises:
        UnavailableError: Temporal cannot be reached (reason ``RUNTIME_UNAVAILABLE``).
    """
    assert settings.temporal_address, "temporal_address is not configured"
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=pydantic_data_converter,
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
