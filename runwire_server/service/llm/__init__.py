"""Model providers behind one streaming protocol: an extension point.

A provider implements ``ModelProvider.stream(ModelRequest)``, yielding ``TextDelta``,
``ReasoningDelta`` (from ``runwire_server.service.llm.base``), ``ToolCallDelta`` and
``UsageReport`` chunks and raising ``ModelError``; it is added with
``ProviderRegistry.register``. Built in: ``scripted`` (tests, demos, benchmarks),
``openai`` (any OpenAI-compatible Chat Completions API) and ``anthropic`` (the
Messages API), their SDKs loaded on first use.
"""

from runwire_server.service.llm.base import (
    ModelChunk,
    ModelError,
    ModelProvider,
    ModelRequest,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)
from runwire_server.service.llm.registry import ProviderRegistry

__all__ = [
    "ModelChunk",
    "ModelError",
    "ModelProvider",
    "ModelRequest",
    "ProviderRegistry",
    "TextDelta",
    "ToolCallDelta",
    "UsageReport",
]
