"""The connection options every Runwire command shares, for plugins of ``runwire``.

A plugin's command that calls a server (the server distribution's ``run`` and
``health``) declares these typer options and turns them into ``Credentials``
with ``credentials_from_options`` (the address with ``resolve_address``), so every
command spells, documents and resolves them alike (each left out comes from its
``RUNWIRE_*`` variable).
``error_line`` is the one line a failed call prints.
"""

from runwire._client import resolve_address
from runwire.cli._shared import (
    EXIT_FAILED,
    EXIT_USAGE,
    AddressOption,
    CaFileOption,
    ClientCertOption,
    ClientKeyOption,
    ServerNameOption,
    TokenOption,
    credentials_from_options,
    error_line,
    fail,
)

__all__ = [
    "EXIT_FAILED",
    "EXIT_USAGE",
    "AddressOption",
    "CaFileOption",
    "ClientCertOption",
    "ClientKeyOption",
    "ServerNameOption",
    "TokenOption",
    "credentials_from_options",
    "error_line",
    "fail",
    "resolve_address",
]
