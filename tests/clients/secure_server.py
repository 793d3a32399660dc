"""A real ``runwire serve`` with TLS, mutual TLS and an API key: what the client
examples run against.

``start_secure_server(directory)`` writes a test PKI (``tests.certs.make_pki``)
and a TOML config file holding one API key (the SHA-256 of a fresh random
token; principal ``PRINCIPAL``, tenant ``TENANT``, role ``admin``), then starts
``runwire serve`` on a free loopback port with ``RUNWIRE_TLS_CERT_FILE``,
``RUNWIRE_TLS_KEY_FILE`` and ``RUNWIRE_TLS_CLIENT_CA_FILE`` (a client
certificate is required). ``SecureServer.client_env()`` is the environment an
example needs to reach it, with the variables every Runwire client reads:
``RUNWIRE_TOKEN``, ``RUNWIRE_CA_FILE``, ``RUNWIRE_CLIENT_CERT_FILE`` and
``RUNWIRE_CLIENT_KEY_FILE``; ``SecureServer.connect()`` opens Python stubs the
same way. ``tests/clients/conftest.py`` shares one server per session.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import secrets
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

from runwire import Credentials, Stubs

from tests.certs import Pki, make_pki
from tests.serve_process import serve_process

ROOT = pathlib.Path(__file__).resolve().parents[2]
RUNWIRE = str(pathlib.Path(sys.executable).with_name("runwire"))

#: Who the API key authenticates: approvals name this principal as ``resolved_by``.
PRINCIPAL = "ci-admin"
TENANT = "ci-clients"

#: The client-side variables; stripped from inherited environments so that a
#: developer's own settings never leak into a test.
CLIENT_VARIABLES = (
    "RUNWIRE_TOKEN",
    "RUNWIRE_CA_FILE",
    "RUNWIRE_CLIENT_CERT_FILE",
    "RUNWIRE_CLIENT_KEY_FILE",
    "RUNWIRE_TLS_SERVER_NAME",
)


def clean_environment() -> dict[str, str]:
    """``os.environ`` without any ``RUNWIRE_*`` variable (server or client settings)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RUNWIRE_")}


def api_key_config(token: str) -> str:
    """The TOML config file text: one admin API key, stored as the SHA-256 of ``token``."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    return (
        "[[auth.api_keys]]\n"
        f'principal = "{PRINCIPAL}"\n'
        f'tenant = "{TENANT}"\n'
        'roles = ["admin"]\n'
        f'key_sha256 = "{digest}"\n'
    )


@dataclass(frozen=True)
class SecureServer:
    """A running TLS + auth server and what a client needs to reach it.

    Attributes:
        address: ``127.0.0.1:PORT`` (the server certificate names ``127.0.0.1``
            and ``localhost``).
        token: The API key (``authorization: Bearer <token>``).
        pki: The CA, server and client certificates.
        log: The server's stderr.
    """

    address: str
    token: str
    pki: Pki
    log: pathlib.Path

    def client_env(self, *, token: bool = True) -> dict[str, str]:
        """The environment of an example process: the clean environment plus
        ``RUNWIRE_CA_FILE``, the client certificate and key, and (unless
        ``token=False``) ``RUNWIRE_TOKEN``."""
        env = clean_environment()
        env["RUNWIRE_CA_FILE"] = str(self.pki.ca_file)
        env["RUNWIRE_CLIENT_CERT_FILE"] = str(self.pki.client_cert_file)
        env["RUNWIRE_CLIENT_KEY_FILE"] = str(self.pki.client_key_file)
        if token:
            env["RUNWIRE_TOKEN"] = self.token
        return env

    def credentials(self, *, token: bool = True) -> Credentials:
        """The Python client's credentials for this server (mutual TLS, and the
        token unless ``token=False``)."""
        return Credentials(
            token=self.token if token else "",
            ca_file=self.pki.ca_file,
            client_cert_file=self.pki.client_cert_file,
            client_key_file=self.pki.client_key_file,
            tls=True,
        )

    def connect(self, *, token: bool = True) -> Stubs:
        """Python stubs on this server (close them)."""
        return Stubs.connect(self.address, credentials=self.credentials(token=token))


@contextlib.asynccontextmanager
async def start_secure_server(
    directory: pathlib.Path, *, mutual_tls: bool = True
) -> AsyncIterator[SecureServer]:
    """Runs ``runwire serve`` with TLS, mutual TLS and one API key until the block ends.

    Args:
        directory: Where the PKI, the config file and the server's log go.
        mutual_tls: Require a client certificate (``RUNWIRE_TLS_CLIENT_CA_FILE``).

    Raises:
        AssertionError: the server did not print ``serving on ...``.
    """
    pki = make_pki(directory / "pki")
    token = secrets.token_urlsafe(32)
    config = directory / "runwire.toml"
    config.write_text(api_key_config(token))
    log = directory / "serve.log"
    env = clean_environment() | {
        "PYTHONPATH": str(ROOT),
        "RUNWIRE_LOG_LEVEL": "WARNING",
        "RUNWIRE_TLS_CERT_FILE": str(pki.server_cert_file),
        "RUNWIRE_TLS_KEY_FILE": str(pki.server_key_file),
    }
    if mutual_tls:
        env["RUNWIRE_TLS_CLIENT_CA_FILE"] = str(pki.ca_file)
    async with serve_process(
        RUNWIRE, "--config", str(config), cwd=ROOT, env=env, log=log, ready_seconds=30
    ) as address:
        yield SecureServer(address=address, token=token, pki=pki, log=log)
