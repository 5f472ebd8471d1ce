"""Synchronous tests of the sans-IO protocol layer (no trio, no server)."""
