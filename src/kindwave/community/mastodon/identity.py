"""The community ``Account`` behind an API caller: the social services' own
:func:`~kindwave.community.services.accounts.ensure_account` (created on first use)."""

from __future__ import annotations

from kindwave.community.services.accounts import ensure_account as account_for_user

__all__ = ["account_for_user"]
