"""How the client reaches a server: TLS (a CA to trust, a client certificate for
mutual TLS) and a bearer token sent on every call.

Every argument left out (``None``) comes from the environment, the same
variables in every Runwire client:

==========================  ==============================================
``RUNWIRE_TOKEN``           bearer token (``authorization: Bearer <token>``)
``RUNWIRE_CA_FILE``         PEM CA bundle to trust; setting it turns TLS on
``RUNWIRE_CLIENT_CERT_FILE`` PEM client certificate (mutual TLS), with
``RUNWIRE_CLIENT_KEY_FILE``  its PEM private key
``RUNWIRE_TLS_SERVER_NAME`` name checked in the server's certificate instead
                            of the address's host
==========================  ==============================================

Without a CA file, a client certificate or ``tls=True`` the channel is
plaintext (the default, for a server on loopback or a Unix socket); a token
is then sent in clear, so use one without TLS only on loopback or a socket.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

__all__ = [
    "ENV_CA_FILE",
    "ENV_CLIENT_CERT_FILE",
    "ENV_CLIENT_KEY_FILE",
    "ENV_TLS_SERVER_NAME",
    "ENV_TOKEN",
    "Credentials",
    "open_channel",
]

ENV_TOKEN = "RUNWIRE_TOKEN"
ENV_CA_FILE = "RUNWIRE_CA_FILE"
ENV_CLIENT_CERT_FILE = "RUNWIRE_CLIENT_CERT_FILE"
ENV_CLIENT_KEY_FILE = "RUNWIRE_CLIENT_KEY_FILE"
ENV_TLS_SERVER_NAME = "RUNWIRE_TLS_SERVER_NAME"

#: The metadata key the token travels in.
AUTHORIZATION = "authorization"

PathLike = str | os.PathLike[str]


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """What the client trusts and proves: TLS settings and a bearer token.

    Build it with ``Credentials.resolve(...)`` (arguments over environment
    variables) or directly (no environment).

    Attributes:
        token: Bearer token sent as ``authorization: Bearer <token>`` on every
            call; "" sends none.
        ca_file: PEM CA bundle the server's certificate must chain to; None
            trusts the system roots (when TLS is on).
        client_cert_file: PEM client certificate chain, for mutual TLS.
        client_key_file: PEM private key of ``client_cert_file``.
        server_name: Name the server's certificate must carry instead of the
            address's host; "" checks the host.
        tls: Whether the channel uses TLS.
    """

    token: str = ""
    ca_file: pathlib.Path | None = None
    client_cert_file: pathlib.Path | None = None
    client_key_file: pathlib.Path | None = None
    server_name: str = ""
    tls: bool = False

    def __post_init__(self) -> None:
        if (self.client_cert_file is None) != (self.client_key_file is None):
            raise ValueError("a client certificate needs both its certificate and its key file")
        if self.client_cert_file is not None and not self.tls:
            raise ValueError("a client certificate needs TLS")

    @classmethod
    def resolve(
        cls,
        *,
        token: str | None = None,
        ca_file: PathLike | None = None,
        client_cert_file: PathLike | None = None,
        client_key_file: PathLike | None = None,
        server_name: str | None = None,
        tls: bool | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Credentials:
        """The credentials from the arguments, each ``None`` taken from the environment.

        Args:
            token: Bearer token; None reads ``RUNWIRE_TOKEN``; "" sends none.
            ca_file: PEM CA bundle; None reads ``RUNWIRE_CA_FILE``; "" means none.
            client_cert_file: None reads ``RUNWIRE_CLIENT_CERT_FILE``.
            client_key_file: None reads ``RUNWIRE_CLIENT_KEY_FILE``.
            server_name: None reads ``RUNWIRE_TLS_SERVER_NAME``.
            tls: None turns TLS on when a CA file or a client certificate is
                set; True uses TLS with the system roots when there is no CA file.
            environ: The environment to read (default ``os.environ``).

        Raises:
            ValueError: a certificate without its key (or the reverse), or a
                client certificate with ``tls=False``.
        """
        env = os.environ if environ is None else environ

        def pick(value: str | os.PathLike[str] | None, name: str) -> str:
            return os.fspath(value) if value is not None else env.get(name, "")

        ca = pick(ca_file, ENV_CA_FILE)
        cert = pick(client_cert_file, ENV_CLIENT_CERT_FILE)
        key = pick(client_key_file, ENV_CLIENT_KEY_FILE)
        return cls(
            token=pick(token, ENV_TOKEN).strip(),
            ca_file=pathlib.Path(ca) if ca else None,
            client_cert_file=pathlib.Path(cert) if cert else None,
            client_key_file=pathlib.Path(key) if key else None,
            server_name=pick(server_name, ENV_TLS_SERVER_NAME),
            tls=tls if tls is not None else bool(ca or cert),
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """The TLS channel credentials (the files are read now).

        Raises:
            ValueError: TLS is off.
            OSError: a file cannot be read.
        """
        if not self.tls:
            raise ValueError("plaintext credentials have no channel credentials")

        def read(path: pathlib.Path | None) -> bytes | None:
            return path.read_bytes() if path is not None else None

        return grpc.ssl_channel_credentials(
            root_certificates=read(self.ca_file),
            private_key=read(self.client_key_file),
            certificate_chain=read(self.client_cert_file),
        )

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The metadata every call carries: the ``authorization`` header, if any."""
        return ((AUTHORIZATION, f"Bearer {self.token}"),) if self.token else ()


class _BearerToken:
    """Adds ``authorization: Bearer <token>`` to a call's metadata (a header
    the call sets itself wins)."""

    def __init__(self, token: str) -> None:
        self._header = (AUTHORIZATION, f"Bearer {token}")

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        if AUTHORIZATION not in metadata:
            metadata.add(*self._header)
        return grpc.aio.ClientCallDetails(
            method=details.method,
            timeout=details.timeout,
            metadata=metadata,
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
        )


# grpc.aio files each interceptor under one kind of call only (the first base it
# matches), so there is one class per kind. grpc has no type stubs: its bases are Any.


class _UnaryUnaryToken(_BearerToken, grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        return await continuation(self._details(client_call_details), request)


class _UnaryStreamToken(_BearerToken, grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        return await continuation(self._details(client_call_details), request)


class _StreamUnaryToken(_BearerToken, grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(self._details(client_call_details), request_iterator)


class _StreamStreamToken(_BearerToken, grpc.aio.StreamStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_stream(
        self, continuation: Callable[..., Any], client_call_details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(self._details(client_call_details), request_iterator)


def _token_interceptors(token: str) -> list[_BearerToken] | None:
    """Interceptors sending ``token`` on every kind of call; None without a token."""
    if not token:
        return None
    kinds = (_UnaryUnaryToken, _UnaryStreamToken, _StreamUnaryToken, _StreamStreamToken)
    return [kind(token) for kind in kinds]


def open_channel(
    address: str,
    credentials: Credentials | None = None,
    *,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.aio.Channel:
    """Opens a ``grpc.aio`` channel to ``address`` with ``credentials``.

    Args:
        address: ``host:port``, ``unix:PATH`` or any gRPC target.
        credentials: TLS and token; None is ``Credentials.resolve()`` (the environment).
        options: gRPC channel arguments (``("grpc.max_receive_message_length", N)``).

    Returns:
        The channel (TLS when ``credentials.tls``); it connects on the first call.

    Raises:
        OSError: a certificate or key file cannot be read.
    """
    creds = Credentials.resolve() if credentials is None else credentials
    channel_options = list(options)
    interceptors = _token_interceptors(creds.token)
    if creds.tls:
        if creds.server_name:
            channel_options.append(("grpc.ssl_target_name_override", creds.server_name))
        return grpc.aio.secure_channel(
            address,
            creds.channel_credentials(),
            options=channel_options,
            interceptors=interceptors,
        )
    return grpc.aio.insecure_channel(address, options=channel_options, interceptors=interceptors)
