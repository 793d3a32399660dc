"""``struct_dict`` gives what ``json_format.MessageToDict`` gives for any Struct."""

from __future__ import annotations

import math
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from hypothesis import given
from hypothesis import strategies as st

from runwire_server.service.core.structs import struct_dict

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(-(2**53), 2**53)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


@given(st.dictionaries(st.text(max_size=10), JSON, max_size=8))
def test_the_same_as_json_format(value: dict[str, Any]) -> None:
    message = struct_pb2.Struct()
    message.update(value)
    assert struct_dict(message) == json_format.MessageToDict(message)


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_numbers_json_cannot_carry_are_refused(number: float) -> None:
    message = struct_pb2.Struct()
    message.update({"deep": [{"x": number}]})
    with pytest.raises(ValueError):
        json_format.MessageToDict(message)
    with pytest.raises(ValueError):
        struct_dict(message)
