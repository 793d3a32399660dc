"""Token usage estimates for calls whose server reports none.

The ``scripted`` model always reports these; the HTTP providers fall back on them
when a server streams no usage (llama.cpp's server, for one). There is no
tokenizer: a token is taken to be ``CHARS_PER_TOKEN`` characters.
"""

from __future__ import annotations

import math

from runwire_server.service.core.messages import Usage
from runwire_server.service.llm.base import ModelRequest

__all__ = ["CHARS_PER_TOKEN", "estimate_input_tokens", "estimate_tokens", "estimate_usage"]

#: Characters per estimated token (see ``estimate_tokens``).
CHARS_PER_TOKEN = 4


def estimate_tokens(chars: int) -> int:
    """Estimated tokens of ``chars`` characters: ``max(1, ceil(chars / CHARS_PER_TOKEN))``."""
    return max(1, math.ceil(chars / CHARS_PER_TOKEN))


def estimate_input_tokens(request: ModelRequest) -> int:
    """Estimated input tokens of a request.

    The instructions (when non-empty) count as one message; each message counts
    ``estimate_tokens(len(content) + len of all its tool calls' argument JSON)``.
    Tool specs are not counted.

    Returns:
        The sum over those messages, in tokens; 0 for no instructions and no messages.
    """
    total = estimate_tokens(len(request.instructions)) if request.instructions else 0
    for message in request.messages:
        chars = len(message.content) + sum(len(call.arguments) for call in message.tool_calls)
        total += estimate_tokens(chars)
    return total


def estimate_usage(request: ModelRequest, output_chars: int) -> Usage:
    """Estimated usage of a call.

    Args:
        request: The call (its instructions and messages are the input).
        output_chars: Characters the model produced: text plus tool-call argument JSON.

    Returns:
        ``estimate_input_tokens(request)`` tokens in, ``estimate_tokens(output_chars)`` out.
    """
    return Usage(
        input_tokens=estimate_input_tokens(request),
        output_tokens=estimate_tokens(output_chars),
    )
