"""Authentication: credentials in, a ``Principal`` out.

``Authenticator.authenticate`` takes the call's ``authorization`` header
value and its TLS peer certificate, and answers with the principal or raises
``UnauthenticatedError``:

- ``Bearer <jwt>`` (three dot-separated parts, with ``[auth.jwt]`` set): the
  token is verified with PyJWT against the configured JWKS (signature, ``exp``,
  ``nbf``, ``iss``, ``aud``, with ``leeway_seconds`` of clock skew);
- ``Bearer <key>``: the key's SHA-256 is compared, in constant time, with
  every configured key's;
- no header: the mutual-TLS client certificate's common name or URI SAN,
  when it is mapped in ``[[auth.client_certificates]]``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import ssl
import time
from collections.abc import Iterable
from typing import Any

import jwt
from cryptography import x509
from cryptography.x509.oid import NameOID

from runwire_server.service.auth.config import TENANT_PATTERN, AuthSettings, JwtSettings
from runwire_server.service.auth.principal import Principal
from runwire_server.service.core.errors import UnauthenticatedError

logger = logging.getLogger(__name__)

#: Shortest time between two JWKS fetches caused by unknown key ids.
JWKS_MISS_COOLDOWN_SECONDS = 30.0
#: Time limit of one JWKS fetch.
JWKS_FETCH_TIMEOUT_SECONDS = 10.0
_KNOWN_ROLES = frozenset({"viewer", "runner", "approver", "editor", "admin"})
_TENANT = re.compile(TENANT_PATTERN)


def _missing() -> UnauthenticatedError:
    return UnauthenticatedError(
        "this call needs credentials: send the metadata 'authorization: Bearer <token>' "
        "(an API key or a JWT) or a client certificate"
    )


class ApiKeys:
    """The configured API keys, kept as SHA-256 digests."""

    def __init__(self, entries: list[tuple[bytes, Principal]]) -> None:
        self._entries = entries

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> ApiKeys:
        """Reads every ``key_file`` now.

        Raises:
            OSError: a key file cannot be read. ValueError: a key file is empty.
        """
        entries = []
        for key in settings.api_keys:
            if key.key_file is not None:
                secret = key.key_file.read_text().strip()
                if not secret:
                    raise ValueError(f"api key file {key.key_file} of {key.principal!r} is empty")
                digest = hashlib.sha256(secret.encode()).digest()
            else:
                assert key.key_sha256 is not None
                digest = bytes.fromhex(key.key_sha256)
            principal = Principal(
                name=key.principal, tenant=key.tenant, roles=frozenset(key.roles), method="api_key"
            )
            entries.append((digest, principal))
        return cls(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, token: str) -> Principal | None:
        """The principal of key ``token``; every digest is compared, in constant time."""
        digest = hashlib.sha256(token.encode()).digest()
        found = None
        for candidate, principal in self._entries:
            if hmac.compare_digest(candidate, digest):
                found = principal
        return found


class JwksKeys:
    """The signing keys of a JWKS file or HTTPS URL, cached.

    A URL is fetched off the event loop (a worker thread), at most every
    ``jwks_refresh_seconds``, and again for an unknown key id at most every
    ``JWKS_MISS_COOLDOWN_SECONDS``. When a refetch fails the old keys stay in
    use, and the next try waits ``JWKS_MISS_COOLDOWN_SECONDS``.
    """

    def __init__(self, settings: JwtSettings) -> None:
        self._settings = settings
        self._set: jwt.PyJWKSet | None = None
        self._fetched = float("-inf")
        self._attempted = float("-inf")
        self._missed = float("-inf")
        self._lock = asyncio.Lock()
        self._client: jwt.PyJWKClient | None = None
        if settings.jwks_url is not None:
            context = (
                ssl.create_default_context(cafile=str(settings.jwks_ca_file))
                if settings.jwks_ca_file is not None
                else None
            )
            self._client = jwt.PyJWKClient(
                settings.jwks_url,
                cache_jwk_set=False,
                cache_keys=False,
                timeout=int(JWKS_FETCH_TIMEOUT_SECONDS),
                ssl_context=context,
            )
        else:
            assert settings.jwks_file is not None
            self._set = jwt.PyJWKSet.from_dict(json.loads(settings.jwks_file.read_text()))

    async def key(self, kid: str | None) -> jwt.PyJWK:
        """The key with id ``kid`` (the only key when the token names none).

        Raises:
            UnauthenticatedError: ``TOKEN_INVALID``: no such key, or the JWKS
                cannot be fetched.
        """
        if self._client is not None:
            now = time.monotonic()
            if self._set is None or now - self._fetched >= self._settings.jwks_refresh_seconds:
                await self._refresh()
            elif self._find(kid) is None and now - self._missed >= JWKS_MISS_COOLDOWN_SECONDS:
                self._missed = now
                await self._refresh()
        found = self._find(kid)
        if found is None:
            raise UnauthenticatedError(
                "the token is signed with a key the server does not know", reason="TOKEN_INVALID"
            )
        return found

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        keys = self._set.keys if self._set is not None else []
        if kid is None:
            return keys[0] if len(keys) == 1 else None
        return next((k for k in keys if k.key_id == kid), None)

    async def _refresh(self) -> None:
        """Fetches the JWKS (one fetch at a time; calls waiting meanwhile share it).

        A failed fetch (unreachable, not JSON, no usable key) keeps the old set,
        used ``JWKS_MISS_COOLDOWN_SECONDS`` more before the next try.

        Raises:
            UnauthenticatedError: ``TOKEN_INVALID``: the fetch failed and there
                is no old set.
        """
        assert self._client is not None
        started = time.monotonic()
        async with self._lock:
            if self._attempted < started:
                try:
                    fetched = await asyncio.to_thread(self._client.get_jwk_set, True)
                except (jwt.PyJWTError, ValueError, OSError) as exc:
                    self._attempted = time.monotonic()
                    logger.warning("cannot fetch the JWKS %s: %s", self._settings.jwks_url, exc)
                    if self._set is not None:
                        self._fetched = (
                            self._attempted
                            - self._settings.jwks_refresh_seconds
                            + JWKS_MISS_COOLDOWN_SECONDS
                        )
                else:
                    self._set = fetched
                    self._fetched = self._attempted = time.monotonic()
            if self._set is None:
                raise UnauthenticatedError(
                    "the server cannot fetch its token signing keys now; retry later",
                    reason="TOKEN_INVALID",
                )


class JwtVerifier:
    """Verifies OIDC access tokens and maps their claims to a principal."""

    def __init__(self, settings: JwtSettings) -> None:
        self._settings = settings
        self._keys = JwksKeys(settings)

    async def verify(self, token: str) -> Principal:
        """The principal of a valid ``token``.

        Raises:
            UnauthenticatedError: ``TOKEN_EXPIRED`` or ``TOKEN_INVALID`` (bad
                signature, issuer, audience, key id, claims).
        """
        settings = self._settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _invalid("the bearer token is not a well-formed JWT") from exc
        key = await self._keys.key(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=settings.algorithms,
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise UnauthenticatedError(
                "the token has expired; get a new one", reason="TOKEN_EXPIRED"
            ) from exc
        except jwt.InvalidAudienceError as exc:
            raise _invalid("the token is not meant for this server (audience)") from exc
        except jwt.InvalidIssuerError as exc:
            raise _invalid("the token's issuer is not trusted") from exc
        except jwt.InvalidSignatureError as exc:
            raise _invalid("the token's signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise _invalid("the token is not valid (its format or claims)") from exc
        return self._principal(claims)

    def _principal(self, claims: dict[str, Any]) -> Principal:
        settings = self._settings
        name = claims.get(settings.principal_claim)
        if not isinstance(name, str) or not name:
            raise _invalid(f"the token has no {settings.principal_claim!r} claim")
        tenant = claims.get(settings.tenant_claim, settings.default_tenant)
        if not isinstance(tenant, str) or not _TENANT.match(tenant):
            raise _invalid(f"the token has no valid {settings.tenant_claim!r} claim")
        raw = claims.get(settings.roles_claim, [])
        roles: Iterable[Any] = raw.split() if isinstance(raw, str) else raw
        if not isinstance(roles, list | tuple) and not isinstance(raw, str):
            raise _invalid(f"the token's {settings.roles_claim!r} claim is not a list")
        return Principal(
            name=name,
            tenant=tenant,
            roles=frozenset(r for r in roles if isinstance(r, str) and r in _KNOWN_ROLES),
            method="jwt",
        )


def _invalid(message: str) -> UnauthenticatedError:
    return UnauthenticatedError(message, reason="TOKEN_INVALID")


def certificate_subjects(pem: bytes) -> list[str]:
    """A PEM certificate's subject common names and URI subject alternative names."""
    certificate = x509.load_pem_x509_certificate(pem)
    subjects = [
        str(attribute.value)
        for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    ]
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return subjects
    return subjects + list(names.value.get_values_for_type(x509.UniformResourceIdentifier))


class Authenticator:
    """Every configured way to authenticate, tried in the order of the module docstring."""

    def __init__(self, settings: AuthSettings) -> None:
        self._keys = ApiKeys.from_settings(settings)
        self._jwt = JwtVerifier(settings.jwt) if settings.jwt is not None else None
        self._certificates = {
            c.subject: Principal(
                name=c.principal,
                tenant=c.tenant,
                roles=frozenset(c.roles),
                method="client_certificate",
            )
            for c in settings.client_certificates
        }

    async def authenticate(self, authorization: str | None, peer_pem: bytes | None) -> Principal:
        """The caller's principal.

        Args:
            authorization: The ``authorization`` metadata value, if any.
            peer_pem: The verified TLS client certificate (PEM), if any.

        Raises:
            UnauthenticatedError: no credentials, or credentials not accepted.
        """
        if authorization:
            scheme, _, token = authorization.strip().partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise UnauthenticatedError("the authorization metadata must read 'Bearer <token>'")
            if self._jwt is not None and token.count(".") == 2:
                return await self._jwt.verify(token)
            principal = self._keys.find(token)
            if principal is None:
                raise UnauthenticatedError("the bearer token is not a known API key or a JWT")
            return principal
        if peer_pem is not None and self._certificates:
            for subject in certificate_subjects(peer_pem):
                principal = self._certificates.get(subject)
                if principal is not None:
                    return principal
            raise UnauthenticatedError(
                "the client certificate's subject is not mapped to a principal"
            )
        raise _missing()
