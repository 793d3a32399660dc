"""End-to-end tests on a real model: SmolLM2-135M on llama.cpp's server (``-m realmodel``)."""
