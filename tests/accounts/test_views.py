from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from kindwave.accounts.models import Membership, User
from tests.conftest import PASSWORD, client_for

pytestmark = pytest.mark.django_db


def signup(client: Client, email: str = "zoe@example.org", **extra: str):
    data = {
        "email": email,
        "full_name": "Zoé Lefèvre",
        "language": "fr",
        "time_zone": "Europe/Paris",
        "password1": PASSWORD,
        "password2": PASSWORD,
        **extra,
    }
    return client.post(reverse("accounts:signup"), data)


def link_in_last_mail() -> str:
    match = re.search(r"https?://\S+", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(0).split("://", 1)[1].split("/", 1)[1]


class TestSignup:
    def test_creates_an_unverified_subscriber_and_mails_a_link_in_their_language(self) -> None:
        client = Client()

        response = signup(client)

        assert response.status_code == 302
        assert response.url == reverse("accounts:signup_done")
        user = User.objects.get(email="zoe@example.org")
        assert not user.is_email_verified
        assert user.full_name == "Zoé Lefèvre"
        assert user.password.startswith("md5$")  # tests swap argon2 for speed
        assert user.memberships.filter(role=Membership.Role.SUBSCRIBER).exists()
        assert len(mail.outbox) == 1
        assert "Vérifiez" in mail.outbox[0].subject or "adresse" in mail.outbox[0].subject

    def test_verification_link_verifies_and_logs_in_once(self) -> None:
        client = Client()
        signup(client)
        path = "/" + link_in_last_mail()

        response = client.get(path)

        assert response.status_code == 302
        assert User.objects.get(email="zoe@example.org").is_email_verified
        assert client.session.get("_auth_user_id")
        # The token is single-use: once verified the hash changes.
        assert Client().get(path).status_code == 302  # still "verified" → harmless redirect

    def test_a_forged_link_is_refused(self) -> None:
        client = Client()
        signup(client)
        user = User.objects.get(email="zoe@example.org")

        response = client.get(f"/accounts/verify/{user.pk}/not-a-token/")

        assert response.status_code == 400
        assert not User.objects.get(pk=user.pk).is_email_verified

    def test_duplicate_email_is_not_revealed(self, alice: User) -> None:
        response = signup(Client(), email="ALICE@example.org")

        assert response.status_code == 302
        assert response.url == reverse("accounts:signup_done")
        assert User.objects.filter(email__iexact="alice@example.org").count() == 1
        assert mail.outbox[-1].to == ["alice@example.org"]
        assert "already" in mail.outbox[-1].subject

    def test_form_errors_appear_in_the_users_language(self) -> None:
        client = Client(HTTP_ACCEPT_LANGUAGE="fr")

        response = signup(client, password2="something-else-entirely")

        assert response.status_code == 200
        assert "Les deux mots de passe ne correspondent pas" in response.content.decode()
        assert not User.objects.exists()

    def test_weak_password_is_refused(self) -> None:
        response = signup(Client(), password1="password", password2="password")

        assert response.status_code == 200
        assert not User.objects.exists()


class TestLogin:
    def test_login_is_case_insensitive_on_the_email(self, alice: User) -> None:
        client = Client()

        response = client.post(
            reverse("accounts:login"), {"username": "Alice@Example.org", "password": PASSWORD}
        )

        assert response.status_code == 302
        assert client.session["_auth_user_id"] == str(alice.pk)

    def test_repeated_failures_lock_the_account_for_that_address(
        self, alice: User, settings
    ) -> None:
        client = Client()
        for _ in range(settings.AXES_FAILURE_LIMIT):
            client.post(reverse("accounts:login"), {"username": alice.email, "password": "wrong"})

        response = client.post(
            reverse("accounts:login"), {"username": alice.email, "password": PASSWORD}
        )

        assert response.status_code == 429
        assert "_auth_user_id" not in client.session

    def test_logout_needs_a_post(self, alice: User) -> None:
        client = client_for(alice)

        assert client.get(reverse("accounts:logout")).status_code == 405
        assert client.post(reverse("accounts:logout")).status_code == 302
        assert "_auth_user_id" not in client.session


class TestPasswordReset:
    def test_reset_mail_lets_the_user_choose_a_new_password(self, alice: User) -> None:
        client = Client()
        client.post(reverse("accounts:password_reset"), {"email": "alice@example.org"})
        path = "/" + link_in_last_mail()

        form_page = client.get(path, follow=True)
        new = "a-brand-new-passphrase-77"
        response = client.post(
            form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}
        )

        assert response.status_code == 302
        alice.refresh_from_db()
        assert alice.check_password(new)

    def test_the_mail_is_in_the_accounts_language(self, alice: User) -> None:
        alice.language = "fr"
        alice.save(update_fields=["language"])

        Client(HTTP_ACCEPT_LANGUAGE="en").post(
            reverse("accounts:password_reset"), {"email": "alice@example.org"}
        )

        assert "mot de passe" in mail.outbox[-1].subject

    def test_unknown_address_gets_the_same_answer_and_no_mail(self) -> None:
        response = Client().post(reverse("accounts:password_reset"), {"email": "nobody@x.org"})

        assert response.status_code == 302
        assert mail.outbox == []


class TestPreferences:
    def test_language_and_time_zone_are_saved_and_used(self, alice: User) -> None:
        client = client_for(alice)

        client.post(
            reverse("accounts:preferences"),
            {"full_name": "Alice Martin", "language": "fr", "time_zone": "Europe/Paris"},
        )
        page = client.get(reverse("accounts:preferences"))

        alice.refresh_from_db()
        assert (alice.language, alice.time_zone) == ("fr", "Europe/Paris")
        assert '<html lang="fr">' in page.content.decode()
        assert "Préférences" in page.content.decode()

    def test_unknown_time_zone_is_refused(self, alice: User) -> None:
        response = client_for(alice).post(
            reverse("accounts:preferences"),
            {"full_name": "Alice", "language": "en", "time_zone": "Mars/Olympus"},
        )

        assert response.status_code == 200
        alice.refresh_from_db()
        assert alice.time_zone == "Europe/London"

    def test_language_switch_remembers_the_choice_on_the_account(self, alice: User) -> None:
        client = client_for(alice)

        client.post(reverse("set_language"), {"language": "fr", "next": "/"})

        alice.refresh_from_db()
        assert alice.language == "fr"

    def test_anonymous_language_switch_sets_a_cookie(self) -> None:
        client = Client()

        client.post(reverse("set_language"), {"language": "fr", "next": "/"})
        page = client.get(reverse("causes:list"))

        assert '<html lang="fr">' in page.content.decode()

    def test_preferences_need_a_login(self) -> None:
        response = Client().get(reverse("accounts:preferences"))

        assert response.status_code == 302
        assert reverse("accounts:login") in response.url
