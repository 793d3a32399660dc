"""Runwire api."""
