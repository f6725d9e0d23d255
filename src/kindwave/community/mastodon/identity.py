"""The community ``Account`` behind an API caller.

A thin stand-in for the social services' ``ensure_account`` (which is canonical): the
Mastodon API resolves every token to a user and their account through
:func:`account_for_user`, so swapping in the canonical function is a one-line change.
"""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction

from kindwave.accounts.models import User
from kindwave.community.models import Account

_NOT_ALLOWED = re.compile(r"[^a-z0-9_]+")
_MAX = Account._meta.get_field("username").max_length or 30


def username_base(email: str) -> str:
    """The username an e-mail address suggests: its local part in ``[a-z0-9_]``."""
    local = email.split("@", 1)[0].lower()
    return _NOT_ALLOWED.sub("_", local).strip("_")[:_MAX] or "member"


def account_for_user(user: User) -> Account:
    """The user's community account, created on first use with a unique username from
    their e-mail's local part (``alice``, then ``alice2``…). Idempotent; safe when two
    requests create it at once (the loser reads the winner's)."""
    existing = Account.objects.filter(user=user).first()
    if existing is not None:
        return existing
    base = username_base(user.email)
    taken = set(
        Account.objects.filter(username__istartswith=base[: _MAX - 3]).values_list(
            "username", flat=True
        )
    )
    taken = {name.lower() for name in taken}
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        suffix = str(number)
        candidate = f"{base[: _MAX - len(suffix)]}{suffix}"
    try:
        with transaction.atomic():
            return Account.objects.create(
                user=user,
                kind=Account.Kind.PERSON,
                username=candidate,
                display_name=user.full_name,
                created_at=user.date_joined,
            )
    except IntegrityError:
        # Another request created this user's account (or took the name) meanwhile.
        existing = Account.objects.filter(user=user).first()
        if existing is None:
            raise
        return existing
