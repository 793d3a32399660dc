"""Copies of protobuf records, so a store and its callers never share a message."""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import Message

M = TypeVar("M", bound=Message)


def clone(message: M) -> M:
    """A deep copy of ``message``, of the same type."""
    out = type(message)()
    out.CopyFrom(message)
    return out
