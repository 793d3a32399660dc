"""Process-wide logging: one handler on the root logger, text or JSON lines on stderr.

Text lines look like::

    2026-11-22T10:00:00Z INFO runwire_server.service.runtimes.inprocess run started
    run_id=run_1 agent_id=a

(one line in the log)

JSON lines carry the same facts as one object per line::

    {"time": "2026-11-22T10:00:00Z", "level": "INFO",
     "logger": "runwire_server.service.runtimes.inprocess",
     "message": "run started", "run_id": "run_1", "agent_id": "a"}

The ids in ``EXTRA_FIELDS`` are taken from a record's ``extra`` when present
(``logger.info("run started", extra={"run_id": ...})``). Inside ``run_context``
(the in-process runtime's run task, a Temporal activity of a run) every
record without them gets the run's ``run_id``, ``agent_id`` and ``labels``,
also records of libraries (the provider SDKs, httpx, redis-py) that know
nothing of runs.

A run's labels appear as ``labels=key=value,key=value`` (sorted by key; the
same text in JSON), cut to ``MAX_LABEL_LOG_CHARS`` characters in all, so a
run with 32 long labels does not make every line of it long.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

#: Record attributes appended to every line that has them, in this order.
EXTRA_FIELDS = (
    "run_id",
    "agent_id",
    "tool_name",
    "approval_id",
    "principal",
    "tenant",
    "labels",
)

#: Longest rendering of a run's labels on one log line, characters (past it, cut with "…").
MAX_LABEL_LOG_CHARS = 256

#: Chatty libraries kept at WARNING or above (httpx logs every request at INFO).
_QUIET_LOGGERS = ("httpx", "httpcore")

_MARK = "_runwire_handler"

#: (run_id, agent_id, labels) of the run the current task works for; asyncio
#: tasks inherit it from the task that created them.
_RUN: ContextVar[tuple[str, str, Mapping[str, str]] | None] = ContextVar(
    "runwire_run", default=None
)
#: (principal, tenant) of the caller the current task serves; inherited likewise.
_CALLER: ContextVar[tuple[str, str] | None] = ContextVar("runwire_caller", default=None)


def bind_log_context(*, principal: str, tenant: str) -> None:
    """Tags every later log record of the current task (and of tasks it
    creates, such as an in-process run) with the caller's ``principal`` and
    ``tenant``. The authentication interceptor calls it once per RPC; each
    RPC runs in a task of its own."""
    _CALLER.set((principal, tenant))


@contextlib.contextmanager
def run_context(
    run_id: str, agent_id: str = "", labels: Mapping[str, str] | None = None
) -> Iterator[None]:
    """Tags every log record emitted inside the block (and in tasks created
    inside it) with ``run_id``, ``agent_id`` and the run's ``labels``, unless
    the record names its own."""
    token = _RUN.set((run_id, agent_id, dict(labels or {})))
    try:
        yield
    finally:
        _RUN.reset(token)


class RunContextFilter(logging.Filter):
    """Adds the ``run_context`` ids to records that lack them; passes every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = _RUN.get()
        if current is not None:
            run_id, agent_id, labels = current
            if not getattr(record, "run_id", None):
                record.run_id = run_id
            if agent_id and not getattr(record, "agent_id", None):
                record.agent_id = agent_id
            if labels and not getattr(record, "labels", None):
                record.labels = labels
        caller = _CALLER.get()
        if caller is not None:
            if not getattr(record, "principal", None):
                record.principal = caller[0]
            if not getattr(record, "tenant", None):
                record.tenant = caller[1]
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _extras(record: logging.LogRecord) -> dict[str, object]:
    extras = {
        name: getattr(record, name)
        for name in EXTRA_FIELDS
        if getattr(record, name, None) not in (None, "")
    }
    labels = extras.get("labels")
    if isinstance(labels, Mapping):
        if labels:
            extras["labels"] = labels_text(labels)
        else:
            del extras["labels"]
    return extras


def labels_text(labels: Mapping[str, str]) -> str:
    """``key=value,key=value`` sorted by key, at most ``MAX_LABEL_LOG_CHARS``
    characters (cut with "…")."""
    text = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    if len(text) > MAX_LABEL_LOG_CHARS:
        text = text[: MAX_LABEL_LOG_CHARS - 1] + "…"
    return text


def _text_value(value: object) -> str:
    text = str(value)
    if not text or any(c.isspace() or c in "\"'=" for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


class TextFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER MESSAGE key=value ...``; a traceback follows on the next lines."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.name} {record.getMessage()}"
        for name, value in _extras(record).items():
            line += f" {name}={_text_value(value)}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the extra ids, and
    ``exception`` (the formatted traceback) when the record has one."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        body.update({name: str(value) for name, value in _extras(record).items()})
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            body["stack"] = self.formatStack(record.stack_info)
        return json.dumps(body, ensure_ascii=False)


def parse_level(level: str) -> int:
    """The numeric logging level of a level name (case-insensitive).

    Raises:
        ValueError: ``level`` is not a standard level name.
    """
    names = logging.getLevelNamesMapping()
    number = names.get(level.strip().upper())
    if number is None or level.strip().upper() == "NOTSET":
        raise ValueError(
            f"unknown log level {level!r} (use DEBUG, INFO, WARNING, ERROR or CRITICAL)"
        )
    return number


def configure_logging(level: str, fmt: Literal["text", "json"]) -> None:
    """Sends every log record at ``level`` or above to stderr, formatted as ``fmt``.

    Idempotent: calling it again replaces the handler it installed before
    (handlers installed by others are left alone).

    Args:
        level: A level name: DEBUG, INFO, WARNING, ERROR or CRITICAL (any case).
        fmt: ``"text"`` for ``TIME LEVEL LOGGER MESSAGE key=value`` lines,
            ``"json"`` for one JSON object per line.

    Raises:
        ValueError: ``level`` or ``fmt`` is unknown (nothing is changed then).
    """
    number = parse_level(level)
    formatter: logging.Formatter
    if fmt == "text":
        formatter = TextFormatter()
    elif fmt == "json":
        formatter = JsonFormatter()
    else:
        raise ValueError(f"unknown log format {fmt!r} (use text or json)")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
            handler.close()
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _MARK, True)
    handler.setFormatter(formatter)
    handler.addFilter(RunContextFilter())
    root.addHandler(handler)
    root.setLevel(number)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(number, logging.WARNING))
