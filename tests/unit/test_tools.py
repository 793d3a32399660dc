"""The tool registry (schemas, execution, module loading) and the built-in tools."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from runwire_server.service.core.errors import InvalidArgumentError
from runwire_server.service.tools.builtin import calculator, current_time, register_builtin_tools
from runwire_server.service.tools.registry import ToolOutcome, ToolRegistry, load_modules


class Point(BaseModel):
    x: int
    y: int


def add(a: int, b: int = 2, *, label: str = "sum") -> dict[str, object]:
    """Adds two integers.

    Longer explanation that is not part of the description.
    """
    return {label: a + b}


async def shout(text: Annotated[str, Field(description="What to shout", min_length=1)]) -> str:
    """Shouts
    the text."""
    await asyncio.sleep(0)
    return text.upper()


def explode(reason: str) -> str:
    raise RuntimeError(f"kaboom: {reason}")


def norm(point: Point, mode: Literal["l1", "max"] = "l1", json: bool = False) -> Point | int:
    """Norm of a point (``json`` shadows a BaseModel attribute: still works)."""
    value = abs(point.x) + abs(point.y) if mode == "l1" else max(abs(point.x), abs(point.y))
    return Point(x=value, y=0) if json else value


def scale(x: float, factor: float = Field(2.0, gt=0, description="Multiplier")) -> float:
    return x * factor


def register_tools(registry: ToolRegistry) -> None:
    """Makes this test module a tool module for ``load_modules``."""
    registry.register(add, name="loaded_add")


@pytest.fixture
def registry() -> ToolRegistry:
    tools = ToolRegistry()
    for fn in (add, shout, explode, norm, scale):
        tools.register(fn)
    return tools


def test_schema_from_type_hints(registry: ToolRegistry) -> None:
    spec = registry.spec("add")
    assert spec.name == "add"
    assert spec.description == "Adds two integers."
    params = spec.parameters
    assert params["type"] == "object"
    assert params["properties"]["a"]["type"] == "integer"
    assert params["properties"]["b"] == {"default": 2, "title": "B", "type": "integer"}
    assert params["properties"]["label"]["type"] == "string"
    assert params["required"] == ["a"]
    assert params["additionalProperties"] is False

    shout_spec = registry.spec("shout")
    assert shout_spec.description == "Shouts the text."
    assert shout_spec.parameters["properties"]["text"]["description"] == "What to shout"
    assert shout_spec.parameters["properties"]["text"]["minLength"] == 1

    norm_params = registry.spec("norm").parameters
    assert set(norm_params["properties"]) == {"point", "mode", "json"}
    assert norm_params["properties"]["mode"]["enum"] == ["l1", "max"]
    assert "Point" in norm_params["$defs"]

    factor = registry.spec("scale").parameters["properties"]["factor"]
    assert factor["default"] == 2.0
    assert factor["exclusiveMinimum"] == 0
    assert factor["description"] == "Multiplier"
    assert registry.spec("scale").description == ""


def test_register_rules(registry: ToolRegistry) -> None:
    with pytest.raises(ValueError, match="already registered"):
        registry.register(add)
    with pytest.raises(ValueError, match="invalid tool name"):
        registry.register(add, name="bad name!")
    with pytest.raises(ValueError, match="by keyword"):
        registry.register(lambda *args: None, name="varargs")
    tool = registry.register(add, name="add2", description="custom")
    assert tool.description == "custom"
    assert registry.get("add2") is tool
    assert registry.get("missing") is None
    assert registry.names() == ["add", "add2", "explode", "norm", "scale", "shout"]
    with pytest.raises(KeyError):
        registry.spec("missing")


async def test_execute_sync_and_async(registry: ToolRegistry) -> None:
    outcome = await registry.execute("add", {"a": 1, "b": 5, "label": "total"})
    assert outcome == ToolOutcome(content='{"total":6}', is_error=False)
    assert await registry.execute("shout", {"text": "hi"}) == ToolOutcome("HI", False)
    assert await registry.execute("norm", {"point": {"x": -3, "y": 4}}) == ToolOutcome("7", False)
    outcome = await registry.execute("norm", {"point": {"x": 1, "y": 2}, "json": True})
    assert json.loads(outcome.content) == {"x": 3, "y": 0}
    assert await registry.execute("scale", {"x": 1.5}) == ToolOutcome("3.0", False)
    assert (await registry.execute("scale", {"x": 1, "factor": 0})).is_error


async def test_invalid_arguments_are_errors(registry: ToolRegistry) -> None:
    outcome = await registry.execute("add", {"b": "x", "extra": 1})
    assert outcome.is_error
    assert "invalid arguments for tool 'add'" in outcome.content
    assert "a: Field required" in outcome.content
    assert "b: Input should be a valid integer" in outcome.content
    assert "extra: Extra inputs are not permitted" in outcome.content
    outcome = await registry.execute("norm", {"point": {"x": 1}, "mode": "l2"})
    assert outcome.is_error
    assert "point.y" in outcome.content
    assert "mode" in outcome.content


async def test_unknown_tool_is_error(registry: ToolRegistry) -> None:
    outcome = await registry.execute("nope", {})
    assert outcome.is_error
    assert "unknown tool 'nope'" in outcome.content
    assert "add" in outcome.content


async def test_tool_exception_is_error(registry: ToolRegistry) -> None:
    outcome = await registry.execute("explode", {"reason": "test"})
    assert outcome == ToolOutcome("tool 'explode' failed: RuntimeError: kaboom: test", True)


async def test_cancellation_propagates() -> None:
    running = asyncio.Event()

    async def wait_forever() -> str:
        """Waits until cancelled."""
        running.set()
        await asyncio.Event().wait()
        return "never"

    tools = ToolRegistry()
    tools.register(wait_forever)
    task = asyncio.create_task(tools.execute("wait_forever", {}))
    await running.wait()  # cancelled inside the tool
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_builtin_tools_through_registry() -> None:
    tools = ToolRegistry()
    register_builtin_tools(tools)
    assert tools.names() == ["calculator", "current_time", "echo", "sleep"]
    assert await tools.execute("echo", {"text": "hey"}) == ToolOutcome("hey", False)
    assert await tools.execute("calculator", {"expression": "6*7"}) == ToolOutcome("42", False)
    assert await tools.execute("sleep", {"seconds": 0.01}) == ToolOutcome("slept 0.01 s", False)
    too_long = await tools.execute("sleep", {"seconds": 301})
    assert too_long.is_error
    assert "less than or equal to 300" in too_long.content
    bad = await tools.execute("calculator", {"expression": "__import__('os')"})
    assert bad.is_error
    assert "unsupported syntax Call" in bad.content
    zone = await tools.execute("current_time", {"timezone": "Mars/Olympus"})
    assert zone.is_error
    assert "unknown time zone 'Mars/Olympus'" in zone.content
    schema = tools.spec("sleep").parameters["properties"]["seconds"]
    assert (schema["minimum"], schema["maximum"]) == (0, 300)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("2 ** 3 ** 2", "512"),
        ("-2 ** 2", "-4"),
        ("6 / 2", "3"),
        ("7 / 2", "3.5"),
        ("7 // 2", "3"),
        ("-7 // 2", "-4"),
        ("7 % 3", "1"),
        ("+5 - -5", "10"),
        ("2 ** -1", "0.5"),
        ("0.1 + 0.2", "0.30000000000000004"),
        ("1.5e3", "1500"),
        ("2 ** 100", "1267650600228229401496703205376"),
    ],
)
def test_calculator(expression: str, expected: str) -> None:
    assert calculator(expression) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("x + 1", "unsupported syntax Name"),
        ("abs(-1)", "unsupported syntax Call"),
        ("(1).real", "unsupported syntax Attribute"),
        ("1 < 2", "unsupported syntax Compare"),
        ("'a' * 3", "unsupported constant 'a'"),
        ("True + 1", "unsupported constant True"),
        ("1j", "unsupported constant 1j"),
        ("1 & 3", "unsupported operator BitAnd"),
        ("1 +", "invalid expression"),
        ("1 / 0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("(-8) ** 0.5", "not a real number"),
        ("10.0 ** 400", "too large"),
        ("1e308 * 10", "too large"),
        ("2 ** 1001", "out of range"),
        ("(10 ** 1000) ** 10", "too large"),
        ("1" * 1001, "longer than 1000"),
    ],
)
def test_calculator_rejects(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match="^.*" + message.replace("(", r"\(").replace("*", r"\*")):
        calculator(expression)


def test_calculator_rejects_huge_power_quickly() -> None:
    started = time.monotonic()
    for expression in ("9**9**9", "9**9**9**9", "(9**999)**999", "-" * 990 + "1"):
        with pytest.raises(ValueError):
            calculator(expression)
    assert time.monotonic() - started < 1.0


def test_current_time_in_zone() -> None:
    stamp = datetime.fromisoformat(current_time("Asia/Kolkata"))
    assert stamp.utcoffset() == timedelta(hours=5, minutes=30)
    utc = datetime.fromisoformat(current_time())
    assert utc.utcoffset() == timedelta(0)
    assert abs((stamp - utc).total_seconds()) < 5
    with pytest.raises(ValueError, match="unknown time zone"):
        current_time("Not/AZone")
    with pytest.raises(ValueError, match="unknown time zone"):
        current_time("../etc/passwd")


def test_load_modules() -> None:
    tools = ToolRegistry()
    load_modules(tools, [__name__])
    assert tools.names() == ["loaded_add"]


@pytest.mark.parametrize(
    ("module", "message"),
    [
        ("no_such_module_xyz", "cannot be imported"),
        ("json", "has no register_tools"),
        (__name__, "register_tools failed: ValueError"),  # loaded twice: duplicate name
    ],
)
def test_load_modules_errors(module: str, message: str) -> None:
    tools = ToolRegistry()
    tools.register(add, name="loaded_add")
    with pytest.raises(InvalidArgumentError) as caught:
        load_modules(tools, [module])
    assert caught.value.reason == "TOOL_MODULE_INVALID"
    assert caught.value.metadata == {"module": module}
    assert message in caught.value.message
    assert module in caught.value.message
