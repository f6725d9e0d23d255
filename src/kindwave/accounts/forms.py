from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import (
    AuthenticationForm,
    BaseUserCreationForm,
    PasswordResetForm,
)
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from kindwave.accounts.models import User, known_time_zones

COMMON_TIME_ZONES = [
    "Europe/London",
    "Europe/Paris",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
]


def time_zone_choices() -> list[tuple[str, str]]:
    others = sorted(known_time_zones() - set(COMMON_TIME_ZONES))
    return [(tz, tz.replace("_", " ")) for tz in COMMON_TIME_ZONES + others]


class SignupForm(BaseUserCreationForm):
    """Sign-up: e-mail, name, password (validated), language and time zone.

    A duplicate e-mail is *not* reported here: telling a stranger that an address has
    an account would leak who our subscribers are. The view sends that address a
    notice instead, and shows the same "check your inbox" page.
    """

    time_zone = forms.ChoiceField(label=_("Time zone"), choices=time_zone_choices)

    class Meta:
        model = User
        fields = ("email", "full_name", "language", "time_zone")
        labels = {"email": _("E-mail address"), "full_name": _("Full name")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["full_name"].required = True
        self.fields["email"].widget.attrs.update(autocomplete="email", autofocus=True)
        self.fields["full_name"].widget.attrs.update(autocomplete="name")

    def validate_unique(self) -> None:
        # Duplicates are handled by the view without revealing them (see class docstring).
        return

    def _get_validation_exclusions(self) -> set[str]:
        # Nor may the model's case-insensitive unique constraint on the e-mail report one.
        return {*super()._get_validation_exclusions(), "email"}  # type: ignore[misc]

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("E-mail address"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )


class PreferencesForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=time_zone_choices)
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)

    class Meta:
        model = User
        fields = ("full_name", "language", "time_zone")
        labels = {"full_name": _("Full name")}


class LocalisedPasswordResetForm(PasswordResetForm):
    """Password reset e-mails go out in the account's language, not the requester's."""

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        with translation.override(getattr(context.get("user"), "language", None)):
            super().send_mail(
                subject_template_name,
                email_template_name,
                context,
                from_email,
                to_email,
                html_email_template_name,
            )
