"""Personas shared by every test: alice the subscriber, bob her household member,
charlie the outsider who must see nothing of alice's, a cause admin and a staff member."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client
from django.utils import translation

from kindwave.accounts import services as accounts
from kindwave.accounts.models import Membership, User
from kindwave.causes import services as causes
from kindwave.causes.models import Cause

PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture(autouse=True)
def _fast_passwords_and_memory_mail(settings) -> None:
    # Argon2 is the production hasher; tests use MD5 only to stay fast.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture(autouse=True)
def _english_unless_asked() -> Iterator[None]:
    # A page rendered for a French reader activates French in this thread; without a reset,
    # the next test in the same worker would read its messages in French.
    translation.activate("en")
    yield
    translation.activate("en")


@pytest.fixture
def demo_causes(db) -> dict[str, Cause]:
    causes.load_demo_causes()
    return {cause.slug: cause for cause in Cause.objects.all()}


@pytest.fixture
def alice(db) -> User:
    return accounts.create_subscriber(
        email="alice@example.org",
        full_name="Alice Martin",
        password=PASSWORD,
        verified=True,
    )


@pytest.fixture
def bob(db) -> User:
    return accounts.create_subscriber(
        email="bob@example.org", full_name="Bob Martin", password=PASSWORD, verified=True
    )


@pytest.fixture
def charlie(db) -> User:
    return accounts.create_subscriber(
        email="charlie@example.org",
        full_name="Charlie Outsider",
        password=PASSWORD,
        verified=True,
    )


@pytest.fixture
def cause_admin(demo_causes: dict[str, Cause]) -> User:
    user = accounts.create_subscriber(
        email="admin@wateraid.example.org", full_name="Wanda Water", password=PASSWORD
    )
    Membership.objects.create(
        user=user,
        organisation=demo_causes["wateraid"].organisation,
        role=Membership.Role.CAUSE_ADMIN,
    )
    return user


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_superuser(email="staff@kindwave.example.org", password=PASSWORD)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client
