from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from kindwave.causes import services
from kindwave.causes.models import Cause

pytestmark = pytest.mark.django_db


def test_demo_causes_load_once_and_include_tpos_six(demo_causes: dict[str, Cause]) -> None:
    again = services.load_demo_causes()

    assert again.created == 0
    names = set(Cause.objects.values_list("name", flat=True))
    for name in ["Emerge Poverty Free", "The Trussell Trust", "Feeding America", "WaterAid"]:
        assert name in names
    assert any(name.startswith("WWF") for name in names)
    assert any("Save the Children" in name for name in names)
    assert Cause.objects.filter(country="FR").count() >= 3


def test_cause_list_filters_by_country_and_shows_accents(demo_causes: dict[str, Cause]) -> None:
    page = Client().get(reverse("causes:list"), {"country": "FR"}).content.decode()

    assert "Les Restaurants du Cœur" in page
    assert "WaterAid" not in page


def test_unverified_cause_is_not_public(demo_causes: dict[str, Cause]) -> None:
    cause = demo_causes["wateraid"]
    services.withdraw_verification(cause)

    assert Client().get(reverse("causes:detail", args=[cause.slug])).status_code == 404
    assert "WaterAid" not in Client().get(reverse("causes:list")).content.decode()


def test_staff_verify_a_cause_from_the_admin(staff, demo_causes: dict[str, Cause]) -> None:
    cause = demo_causes["wateraid"]
    services.withdraw_verification(cause)
    client = Client()
    client.force_login(staff)

    client.post(
        reverse("admin:causes_cause_changelist"),
        {"action": "verify", "_selected_action": [cause.pk]},
    )

    cause.refresh_from_db()
    assert cause.verified_by == staff


def test_staff_add_a_cause_from_the_admin_with_its_organisation(staff) -> None:
    client = Client()
    client.force_login(staff)

    response = client.post(
        reverse("admin:causes_cause_add"),
        {
            "slug": "emmaus-france",
            "name": "Emmaüs France",
            "country": "FR",
            "registration_number": "W751204497",
            "summary": "Lutte contre l'exclusion.",
            "description": "",
            "website": "https://emmaus-france.org/",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    cause = Cause.objects.get(slug="emmaus-france")
    assert cause.organisation.kind == "cause"
    assert cause.organisation.name == "Emmaüs France"
    assert not cause.is_verified


def test_a_logo_uploaded_with_a_new_cause_is_kept(staff, tmp_path, settings) -> None:
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    settings.MEDIA_ROOT = tmp_path
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(png, format="PNG")
    client = Client()
    client.force_login(staff)

    client.post(
        reverse("admin:causes_cause_add"),
        {
            "slug": "emmaus-france",
            "name": "Emmaüs France",
            "country": "FR",
            "registration_number": "W751204497",
            "summary": "Lutte contre l'exclusion.",
            "logo": SimpleUploadedFile("logo.png", png.getvalue(), content_type="image/png"),
        },
    )

    cause = Cause.objects.get(slug="emmaus-france")
    assert cause.logo.name.startswith("causes/logos/")
    assert (tmp_path / cause.logo.name).exists()


@pytest.mark.parametrize("slug", ["other", "foundation"])
def test_the_feeds_own_recipient_names_are_no_cause_slugs(staff, slug: str) -> None:
    client = Client()
    client.force_login(staff)

    response = client.post(
        reverse("admin:causes_cause_add"),
        {
            "slug": slug,
            "name": "Other",
            "country": "GB",
            "registration_number": "1234567",
            "summary": "A name the public ledger uses.",
        },
    )

    assert response.status_code == 200
    assert "names other recipients in the public ledger" in response.content.decode()
    assert not Cause.objects.filter(slug=slug).exists()
