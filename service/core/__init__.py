"""The vocabulary every other package shares: messages, tool specs, usage, the run
spec, errors, timestamps, and the logging and telemetry helpers.

It imports nothing else of Runwire's, so ``agent``, ``llm``, ``tools``, ``stores``,
``runtimes`` and ``api`` (and the worker) can all stand on it.
"""
