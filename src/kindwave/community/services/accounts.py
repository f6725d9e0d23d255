"""Community profiles for people and causes, created on first use."""

from __future__ import annotations

import re
import unicodedata

from django.db import IntegrityError, transaction

from kindwave.accounts.models import User
from kindwave.causes.models import Cause
from kindwave.community.models import Account

USERNAME_MAX = 30
_NOT_USERNAME = re.compile(r"[^a-z0-9_]+")


def username_base(raw: str) -> str:
    """``raw`` folded to ``[a-z0-9_]``: accents dropped (``Hélène`` → ``helene``), other
    characters turned into ``_``; never empty, at most ``USERNAME_MAX`` characters."""
    folded = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii")
    base = _NOT_USERNAME.sub("_", folded.lower()).strip("_")
    return base[:USERNAME_MAX] or "member"


def unique_username(raw: str) -> str:
    """A free username made from ``raw``: its base, else the base with ``_2``, ``_3``…
    (shortened so that the whole stays within ``USERNAME_MAX``)."""
    base = username_base(raw)
    taken = {
        name.lower()
        for name in Account.objects.filter(username__istartswith=base[:20]).values_list(
            "username", flat=True
        )
    }
    if base not in taken:
        return base
    number = 2
    while True:
        suffix = f"_{number}"
        candidate = base[: USERNAME_MAX - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        number += 1


def _ensure(owner: dict[str, object], name_from: str, **fields: object) -> Account:
    for _attempt in range(5):
        existing = Account.objects.filter(**owner).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                return Account.objects.create(
                    username=unique_username(name_from), **owner, **fields
                )
        except IntegrityError:
            # A concurrent request created this account or took the same name between our
            # check and our insert: look again.
            continue
    raise RuntimeError("could not create the community account")  # pragma: no cover


def ensure_account(user: User) -> Account:
    """The person's community account, created on first use (username from the e-mail's
    local part, made unique, display name from the full name). Idempotent."""
    return _ensure(
        {"user": user},
        user.email.split("@", 1)[0],
        kind=Account.Kind.PERSON,
        display_name=user.full_name[:100],
    )


def ensure_cause_account(cause: Cause) -> Account:
    """The cause's community account, created on first use (username from its slug, made
    unique, display name and note from the cause). Idempotent."""
    return _ensure(
        {"cause": cause},
        cause.slug,
        kind=Account.Kind.CAUSE,
        display_name=cause.name[:100],
        note=cause.summary[:500],
    )
