"""The Python client against a real server with TLS, mutual TLS and an API key.

The server is the session's ``runwire serve`` subprocess of
``tests/clients/secure_server.py`` (the one every language's example runs
against). The token travels on unary and streaming calls alike; a missing token
is UNAUTHENTICATED; wrong transport settings fail before any call reaches the
server, with a line that says why. ``Credentials.resolve`` reads the same
environment variables as every other Runwire client.
"""

from __future__ import annotations

import pathlib

import grpc
import pytest
import runwire
from runwire import Credentials, Stubs
from runwire.v1 import agent_pb2, approval_pb2, event_pb2, run_service_pb2

from tests.certs import make_pki
from tests.clients.secure_server import PRINCIPAL, SecureServer
from tests.support import Script, assert_gap_free, create_agent, status_details, unique

ECHO_SCRIPT: Script = [
    {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}]},
    {"text": "42"},
]


async def _approve(_: event_pb2.ApprovalRequested) -> bool:
    return True


async def test_token_and_client_certificate_on_unary_and_streaming_calls(
    secure_server: SecureServer,
) -> None:
    async with secure_server.connect() as stubs:
        agent = await create_agent(
            stubs,
            ECHO_SCRIPT,
            tools=["calculator"],
            mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
        )
        client = runwire.AsyncClient(stubs=stubs)
        stream = client.runs.stream(agent.agent_id, "6*7?", on_approval=_approve)
        events = [event async for event in stream]
        assert stream.terminal_event is not None
        outcome = runwire.run_outcome(stream.terminal_event)
        assert outcome is not None and outcome.succeeded and outcome.output == "42", outcome
        assert_gap_free(events)
        listed = await stubs.approvals.ListApprovals(
            approval_pb2.ListApprovalsRequest(run_id=outcome.run_id)
        )
    # The approval is recorded as resolved by the API key's principal.
    assert [(a.state, a.resolved_by) for a in listed.approvals] == [
        (approval_pb2.APPROVAL_STATE_APPROVED, PRINCIPAL)
    ]


async def test_without_the_token_unary_and_streaming_calls_are_unauthenticated(
    secure_server: SecureServer,
) -> None:
    async with secure_server.connect(token=False) as stubs:
        with pytest.raises(grpc.aio.AioRpcError) as unary:
            await stubs.agents.GetAgent(agent_pb2.GetAgentRequest(agent_id=unique("a")))
        with pytest.raises(grpc.aio.AioRpcError) as streaming:
            await runwire.collect_events(
                stubs.runs.StreamRunEvents(
                    run_service_pb2.StreamRunEventsRequest(run_id="run_0", after_sequence=0)
                )
            )
    for caught in (unary, streaming):
        details = status_details(caught.value)
        assert details.code == grpc.StatusCode.UNAUTHENTICATED, details
        assert details.reason == "UNAUTHENTICATED", details


async def test_a_wrong_token_is_unauthenticated(secure_server: SecureServer) -> None:
    async with Stubs.connect(
        secure_server.address,
        token="not-the-key",
        ca_file=secure_server.pki.ca_file,
        client_cert_file=secure_server.pki.client_cert_file,
        client_key_file=secure_server.pki.client_key_file,
    ) as stubs:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stubs.agents.ListAgents(agent_pb2.ListAgentsRequest())
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_per_call_authorization_header_wins(secure_server: SecureServer) -> None:
    async with secure_server.connect() as stubs:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stubs.agents.ListAgents(
                agent_pb2.ListAgentsRequest(),
                metadata=(("authorization", "Bearer not-the-key"),),
            )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def _unreachable_line(address: str, credentials: Credentials) -> str:
    async with Stubs.connect(address, credentials=credentials) as stubs:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stubs.agents.ListAgents(agent_pb2.ListAgentsRequest(), timeout=30)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, caught.value
    return runwire.describe_rpc_error(caught.value, address)


async def test_a_plaintext_client_cannot_reach_the_tls_port(secure_server: SecureServer) -> None:
    line = await _unreachable_line(secure_server.address, Credentials(token=secure_server.token))
    assert line.startswith(f"cannot reach Runwire at {secure_server.address}: "), line


async def test_without_a_client_certificate_the_handshake_fails(
    secure_server: SecureServer,
) -> None:
    credentials = Credentials(
        token=secure_server.token, ca_file=secure_server.pki.ca_file, tls=True
    )
    line = await _unreachable_line(secure_server.address, credentials)
    assert line.startswith(f"cannot reach Runwire at {secure_server.address}: "), line


async def test_a_server_certificate_from_another_ca_is_not_trusted(
    secure_server: SecureServer, tmp_path: pathlib.Path
) -> None:
    other = make_pki(tmp_path / "other")
    credentials = Credentials(
        token=secure_server.token,
        ca_file=other.ca_file,
        client_cert_file=secure_server.pki.client_cert_file,
        client_key_file=secure_server.pki.client_key_file,
        tls=True,
    )
    line = await _unreachable_line(secure_server.address, credentials)
    assert line == (
        f"cannot reach Runwire at {secure_server.address}: "
        "TLS: the server's certificate is not signed by a trusted CA"
    )


async def test_the_server_name_override_is_checked(secure_server: SecureServer) -> None:
    """The certificate names localhost and 127.0.0.1: "localhost" passes, another name fails."""
    base = secure_server.credentials()
    for name, passes in (("localhost", True), ("runwire.example", False)):
        credentials = Credentials(
            token=base.token,
            ca_file=base.ca_file,
            client_cert_file=base.client_cert_file,
            client_key_file=base.client_key_file,
            server_name=name,
            tls=True,
        )
        if passes:
            async with Stubs.connect(secure_server.address, credentials=credentials) as stubs:
                await stubs.agents.ListAgents(agent_pb2.ListAgentsRequest())
        else:
            line = await _unreachable_line(secure_server.address, credentials)
            assert line.endswith("TLS: the server's certificate does not name this host"), line


# --------------------------------------------------------------------------- Credentials


def test_credentials_come_from_the_environment() -> None:
    environ = {
        "RUNWIRE_TOKEN": "tok",
        "RUNWIRE_CA_FILE": "/pki/ca.pem",
        "RUNWIRE_CLIENT_CERT_FILE": "/pki/client.pem",
        "RUNWIRE_CLIENT_KEY_FILE": "/pki/client-key.pem",
        "RUNWIRE_TLS_SERVER_NAME": "runwire.internal",
    }
    assert Credentials.resolve(environ=environ) == Credentials(
        token="tok",
        ca_file=pathlib.Path("/pki/ca.pem"),
        client_cert_file=pathlib.Path("/pki/client.pem"),
        client_key_file=pathlib.Path("/pki/client-key.pem"),
        server_name="runwire.internal",
        tls=True,
    )
    assert Credentials.resolve(environ={}) == Credentials()
    assert Credentials().metadata() == ()
    assert Credentials(token="tok").metadata() == (("authorization", "Bearer tok"),)


def test_arguments_win_over_the_environment() -> None:
    environ = {"RUNWIRE_TOKEN": "from-env", "RUNWIRE_CA_FILE": "/pki/ca.pem"}
    # "" means none: no token and plaintext, whatever the environment says.
    assert Credentials.resolve(token="", ca_file="", environ=environ) == Credentials()
    assert Credentials.resolve(token="mine", environ=environ).token == "mine"
    assert Credentials.resolve(tls=True, environ={}).tls  # system roots


def test_half_a_client_certificate_is_refused() -> None:
    with pytest.raises(ValueError, match="both its certificate and its key"):
        Credentials.resolve(client_cert_file="/pki/client.pem", environ={})
    with pytest.raises(ValueError, match="needs TLS"):
        Credentials.resolve(
            client_cert_file="/pki/client.pem",
            client_key_file="/pki/client-key.pem",
            tls=False,
            environ={},
        )
