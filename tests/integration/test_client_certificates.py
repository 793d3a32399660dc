"""Mutual-TLS client certificates as credentials, over real gRPC calls.

One in-process server on loopback serves TLS and requires a client
certificate signed by the test CA (``tls_client_ca_file``); its
``[[auth.client_certificates]]`` map subjects to principals:

- ``client-1`` by its subject common name → ``svc-by-cn`` (editor);
- ``client-2`` by its URI SAN ``spiffe://runwire.test/client-2`` → ``svc-by-uri`` (runner);
- ``client-4`` by both its CN (→ ``cn-of-4``) and its URI SAN (→ ``uri-of-4``);
- ``client-3`` is signed by the same CA but not mapped.

Precedence (runwire_server/service/auth/authenticate.py, ``Authenticator.authenticate``): an
``authorization`` header, when sent, decides alone: a valid bearer token is
the principal even on a connection with a mapped certificate, and a bad one
is refused without falling back to the certificate. Without the header, the
certificate's subject common name is looked up first, then its URI SANs.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import AsyncIterator

import grpc
import pytest
from runwire.v1 import agent_pb2, run_service_pb2

from runwire_server.app.server import RunwireServer
from runwire_server.service.auth.config import AuthSettings, ClientCertificate
from tests.certs import Pki, issue_client_certificate, make_pki, spiffe_uri
from tests.conftest import server_settings
from tests.support import Stubs, api_key, create_agent, running_server, status_details, unique

TENANT = "certs"
API_KEY = "rw-certs-" + unique("key")


@dataclasses.dataclass(frozen=True)
class ClientFiles:
    """A client certificate and its key."""

    cert_file: pathlib.Path
    key_file: pathlib.Path


@dataclasses.dataclass(frozen=True)
class Clients:
    """The test PKI and its client certificates, by subject."""

    pki: Pki
    by_subject: dict[str, ClientFiles]

    def connect(self, server: RunwireServer, subject: str, token: str = "") -> Stubs:
        """Stubs over mutual TLS with ``subject``'s certificate (and ``token``, if any)."""
        files = self.by_subject[subject]
        return Stubs.connect(
            server.addresses[0],
            token=token,
            ca_file=self.pki.ca_file,
            client_cert_file=files.cert_file,
            client_key_file=files.key_file,
        )


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Clients:
    directory = tmp_path_factory.mktemp("pki")
    pki = make_pki(directory, client_subject="client-1")
    files = {"client-1": ClientFiles(pki.client_cert_file, pki.client_key_file)}
    for subject in ("client-2", "client-3", "client-4"):
        cert, key = directory / f"{subject}.pem", directory / f"{subject}-key.pem"
        issue_client_certificate(pki.ca, cert, key, subject=subject)
        files[subject] = ClientFiles(cert, key)
    return Clients(pki, files)


@pytest.fixture(scope="module")
async def server(clients: Clients) -> AsyncIterator[RunwireServer]:
    pki = clients.pki
    mapped = [
        ClientCertificate(
            subject="client-1", principal="svc-by-cn", tenant=TENANT, roles=["editor"]
        ),
        ClientCertificate(
            subject=spiffe_uri("client-2"), principal="svc-by-uri", tenant=TENANT, roles=["runner"]
        ),
        ClientCertificate(subject="client-4", principal="cn-of-4", tenant=TENANT, roles=["runner"]),
        ClientCertificate(
            subject=spiffe_uri("client-4"), principal="uri-of-4", tenant=TENANT, roles=["runner"]
        ),
    ]
    settings = server_settings(
        "in_process",
        redis_url="",
        temporal_address="",
        tls_cert_file=pki.server_cert_file,
        tls_key_file=pki.server_key_file,
        tls_client_ca_file=pki.ca_file,
        auth=AuthSettings(
            client_certificates=mapped,
            api_keys=[api_key(API_KEY, "key-holder", "runner", tenant=TENANT)],
        ),
    )
    async with running_server(settings) as srv:
        yield srv


@pytest.fixture(scope="module")
async def agent_id(server: RunwireServer, clients: Clients) -> str:
    """An agent of tenant ``certs``, created by ``svc-by-cn`` (an editor, no token)."""
    async with clients.connect(server, "client-1") as stubs:
        agent = await create_agent(stubs, [{"text": "hello"}])
    return agent.agent_id


async def started_by(stubs: Stubs, agent_id: str) -> tuple[str, str]:
    """``(created_by, tenant)`` of a run CreateRun starts on ``agent_id``, read back with GetRun."""
    created = (
        await stubs.runs.CreateRun(run_service_pb2.CreateRunRequest(agent_id=agent_id, prompt="hi"))
    ).run
    run = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=created.run_id))).run
    assert (created.created_by, created.tenant) == (run.created_by, run.tenant)
    return run.created_by, run.tenant


async def test_a_certificate_mapped_by_its_common_name_is_that_principal(
    server: RunwireServer, clients: Clients, agent_id: str
) -> None:
    async with clients.connect(server, "client-1") as stubs:
        assert await started_by(stubs, agent_id) == ("svc-by-cn", TENANT)
        listed = await stubs.agents.ListAgents(agent_pb2.ListAgentsRequest(page_size=100))
    assert agent_id in [a.agent_id for a in listed.agents]


async def test_a_certificate_mapped_by_its_uri_san_is_that_principal(
    server: RunwireServer, clients: Clients, agent_id: str
) -> None:
    async with clients.connect(server, "client-2") as stubs:
        assert await started_by(stubs, agent_id) == ("svc-by-uri", TENANT)
        # Its roles come from the mapping: a runner may not create agents.
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await create_agent(stubs, [{"text": "x"}])
    details = status_details(caught.value)
    assert details.code == grpc.StatusCode.PERMISSION_DENIED
    assert details.metadata["permission"] == "agents.write"


async def test_the_common_name_is_looked_up_before_the_uri_san(
    server: RunwireServer, clients: Clients, agent_id: str
) -> None:
    async with clients.connect(server, "client-4") as stubs:
        assert await started_by(stubs, agent_id) == ("cn-of-4", TENANT)


async def test_a_certificate_whose_subject_is_not_mapped_is_unauthenticated(
    server: RunwireServer, clients: Clients
) -> None:
    async with clients.connect(server, "client-3") as stubs:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stubs.agents.ListAgents(agent_pb2.ListAgentsRequest())
    details = status_details(caught.value)
    assert (details.code, details.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
    assert "not mapped" in details.message


async def test_a_bearer_token_wins_over_the_certificate(
    server: RunwireServer, clients: Clients, agent_id: str
) -> None:
    async with clients.connect(server, "client-1", token=API_KEY) as stubs:
        assert await started_by(stubs, agent_id) == ("key-holder", TENANT)
        # The key's roles, not the certificate's: the key holder is no editor.
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await create_agent(stubs, [{"text": "x"}])
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # A valid key also authenticates a connection whose certificate is not mapped.
    async with clients.connect(server, "client-3", token=API_KEY) as stubs:
        assert await started_by(stubs, agent_id) == ("key-holder", TENANT)


async def test_a_bad_bearer_token_does_not_fall_back_to_the_certificate(
    server: RunwireServer, clients: Clients
) -> None:
    async with clients.connect(server, "client-1", token="rw-not-a-key") as stubs:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stubs.agents.ListAgents(agent_pb2.ListAgentsRequest())
    details = status_details(caught.value)
    assert (details.code, details.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
