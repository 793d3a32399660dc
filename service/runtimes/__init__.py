"""Runwire runtimes."""
