"""Sign-up, e-mail verification, login and preferences. Thin: each calls one service."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import translation
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.http import require_POST

from kindwave.accounts import emails, services
from kindwave.accounts.forms import (
    EmailAuthenticationForm,
    LocalisedPasswordResetForm,
    PreferencesForm,
    SignupForm,
)
from kindwave.accounts.models import User


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("lines:home")
    language = translation.get_language_from_request(request)
    form = SignupForm(
        request.POST or None,
        # Start from what the visitor is reading: a French reader is most likely in France.
        initial={
            "language": language,
            "time_zone": "Europe/Paris" if language == "fr" else settings.TIME_ZONE,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        existing = User.objects.filter(email__iexact=data["email"]).first()
        if existing is not None:
            emails.send_already_registered_email(existing)
        else:
            user = services.create_subscriber(
                email=data["email"],
                full_name=data["full_name"],
                language=data["language"],
                time_zone=data["time_zone"],
                password=data["password1"],
            )
            emails.send_verification_email(user)
        return redirect("accounts:signup_done")
    return render(request, "accounts/signup.html", {"form": form})


def signup_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/signup_done.html")


def verify_email(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    try:
        user = User.objects.get(pk=int(force_str(urlsafe_base64_decode(uidb64))))
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        user = None
    if user is None or not services.verify_email(user, token):
        return render(request, "accounts/verify_failed.html", status=400)
    if not request.user.is_authenticated:
        # The link proves the address is theirs; saves a login right after sign-up.
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, _("Your e-mail address is verified. Welcome to Kindwave!"))
    return redirect("lines:home")


@login_required
def resend_verification(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and not request.user.is_email_verified:  # type: ignore[union-attr]
        emails.send_verification_email(request.user)  # type: ignore[arg-type]
        messages.info(request, _("We have sent you a new verification link."))
    return redirect("lines:home")


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = PreferencesForm(request.POST or None, instance=user)
    if request.method == "POST" and form.is_valid():
        services.set_preferences(user, **form.cleaned_data)
        messages.success(request, _("Your preferences are saved."))
        response = redirect("accounts:preferences")
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.language, samesite="Lax")
        return response
    return render(request, "accounts/preferences.html", {"form": form})


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's language switch, which also remembers the choice on a signed-in account."""
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        services.set_preferences(request.user, language=language)
    return i18n.set_language(request)


class LoginView(auth_views.LoginView):
    form_class = EmailAuthenticationForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class PasswordResetView(auth_views.PasswordResetView):
    form_class = LocalisedPasswordResetForm
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")
    extra_email_context = {"site_name": "Kindwave"}


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")
