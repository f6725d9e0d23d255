"""Accounts most ledger tests use: a bank, revenue, a cause's payable, and one in euros."""

from __future__ import annotations

import pytest

from kindwave.ledger import services
from kindwave.ledger.models import Account


@pytest.fixture
def books(db) -> dict[str, Account]:
    return {
        "bank": services.open_account("operator:bank:GB", "Bank (GB)", "asset", "GBP"),
        "revenue": services.open_account("operator:revenue:GB", "Revenue (GB)", "revenue", "GBP"),
        "cause": services.open_account(
            "cause:wateraid:payable", "WaterAid payable", "liability", "GBP"
        ),
        "wallet": services.open_account("subscriber:1:wallet", "Wallet", "liability", "GBP"),
        "euros": services.open_account("operator:bank:FR", "Bank (FR)", "asset", "EUR"),
    }
