"""The Runwire server: the gRPC service (``service``), the Temporal worker (``worker``) and
the process wiring and commands (``app``), under one distinctive import name.

The repository folders keep their roles (docs/architecture.md); only the import path
carries the ``runwire_server.`` prefix, so the installed wheel claims no generic
top-level module name.
"""
