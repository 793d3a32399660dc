"""The server's listeners: which addresses may be bound, and how.

* **Secure by default** (``check_listen``): without authentication configured
  (``settings.auth.enabled`` is False) the server binds only loopback addresses
  (``127.0.0.0/8``, ``::1``, ``localhost``) and Unix sockets (``unix:PATH``,
  ``unix-abstract:NAME``); any other address is refused before anything is
  bound, unless ``settings.insecure`` is True (``runwire serve --insecure``,
  ``RUNWIRE_INSECURE=true``).
* **TLS** (``ServerTls``): with ``tls_cert_file`` and ``tls_key_file`` set,
  every ``host:port`` listener serves TLS; with ``tls_client_ca_file`` too, a
  client certificate signed by that CA is required (mutual TLS). The files are
  watched: grpc asks for the certificate configuration before each new
  connection's handshake (``grpc.dynamic_ssl_server_credentials``), and a
  change of any file's modification time, size or inode makes it re-read them,
  so a rotated certificate is served to new connections without a restart.
  Open connections keep the certificate they were made with.
* **Unix sockets** stay plaintext (only processes that can open the socket
  file reach them); their socket file gets ``settings.unix_socket_mode``.

``bind_listeners`` binds every address of ``settings.listen`` on a grpc.aio
server accordingly.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import pathlib
import ssl
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import grpc

if TYPE_CHECKING:
    from runwire_server.app.config import Settings

logger = logging.getLogger(__name__)

__all__ = [
    "ListenConfigError",
    "ServerTls",
    "bind_listeners",
    "check_listen",
    "is_local_address",
    "unix_socket_path",
]

_UNIX_PREFIXES = ("unix:", "unix-abstract:")


class ListenConfigError(ValueError):
    """The listen configuration is refused: an address other than loopback or
    a Unix socket without authentication, half a TLS configuration, or a TLS
    file that is missing or invalid. ``str(error)`` is the message for the
    operator."""


def is_local_address(address: str) -> bool:
    """True when ``address`` (a ``listen`` entry) is reachable only from this
    machine: ``unix:PATH``, ``unix-abstract:NAME``, or ``HOST:PORT`` where
    HOST is ``localhost`` or a loopback IP (``127.0.0.0/8``, ``[::1]``).
    Other host names are not resolved and count as not local; so do
    ``0.0.0.0``, ``[::]`` and an empty host."""
    if address.startswith(_UNIX_PREFIXES):
        return True
    host = address.rpartition(":")[0].strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def unix_socket_path(address: str) -> pathlib.Path | None:
    """The socket file of a ``unix:PATH`` (or ``unix:///ABSOLUTE``) address;
    None for other addresses (``unix-abstract:`` has no file)."""
    if not address.startswith("unix:"):
        return None
    return pathlib.Path(address.removeprefix("unix:").removeprefix("//"))


def _insecure_message(addresses: Sequence[str]) -> str:
    return (
        f"refusing to listen on {', '.join(addresses)} without authentication: anyone who "
        "can reach it could call every RPC (read, run, approve, delete). Configure "
        "authentication in the config file (an [[auth.api_keys]] table, [auth.jwt] or "
        "[[auth.client_certificates]]; see docs/security.md), listen on loopback "
        "(127.0.0.1, [::1], localhost) or a unix:PATH socket, or pass --insecure "
        "(RUNWIRE_INSECURE=true) to serve without authentication anyway"
    )


def _exposed(settings: Settings) -> list[str]:
    """The non-local addresses of ``settings.listen`` and ``http_listen`` when auth is off."""
    if settings.auth.enabled:
        return []
    return [a for a in (*settings.listen, *settings.http_listen) if not is_local_address(a)]


def check_listen(settings: Settings) -> None:
    """Checks, before anything is bound, that ``settings`` may be served.

    Raises:
        ListenConfigError: a non-local address (``is_local_address``) without
            authentication and without ``insecure``; only one of
            ``tls_cert_file``/``tls_key_file`` set; ``tls_client_ca_file``
            without them; a TLS file missing, unreadable, not PEM, or a key
            that does not match its certificate.
    """
    exposed = _exposed(settings)
    if exposed and not settings.insecure:
        raise ListenConfigError(_insecure_message(exposed))
    tls = ServerTls.from_settings(settings)
    if tls is not None:
        tls.load()


@dataclasses.dataclass
class ServerTls:
    """Server TLS credentials read from PEM files, re-read when they change.

    Attributes:
        cert_file: the certificate chain the server presents (leaf first).
        key_file: its private key (unencrypted PEM).
        client_ca_file: CA bundle client certificates must chain to; None
            means no client certificate is asked for.
    """

    cert_file: pathlib.Path
    key_file: pathlib.Path
    client_ca_file: pathlib.Path | None = None
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)
    _loaded: tuple[tuple[int, int, int], ...] | None = dataclasses.field(default=None, repr=False)
    _warned: str | None = dataclasses.field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerTls | None:
        """The TLS configuration of ``settings``; None when TLS is off.

        Raises:
            ListenConfigError: only one of ``tls_cert_file``/``tls_key_file``
                is set, or ``tls_client_ca_file`` is set without them.
        """
        cert, key, client_ca = (
            settings.tls_cert_file,
            settings.tls_key_file,
            settings.tls_client_ca_file,
        )
        if cert is None and key is None:
            if client_ca is not None:
                raise ListenConfigError(
                    "tls_client_ca_file is set but TLS is off: set tls_cert_file and "
                    "tls_key_file (RUNWIRE_TLS_CERT_FILE, RUNWIRE_TLS_KEY_FILE) too"
                )
            return None
        if cert is None or key is None:
            given, missing = (
                ("tls_cert_file", "tls_key_file")
                if key is None
                else ("tls_key_file", "tls_cert_file")
            )
            raise ListenConfigError(
                f"{given} is set but {missing} is not: TLS needs both the certificate "
                f"and its private key (RUNWIRE_{missing.upper()})"
            )
        return cls(cert_file=cert, key_file=key, client_ca_file=client_ca)

    @property
    def files(self) -> tuple[pathlib.Path, ...]:
        """The files this configuration reads."""
        extra = () if self.client_ca_file is None else (self.client_ca_file,)
        return (self.cert_file, self.key_file, *extra)

    def _signature(self) -> tuple[tuple[int, int, int], ...]:
        """Modification time, size and inode of each file (``stat`` follows
        symlinks, so a Kubernetes secret's atomic swap shows as a change)."""
        stats = [os.stat(path) for path in self.files]
        return tuple((s.st_mtime_ns, s.st_size, s.st_ino) for s in stats)

    def _validate(self) -> None:
        """Checks the files with the ``ssl`` module (a readable PEM chain, a key
        that matches it, a readable CA bundle), so a bad or half-written file
        never reaches grpc."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)

        def no_password() -> bytes:
            raise ListenConfigError(f"{self.key_file}: encrypted private keys are not supported")

        try:
            context.load_cert_chain(self.cert_file, self.key_file, password=no_password)
        except ssl.SSLError as exc:
            reason = (
                "the key does not match the certificate"
                if exc.reason == "KEY_VALUES_MISMATCH"
                else exc.reason or str(exc)
            )
            raise ListenConfigError(
                f"cannot use TLS certificate {self.cert_file} with key {self.key_file}: {reason}"
            ) from None
        except OSError as exc:
            raise ListenConfigError(
                f"cannot read {exc.filename or 'a TLS file'}: {exc.strerror or exc}"
            ) from None
        if self.client_ca_file is not None:
            try:
                context.load_verify_locations(cafile=self.client_ca_file)
            except ssl.SSLError as exc:
                raise ListenConfigError(
                    f"cannot use client CA file {self.client_ca_file}: {exc.reason or exc}"
                ) from None
            except OSError as exc:
                raise ListenConfigError(
                    f"cannot read client CA file {self.client_ca_file}: {exc.strerror or exc}"
                ) from None

    def _read_signature(self) -> tuple[tuple[int, int, int], ...]:
        try:
            return self._signature()
        except OSError as exc:
            raise ListenConfigError(
                f"cannot read {exc.filename or 'a TLS file'}: {exc.strerror or exc}"
            ) from None

    def load(self) -> grpc.ServerCertificateConfiguration:
        """Validates and reads the files now.

        Raises:
            ListenConfigError: a file is missing, unreadable or invalid, or
                changed while it was read.
        """
        before = self._read_signature()
        self._validate()
        try:
            key, chain = self.key_file.read_bytes(), self.cert_file.read_bytes()
            roots = None if self.client_ca_file is None else self.client_ca_file.read_bytes()
        except OSError as exc:
            raise ListenConfigError(
                f"cannot read {exc.filename or 'a TLS file'}: {exc.strerror or exc}"
            ) from None
        if self._read_signature() != before:
            raise ListenConfigError("TLS files changed while they were read")
        configuration = grpc.ssl_server_certificate_configuration(
            [(key, chain)], root_certificates=roots
        )
        self._loaded = before
        return configuration

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """grpc's certificate-configuration fetcher, called on grpc's threads
        before each handshake: a new configuration when the files changed
        since the last load, else None (keep the current one). A change that
        does not validate (say, a certificate whose new key is not written
        yet) keeps the current configuration, is logged once, and is retried
        at the next handshake."""
        with self._lock:
            try:
                if self._signature() == self._loaded:
                    return None
                configuration = self.load()
            except (OSError, ListenConfigError) as exc:
                if str(exc) != self._warned:
                    logger.warning("TLS files changed but are not usable (yet): %s", exc)
                    self._warned = str(exc)
                return None
            self._warned = None
            logger.info("TLS certificate reloaded from %s", self.cert_file)
            return configuration

    def credentials(self) -> grpc.ServerCredentials:
        """Server credentials that serve the files' current contents; mutual
        TLS when ``client_ca_file`` is set.

        Raises:
            ListenConfigError: a file is missing, unreadable or invalid now.
        """
        initial = self.load()
        return grpc.dynamic_ssl_server_credentials(
            initial,
            self._fetch,
            require_client_authentication=self.client_ca_file is not None,
        )


def bind_listeners(server: grpc.aio.Server, settings: Settings) -> list[str]:
    """Binds every ``settings.listen`` address on ``server`` (not started yet):
    ``host:port`` with TLS when configured, plaintext otherwise; ``unix:PATH``
    plaintext, its socket file then set to ``settings.unix_socket_mode``.
    Returns the bound addresses (``host:port`` with the real port, or the
    ``unix:`` address as given).

    Raises:
        ListenConfigError: ``check_listen`` refuses the settings.
        RuntimeError: an address cannot be bound (in use, bad path).
    """
    check_listen(settings)
    exposed = _exposed(settings)
    if exposed:
        logger.warning(
            "serving %s without authentication (insecure): anyone who can reach it may "
            "call every RPC",
            ", ".join(exposed),
        )
    tls = ServerTls.from_settings(settings)
    credentials = None if tls is None else tls.credentials()
    mode = int(settings.unix_socket_mode, 8)
    addresses: list[str] = []
    for address in settings.listen:
        if address.startswith(_UNIX_PREFIXES):
            server.add_insecure_port(address)
            path = unix_socket_path(address)
            if path is not None:
                path.chmod(mode)
            addresses.append(address)
            continue
        if credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
        host = address.rsplit(":", 1)[0]
        addresses.append(f"{host}:{port}")
    return addresses
