"""The personas' community accounts, and a post helper for the community's tests."""

from __future__ import annotations

import pytest

from kindwave.accounts.models import User
from kindwave.community.models import Account
from kindwave.community.services.accounts import ensure_account


@pytest.fixture
def alice_account(alice: User) -> Account:
    return ensure_account(alice)


@pytest.fixture
def bob_account(bob: User) -> Account:
    return ensure_account(bob)


@pytest.fixture
def charlie_account(charlie: User) -> Account:
    return ensure_account(charlie)
