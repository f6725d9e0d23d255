"""Mediation of the host network's usage records (see docs/usage-files.md)."""
