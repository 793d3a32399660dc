"""Runwire stores."""
