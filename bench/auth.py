"""Scenario 7 — the cost of authentication per RPC: a unary GetAgent by credential.

Servers in this process on loopback (in-process runtime, memory stores), each
holding one agent; one client channel (its own connection) per line:

- ``no interceptor``: a bare grpc.aio server with the auth-off app's
  AgentService servicer and no interceptor (the floor of the interceptor);
- ``auth off``: ``runwire serve`` without ``[auth]``: the interceptor admits
  every call as ``ANONYMOUS``;
- ``API key``, ``JWT RS256``, ``JWT ES256``: one server with ``[[auth.api_keys]]``
  and ``[auth.jwt]`` (a JWKS file with an RSA 2048 and an EC P-256 key); each
  call sends ``authorization: Bearer <token>`` and is verified in full (no
  cache of verified tokens).

Every round calls each line once, the order rotated round by round, so
machine noise hits every line alike. Reports p50 and p99 of each line (ms)
and their ratios to ``auth off``. A note adds ``Authenticator.authenticate``
alone per credential (mean µs per call in a tight loop, no gRPC: a lower
bound of what the same call costs inside the busy server).

``python -m bench.auth [--quick] [--runs N]`` prints a Markdown table;
``python -m bench --only auth`` puts the same lines in the benchmark table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from runwire.v1 import agent_pb2, agent_pb2_grpc

from bench.common import (
    NO_TARGET,
    Context,
    LocalRunwire,
    Raw,
    Row,
    channel,
    exit_now,
    ms,
    percentile,
    scripted_agent,
    times,
)
from runwire_server.app.config import Settings
from runwire_server.service.auth.authenticate import Authenticator
from runwire_server.service.auth.config import ApiKey, AuthSettings, JwtSettings

NAME = "auth"
GET_AGENT = "/runwire.v1.AgentService/GetAgent"
AGENT_ID = "bench-auth"
ISSUER = "https://issuer.bench.runwire.test/"
AUDIENCE = "runwire-bench"
TENANT = "bench"
API_KEY = "rw-bench-auth-key-0123456789abcdef"
#: Calls of ``Authenticator.authenticate`` per credential for the note.
DIRECT_CALLS = (2_000, 200)
WARMUP_ROUNDS = 50


@dataclass
class Line:
    """One credential's channel, metadata and measured seconds per call."""

    label: str
    call: Raw
    metadata: tuple[tuple[str, str], ...]
    seconds: list[float] = field(default_factory=list)

    def p(self, q: float) -> float:
        """The ``q`` quantile of this line's calls, milliseconds."""
        return percentile([s * 1000 for s in self.seconds], q)


@dataclass(frozen=True)
class Credentials:
    """The auth-on server's settings and the bearer tokens of its lines."""

    auth: AuthSettings
    tokens: dict[str, str]


def credentials(directory: Path) -> Credentials:
    """An API key (editor) and RS256/ES256 JWTs (editors, 1 h) for one
    ``[auth]``, its JWKS written to ``directory``."""
    rsa_private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_private = ec.generate_private_key(ec.SECP256R1())
    keys = [
        {
            **jwt.algorithms.RSAAlgorithm.to_jwk(rsa_private.public_key(), as_dict=True),
            "kid": "rsa-1",
            "alg": "RS256",
            "use": "sig",
        },
        {
            **jwt.algorithms.ECAlgorithm.to_jwk(ec_private.public_key(), as_dict=True),
            "kid": "ec-1",
            "alg": "ES256",
            "use": "sig",
        },
    ]
    jwks_file = directory / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": keys}))
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "bench-user",
        "tenant": TENANT,
        "roles": ["editor"],
        "iat": now,
        "exp": now + 3600,
    }
    auth = AuthSettings(
        api_keys=[
            ApiKey(
                principal="bench-key",
                tenant=TENANT,
                roles=["editor"],
                key_sha256=hashlib.sha256(API_KEY.encode()).hexdigest(),
            )
        ],
        jwt=JwtSettings(jwks_file=jwks_file, issuer=ISSUER, audience=AUDIENCE),
    )
    tokens = {
        "API key": API_KEY,
        "JWT RS256": jwt.encode(claims, rsa_private, algorithm="RS256", headers={"kid": "rsa-1"}),
        "JWT ES256": jwt.encode(claims, ec_private, algorithm="ES256", headers={"kid": "ec-1"}),
    }
    return Credentials(auth, tokens)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def get_agent_call(ch: grpc.aio.Channel) -> Raw:
    """GetAgent that returns the response as bytes (no decoding on the client)."""
    call: Raw = ch.unary_unary(
        GET_AGENT, request_serializer=agent_pb2.GetAgentRequest.SerializeToString
    )
    return call


@contextlib.asynccontextmanager
async def bare_agent_server(runwire: LocalRunwire) -> AsyncIterator[str]:
    """A grpc.aio server on loopback with ``runwire``'s AgentService servicer
    and no interceptor; yields its address."""
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    agent_pb2_grpc.add_AgentServiceServicer_to_server(runwire.app.agent_servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(0)


async def direct_microseconds(
    auth: AuthSettings, tokens: dict[str, str], calls: int
) -> dict[str, float]:
    """Mean µs of ``Authenticator.authenticate`` per call, by credential."""
    authenticator = Authenticator(auth)
    result: dict[str, float] = {}
    for label, token in tokens.items():
        header = f"Bearer {token}"
        for _ in range(min(calls, 50)):
            await authenticator.authenticate(header, None)
        start = time.perf_counter()
        for _ in range(calls):
            await authenticator.authenticate(header, None)
        result[label] = (time.perf_counter() - start) / calls * 1e6
    return result


async def measure(rounds: int, direct_calls: int) -> tuple[list[Line], dict[str, float]]:
    """Measures ``rounds`` interleaved rounds of GetAgent on every line.

    Returns:
        The lines (``no interceptor``, ``auth off``, then one per credential)
        with their samples, and ``direct_microseconds`` of the credentials.

    Raises:
        grpc.aio.AioRpcError: a call failed (the setup is wrong).
    """
    with tempfile.TemporaryDirectory(prefix="bench-auth-") as tmp:
        creds = credentials(Path(tmp))
        loopback = ["127.0.0.1:0"]
        off = await LocalRunwire.start(Settings(listen=loopback, log_level="WARNING"))
        on = await LocalRunwire.start(
            Settings(listen=loopback, log_level="WARNING", auth=creds.auth)
        )
        channels: list[grpc.aio.Channel] = []
        try:
            agent = scripted_agent([{"text": "hi"}])
            create = agent_pb2.CreateAgentRequest(agent_id=AGENT_ID, agent=agent)
            await agent_pb2_grpc.AgentServiceStub(off.channel).CreateAgent(create)
            await agent_pb2_grpc.AgentServiceStub(on.channel).CreateAgent(
                create, metadata=bearer(API_KEY)
            )
            async with bare_agent_server(off) as bare_address:
                lines = [Line("no interceptor", get_agent_call(ch := channel(bare_address)), ())]
                channels.append(ch)
                lines.append(Line("auth off", get_agent_call(ch := channel(off.address)), ()))
                channels.append(ch)
                for label, token in creds.tokens.items():
                    lines.append(
                        Line(label, get_agent_call(ch := channel(on.address)), bearer(token))
                    )
                    channels.append(ch)
                await _rounds(lines, rounds)
            direct = await direct_microseconds(creds.auth, creds.tokens, direct_calls)
        finally:
            for ch in channels:
                await ch.close()
            await on.close()
            await off.close()
    return lines, direct


async def _rounds(lines: Sequence[Line], rounds: int) -> None:
    request = agent_pb2.GetAgentRequest(agent_id=AGENT_ID)
    for number in range(WARMUP_ROUNDS + rounds):
        shift = number % len(lines)
        for line in [*lines[shift:], *lines[:shift]]:
            start = time.perf_counter()
            response: bytes = await line.call(request, metadata=line.metadata)
            elapsed = time.perf_counter() - start
            if number >= WARMUP_ROUNDS:
                line.seconds.append(elapsed)
            if number == 0:
                got = agent_pb2.GetAgentResponse.FromString(response).agent.agent_id
                assert got == AGENT_ID, f"{line.label}: GetAgent answered {got!r}"


def markdown(lines: Sequence[Line], direct: dict[str, float]) -> str:
    """The lines as a Markdown table (ratios to ``auth off``) and the direct note."""
    off = next(line for line in lines if line.label == "auth off")
    rows = [
        "| credential | p50 | p99 | p50 vs auth off | p99 vs auth off |",
        "| --- | --- | --- | --- | --- |",
    ]
    for line in lines:
        rows.append(
            f"| {line.label} | {ms(line.p(0.5) / 1000)} | {ms(line.p(0.99) / 1000)} "
            f"| {times(line.p(0.5) / off.p(0.5))} | {times(line.p(0.99) / off.p(0.99))} |"
        )
    return "\n".join(rows) + "\n\n" + direct_note(direct)


def direct_note(direct: dict[str, float]) -> str:
    costs = ", ".join(f"{label} {us:.0f} µs" for label, us in direct.items())
    return f"7: Authenticator.authenticate alone, per call: {costs}"


async def run(ctx: Context) -> list[Row]:
    """Scenario 7's rows: p50 | p99 of each line against ``auth off``."""
    rounds = ctx.pick(3_000, 300)
    lines, direct = await measure(rounds, DIRECT_CALLS[1] if ctx.quick else DIRECT_CALLS[0])
    bare, off = lines[0], lines[1]
    rows = []
    for line, floor in [(off, bare), *((line, off) for line in lines[2:])]:
        rows.append(
            Row(
                f"7 Auth, GetAgent p50 | p99: {line.label} vs {floor.label} ({rounds:,} calls)",
                f"{ms(line.p(0.5) / 1000)} | {ms(line.p(0.99) / 1000)}",
                f"{ms(floor.p(0.5) / 1000)} | {ms(floor.p(0.99) / 1000)}",
                f"{times(line.p(0.5) / floor.p(0.5))} | {times(line.p(0.99) / floor.p(0.99))}",
                NO_TARGET,
            )
        )
    ctx.note("7: auth off = the interceptor admits every call as anonymous; JWTs from a JWKS file")
    ctx.note(direct_note(direct))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.auth", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="300 rounds instead of 3,000")
    parser.add_argument("--runs", type=int, default=0, help="rounds (default: 3,000)")
    args = parser.parse_args(argv)
    rounds = args.runs or (300 if args.quick else 3_000)
    started = time.perf_counter()
    lines, direct = asyncio.run(measure(rounds, DIRECT_CALLS[1] if args.quick else DIRECT_CALLS[0]))
    elapsed = time.perf_counter() - started
    print(f"GetAgent by credential, {rounds:,} interleaved rounds ({elapsed:.0f} s)\n")
    print(markdown(lines, direct))
    exit_now(0)


if __name__ == "__main__":
    main()
