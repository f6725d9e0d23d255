"""Staff see the manifest, the quarantine and the cells in the admin, read-only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kindwave.accounts.models import User
from kindwave.usage.models import QuarantinedRecord, UsageFile
from tests.conftest import client_for


@pytest.mark.parametrize("model", ["usagefile", "quarantinedrecord", "cell"])
def test_staff_see_the_usage_pages_read_only(staff: User, model: str) -> None:
    manifest = UsageFile.objects.create(
        sha256="0" * 64, name="usage-20261001T00.csv.gz", path="x", size=1, status="ingested"
    )
    QuarantinedRecord.objects.create(
        file=manifest, line=2, raw={"msisdn": "+447400000000"}, reason="unknown_line", message="m"
    )
    client = client_for(staff)

    page = client.get(reverse(f"admin:usage_{model}_changelist"))

    assert page.status_code == 200
    assert client.get(reverse(f"admin:usage_{model}_add")).status_code == 403
