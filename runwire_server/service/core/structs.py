"""``google.protobuf.Struct`` to plain Python, without ``json_format``.

``struct_dict(message)`` gives what ``json_format.MessageToDict`` gives for a
Struct (JSON numbers as ``float``, ``null`` as ``None``), walking the Struct's
own mapping interface instead of the generic, descriptor-driven converter:
runs snapshot their agent's model options with it on every start.
"""

from __future__ import annotations

import math
from typing import Any

from google.protobuf import struct_pb2


def struct_dict(message: struct_pb2.Struct) -> dict[str, Any]:
    """``message`` as a dict of JSON values.

    Raises:
        ValueError: a number is NaN or infinite (JSON cannot carry it), as
            ``json_format.MessageToDict`` raises.
    """
    return {key: _plain(value) for key, value in message.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"{value} is not a JSON number")
        return value
    if isinstance(value, struct_pb2.Struct):
        return struct_dict(value)
    if isinstance(value, struct_pb2.ListValue):
        return [_plain(item) for item in value]
    return value


__all__ = ["struct_dict"]
