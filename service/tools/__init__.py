"""Server tools: the registry built from Python callables, and built-ins."""
