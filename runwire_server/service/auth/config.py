"""The ``[auth]`` settings: who may call, and how they prove it.

Three ways to authenticate, any of which may be configured (none: auth off,
every caller is the ``anonymous`` admin of tenant ``default``):

- ``[[auth.api_keys]]``: static keys, stored as SHA-256 hashes (or read from a file);
- ``[auth.jwt]``: OIDC access tokens checked against a JWKS (file or HTTPS URL);
- ``[[auth.client_certificates]]``: mutual-TLS client certificates, by subject.

docs/security.md explains each, with examples.
"""

from __future__ import annotations

import pathlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The roles, least to most (docs/security.md has the permission table).
Role = Literal["viewer", "runner", "approver", "editor", "admin"]
#: Tenant and principal names: safe in Redis keys, logs and workflow memos.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@:/-]{0,127}$"
TENANT_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
#: The tenant of every resource when auth is off.
DEFAULT_TENANT = "default"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiKey(_Strict):
    """One static API key (``authorization: Bearer <key>``).

    Exactly one of ``key_sha256`` (hex SHA-256 of the key; the key itself is
    never stored) or ``key_file`` (a file holding the key, e.g. a mounted
    secret; read at start) is set.
    """

    principal: str = Field(pattern=NAME_PATTERN, description="Who the key's holder is.")
    tenant: str = Field(
        default=DEFAULT_TENANT,
        pattern=TENANT_PATTERN,
        description="The tenant everything the key's holder creates and sees belongs to.",
    )
    roles: list[Role] = Field(min_length=1, description="What the holder may do.")
    key_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description='Hex SHA-256 of the key (`printf %s "$KEY" | sha256sum`).',
    )
    key_file: pathlib.Path | None = Field(
        default=None, description="A file holding the key (a mounted secret), read at start."
    )

    @model_validator(mode="after")
    def _one_source(self) -> ApiKey:
        if (self.key_sha256 is None) == (self.key_file is None):
            raise ValueError(
                f"api key of {self.principal!r}: set exactly one of key_sha256 or key_file"
            )
        return self


class JwtSettings(_Strict):
    """OIDC access tokens (JWTs) signed by keys of a JWKS."""

    jwks_file: pathlib.Path | None = Field(default=None, description="A JWKS JSON file.")
    jwks_url: str | None = Field(
        default=None,
        pattern=r"^https://",
        description="HTTPS URL of the issuer's JWKS (fetched off the event loop, cached).",
    )
    jwks_ca_file: pathlib.Path | None = Field(
        default=None, description="CA bundle to verify jwks_url with (default: system CAs)."
    )
    jwks_refresh_seconds: float = Field(
        default=300.0, gt=0, description="How long a fetched JWKS is used before a refetch."
    )
    issuer: str = Field(min_length=1, description="Required `iss`.")
    audience: str = Field(min_length=1, description="Required in `aud`.")
    algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"],
        min_length=1,
        description="Signature algorithms accepted (never `none` or HMAC).",
    )
    leeway_seconds: float = Field(
        default=60.0, ge=0, le=600, description="Clock skew allowed on exp/nbf/iat."
    )
    principal_claim: str = Field(default="sub", description="The claim naming the principal.")
    tenant_claim: str = Field(default="tenant", description="The claim naming the tenant.")
    roles_claim: str = Field(
        default="roles", description="A list of role names, or one space-separated string."
    )
    default_tenant: str | None = Field(
        default=None,
        pattern=TENANT_PATTERN,
        description="Tenant of tokens without the tenant claim (refused when unset).",
    )

    @field_validator("algorithms")
    @classmethod
    def _asymmetric(cls, value: list[str]) -> list[str]:
        refused = [a for a in value if a.lower() == "none" or a.upper().startswith("HS")]
        if refused:
            raise ValueError(
                f"[auth.jwt] algorithms: {', '.join(refused)} refused: a JWKS holds public "
                "keys, so only asymmetric algorithms are accepted"
            )
        return value

    @model_validator(mode="after")
    def _one_source(self) -> JwtSettings:
        if (self.jwks_file is None) == (self.jwks_url is None):
            raise ValueError("[auth.jwt]: set exactly one of jwks_file or jwks_url")
        return self


class ClientCertificate(_Strict):
    """A mutual-TLS client certificate's identity: its subject common name
    or a URI subject alternative name, mapped to a principal."""

    subject: str = Field(min_length=1, description="CN, or a URI SAN (spiffe://...).")
    principal: str = Field(pattern=NAME_PATTERN, description="Who the holder is.")
    tenant: str = Field(
        default=DEFAULT_TENANT, pattern=TENANT_PATTERN, description="The holder's tenant."
    )
    roles: list[Role] = Field(min_length=1, description="What the holder may do.")


class AuthSettings(_Strict):
    """``[auth]``: authentication is on when any method is configured."""

    api_keys: list[ApiKey] = Field(default_factory=list)
    jwt: JwtSettings | None = None
    client_certificates: list[ClientCertificate] = Field(default_factory=list)

    @property
    def enabled(self) -> bool:
        """True when any authentication method is configured."""
        return bool(self.api_keys or self.jwt or self.client_certificates)
