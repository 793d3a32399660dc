"""A throwaway test PKI written as PEM files: a CA, a server certificate and a
client certificate (for mutual TLS), built with the ``cryptography`` package.

``make_pki(directory)`` writes everything and returns the paths (``Pki``).
``issue_server_certificate`` writes another server certificate, signed by the
same CA or by a new one (``make_ca``), for rotation tests; ``issue_client_certificate``
writes another client certificate. Keys are ECDSA P-256; certificates are valid
from an hour ago for a day. For tests only: keys are written unencrypted.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import os
import pathlib
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "SPIFFE_TRUST_DOMAIN",
    "CertificateAuthority",
    "Pki",
    "issue_client_certificate",
    "issue_server_certificate",
    "load_certificate",
    "make_ca",
    "make_pki",
]

#: Trust domain of the client certificates' URI SAN: ``spiffe://runwire.test/<subject>``.
SPIFFE_TRUST_DOMAIN = "runwire.test"

_VALIDITY = datetime.timedelta(days=1)
_BACKDATE = datetime.timedelta(hours=1)


@dataclasses.dataclass(frozen=True)
class CertificateAuthority:
    """A CA's certificate and private key (PEM files)."""

    cert_file: pathlib.Path
    key_file: pathlib.Path


@dataclasses.dataclass(frozen=True)
class Pki:
    """The PEM files of a test PKI: one CA, one server certificate, one client
    certificate (CN ``client_subject``, URI SAN ``spiffe://runwire.test/<client_subject>``)."""

    ca_file: pathlib.Path
    ca_key_file: pathlib.Path
    server_cert_file: pathlib.Path
    server_key_file: pathlib.Path
    client_cert_file: pathlib.Path
    client_key_file: pathlib.Path
    client_subject: str

    @property
    def ca(self) -> CertificateAuthority:
        """The CA that signed both certificates."""
        return CertificateAuthority(self.ca_file, self.ca_key_file)

    @property
    def client_uri(self) -> str:
        """The client certificate's URI SAN."""
        return spiffe_uri(self.client_subject)


def spiffe_uri(subject: str) -> str:
    """The URI SAN given to the client certificate of ``subject``."""
    return f"spiffe://{SPIFFE_TRUST_DOMAIN}/{subject}"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write(path: pathlib.Path, data: bytes, *, private: bool = False) -> None:
    """Writes ``data`` to ``path`` atomically (a temporary file renamed over it),
    so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    if private:
        temporary.chmod(0o600)
    os.replace(temporary, path)


def _write_key(path: pathlib.Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(path, pem, private=True)


def _write_cert(path: pathlib.Path, cert: x509.Certificate) -> None:
    _write(path, cert.public_bytes(serialization.Encoding.PEM))


def load_certificate(path: pathlib.Path) -> x509.Certificate:
    """The first certificate of PEM file ``path``."""
    return x509.load_pem_x509_certificate(path.read_bytes())


def _load_ca(ca: CertificateAuthority) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = serialization.load_pem_private_key(ca.key_file.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey), "test CAs have EC keys"
    return load_certificate(ca.cert_file), key


def make_ca(
    directory: pathlib.Path, *, name: str = "Runwire Test CA", stem: str = "ca"
) -> CertificateAuthority:
    """Writes a new self-signed CA to ``directory/<stem>.pem`` and ``<stem>-key.pem``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    authority = CertificateAuthority(directory / f"{stem}.pem", directory / f"{stem}-key.pem")
    _write_key(authority.key_file, key)
    _write_cert(authority.cert_file, cert)
    return authority


def _leaf(
    ca: CertificateAuthority,
    *,
    common_name: str,
    names: Sequence[x509.GeneralName],
    usage: x509.ObjectIdentifier,
    cert_file: pathlib.Path,
    key_file: pathlib.Path,
) -> x509.Certificate:
    ca_cert, ca_key = _load_ca(ca)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    # The key first: a watcher that sees the new certificate finds its key already there.
    _write_key(key_file, key)
    _write_cert(cert_file, cert)
    return cert


def _server_names(names: Sequence[str]) -> list[x509.GeneralName]:
    result: list[x509.GeneralName] = []
    for name in names:
        try:
            result.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            result.append(x509.DNSName(name))
    return result


def issue_server_certificate(
    ca: CertificateAuthority,
    cert_file: pathlib.Path,
    key_file: pathlib.Path,
    *,
    server_names: Sequence[str] = ("localhost", "127.0.0.1"),
) -> x509.Certificate:
    """Writes a server certificate signed by ``ca`` (DNS or IP SANs for
    ``server_names``, CN the first name) and its key, replacing the files
    atomically (key first); returns the certificate."""
    return _leaf(
        ca,
        common_name=server_names[0],
        names=_server_names(server_names),
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        cert_file=cert_file,
        key_file=key_file,
    )


def issue_client_certificate(
    ca: CertificateAuthority,
    cert_file: pathlib.Path,
    key_file: pathlib.Path,
    *,
    subject: str,
) -> x509.Certificate:
    """Writes a client certificate signed by ``ca`` (CN ``subject``, URI SAN
    ``spiffe://runwire.test/<subject>``) and its key; returns the certificate."""
    return _leaf(
        ca,
        common_name=subject,
        names=[x509.UniformResourceIdentifier(spiffe_uri(subject))],
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        cert_file=cert_file,
        key_file=key_file,
    )


def make_pki(
    directory: pathlib.Path,
    *,
    server_names: Sequence[str] = ("localhost", "127.0.0.1"),
    client_subject: str = "client-1",
) -> Pki:
    """Writes a CA, a server certificate for ``server_names`` and a client
    certificate for ``client_subject`` into ``directory`` (created if missing):
    ``ca.pem``, ``ca-key.pem``, ``server.pem``, ``server-key.pem``,
    ``client.pem``, ``client-key.pem``."""
    ca = make_ca(directory)
    pki = Pki(
        ca_file=ca.cert_file,
        ca_key_file=ca.key_file,
        server_cert_file=directory / "server.pem",
        server_key_file=directory / "server-key.pem",
        client_cert_file=directory / "client.pem",
        client_key_file=directory / "client-key.pem",
        client_subject=client_subject,
    )
    issue_server_certificate(
        ca, pki.server_cert_file, pki.server_key_file, server_names=server_names
    )
    issue_client_certificate(ca, pki.client_cert_file, pki.client_key_file, subject=client_subject)
    return pki
