"""The staff admin: every page loads for a superuser; catalogues are read-only; lifecycle
actions go through the services."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from kindwave.accounts.models import User
from kindwave.lines.models import (
    CatalogVersion,
    Line,
    LineStateChange,
    NumberBlock,
    PhoneNumber,
    Plan,
    SimCard,
)

from ..conftest import client_for

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.lines.urls")]

MODELS = [CatalogVersion, Plan, Line, NumberBlock, PhoneNumber, SimCard]


@pytest.fixture(autouse=True)
def _plain_static_storage(settings: Any) -> None:
    # Tests run with DEBUG off, where the manifest storage needs `collectstatic` first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def staff_client(staff: User) -> Client:
    return client_for(staff)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_change_lists_and_pages_load(staff_client: Client, active_line: Line, model: type) -> None:
    opts = model._meta
    changelist = staff_client.get(reverse(f"admin:lines_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    obj = model.objects.first()
    page = staff_client.get(reverse(f"admin:lines_{opts.model_name}_change", args=[obj.pk]))
    assert page.status_code == 200


def test_search_lines(staff_client: Client, active_line: Line) -> None:
    response = staff_client.get(reverse("admin:lines_line_changelist"), {"q": active_line.msisdn})
    assert response.status_code == 200
    assert active_line.msisdn in response.content.decode()


def test_catalogue_versions_cannot_be_added_changed_or_deleted(
    staff_client: Client, active_line: Line
) -> None:
    catalog = CatalogVersion.objects.get()
    assert staff_client.get(reverse("admin:lines_catalogversion_add")).status_code == 403
    assert (
        staff_client.get(
            reverse("admin:lines_catalogversion_delete", args=[catalog.pk])
        ).status_code
        == 403
    )
    response = staff_client.post(
        reverse("admin:lines_catalogversion_change", args=[catalog.pk]), {"version": "hacked"}
    )
    assert response.status_code == 403
    catalog.refresh_from_db()
    assert catalog.version == "2026-01"


def test_suspend_action_goes_through_the_service(
    staff_client: Client, staff: User, active_line: Line
) -> None:
    response = staff_client.post(
        reverse("admin:lines_line_changelist"),
        {"action": "suspend_lines", "_selected_action": [active_line.pk]},
        follow=True,
    )
    assert response.status_code == 200
    active_line.refresh_from_db()
    assert active_line.state == "suspended"
    change = LineStateChange.objects.filter(line=active_line).latest("id")
    assert (change.to_state, change.reason, change.actor) == (
        "suspended",
        "suspended by staff",
        staff,
    )


def test_a_forbidden_action_is_reported_not_applied(
    staff_client: Client, ordered_line: Line
) -> None:
    response = staff_client.post(
        reverse("admin:lines_line_changelist"),
        {"action": "resume_lines", "_selected_action": [ordered_line.pk]},
        follow=True,
    )
    assert "cannot resume" in response.content.decode()
    ordered_line.refresh_from_db()
    assert ordered_line.state == "ordered"


def test_lines_cannot_be_edited_by_hand(staff_client: Client, active_line: Line) -> None:
    staff_client.post(
        reverse("admin:lines_line_change", args=[active_line.pk]), {"msisdn": "+447400999999"}
    )
    active_line.refresh_from_db()
    assert active_line.msisdn != "+447400999999"
    assert staff_client.get(reverse("admin:lines_line_add")).status_code == 403


def test_subscribers_cannot_open_the_admin(active_line: Line, alice: User) -> None:
    response = client_for(alice).get(reverse("admin:lines_line_changelist"))
    assert response.status_code == 302
