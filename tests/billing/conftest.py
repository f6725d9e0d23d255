"""Fixtures for the billing tests: the lines app's markets and alice's GB line.

Shared by every billing test module; a module that needs more defines its own fixtures
(or a helper module of its own) rather than editing this file."""

from __future__ import annotations

from tests.lines.conftest import active_line, fr, gb, gb_stock, ordered_line

__all__ = ["active_line", "fr", "gb", "gb_stock", "ordered_line"]
