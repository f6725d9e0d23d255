"""Public pages and the demo operator."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from kindwave.accounts.models import User
from kindwave.lines.models import Line, LineState
from kindwave.web import demo

pytestmark = pytest.mark.django_db


def test_home_and_plans_show_the_catalogue_and_counts(settings) -> None:
    call_command("demo", "--no-simulation")

    home = Client().get(reverse("public:home")).content.decode()
    plans = Client().get(reverse("public:plans")).content.decode()
    plans_fr = Client(HTTP_ACCEPT_LANGUAGE="fr").get(reverse("public:plans")).content.decode()

    assert "Kindwave" in home
    active = Line.objects.filter(state=LineState.ACTIVE).count()
    assert f">{active}<" in home
    assert "£10.00" in plans
    assert "$" in plans
    assert "€" in plans
    assert '<html lang="fr">' in plans_fr


def test_demo_is_idempotent_and_creates_working_logins() -> None:
    call_command("demo", "--no-simulation")
    counts = (User.objects.count(), Line.objects.count())

    call_command("demo", "--no-simulation")

    assert (User.objects.count(), Line.objects.count()) == counts
    client = Client()
    login = client.post(
        reverse("accounts:login"),
        {"username": "alice@example.org", "password": demo.DEMO_PASSWORD},
    )
    assert login.status_code == 302
    page = client.get(reverse("lines:home")).content.decode()
    assert "WaterAid" in page
    staff = User.objects.get(email="staff@example.org")
    assert staff.is_staff


def test_demo_with_a_small_simulation(tmp_path, settings, monkeypatch) -> None:
    settings.DATA_DIR = tmp_path
    monkeypatch.setattr(
        demo, "SIMULATIONS", (demo.DemoSimulation("GB", subscribers=20, days=1, seed=3),)
    )

    call_command("demo")
    call_command("demo")  # a re-run reuses the simulation and imports nothing twice

    assert (tmp_path / "simulation" / "GB" / "simulation.json").exists()
    assert Line.objects.filter(market__code="GB").count() == 20 + 2  # + alice and bob
