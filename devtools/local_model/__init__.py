"""A small real model on this machine: SmolLM2-135M-Instruct on llama.cpp's
OpenAI-compatible server, for agents on the ``openai`` provider.

Demo and test tooling, not server code: used by ``runwire local-model``,
``runwire demo --local-model`` and the tests in ``tests/realmodel``. Needs
``scripts/install_local_model.sh`` (the model file, llama.cpp's server, and this
package installed into ``.venv``).

* ``LocalModelServer`` (``devtools.local_model.server``): starts and stops the
  server process, a context manager.
* ``devtools.local_model.chat_format``: what runs in that process
  (``python -m devtools.local_model``).
* ``devtools.local_model.weather``: ``get_weather``, the demo's tool module.
"""

from devtools.local_model.chat_format import plain_tool_messages
from devtools.local_model.server import (
    CHAT_FORMAT,
    INSTALL_HINT,
    MODEL_NAME,
    LocalModelError,
    LocalModelServer,
    check_server_installed,
    find_model_file,
)

__all__ = [
    "CHAT_FORMAT",
    "INSTALL_HINT",
    "MODEL_NAME",
    "LocalModelError",
    "LocalModelServer",
    "check_server_installed",
    "find_model_file",
    "plain_tool_messages",
]
