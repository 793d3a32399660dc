"""Built-in server tools: ``echo``, ``calculator``, ``current_time``, ``sleep``."""

from __future__ import annotations

import ast
import asyncio
import math
import operator
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from runwire_server.service.tools.registry import ToolRegistry

#: Longest expression ``calculator`` accepts, in characters.
MAX_EXPRESSION_CHARS = 1_000

#: Largest exponent magnitude ``calculator`` accepts.
MAX_EXPONENT = 1_000

#: Largest integer result (or intermediate value) of ``calculator``, in bits (~4,200
#: decimal digits, under Python's 4,300-digit int-to-str limit).
MAX_INT_BITS = 14_000

#: Longest ``sleep``, in seconds.
MAX_SLEEP_SECONDS = 300.0

Number: TypeAlias = int | float

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


async def echo(text: Annotated[str, Field(description="The text to return")]) -> str:
    """Returns the text it is given, unchanged.

    ``async`` because it never blocks: sync tools run in a worker thread, and
    that hop (and waiting for the GIL) cost 14% of throughput with 64 clients
    running scenario 1 of ``bench/`` (669 vs 588 runs/s).

    Args:
        text: Any text.
    """
    return text


def _power(base: Number, exponent: Number) -> Number:
    if abs(exponent) > MAX_EXPONENT:
        raise ValueError(f"exponent {exponent} is out of range (at most {MAX_EXPONENT})")
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and base.bit_length() * exponent > MAX_INT_BITS + 64
    ):
        raise ValueError("result is too large")
    result: object = base**exponent
    if isinstance(result, complex):
        raise ValueError("result is not a real number")
    assert isinstance(result, int | float)
    return result


def _checked(value: Number) -> Number:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ValueError("result is too large")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("result is too large")
    return value


def _evaluate(node: ast.AST) -> Number:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"unsupported constant {value!r}: only numbers are allowed")
        return _checked(value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        operand = _evaluate(node.operand)
        return operand if isinstance(node.op, ast.UAdd) else -operand
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            return _checked(_power(left, right))
        function = _BINARY.get(type(node.op))
        if function is not None:
            return _checked(function(left, right))
        raise ValueError(f"unsupported operator {type(node.op).__name__}")
    raise ValueError(
        f"unsupported syntax {type(node).__name__}: only numbers, + - * / // % ** and"
        " parentheses are allowed"
    )


def _format_number(value: Number) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


def calculator(
    expression: Annotated[
        str,
        Field(description="Arithmetic expression, e.g. (2 + 3) * 4 / 5", max_length=1_000),
    ],
) -> str:
    """Evaluates an arithmetic expression: numbers, + - * / // % ** and parentheses.

    Args:
        expression: E.g. ``(2 + 3) * 4 / 5``; at most 1,000 characters.

    Returns:
        The value; integral values without a decimal point (``6/2`` gives ``3``).

    Raises:
        ValueError: the expression is too long, not arithmetic (names, calls,
            attributes ...), divides by zero, or its result is out of range
            (exponents beyond ±1,000, integers beyond ~4,200 digits, float overflow).
    """
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
        return _format_number(_evaluate(tree))
    except SyntaxError as error:
        raise ValueError(f"invalid expression: {error.msg}") from None
    except ZeroDivisionError:
        raise ValueError("division by zero") from None
    except OverflowError:
        raise ValueError("result is too large") from None
    except (RecursionError, MemoryError):
        raise ValueError("expression is too deeply nested") from None


def current_time(
    timezone: Annotated[str, Field(description="IANA time zone, e.g. Europe/Paris")] = "UTC",
) -> str:
    """Returns the current date and time in ISO 8601, in an IANA time zone.

    Args:
        timezone: An IANA zone name such as ``UTC`` or ``Europe/Paris``.

    Raises:
        ValueError: unknown time zone.
    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r}") from None
    return datetime.now(zone).isoformat()


async def sleep(
    seconds: Annotated[
        float, Field(ge=0, le=MAX_SLEEP_SECONDS, description="Seconds to wait, 0 to 300")
    ],
) -> str:
    """Waits for a number of seconds, then says so (for testing long-running tools).

    Args:
        seconds: How long to wait, 0 to 300.
    """
    await asyncio.sleep(seconds)
    return f"slept {seconds:g} s"


def register_builtin_tools(registry: ToolRegistry) -> None:
    """Registers ``echo``, ``calculator``, ``current_time`` and ``sleep``.

    Raises:
        ValueError: one of the names is already registered.
    """
    for fn in (echo, calculator, current_time, sleep):
        registry.register(fn, builtin=True)
