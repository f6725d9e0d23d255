"""Every write to causes goes through these functions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kindwave.accounts.models import Organisation, User
from kindwave.causes.models import Cause
from kindwave.causes.transparency import FOUNDATION, OTHER


@dataclass(frozen=True)
class LoadSummary:
    created: int
    unchanged: int


def verify_cause(cause: Cause, by: User) -> None:
    """Staff confirm the charity is registered. Idempotent: keeps the first verification."""
    if cause.verified_at is not None:
        return
    cause.verified_at = timezone.now()
    cause.verified_by = by
    cause.save(update_fields=["verified_at", "verified_by"])


def withdraw_verification(cause: Cause) -> None:
    """Hide a cause from the public and from new choices (existing history is kept)."""
    cause.verified_at = None
    cause.verified_by = None
    cause.save(update_fields=["verified_at", "verified_by"])


def check_slug(slug: str) -> None:
    """Refuse the slugs the public ledger feed uses for its own recipients."""
    if slug in (FOUNDATION, OTHER):
        raise ValidationError(
            {"slug": _("%(slug)r names other recipients in the public ledger.") % {"slug": slug}}
        )


@transaction.atomic
def register_cause(
    *,
    slug: str,
    name: str,
    country: str,
    registration_number: str,
    summary: str,
    description: str = "",
    website: str = "",
    logo: File | None = None,
    verified: bool = False,
) -> tuple[Cause, bool]:
    """Create a cause and its organisation; idempotent by slug. Returns (cause, created).
    Refuses (``ValidationError``) a slug the public ledger reserves."""
    check_slug(slug)
    existing = Cause.objects.filter(slug=slug).first()
    if existing is not None:
        return existing, False
    organisation = Organisation.objects.create(
        name=name, slug=f"cause-{slug}", kind=Organisation.Kind.CAUSE
    )
    cause = Cause(
        organisation=organisation,
        slug=slug,
        name=name,
        country=country,
        registration_number=registration_number,
        summary=summary,
        description=description,
        website=website,
        verified_at=timezone.now() if verified else None,
    )
    if logo:
        cause.logo = logo
    cause.full_clean()
    cause.save()
    return cause, True


def load_demo_causes(path: Path | None = None) -> LoadSummary:
    """Load the demo causes (verified). Idempotent: causes already there are left as they are."""
    if path is None:
        text = resources.files("kindwave.causes").joinpath("demo/causes.json").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    entries: list[dict[str, Any]] = json.loads(text)
    created = unchanged = 0
    for entry in entries:
        _, was_created = register_cause(**entry, verified=True)
        created += was_created
        unchanged += not was_created
    return LoadSummary(created=created, unchanged=unchanged)
