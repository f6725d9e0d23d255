"""The e-mails the accounts context sends, each rendered in the recipient's language."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from kindwave.accounts.models import User
from kindwave.accounts.services import email_verification_token


def _send(user: User, template: str, context: dict[str, object]) -> None:
    with translation.override(user.language):
        subject = render_to_string(f"accounts/email/{template}_subject.txt", context).strip()
        body = render_to_string(f"accounts/email/{template}.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])


def send_verification_email(user: User) -> None:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = email_verification_token.make_token(user)
    path = reverse("accounts:verify_email", kwargs={"uidb64": uid, "token": token})
    _send(user, "verify", {"user": user, "url": f"{settings.SITE_URL}{path}"})


def send_already_registered_email(user: User) -> None:
    path = reverse("accounts:password_reset")
    _send(user, "already_registered", {"user": user, "url": f"{settings.SITE_URL}{path}"})
