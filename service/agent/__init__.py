"""The engine-agnostic agent loop, its domain types and the effects seam."""
