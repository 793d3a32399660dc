"""Transport security of a real server on loopback: TLS, mutual TLS, certificate
rotation without a restart, Unix socket modes, reflection turned off, and the
TLS settings refused before anything is bound.

Certificates come from ``tests.certs`` (a throwaway CA per test). Clients are
plain grpc.aio channels; a rotation is observed both through trust (a client
that trusts only the new CA) and through the certificate the server presents
(read with the ``ssl`` module).
"""

from __future__ import annotations

import asyncio
import pathlib
import ssl
import stat
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from runwire.v1 import agent_pb2, agent_pb2_grpc

from runwire_server.app.config import Settings
from runwire_server.app.server import RunwireServer
from runwire_server.app.tls import ListenConfigError, check_listen
from runwire_server.app.wiring import Runwire
from tests.certs import (
    Pki,
    issue_client_certificate,
    issue_server_certificate,
    load_certificate,
    make_ca,
    make_pki,
)
from tests.integration.test_server import REFLECTIONS, Reflect, ask
from tests.support import running_server

#: Deadline of a call, seconds: generous, for a busy machine (a refused handshake
#: still fails at once, with its own status).
FAIL_SECONDS = 30.0


def settings(**values: Any) -> Settings:
    base: dict[str, Any] = {
        "listen": ["127.0.0.1:0"],
        "shutdown_grace_seconds": 1.0,
        "log_level": "WARNING",
    }
    return Settings(**(base | values))


def tls_settings(pki: Pki, *, mutual: bool = False, **values: Any) -> Settings:
    tls: dict[str, Any] = {
        "tls_cert_file": pki.server_cert_file,
        "tls_key_file": pki.server_key_file,
    }
    if mutual:
        tls["tls_client_ca_file"] = pki.ca_file
    return settings(**(tls | values))


@pytest.fixture
def pki(tmp_path: pathlib.Path) -> Pki:
    return make_pki(tmp_path / "pki")


def credentials(
    ca_file: pathlib.Path,
    cert_file: pathlib.Path | None = None,
    key_file: pathlib.Path | None = None,
) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=ca_file.read_bytes(),
        private_key=None if key_file is None else key_file.read_bytes(),
        certificate_chain=None if cert_file is None else cert_file.read_bytes(),
    )


async def check_health(channel: grpc.aio.Channel) -> int:
    """The server's overall health status over ``channel``.

    Raises:
        grpc.aio.AioRpcError: the call failed (within ``FAIL_SECONDS``).
    """
    response = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(), timeout=FAIL_SECONDS
    )
    return int(response.status)


async def health_over_tls(address: str, creds: grpc.ChannelCredentials) -> int:
    """Health status on a new TLS connection to ``address`` (a new handshake)."""
    async with grpc.aio.secure_channel(address, creds) as channel:
        return await check_health(channel)


async def failure_over_tls(address: str, creds: grpc.ChannelCredentials) -> grpc.StatusCode:
    """The status of a health check on a new TLS connection that must fail."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await health_over_tls(address, creds)
    return caught.value.code()


async def presented_certificate(address: str, ca_file: pathlib.Path) -> x509.Certificate:
    """The certificate the server presents to a new TLS connection (checked against
    ``ca_file`` and the name 127.0.0.1)."""
    host, port = address.rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(ca_file))
    context.set_alpn_protocols(["h2"])
    _, writer = await asyncio.open_connection(host, int(port), ssl=context)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        # No TLS close_notify exchange: the server has already sent HTTP/2 frames.
        writer.transport.abort()
    return x509.load_der_x509_certificate(der)


@pytest.fixture
async def tls_server(pki: Pki) -> AsyncIterator[RunwireServer]:
    async with running_server(tls_settings(pki)) as server:
        yield server


async def test_a_tls_client_that_trusts_the_ca_is_served(
    tls_server: RunwireServer, pki: Pki
) -> None:
    (address,) = tls_server.addresses
    async with grpc.aio.secure_channel(address, credentials(pki.ca_file)) as channel:
        assert await check_health(channel) == health_pb2.HealthCheckResponse.SERVING
        # The whole API is behind the same listener, not only health.
        listed = await agent_pb2_grpc.AgentServiceStub(channel).ListAgents(
            agent_pb2.ListAgentsRequest(), timeout=FAIL_SECONDS
        )
    assert isinstance(listed, agent_pb2.ListAgentsResponse)
    served = await presented_certificate(address, pki.ca_file)
    assert served == load_certificate(pki.server_cert_file)


async def test_a_plaintext_client_to_a_tls_port_fails(tls_server: RunwireServer) -> None:
    (address,) = tls_server.addresses
    async with grpc.aio.insecure_channel(address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await check_health(channel)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_client_that_does_not_trust_the_ca_fails(
    tls_server: RunwireServer, tmp_path: pathlib.Path
) -> None:
    other = make_ca(tmp_path / "other")
    code = await failure_over_tls(tls_server.addresses[0], credentials(other.cert_file))
    assert code == grpc.StatusCode.UNAVAILABLE


async def test_mutual_tls_requires_a_client_certificate_signed_by_the_ca(
    pki: Pki, tmp_path: pathlib.Path
) -> None:
    stranger = make_ca(tmp_path / "stranger")
    stranger_cert, stranger_key = tmp_path / "s.pem", tmp_path / "s-key.pem"
    issue_client_certificate(stranger, stranger_cert, stranger_key, subject=pki.client_subject)
    async with running_server(tls_settings(pki, mutual=True)) as server:
        (address,) = server.addresses
        without = await failure_over_tls(address, credentials(pki.ca_file))
        assert without == grpc.StatusCode.UNAVAILABLE
        foreign = await failure_over_tls(
            address, credentials(pki.ca_file, stranger_cert, stranger_key)
        )
        assert foreign == grpc.StatusCode.UNAVAILABLE
        with_cert = credentials(pki.ca_file, pki.client_cert_file, pki.client_key_file)
        assert await health_over_tls(address, with_cert) == health_pb2.HealthCheckResponse.SERVING


async def test_a_certificate_signed_by_the_same_ca_is_served_after_rotation(
    tls_server: RunwireServer, pki: Pki
) -> None:
    (address,) = tls_server.addresses
    before = await presented_certificate(address, pki.ca_file)
    async with grpc.aio.secure_channel(address, credentials(pki.ca_file)) as kept:
        assert await check_health(kept) == health_pb2.HealthCheckResponse.SERVING
        rotated = issue_server_certificate(pki.ca, pki.server_cert_file, pki.server_key_file)
        assert rotated.serial_number != before.serial_number
        after = await presented_certificate(address, pki.ca_file)
        assert after == rotated
        # A connection made before the rotation goes on.
        assert await check_health(kept) == health_pb2.HealthCheckResponse.SERVING


async def test_a_certificate_of_a_new_ca_is_served_after_rotation_without_restart(
    tls_server: RunwireServer, pki: Pki, tmp_path: pathlib.Path
) -> None:
    (address,) = tls_server.addresses
    new_ca = make_ca(tmp_path / "new-ca", name="Runwire Test CA 2")
    trusts_old, trusts_new = credentials(pki.ca_file), credentials(new_ca.cert_file)
    assert await health_over_tls(address, trusts_old) == health_pb2.HealthCheckResponse.SERVING
    assert await failure_over_tls(address, trusts_new) == grpc.StatusCode.UNAVAILABLE

    issue_server_certificate(new_ca, pki.server_cert_file, pki.server_key_file)

    assert await health_over_tls(address, trusts_new) == health_pb2.HealthCheckResponse.SERVING
    assert await failure_over_tls(address, trusts_old) == grpc.StatusCode.UNAVAILABLE
    served = await presented_certificate(address, new_ca.cert_file)
    assert served == load_certificate(pki.server_cert_file)


async def test_a_bad_certificate_file_keeps_the_loaded_certificate(
    tls_server: RunwireServer, pki: Pki
) -> None:
    (address,) = tls_server.addresses
    served = load_certificate(pki.server_cert_file)
    pki.server_cert_file.write_text("not a certificate\n")
    assert await presented_certificate(address, pki.ca_file) == served
    assert (
        await health_over_tls(address, credentials(pki.ca_file))
        == health_pb2.HealthCheckResponse.SERVING
    )
    # A good pair written afterwards is picked up.
    rotated = issue_server_certificate(pki.ca, pki.server_cert_file, pki.server_key_file)
    assert await presented_certificate(address, pki.ca_file) == rotated


@pytest.mark.parametrize(("mode", "expected"), [(None, 0o600), ("0660", 0o660), ("640", 0o640)])
async def test_unix_socket_gets_the_configured_mode_and_stays_plaintext(
    pki: Pki, tmp_path: pathlib.Path, mode: str | None, expected: int
) -> None:
    path = tmp_path / "rw.sock"
    extra: dict[str, Any] = {} if mode is None else {"unix_socket_mode": mode}
    listen = ["127.0.0.1:0", f"unix:{path}"]
    async with running_server(tls_settings(pki, listen=listen, **extra)) as server:
        tcp, unix = server.addresses
        assert unix == f"unix:{path}"
        assert stat.S_IMODE(path.stat().st_mode) == expected
        async with grpc.aio.insecure_channel(unix) as channel:
            assert await check_health(channel) == health_pb2.HealthCheckResponse.SERVING
        assert (
            await health_over_tls(tcp, credentials(pki.ca_file))
            == health_pb2.HealthCheckResponse.SERVING
        )


@pytest.mark.parametrize("reflection", REFLECTIONS)
async def test_reflection_turned_off_is_unimplemented(
    reflection: Callable[[grpc.aio.Channel], Reflect],
) -> None:
    async with (
        running_server(settings(reflection=False)) as server,
        grpc.aio.insecure_channel(server.addresses[0]) as channel,
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await ask(reflection(channel), reflection_pb2.ServerReflectionRequest(list_services=""))
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
        # The rest of the server answers.
        assert await check_health(channel) == health_pb2.HealthCheckResponse.SERVING


def test_half_a_tls_configuration_is_refused(pki: Pki) -> None:
    with pytest.raises(ListenConfigError, match="tls_cert_file is set but tls_key_file is not"):
        check_listen(settings(tls_cert_file=pki.server_cert_file))
    with pytest.raises(ListenConfigError, match="tls_key_file is set but tls_cert_file is not"):
        check_listen(settings(tls_key_file=pki.server_key_file))
    with pytest.raises(ListenConfigError, match="tls_client_ca_file is set but TLS is off"):
        check_listen(settings(tls_client_ca_file=pki.ca_file))


def test_unusable_tls_files_are_refused(pki: Pki, tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(ListenConfigError, match=r"missing\.pem"):
        check_listen(tls_settings(pki, tls_cert_file=missing))
    with pytest.raises(ListenConfigError, match="the key does not match the certificate"):
        check_listen(tls_settings(pki, tls_key_file=pki.client_key_file))
    encrypted = tmp_path / "encrypted-key.pem"
    key = serialization.load_pem_private_key(pki.server_key_file.read_bytes(), password=None)
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(ListenConfigError, match="encrypted private keys are not supported"):
        check_listen(tls_settings(pki, tls_key_file=encrypted))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a CA\n")
    with pytest.raises(ListenConfigError, match="cannot use client CA file"):
        check_listen(tls_settings(pki, tls_client_ca_file=garbage))


async def test_start_refuses_unusable_tls_files_before_binding(
    pki: Pki, tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "rw.sock"
    values = tls_settings(
        pki, listen=[f"unix:{path}", "127.0.0.1:0"], tls_key_file=pki.client_key_file
    )
    server = RunwireServer(await Runwire.create(values), values)
    try:
        with pytest.raises(ListenConfigError, match="cannot use TLS certificate"):
            await server.start()
        assert not path.exists(), "a listener was bound before the refusal"
    finally:
        await server.app.aclose()
