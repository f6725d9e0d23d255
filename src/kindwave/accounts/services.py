"""Every write to people and organisations goes through these functions."""

from __future__ import annotations

from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.db import transaction
from django.utils import timezone

from kindwave.accounts.models import Membership, Organisation, User

OPERATOR_SLUG = "kindwave"


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    """Tokens that stop working once the address is verified (or the e-mail changes)."""

    key_salt = "kindwave.accounts.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        return f"{user.pk}{user.email}{user.email_verified_at}{timestamp}"


email_verification_token = EmailVerificationTokenGenerator()


def operator_organisation() -> Organisation:
    """The operator itself; created on first use (idempotent)."""
    org, _ = Organisation.objects.get_or_create(
        slug=OPERATOR_SLUG, defaults={"name": "Kindwave", "kind": Organisation.Kind.OPERATOR}
    )
    return org


@transaction.atomic
def create_subscriber(
    *,
    email: str,
    full_name: str,
    language: str = "en",
    time_zone: str = "Europe/London",
    password: str | None = None,
    verified: bool = False,
) -> User:
    """Create a person who subscribes to the operator, with the subscriber membership.

    Atomic. Without a password the account cannot log in until a password is set
    (through password reset). Raises ``django.core.exceptions.ValidationError`` on a
    bad e-mail, language or time zone, and ``IntegrityError`` on a duplicate e-mail.
    """
    user = User.objects.create_user(
        email=email,
        password=password,
        full_name=full_name,
        language=language,
        time_zone=time_zone,
        email_verified_at=timezone.now() if verified else None,
    )
    Membership.objects.create(
        user=user, organisation=operator_organisation(), role=Membership.Role.SUBSCRIBER
    )
    return user


def verify_email(user: User, token: str) -> bool:
    """Mark the address verified if the token is valid. Idempotent: True if verified now."""
    if user.email_verified_at is not None:
        return True
    if not email_verification_token.check_token(user, token):
        return False
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    return True


def set_preferences(
    user: User,
    *,
    full_name: str | None = None,
    language: str | None = None,
    time_zone: str | None = None,
) -> None:
    """Change the person's name, language and/or time zone (validated, only those fields)."""
    fields: list[str] = []
    if full_name is not None:
        user.full_name = full_name
        fields.append("full_name")
    if language is not None:
        user.language = language
        fields.append("language")
    if time_zone is not None:
        user.time_zone = time_zone
        fields.append("time_zone")
    if fields:
        user.full_clean(exclude=[f.name for f in User._meta.fields if f.name not in fields])
        user.save(update_fields=fields)


def add_membership(user: User, organisation: Organisation, role: str) -> Membership:
    """Give ``user`` a role in ``organisation``. Idempotent."""
    membership, _ = Membership.objects.get_or_create(
        user=user, organisation=organisation, role=role
    )
    return membership


@transaction.atomic
def make_staff(user: User, *, superuser: bool = False) -> None:
    """Make ``user`` operator staff (admin site access), with the staff membership."""
    user.is_staff = True
    user.is_superuser = user.is_superuser or superuser
    user.save(update_fields=["is_staff", "is_superuser"])
    add_membership(user, operator_organisation(), Membership.Role.STAFF)
