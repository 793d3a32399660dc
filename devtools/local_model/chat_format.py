"""The llama.cpp server process: llama.cpp's server with Runwire's chat format.

``chatml-function-calling``'s prompt template leaves out ``tool`` messages, so the
model would never see a tool's result, and shows past tool calls in a syntax that
a small model copies instead of answering. The server process
(``python -m devtools.local_model`` + the ``llama_cpp.server`` arguments, started by
``LocalModelServer``) therefore registers the chat format ``CHAT_FORMAT`` (the same
handler, with tool calls and results rewritten as plain text,
``plain_tool_messages``) and runs ``llama_cpp.server``'s ``main``. It stops by
itself once the process that started it is gone.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from devtools.local_model.server import BASE_CHAT_FORMAT, CHAT_FORMAT

__all__ = ["plain_tool_messages", "serve_llama"]

#: How often the server process checks that its parent is alive, seconds.
PARENT_CHECK_SECONDS = 1.0


def plain_tool_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rewrites tool calls and tool results as plain text the model can follow.

    ``chatml-function-calling``'s template renders no ``tool`` messages at all, so the
    model would never see a tool's result; and it renders past tool calls in its
    ``functions.NAME:`` syntax, which a call without tools does not explain, so a small
    model copies it instead of answering. So an assistant message's tool calls become
    its text (``I called get_weather({"city": "Paris"}).``) and each ``tool`` message a
    user message (``get_weather returned: <content>``, named after the call with that
    ``tool_call_id``; ``the tool`` when none matches).

    Args:
        messages: Chat Completions messages (JSON objects).

    Returns:
        New message objects; messages of other roles are copied unchanged.
    """
    names: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "tool":
            name = names.get(str(message.get("tool_call_id") or ""), "") or "the tool"
            out.append({"role": "user", "content": f"{name} returned: {_content_text(message)}"})
            continue
        calls = message.get("tool_calls") if role == "assistant" else None
        if not calls:
            out.append(dict(message))
            continue
        said = [_content_text(message)] if _content_text(message) else []
        for call in calls:
            function = call.get("function") or {}
            name = str(function.get("name") or "")
            names[str(call.get("id") or "")] = name
            said.append(f"I called {name}({function.get('arguments') or ''}).")
        out.append({"role": "assistant", "content": " ".join(said)})
    return out


def _content_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return "" if content is None else str(content)


def _stop_with_parent(interval_seconds: float = PARENT_CHECK_SECONDS) -> None:
    """Sends this process SIGTERM once its parent is gone (it was re-parented), so a
    server whose ``LocalModelServer`` died without ``stop`` does not linger."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval_seconds)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def serve_llama(argv: Sequence[str]) -> None:
    """Runs llama.cpp's server in this process, with ``CHAT_FORMAT`` registered.

    Args:
        argv: ``python -m llama_cpp.server`` arguments (``--model``, ``--port``, ...).

    Raises:
        ModuleNotFoundError: ``llama-cpp-python[server]`` is not installed.
        SystemExit: from the server's argument parser or when it stops.
    """
    # Imported by name: llama_cpp is optional, and typed, which mypy would check only
    # where it is installed.
    chat_format = importlib.import_module("llama_cpp.llama_chat_format")
    base_handler = chat_format.get_chat_completion_handler(BASE_CHAT_FORMAT)

    def handler(**kwargs: Any) -> Any:
        kwargs["messages"] = plain_tool_messages(kwargs.get("messages") or [])
        return base_handler(**kwargs)

    chat_format.register_chat_completion_handler(CHAT_FORMAT)(handler)
    _stop_with_parent()
    server = importlib.import_module("llama_cpp.server.__main__")
    sys.argv = ["llama_cpp.server", *argv]
    server.main()
