"""The ledger's admin pages load for staff and change nothing: money moves only through
the services."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from kindwave.accounts.models import User
from kindwave.ledger import services
from kindwave.ledger.models import Account, Transfer

from ..conftest import client_for

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.ledger.urls")]


@pytest.fixture(autouse=True)
def _plain_static_storage(settings: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def staff_client(staff: User) -> Client:
    return client_for(staff)


@pytest.fixture
def made(books) -> Transfer:
    return services.transfer("t", books["bank"], books["revenue"], 1_250, "GBP", "bill")


@pytest.mark.parametrize("model", [Account, Transfer], ids=lambda model: model.__name__)
def test_pages_load_and_nothing_can_be_added_changed_or_deleted(
    staff_client: Client, made: Transfer, model: type
) -> None:
    name = model._meta.model_name
    assert staff_client.get(reverse(f"admin:ledger_{name}_changelist")).status_code == 200
    obj = model.objects.first()
    assert (
        staff_client.get(reverse(f"admin:ledger_{name}_change", args=[obj.pk])).status_code == 200
    )
    assert staff_client.get(reverse(f"admin:ledger_{name}_add")).status_code == 403
    delete = reverse(f"admin:ledger_{name}_delete", args=[obj.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


def test_transfer_change_post_is_refused(staff_client: Client, made: Transfer) -> None:
    url = reverse("admin:ledger_transfer_change", args=[made.pk])
    assert staff_client.post(url, {"amount": "1"}).status_code == 403
    made.refresh_from_db()
    assert made.amount == 1_250
