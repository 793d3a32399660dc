"""Runwire's development tools: never part of the server's wheel.

``devtools.local_model`` runs a small real model for demos and tests. The package
is its own distribution (``devtools/pyproject.toml``, ``runwire-devtools``), which
``scripts/install_local_model.sh`` installs into ``.venv`` in editable mode; the
``runwire`` command imports it only in ``local-model`` and ``demo --local-model``,
and says how to install it when it is missing (as in the Docker image).
"""
