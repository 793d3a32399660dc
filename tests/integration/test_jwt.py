"""JWT (OIDC access token) authentication, over real gRPC calls to a real server.

Each server is in-process on loopback with ``[auth.jwt]`` configured. Signing
keys (RSA 2048 and EC P-256) are generated with ``cryptography``; their public
halves are written as a JWKS, either to a file (``jwks_file``) or served by a
small HTTPS server in a background thread (``jwks_url``, certificate from
``tests.certs``). Tokens are signed with PyJWT, or put together by hand for
the shapes PyJWT refuses to make (``alg: none``, HS256 with the public key as
the secret).

What the token says reaches the service: ``sub`` is ``Run.created_by``, the
configured tenant claim scopes every resource (another tenant's agent answers
NOT_FOUND), the roles claim (a list or a space-separated string) decides what
may be called. Refusals carry ``UNAUTHENTICATED`` with the ErrorInfo reason
``TOKEN_EXPIRED`` or ``TOKEN_INVALID``, or ``PERMISSION_DENIED`` with the
missing ``permission`` in the ErrorInfo metadata.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import hmac
import http.server
import json
import pathlib
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from grpc_health.v1 import health_pb2, health_pb2_grpc
from runwire.v1 import agent_pb2, run_service_pb2, thread_pb2

from runwire_server.app.server import RunwireServer
from runwire_server.service.auth.config import AuthSettings, JwtSettings
from tests.certs import Pki, make_pki
from tests.conftest import server_settings
from tests.support import Stubs, create_agent, polls, running_server, status_details, unique

ISSUER = "https://issuer.runwire.test/"
AUDIENCE = "runwire-api"
#: Claim names of the file-JWKS server (not the defaults, to show they are read).
TENANT_CLAIM = "org"
ROLES_CLAIM = "runwire_roles"
LEEWAY_SECONDS = 30.0
#: The tenant of the default-tenant server's tokens that name none.
FALLBACK_TENANT = "fallback"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


# --------------------------------------------------------------------------- keys and tokens


@dataclasses.dataclass(frozen=True)
class SigningKey:
    """A private signing key, its key id and algorithm."""

    kid: str
    alg: str
    private: PrivateKey

    def jwk(self) -> dict[str, Any]:
        """The public key as a JWK (with ``kid``, ``alg`` and ``use``)."""
        public = self.private.public_key()
        exported = (
            jwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True)
            if isinstance(public, rsa.RSAPublicKey)
            else jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True)
        )
        return {**exported, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def sign(self, claims: dict[str, Any], **headers: Any) -> str:
        """``claims`` signed with this key (header ``kid`` unless overridden)."""
        return jwt.encode(
            claims, self.private, algorithm=self.alg, headers={"kid": self.kid, **headers}
        )

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def rsa_key(kid: str | None = None) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(kid or unique("rsa"), "RS256", private)


def ec_key(kid: str | None = None) -> SigningKey:
    return SigningKey(kid or unique("ec"), "ES256", ec.generate_private_key(ec.SECP256R1()))


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [key.jwk() for key in keys]}


def claims(
    subject: str = "alice",
    *,
    tenant: str | None = "tenant-a",
    roles: Any = ("editor",),
    expires_in: float = 300.0,
    **extra: Any,
) -> dict[str, Any]:
    """A token's claims: issuer, audience, ``sub``, tenant and roles (in the
    file server's claim names; ``None`` leaves a claim out), ``exp`` from now."""
    now = time.time()
    values: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "iat": int(now),
        "exp": int(now + expires_in),
        TENANT_CLAIM: tenant,
        ROLES_CLAIM: list(roles) if isinstance(roles, tuple) else roles,
    }
    values.update(extra)
    return {name: value for name, value in values.items() if value is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None) -> str:
    """A compact JWS put together without PyJWT: HS256 over ``secret``, or no
    signature at all when ``secret`` is None."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    if secret is None:
        return signing_input + "."
    digest = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(digest)}"


# --------------------------------------------------------------------------- calls


def connect(server: RunwireServer, token: str) -> Stubs:
    """Stubs to ``server`` sending ``token`` as the bearer token."""
    return Stubs.connect(server.addresses[0], token=token)


async def refusal(server: RunwireServer, token: str) -> tuple[grpc.StatusCode, str]:
    """The code and ErrorInfo reason of a ListAgents call with ``token`` that must fail."""
    async with connect(server, token) as stubs:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stubs.agents.ListAgents(agent_pb2.ListAgentsRequest())
    details = status_details(caught.value)
    return details.code, details.reason


async def list_agents(server: RunwireServer, token: str) -> list[str]:
    """The agent ids ListAgents shows to ``token``."""
    async with connect(server, token) as stubs:
        response = await stubs.agents.ListAgents(agent_pb2.ListAgentsRequest(page_size=100))
    return [agent.agent_id for agent in response.agents]


async def health(server: RunwireServer) -> int:
    """The overall health status (an open method: no credentials)."""
    async with grpc.aio.insecure_channel(server.addresses[0]) as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=30
        )
    return int(response.status)


def jwt_server_settings(jwt_settings: JwtSettings) -> Any:
    return server_settings(
        "in_process", redis_url="", temporal_address="", auth=AuthSettings(jwt=jwt_settings)
    )


# --------------------------------------------------------------------------- the file-JWKS server


@dataclasses.dataclass(frozen=True)
class Issuer:
    """The file-JWKS server's trusted keys."""

    rsa: SigningKey
    ec: SigningKey


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer(rsa=rsa_key(), ec=ec_key())


@pytest.fixture(scope="module")
async def server(
    issuer: Issuer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunwireServer]:
    """Trusts ``issuer``'s keys (a JWKS file); tenant claim ``org``, roles
    claim ``runwire_roles``, 30 s of leeway, no default tenant."""
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(json.dumps(jwks(issuer.rsa, issuer.ec)))
    settings = jwt_server_settings(
        JwtSettings(
            jwks_file=path,
            issuer=ISSUER,
            audience=AUDIENCE,
            leeway_seconds=LEEWAY_SECONDS,
            tenant_claim=TENANT_CLAIM,
            roles_claim=ROLES_CLAIM,
        )
    )
    async with running_server(settings) as srv:
        yield srv


async def test_a_valid_token_is_its_subject_in_its_tenant_with_its_roles(
    server: RunwireServer, issuer: Issuer
) -> None:
    token_a = issuer.rsa.sign(claims("alice", tenant="tenant-a", roles=("editor",)))
    async with connect(server, token_a) as alice:
        agent = await create_agent(alice, [{"text": "hello"}])
        created = (
            await alice.runs.CreateRun(
                run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="hi")
            )
        ).run
        run = (await alice.runs.GetRun(run_service_pb2.GetRunRequest(run_id=created.run_id))).run
    assert (created.created_by, created.tenant) == ("alice", "tenant-a")
    assert (run.created_by, run.tenant) == ("alice", "tenant-a")
    assert agent.agent_id in await list_agents(server, token_a)

    # Another tenant's token (the EC key): the agent does not exist for it.
    token_b = issuer.ec.sign(claims("bob", tenant="tenant-b", roles=("admin",)))
    async with connect(server, token_b) as bob:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await bob.agents.GetAgent(agent_pb2.GetAgentRequest(agent_id=agent.agent_id))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await bob.runs.GetRun(run_service_pb2.GetRunRequest(run_id=created.run_id))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert agent.agent_id not in await list_agents(server, token_b)


@pytest.mark.parametrize(
    "roles",
    [["viewer", "runner"], "viewer runner", " runner  viewer "],
    ids=["list", "string", "spaces"],
)
async def test_the_roles_claim_is_a_list_or_a_space_separated_string(
    server: RunwireServer, issuer: Issuer, roles: Any
) -> None:
    token = issuer.rsa.sign(claims(unique("runner"), roles=roles))
    async with connect(server, token) as stubs:
        # runner: may create threads; not an editor: may not create agents.
        await stubs.threads.CreateThread(thread_pb2.CreateThreadRequest())
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await create_agent(stubs, [{"text": "x"}])
    details = status_details(caught.value)
    assert (details.code, details.reason) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
    )
    assert details.metadata["permission"] == "agents.write"


async def test_a_role_without_the_permission_is_permission_denied(
    server: RunwireServer, issuer: Issuer
) -> None:
    viewer = issuer.rsa.sign(claims("vera", roles=("viewer",)))
    async with connect(server, viewer) as stubs:
        await stubs.agents.ListAgents(agent_pb2.ListAgentsRequest())
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stubs.threads.CreateThread(thread_pb2.CreateThreadRequest())
    details = status_details(caught.value)
    assert (details.code, details.reason) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
    )
    assert details.metadata["permission"] == "threads.write"

    # Roles the server does not know grant nothing (the token itself is valid).
    stranger = issuer.rsa.sign(claims("sam", roles=("superuser", "root")))
    code, reason = await refusal(server, stranger)
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")


async def test_an_expired_token_is_token_expired_unless_within_the_leeway(
    server: RunwireServer, issuer: Issuer
) -> None:
    expired = issuer.rsa.sign(claims(expires_in=-(LEEWAY_SECONDS + 60)))
    assert await refusal(server, expired) == (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_EXPIRED")
    # Expired a few seconds ago: within the clock skew the server allows.
    recent = issuer.ec.sign(claims(expires_in=-5))
    await list_agents(server, recent)


INVALID_CASES = (
    "wrong audience",
    "wrong issuer",
    "bad signature (another key, same kid)",
    "unknown kid",
    "no kid, two keys known",
    "alg none",
    "HS256 keyed with the public key",
    "EC key id, RS256 header",
    "no exp",
    "not yet valid",
    "no tenant claim (no default tenant)",
    "tenant not a valid name",
    "no sub",
    "roles claim an object",
    "garbage with three parts",
    "a signed token cut short",
)


@pytest.fixture(scope="module")
def invalid_tokens(issuer: Issuer) -> dict[str, str]:
    """Tokens the server must refuse with TOKEN_INVALID, by what is wrong
    (``INVALID_CASES``)."""
    impostor = SigningKey(issuer.rsa.kid, "RS256", rsa_key().private)
    valid = claims()
    tokens = {
        "wrong audience": issuer.rsa.sign(claims(aud="another-api")),
        "wrong issuer": issuer.rsa.sign(claims(iss="https://evil.example/")),
        "bad signature (another key, same kid)": impostor.sign(valid),
        "unknown kid": rsa_key().sign(valid),
        "no kid, two keys known": jwt.encode(valid, issuer.rsa.private, algorithm="RS256"),
        "alg none": handmade({"alg": "none", "typ": "JWT", "kid": issuer.rsa.kid}, valid, None),
        "HS256 keyed with the public key": handmade(
            {"alg": "HS256", "typ": "JWT", "kid": issuer.rsa.kid}, valid, issuer.rsa.public_pem()
        ),
        "EC key id, RS256 header": jwt.encode(
            valid, issuer.rsa.private, algorithm="RS256", headers={"kid": issuer.ec.kid}
        ),
        "no exp": issuer.rsa.sign({k: v for k, v in valid.items() if k != "exp"}),
        "not yet valid": issuer.rsa.sign(claims(nbf=int(time.time()) + 3600)),
        "no tenant claim (no default tenant)": issuer.rsa.sign(claims(tenant=None)),
        "tenant not a valid name": issuer.rsa.sign(claims(tenant="Tenant A!")),
        "no sub": issuer.rsa.sign({k: v for k, v in valid.items() if k != "sub"}),
        "roles claim an object": issuer.rsa.sign(claims(roles={"admin": True})),
        "garbage with three parts": "not.a.jwt",
        "a signed token cut short": issuer.rsa.sign(valid).rsplit(".", 1)[0] + ".",
    }
    assert list(tokens) == list(INVALID_CASES)
    return tokens


@pytest.mark.parametrize("case", INVALID_CASES)
async def test_a_bad_token_is_token_invalid(
    server: RunwireServer, invalid_tokens: dict[str, str], case: str
) -> None:
    token = invalid_tokens[case]
    assert await refusal(server, token) == (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_INVALID")


async def test_a_token_that_is_not_a_jwt_is_treated_as_an_api_key(server: RunwireServer) -> None:
    """Without two dots the bearer token is looked up as an API key: none matches."""
    assert await refusal(server, "garbage") == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")


async def test_without_a_token_the_call_is_unauthenticated_and_health_stays_open(
    server: RunwireServer,
) -> None:
    assert await refusal(server, "") == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
    assert await health(server) == health_pb2.HealthCheckResponse.SERVING


async def test_a_default_tenant_takes_tokens_without_the_tenant_claim(
    issuer: Issuer, tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(issuer.rsa)))
    settings = jwt_server_settings(
        JwtSettings(
            jwks_file=path, issuer=ISSUER, audience=AUDIENCE, default_tenant=FALLBACK_TENANT
        )
    )
    async with running_server(settings) as srv:
        # Default claim names here: tenant ``tenant``, roles ``roles``.
        untenanted = issuer.rsa.sign(
            {k: v for k, v in claims().items() if k not in (TENANT_CLAIM, ROLES_CLAIM)}
            | {"roles": ["editor"]}
        )
        async with connect(srv, untenanted) as stubs:
            agent = await create_agent(stubs, [{"text": "x"}])
        fallback = issuer.rsa.sign(
            claims(tenant=None, roles=None) | {"tenant": FALLBACK_TENANT, "roles": "viewer"}
        )
        other = issuer.rsa.sign(
            claims(tenant=None, roles=None) | {"tenant": "elsewhere", "roles": "viewer"}
        )
        assert agent.agent_id in await list_agents(srv, fallback)
        assert agent.agent_id not in await list_agents(srv, other)


# --------------------------------------------------------------------------- JWKS over HTTPS


class JwksHttps:
    """An HTTPS server (stdlib, in a background thread) serving one JWKS.

    Attributes:
        body: What ``GET /jwks.json`` answers (replace it to rotate keys).
        status: The HTTP status it answers with.
        requests: How many requests arrived.
        gate: When set to an unset Event, each request waits for it (at most
            ``GATE_SECONDS``) before answering; ``in_flight`` counts the waiters.
    """

    GATE_SECONDS = 8.0

    def __init__(self, pki: Pki, document: dict[str, Any]) -> None:
        self.body = json.dumps(document).encode()
        self.status = 200
        self.requests = 0
        self.in_flight = 0
        self.gate: threading.Event | None = None
        self._lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with outer._lock:
                    outer.requests += 1
                    outer.in_flight += 1
                    gate = outer.gate
                try:
                    if gate is not None:
                        gate.wait(outer.GATE_SECONDS)
                    body, status = (
                        (outer.body, outer.status) if self.path == "/jwks.json" else (b"", 404)
                    )
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with outer._lock:
                        outer.in_flight -= 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pki.server_cert_file, pki.server_key_file)
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        port = self._httpd.server_address[1]
        return f"https://127.0.0.1:{port}/jwks.json"

    def serve(self, document: dict[str, Any]) -> None:
        self.body = json.dumps(document).encode()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self.gate is not None:
            self.gate.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(10)


@contextlib.contextmanager
def jwks_https(pki: Pki, *keys: SigningKey) -> Iterator[JwksHttps]:
    served = JwksHttps(pki, jwks(*keys))
    served.start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@contextlib.asynccontextmanager
async def url_server(
    jwks_server: JwksHttps, pki: Pki, **jwt_values: Any
) -> AsyncIterator[RunwireServer]:
    """A Runwire server whose JWKS is ``jwks_server``'s URL (trusting ``pki``'s CA)."""
    settings = jwt_server_settings(
        JwtSettings(
            jwks_url=jwks_server.url,
            jwks_ca_file=pki.ca_file,
            issuer=ISSUER,
            audience=AUDIENCE,
            tenant_claim=TENANT_CLAIM,
            roles_claim=ROLES_CLAIM,
            **jwt_values,
        )
    )
    async with running_server(settings) as srv:
        yield srv


async def test_a_jwks_url_is_fetched_once_and_again_for_a_rotated_key(pki: Pki) -> None:
    first, second = rsa_key(), ec_key()
    with jwks_https(pki, first) as served:
        async with url_server(served, pki) as srv:
            token = first.sign(claims(roles=("viewer",)))
            async with connect(srv, token) as stubs:
                for _ in range(20):
                    await stubs.agents.ListAgents(agent_pb2.ListAgentsRequest())
            assert served.requests == 1

            # The issuer rotates: a token with the new key id makes the server refetch once.
            served.serve(jwks(first, second))
            rotated = second.sign(claims(roles=("viewer",)))
            async with connect(srv, rotated) as stubs:
                for _ in range(10):
                    await stubs.agents.ListAgents(agent_pb2.ListAgentsRequest())
            assert served.requests == 2
            await list_agents(srv, token)  # the old key still verifies

            # Unknown key ids right after a refetch do not make the server fetch again.
            for _ in range(5):
                stranger = rsa_key().sign(claims())
                assert await refusal(srv, stranger) == (
                    grpc.StatusCode.UNAUTHENTICATED,
                    "TOKEN_INVALID",
                )
            assert served.requests == 2


async def test_fetching_the_jwks_does_not_block_the_event_loop(pki: Pki) -> None:
    key = rsa_key()
    with jwks_https(pki, key) as served:
        served.gate = threading.Event()
        async with url_server(served, pki) as srv:
            call = asyncio.ensure_future(list_agents(srv, key.sign(claims(roles=("viewer",)))))
            try:
                async for _ in polls():
                    if served.in_flight:
                        break
                assert served.in_flight == 1
                # The fetch is waiting on the HTTPS server: the same server still answers.
                assert await health(srv) == health_pb2.HealthCheckResponse.SERVING
                assert served.in_flight == 1 and not call.done()
            finally:
                served.gate.set()
            await call
            assert served.requests == 1


async def test_an_unreachable_or_broken_jwks_refuses_tokens_as_token_invalid(pki: Pki) -> None:
    key = rsa_key()
    token = key.sign(claims(roles=("viewer",)))
    with jwks_https(pki, key) as served:
        async with url_server(served, pki) as srv:
            for status, body in ((500, b"{}"), (200, b"<html>not json"), (200, b'{"keys": []}')):
                served.status, served.body = status, body
                assert await refusal(srv, token) == (
                    grpc.StatusCode.UNAUTHENTICATED,
                    "TOKEN_INVALID",
                ), (status, body)
            served.status = 200
            served.serve(jwks(key))
            await list_agents(srv, token)


async def test_a_failing_refresh_keeps_the_old_keys_without_a_fetch_per_call(pki: Pki) -> None:
    key = rsa_key()
    token = key.sign(claims(roles=("viewer",)))
    with jwks_https(pki, key) as served:
        async with (
            url_server(served, pki, jwks_refresh_seconds=0.2) as srv,
            connect(srv, token) as stubs,
        ):
            await stubs.agents.ListAgents(agent_pb2.ListAgentsRequest())
            assert served.requests == 1
            served.status = 503
            # Once the refresh interval has passed, a call refetches; that fetch fails.
            async for _ in polls():
                await stubs.agents.ListAgents(agent_pb2.ListAgentsRequest())
                if served.requests > 1:
                    break
            assert served.requests == 2
            # The old keys go on verifying, and calls do not each fetch again.
            for _ in range(20):
                await stubs.agents.ListAgents(agent_pb2.ListAgentsRequest())
            assert served.requests == 2
